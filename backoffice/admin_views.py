"""The booking back office's own pages and buttons (used by ``backoffice.admin.BookingAdmin``).

* :data:`OBJECT_ACTIONS`: what can be done to one booking, each with the
  permission it needs and when it is offered (status, arrival date). The detail
  page shows a button per action :func:`allowed_actions` returns; the POST
  handler (:func:`run_object_action`) checks the permission again (403), the
  tenant (404) and lets the service decide the rest (its ``BookingError`` is a
  message, never a 500).
* :func:`cancel_booking`: the intermediate page of a cancellation, with the
  refund per policy pre-selected, or everything paid, or a custom amount.
* :func:`add_owner_booking`: a booking taken by the owner (source ``owner``).
* :func:`change_stay`: the "Change dates/guests" page: the re-quote and its money first, then the change.
* :func:`booking_detail`: the read-only sections of the detail page (quote and
  policy snapshots, payments, refunds), in a fixed number of queries.

Everything that writes goes through ``bookings.services`` / ``payments.services``
with ``Actor.for_user(request.user)``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone

from bookings import services
from bookings.errors import BookingError, ChangePriceChanged, DatesUnavailable, StayRuleViolation
from bookings.models import (
    CANCELLABLE_STATUSES,
    CHANGEABLE_STATUSES,
    CHANNEL_SOURCES,
    CHECKIN_BOOKING,
    CONFIRMATION_RESEND_STATUSES,
    HAND_MOVE_PERMISSIONS,
    MANAGE_BOOKING,
    Booking,
    BookingStatus,
)
from bookings.notifications import guest_address
from core.actor import Actor
from core.errors import DomainError
from core.money import format_money
from guests.services import GuestInput
from payments.models import ManualPayment, Payment, Refund
from payments.services import cancel_with_refund, refund_quote
from properties.pricing import local_today

from .admin_forms import CancelBookingForm, ChangeStayForm, OwnerBookingForm

S = BookingStatus


@dataclass(frozen=True)
class ObjectAction:
    """One button on a booking's page."""

    name: str
    label: str
    permission: str
    offered: Callable[[Booking], bool]  # does the button make sense for this booking now?
    run: Callable[[Booking, Actor], str] | None = None  # POSTed to; None: a page of its own (cancel)


def _confirm(booking: Booking, actor: Actor) -> str:
    services.confirm(booking_id=booking.pk, actor=actor, reason="Confirmed in the admin.")
    return f"Confirmed {booking.reference}."


def _check_in(booking: Booking, actor: Actor) -> str:
    services.check_in(booking_id=booking.pk, actor=actor)
    return f"Checked in {booking.reference}."


def _check_out(booking: Booking, actor: Actor) -> str:
    services.check_out(booking_id=booking.pk, actor=actor)
    return f"Checked out {booking.reference}."


def _resend(booking: Booking, actor: Actor) -> str:
    row = services.resend_confirmation(booking_id=booking.pk, actor=actor)
    return f"Confirmation of {booking.reference} sent again to {row.to}."


def _arrived(booking: Booking) -> bool:
    return local_today(booking.property) >= booking.check_in


OBJECT_ACTIONS: dict[str, ObjectAction] = {a.name: a for a in (
    ObjectAction("confirm", "Confirm", HAND_MOVE_PERMISSIONS[S.CONFIRMED], lambda b: b.status == S.RESERVED, _confirm),
    ObjectAction("cancel", "Cancel…", HAND_MOVE_PERMISSIONS[S.CANCELLED], lambda b: b.status in CANCELLABLE_STATUSES),
    ObjectAction("check_in", "Check in", HAND_MOVE_PERMISSIONS[S.CHECKED_IN],
                 lambda b: b.status == S.CONFIRMED and _arrived(b), _check_in),
    ObjectAction("check_out", "Check out", HAND_MOVE_PERMISSIONS[S.CHECKED_OUT], lambda b: b.status == S.CHECKED_IN,
                 _check_out),
    ObjectAction("resend_confirmation", "Resend confirmation", CHECKIN_BOOKING,
                 lambda b: b.status in CONFIRMATION_RESEND_STATUSES and bool(guest_address(b)), _resend),
)}


def allowed_actions(booking: Booking, user) -> list[ObjectAction]:
    """The buttons ``user`` gets on ``booking``'s page (``booking`` with its property and guest loaded)."""
    return [a for a in OBJECT_ACTIONS.values() if user.has_perm(a.permission) and a.offered(booking)]


