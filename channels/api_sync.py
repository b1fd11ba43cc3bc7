"""API connections, the shared part: outbound ARI from the outbox, inbound reservations, the breaker.

**Outbound.** Every event that can change what a platform shows (``booking.*``, ``availability.updated``,
``pricing.updated``) reaches the outbox consumer :func:`on_event`, which writes, in the delivery's transaction, one
:class:`~channels.models.AriChange` per API connection of the property (the nights, and whether availability or
rates/rules changed) and queues :func:`push_connection` after ``CHANNEL_ARI_COALESCE_SECONDS``. A push:

1. takes the connection's lease (a conditional UPDATE: one worker per connection; a dead worker's lease expires);
2. reads the pending rows and merges their nights per kind, clipped to [today, today + the platform's horizon);
3. computes the values *now* (``channels.ari``, the same occupancy, stay rules and prices as a direct booking)
   and compresses them into ranges of equal values;
4. for each kind, asks the shared limiter (``channels.limits``) for room in the platform's limit scopes — none:
   the push re-queues itself for when there is room — then sends one request with no transaction open;
5. on success deletes exactly the rows it read (rows written meanwhile stay for the next push), so a worker that
   dies mid-push loses nothing: the rows and the lease's expiry bring the change back.

Failures: retryable ones (timeout, 5xx, 429) back off exponentially with jitter (or as ``Retry-After`` says);
``CHANNEL_BREAKER_THRESHOLD`` failures in a row, or refused credentials at once, open the connection's circuit
breaker: no pushes for ``CHANNEL_BREAKER_COOLDOWN_SECONDS``, then one probe (half-open); the owner is told when it
opens (``channels.alerts``). All of this state is in the connection row (PostgreSQL), seen by every worker.

**Inbound.** :func:`pull_connection` reads the platform's unacknowledged reservation messages and applies each in
its own short transaction (:func:`apply_reservation`): an :class:`~channels.models.InboundMessage` row per message
id (a duplicate is only acknowledged again), messages of one reservation in the platform's order (an older
version arriving after a newer one changes nothing), the booking written by ``bookings.services.import_external``
(a platform's sale is never refused: a collision is recorded as an overbooking, ``reconcile.record_overbooking``,
and the new booking's outbox event closes the nights on every other connection). The platform is acknowledged
only after the commit. Webhooks (Channex) only queue a pull; a beat job pulls every API connection regularly, so
a lost webhook delays a reservation by at most that interval.
"""

from __future__ import annotations

import logging
import random
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from celery import shared_task
from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.urls import reverse
from django.utils import timezone

from bookings import services as booking_services
from bookings.blocks import replace_channel_blocks
from bookings.errors import BookingError
from core import metrics, outbox
from core.models import OutboxEvent
from guests.services import GuestInput
from properties.models import Property
from properties.pricing import local_today

from . import ari, limits
from .adapters import ADAPTERS, AdapterError, adapter_for
from .adapters.base import RemoteReservation
from .alerts import alert_owner_of_breaker
from .models import AriChange, BreakerState, ChannelConnection, ConnectionStatus, InboundMessage, Platform, Transport
from .reconcile import record_overbooking, resolve_gone

log = logging.getLogger(__name__)

BOOKING_TOPICS = ("booking.created", "booking.updated", "booking.cancelled")


# --- outbound: from the outbox to the queue -------------------------------------------------------------------


def api_connections(property_id):
    return ChannelConnection.objects.filter(property_id=property_id, sync_enabled=True).exclude(
        transport=Transport.ICAL)


@outbox.consumer("channel_api", topics=(*BOOKING_TOPICS, "availability.updated", "pricing.updated"))
def on_event(event: OutboxEvent) -> None:
    """Queue the nights an event may have changed for every API connection of its property (idempotent: a
    redelivered event queues the same nights again, which the push merges)."""
    if outbox.is_backfill():
        return  # history: the full sync of a new connection covers it
    payload = event.payload
    connections = list(api_connections(payload.get("property_id")))
    if not connections:
        return
    ranges, kinds = _changed_nights(event)
    # Stamped with the event's time: the push observes sync_latency_seconds from it (docs/operations.md).
    rows = [AriChange(connection=c, start=start, end=end, kinds=kinds, created_at=event.created_at)
            for c in connections for start, end in ranges]
    AriChange.objects.bulk_create(rows)
    for connection in connections:
        transaction.on_commit(lambda pk=connection.pk: queue_push(pk))


