"""Celery tasks of the outbox: deliver one event after its commit, and the sweeper (beat, every minute)."""

from celery import shared_task


@shared_task(acks_late=True, autoretry_for=(Exception,), retry_backoff=True, max_retries=5)
def deliver_outbox_event(event_id: str) -> bool:
    from .outbox import deliver

    return deliver(event_id)


@shared_task(acks_late=True)
def redeliver_outbox() -> int:
    from .outbox import redeliver_pending

    return redeliver_pending()
