"""With a real Celery worker (a process of its own, the Redis broker, real countdowns): a booking made here reaches
Channex within seconds, and a burst of changes for one property is coalesced into a few pushes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from datetime import timedelta

import pytest
from django.db import connection as db

from bookings import blocks, services
from core.actor import Actor
from guests.services import GuestInput
from tests.bookings.test_email_delivery import WORKER, _remove_queue, _test_database_url
from tests.bookings.test_outbox import _redis_broker, _redis_up
from tests.channels.api.conftest import wait_for
from tests.factories import future
from tests.own_queue import every_task_to

pytestmark = [pytest.mark.skipif(not _redis_up(), reason="needs the Redis broker (REDIS_URL)"),
              pytest.mark.django_db(transaction=True)]


@pytest.fixture
def worker(channex, tmp_path, settings):
    if db.vendor != "postgresql":
        pytest.skip("the worker process shares the PostgreSQL test database")
    queue = f"channels-test-{time.time_ns()}"
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings_test",
           "DATABASE_URL": _test_database_url(), "REDIS_URL": _redis_broker(), "CELERY_TASK_ALWAYS_EAGER": "false",
           "CHANNEX_BASE_URL": settings.CHANNEX_BASE_URL, "CHANNEL_ARI_COALESCE_SECONDS": "0.5",
           "PYTHONUNBUFFERED": "1"}
    log_path = tmp_path / "worker.log"
    with open(log_path, "wb") as log_file:
        process = subprocess.Popen([sys.executable, "-c", WORKER, queue], cwd=settings.BASE_DIR, env=env,
                                   stdout=log_file, stderr=subprocess.STDOUT)
    own_queue = every_task_to(queue)
    own_queue.__enter__()
    settings.CELERY_TASK_ALWAYS_EAGER = False  # queue_push honours its countdowns (restored by the fixture)
    try:
        yield log_path
    finally:
        own_queue.__exit__(None, None, None)
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        _remove_queue(queue)


def availability_pushes(channex) -> list[dict]:
    return [json.loads(r["body"]) for r in channex.requests("/api/v1/availability") if r["status"] == 200]


def test_a_booking_reaches_channex_within_seconds_through_a_real_worker(channex, channex_connection, worker):
    connection = channex_connection()
    started = time.monotonic()
    services.reserve(property_id=connection.property_id, check_in=future(12), check_out=future(14), adults=2,
                     guest=GuestInput(name="Real Worker", email="rw@example.com"), actor=Actor.system("test"))

    pushed = wait_for(lambda: availability_pushes(channex), timeout=30)
    assert pushed, "no push reached the emulator:\n" + worker.read_text(errors="replace")[-3000:]
    assert time.monotonic() - started < 10
    assert pushed[0]["values"][0]["date_from"] == future(12).isoformat()
    assert pushed[0]["values"][0]["availability"] == 0


def test_a_burst_for_one_property_is_coalesced_into_a_few_pushes(channex, channex_connection, worker):
    connection = channex_connection()
    for offset in range(20, 60, 2):  # 20 owner blocks, each its own transaction and outbox event
        blocks.create_block(property_id=connection.property_id, start_date=future(offset),
                            end_date=future(offset) + timedelta(days=1))
    closed = {future(offset).isoformat() for offset in range(20, 60, 2)}

    def all_closed():
        sent = {v["date_from"] for push in availability_pushes(channex) for v in push["values"]
                if v["availability"] == 0}
        return closed <= sent

    assert wait_for(all_closed, timeout=30), worker.read_text(errors="replace")[-3000:]
    assert len(availability_pushes(channex)) < 20  # coalesced: fewer pushes than changes
