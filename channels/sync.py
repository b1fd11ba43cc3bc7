"""One import cycle of a channel connection: claim → fetch → parse → reconcile → record.

``sync_connection`` is what the beat job (every ``poll_interval_minutes``, jittered)
and the admin's "sync now" run. Its rules:

* **One run at a time per connection.** The claim is a short transaction that
  locks the connection row (``select_for_update(skip_locked=True)``: a row locked
  by another claimer is skipped, not waited for) and creates the ``SyncRun`` with
  ``finished_at`` empty: that unfinished run *is* the "running" marker, visible in
  the admin. Another claim that sees an unfinished run younger than
  ``RUN_LEASE`` returns ``None`` (skipped); an older one was interrupted (worker
  killed) and is closed as an error. No transaction is open during the fetch, so a
  slow platform never holds a database lock or connection in a transaction.
* **A broken feed is an error on the connection, never an exception**: fetch
  errors (``channels.fetch.FetchError``), unreadable feeds
  (``channels.ical_parse.FeedError``) and even a bug in reconciliation end as a run
  with outcome ``error`` and ``last_error`` set; the calendar is untouched
  (``apply_snapshot`` works in its own transactions and is not called, or rolls back).
  ``error``/``last_error`` are what the owner sees: every refused or failed
  connection reads the same there (``unreachable``), so a tenant cannot probe the
  server's network; the precise cause goes to ``SyncRun.detail`` (superusers only)
  and the log.
* **ETag/Last-Modified are stored only after a successful apply**, so a snapshot
  that the cancel guard refused is fetched in full again next time instead of
  being answered 304 and forgotten. So is the SHA-256 of the body applied with
  the property's local date (``content_sha256``; cleared by a run whose
  cancellations were held back): a platform that sends no validators and the
  same body again on the same day gets the 304 treatment (outcome
  ``not_modified``, HTTP status 200): not parsed, not reconciled. On a later day
  the body is applied again (what ended drops out). An unchanged feed costs the conditional GET and two
  statements (the claim and the record, one CTE each: ``_claim``, ``_record``).
* **Status**: ``ok``; ``warning`` after 1–2 consecutive failures, when the cancel
  guard tripped (nothing changed) or when the parse reported warnings (applied);
  ``failing`` after ``FAILING_AFTER`` (3) consecutive failures or when nothing has
  succeeded for 3 poll intervals (``ChannelConnection.is_stale``); ``paused`` when
  ``sync_enabled`` is off (a paused connection is not fetched, not even by "sync
  now": the host turns it on first). A 304 counts as a success and restores the
  status of the last applied snapshot (its warnings are kept in ``last_counts``).
* **Next poll** = now + interval + a random 0..``CHANNEL_POLL_JITTER_SECONDS``, set
  when the run is claimed, so thousands of connections created together do not hit
  a platform in the same second, forever. A ``429`` or ``503`` with ``Retry-After``
  (seconds or an HTTP-date) pushes it to at least the end of the run plus that
  wait, capped at ``CHANNEL_RETRY_AFTER_MAX_SECONDS`` (6 h: a value of days is a
  misconfigured server, and a calendar must not go stale that long); the scheduler
  does not fetch it earlier ("sync now" by the host still does).

Connections without an import URL (export only) are never fetched.
"""

from __future__ import annotations

import hashlib
import logging
import random
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import connections, transaction
from django.db.models import Case, F, Q, Value, When
from django.utils import timezone

from core import metrics
from properties.models import Property

from .fetch import FetchError, fetch_feed
from .ical_parse import FeedError, parse_feed
from .models import ChannelConnection, ConnectionStatus, Platform, SyncRun
from .reconcile import apply_snapshot

logger = logging.getLogger(__name__)

FAILING_AFTER = 3  # consecutive failed runs
# An unfinished run older than this was interrupted (the fetch itself is capped at CHANNEL_FETCH_TIMEOUT_SECONDS).
RUN_LEASE = timedelta(minutes=10)
# How long a dispatched (queued) connection is not dispatched again, if its task never runs (lost message).
DISPATCH_LEASE = timedelta(minutes=5)
COUNT_FIELDS = ("created", "changed", "cancelled", "unchanged", "conflicts", "blocks")


