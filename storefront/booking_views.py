"""Guest pages of the booking flow: details → payment (``payments:pay``) → status / confirmation, and the .ics file.

Thin: forms parse, ``storefront.checkout`` runs the reservation once per form
token, ``bookings.services`` writes. Pages reached with a booking's access
token answer 404 for a wrong or missing token, exactly as for an unknown
reference.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods

from bookings.group_links import group_url
from bookings.ics import booking_calendar
from bookings.links import payment_url, status_url
from bookings.models import CONFIRMED_STATUSES, Booking, BookingStatus
from bookings.tokens import booking_for_guest_token
from guests.countries import country_name
from messaging.services import mark_read_by_guest
from properties.forms import stay_from_get, stay_query

from .checkout import reserve_from_details, throttle_reservation
from .forms import GuestDetailsForm
from .portal import portal_context
from .referrals import referral_of
from .selectors import policy_info, property_for_page, stay_quote

STAY_FIELDS = ("check_in", "check_out", "adults", "children")


def _stay_of(form) -> dict | None:
    """The stay part of a validated form, when it is all valid."""
    data = getattr(form, "cleaned_data", {})
    if any(name in form.errors for name in STAY_FIELDS):
        return None
    if data.get("check_in") is None or data.get("check_out") is None or data.get("adults") is None:
        return None
    return {name: data.get(name) or 0 for name in STAY_FIELDS}


@never_cache
@require_http_methods(["GET", "POST"])
def details(request, slug):
    """Step 2: the guest's details. POST reserves the stay and redirects to the payment page."""
    prop = property_for_page(slug)
    if prop is None:
        raise Http404("No such property.")
    now = timezone.now()
    outcome = None
    status_code = 200
    if request.method == "POST":
        form = GuestDetailsForm(request.POST, prop=prop)
        if form.is_valid():
            wait = throttle_reservation(request)
            if wait:
                status_code = 429
                outcome = {"detail": ngettext(
                    "Too many booking attempts from your connection. Please wait %(count)d second and try again.",
                    "Too many booking attempts from your connection. Please wait %(count)d seconds and try again.",
                    wait) % {"count": wait}, "messages": []}
            else:
                result = reserve_from_details(property_id=prop.pk, data=form.cleaned_data,
                                              referral=referral_of(request))
                if result.booking is not None:
                    return redirect(payment_url(result.booking))
                outcome = {"detail": result.detail, "messages": result.messages}
            form.data = form.data.copy()
            form.data["form_token"] = str(uuid.uuid4())  # the old token has its answer stored; a new attempt needs one
        elif "form_token" in form.errors:
            form.data = form.data.copy()
            form.data["form_token"] = str(uuid.uuid4())
        stay = _stay_of(form)
    else:
        stay_form = stay_from_get(request.GET, dates_required=True, prop=prop)
        stay = _stay_of(stay_form) if stay_form.is_bound and stay_form.is_valid() else None
        form = GuestDetailsForm(initial={**(stay or {}), "form_token": uuid.uuid4()}, prop=prop)
        if stay is None:
            form = None
            if stay_form.is_bound:
                stay_form.is_valid()
                outcome = {"detail": _("Please choose your stay again."),
                           "messages": [e for errors in stay_form.errors.values() for e in errors]}

    quote = None
    if stay is not None:
        quote = stay_quote(prop, stay["check_in"], stay["check_out"], stay["adults"] + stay["children"], at=now)
        if request.method == "GET" and not quote.bookable:
            form = None  # nothing to fill in until the dates are changed; the reasons say why
    change_query = stay_query(stay["check_in"], stay["check_out"], stay["adults"], stay["children"]) if stay else ""
    return render(request, "bookings/details.html", {
        "prop": prop, "form": form, "quote": quote, "stay": stay, "outcome": outcome,
        "policy": policy_info(prop), "change_query": change_query,
        "hold_minutes": settings.BOOKING_HOLD_MINUTES, "country_name": country_name(prop.country),
    }, status=status_code)


def _guest_booking(request, reference: str) -> Booking:
    booking = booking_for_guest_token(reference, request.GET.get("token", ""))
    if booking is None:
        raise Http404("There is no booking with this reference.")
    return booking


def _booking_context(request, booking: Booking) -> dict:
    now = timezone.now()
    live = booking.awaits_payment(now)
    seconds_left = int((booking.expires_at - now).total_seconds()) if live and booking.expires_at else 0
    prop = booking.property
    policy = booking.cancellation_policy or policy_info(prop)
    return {
        "booking": booking, "prop": prop, "live": live, "seconds_left": max(0, seconds_left),
        "minutes_left": max(0, seconds_left) // 60, "pay_url": payment_url(booking) if live else "",
        "portal_url": status_url(booking), "ics_url": status_url(booking, "bookings:calendar"),
        "policy": policy, "country_name": country_name(prop.country),
        "expired": booking.status == BookingStatus.EXPIRED
        or (booking.status == BookingStatus.RESERVED and not live),
        "confirmed": booking.status in CONFIRMED_STATUSES,
        "cancelled": booking.status == BookingStatus.CANCELLED,
        "property_url_query": stay_query(booking.check_in, booking.check_out, booking.adults, booking.children),
    }


@never_cache
@require_GET
def booking_status(request, reference):
    """The guest's booking page and portal: time left while reserved, the confirmation once confirmed, and the
    guest's actions (pay, cancel, receipt, message the owner; ``storefront.portal_views``)."""
    booking = _guest_booking(request, reference)
    response = render(request, "bookings/status.html", {**_booking_context(request, booking),
                                                        **portal_context(booking), **_group_context(booking)})
    mark_read_by_guest(booking_id=booking.pk)  # after rendering: what was new is marked new on this view
    return response


def _group_context(booking: Booking) -> dict:
    """A booking of a group links to its group's page and to the other bookings (their own magic links: the same
    lead guest booked them all)."""
    if booking.group_id is None:
        return {}
    group = booking.group
    others = Booking.objects.filter(group_id=booking.group_id).exclude(pk=booking.pk).select_related("property")
    return {"group": group, "group_url": group_url(group),
            "group_others": [{"booking": other, "url": status_url(other)} for other in others.order_by("pk")]}


@never_cache
@require_GET
def booking_calendar_file(request, reference):
    booking = _guest_booking(request, reference)
    body = booking_calendar(booking, url=request.build_absolute_uri(status_url(booking)))
    response = HttpResponse(body, content_type="text/calendar; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{booking.reference}.ics"'
    return response
