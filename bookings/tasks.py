"""Celery tasks: thin, idempotent wrappers around the services."""

from celery import shared_task
from django.utils import timezone


@shared_task(acks_late=True)
def expire_stale_bookings() -> int:
    from .services import expire_stale_bookings as expire

    return expire(at=timezone.now())


@shared_task(acks_late=True)
def clean_idempotency_keys() -> int:
    from .idempotency import delete_expired_keys

    return delete_expired_keys()


@shared_task(acks_late=True, autoretry_for=(Exception,), retry_backoff=True, max_retries=5)
def send_email(sent_email_id: int) -> bool:
    from .notifications import send

    return send(sent_email_id)


@shared_task(acks_late=True)
def send_pending_emails() -> int:
    from .notifications import send_pending

    return send_pending()


@shared_task(acks_late=True)
def send_pre_arrival_reminders() -> int:
    from .notifications import send_pre_arrival_reminders as send_reminders

    return send_reminders(at=timezone.now())
