"""Beat entry points of messaging (the schedule is a ``django_celery_beat`` row, messaging/migrations)."""

from celery import shared_task

from . import scheduled


@shared_task(name="messaging.tasks.send_scheduled_messages")
def send_scheduled_messages() -> int:
    return scheduled.send_due_messages()
