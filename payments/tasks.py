"""Celery tasks of payments: thin wrappers around ``payments.manual`` and ``payments.services``.

The provider calls that must not happen under a lock run here, queued after commit:
sending a requested refund (``execute_refund``; ``execute_due_refunds`` is its beat
sweeper) and cancelling open card attempts (``cancel_intents``)."""

from celery import shared_task
from django.utils import timezone


@shared_task(acks_late=True)
def remind_manual_payments() -> int:
    from .manual import send_reminders

    return send_reminders(at=timezone.now())


@shared_task(acks_late=True)
def expire_manual_payments() -> int:
    from .manual import expire_overdue

    return expire_overdue(at=timezone.now())


@shared_task(acks_late=True)
def execute_refund(refund_id: int) -> str:
    from .services import execute_refund as send

    row = send(refund_id)
    return row.status if row is not None else "skipped"


@shared_task(acks_late=True)
def execute_due_refunds() -> int:
    from .services import execute_due_refunds as sweep

    return sweep(at=timezone.now())


@shared_task(acks_late=True)
def cancel_intents(refs: list, actor_label: str) -> int:
    from .services import cancel_intents as cancel

    return cancel(refs, actor_label=actor_label)
