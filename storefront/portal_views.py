"""The guest portal's actions behind the booking page (``bookings:status``): cancel, receipt, message the owner;
and the signed-in guest's list of their bookings (``my-bookings``).

Thin: the magic link's token is checked exactly as on the booking page (a wrong,
forged, expired or revoked token is a 404), ``storefront.portal`` reads,
``messaging.services`` writes messages, ``payments.services`` cancels with
the refund of the policy.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from bookings.errors import ChangePriceChanged, RefundChanged
from bookings.links import status_url
from core.actor import Actor
from core.errors import DomainError
from core.uploads import private_file_response
from guests.selectors import verified_emails
from messaging import services as messaging
from messaging.models import Message
from properties.display import money as format_money

from . import portal
from .booking_views import _booking_context, _guest_booking
from .forms import ChangeStayForm

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
    """POST (CSRF, multipart): a message to the owner, with an optional image or PDF; back to the booking page."""
    booking = _guest_booking(request, reference)
    try:
        messaging.post_from_guest(booking_id=booking.pk, body=request.POST.get("body", ""),
                                  attachment=request.FILES.get("attachment"))
    except DomainError as exc:
        context = _booking_context(request, booking)
        context.update(portal.portal_context(booking))
        context.update({"message_error": exc.detail, "message_body": request.POST.get("body", "")[:5000]})
        return render(request, "bookings/status.html", context, status=exc.http_status)
    messages.success(request, _("Your message was sent to the owner. Their answer will appear here, and we will "
                                "email you."))
    return redirect(f"{status_url(booking)}#messages")


@never_cache
@require_GET
def message_attachment(request, reference, message_id):
    """A message's attachment, to the holder of the booking's link only (the same 404 as a wrong token)."""
    booking = _guest_booking(request, reference)
    item = Message.objects.filter(pk=message_id, thread__booking=booking).exclude(attachment="").first()
    if item is None:
        raise Http404("No such attachment.")
    return private_file_response(item.attachment, content_type=item.attachment_content_type,
                                 filename=item.attachment_name)


@never_cache
@login_required(login_url="account_login")
def my_bookings(request):
    """All bookings made with one of the signed-in guest's verified email addresses, each linked to its portal."""
    bookings = list(portal.bookings_for_user(request.user))
    rows = [{"booking": b, "portal_url": status_url(b)} for b in bookings]
    return render(request, "guests/my_bookings.html", {"rows": rows, "emails": verified_emails(request.user)})


def _shown_amount(value: str) -> Decimal | None:
    try:
        amount = Decimal(value)
    except InvalidOperation:
        return None
    return amount if amount.is_finite() else None


def _preview_for(booking, form):
    """The change the valid ``form`` asks for, as it would be made now; its refusals become form errors."""
    from payments.changes import change_quote

    try:
        preview = change_quote(booking, by_guest=True, **form.stay())
    except DomainError as exc:
        form.add_error(None, exc.detail)
        return None
    if preview.refusal:
        form.add_error(None, preview.refusal)
    elif preview.unchanged:
        form.add_error(None, _("These are already your booking's dates and guests."))
    for reason in preview.reasons:
        field = reason.field if reason.field in form.fields else None
        form.add_error(field, reason.message)
    return preview if not form.errors else None


@never_cache
@require_http_methods(["GET", "POST"])
def change(request, reference):
    """"Change your stay", in two steps behind the magic link (like cancelling).

    1. GET with the new dates and guests (the form's own GET, carrying the token): the new total, the difference and
       what would be charged or refunded (``payments.changes.change_quote``); bad input re-renders with field
       messages.
    2. POST (CSRF) with the same stay and the figures shown: ``payments.changes.change_with_payment`` decides again
       under the property lock; a price that moved in between (``ChangePriceChanged``) shows the new figures and
       asks again, nothing changed."""
    from payments.changes import change_with_payment

    booking = _guest_booking(request, reference)
    initial = {"check_in": booking.check_in, "check_out": booking.check_out, "adults": booking.adults,
               "children": booking.children}
    data = request.POST if request.method == "POST" else (request.GET if "check_in" in request.GET else None)
    form = ChangeStayForm(data, initial=initial)
    allowed = portal.can_change(booking)
    preview, error, status = None, "", 200
    if allowed and form.is_bound:
        preview = _preview_for(booking, form) if form.is_valid() else None
        if form.errors:
            status = 400
    if request.method == "POST" and preview is not None:
        shown = _shown_amount(request.POST.get("expected_difference", ""))
        shown_refund = _shown_amount(request.POST.get("expected_refund", "0"))
        if shown is None or shown_refund is None:
            error, status = _("Please check the new price and confirm the change on this page."), 409
        else:
            try:
                result = change_with_payment(
                    booking_id=booking.pk, actor=Actor.guest(booking.guest.email if booking.guest else ""),
                    by_guest=True, expected_difference=shown, expected_refund=shown_refund, **form.stay())
            except ChangePriceChanged as exc:
                error, status = _("The price of this change has changed since it was shown: please check the new "
                                  "figures and confirm again."), exc.http_status
                preview = _preview_for(booking, form)
            except DomainError as exc:
                booking.refresh_from_db()
                form.add_error(None, exc.detail)
                preview, status = None, exc.http_status
            else:
                terms = result.change.terms
                text = _("Your booking is changed. We sent you the updated confirmation by email.")
                if terms.refund:
                    text += " " + _("Refund: %(amount)s, on its way to the card you paid with.") % {
                        "amount": format_money(terms.refund, booking.currency)}
                if result.booking.balance_due:
                    text += " " + _("Still to pay: %(amount)s.") % {
                        "amount": format_money(result.booking.balance_due, booking.currency)}
                messages.success(request, text)
                return redirect(status_url(result.booking))
    context = _booking_context(request, booking)
    context.update(portal.portal_context(booking))
    context.update({"form": form, "preview": preview, "error": error, "allowed": allowed,
                    "token": request.GET.get("token", ""), "status_url": status_url(booking)})
    return render(request, "bookings/change.html", context, status=status)
