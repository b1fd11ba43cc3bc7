"""Celery queues by kind (config/queues.py): every task of the project is routed on purpose, to the queue of its
kind, a message really lands in that queue on the broker, and every process list consumes every queue."""

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from django.conf import settings
from kombu import Connection

from config import queues
from config.celery import app

ROOT = Path(__file__).resolve().parents[2]


WORKER_TASKS = """
import django; django.setup()
from config.celery import app
app.loader.import_default_modules()  # what `celery -A config worker` imports: each app's tasks module
print(" ".join(sorted(name for name in app.tasks if not name.startswith("celery."))))
"""


@pytest.fixture(scope="module")
def worker_tasks() -> set[str]:
    """The task names a worker process registers (a fresh process, as `celery worker` starts)."""
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings_test"}
    result = subprocess.run([sys.executable, "-c", WORKER_TASKS], cwd=ROOT, env=env, capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr
    return set(result.stdout.split())


@pytest.fixture(scope="module")
def registered(worker_tasks) -> set[str]:
    """Every task name the project registers: the worker's, and every module that defines a task beside what it
    runs as a web process loads them (views, admin, services)."""
    import config.urls  # noqa: F401

    app.loader.import_default_modules()
    app.finalize()
    # Tasks the tests themselves define (tests.*) are not the project's.
    return worker_tasks | {name for name in app.tasks if not name.startswith(("celery.", "tests."))}


def test_a_worker_knows_every_task_the_web_can_queue(registered, worker_tasks):
    """A task defined in a module only the web imports would reach the worker as "unregistered" and be dropped."""
    assert sorted(registered - worker_tasks) == []


def queue_of(name: str) -> str:
    return app.amqp.router.route({}, name)["queue"].name


def test_every_task_is_routed_on_purpose(registered):
    unrouted = sorted(registered - set(queues.TASK_ROUTES))

    assert unrouted == [], f"add these tasks to config/queues.py TASK_ROUTES (the queue of their kind): {unrouted}"
    assert len(registered) >= 25  # the discovery above found the project's tasks


def test_the_route_table_names_only_registered_tasks_and_declared_queues(registered):
    assert sorted(set(queues.TASK_ROUTES) - registered) == []  # no stale entry (a renamed task)
    assert {route["queue"] for route in queues.TASK_ROUTES.values()} == set(queues.QUEUE_NAMES)


def test_celery_routes_each_task_to_its_queue(registered):
    for name in registered:
        assert queue_of(name) == queues.TASK_ROUTES[name]["queue"], name


@pytest.mark.parametrize(("task", "queue"), [
    ("channels.tasks.push_connection", "channels"),
    ("channels.tasks.reconcile_connection", "channels"),
    ("channels.tasks.sync_connection_task", "imports"),
    ("channels.tasks.pull_connection", "imports"),
    ("bookings.tasks.send_email", "emails"),
    ("messaging.tasks.send_scheduled_messages", "emails"),
    ("core.tasks.deliver_outbox_event", "default"),
    ("channels.tasks.dispatch_due_syncs", "default"),
    ("bookings.tasks.expire_stale_bookings", "default"),
])
def test_kinds_of_work(task, queue):
    assert queue_of(task) == queue


def test_an_unknown_task_falls_to_the_default_queue():
    assert queue_of("somewhere.tasks.new_task") == "default"
    assert settings.CELERY_TASK_DEFAULT_QUEUE == "default"


def test_a_published_task_lands_in_its_queue_on_the_broker():
    """Through Redis itself (this run's REDIS_URL): one message per kind, each in the list of its queue."""
    if not settings.REDIS_URL:
        pytest.skip("needs Redis")
    samples = {"channels": "channels.tasks.push_connection", "imports": "channels.tasks.sync_connection_task",
               "emails": "bookings.tasks.send_email", "default": "core.tasks.deliver_outbox_event"}
    with Connection(settings.REDIS_URL) as connection:
        client = connection.default_channel.client
        client.delete(*samples)
        try:
            for task in samples.values():
                app.send_task(task, args=[0], connection=connection)
            assert {queue: client.llen(queue) for queue in samples} == dict.fromkeys(samples, 1)
            assert client.llen("celery") == 0
        finally:
            client.delete(*samples)


def worker_queues(command: str) -> set[str] | None:
    """The queues a `celery … worker` command consumes (None = all declared queues: no -Q/--queues)."""
    args = shlex.split(command)
    for index, arg in enumerate(args):
        if arg in ("-Q", "--queues"):
            return set(args[index + 1].split(","))
        if arg.startswith("--queues="):
            return set(arg.split("=", 1)[1].split(","))
    return None


def procfile_workers(path: Path) -> list[str]:
    return [line.split(":", 1)[1] for line in path.read_text().splitlines()
            if re.match(r"^[\w-]+:", line) and " worker" in line and "celery" in line]


@pytest.mark.parametrize("procfile", ["Procfile", "Procfile.dev"])
def test_the_procfile_worker_consumes_every_queue(procfile):
    workers = procfile_workers(ROOT / procfile)

    assert len(workers) == 1
    assert worker_queues(workers[0]) in (None, set(queues.QUEUE_NAMES))


def test_compose_workers_together_consume_every_queue_and_beat_runs_once():
    services = yaml.safe_load((ROOT / "compose.yaml").read_text())["services"]
    consumed: set[str] = set()
    beats = []
    for name, service in services.items():
        command = service.get("command") or []
        text = " ".join(command) if isinstance(command, list) else command
        if "celery" in text and " worker" in text:
            found = worker_queues(text)
            assert found is not None, f"{name}: a compose worker names its queues"
            consumed |= found
        if "celery" in text and " beat" in text:
            beats.append(name)

    assert consumed == set(queues.QUEUE_NAMES)
    assert beats == ["beat"]
    assert services["beat"]["deploy"]["replicas"] == 1
    assert not any(" -B" in " ".join(s.get("command") or []) for s in services.values())  # no embedded beat
