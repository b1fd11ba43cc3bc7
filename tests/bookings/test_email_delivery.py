"""Issue 11 item 11: an email is sent at most once, even when the worker dies between sending and recording.

``bookings.notifications.send`` claims the row in a committed step (``sending``), talks to the mail server
outside any transaction (every socket operation bounded by ``EMAIL_TIMEOUT``), then records the result.
A claim never recorded becomes ``unknown`` (flagged for staff) and is not sent again; every email carries a
``Message-ID`` derived from its row, the same on every try. The mail server here is a real SMTP server in
the test (``tests/smtp_sink.py``) reached through Django's SMTP backend; the crash is a real ``celery worker``
process killed with SIGKILL while the server holds its message and before it has answered.
"""

from __future__ import annotations

import os
import signal
import smtplib
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from datetime import timedelta

import pytest
from django.conf import settings
from django.core import mail
from django.core.mail.backends.locmem import EmailBackend as LocmemBackend
from django.db import connection, connections, transaction
from django.utils import timezone

from bookings import notifications, services
from bookings.models import SentEmail
from bookings.notifications import Kind
from core import outbox
from core.actor import Actor
from core.models import OutboxDelivery, OutboxEvent
from guests.services import GuestInput
from tests.bookings.test_outbox import _redis_broker, _redis_up
from tests.factories import OwnerFactory, PropertyFactory, future
from tests.own_queue import every_task_to
from tests.parallel import run_in_parallel
from tests.smtp_sink import DROP, SmtpSink

SYSTEM = Actor.system("email-test")
GUEST = GuestInput(name="Ada", email="ada@example.com")
LATER = timedelta(hours=1)  # the sweeper runs "an hour later": past the retry delay and the stale-claim window


@pytest.fixture
def sink(settings):
    """A running SMTP sink, and Django's SMTP backend pointed at it."""
    server = SmtpSink().start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", server.port
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    settings.EMAIL_HOST_USER = settings.EMAIL_HOST_PASSWORD = ""
    yield server
    server.stop()


def decide_emails(start=20) -> dict[str, SentEmail]:
    """A reservation and the two emails its event decides (guest and owner), not sent yet."""
    prop = PropertyFactory(owner=OwnerFactory(email="owner@example.com"))
    booking = services.reserve(property_id=prop.pk, check_in=future(start), check_out=future(start + 3), adults=2,
                               guest=GUEST, actor=SYSTEM)
    event = OutboxEvent.objects.get(aggregate_id=str(booking.pk), topic="booking.created")
    notifications.on_booking_event(event)
    rows = {row.kind: row for row in SentEmail.objects.filter(booking=booking)}
    assert set(rows) == {Kind.RESERVATION_RECEIVED, Kind.OWNER_NEW_BOOKING}
    return rows


def status_of(row) -> str:
    row.refresh_from_db()
    return row.status


# --- the steps ------------------------------------------------------------------------------------------


class RecordingBackend(LocmemBackend):
    """Records, at the moment a message is handed to the "server", whether a transaction is open and the
    row's status as another database connection (another worker) sees it."""

    seen: list[tuple[bool, str]] = []

    def send_messages(self, messages):
        other = connections.create_connection("default")
        try:
            with other.cursor() as cursor:
                cursor.execute("SELECT status FROM bookings_sentemail WHERE kind = %s",
                               [messages[0].extra_headers["X-Stayhold-Email"]])
                status = cursor.fetchone()[0]
        finally:
            other.close()
        RecordingBackend.seen.append((connection.in_atomic_block, status))
        return super().send_messages(messages)


@pytest.fixture
def no_auto_send(monkeypatch):
    """Commits (transactional tests) do not deliver events or send emails on their own: the test does."""
    monkeypatch.setattr(outbox, "_queue_delivery", lambda event_id: None)
    monkeypatch.setattr(notifications, "queue_send", lambda sent_email_id: None)


@pytest.mark.django_db(transaction=True)
def test_the_claim_is_committed_before_the_mail_server_is_contacted_and_no_transaction_is_open(settings,
                                                                                             no_auto_send):
    settings.EMAIL_BACKEND = f"{__name__}.RecordingBackend"
    RecordingBackend.seen = []
    row = decide_emails()[Kind.RESERVATION_RECEIVED]

    assert notifications.send(row.pk) is True

    assert RecordingBackend.seen == [(False, "sending")]
    row.refresh_from_db()
    assert (row.status, row.attempts, row.last_error) == ("sent", 1, "")
    assert row.claimed_at is not None and row.sent_at >= row.claimed_at