def scoped_booking(model_admin, request, object_id) -> Booking:
    """The booking if ``request.user`` may see it (the admin's scoped queryset), else 404."""
    booking = model_admin.get_queryset(request).select_related("property", "guest").filter(pk=object_id).first()
    if booking is None:
        raise Http404("No such booking.")
    return booking


def change_url(booking: Booking) -> str:
    return reverse("admin:bookings_booking_change", args=[booking.pk])


def _page(model_admin, request, template: str, title: str, **context) -> TemplateResponse:
    return TemplateResponse(request, template, {
        **model_admin.admin_site.each_context(request), "opts": Booking._meta, "title": title, **context,
    })


# --- one booking's buttons --------------------------------------------------------------------------


def run_object_action(model_admin, request, object_id, name: str) -> HttpResponseRedirect:
    """POST of a button on the detail page: permission (403), tenant (404), then the service decides."""
    action = OBJECT_ACTIONS.get(name)
    if action is None or action.run is None:
        raise Http404("No such action.")
    if not request.user.has_perm(action.permission):
        raise PermissionDenied
    booking = scoped_booking(model_admin, request, object_id)
    try:
        messages.success(request, action.run(booking, Actor.for_user(request.user)))
    except DomainError as exc:
        messages.error(request, f"{booking.reference}: {exc.detail}")
    return HttpResponseRedirect(change_url(booking))


def cancel_booking(model_admin, request, object_id):
    """GET: the refund choice; POST: cancel with that refund. Bad input re-renders the page and changes nothing."""
    if not request.user.has_perm(MANAGE_BOOKING):
        raise PermissionDenied
    booking = scoped_booking(model_admin, request, object_id)
    if booking.status not in CANCELLABLE_STATUSES:
        messages.error(request, f"{booking.reference} is {booking.get_status_display().lower()}: "
                                "it can no longer be cancelled.")
        return HttpResponseRedirect(change_url(booking))
    quote = refund_quote(booking)
    form = CancelBookingForm(request.POST or None, quote=quote)
    if request.method == "POST" and form.is_valid():
        amount = form.amount
        try:
            result = cancel_with_refund(booking_id=booking.pk, actor=Actor.for_user(request.user),
                                        reason=form.cleaned_data["reason"], refund_amount=amount, by_owner=True)
        except DomainError as exc:
            messages.error(request, f"Not cancelled: {exc.detail}")
        else:
            refunded = format_money(result.refunded, booking.currency)
            messages.success(request, f"Cancelled {booking.reference}; refunded {refunded}.")
            return HttpResponseRedirect(change_url(booking))
    return _page(model_admin, request, "admin/bookings/booking/cancel.html", f"Cancel {booking.reference}",
                 booking=booking, form=form, quote=quote, refundable=format_money(quote.refundable, quote.currency),
                 policy=booking.cancellation_policy or {})


# --- changing dates and guests ---------------------------------------------------------------------------


def changeable(booking: Booking) -> bool:
    """Whether the page offers "Change dates/guests" (the service decides again: ``refusal_to_change``)."""
    return booking.status in CHANGEABLE_STATUSES and booking.source not in CHANNEL_SOURCES