def _changed_nights(event: OutboxEvent) -> tuple[list[tuple[date, date]], int]:
    payload = event.payload
    if event.topic == "pricing.updated":  # prices, stay rules or the property's status: every night ahead
        return [(date.min, date.max)], AriChange.ALL
    if event.topic == "availability.updated":
        return [(date.fromisoformat(payload["start"]), date.fromisoformat(payload["end"]))], AriChange.AVAILABILITY
    # A booking closes or frees its nights and the buffer days around them; a moved one its old nights too.
    buffer = timedelta(days=Property.objects.filter(pk=payload["property_id"]).values_list(
        "buffer_days", flat=True).first() or 0)
    ranges = []
    for prefix in ("", "previous_"):
        if payload.get(f"{prefix}check_in"):
            ranges.append((date.fromisoformat(payload[f"{prefix}check_in"]) - buffer,
                           date.fromisoformat(payload[f"{prefix}check_out"]) + buffer))
    return ranges, AriChange.AVAILABILITY


def queue_push(connection_id, countdown: float | None = None) -> None:
    """Queue a push in ``countdown`` seconds (default: the coalescing window). Eager Celery (tests, a set-up
    without a worker) cannot wait: a push delayed beyond the window (a retry, room in a limit) is left to the
    sweeper (:func:`push_due`) there instead of running at once, again and again."""
    countdown = settings.CHANNEL_ARI_COALESCE_SECONDS if countdown is None else countdown
    if settings.CELERY_TASK_ALWAYS_EAGER and countdown > settings.CHANNEL_ARI_COALESCE_SECONDS:
        return
    try:
        push_connection_task.apply_async(args=[connection_id], countdown=countdown)
    except Exception:  # the broker being down must not fail the caller: the sweeper pushes later
        log.warning("Could not queue the push of connection %s; the sweeper will", connection_id, exc_info=True)


def request_full_sync(connection: ChannelConnection, *, now: datetime | None = None) -> None:
    """Push every night of the platform's horizon (a new or re-enabled connection, the owner's button, the daily
    reconciliation's repair). Queued: never run in the web request."""
    now = now or timezone.now()
    with transaction.atomic():
        AriChange.objects.create(connection=connection, start=date.min, end=date.max, kinds=AriChange.ALL)
        ChannelConnection.objects.filter(pk=connection.pk).update(full_sync_requested_at=now)
        transaction.on_commit(lambda: queue_push(connection.pk, countdown=0))


def activate_connection(connection_id) -> str:
    """A connection just made or re-mapped (``channels.services.connect_api``): register the webhook with the
    connection's secret, push a full sync, pull what is waiting. Runs in a task, after the commit."""
    connection = ChannelConnection.objects.select_related("property").filter(pk=connection_id).first()
    if connection is None or not connection.is_api:
        return "skipped"
    adapter = adapter_for(connection)
    if adapter.pushes_reservations:
        if not connection.inbound_token:  # a connection made without connect_api (a data migration, a shell)
            connection.rotate_inbound_token()
            connection.save(update_fields=["inbound_token", "inbound_token_digest", "updated_at"])
        callback = settings.SITE_URL + reverse("channel-webhook", args=[connection.transport])
        try:
            adapter.register_webhook(connection, callback, connection.inbound_token)
        except AdapterError as exc:  # the beat's pulls still bring every reservation, only later
            log.warning("Webhook registration for connection %s failed: %s", connection.pk, exc)
            ChannelConnection.objects.filter(pk=connection.pk).update(
                last_error=f"Webhook not registered (reservations arrive by polling): {exc}"[:2000])
    request_full_sync(connection)
    if adapter.pushes_reservations:
        queue_pull(connection.pk)
    return "activated"


