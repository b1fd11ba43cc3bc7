"""Celery beat jobs of manual payments: thin wrappers around ``payments.manual``."""

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
