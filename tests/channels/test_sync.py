"""``channels.sync`` and ``channels.tasks`` end to end: a real feed server → fetch → parse → reconcile → records."""

import logging
import threading
from datetime import timedelta

import pytest
from django.db import connection as db_connection
from django.db import transaction
from django.db.migrations.executor import MigrationExecutor
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from django_celery_beat.models import PeriodicTask

from bookings.models import AvailabilityBlock, Booking, BookingStatus
from channels import sync as sync_module
from channels import tasks
from channels.models import ChannelConnection, ConnectionStatus, Platform, SyncRun
from channels.sync import DISPATCH_LEASE, RUN_LEASE, due_connection_ids, next_poll_at, sync_connection
from tests.factories import PropertyFactory, future

pytestmark = pytest.mark.django_db

SECRET = "s3cr3t0123456789abcdef"
RESERVATION_URL = "Reservation URL: https://www.airbnb.com/hosting/reservations/details/HM{code}\\n" \
                  "Phone Number (Last 4 Digits): 1234"


def airbnb_feed(stays=(), blocks=(), duplicate_uid: str = "") -> bytes:
    """An Airbnb export: ``stays`` = [(uid, start days, nights)], ``blocks`` likewise."""
    lines = ["BEGIN:VCALENDAR", "PRODID;X-RICAL-TZSOURCE=TZINFO:-//Airbnb Inc//Hosting Calendar 0.8.8//EN",
             "CALSCALE:GREGORIAN", "VERSION:2.0"]

    def event(uid, start, nights, summary, description=""):
        lines.extend(["BEGIN:VEVENT", f"DTEND;VALUE=DATE:{future(start + nights):%Y%m%d}",
                      f"DTSTART;VALUE=DATE:{future(start):%Y%m%d}", f"UID:{uid}"])
        if description:
            lines.append(f"DESCRIPTION:{description}")
        lines.extend([f"SUMMARY:{summary}", "END:VEVENT"])

    for i, (uid, start, nights) in enumerate(stays):
        event(uid, start, nights, "Reserved", RESERVATION_URL.format(code=f"ABC{i}"))
    for uid, start, nights in blocks:
        event(uid, start, nights, "Airbnb (Not available)")
    if duplicate_uid:
        event(duplicate_uid, 200, 2, "Airbnb (Not available)")
    lines.append("END:VCALENDAR")
    return ("\r\n".join(lines) + "\r\n").encode()


STAYS = [("s1@airbnb.com", 10, 3), ("s2@airbnb.com", 20, 4), ("s3@airbnb.com", 30, 2), ("s4@airbnb.com", 40, 5)]
BLOCKS = [("b1@airbnb.com", 60, 30)]


@pytest.fixture
def server(server, settings):
    """The feed server of tests/channels/conftest.py, with the default poll jitter."""
    settings.CHANNEL_POLL_JITTER_SECONDS = 120
    return server


@pytest.fixture
def conn(server):
    server.route("/calendar/ical/1.ics", airbnb_feed(STAYS, BLOCKS), etag='"v1"',
                 last_modified="Wed, 21 Oct 2026 07:28:00 GMT")
    return ChannelConnection.objects.create(property=PropertyFactory(), platform=Platform.AIRBNB,
                                            import_url=server.url(f"/calendar/ical/1.ics?s={SECRET}"))


def imported(connection):
    return Booking.objects.filter(property=connection.property, source=Platform.AIRBNB)


def live_imported(connection):
    return set(imported(connection).filter(status=BookingStatus.CONFIRMED).values_list("external_id", flat=True))


def channel_blocks(connection):
    return list(AvailabilityBlock.objects.filter(connection=connection).values_list("start_date", "end_date"))


