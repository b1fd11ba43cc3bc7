"""The guest portal's actions behind the booking page (``bookings:status``): cancel, receipt, message the owner;
and the signed-in guest's list of their bookings (``my-bookings``).

Thin: the magic link's token is checked exactly as on the booking page (a wrong,
forged, expired or revoked token is a 404), ``storefront.portal`` reads,
``bookings.guest_messages`` writes messages, ``payments.services`` cancels with
the refund of the policy.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from bookings.errors import RefundChanged
from bookings.guest_messages import post_guest_message
from bookings.links import status_url
from core.actor import Actor
from core.errors import DomainError
from guests.selectors import verified_emails
from properties.display import money as format_money

from . import portal
from .booking_views import _booking_context, _guest_booking

MAX_REASON_LENGTH = 1000


def _cancel_context(request, booking, *, error: str = "", reason: str = "") -> dict:
    from payments.services import refund_quote

    context = _booking_context(request, booking)
    context.update(portal.portal_context(booking))
    context.update({"quote": refund_quote(booking), "error": error, "reason": reason,
                    "status_url": status_url(booking)})
    return context


@never_cache
@require_http_methods(["GET", "POST"])
def cancel(request, reference):
    """GET: the refund the guest would get now, and the form. POST (CSRF): cancel with that refund.

    Whether the guest may still cancel, and the amount, are decided by the service
    under the property lock; the amount shown is passed as ``expected_refund``, so a
    policy tier passing in between asks the guest again instead of refunding less."""
    from payments.services import cancel_with_refund

    booking = _guest_booking(request, reference)
    if request.method == "GET":
        return render(request, "bookings/cancel.html", _cancel_context(request, booking))

    reason = request.POST.get("reason", "").strip()[:MAX_REASON_LENGTH]
    try:
        shown = Decimal(request.POST.get("quoted_refund", ""))
    except InvalidOperation:
        shown = None
    if shown is None or not shown.is_finite():
        return render(request, "bookings/cancel.html", _cancel_context(
            request, booking, error=_("Please confirm the cancellation on this page."), reason=reason), status=409)
    guest_email = booking.guest.email if booking.guest else ""
    try:
        result = cancel_with_refund(booking_id=booking.pk, actor=Actor.guest(guest_email), expected_refund=shown,
                                    reason=reason or "Cancelled by the guest on the booking page.")
    except RefundChanged as exc:
        error = _("The refund is now %(amount)s (the policy changed with the time left before arrival). "
                  "Please confirm again.") % {"amount": format_money(exc.amount, exc.currency)}
        return render(request, "bookings/cancel.html", _cancel_context(request, booking, error=error, reason=reason),
                      status=exc.http_status)
    except DomainError as exc:
        booking.refresh_from_db()
        return render(request, "bookings/cancel.html",
                      _cancel_context(request, booking, error=exc.detail, reason=reason), status=exc.http_status)
    refund = format_money(result.refunded, booking.currency)
    if result.refunds:
        done = _("Your booking is cancelled. Refund: %(amount)s (on its way to the card you paid with). "
                 "We sent you a confirmation by email.") % {"amount": refund}
    else:
        done = _("Your booking is cancelled. Refund: %(amount)s. We sent you a confirmation by email.") % {
            "amount": refund}
    messages.success(request, done)
    return redirect(status_url(result.booking))


@never_cache
@require_GET
def receipt(request, reference):
    booking = _guest_booking(request, reference)
    context = _booking_context(request, booking)
    context.update(portal.receipt(booking))
    return render(request, "bookings/receipt.html", context)


@never_cache
@require_POST
def message(request, reference):
    """POST (CSRF): a message to the owner; back to the booking page."""
    booking = _guest_booking(request, reference)
    try:
        post_guest_message(booking_id=booking.pk, body=request.POST.get("body", ""))
    except DomainError as exc:
        context = _booking_context(request, booking)
        context.update(portal.portal_context(booking))
        context.update({"message_error": exc.detail, "message_body": request.POST.get("body", "")[:5000]})
        return render(request, "bookings/status.html", context, status=exc.http_status)
    messages.success(request, _("Your message was sent to the owner. They will answer by email."))
    return redirect(f"{status_url(booking)}#messages")


@never_cache
@login_required(login_url="account_login")
def my_bookings(request):
    """All bookings made with one of the signed-in guest's verified email addresses, each linked to its portal."""
    bookings = list(portal.bookings_for_user(request.user))
    rows = [{"booking": b, "portal_url": status_url(b)} for b in bookings]
    return render(request, "guests/my_bookings.html", {"rows": rows, "emails": verified_emails(request.user)})