@pytest.mark.django_db
def test_send_refuses_to_run_inside_a_transaction():
    row = decide_emails()[Kind.OWNER_NEW_BOOKING]
    with pytest.raises(RuntimeError, match="outside a transaction"), transaction.atomic():
        notifications.send(row.pk)
    assert status_of(row) == "pending" and mail.outbox == []


@pytest.mark.django_db
def test_every_email_has_a_stable_message_id_of_its_own(sink):
    rows = decide_emails()
    guest = rows[Kind.RESERVATION_RECEIVED]
    refuse_once = iter(["451 4.3.0 try again later"])
    sink.on_data = lambda raw: next(refuse_once, None)

    with pytest.raises(Exception, match="try again later"):  # the server answered: surely not taken, retried
        notifications.send(guest.pk)
    assert status_of(guest) == "pending"
    assert notifications.send(guest.pk) is True
    assert notifications.send(rows[Kind.OWNER_NEW_BOOKING].pk) is True

    first, second, owner = (m["Message-ID"] for m in sink.received)
    assert first == second == notifications.message_id(guest)  # the same on every try
    assert owner == notifications.message_id(rows[Kind.OWNER_NEW_BOOKING]) != first
    left, domain = first.strip("<>").split("@")
    assert domain == "stayhold.localhost"  # the sender's domain (DEFAULT_FROM_EMAIL)
    assert left.startswith(f"{guest.uid.hex}.")
    assert len(sink.accepted) == 2 and status_of(guest) == "sent"


@pytest.mark.django_db
def test_a_refused_or_unreachable_server_leaves_the_email_pending_and_the_sweeper_sends_it_once(sink, settings):
    rows = decide_emails()
    sink.on_data = lambda raw: "554 5.7.1 rejected for now"
    for row in rows.values():
        with pytest.raises(Exception, match="rejected for now"):
            notifications.send(row.pk)
    with socket.socket() as closed:  # bound, not listening: the connection is refused
        closed.bind(("127.0.0.1", 0))
        settings.EMAIL_PORT = closed.getsockname()[1]
        with pytest.raises(ConnectionRefusedError):
            notifications.send(rows[Kind.RESERVATION_RECEIVED].pk)
    for row in rows.values():
        row.refresh_from_db()
        assert row.status == "pending" and row.sent_at is None and row.last_error
    assert rows[Kind.RESERVATION_RECEIVED].attempts == 2

    settings.EMAIL_PORT = sink.port
    sink.on_data = None
    assert notifications.send_pending(at=timezone.now() + LATER) == 2
    assert notifications.send_pending(at=timezone.now() + LATER) == 0
    assert Counter(m["X-Stayhold-Email"] for m in sink.accepted) == {Kind.RESERVATION_RECEIVED: 1,
                                                                    Kind.OWNER_NEW_BOOKING: 1}
    assert {status_of(row) for row in rows.values()} == {"sent"}


@pytest.mark.django_db
def test_after_max_attempts_an_email_is_failed_and_left_alone(sink):
    row = decide_emails()[Kind.OWNER_NEW_BOOKING]
    sink.on_data = lambda raw: "550 5.1.1 no such mailbox"
    for _ in range(notifications.MAX_SEND_ATTEMPTS):
        with pytest.raises(Exception, match="no such mailbox"):
            notifications.send(row.pk)
    row.refresh_from_db()
    assert (row.status, row.attempts) == ("failed", notifications.MAX_SEND_ATTEMPTS)
    assert "no such mailbox" in row.last_error
    assert notifications.send(row.pk) is False
    notifications.send_pending(at=timezone.now() + LATER)  # tries the guest's email, not this one
    assert Counter(m["X-Stayhold-Email"] for m in sink.received)[Kind.OWNER_NEW_BOOKING] == row.attempts


@pytest.mark.django_db
def test_a_connection_lost_while_the_message_is_in_flight_is_unknown_and_never_sent_again(sink, caplog):
    rows = decide_emails()
    owner = rows[Kind.OWNER_NEW_BOOKING]
    sink.on_data = lambda raw: DROP  # the server has the message; the answer never comes

    assert notifications.send(owner.pk) is False

    owner.refresh_from_db()
    assert owner.status == "unknown" and owner.sent_at is None
    assert "may have accepted it" in owner.last_error and "check with the recipient" in owner.last_error
    assert any(r.levelname == "ERROR" and "delivery unknown" in r.getMessage() for r in caplog.records)
    sink.on_data = None
    assert notifications.send(owner.pk) is False  # a redelivered task
    assert notifications.send_pending(at=timezone.now() + LATER) == 1  # the guest's only
    assert Counter(m["X-Stayhold-Email"] for m in sink.received) == {Kind.OWNER_NEW_BOOKING: 1,
                                                                    Kind.RESERVATION_RECEIVED: 1}
    assert status_of(owner) == "unknown"