def queue_activation(connection_id) -> None:
    try:
        activate_connection_task.delay(connection_id)
    except Exception:
        log.warning("Could not queue the activation of connection %s", connection_id, exc_info=True)


# --- outbound: the push ---------------------------------------------------------------------------------------


@dataclass
class PushOutcome:
    status: str  # pushed | nothing | busy | waiting | breaker_open | failed
    requests: int = 0
    nights: int = 0
    warnings: tuple[str, ...] = ()
    retry_in: float | None = None


def _claim(connection_id, now: datetime) -> ChannelConnection | None:
    lease = now + timedelta(seconds=settings.CHANNEL_PUSH_LEASE_SECONDS)
    claimed = ChannelConnection.objects.filter(
        Q(push_lease_until__isnull=True) | Q(push_lease_until__lt=now), pk=connection_id, sync_enabled=True,
    ).exclude(transport=Transport.ICAL).update(push_lease_until=lease)
    return ChannelConnection.objects.select_related("property").get(pk=connection_id) if claimed else None


def _release(connection: ChannelConnection, **fields) -> None:
    ChannelConnection.objects.filter(pk=connection.pk).update(push_lease_until=None, **fields)


def push_connection(connection_id, *, at: datetime | None = None) -> PushOutcome:
    """Push a connection's pending changes (see the module docstring). Never raises for a platform's failure."""
    now = at or timezone.now()
    connection = _claim(connection_id, now)
    if connection is None:
        return PushOutcome("busy")
    if connection.push_retry_at and connection.push_retry_at > now:
        _release(connection)
        return PushOutcome("waiting", retry_in=(connection.push_retry_at - now).total_seconds())
    if connection.breaker_state == BreakerState.OPEN:
        reopen_at = connection.breaker_opened_at + timedelta(seconds=settings.CHANNEL_BREAKER_COOLDOWN_SECONDS)
        if reopen_at > now:
            _release(connection)
            return PushOutcome("breaker_open", retry_in=(reopen_at - now).total_seconds())
        connection.breaker_state = BreakerState.HALF_OPEN  # one probe
    try:
        adapter = adapter_for(connection)
        rows = list(AriChange.objects.filter(connection=connection).values_list(
            "pk", "start", "end", "kinds", "created_at"))
        if not rows:
            _release(connection)
            return PushOutcome("nothing")
        today = local_today(connection.property, now)
        horizon = today + timedelta(days=adapter.horizon_days)
        outcome = PushOutcome("pushed")
        for kind in (AriChange.AVAILABILITY, AriChange.RESTRICTIONS):
            read = [pk for pk, _s, _e, kinds, _c in rows if kinds & kind]
            if not read:
                continue
            ranges = ari.merge_ranges([(max(s, today), min(e, horizon)) for _pk, s, e, kinds, _c in rows
                                       if kinds & kind and max(s, today) < min(e, horizon)])
            if ranges and kind & adapter.kinds:
                wait = limits.acquire(adapter.limits(connection, kind))
                if wait > 0:
                    _release(connection)
                    queue_push(connection.pk, countdown=wait)
                    return PushOutcome("waiting", requests=outcome.requests, retry_in=wait)
                result = _send(adapter, connection, kind, ranges, now)
                outcome.requests += result[0]
                outcome.nights += result[1]
                outcome.warnings += tuple(result[2])
            _done(read, kind)
    except AdapterError as exc:
        return _failed(connection, exc, now)
    full = {"last_full_sync_at": now} if any(start == date.min for _pk, start, _e, _k, _c in rows) else {}
    _release(connection, push_failures=0, push_retry_at=None, breaker_state=BreakerState.CLOSED,
             breaker_opened_at=None, last_push_at=now, status=ConnectionStatus.WARNING if outcome.warnings
             else ConnectionStatus.OK, last_error="; ".join(outcome.warnings)[:2000], **full)
    _observe_delivered(connection, [created for *_row, created in rows], outcome.status)
    return outcome


