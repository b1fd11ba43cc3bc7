"""Which channel connections need the owner's attention, as queries (the dashboard and the admin filter).

A connection needs attention when its last run failed or warned, or when it is
*stale*: syncing is on, it has an import URL, and it has not succeeded for three
poll intervals (``ChannelConnection.is_stale`` says the same for one row; here
a list of them costs one narrow query). Paused connections
(``sync_enabled`` off) are the owner's choice, not a problem.
"""

from __future__ import annotations

from datetime import timedelta

from django.db.models import F, Q
from django.utils import timezone

from core.tenancy import scope_to_user

from .models import ChannelConnection, ConnectionStatus, SyncConflict

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