@pytest.mark.django_db
def test_a_stale_claim_is_flagged_unknown_by_the_sweeper_not_sent(caplog):
    rows = decide_emails()
    guest = rows[Kind.RESERVATION_RECEIVED]
    claimed = timezone.now()
    SentEmail.objects.filter(pk=guest.pk).update(status="sending", claimed_at=claimed, attempts=1)

    # a claim younger than the stale window may be a send in progress: left alone
    assert notifications.flag_unconfirmed(at=claimed + notifications.CLAIM_STALE_AFTER / 2) == 0
    assert status_of(guest) == "sending"

    assert notifications.send_pending(at=claimed + LATER) == 1  # the owner's email
    guest.refresh_from_db()
    assert guest.status == "unknown" and guest.sent_at is None and "check with the recipient" in guest.last_error
    assert [m.extra_headers["X-Stayhold-Email"] for m in mail.outbox] == [Kind.OWNER_NEW_BOOKING]
    assert any(r.levelname == "ERROR" and str(guest.pk) in r.getMessage() for r in caplog.records)
    assert notifications.send_pending(at=claimed + 2 * LATER) == 0
    assert len(mail.outbox) == 1


@pytest.mark.django_db(transaction=True)
def test_concurrent_sends_of_one_email_send_it_once(no_auto_send):
    row = decide_emails()[Kind.RESERVATION_RECEIVED]
    n = 8
    outcomes = run_in_parallel([lambda: notifications.send(row.pk)] * n)

    assert all(outcome == "ok" for outcome, _ in outcomes), outcomes
    results = [value for _, value in outcomes]
    assert sorted(results) == [False] * (n - 1) + [True]
    assert len(mail.outbox) == 1
    row.refresh_from_db()
    assert (row.status, row.attempts) == ("sent", 1)


def test_every_smtp_operation_has_a_timeout():
    from django.core.mail import get_connection

    assert settings.EMAIL_TIMEOUT == 10.0  # the default (EMAIL_TIMEOUT); Django's own is None: wait forever
    smtp = get_connection("django.core.mail.backends.smtp.EmailBackend")
    assert smtp.timeout == settings.EMAIL_TIMEOUT


@pytest.mark.django_db
def test_a_silent_server_times_out_and_the_email_stays_pending(settings):
    silent = SmtpSink(silent=True).start()
    try:
        settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
        settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", silent.port, 0.5
        row = decide_emails()[Kind.OWNER_NEW_BOOKING]
        with pytest.raises(smtplib.SMTPServerDisconnected, match="timed out"):
            notifications.send(row.pk)
    finally:
        silent.stop()
    row.refresh_from_db()
    assert row.status == "pending" and "timed out" in row.last_error.lower()


# --- a real worker killed between sending and recording ---------------------------------------------------------


# `celery -A config worker`, publishing (the tasks it queues itself: send_email) and consuming on one queue
# of its own, so that it sees nothing else and leaves nothing behind.
WORKER = """
import sys
from config.celery import app
queue = sys.argv[1]
app.conf.update(task_default_queue=queue, task_routes={"*": {"queue": queue}})  # tests/own_queue.py
app.worker_main(["worker", "--pool", "solo", "--queues", queue, "--hostname", f"{queue}@%h",
                 "--without-gossip", "--without-mingle", "--without-heartbeat", "--loglevel", "INFO"])
"""


def _worker_env(queue_db_url: str, smtp_port: int) -> dict:
    env = dict(os.environ)
    env.update(DJANGO_SETTINGS_MODULE="config.settings_test", DATABASE_URL=queue_db_url, REDIS_URL=_redis_broker(),
               CELERY_TASK_ALWAYS_EAGER="false", EMAIL_URL=f"smtp://127.0.0.1:{smtp_port}", PYTHONUNBUFFERED="1")
    return env


def _test_database_url() -> str:
    s = connection.settings_dict
    auth = s["USER"] + (f":{s['PASSWORD']}" if s["PASSWORD"] else "")
    return f"postgres://{auth}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}"