def _observe_delivered(connection: ChannelConnection, changed_at: list[datetime], status: str) -> None:
    """sync_latency_seconds: each change the platform has now taken, from its event to now (docs/operations.md)."""
    platform = metrics.bounded(connection.platform, Platform.values)
    delivered = timezone.now()
    for moment in changed_at:
        metrics.SYNC_LATENCY.labels(platform=platform).observe(max(0.0, (delivered - moment).total_seconds()))
    metrics.CHANNEL_PUSHES.labels(platform=platform, outcome=status).inc()


def _send(adapter, connection, kind: int, ranges, now: datetime) -> tuple[int, int, list[str]]:
    prop = connection.property
    if kind == AriChange.AVAILABILITY:
        nights_a: dict[date, ari.NightAvailability] = {}
        for start, end in ranges:
            nights_a.update(ari.availability(prop, start, end, at=now))
        result = adapter.push_availability(connection, ari.runs(nights_a))
        return result.requests, len(nights_a), result.warnings
    nights_r: dict[date, ari.NightRestrictions] = {}
    for start, end in ranges:
        nights_r.update(ari.restrictions(prop, start, end, at=now))
    result = adapter.push_restrictions(connection, ari.runs(nights_r))
    return result.requests, len(nights_r), result.warnings


def _done(pks: list[int], kind: int) -> None:
    """The platform has taken ``kind`` for these rows: clear that bit, delete the rows with nothing left."""
    with transaction.atomic():
        AriChange.objects.filter(pk__in=pks).update(kinds=F("kinds").bitand(~kind & AriChange.ALL))
        AriChange.objects.filter(pk__in=pks, kinds=0).delete()


def backoff_seconds(failures: int) -> float:
    """Exponential from 2 s with full jitter, capped (``CHANNEL_PUSH_BACKOFF_MAX_SECONDS``)."""
    ceiling = min(settings.CHANNEL_PUSH_BACKOFF_MAX_SECONDS, 2 ** min(failures, 20))
    return random.uniform(ceiling / 2, ceiling)  # noqa: S311 - jitter, not a secret


def _failed(connection: ChannelConnection, exc: AdapterError, now: datetime) -> PushOutcome:
    failures = connection.push_failures + 1
    wait = max(backoff_seconds(failures), exc.retry_after or 0)
    opens = (not exc.retryable or failures >= settings.CHANNEL_BREAKER_THRESHOLD
             or connection.breaker_state == BreakerState.HALF_OPEN)
    fields = {"push_failures": failures, "push_retry_at": now + timedelta(seconds=wait),
              "last_error": str(exc)[:2000], "status": ConnectionStatus.FAILING if opens else ConnectionStatus.WARNING}
    if opens:
        wait = max(wait, settings.CHANNEL_BREAKER_COOLDOWN_SECONDS)
        fields.update(breaker_state=BreakerState.OPEN, breaker_opened_at=now,
                      push_retry_at=now + timedelta(seconds=wait))
    was_closed = connection.breaker_state != BreakerState.OPEN and connection.breaker_state != BreakerState.HALF_OPEN
    _release(connection, **fields)
    log.warning("Push to connection %s failed (%s); retry in %.0f s%s", connection.pk, exc.code, wait,
                "; breaker open" if opens else "")
    if opens and was_closed:
        connection.last_error, connection.breaker_opened_at = str(exc), now
        alert_owner_of_breaker(connection)
    queue_push(connection.pk, countdown=wait)
    status = "breaker_open" if opens else "failed"
    metrics.CHANNEL_PUSHES.labels(platform=metrics.bounded(connection.platform, Platform.values), outcome=status).inc()
    return PushOutcome(status, retry_in=wait)


def push_due(*, at: datetime | None = None, limit: int = 500) -> int:
    """The sweeper (beat): queue a push for every API connection with pending changes that may push now (a lost
    task, a retry whose time has come, a breaker whose cool-down is over)."""
    now = at or timezone.now()
    ids = list(ChannelConnection.objects.filter(
        Q(push_retry_at__isnull=True) | Q(push_retry_at__lte=now),
        Q(push_lease_until__isnull=True) | Q(push_lease_until__lt=now),
        sync_enabled=True, ari_changes__isnull=False,
    ).exclude(transport=Transport.ICAL).values_list("pk", flat=True).distinct()[:limit])
    for pk in ids:
        queue_push(pk, countdown=0)
    return len(ids)


