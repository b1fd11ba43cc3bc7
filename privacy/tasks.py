"""The privacy beat job (a django-celery-beat row, ``privacy/migrations/0002_retention_job.py``)."""

from dataclasses import asdict

from celery import shared_task

from . import services


@shared_task(acks_late=True)
def erase_expired_guests() -> dict:
    """Daily: the retention rule (``privacy.services.erase_expired_guests``). Idempotent."""
    return asdict(services.erase_expired_guests())
