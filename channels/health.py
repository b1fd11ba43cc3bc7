"""Which channel connections need the owner's attention, as queries (the dashboard and the admin filter).

A connection needs attention when its last run failed or warned, or when it is
*stale*: syncing is on, it has an import URL, and it has not succeeded for three
poll intervals (``ChannelConnection.is_stale`` says the same for one row; this
is its SQL form, so that a list of them costs one query). Paused connections
(``sync_enabled`` off) are the owner's choice, not a problem.
"""

from __future__ import annotations

from datetime import timedelta

from django.db.models import DateTimeField, ExpressionWrapper, F, Q, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from properties.tenancy import scope_to_user

from .models import ChannelConnection, ConnectionStatus, SyncConflict

STALE_INTERVALS = 3
PROBLEM_STATUSES = (ConnectionStatus.FAILING, ConnectionStatus.WARNING)


def with_stale_since(queryset):
    """Annotate ``stale_since`` (last success, or creation when it never succeeded): :func:`stale_q` needs it."""
    return queryset.annotate(stale_since=Coalesce("last_success_at", "created_at"))


def stale_q(now=None) -> Q:
    """Connections with sync on and an import URL whose last success (or creation) is 3 intervals old.

    Use on a queryset passed through :func:`with_stale_since`."""
    now = now or timezone.now()
    deadline = ExpressionWrapper(
        Value(now, output_field=DateTimeField())
        - F("poll_interval_minutes") * Value(timedelta(minutes=STALE_INTERVALS)),
        output_field=DateTimeField())
    return Q(sync_enabled=True) & ~Q(import_url="") & Q(stale_since__lt=deadline)


def problem_q(now=None) -> Q:
    """Failing or warning (and not paused), or stale. Needs :func:`with_stale_since`."""
    return (Q(sync_enabled=True) & Q(status__in=PROBLEM_STATUSES)) | stale_q(now)


def problem_connections(user, now=None):
    """Connections of ``user``'s properties that failed, warned or went stale (failing first, oldest first)."""
    queryset = with_stale_since(scope_to_user(ChannelConnection.objects.all(), user, "property"))
    return queryset.filter(problem_q(now)).order_by(
        F("last_success_at").asc(nulls_first=True), "pk")


def open_conflicts(user):
    """Unresolved conflicts of ``user``'s properties, newest first."""
    return (scope_to_user(SyncConflict.objects.all(), user, "property")
            .filter(resolved_at__isnull=True).order_by("-detected_at", "-pk"))