@dataclass
class _Outcome:
    kind: str  # SyncRun.Outcome
    http_status: int | None = None
    bytes: int = 0
    events_seen: int = 0
    message: str = ""  # error, or the guard's warning: shown to the owner
    detail: str = ""  # the precise reason of a failed fetch: operators only (SyncRun.detail and the log)
    warnings: list[str] = field(default_factory=list)  # the parser's, when the snapshot was applied
    counts: dict = field(default_factory=dict)
    etag: str = ""
    last_modified: str = ""
    retry_after: int | None = None  # seconds the platform asked us to wait (429/503 with Retry-After)
    content_sha256: str = ""  # of the body applied (OK only)


def next_poll_at(connection: ChannelConnection, now: datetime) -> datetime:
    """now + the poll interval + a random jitter of 0..CHANNEL_POLL_JITTER_SECONDS."""
    jitter = random.randint(0, max(0, int(settings.CHANNEL_POLL_JITTER_SECONDS)))
    return now + timedelta(minutes=connection.poll_interval_minutes, seconds=jitter)


def due_connection_ids(now: datetime) -> list[int]:
    """Connections to fetch now: sync enabled, an import URL, and ``next_poll_at`` empty or past."""
    return list(
        ChannelConnection.objects.filter(sync_enabled=True)
        .exclude(import_url="")  # the empty string is stored as is (not encrypted), so this works in SQL
        .filter(Q(next_poll_at__isnull=True) | Q(next_poll_at__lte=now))
        .order_by(F("next_poll_at").asc(nulls_first=True), "pk")
        .values_list("pk", flat=True)
    )


def lease_for_dispatch(connection_ids: list[int], now: datetime) -> None:
    """Push ``next_poll_at`` out by ``DISPATCH_LEASE`` so a queued connection is not queued again every minute."""
    ChannelConnection.objects.filter(pk__in=connection_ids).update(next_poll_at=now + DISPATCH_LEASE)


def sync_connection(connection_id, *, trigger: str = "schedule", at: datetime | None = None) -> SyncRun | None:
    """Fetch, parse and reconcile one connection; the finished ``SyncRun``, or ``None`` when skipped.

    Skipped (nothing fetched, ``None``): no such connection, no import URL, sync
    paused, or another run of the same connection under way. Never raises for a
    bad feed or a failed fetch: those are runs with outcome ``error``."""
    now = at or timezone.now()
    claimed = _claim(connection_id, trigger, now)
    if claimed is None:
        return None
    conn, run = claimed
    started = time.monotonic()
    try:
        outcome = _execute(conn, now)
    except Exception as exc:  # noqa: BLE001 - a bug must end as an error on the connection, not a stuck run
        logger.exception("Sync of channel connection %s failed unexpectedly", conn.pk)
        outcome = _Outcome(SyncRun.Outcome.ERROR, message=f"Internal error during the sync ({type(exc).__name__}).")
    _finish(conn, run, outcome, now, int((time.monotonic() - started) * 1000))
    quiet = run.outcome in (SyncRun.Outcome.OK, SyncRun.Outcome.NOT_MODIFIED)
    logger.log(logging.DEBUG if quiet else logging.INFO, "Sync of channel connection %s (%s): %s %s%s",
               conn.pk, trigger, run.outcome, run.error[:200], f" [{run.detail[:300]}]" if run.detail else "")
    return run