def change_stay(model_admin, request, object_id):
    """GET: the form with the booking's stay. POST ``step=preview``: the re-quote, the difference and the refund or
    the balance. POST ``step=confirm``: the change, with the figures shown as ``expected_difference`` /
    ``expected_refund`` (a price that moved in between shows the new figures and changes nothing)."""
    from payments.changes import change_quote, change_with_payment

    if not request.user.has_perm(MANAGE_BOOKING):
        raise PermissionDenied
    booking = scoped_booking(model_admin, request, object_id)
    if booking.source in CHANNEL_SOURCES or booking.status not in CHANGEABLE_STATUSES:
        from bookings.changes import refusal_to_change

        refusal = refusal_to_change(booking, booking.property, timezone.now(), by_guest=False)
        messages.error(request, f"{booking.reference}: {refusal.detail if refusal else 'it cannot be changed.'}")
        return HttpResponseRedirect(change_url(booking))
    initial = {"check_in": booking.check_in, "check_out": booking.check_out, "adults": booking.adults,
               "children": booking.children}
    form = ChangeStayForm(request.POST or None, initial=initial)
    preview = None
    step = request.POST.get("step", "")
    if request.method == "POST" and form.is_valid():
        arguments = form.change_arguments()
        try:
            preview = change_quote(booking, by_guest=False, **arguments)
        except DomainError as exc:
            form.add_error(None, exc.detail)
        else:
            if preview.unchanged:
                form.add_error(None, "These are the booking's dates and guests already.")
            elif preview.reasons:
                hint = "" if arguments["override_rules"] else (
                    " Tick “Override the stay rules” and give a reason to change it anyway (overlaps, blocks and "
                    "buffer days cannot be overridden).")
                form.add_error(None, " ".join(r.message for r in preview.reasons) + hint)
        if form.errors:
            preview = None
        if preview is not None and step == "confirm":
            try:
                result = change_with_payment(
                    booking_id=booking.pk, actor=Actor.for_user(request.user),
                    override_reason=form.cleaned_data["override_reason"].strip(),
                    expected_difference=_decimal(request.POST.get("expected_difference")),
                    expected_refund=_decimal(request.POST.get("expected_refund")), **arguments)
            except ChangePriceChanged as exc:
                messages.warning(request, f"Not changed: {exc.detail}")
                preview = change_quote(booking, by_guest=False, **arguments)
            except DomainError as exc:
                form.add_error(None, _reason_text(exc) if isinstance(exc, BookingError) else exc.detail)
                preview = None
            else:
                messages.success(request, _change_summary(result))
                return HttpResponseRedirect(change_url(booking))
    cur = booking.currency
    figures = None
    if preview is not None and preview.terms is not None:
        t = preview.terms
        figures = {"old_total": format_money(t.old_total, cur), "new_total": format_money(t.new_total, cur),
                   "difference": f"{'+' if t.difference > 0 else ''}{format_money(t.difference, cur)}",
                   "to_collect": format_money(t.to_collect, cur) if t.to_collect else "",
                   "balance_after": format_money(t.balance_after, cur),
                   "refund": format_money(t.refund, cur), "refundable": format_money(t.refundable, cur),
                   "percent": t.percent, "raw_difference": t.difference, "raw_refund": t.refund}
    return _page(model_admin, request, "admin/bookings/booking/change_stay.html", f"Change {booking.reference}",
                 booking=booking, form=form, preview=preview, figures=figures,
                 policy=booking.cancellation_policy or {}, media=model_admin.media + form.media)


def _decimal(value) -> Decimal | None:
    try:
        amount = Decimal(value or "")
    except InvalidOperation:
        return None
    return amount if amount.is_finite() else None


def _change_summary(result) -> str:
    booking, terms, cur = result.booking, result.change.terms, result.booking.currency
    text = (f"Changed {booking.reference} to {booking.check_in}–{booking.check_out}; total "
            f"{format_money(terms.old_total, cur)} → {format_money(terms.new_total, cur)}.")
    if result.refunds:
        text += f" Refund of {format_money(terms.refund, cur)} requested."
    if result.collection is not None:
        text += {"saved_card": f" The card saved at checkout is charged {format_money(terms.to_collect, cur)} "
                               "(if it fails, the guest is emailed a link to pay).",
                 "payment_link": f" The guest was emailed a link to pay {format_money(terms.to_collect, cur)}.",
                 "reservation": " The reservation's payment link now charges the new total.",
                 "owner": f" The guest has no email here: collect {format_money(terms.to_collect, cur)} yourself."
                 }[result.collection.method]
    return text


# --- owner bookings -------------------------------------------------------------------------------------


def _reason_text(exc: BookingError) -> str:
    return " ".join(reason.message for reason in exc.reasons) or exc.detail


def add_owner_booking(model_admin, request):
    """The "Add booking" page: a booking taken by the owner, through ``services.create_owner_booking``."""
    if not request.user.has_perm(MANAGE_BOOKING):
        raise PermissionDenied
    form = OwnerBookingForm(request.POST or None, user=request.user)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            booking = services.create_owner_booking(
                property_id=data["property"].pk, check_in=data["check_in"], check_out=data["check_out"],
                adults=data["adults"], children=data["children"],
                guest=GuestInput(name=data["guest_name"], email=data["guest_email"], phone=data["guest_phone"],
                                 country=data["guest_country"]),
                actor=Actor.for_user(request.user), notes=data["notes"], confirm_now=data["confirm_now"],
                override_rules=data["override_rules"], override_reason=data["override_reason"].strip(),
            )
        except DatesUnavailable as exc:
            form.add_error(None, f"These dates are not available: {_reason_text(exc)} "
                                 "(overlaps, blocks and buffer days cannot be overridden).")
        except StayRuleViolation as exc:
            hint = "" if data["override_rules"] else " Tick “Override the stay rules” and give a reason to book anyway."
            form.add_error(None, f"{_reason_text(exc)}{hint}")
        except DomainError as exc:
            form.add_error(None, exc.detail)
        else:
            state = "confirmed" if booking.status == S.CONFIRMED else "reserved (waiting for the guest's payment)"
            messages.success(request, f"Booking {booking.reference} created, {state}.")
            return HttpResponseRedirect(change_url(booking))
    return _page(model_admin, request, "admin/bookings/booking/owner_add.html", "Add a booking",
                 form=form, media=model_admin.media + form.media)