# --- reconciliation -----------------------------------------------------------------------------------------------


@dataclass
class ReconcileOutcome:
    status: str  # compared | resent | failed | skipped
    closed_there: int = 0  # nights open here but closed on the platform: closed here too (a channel block)
    open_there: int = 0  # nights closed here but open on the platform: pushed again
    recovered: int = 0  # reservations (or versions of them) the feed never delivered, applied from the listing
    error: str = ""


def reconcile_connection(connection_id, *, at: datetime | None = None) -> ReconcileOutcome:
    """The daily comparison (seed 001 §6.3): read what the platform shows for the horizon, compare it with what we
    show, and repair every mismatch toward the more restrictive state, reporting each:

    * closed there, open here (a night sold or closed on the platform that never reached us): the night closes
      here (search, checkout, the other API connections' pushes) as this connection's channel block, until the
      platform opens it again (the next comparison removes the block). Like every channel block it is not
      exported in the iCal feeds (README, "What a platform sold"), so that feeds never echo platforms' blocks;
    * open there, closed here (a push that was lost or overwritten there): the night is pushed again.

    A platform whose availability cannot be read back (no such API) gets its whole horizon pushed again instead,
    which repairs any drift in the same direction. First, reservations the platform's queue never delivered are
    recovered from its listing (``Adapter.recover_reservations``; Channex's bookings list), applied like any
    message: once per version, in order. Network calls happen outside any transaction."""
    now = at or timezone.now()
    connection = (ChannelConnection.objects.select_related("property")
                  .filter(pk=connection_id, sync_enabled=True).exclude(transport=Transport.ICAL).first())
    if connection is None:
        return ReconcileOutcome("skipped")
    adapter = adapter_for(connection)
    today = local_today(connection.property, now)
    end = today + timedelta(days=adapter.horizon_days)
    try:
        recovered = [apply_reservation(connection, message, at=now)
                     for message in adapter.recover_reservations(connection, today)]
        remote = adapter.read_availability(connection, today, end)
    except AdapterError as exc:
        log.warning("Reconciliation of connection %s could not read the platform: %s", connection.pk, exc)
        return ReconcileOutcome("failed", error=str(exc))
    applied = sum(result in ("created", "changed", "cancelled") for result in recovered)
    if applied:
        log.warning("Reconciliation of connection %s applied %s reservation message(s) the feed never delivered",
                    connection.pk, applied)
    if remote is None:
        request_full_sync(connection, now=now)
        ChannelConnection.objects.filter(pk=connection.pk).update(last_reconciled_at=now)
        return ReconcileOutcome("resent", recovered=applied)
    own_blocks = [(b.start_date, b.end_date) for b in connection.channel_blocks]
    ours = ari.availability(connection.property, today, end, at=now)
    closed_there, open_there, keep_closed = [], [], []
    for day, night in ours.items():
        there = remote.get(day, 0)
        own = any(start <= day < stop for start, stop in own_blocks)
        if there == 0 and (night.available or own):
            (keep_closed if own else closed_there).append(day)
        elif there > 0 and not night.available and not own:
            open_there.append(day)
    nights = sorted(closed_there + keep_closed)
    blocks = [(run.first, run.last + timedelta(days=1), False, "Closed on the platform (reconciliation)")
              for run in ari.runs(dict.fromkeys(nights, True))]
    with transaction.atomic():
        replace_channel_blocks(connection=connection, blocks=blocks)
        for run in ari.runs(dict.fromkeys(open_there, True)):
            AriChange.objects.create(connection=connection, start=run.first, end=run.last + timedelta(days=1),
                                     kinds=AriChange.AVAILABILITY)
        ChannelConnection.objects.filter(pk=connection.pk).update(last_reconciled_at=now)
    report = (f"{len(closed_there)} night(s) closed on the platform only ({_nights_text(closed_there)}), "
              f"{len(open_there)} open there only ({_nights_text(open_there)}); repaired") if (
        closed_there or open_there) else "no difference"
    ChannelConnection.objects.filter(pk=connection.pk).update(
        last_counts={**(connection.last_counts or {}), "reconciliation": report[:1000]})
    if closed_there or open_there:
        log.warning("Reconciliation of connection %s: %s", connection.pk, report)
        if open_there:
            queue_push(connection.pk, countdown=0)
    return ReconcileOutcome("compared", closed_there=len(closed_there), open_there=len(open_there), recovered=applied)


