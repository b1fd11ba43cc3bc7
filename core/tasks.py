"""Celery tasks of the outbox: the sweeper (beat, every minute) and, re-exported, the delivery of one event.

``deliver_outbox_event`` is defined in :mod:`core.outbox`, which queues it after commit: the dependency points one
way, tasks → outbox.
"""

from celery import shared_task

from .liveness import heartbeat
from .outbox import deliver_outbox_event, deliver_outbox_events, redeliver_pending

__all__ = ["deliver_outbox_event", "deliver_outbox_events", "heartbeat", "redeliver_outbox"]


@shared_task(acks_late=True)
def redeliver_outbox() -> int:
    return redeliver_pending()
