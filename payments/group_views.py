"""The group payment page and its JSON calls: one card payment for every booking of a group (``payments.groups``).

``GET /payments/groups/<reference>/pay/?token=`` (``payments:group-pay``): each stay with its share, the total, and
the card form driven by the same ``static/js/pay.js`` as a single booking's page, against the calls below (same
contract as ``payments.views``: ``/setup``, ``/card``, ``/return``, the token as ``?token=``, a JSON ``token`` or
``X-Booking-Token``, here the group's token from ``bookings.group_links``; a wrong token is a 404). The amount is
always the sum of the bookings' balances, never anything from the request. Manual payment methods are not offered
for a group (each booking's own payment page still offers them).
"""

from __future__ import annotations

from django.conf import settings
from django.http import Http404, JsonResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import ensure_csrf_cookie
from django.views.decorators.http import require_GET, require_POST

from bookings.group_links import group_access_token, group_for_guest_token, group_url
from core.actor import Actor
from core.errors import DomainError

from . import groups
from .errors import PaymentNotAllowed
from .providers import get_provider
from .providers.stripe import card_payments_enabled
from .views import _body, _card_unavailable, _error, _throttled


def _group(request, reference: str, body: dict):
    token = request.GET.get("token") or body.get("token") or request.headers.get("X-Booking-Token", "")
    group = group_for_guest_token(reference, token)
    if group is None:
        raise Http404("No such group booking.")
    return group


@never_cache
@ensure_csrf_cookie
@require_GET
def group_pay_page(request, reference):
    group = _group(request, reference, {})
    now = timezone.now()
    bookings = groups.group_bookings(group)
    try:
        due = groups.group_due(group, now, bookings)
    except PaymentNotAllowed:
        due = None
    # The first hold to lapse decides: its countdown, in its property's zone (the same one for a group in one place).
    holding = [s.booking for s in due.shares if s.booking.expires_at] if due else []
    hold_booking = min(holding, key=lambda booking: booking.expires_at, default=None)
    expires = hold_booking.expires_at if hold_booking else None
    seconds_left = max(0, int((expires - now).total_seconds())) if expires else 0
    attempts_left = groups.group_attempts_left(bookings)
    return render(request, "payments/group_pay.html", {
        "group": group, "bookings": bookings, "due": due, "expires_at": expires, "hold_booking": hold_booking,
        "seconds_left": seconds_left, "attempts_left": attempts_left,
        "max_attempts": settings.PAYMENT_MAX_ATTEMPTS, "payable": due is not None and attempts_left > 0,
        "card_enabled": card_payments_enabled(), "token": group_access_token(group), "group_url": group_url(group),
        "test_mode": settings.STRIPE_PUBLISHABLE_KEY.startswith("pk_test_"),
    })


@require_POST
def group_card_setup(request, reference):
    body = _body(request)
    group = _group(request, reference, body)
    if not card_payments_enabled():
        return _card_unavailable()
    if _throttled(request, reference, "setup"):
        return _error("throttled", "Too many payment attempts; please wait a minute.", 429)
    try:
        bookings = groups.group_bookings(group)
        due = groups.check_group_payable(groups.group_due(group, timezone.now(), bookings))
        _setup_id, client_secret = get_provider().create_setup(due.shares[0].booking)
    except DomainError as exc:
        return JsonResponse(exc.as_dict(), status=exc.http_status)
    return JsonResponse({
        "client_secret": client_secret, "publishable_key": settings.STRIPE_PUBLISHABLE_KEY,
        "js_url": settings.STRIPE_JS_URL, "amount": str(due.total), "currency": due.currency,
        "attempts_left": groups.group_attempts_left(bookings),
    })


@require_POST
def group_card_payment(request, reference):
    body = _body(request)
    group = _group(request, reference, body)
    if not card_payments_enabled():
        return _card_unavailable()
    payment_method_id = body.get("payment_method_id")
    if not isinstance(payment_method_id, str) or not payment_method_id.startswith(("pm_", "card_", "src_")):
        return _error("invalid", "A card payment method is required.", 400)
    if _throttled(request, reference):
        return _error("throttled", "Too many payment attempts; please wait a minute.", 429)
    lead = group.lead_guest
    try:
        result = groups.start_group_card_payment(group_id=group.pk, payment_method_id=payment_method_id[:255],
                                                 actor=Actor.guest(lead.email if lead else group.reference))
    except DomainError as exc:
        return JsonResponse(exc.as_dict(), status=exc.http_status)
    return JsonResponse(result.as_dict())


@require_POST
def group_payment_return(request, reference):
    body = _body(request)
    group = _group(request, reference, body)
    try:
        bookings = groups.sync_group_from_provider(group_id=group.pk)
    except DomainError as exc:
        return JsonResponse(exc.as_dict(), status=exc.http_status)
    return JsonResponse(groups.GroupCardResult(status="", bookings=bookings,
                                               attempts_left=groups.group_attempts_left(bookings)).as_dict())