def test_a_successful_sync_imports_the_feed_and_records_the_run(conn, server):
    now = timezone.now()
    run = sync_connection(conn.pk, at=now)
    assert run.outcome == SyncRun.Outcome.OK
    assert (run.http_status, run.bytes, run.events_seen) == (200, len(airbnb_feed(STAYS, BLOCKS)), 5)
    assert (run.created, run.changed, run.cancelled, run.conflicts, run.trigger) == (4, 0, 0, 0, "schedule")
    assert run.finished_at is not None and run.error == ""
    assert live_imported(conn) == {uid for uid, *_ in STAYS}
    assert channel_blocks(conn) == [(future(60), future(90))]
    conn.refresh_from_db()
    assert conn.status == ConnectionStatus.OK
    assert conn.last_attempt_at == now and conn.last_success_at == now
    assert (conn.etag, conn.last_modified) == ('"v1"', "Wed, 21 Oct 2026 07:28:00 GMT")
    assert conn.last_counts["created"] == 4 and conn.last_counts["events"] == 5
    assert conn.consecutive_failures == 0 and conn.last_error == ""
    assert now + timedelta(minutes=10) <= conn.next_poll_at <= now + timedelta(minutes=10, seconds=120)


def test_an_unchanged_feed_costs_a_304_and_changes_nothing(conn, server, django_assert_max_num_queries):
    sync_connection(conn.pk)
    bookings_before = list(imported(conn).values_list("pk", "status", "check_in", "check_out"))
    later = timezone.now() + timedelta(minutes=11)
    # Claim (lock, running check, run insert, poll update) + finish (run, connection): 6 statements, plus the
    # two SAVEPOINT/RELEASE pairs its transactions become inside the test's transaction.
    with django_assert_max_num_queries(10):
        run = sync_connection(conn.pk, at=later)
    assert (run.outcome, run.http_status, run.bytes, run.created) == (SyncRun.Outcome.NOT_MODIFIED, 304, 0, 0)
    assert server.requests[-1].headers["if-none-match"] == '"v1"'
    assert list(imported(conn).values_list("pk", "status", "check_in", "check_out")) == bookings_before
    conn.refresh_from_db()
    assert conn.last_success_at == later and conn.status == ConnectionStatus.OK and conn.etag == '"v1"'


def test_the_same_feed_without_validators_is_unchanged_like_a_304(conn, server):
    server.route("/calendar/ical/1.ics", airbnb_feed(STAYS, BLOCKS))  # no ETag / Last-Modified any more
    first = sync_connection(conn.pk)
    assert (first.outcome, first.created) == ("ok", 4)
    conn.refresh_from_db()
    assert len(conn.content_sha256) == 64
    run = sync_connection(conn.pk)  # the same body: its digest matches, neither parsed nor reconciled
    assert (run.outcome, run.http_status, run.created, run.changed, run.cancelled, run.unchanged) == (
        "not_modified", 200, 0, 0, 0, 0)
    assert imported(conn).count() == 4
    moved = [("s1@airbnb.com", 11, 3)] + STAYS[1:]  # another body: applied
    server.route("/calendar/ical/1.ics", airbnb_feed(moved, BLOCKS))
    run = sync_connection(conn.pk)
    assert (run.outcome, run.http_status, run.changed, run.unchanged) == ("ok", 200, 1, 3)


def test_a_changed_feed_moves_and_cancels_stays(conn, server):
    sync_connection(conn.pk)
    moved = [("s1@airbnb.com", 11, 3)] + STAYS[1:3]  # s1 moved a day later, s4 gone
    server.route("/calendar/ical/1.ics", airbnb_feed(moved, BLOCKS), etag='"v2"')
    run = sync_connection(conn.pk)
    assert (run.outcome, run.changed, run.cancelled, run.unchanged) == ("ok", 1, 1, 2)
    assert imported(conn).get(external_id="s1@airbnb.com").check_in == future(11)
    assert imported(conn).get(external_id="s4@airbnb.com").status == BookingStatus.CANCELLED
    conn.refresh_from_db()
    assert conn.etag == '"v2"'