# The claim, in one statement (autocommit: one short transaction): lock the connection row unless another claimer
# holds it (SKIP LOCKED), mark a paused one paused, skip it while a run younger than the lease is unfinished, close
# older unfinished runs as interrupted, insert the new run and set the next poll. It returns the connection row and
# the new run's id, or nothing (skipped). A 304 then costs this and the one statement of ``_finish``.
_CLAIM_SQL = """
WITH conn AS (
    SELECT id, import_url <> '' AS fetchable, sync_enabled, status FROM {conn}
    WHERE id = %(id)s FOR UPDATE SKIP LOCKED
), claimable AS (
    SELECT conn.id FROM conn
    WHERE conn.fetchable AND conn.sync_enabled AND NOT EXISTS (
        SELECT 1 FROM {run} r WHERE r.connection_id = conn.id AND r.finished_at IS NULL AND r.started_at > %(lease)s)
), interrupted AS (
    UPDATE {run} SET finished_at = %(now)s, outcome = %(error)s, error = %(interrupted)s
    WHERE connection_id IN (SELECT id FROM claimable) AND finished_at IS NULL
), run AS (
    INSERT INTO {run} (connection_id, started_at, trigger, outcome, bytes, duration_ms, events_seen, created, changed,
                       cancelled, unchanged, conflicts, blocks, error, detail)
    SELECT id, %(now)s, %(trigger)s, %(ok)s, 0, 0, 0, 0, 0, 0, 0, 0, 0, '', '' FROM claimable
    RETURNING id
), paused AS (
    UPDATE {conn} c SET status = %(paused)s FROM conn
    WHERE c.id = conn.id AND conn.fetchable AND NOT conn.sync_enabled AND conn.status <> %(paused)s
), claimed AS (
    UPDATE {conn} c SET last_attempt_at = %(now)s,
        next_poll_at = %(now)s + make_interval(mins => c.poll_interval_minutes, secs => %(jitter)s)
    WHERE c.id IN (SELECT id FROM claimable)
    RETURNING c.*
)
SELECT claimed.*, (SELECT id FROM run) AS claimed_run_id, p.timezone AS property_timezone
FROM claimed JOIN {prop} p ON p.id = claimed.property_id
"""


def _claim(connection_id, trigger: str, now: datetime) -> tuple[ChannelConnection, SyncRun] | None:
    if connections[ChannelConnection.objects.db].vendor != "postgresql":
        return _claim_portable(connection_id, trigger, now)
    sql = _CLAIM_SQL.format(conn=ChannelConnection._meta.db_table, run=SyncRun._meta.db_table,
                            prop=Property._meta.db_table)
    params = {"id": connection_id, "now": now, "lease": now - RUN_LEASE, "trigger": trigger,
              "jitter": random.randint(0, max(0, int(settings.CHANNEL_POLL_JITTER_SECONDS))),
              "ok": SyncRun.Outcome.OK, "error": SyncRun.Outcome.ERROR, "paused": ConnectionStatus.PAUSED,
              "interrupted": "Interrupted (the worker stopped)."}
    with transaction.atomic(savepoint=False):
        conn = next(iter(ChannelConnection.objects.raw(sql, params)), None)
    if conn is None:  # gone, export only, paused, locked by another claimer, or a run under way
        return None
    run = SyncRun(pk=conn.claimed_run_id, connection=conn, started_at=now, trigger=trigger)  # type: ignore[attr-defined]
    return conn, run


def _claim_portable(connection_id, trigger: str, now: datetime) -> tuple[ChannelConnection, SyncRun] | None:
    """The claim of ``_CLAIM_SQL`` as ORM statements in one transaction (SQLite, the embedded default)."""
    with transaction.atomic():
        conn = (ChannelConnection.objects.select_for_update(skip_locked=True, of=("self",))
                .select_related("property").filter(pk=connection_id).first())
        if conn is None or not conn.import_url:
            return None
        if not conn.sync_enabled:
            if conn.status != ConnectionStatus.PAUSED:
                ChannelConnection.objects.filter(pk=conn.pk).update(status=ConnectionStatus.PAUSED)
            return None
        unfinished = list(SyncRun.objects.filter(connection=conn, finished_at__isnull=True)
                          .values_list("pk", "started_at"))
        if any(started_at > now - RUN_LEASE for _, started_at in unfinished):
            return None
        if unfinished:
            SyncRun.objects.filter(pk__in=[pk for pk, _ in unfinished]).update(
                finished_at=now, outcome=SyncRun.Outcome.ERROR, error="Interrupted (the worker stopped).")
        run = SyncRun.objects.create(connection=conn, started_at=now, trigger=trigger)
        conn.next_poll_at = next_poll_at(conn, now)
        conn.last_attempt_at = now
        ChannelConnection.objects.filter(pk=conn.pk).update(next_poll_at=conn.next_poll_at, last_attempt_at=now)
    conn.property_timezone = conn.property.timezone  # type: ignore[attr-defined]  # as _CLAIM_SQL returns it
    return conn, run


