"""Celery tasks of the channels: the iCal import (thin wrappers around ``channels.sync`` that never raise) and the
beat jobs of API connections (``channels.api_sync``, which defines the push and pull tasks it queues itself;
they are re-exported here under the names they run by).

``dispatch_due_syncs`` (beat, every minute) queues one ``sync_connection_task`` per
due connection, so a slow platform delays only its own connections; ``purge_sync_runs``
(beat, daily) keeps ``CHANNEL_SYNC_RUN_RETENTION_DAYS`` of run history. A failing feed
is recorded on its connection by ``sync_connection``; retrying the task would only
fetch it again before its interval, so there are no automatic retries.
"""

import logging
from datetime import timedelta

from celery import shared_task
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from .api_sync import pull_connection_task, push_connection_task

__all__ = ["dispatch_due_syncs", "pull_connection_task", "pull_due_reservations", "purge_sync_runs",
           "push_connection_task", "push_due_changes", "reconcile_api_connections", "sync_connection_task"]

logger = logging.getLogger(__name__)


@shared_task(acks_late=True)
def dispatch_due_syncs() -> int:
    """Queue a sync of every due connection; the number queued."""
    from .sync import due_connection_ids, lease_for_dispatch

    now = timezone.now()
    with transaction.atomic():
        ids = due_connection_ids(now)
        lease_for_dispatch(ids, now)
    for connection_id in ids:
        sync_connection_task.delay(connection_id)
    return len(ids)


@shared_task(acks_late=True)
def sync_connection_task(connection_id: int, trigger: str = "schedule") -> str | None:
    """Sync one connection; the run's outcome, or None when skipped. Never raises (errors are on the connection)."""
    from .sync import sync_connection

    try:
        run = sync_connection(connection_id, trigger=trigger)
    except Exception:  # noqa: BLE001 - e.g. the database went away: logged; the next dispatch tries again
        logger.exception("Sync of channel connection %s could not run", connection_id)
        return None
    return run.outcome if run is not None else None


@shared_task(acks_late=True)
def purge_sync_runs() -> int:
    """Delete sync runs older than CHANNEL_SYNC_RUN_RETENTION_DAYS; the number deleted."""
    return purge_old_runs(timezone.now())


def purge_old_runs(now) -> int:
    from .models import SyncRun

    cutoff = now - timedelta(days=settings.CHANNEL_SYNC_RUN_RETENTION_DAYS)
    deleted, _ = SyncRun.objects.filter(started_at__lt=cutoff).delete()
    return deleted


# --- API connections (channels.api_sync) -------------------------------------------------------------------------


@shared_task(acks_late=True)
def push_due_changes() -> int:
    """Beat (every 30 s): queue a push of every API connection with pending changes that may push now."""
    from .api_sync import push_due

    return push_due()


@shared_task(acks_late=True)
def pull_due_reservations() -> int:
    """Beat (every 20 s): queue a pull of every API connection that is due (``api_sync.pull_due``)."""
    from .api_sync import pull_due

    return pull_due()


@shared_task(acks_late=True)
def reconcile_api_connections() -> int:
    """Beat (daily): compare each API connection's calendar on the platform with ours and repair the drift."""
    from .api_sync import reconcile_all

    return reconcile_all()