def test_errors_keep_the_calendar_and_the_connection_fails_after_three(conn, server):
    start = timezone.now()
    sync_connection(conn.pk, at=start)
    before = sorted(live_imported(conn))
    server.route("/calendar/ical/1.ics", b"Internal Server Error", status=500)
    statuses = []
    for i in range(1, 4):
        run = sync_connection(conn.pk, at=start + timedelta(minutes=i))
        conn.refresh_from_db()
        statuses.append(conn.status)
        assert (run.outcome, run.http_status) == (SyncRun.Outcome.ERROR, 500)
        assert conn.consecutive_failures == i
    assert statuses == [ConnectionStatus.WARNING, ConnectionStatus.WARNING, ConnectionStatus.FAILING]
    assert "HTTP 500" in conn.last_error and SECRET not in conn.last_error and SECRET not in run.error
    assert conn.last_success_at == start and conn.etag == '"v1"'
    assert sorted(live_imported(conn)) == before and len(channel_blocks(conn)) == 1
    # The platform recovers: one good run clears everything.
    server.route("/calendar/ical/1.ics", airbnb_feed(STAYS, BLOCKS), etag='"v3"')
    run = sync_connection(conn.pk, at=start + timedelta(minutes=4))
    conn.refresh_from_db()
    assert run.outcome == SyncRun.Outcome.NOT_MODIFIED  # the body applied before the errors: nothing to do
    assert (conn.status, conn.consecutive_failures, conn.last_error, conn.etag) == ("ok", 0, "", '"v3"')


@pytest.mark.parametrize("route, code, detail", [
    ({"body": b"<html><body>Please log in</body></html>", "content_type": "text/html"}, "not_ical", ""),
    ({"body": b""}, "empty", ""),
    ({"body": b"BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nDTSTART;VALUE=DATE:notadate\r\n"}, "ical", ""),
    ({"delay": 1.0}, "unreachable", "timeout: "),  # the owner sees the generic text; operators see the reason
])
def test_a_broken_feed_is_an_error_on_the_connection_and_changes_nothing(conn, server, settings, route, code,
                                                                         detail):
    sync_connection(conn.pk)
    settings.CHANNEL_FETCH_TIMEOUT_SECONDS = 0.3
    server.route("/calendar/ical/1.ics", **route)
    run = sync_connection(conn.pk)
    conn.refresh_from_db()
    assert run.outcome == SyncRun.Outcome.ERROR and code in run.error
    assert run.detail.startswith(detail) and (detail == "" or "timeout" not in run.error)
    assert conn.last_error == run.error and conn.status == ConnectionStatus.WARNING
    assert live_imported(conn) == {uid for uid, *_ in STAYS} and len(channel_blocks(conn)) == 1


def test_a_feed_that_lost_most_stays_trips_the_guard_and_is_fetched_in_full_next_time(conn, server):
    sync_connection(conn.pk)
    server.route("/calendar/ical/1.ics", airbnb_feed(STAYS[:1], BLOCKS), etag='"v2"')
    run = sync_connection(conn.pk)
    conn.refresh_from_db()
    assert run.outcome == SyncRun.Outcome.WARNING and run.error
    assert conn.status == ConnectionStatus.WARNING and conn.last_error == run.error
    assert live_imported(conn) == {uid for uid, *_ in STAYS}  # nothing cancelled
    assert conn.etag == '"v1"'  # not the refused snapshot's: the next fetch gets it in full, not a 304
    sync_connection(conn.pk)
    assert server.requests[-1].headers["if-none-match"] == '"v1"'


def test_a_guard_warning_for_three_intervals_is_failing(conn, server):
    start = timezone.now()
    sync_connection(conn.pk, at=start)
    # Every stay gone from a window that still covers them (the feed starts with a block on day 5).
    server.route("/calendar/ical/1.ics", airbnb_feed((), [("b0@airbnb.com", 5, 1)] + BLOCKS), etag='"v2"')
    sync_connection(conn.pk, at=start + timedelta(minutes=10))
    conn.refresh_from_db()
    assert conn.status == ConnectionStatus.WARNING
    sync_connection(conn.pk, at=start + timedelta(minutes=31))
    conn.refresh_from_db()
    assert conn.status == ConnectionStatus.FAILING and conn.last_success_at == start


def test_one_failure_after_three_intervals_without_success_is_failing(conn, server):
    conn.last_success_at = timezone.now() - timedelta(minutes=31)
    conn.save()
    server.route("/calendar/ical/1.ics", status=503)
    sync_connection(conn.pk)
    conn.refresh_from_db()
    assert conn.consecutive_failures == 1 and conn.status == ConnectionStatus.FAILING