# --- the detail page ------------------------------------------------------------------------------------------


def _money(value, currency: str) -> str:
    try:
        return format_money(Decimal(str(value)), currency)
    except (InvalidOperation, KeyError, TypeError, ValueError):
        return str(value)


def quote_snapshot(booking: Booking) -> dict:
    """The quote the booking was sold at, formatted in its currency (the JSON snapshot, not today's prices)."""
    q, cur = booking.quote or {}, booking.currency
    nights = [
        {"date": n.get("date", ""), "base": _money(n.get("base", 0), cur), "price": _money(n.get("price", 0), cur),
         "adjustments": [f"{a.get('name', a.get('kind', ''))}: {_money(a.get('amount', 0), cur)}"
                         for a in n.get("adjustments") or []]}
        for n in q.get("nights") or [] if isinstance(n, dict)
    ]
    return {
        "nights": nights,
        "subtotal": _money(q.get("nightly_subtotal", booking.subtotal), cur),
        "discounts": _money(q.get("discounts", booking.discounts), cur),
        "has_discounts": Decimal(str(q.get("discounts", booking.discounts) or 0)) != 0,
        "fees": [{"label": f.get("label") or f.get("code", ""), "amount": _money(f.get("amount", 0), cur)}
                 for f in q.get("fees") or [] if isinstance(f, dict)],
        "tax_rate": q.get("tax_rate", ""),
        "taxes": _money(q.get("taxes", booking.taxes), cur),
        "total": _money(q.get("total", booking.total), cur),
    }


def booking_detail(booking: Booking, user) -> dict:
    """Context of the detail page's own sections: four queries at most, whatever the booking holds."""
    cur = booking.currency
    link_payments = user.has_perm("payments.view_payment")
    link_manual = user.has_perm("payments.view_manualpayment")
    payments = [
        {"obj": p, "amount": format_money(p.amount, p.currency),
         "refunded": format_money(p.amount_refunded, p.currency),
         "url": reverse("admin:payments_payment_change", args=[p.pk]) if link_payments else ""}
        for p in Payment.objects.filter(booking=booking).order_by("attempt")
    ]
    manual = [
        {"obj": m, "amount": format_money(m.amount, m.currency),
         "url": reverse("admin:payments_manualpayment_change", args=[m.pk]) if link_manual else ""}
        for m in ManualPayment.objects.filter(booking=booking).select_related("method").order_by("created_at")
    ]
    refunds = [
        {"obj": r, "amount": format_money(r.amount, r.currency)}
        for r in Refund.objects.filter(payment__booking=booking).select_related("payment", "created_by")
        .order_by("created_at")
    ]
    actions = allowed_actions(booking, user)
    cancel_preview = None
    if any(a.name == "cancel" for a in actions):
        rq = refund_quote(booking)
        cancel_preview = {"amount": format_money(rq.amount, cur), "percent": rq.percent,
                          "refundable": format_money(rq.refundable, cur)}
    return {
        "quote_snapshot": quote_snapshot(booking),
        "policy": booking.cancellation_policy or {},
        "cancel_preview": cancel_preview,
        "payments": payments,
        "manual_payments": manual,
        "refunds": refunds,
        "money": {"total": format_money(booking.total, cur), "paid": format_money(booking.amount_paid, cur),
                  "refunded": format_money(booking.amount_refunded, cur),
                  "balance": format_money(booking.balance_due, cur)},
        "booking_actions": [a for a in actions if a.run is not None],
        "can_cancel": any(a.name == "cancel" for a in actions),
        "can_change": user.has_perm(MANAGE_BOOKING) and changeable(booking),
        "change_on_channel": booking.get_source_display() if booking.source in CHANNEL_SOURCES else "",
        "now": timezone.now(),
    }
