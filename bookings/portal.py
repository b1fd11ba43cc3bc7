"""The guest portal: what a guest holding a booking's magic link may see and do.

Reads (the portal's extra context, the receipt) and the one write that is not a
booking row (a message to the owner). Cancelling goes through
``payments.services.cancel_with_refund``; revoking links through
``bookings.services.revoke_guest_links``. Access is checked by the views with
``bookings.tokens.booking_for_guest_token`` (a wrong, forged, expired or
revoked token is a 404, like an unknown reference).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from .errors import BookingError
from .models import Booking, BookingStatus, GuestMessage

S = BookingStatus
MAX_MESSAGE_LENGTH = 4000


class MessageNotAllowed(BookingError):
    code = "message_not_allowed"
    http_status = 400
    default_detail = "This message cannot be sent."


def portal_links(booking: Booking) -> dict:
    from .checkout import status_url

    return {
        "cancel_url": status_url(booking, "bookings:cancel"),
        "receipt_url": status_url(booking, "bookings:receipt"),
        "message_url": status_url(booking, "bookings:message"),
    }


def can_cancel(booking: Booking, now=None) -> bool:
    """Whether the page offers the guest to cancel: the booking service's own rule
    (``guest_cancellation_refusal``: before the arrival day, property-local), which it
    enforces again under the property lock when the guest confirms."""
    from .services import guest_cancellation_refusal

    return not guest_cancellation_refusal(booking, booking.property, now or timezone.now())


def portal_context(booking: Booking) -> dict:
    """What the booking page adds for the guest: actions and the conversation with the owner."""
    return {
        **portal_links(booking),
        "can_cancel": can_cancel(booking),
        "guest_messages": list(booking.messages.all()),
        "balance_due": booking.balance_due,
        "message_max_length": MAX_MESSAGE_LENGTH,
    }


@dataclass(frozen=True)
class ReceiptLine:
    label: str
    amount: Decimal


@dataclass(frozen=True)
class MoneyMovement:
    when: object
    label: str
    amount: Decimal
    status: str


def receipt(booking: Booking) -> dict:
    """The receipt's lines (from the quote snapshot), payments and refunds."""
    from payments.models import CAPTURED_STATUSES, COUNTED_REFUNDS, Payment, Refund

    q = booking.quote or {}
    lines = [ReceiptLine(f"{booking.nights} night{'s' if booking.nights != 1 else ''}", booking.subtotal)]
    if booking.discounts:
        lines.append(ReceiptLine("Discounts", -abs(booking.discounts)))
    fee_lines = q.get("fees") or []
    if fee_lines:
        lines += [ReceiptLine(f.get("label") or f.get("code", "Fee"), Decimal(f.get("amount", "0"))) for f in fee_lines]
    elif booking.fees:
        lines.append(ReceiptLine("Fees", booking.fees))
    if booking.taxes:
        rate = q.get("tax_rate")
        lines.append(ReceiptLine(f"Taxes ({Decimal(rate).normalize()} %)" if rate else "Taxes", booking.taxes))
    payments = [
        MoneyMovement(p.succeeded_at or p.created_at, f"Card payment (attempt {p.attempt})"
                      if p.provider == "stripe" else f"Payment ({p.get_provider_display()})", p.amount,
                      p.get_status_display())
        for p in Payment.objects.filter(booking=booking, status__in=CAPTURED_STATUSES).order_by("created_at")
    ]
    refunds = [
        MoneyMovement(r.created_at, "Refund", r.amount, r.get_status_display())
        for r in Refund.objects.filter(payment__booking=booking,
                                       status__in=COUNTED_REFUNDS).order_by("created_at")
    ]
    return {
        "lines": lines, "payments": payments, "refunds": refunds,
        "balance_due": booking.balance_due,
        "net_paid": booking.amount_paid - booking.amount_refunded,
        "issued_at": timezone.now(),
    }


def post_guest_message(*, booking_id, body: str, at=None) -> GuestMessage:
    """A message from the guest to the owner: stored, shown in the admin, emailed to the owner (once)."""
    from .notifications import notify_owner_of_message

    now = at or timezone.now()
    body = (body or "").strip()
    if not body:
        raise MessageNotAllowed("Please write a message.")
    if len(body) > MAX_MESSAGE_LENGTH:
        raise MessageNotAllowed(f"Please keep the message under {MAX_MESSAGE_LENGTH} characters.")
    with transaction.atomic():
        booking = (Booking.objects.select_for_update(of=("self",))
                   .select_related("guest", "property__owner").get(pk=booking_id))
        recent = booking.messages.filter(created_at__gt=now - timedelta(hours=1)).count()
        if recent >= settings.GUEST_MESSAGES_PER_HOUR:
            raise MessageNotAllowed("You have sent several messages in the last hour; please wait a little.")
        sender = (booking.guest.email or booking.guest.name) if booking.guest else "Guest"
        message = GuestMessage.objects.create(booking=booking, sender=sender, body=body, created_at=now)
        notify_owner_of_message(message)
    return message