def test_parse_warnings_are_applied_and_shown_and_kept_through_304s(conn, server):
    server.route("/calendar/ical/1.ics", airbnb_feed(STAYS, BLOCKS, duplicate_uid="b1@airbnb.com"), etag='"w"')
    run = sync_connection(conn.pk)
    conn.refresh_from_db()
    assert run.outcome == SyncRun.Outcome.OK and run.created == 4 and run.error
    assert conn.status == ConnectionStatus.WARNING and conn.last_error == run.error
    run = sync_connection(conn.pk)
    conn.refresh_from_db()
    assert run.outcome == SyncRun.Outcome.NOT_MODIFIED
    assert conn.status == ConnectionStatus.WARNING and conn.last_error


def test_a_paused_connection_is_not_fetched(conn, server):
    ChannelConnection.objects.filter(pk=conn.pk).update(sync_enabled=False)
    assert sync_connection(conn.pk, trigger="manual") is None
    conn.refresh_from_db()
    assert conn.status == ConnectionStatus.PAUSED
    assert server.requests == [] and not SyncRun.objects.exists()


def test_an_export_only_connection_and_a_missing_one_are_skipped(server):
    export_only = ChannelConnection.objects.create(property=PropertyFactory(), platform=Platform.GOOGLE_VR)
    assert sync_connection(export_only.pk) is None
    assert sync_connection(987654) is None
    assert not SyncRun.objects.exists()


def test_a_run_under_way_blocks_a_second_one_until_its_lease_ends(conn, server):
    now = timezone.now()
    SyncRun.objects.create(connection=conn, started_at=now - timedelta(minutes=1))
    assert sync_connection(conn.pk, trigger="manual", at=now) is None
    assert server.requests == []
    later = now + RUN_LEASE
    run = sync_connection(conn.pk, at=later)
    assert run.outcome == SyncRun.Outcome.OK
    interrupted = SyncRun.objects.exclude(pk=run.pk).get()
    assert interrupted.outcome == SyncRun.Outcome.ERROR and interrupted.finished_at == later
    assert "Interrupted" in interrupted.error


@pytest.mark.django_db(transaction=True)
def test_a_connection_locked_by_another_worker_is_skipped_not_waited_for(conn, server):
    locked, release = threading.Event(), threading.Event()

    def other_worker():
        try:
            with transaction.atomic():
                ChannelConnection.objects.select_for_update().get(pk=conn.pk)
                locked.set()
                release.wait(10)
        finally:
            db_connection.close()

    worker = threading.Thread(target=other_worker)
    worker.start()
    try:
        assert locked.wait(10)
        assert sync_connection(conn.pk) is None
    finally:
        release.set()
        worker.join()
    assert server.requests == []
    assert sync_connection(conn.pk).outcome == SyncRun.Outcome.OK


def test_next_poll_is_the_interval_plus_a_bounded_jitter(settings):
    settings.CHANNEL_POLL_JITTER_SECONDS = 120
    conn = ChannelConnection(poll_interval_minutes=15)
    now = timezone.now()
    offsets = {(next_poll_at(conn, now) - now).total_seconds() for _ in range(300)}
    assert min(offsets) >= 15 * 60 and max(offsets) <= 15 * 60 + 120
    assert len(offsets) > 20  # really spread
    settings.CHANNEL_POLL_JITTER_SECONDS = 0
    assert next_poll_at(conn, now) == now + timedelta(minutes=15)


def test_due_connections_are_enabled_with_an_import_url_and_past_their_poll_time():
    now = timezone.now()

    def make(name, **kwargs):  # one property each: one connection per platform and property
        kwargs.setdefault("import_url", "https://example.com/cal.ics")
        return ChannelConnection.objects.create(property=PropertyFactory(), platform=Platform.OTHER, name=name,
                                                **kwargs).pk

    never = make("never polled")
    past = make("past", next_poll_at=now - timedelta(minutes=3))
    exactly = make("exactly now", next_poll_at=now)
    make("later", next_poll_at=now + timedelta(seconds=1))
    make("paused", sync_enabled=False)
    make("export only", import_url="")
    assert due_connection_ids(now) == [never, past, exactly]


def test_dispatch_queues_each_due_connection_once(conn, monkeypatch):
    queued = []
    monkeypatch.setattr(tasks.sync_connection_task, "delay", queued.append)
    assert tasks.dispatch_due_syncs() == 1
    assert queued == [conn.pk]
    conn.refresh_from_db()
    assert conn.next_poll_at > timezone.now() + DISPATCH_LEASE - timedelta(minutes=1)
    assert tasks.dispatch_due_syncs() == 0  # queued, not yet run: not queued again
    assert queued == [conn.pk]


