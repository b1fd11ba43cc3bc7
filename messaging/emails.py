"""What the message emails carry (registered with ``bookings.notifications.register_context``): the message, and
the link to its thread (the owner's inbox page, or the guest's portal page at its messages)."""

from __future__ import annotations

from django.conf import settings
from django.urls import reverse

from bookings.links import status_url

from .models import Message


def message_context(row) -> dict:
    message = (Message.objects.select_related("thread__booking").filter(pk=row.data.get("message_id")).first())
    if message is None:
        return {"message": None}
    booking = message.thread.booking
    return {
        "message": message,
        "admin_url": settings.SITE_URL + reverse("admin:messaging_thread_change", args=[message.thread_id]),
        "thread_url": f"{settings.SITE_URL}{status_url(booking)}#messages",
    }
