"""The guest portal: what a guest holding a booking's magic link may see and do.

Reads only: the portal's extra context, the receipt, and the guest account's
list of bookings (:func:`bookings_for_user`). The writes are the domains':
cancelling goes through ``payments.services.cancel_with_refund``, a message to
the owner through ``messaging.services.post_from_guest``, revoking links
through ``bookings.services.revoke_guest_links``. Access is checked by the views with
``bookings.tokens.booking_for_guest_token`` (a wrong, forged, expired or
revoked token is a 404, like an unknown reference).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from django.conf import settings
from django.urls import reverse
from django.utils import timezone
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from bookings.links import payment_url, status_url
from bookings.models import Booking, BookingStatus
from bookings.tokens import booking_access_token
from guests.selectors import verified_emails
from messaging.selectors import guest_messages
from messaging.services import MAX_MESSAGE_LENGTH
from reviews.links import pending_review_url

S = BookingStatus


def portal_links(booking: Booking) -> dict:
    return {
        "cancel_url": status_url(booking, "bookings:cancel"),
        "receipt_url": status_url(booking, "bookings:receipt"),
        "message_url": status_url(booking, "bookings:message"),
        "change_url": status_url(booking, "bookings:change"),
        "export_url": status_url(booking, "privacy:booking_export"),
    }


def can_cancel(booking: Booking, now=None) -> bool:
    """Whether the page offers the guest to cancel: the booking service's own rule
    (``guest_cancellation_refusal``: before the arrival day, property-local), which it
    enforces again under the property lock when the guest confirms."""
    from bookings.services import guest_cancellation_refusal

    return not guest_cancellation_refusal(booking, booking.property, now or timezone.now())


def can_change(booking: Booking, now=None) -> bool:
    """Whether the page offers the guest to change their stay: the booking service's own rule
    (``bookings.changes.refusal_to_change``), which it enforces again under the property lock."""
    from bookings.changes import refusal_to_change

    return refusal_to_change(booking, booking.property, now or timezone.now(), by_guest=True) is None
def thread_for_guest(booking: Booking) -> list:
    """The booking's whole conversation (both sides, automatic messages), each attachment with its link (the
    booking's token: the same access as the page)."""
    rows = guest_messages(booking)
    token = urlencode({"token": booking_access_token(booking)})
    for row in rows:
        row.portal_attachment_url = (f"{reverse('bookings:message-attachment', args=[booking.reference, row.pk])}"
                                     f"?{token}" if row.attachment else "")
    return rows


def portal_context(booking: Booking) -> dict:
    """What the booking page adds for the guest: actions and the conversation with the owner."""
    return {
        **portal_links(booking),
        "can_cancel": can_cancel(booking),
        "can_change": can_change(booking),
        "guest_messages": thread_for_guest(booking),
        "attachment_max_mb": settings.MESSAGE_ATTACHMENT_MAX_BYTES // (1024 * 1024),
        "balance_due": booking.balance_due,
        # A confirmed stay with a balance (a change raised its price): the pay page charges it.
        "balance_pay_url": payment_url(booking) if booking.status == S.CONFIRMED and booking.balance_due > 0 else "",
        "message_max_length": MAX_MESSAGE_LENGTH,
        "review_url": pending_review_url(booking),  # a checked-out stay not reviewed yet
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
    lines = [ReceiptLine(ngettext("%(count)d night", "%(count)d nights", booking.nights) % {"count": booking.nights},
                         booking.subtotal)]
    if booking.discounts:
        lines.append(ReceiptLine(_("Discounts"), -abs(booking.discounts)))
    fee_lines = q.get("fees") or []
    if fee_lines:
        lines += [ReceiptLine(f.get("label") or f.get("code", _("Fee")), Decimal(f.get("amount", "0")))
                  for f in fee_lines]
    elif booking.fees:
        lines.append(ReceiptLine(_("Fees"), booking.fees))
    if booking.taxes:
        rate = q.get("tax_rate")
        lines.append(ReceiptLine(_("Taxes (%(rate)s %%)") % {"rate": Decimal(rate).normalize()} if rate else _("Taxes"),
                                 booking.taxes))
    payments = [
        MoneyMovement(p.succeeded_at or p.created_at,
                      _("Card payment (attempt %(number)d)") % {"number": p.attempt} if p.provider == "stripe"
                      else _("Payment (%(provider)s)") % {"provider": p.get_provider_display()},
                      p.amount,
                      p.get_status_display())
        for p in Payment.objects.filter(booking=booking, status__in=CAPTURED_STATUSES).order_by("created_at")
    ]
    refunds = [
        MoneyMovement(r.created_at, _("Refund"), r.amount, r.get_status_display())
        for r in Refund.objects.filter(payment__booking=booking,
                                       status__in=COUNTED_REFUNDS).order_by("created_at")
    ]
    return {
        "lines": lines, "payments": payments, "refunds": refunds,
        "balance_due": booking.balance_due,
        "net_paid": booking.amount_paid - booking.amount_refunded,
        "issued_at": timezone.now(),
    }


def bookings_for_user(user):
    """Every booking whose guest email is one of the user's VERIFIED addresses (none for an unverified one).

    Guest emails are stored lower-cased (``guests.services.find_or_create_guest``)."""
    emails = verified_emails(user)
    if not emails:
        return Booking.objects.none()
    return (Booking.objects.filter(guest__email__in=emails).exclude(status__in=(BookingStatus.HELD,
                                                                                 BookingStatus.RELEASED))
            .select_related("property", "guest").order_by("-check_in", "-pk"))
