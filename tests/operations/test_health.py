"""/healthz and /readyz: /readyz names the part that is gone, with the real service stopped (not mocked)."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from datetime import timedelta

import pytest
from celery import signals
from django.core.cache import cache
from django.db import connection
from django.utils import timezone

from config import health
from core import liveness
from core.models import OutboxEvent

pytestmark = pytest.mark.django_db


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def alive(clear_cache):
    """Beat has just sent the heartbeat (its publish signal) and a worker has just run it."""
    signals.before_task_publish.send(sender=liveness.HEARTBEAT_TASK, body=(), exchange="", routing_key="celery",
                                     headers={}, properties={}, declare=[], retry_policy=None)
    liveness.heartbeat.delay()  # eager: runs here, as a worker would
    health._migrated.clear()


def ready(client):
    response = client.get("/readyz")
    return response.status_code, json.loads(response.content)


def test_healthz_answers_without_any_dependency(client, django_assert_num_queries):
    with django_assert_num_queries(0):
        response = client.get("/healthz")
    assert response.status_code == 200 and json.loads(response.content) == {"status": "ok"}
    assert "no-cache" in response["Cache-Control"] or "max-age=0" in response["Cache-Control"]


def test_ready_when_every_part_answers(client, alive):
    status, body = ready(client)
    assert status == 200, body
    assert body["failing"] == [] and body["status"] == "ok"
    assert set(body["checks"]) == {"database", "migrations", "redis", "worker", "beat", "outbox"}


def test_no_worker_and_no_beat_seen(client, clear_cache):
    status, body = ready(client)
    assert status == 503
    assert body["failing"] == ["worker", "beat"]
    assert "no worker heartbeat" in body["checks"]["worker"]["detail"]


def test_a_worker_seen_too_long_ago(client, alive, settings):
    settings.HEALTH_HEARTBEAT_MAX_AGE_SECONDS = 180
    cache.set(liveness.WORKER_KEY, (timezone.now() - timedelta(minutes=5)).timestamp(), 600)
    status, body = ready(client)
    assert status == 503 and body["failing"] == ["worker"]
    assert "limit 180 s" in body["checks"]["worker"]["detail"]


def test_beat_gone_but_a_worker_running(client, alive):
    cache.delete(liveness.BEAT_KEY)
    liveness.heartbeat.delay()
    status, body = ready(client)
    assert status == 503 and body["failing"] == ["beat"]


def test_an_outbox_backlog_over_the_limit(client, alive, settings):
    settings.HEALTH_OUTBOX_BACKLOG_MAX = 2
    for n in range(2):
        OutboxEvent.objects.create(topic="booking.updated", aggregate_type="booking", aggregate_id=str(n), payload={})
    status, body = ready(client)
    assert status == 503 and body["failing"] == ["outbox"]
    assert body["checks"]["outbox"]["detail"].startswith("2 undelivered")


def test_an_unapplied_migration(client, alive):
    # The database really lacks the record of one migration (rolled back with the test's transaction).
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM django_migrations WHERE app = 'core' AND name = '0003_heartbeat_job'")
    status, body = ready(client)
    assert status == 503 and body["failing"] == ["migrations"]
    assert "core.0003_heartbeat_job" in body["checks"]["migrations"]["detail"]


@pytest.mark.real_clock
@pytest.mark.skipif(shutil.which("redis-server") is None, reason="redis-server is not installed")
def test_redis_stopped(client, alive, settings, tmp_path):
    """A throwaway Redis on its own port: ready while it runs, not ready once it is shut down."""
    port = free_port()
    process = subprocess.Popen(["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                                "--appendonly", "no", "--dir", str(tmp_path)], stdout=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.05)
        settings.REDIS_URL = f"redis://127.0.0.1:{port}/0"
        assert health.check_redis() == "ok"
    finally:
        process.terminate()
        process.wait(timeout=10)
    status, body = ready(client)
    assert status == 503 and "redis" in body["failing"]
    assert body["checks"]["redis"]["detail"].startswith("Redis does not answer")
    assert str(port) not in json.dumps(body)  # no address in the answer


READYZ_IN_A_PROCESS = """
import json, os
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings_test")
import django
django.setup()
from django.test import Client
response = Client().get("/readyz")
print(json.dumps({"status": response.status_code, "body": json.loads(response.content)}))
"""


@pytest.mark.real_clock
def test_database_unreachable():
    """A process whose database is a port where nothing listens (the shared PostgreSQL keeps running)."""
    env = {**os.environ, "DATABASE_URL": f"postgres://postgres@127.0.0.1:{free_port()}/stayhold_gone"}
    result = subprocess.run([sys.executable, "-c", READYZ_IN_A_PROCESS], env=env, capture_output=True, text=True,
                            timeout=120, cwd=os.getcwd())
    answer = json.loads(result.stdout.strip().splitlines()[-1])
    assert answer["status"] == 503
    body = answer["body"]
    assert body["failing"][:2] == ["database", "migrations"] and "outbox" in body["failing"]
    assert body["checks"]["database"]["detail"].startswith("the database does not answer")
    assert body["checks"]["migrations"]["detail"] == "not checked: the database check failed"
    assert "stayhold_gone" not in result.stdout  # the database's name and address stay out of the answer


def test_the_probes_answer_a_container_health_check_by_address(client, settings, alive):
    """A health check calls the process by its address (``curl http://127.0.0.1:8000/healthz``), which is not one
    of the site's host names."""
    settings.ALLOWED_HOSTS = ["book.example.com"]
    assert client.get("/healthz", HTTP_HOST="127.0.0.1:8000").status_code == 200
    assert client.get("/readyz", HTTP_HOST="127.0.0.1:8000").status_code == 200