def _nights_text(nights: list[date]) -> str:
    """Each mismatch, as ranges of nights ("2027-01-05..2027-01-07, 2027-02-01"), for the log and the owner."""
    parts = [f"{r.first}..{r.last}" if r.first != r.last else str(r.first)
             for r in ari.runs(dict.fromkeys(nights, True))]
    return ", ".join(parts) or "none"


def reconcile_all() -> int:
    """The daily beat job: queue a reconciliation of every API connection."""
    ids = list(ChannelConnection.objects.filter(sync_enabled=True).exclude(transport=Transport.ICAL)
               .values_list("pk", flat=True))
    for pk in ids:
        try:
            reconcile_connection_task.delay(pk)
        except Exception:
            log.warning("Could not queue the reconciliation of connection %s", pk, exc_info=True)
    return len(ids)


# --- inbound ----------------------------------------------------------------------------------------------------


@dataclass
class PullOutcome:
    status: str  # pulled | failed | skipped
    received: int = 0
    applied: int = 0
    error: str = ""


def pull_connection(connection_id, *, at: datetime | None = None) -> PullOutcome:
    """Read the platform's unacknowledged reservations, apply each, acknowledge it after its commit."""
    now = at or timezone.now()
    connection = (ChannelConnection.objects.select_related("property")
                  .filter(pk=connection_id, sync_enabled=True).exclude(transport=Transport.ICAL).first())
    if connection is None:
        return PullOutcome("skipped")
    adapter = adapter_for(connection)
    if not adapter.pushes_reservations:
        return PullOutcome("skipped")
    try:
        messages = adapter.pull_reservations(connection)
    except AdapterError as exc:
        ChannelConnection.objects.filter(pk=connection.pk).update(last_error=str(exc)[:2000])
        log.warning("Pull of connection %s failed: %s", connection.pk, exc)
        return PullOutcome("failed", error=str(exc))
    outcome = PullOutcome("pulled", received=len(messages))
    for message in sorted(messages, key=lambda m: (m.revision_at or now, m.message_id)):
        result = apply_reservation(connection, message, at=now)
        outcome.applied += result in ("created", "changed", "cancelled")
        try:
            adapter.acknowledge(connection, message.message_id)
        except AdapterError as exc:  # acknowledged at the next pull: the message is recorded, applying is a no-op
            log.warning("Acknowledging %s on connection %s failed: %s", message.message_id, connection.pk, exc)
            continue
        InboundMessage.objects.filter(connection=connection, message_id=message.message_id,
                                      acknowledged_at__isnull=True).update(acknowledged_at=timezone.now())
    ChannelConnection.objects.filter(pk=connection.pk).update(last_pull_at=now)
    return outcome


def apply_reservation(connection: ChannelConnection, message: RemoteReservation, *,
                      at: datetime | None = None) -> str:
    """Apply one reservation message once, in the platform's order. Returns what happened (the message's
    ``outcome``): created, changed, cancelled, unchanged, duplicate, superseded, other_property, not_found."""
    now = at or timezone.now()
    with transaction.atomic():
        try:
            with transaction.atomic():
                record = InboundMessage.objects.create(
                    connection=connection, message_id=message.message_id, kind=message.kind,
                    remote_booking_id=message.remote_booking_id, revision_at=message.revision_at, received_at=now)
        except IntegrityError:
            return "duplicate"
        record.outcome = _apply(connection, message, record, now)
        record.save(update_fields=["outcome", "booking"])
        return record.outcome