def test_dispatch_runs_the_syncs_through_celery(conn, server):
    assert tasks.dispatch_due_syncs() == 1  # eager in tests
    run = SyncRun.objects.get()
    assert run.outcome == SyncRun.Outcome.OK and run.connection_id == conn.pk
    assert tasks.dispatch_due_syncs() == 0  # next poll in 10 minutes


def test_the_task_records_the_trigger_and_returns_the_outcome(conn, server):
    assert tasks.sync_connection_task.delay(conn.pk, trigger="manual").get() == "ok"
    assert SyncRun.objects.get().trigger == "manual"


def test_the_task_never_raises(conn, monkeypatch, caplog):
    def broken(*args, **kwargs):
        raise RuntimeError("database gone")

    monkeypatch.setattr(sync_module, "_claim", broken)
    with caplog.at_level(logging.ERROR):
        assert tasks.sync_connection_task.delay(conn.pk).get() is None
    assert "could not run" in caplog.text


def test_a_bug_in_reconciliation_is_an_error_run_not_a_crash(conn, server, monkeypatch):
    def broken(*args, **kwargs):
        raise ZeroDivisionError

    monkeypatch.setattr(sync_module, "apply_snapshot", broken)
    run = tasks.sync_connection_task.delay(conn.pk).get()
    assert run == SyncRun.Outcome.ERROR
    run = SyncRun.objects.get()
    assert run.finished_at and "ZeroDivisionError" in run.error
    conn.refresh_from_db()
    assert conn.consecutive_failures == 1 and not imported(conn).exists()


def test_old_runs_are_purged(conn, settings):
    settings.CHANNEL_SYNC_RUN_RETENTION_DAYS = 30
    now = timezone.now()
    old = SyncRun.objects.create(connection=conn, started_at=now - timedelta(days=31))
    kept = SyncRun.objects.create(connection=conn, started_at=now - timedelta(days=29))
    assert tasks.purge_sync_runs.delay().get() == 1
    assert list(SyncRun.objects.values_list("pk", flat=True)) == [kept.pk]
    assert not SyncRun.objects.filter(pk=old.pk).exists()


def test_the_beat_jobs_are_created_by_the_migration_and_removed_when_it_is_reversed():
    # Run the migration here rather than trusting the state of a reused test database (a transactional test
    # flushes every table, migration-made rows included). Inside the test's transaction: rolled back after.
    executor = MigrationExecutor(db_connection)
    executor.migrate([("channel_sync", "0001_initial")])
    assert not PeriodicTask.objects.filter(task__startswith="channels.tasks.").exists()
    executor.loader.build_graph()
    executor.migrate([("channel_sync", "0002_sync_jobs")])
    dispatch = PeriodicTask.objects.get(task="channels.tasks.dispatch_due_syncs")
    purge = PeriodicTask.objects.get(task="channels.tasks.purge_sync_runs")
    assert (dispatch.interval.every, dispatch.interval.period, dispatch.enabled) == (1, "minutes", True)
    assert (purge.interval.every, purge.interval.period, purge.enabled) == (1, "days", True)


def test_an_unchanged_feed_costs_one_conditional_get_and_two_statements(conn, server):
    sync_connection(conn.pk)
    server.requests.clear()
    with CaptureQueriesContext(db_connection) as queries:
        run = sync_connection(conn.pk)  # 304 to the ETag
    assert run.outcome == SyncRun.Outcome.NOT_MODIFIED and len(server.requests) == 1
    assert len(queries) == 2, [q["sql"][:80] for q in queries]  # the claim and the record, no transaction around
    server.route("/calendar/ical/1.ics", airbnb_feed(STAYS, BLOCKS))  # the same body, no validators
    server.requests.clear()
    with CaptureQueriesContext(db_connection) as queries:
        run = sync_connection(conn.pk)
    assert (run.outcome, run.http_status, len(server.requests)) == (SyncRun.Outcome.NOT_MODIFIED, 200, 1)
    assert len(queries) == 2, [q["sql"][:80] for q in queries]
    conn.refresh_from_db()
    assert conn.status == ConnectionStatus.OK and conn.last_success_at == run.started_at
