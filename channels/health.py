"""Which channel connections need the owner's attention, as queries (the dashboard and the admin filter), and
how an API connection is doing (:func:`api_health`: queue depth, lag, breaker, last push and pull, in words).

A connection needs attention when its last run failed or warned, or when it is
*stale*: syncing is on, it has an import URL, and it has not succeeded for three
poll intervals (``ChannelConnection.is_stale`` says the same for one row; here
a list of them costs one narrow query). Paused connections
(``sync_enabled`` off) are the owner's choice, not a problem.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import Count, F, Min, Q
from django.utils import timezone

from core.tenancy import scope_to_user

from .models import AriChange, BreakerState, ChannelConnection, ConnectionStatus, InboundMessage, SyncConflict

STALE_INTERVALS = 3
PROBLEM_STATUSES = (ConnectionStatus.FAILING, ConnectionStatus.WARNING)


def stale_ids(queryset, now=None) -> list[int]:
    """Ids of the connections in ``queryset`` with sync on and an import URL whose last success (or creation)
    is 3 poll intervals old (``ChannelConnection.is_stale``).

    Read as four columns and compared in Python, in one query: "interval × 3 minutes" is integer-times-duration
    arithmetic, which SQLite (the default database of ``make run``) cannot do in SQL."""
    now = now or timezone.now()
    rows = (queryset.filter(sync_enabled=True).exclude(import_url="").order_by()
            .values_list("pk", "last_success_at", "created_at", "poll_interval_minutes"))
    return [pk for pk, last_success, created, interval in rows
            if now - (last_success or created) > timedelta(minutes=STALE_INTERVALS * interval)]


def stale(queryset, now=None):
    """``queryset`` narrowed to its stale connections."""
    return queryset.filter(pk__in=stale_ids(queryset, now))


def needing_attention(queryset, now=None):
    """``queryset`` narrowed to connections that failed or warned (and are not paused), or went stale."""
    return queryset.filter((Q(sync_enabled=True) & Q(status__in=PROBLEM_STATUSES)) | Q(pk__in=stale_ids(queryset, now)))


def problem_connections(user, now=None):
    """Connections of ``user``'s properties that failed, warned or went stale (never synced first, then oldest)."""
    queryset = scope_to_user(ChannelConnection.objects.all(), user, "property")
    return needing_attention(queryset, now).order_by(F("last_success_at").asc(nulls_first=True), "pk")


def open_conflicts(user):
    """Unresolved conflicts of ``user``'s properties, newest first."""
    return (scope_to_user(SyncConflict.objects.all(), user, "property")
            .filter(resolved_at__isnull=True).order_by("-detected_at", "-pk"))


# --- API connections --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ApiHealth:
    """How an API connection is doing, as the owner reads it (the connection's page)."""

    pending_changes: int  # queued AriChange rows not yet taken by the platform
    oldest_pending: datetime | None
    last_push_at: datetime | None
    last_pull_at: datetime | None
    breaker_state: str
    retry_at: datetime | None
    last_error: str
    received_24h: int  # reservation messages received in the last 24 hours
    unacknowledged: int  # received, applied, not yet acknowledged to the platform
    last_reconciled_at: datetime | None = None
    reconciliation: str = ""  # what the last daily comparison found ("no difference", or each mismatch)

    def lag_seconds(self, now: datetime) -> float:
        """How long the oldest queued change has been waiting (0 when nothing waits)."""
        return (now - self.oldest_pending).total_seconds() if self.oldest_pending else 0.0

    def sentences(self, now: datetime) -> list[str]:
        """The same, in plain words."""
        out = []
        if self.breaker_state == BreakerState.OPEN:
            out.append("Updates are paused after repeated failures; the next try is "
                       f"{_when(self.retry_at, now)}. Every change is kept and sent then.")
        if self.pending_changes:
            out.append(f"{self.pending_changes} change{'s' if self.pending_changes != 1 else ''} waiting to be sent, "
                       f"the oldest for {_duration(self.lag_seconds(now))}.")
        else:
            out.append("Everything is sent: the platform shows what Stayhold shows.")
        out.append(f"Last update sent {_when(self.last_push_at, now)}; reservations last checked "
                   f"{_when(self.last_pull_at, now)}; {self.received_24h} received in the last 24 hours"
                   + (f", {self.unacknowledged} not yet confirmed to the platform." if self.unacknowledged else "."))
        if self.last_reconciled_at:
            out.append(f"Last comparison with the platform's calendar {_when(self.last_reconciled_at, now)}: "
                       f"{self.reconciliation or 'no difference'}.")
        return out


def api_health(connection: ChannelConnection, now: datetime | None = None) -> ApiHealth:
    """Two queries: the queue and the inbound messages."""
    now = now or timezone.now()
    queue = AriChange.objects.filter(connection=connection).aggregate(n=Count("pk"), oldest=Min("created_at"))
    inbound = InboundMessage.objects.filter(connection=connection).aggregate(
        received=Count("pk", filter=Q(received_at__gte=now - timedelta(hours=24))),
        unacknowledged=Count("pk", filter=Q(acknowledged_at__isnull=True)))
    return ApiHealth(
        pending_changes=queue["n"], oldest_pending=queue["oldest"], last_push_at=connection.last_push_at,
        last_pull_at=connection.last_pull_at, breaker_state=connection.breaker_state,
        retry_at=connection.push_retry_at, last_error=connection.last_error, received_24h=inbound["received"],
        unacknowledged=inbound["unacknowledged"], last_reconciled_at=connection.last_reconciled_at,
        reconciliation=(connection.last_counts or {}).get("reconciliation", ""))


def _duration(seconds: float) -> str:
    if seconds < 90:
        return f"{int(seconds)} s"
    if seconds < 5400:
        return f"{int(seconds // 60)} min"
    return f"{seconds / 3600:.1f} h"


def _when(moment: datetime | None, now: datetime) -> str:
    if moment is None:
        return "never"
    delta = (moment - now).total_seconds()
    return f"in {_duration(delta)}" if delta > 0 else f"{_duration(-delta)} ago"