def _execute(conn: ChannelConnection, now: datetime) -> _Outcome:
    try:
        fetched = fetch_feed(conn.import_url, etag=conn.etag, last_modified=conn.last_modified)
    except FetchError as exc:
        # A refused or failed connection reads the same for every cause (channels.fetch); the cause is the detail.
        return _Outcome(SyncRun.Outcome.ERROR, http_status=exc.http_status, message=f"{exc.code}: {exc.message}",
                        detail=exc.detail, retry_after=exc.retry_after)
    if fetched.status == 304:
        return _Outcome(SyncRun.Outcome.NOT_MODIFIED, http_status=304, etag=fetched.etag,
                        last_modified=fetched.last_modified)
    size = len(fetched.body)
    zone = conn.property_timezone  # type: ignore[attr-defined]  # read by the claim
    # The body and the property's date: the same body on a later day is applied again (stays and blocks that have
    # ended drop out), as it would have been before this shortcut.
    today = timezone.localtime(now, ZoneInfo(zone)).date()
    digest = hashlib.sha256(fetched.body + b"\n" + today.isoformat().encode()).hexdigest()
    if digest == conn.content_sha256:  # the body applied today, sent again without validators: unchanged, as a 304
        return _Outcome(SyncRun.Outcome.NOT_MODIFIED, http_status=fetched.status, bytes=size, etag=fetched.etag,
                        last_modified=fetched.last_modified)
    try:
        snapshot = parse_feed(fetched.body, platform=conn.platform, tz=zone)
    except FeedError as exc:
        return _Outcome(SyncRun.Outcome.ERROR, http_status=fetched.status, bytes=size,
                        message=f"{exc.code}: {exc.message}")
    seen = len(snapshot.events)
    result = apply_snapshot(conn, snapshot, at=now)
    counts = {name: getattr(result, name) for name in COUNT_FIELDS}
    if result.warning:  # cancellations held back (the rest applied): fetched in full next time, no 304
        return _Outcome(SyncRun.Outcome.WARNING, http_status=fetched.status, bytes=size, events_seen=seen,
                        message=result.warning, counts=counts)
    notices = [result.notice] if result.notice else []
    return _Outcome(SyncRun.Outcome.OK, http_status=fetched.status, bytes=size, events_seen=seen,
                    warnings=notices + list(snapshot.warnings), counts=counts, etag=fetched.etag,
                    last_modified=fetched.last_modified, content_sha256=digest)


def _status(conn: ChannelConnection, outcome: _Outcome, failures: int, last_success_at, now) -> str:
    since = last_success_at or conn.created_at
    stale = since is not None and now - since > timedelta(minutes=3 * conn.poll_interval_minutes)
    if outcome.kind == SyncRun.Outcome.ERROR:
        return ConnectionStatus.FAILING if failures >= FAILING_AFTER or stale else ConnectionStatus.WARNING
    if outcome.kind == SyncRun.Outcome.WARNING:
        return ConnectionStatus.FAILING if stale else ConnectionStatus.WARNING
    if outcome.kind == SyncRun.Outcome.NOT_MODIFIED:
        return ConnectionStatus.WARNING if conn.last_counts.get("warnings") else ConnectionStatus.OK
    return ConnectionStatus.WARNING if outcome.warnings else ConnectionStatus.OK