def _apply(connection: ChannelConnection, message: RemoteReservation, record: InboundMessage, now: datetime) -> str:
    if message.remote_property_id and message.remote_property_id != connection.remote_property_id:
        return "other_property"
    booking_services.lock_property(connection.property_id)  # orders the messages of this property
    if message.revision_at is not None and InboundMessage.objects.filter(
            connection=connection, remote_booking_id=message.remote_booking_id,
            revision_at__gt=message.revision_at).exclude(pk=record.pk).exists():
        return "superseded"  # a newer version of this reservation was applied already
    guest = GuestInput(name=message.guest_name or f"{connection.get_platform_display()} guest",
                       email=message.guest_email, phone=message.guest_phone)
    try:
        result = booking_services.import_external(
            property_id=connection.property_id, source=message.source, external_id=message.remote_booking_id,
            check_in=message.check_in, check_out=message.check_out, guest=guest, adults=max(1, message.adults),
            children=max(0, message.children), cancelled=message.kind == "cancelled",
            platform_total=message.total if message.currency == connection.property.currency else None,
            language=message.language, at=now)
    except BookingError:
        if message.kind == "cancelled":
            return "not_found"  # a cancellation of a reservation never recorded here
        raise
    record.booking = result.booking
    if result.collides:
        record_overbooking(connection, uid=message.remote_booking_id, outcome=result, now=now,
                           summary=f"{result.booking.get_source_display()} reservation {message.remote_booking_id}",
                           description=f"Received through {connection.get_transport_display()}.")
    else:
        for conflict in connection.conflicts.filter(uid=message.remote_booking_id, resolved_at__isnull=True):
            resolve_gone(conflict, now)
    return result.action


def record_platform_error(connection_id, payload: dict) -> None:
    """The platform reports that it could not pass our data on (Channex's ``sync_error``: one of the channels it
    serves refused an update): the connection shows it to the owner (status warning, the reason in plain words)."""
    channel = str(payload.get("channel_name") or payload.get("channel") or "one of its channels")[:100]
    kind = str(payload.get("error_type") or "an error")[:100]
    ChannelConnection.objects.filter(pk=connection_id).update(
        status=ConnectionStatus.WARNING,
        last_error=f"The platform could not update {channel} ({kind}); check the channel there.")
    log.warning("Connection %s: the platform reports a sync error with %s (%s)", connection_id, channel, kind)


def pull_due(*, at: datetime | None = None) -> int:
    """The beat job (every 20 s): queue a pull of every API connection whose adapter's ``pull_interval_seconds``
    has passed since its last pull (the safety net for lost webhooks, and the pace of polled platforms)."""
    now = at or timezone.now()
    due = []
    for pk, transport, last in (ChannelConnection.objects.filter(sync_enabled=True).exclude(transport=Transport.ICAL)
                                .values_list("pk", "transport", "last_pull_at")):
        adapter = ADAPTERS.get(transport)
        if adapter is None:
            continue
        interval = timedelta(seconds=adapter.pull_interval_seconds - 5)  # the beat's own jitter
        if adapter.pushes_reservations and (last is None or now - last >= interval):
            due.append(pk)
    for pk in due:
        queue_pull(pk)
    return len(due)


def queue_pull(connection_id) -> None:
    try:
        pull_connection_task.delay(connection_id)
    except Exception:  # the beat job pulls later
        log.warning("Could not queue the pull of connection %s", connection_id, exc_info=True)


# --- the queued forms (defined here, beside what they run: this module never imports channels.tasks) -----------


@shared_task(name="channels.tasks.push_connection", acks_late=True)
def push_connection_task(connection_id: int) -> str:
    return push_connection(connection_id).status


@shared_task(name="channels.tasks.reconcile_connection", acks_late=True)
def reconcile_connection_task(connection_id: int) -> str:
    return reconcile_connection(connection_id).status


@shared_task(name="channels.tasks.activate_connection", acks_late=True)
def activate_connection_task(connection_id: int) -> str:
    return activate_connection(connection_id)


@shared_task(name="channels.tasks.pull_connection", acks_late=True)
def pull_connection_task(connection_id: int) -> str:
    return pull_connection(connection_id).status
