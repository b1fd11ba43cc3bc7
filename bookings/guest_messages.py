"""A message from the guest to the owner (the guest portal's one write that is not a booking row).

Stored as a ``GuestMessage`` on the booking, shown in the admin, emailed to the owner once
(``bookings.notifications.notify_owner_of_message``); at most ``GUEST_MESSAGES_PER_HOUR`` per booking.
"""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from .errors import BookingError
from .models import Booking, GuestMessage

MAX_MESSAGE_LENGTH = 4000


class MessageNotAllowed(BookingError):
    code = "message_not_allowed"
    http_status = 400
    default_detail = _("This message cannot be sent.")


def post_guest_message(*, booking_id, body: str, at=None) -> GuestMessage:
    """A message from the guest to the owner: stored, shown in the admin, emailed to the owner (once)."""
    from .notifications import notify_owner_of_message

    now = at or timezone.now()
    body = (body or "").strip()
    if not body:
        raise MessageNotAllowed(_("Please write a message."))
    if len(body) > MAX_MESSAGE_LENGTH:
        raise MessageNotAllowed(_("Please keep the message under %(count)d characters.")
                                % {"count": MAX_MESSAGE_LENGTH})
    with transaction.atomic():
        booking = (Booking.objects.select_for_update(of=("self",))
                   .select_related("guest", "property__owner").get(pk=booking_id))
        recent = booking.messages.filter(created_at__gt=now - timedelta(hours=1)).count()
        if recent >= settings.GUEST_MESSAGES_PER_HOUR:
            raise MessageNotAllowed(_("You have sent several messages in the last hour; please wait a little."))
        sender = (booking.guest.email or booking.guest.name) if booking.guest else "Guest"
        message = GuestMessage.objects.create(booking=booking, sender=sender, body=body, created_at=now)
        notify_owner_of_message(message)
    return message
