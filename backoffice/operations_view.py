"""The operations page (``/admin/operations/``): is everything in sync, is anything stuck (docs/operations.md).

For the people who run the installation (superusers): it reads every owner's data. The numbers at the top are
``backoffice.operations.snapshot``, the same reads as the ``/metrics`` gauges; the lists below them say which rows.
"""

from __future__ import annotations

from datetime import timedelta

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.template.response import TemplateResponse

from core import liveness

from . import operations


def operations_view(request):
    if not (request.user.is_active and request.user.is_superuser):
        raise PermissionDenied("The operations page is for the installation's administrators.")
    snap = operations.snapshot()
    context = {
        **admin.site.each_context(request),
        "title": "Operations",
        "snap": snap,
        "live_holds": sum(snap.live_holds.values()),
        "connections_by_health": _by_health(snap.connections),
        "open_breakers": sum(snap.open_breakers.values()),
        "holds_expired_last_day": operations.holds_expired_since(snap.now - timedelta(days=1)),
        "lagging": operations.lagging_connections(snap.now),
        "failing": operations.failing_connections(),
        "stuck_card": operations.stuck_card_payments(snap.now),
        "awaiting_manual": operations.oldest_awaiting_manual(),
        "heartbeats": liveness.last_seen(),
        "task_failures_total": sum(snap.task_failures.values()),
    }
    return TemplateResponse(request, "admin/operations.html", context)


def _by_health(connections: dict[tuple[str, str], int]) -> dict[str, int]:
    health: dict[str, int] = {}
    for (_platform, status), n in connections.items():
        health[status] = health.get(status, 0) + n
    return dict(sorted(health.items()))
