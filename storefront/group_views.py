"""Guest pages of group bookings ("book all"): add a stay to the basket, the group details page (one guest form,
each stay's quote, the total), and the group's page in the portal with "cancel all".

Thin: ``storefront.group_checkout`` keeps the basket and reserves it once per form token,
``bookings.services.reserve_group`` writes, ``payments.groups`` pays and cancels. The group page is reached with
the group's magic link (``bookings.group_links``); a wrong token is a 404, as for a booking.
"""

from __future__ import annotations

import uuid
from decimal import Decimal, InvalidOperation

from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from bookings.group_links import group_for_guest_token, group_payment_url, group_url
from bookings.links import status_url
from bookings.services import GroupStay
from core.actor import Actor
from payments import groups as group_payments
from payments.errors import PaymentNotAllowed
from payments.services import refund_quote
from properties.display import money as format_money
from properties.forms import StayForm, stay_query

from . import group_checkout
from .checkout import throttle_reservation
from .forms import GroupDetailsForm
from .portal import can_cancel
from .referrals import referral_of
from .selectors import property_for_page, stay_quote


@never_cache
@require_http_methods(["GET", "POST"])
def add(request, slug):
    """GET: the stay (from the query string) with its quote and an "Add to group booking" button. POST (CSRF): add it
    to the session's basket and go to the group page. The stay is checked (shape and availability) first."""
    prop = property_for_page(slug)
    if prop is None:
        raise Http404("No such property.")
    params = request.POST if request.method == "POST" else request.GET
    form = StayForm(params, dates_required=True, prop=prop)
    quote = error = None
    status = 200
    if form.is_valid():
        data = form.cleaned_data
        quote = stay_quote(prop, data["check_in"], data["check_out"], data["adults"] + data["children"],
                           at=timezone.now())
        if request.method == "POST":
            if not quote.bookable:
                status = 409
            else:
                error = group_checkout.add_stay(request.session, GroupStay(
                    property_id=prop.pk, check_in=data["check_in"], check_out=data["check_out"],
                    adults=data["adults"], children=data["children"]))
                if not error:
                    messages.success(request, _("%(name)s was added to your group booking.") % {"name": prop.name})
                    return redirect("bookings:group-basket")
                status = 409
    elif request.method == "POST":
        status = 400
    return render(request, "bookings/group_add.html", {
        "prop": prop, "form": form, "quote": quote, "error": error,
        "basket_size": len(group_checkout.stays_in(request.session)),
        "back_query": stay_query(form.cleaned_data.get("check_in"), form.cleaned_data.get("check_out"),
                                 form.cleaned_data.get("adults"), form.cleaned_data.get("children") or 0)
        if form.is_valid() else "",
    }, status=status)


@require_POST
def remove(request):
    try:
        index = int(request.POST.get("index", ""))
    except ValueError:
        index = -1
    group_checkout.remove_stay(request.session, index)
    return redirect("bookings:group-basket")


@never_cache
@require_http_methods(["GET", "POST"])
def basket(request):
    """The group details page: every stay with its server-computed quote, the group total, one guest form.
    POST reserves every stay at once (all or nothing) and goes to the one payment for the group."""
    outcome = None
    status = 200
    if request.method == "POST":
        form = GroupDetailsForm(request.POST)
        stays = group_checkout.stays_in(request.session)
        if not stays:
            outcome = {"detail": _("Your group booking has no stays yet.")}
            status = 400
        elif form.is_valid():
            wait = throttle_reservation(request)
            if wait:
                status = 429
                outcome = {"detail": _("Too many booking attempts from your connection. Please wait %(s)d seconds "
                                       "and try again.") % {"s": wait}}
            else:
                result = group_checkout.reserve_basket(stays=stays, data=form.cleaned_data,
                                                       referral=referral_of(request))
                if result.group is not None:
                    group_checkout.clear(request.session)
                    return redirect(group_payment_url(result.group))
                outcome = {"detail": result.detail, "stay": result.stay}
                status = 409
            form.data = form.data.copy()
            form.data["form_token"] = str(uuid.uuid4())
        else:
            status = 400
            if "form_token" in form.errors:
                form.data = form.data.copy()
                form.data["form_token"] = str(uuid.uuid4())
    else:
        form = GroupDetailsForm(initial={"form_token": uuid.uuid4()})
    current = group_checkout.basket(request.session)
    return render(request, "bookings/group_basket.html", {
        "basket": current, "form": form, "outcome": outcome,
        "failed_line": outcome.get("stay") if outcome else None,
    }, status=status)


# --- the group in the guest portal -------------------------------------------------------------------------------


def _group(request, reference):
    group = group_for_guest_token(reference, request.GET.get("token") or request.POST.get("token", ""))
    if group is None:
        raise Http404("There is no group booking with this reference.")
    return group


def _group_context(group) -> dict:
    now = timezone.now()
    bookings = group_payments.group_bookings(group)
    rows = []
    for booking in bookings:
        cancellable = can_cancel(booking, now)
        rows.append({"booking": booking, "url": status_url(booking), "can_cancel": cancellable,
                     "refund": refund_quote(booking, now) if cancellable else None})
    try:
        due = group_payments.group_due(group, now, bookings)
    except PaymentNotAllowed:
        due = None
    return {"group": group, "rows": rows, "due": due, "pay_url": group_payment_url(group) if due else "",
            "any_cancellable": any(r["can_cancel"] for r in rows), "group_url": group_url(group),
            "cancel_url": group_url(group, "bookings:group-cancel")}


@never_cache
@require_http_methods(["GET"])
def group_page(request, reference):
    group = _group(request, reference)
    return render(request, "bookings/group.html", _group_context(group))


@never_cache
@require_http_methods(["GET", "POST"])
def cancel_all(request, reference):
    """GET: each booking's refund under its own policy, and the form. POST (CSRF): cancel every booking that can
    be, each with the refund shown (``payments.groups.cancel_group``); the others are reported, not cancelled."""
    group = _group(request, reference)
    if request.method == "GET":
        return render(request, "bookings/group_cancel.html", _group_context(group))
    expected: dict[str, Decimal] = {}
    for key, value in request.POST.items():
        if key.startswith("expected-"):
            try:
                amount = Decimal(value)
            except InvalidOperation:
                continue
            if amount.is_finite():
                expected[key.removeprefix("expected-")] = amount
    lead = group.lead_guest
    reason = request.POST.get("reason", "").strip()[:1000] or "Cancelled by the guest with the whole group booking."
    result = group_payments.cancel_group(group_id=group.pk, actor=Actor.guest(lead.email if lead else ""),
                                         reason=reason, expected_refunds=expected)
    for cancelled in result.cancelled:
        messages.success(request, _("%(ref)s is cancelled. Refund: %(amount)s.") % {
            "ref": cancelled.booking.reference,
            "amount": format_money(cancelled.refunded, cancelled.booking.currency)})
    for booking, why in result.skipped:
        messages.warning(request, _("%(ref)s was not cancelled: %(why)s") % {"ref": booking.reference, "why": why})
    return redirect(group_url(group))
