"""The operations numbers: one set of reads for the ``/metrics`` gauges and the operations page (docs/operations.md).

:func:`snapshot` is what Prometheus scrapes (``config.metrics.OperationsCollector``) and what the top of the
operations page shows, so both always say the same thing. It is cheap by construction: six aggregate queries
(each answered from an index or a small table: the undelivered outbox events, live holds, claimed manual payments,
open card payments, the connections, the pending channel changes) and one cache read; a test counts them.
The page adds a few lists (:func:`lagging_connections`, :func:`failing_connections`, :func:`holds_expired_since`)
that only the page reads.

System-wide, across every owner: the page is for the people who run the installation (superusers).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from celery import current_app
from django.conf import settings
from django.db.models import Count, Min, Q
from django.utils import timezone

from bookings.models import EXPIRING_STATUSES, Booking, BookingStatus
from channels.models import AriChange, BreakerState, ChannelConnection, ConnectionStatus, Transport
from core import liveness
from core.models import OutboxEvent
from payments.models import OPEN_STATUSES, ManualPayment, ManualStatus, Payment

# Manual payments waiting for someone to check the bank account: the guest says the money was sent.
AWAITING_VERIFICATION = (ManualStatus.CLAIMED, ManualStatus.FLAGGED)


def duration_text(seconds: float | None) -> str:
    """A page's way of writing an age: "—", "45 s", "12 min", "3 h 5 min", "2 d 4 h"."""
    if seconds is None:
        return "—"
    seconds = int(seconds)
    if seconds < 60:
        return f"{seconds} s"
    minutes, hours, days = seconds // 60, seconds // 3600, seconds // 86400
    if hours < 1:
        return f"{minutes} min"
    if days < 1:
        return f"{hours} h {minutes % 60} min"
    return f"{days} d {hours % 24} h"


def _age(now: datetime, moment: datetime | None) -> float | None:
    return None if moment is None else max(0.0, (now - moment).total_seconds())


@dataclass(frozen=True)
class Snapshot:
    """The operations numbers at ``now``. Ages in seconds, ``None`` when there is nothing to be old."""

    now: datetime
    outbox_backlog: int
    outbox_oldest_age: float | None
    live_holds: dict[str, int]  # by status: held, reserved (still occupying, time not run out)
    manual_awaiting: int
    manual_oldest_age: float | None
    stuck_card_payments: int  # pending or requiring action for longer than OPS_PAYMENT_STUCK_AFTER_MINUTES
    stuck_card_oldest_age: float | None
    connections: dict[tuple[str, str], int]  # (platform, status) → connections
    open_breakers: dict[str, int]  # platform → API connections whose breaker is open
    sync_lag: dict[tuple[str, str], float]  # (platform, kind) → the worst lag, kind "ical" or "api"
    task_failures: dict[str, int] = field(default_factory=dict)  # task → failures in the last 24 hours

    @property
    def outbox_oldest_text(self) -> str:
        return duration_text(self.outbox_oldest_age)

    @property
    def manual_oldest_text(self) -> str:
        return duration_text(self.manual_oldest_age)

    @property
    def stuck_card_oldest_text(self) -> str:
        return duration_text(self.stuck_card_oldest_age)

    @property
    def sync_lag_rows(self) -> list[tuple[str, str, str]]:
        return [(platform, kind, duration_text(seconds)) for (platform, kind), seconds in sorted(self.sync_lag.items())]

    @property
    def failing_connections(self) -> int:
        return sum(n for (_platform, status), n in self.connections.items() if status == ConnectionStatus.FAILING)


_tasks_imported: list[bool] = []


def registered_task_names() -> list[str]:
    """Every task of the project, as a worker knows them (the web process imports the apps' ``tasks`` modules
    only here: Celery's autodiscovery is lazy outside a worker)."""
    if not _tasks_imported:
        current_app.loader.import_default_modules()
        _tasks_imported.append(True)
    return sorted(name for name in current_app.tasks if not name.startswith("celery."))