def _finish(conn: ChannelConnection, run: SyncRun, outcome: _Outcome, now: datetime, duration_ms: int) -> None:
    kind = outcome.kind
    succeeded = kind in (SyncRun.Outcome.OK, SyncRun.Outcome.NOT_MODIFIED)
    failures = conn.consecutive_failures + 1 if kind == SyncRun.Outcome.ERROR else (
        0 if succeeded else conn.consecutive_failures)
    last_success_at = now if succeeded else conn.last_success_at
    updates: dict[str, object] = {"consecutive_failures": failures, "last_success_at": last_success_at}
    if kind == SyncRun.Outcome.OK:
        updates.update(etag=outcome.etag, last_modified=outcome.last_modified, content_sha256=outcome.content_sha256,
                       last_counts={**outcome.counts, "events": outcome.events_seen, "warnings": outcome.warnings},
                       last_error="; ".join(outcome.warnings))
    elif kind == SyncRun.Outcome.NOT_MODIFIED:
        # Keep the validators we have unless the server sent new ones with its 304.
        updates.update(etag=outcome.etag or conn.etag, last_modified=outcome.last_modified or conn.last_modified,
                       last_error="; ".join(conn.last_counts.get("warnings") or []))
    else:
        updates["last_error"] = outcome.message
    if kind == SyncRun.Outcome.WARNING:  # held-back cancellations: the next body is applied, even the one before
        updates["content_sha256"] = ""  # (applying it clears what is held; skipping it would keep counting)
    status = _status(conn, outcome, failures, last_success_at, now)

    run.finished_at = now + timedelta(milliseconds=duration_ms)
    if outcome.retry_after is not None:  # the platform asked us to wait: not polled before (capped)
        wait = timedelta(seconds=min(outcome.retry_after, settings.CHANNEL_RETRY_AFTER_MAX_SECONDS))
        if conn.next_poll_at is None or conn.next_poll_at < run.finished_at + wait:
            updates["next_poll_at"] = run.finished_at + wait
    run.outcome = kind
    run.http_status = outcome.http_status
    run.bytes = outcome.bytes
    run.duration_ms = duration_ms
    run.events_seen = outcome.events_seen
    for name in COUNT_FIELDS:
        setattr(run, name, outcome.counts.get(name, 0))
    run.error = outcome.message or "; ".join(outcome.warnings)
    run.detail = outcome.detail
    _record(run, conn, updates, status)
    metrics.ICAL_FETCHES.labels(platform=metrics.bounded(conn.platform, Platform.values), outcome=kind).inc()
    for name, value in updates.items():
        setattr(conn, name, value)
    conn.status = status


RUN_FIELDS = ("finished_at", "outcome", "http_status", "bytes", "duration_ms", "events_seen", *COUNT_FIELDS, "error",
              "detail")


def _record(run: SyncRun, conn: ChannelConnection, updates: dict, status: str) -> None:
    """Save the finished run and the connection's bookkeeping in one statement (a CTE). A connection paused while
    the run was under way stays paused."""
    db = connections[ChannelConnection.objects.db]
    if db.vendor != "postgresql":  # SQLite: the same writes as ORM statements in one transaction
        with transaction.atomic():
            run.save()
            ChannelConnection.objects.filter(pk=conn.pk).update(**updates, status=Case(
                When(sync_enabled=False, then=Value(ConnectionStatus.PAUSED)), default=Value(status)))
        return

    def assignments(model, values: dict) -> tuple[str, list]:
        sql, params = [], []
        for name, value in values.items():
            field = model._meta.get_field(name)
            sql.append(f"{db.ops.quote_name(field.column)} = %s")
            params.append(field.get_db_prep_save(value, db))
        return ", ".join(sql), params

    run_set, run_params = assignments(SyncRun, {name: getattr(run, name) for name in RUN_FIELDS})
    conn_set, conn_params = assignments(ChannelConnection, updates)
    sql = (f"WITH run AS (UPDATE {SyncRun._meta.db_table} SET {run_set} WHERE id = %s) "  # noqa: S608 - names from
           # the models' meta; every value is a parameter
           f"UPDATE {ChannelConnection._meta.db_table} SET {conn_set}, "
           f"status = CASE WHEN sync_enabled THEN %s ELSE %s END WHERE id = %s")
    with transaction.atomic(savepoint=False), db.cursor() as cursor:
        cursor.execute(sql, [*run_params, run.pk, *conn_params, status, ConnectionStatus.PAUSED, conn.pk])