def _wait_until_other_sessions_are_gone(deadline: float) -> None:
    """The killed worker's database session ends when PostgreSQL notices the closed socket (and with it any
    transaction and row lock it held)."""
    while time.monotonic() < deadline:
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                           "AND pid <> pg_backend_pid() AND backend_type = 'client backend'")
            if cursor.fetchone()[0] == 0:
                return
        time.sleep(0.1)
    raise AssertionError("the killed worker's database session is still open")


def _remove_queue(queue: str) -> None:
    """Leave nothing in Redis: the queue (with the task the worker never got to), its bindings, and the dead
    worker's unacknowledged task (kombu would restore it an hour later)."""
    import json

    import redis

    client = redis.Redis.from_url(_redis_broker())
    for key in client.scan_iter(match=f"*{queue}*"):
        client.delete(key)
    for tag, raw in client.hscan_iter("unacked"):
        if json.loads(raw)[2] == queue:
            client.hdel("unacked", tag)
            client.zrem("unacked_index", tag)


@pytest.mark.skipif(not _redis_up(), reason="needs the Redis broker (REDIS_URL)")
@pytest.mark.django_db(transaction=True)
def test_a_worker_killed_between_sending_and_recording_does_not_make_the_email_go_out_twice(sink, tmp_path):

    if connection.vendor != "postgresql":
        pytest.skip("the worker process shares the PostgreSQL test database")
    worker: dict = {}
    killed = threading.Event()

    def kill_the_worker_once(raw):
        """The server has the whole message; before it answers, the worker dies (kill -9)."""
        if not killed.is_set():
            os.kill(worker["process"].pid, signal.SIGKILL)
            worker["process"].wait()
            killed.set()

    sink.on_data = kill_the_worker_once
    queue = f"email-test-{time.time_ns()}"  # a queue of our own: nothing else is consumed, nothing left behind
    own_queue = every_task_to(queue)
    log_path = tmp_path / "worker.log"
    with open(log_path, "wb") as log_file:
        worker["process"] = subprocess.Popen(
            [sys.executable, "-c", WORKER, queue], cwd=settings.BASE_DIR,
            env=_worker_env(_test_database_url(), sink.port), stdout=log_file,
            stderr=subprocess.STDOUT)
    own_queue.__enter__()
    try:
        prop = PropertyFactory(owner=OwnerFactory(email="owner@example.com"))
        booking = services.reserve(property_id=prop.pk, check_in=future(20), check_out=future(23), adults=2,
                                   guest=GUEST, actor=SYSTEM)  # commits: the worker delivers, decides, sends
        assert killed.wait(timeout=180), ("the worker never sent an email:\n"
                                          + log_path.read_text(errors="replace")[-3000:])
        _wait_until_other_sessions_are_gone(time.monotonic() + 60)
    finally:
        own_queue.__exit__(None, None, None)
        if worker["process"].poll() is None:
            worker["process"].kill()
            worker["process"].wait()
        _remove_queue(queue)

    assert len(sink.received) == 1  # the server got the first email; the worker died before hearing back
    rows = {row.kind: row for row in SentEmail.objects.filter(booking=booking)}
    assert set(rows) == {Kind.RESERVATION_RECEIVED, Kind.OWNER_NEW_BOOKING}

    # afterwards: the sweeper (an hour later), and the killed worker's task redelivered by the broker
    notifications.send_pending(at=timezone.now() + LATER)
    for row in rows.values():
        notifications.send(row.pk)

    kinds = Counter(m["X-Stayhold-Email"] for m in sink.received)
    assert kinds == {Kind.RESERVATION_RECEIVED: 1, Kind.OWNER_NEW_BOOKING: 1}, "an email went out twice"
    crashed = next(row for row in rows.values() if row.kind == sink.received[0]["X-Stayhold-Email"])
    other = next(row for row in rows.values() if row.pk != crashed.pk)
    assert [m["Message-ID"] for m in sink.received] == [notifications.message_id(crashed),
                                                        notifications.message_id(other)]
    crashed.refresh_from_db()
    other.refresh_from_db()
    assert (crashed.status, crashed.sent_at, crashed.attempts) == ("unknown", None, 1)  # flagged for staff
    assert "check with the recipient" in crashed.last_error
    assert other.status == "sent" and other.sent_at is not None
    event = OutboxEvent.objects.get(aggregate_id=str(booking.pk), topic="booking.created")
    assert OutboxDelivery.objects.filter(event=event, consumer="emails").count() == 1