def snapshot(now: datetime | None = None) -> Snapshot:
    now = now or timezone.now()
    outbox = OutboxEvent.objects.filter(delivered_at__isnull=True).aggregate(n=Count("pk"), oldest=Min("created_at"))
    holds = dict(Booking.objects.filter(status__in=EXPIRING_STATUSES, expires_at__gt=now).order_by()
                 .values_list("status").annotate(n=Count("pk")).values_list("status", "n"))
    manual = ManualPayment.objects.filter(status__in=AWAITING_VERIFICATION).aggregate(
        n=Count("pk"), oldest=Min("claimed_at"))
    stuck_before = now - timedelta(minutes=settings.OPS_PAYMENT_STUCK_AFTER_MINUTES)
    stuck = Payment.objects.filter(status__in=OPEN_STATUSES, created_at__lt=stuck_before).aggregate(
        n=Count("pk"), oldest=Min("created_at"))
    connections: dict[tuple[str, str], int] = {}
    breakers: dict[str, int] = {}
    lag: dict[tuple[str, str], float] = {}
    rows = (ChannelConnection.objects.order_by().values_list("platform", "status", "transport")
            .annotate(n=Count("pk"), open=Count("pk", filter=Q(breaker_state=BreakerState.OPEN)),
                      oldest_success=Min("last_success_at", filter=Q(sync_enabled=True, transport=Transport.ICAL)
                                         & ~Q(import_url=""))))
    for platform, status, _transport, n, open_breakers, oldest_success in rows:
        connections[(platform, status)] = connections.get((platform, status), 0) + n
        if open_breakers:
            breakers[platform] = breakers.get(platform, 0) + open_breakers
        age = _age(now, oldest_success)
        if age is not None:
            lag[(platform, "ical")] = max(lag.get((platform, "ical"), 0.0), age)
    pending = (AriChange.objects.filter(connection__sync_enabled=True).order_by().values_list("connection__platform")
               .annotate(oldest=Min("created_at")).values_list("connection__platform", "oldest"))
    for platform, oldest in pending:
        lag[(platform, "api")] = _age(now, oldest) or 0.0
    return Snapshot(
        now=now, outbox_backlog=outbox["n"], outbox_oldest_age=_age(now, outbox["oldest"]), live_holds=holds,
        manual_awaiting=manual["n"], manual_oldest_age=_age(now, manual["oldest"]),
        stuck_card_payments=stuck["n"], stuck_card_oldest_age=_age(now, stuck["oldest"]),
        connections=connections, open_breakers=breakers, sync_lag=lag,
        task_failures=liveness.task_failures_last_day(registered_task_names(), now),
    )


def outbox_backlog() -> int:
    """The readiness check's question (one indexed count)."""
    return OutboxEvent.objects.filter(delivered_at__isnull=True).count()


# --- what only the page shows -------------------------------------------------------------------------------


@dataclass(frozen=True)
class ConnectionLag:
    connection: ChannelConnection
    lag_seconds: float | None  # iCal: since the last successful import; API: the oldest change not yet pushed
    pending_changes: int

    @property
    def lag_text(self) -> str:
        return duration_text(self.lag_seconds)


def lagging_connections(now: datetime | None = None, limit: int = 25) -> list[ConnectionLag]:
    """The enabled connections furthest behind, worst first (two queries)."""
    now = now or timezone.now()
    rows = []
    ical = (ChannelConnection.objects.filter(sync_enabled=True, transport=Transport.ICAL).exclude(import_url="")
            .select_related("property").order_by("last_success_at")[:limit])
    for conn in ical:
        rows.append(ConnectionLag(conn, _age(now, conn.last_success_at or conn.created_at), 0))
    api = (ChannelConnection.objects.filter(sync_enabled=True, ari_changes__isnull=False)
           .annotate(oldest=Min("ari_changes__created_at"), pending=Count("ari_changes"))
           .select_related("property").order_by("oldest")[:limit])
    for conn in api:
        rows.append(ConnectionLag(conn, _age(now, conn.oldest), conn.pending))
    rows.sort(key=lambda row: -(row.lag_seconds or 0))
    return rows[:limit]


def failing_connections(limit: int = 50) -> list[ChannelConnection]:
    """Connections marked failing, or whose breaker is open (one query)."""
    failing = Q(status=ConnectionStatus.FAILING) | Q(breaker_state=BreakerState.OPEN)
    return list(ChannelConnection.objects.filter(failing).select_related("property")
                .order_by("-last_attempt_at")[:limit])


def holds_expired_since(since: datetime) -> int:
    """Holds and reservations marked expired since ``since`` (the page's "last 24 hours"; Prometheus:
    ``increase(bookings_expired_total[1d])``)."""
    return Booking.objects.filter(status=BookingStatus.EXPIRED, expired_at__gte=since).count()


def stuck_card_payments(now: datetime | None = None, limit: int = 25) -> list[Payment]:
    now = now or timezone.now()
    stuck_before = now - timedelta(minutes=settings.OPS_PAYMENT_STUCK_AFTER_MINUTES)
    return list(Payment.objects.filter(status__in=OPEN_STATUSES, created_at__lt=stuck_before)
                .select_related("booking").order_by("created_at")[:limit])


def oldest_awaiting_manual(limit: int = 25) -> list[ManualPayment]:
    return list(ManualPayment.objects.filter(status__in=AWAITING_VERIFICATION).select_related("booking", "method")
                .order_by("claimed_at")[:limit])


__all__ = ["AWAITING_VERIFICATION", "ConnectionLag", "Snapshot", "duration_text", "failing_connections",
           "holds_expired_since",
           "lagging_connections", "oldest_awaiting_manual", "outbox_backlog", "registered_task_names", "snapshot",
           "stuck_card_payments"]
