"""Celery tasks: thin, idempotent wrappers around the services, run by beat.

``send_email`` is defined in :mod:`bookings.notifications`, which queues it after commit, and re-exported here: the
dependency points one way, tasks → services and notifications.
"""

from celery import shared_task
from django.utils import timezone

from . import idempotency, notifications, services
from .notifications import send_email

__all__ = ["clean_idempotency_keys", "expire_stale_bookings", "send_email", "send_pending_emails",
           "send_pre_arrival_reminders"]


@shared_task(acks_late=True)
def expire_stale_bookings() -> int:
    return services.expire_stale_bookings(at=timezone.now())


@shared_task(acks_late=True)
def clean_idempotency_keys() -> int:
    return idempotency.delete_expired_keys()


@shared_task(acks_late=True)
def send_pending_emails() -> int:
    return notifications.send_pending()


@shared_task(acks_late=True)
def send_pre_arrival_reminders() -> int:
    return notifications.send_pre_arrival_reminders(at=timezone.now())
