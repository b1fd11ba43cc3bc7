"""Payment endpoints: the payment page, its JSON calls and the Stripe webhook.

``GET /payments/<reference>/pay/?token=`` (``payments:pay``, :func:`pay_page`) is the
guest's payment step: the reservation, the time left, the policy, the attempts left
and a card form driven by ``static/js/pay.js`` through the calls below (Stripe.js is
loaded from the ``js_url`` that ``/setup`` returns: localstripe's fake one offline, the
real one with real keys). Expired, cancelled and confirmed bookings get a notice
instead of the form; a wrong or missing token gives 404.

Contract of the payment page's calls (all ``POST``, JSON in and out). The guest
proves access with the booking's signed access token
(``bookings.tokens.booking_access_token``) as ``?token=``, a ``"token"`` field in
the JSON body, or an ``X-Booking-Token`` header; a wrong or missing token gives
404 exactly like an unknown reference. They are normal Django views, so the
page sends its CSRF token (``X-CSRFToken`` header). The amount is always the
booking's balance, never anything from the request.

``POST /payments/<reference>/setup``
    → 200 ``{"client_secret", "publishable_key", "js_url", "amount", "currency", "attempts_left"}``.
    A SetupIntent for ``stripe.confirmCardSetup(client_secret, {payment_method: {card: cardElement}})``
    (Stripe.js from ``js_url``); its ``setupIntent.payment_method`` is what ``/card`` takes.

``POST /payments/<reference>/card`` ``{"payment_method_id": "pm_…"}``
    → 200 ``{"status": "succeeded" | "requires_action" | "failed" | "refunded" | "pending", "booking_status",
    "payment_status", "attempt", "attempts_left", "client_secret"?, "error"?}``.
    ``requires_action``: call ``stripe.confirmCardPayment(client_secret)`` then ``/return``.
    ``refunded``: paid, but the dates could not be kept, so the money went straight back (show ``error``).
    ``failed``: show ``error``; the guest may retry while ``attempts_left`` > 0 (after the last
    failure the reservation is released: ``booking_status`` is ``cancelled``).
    Errors: 409 ``{"code": "payment_not_allowed" | "too_many_attempts", "detail"}`` (not payable:
    expired, already paid, released), 502 ``{"code": "provider_error"}``, 400 ``{"code": "invalid"}``
    (no payment method), 429 ``{"code": "throttled"}`` (more than ``PAYMENT_THROTTLE`` per client and
    booking; ``/setup`` has its own counter at the same rate).

``POST /payments/<reference>/return``
    → 200 ``{"booking_status", "payment_status", "amount_paid", "amount_refunded", "currency"}`` after
    asking Stripe about the booking's open attempts (confirms the booking if one succeeded, without
    waiting for the webhook; idempotent with it).

``POST /payments/stripe/webhook``: Stripe events, signature checked with ``STRIPE_WEBHOOK_SECRET``
(400 ``bad_signature`` if missing, bad or stale), each event applied at most once
(``payments.webhooks.process_webhook_event``). A validly signed event that is malformed or of a type this app
does not handle gets 200 ``{"received": true, "outcome": "ignored…"}`` and a log line. With card payment not set
up (``STRIPE_MODE=off``, or no webhook secret) every event gets 503 ``card_payment_not_set_up`` and changes nothing.

Card payment not set up (``payments.providers.stripe.card_payments_enabled``: ``STRIPE_MODE=off`` or no keys):
the page shows the owner's manual methods or says so, and ``/setup`` and ``/card`` answer 503
``{"code": "card_payment_not_set_up"}``.
"""

from __future__ import annotations

import json
import logging

import stripe
from django.conf import settings
from django.http import Http404, JsonResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt, ensure_csrf_cookie
from django.views.decorators.http import require_GET, require_POST

from bookings.links import status_url
from bookings.models import Booking
from bookings.tokens import booking_access_token, booking_for_guest_token
from core import metrics, ratelimit
from core.actor import Actor
from core.client_address import client_key
from core.errors import DomainError
from guests.countries import country_name
from properties.forms import stay_query

from . import selectors, services, webhooks
from .errors import ProviderError
from .providers.stripe import card_payments_enabled, webhook_secret

logger = logging.getLogger(__name__)


def _error(code: str, detail: str, status: int) -> JsonResponse:
    return JsonResponse({"code": code, "detail": detail}, status=status)


def _body(request) -> dict:
    try:
        data = json.loads(request.body or b"{}")
    except (ValueError, UnicodeDecodeError):
        return {}
    return data if isinstance(data, dict) else {}


def _guest_booking(request, reference: str, body: dict) -> Booking:
    token = request.GET.get("token") or body.get("token") or request.headers.get("X-Booking-Token", "")
    booking = booking_for_guest_token(reference, token)
    if booking is None:
        raise Http404("No such booking.")
    return booking


def _card_unavailable() -> JsonResponse:
    return _error("card_payment_not_set_up", _("Card payment is not set up on this site."), 503)


def _throttled(request, reference: str, action: str = "card") -> bool:
    key = f"payments-{action}:{client_key(request)}:{reference}"
    return bool(ratelimit.hit(key, settings.PAYMENT_THROTTLE))



@never_cache
@ensure_csrf_cookie
@require_GET
def pay_page(request, reference):
    """The payment step: a notice instead of the form unless the booking can be paid now."""
    booking = _guest_booking(request, reference, {})
    page = selectors.payment_page(booking, timezone.now())
    return render(request, "payments/pay.html", {
        "booking": booking, "prop": booking.property, "page": page, "policy": page.policy,
        "confirmed": page.state == selectors.PageState.CONFIRMED, "expired": page.state == selectors.PageState.EXPIRED,
        "country_name": country_name(booking.property.country),
        "token": booking_access_token(booking), "status_url": status_url(booking),
        "property_url_query": stay_query(booking.check_in, booking.check_out, booking.adults, booking.children),
        "card_enabled": card_payments_enabled(),
        "test_mode": settings.STRIPE_PUBLISHABLE_KEY.startswith("pk_test_"),
        **manual_context(booking, page),
    })


def manual_context(booking: Booking, page) -> dict:
    """The owner's active manual methods and the guest's open manual payment on one (one query, only while payable)."""
    from django.db.models import OuterRef, Subquery
    from django.urls import reverse

    from .manual import OPEN
    from .models import HostPaymentMethod, ManualPayment

    context = {"manual_methods": [], "manual_payment": None, "manual_url": "",
               "manual_hours": settings.MANUAL_PAYMENT_TIMEOUT_HOURS}
    if not page.payable:
        return context
    open_rows = ManualPayment.objects.filter(booking=booking, method=OuterRef("pk"), status__in=OPEN)
    methods = list(HostPaymentMethod.objects.filter(owner_id=booking.property.owner_id, active=True).annotate(
        open_code=Subquery(open_rows.values("code")[:1]), open_status=Subquery(open_rows.values("status")[:1])))
    context["manual_methods"] = methods
    chosen = next((m for m in methods if m.open_code), None)
    if chosen is not None:
        context["manual_payment"] = chosen
        context["manual_url"] = (f"{reverse('payments:manual', args=[booking.reference, chosen.open_code])}"
                                 f"?token={booking_access_token(booking)}")
    return context


@require_POST
def card_setup(request, reference):
    body = _body(request)
    booking = _guest_booking(request, reference, body)
    if not card_payments_enabled():
        return _card_unavailable()
    if _throttled(request, reference, "setup"):
        return _error("throttled", _("Too many payment attempts; please wait a minute."), 429)
    try:
        due = services.check_payable(booking, timezone.now())
        setup_id, client_secret = services.prepare_card_setup(booking=booking)
    except DomainError as exc:
        return JsonResponse(exc.as_dict(), status=exc.http_status)
    return JsonResponse({
        "client_secret": client_secret, "publishable_key": settings.STRIPE_PUBLISHABLE_KEY,
        "js_url": settings.STRIPE_JS_URL, "amount": str(due),
        "currency": booking.currency, "attempts_left": services.attempts_left(booking),
    })


@require_POST
def card_payment(request, reference):
    body = _body(request)
    booking = _guest_booking(request, reference, body)
    if not card_payments_enabled():
        return _card_unavailable()
    payment_method_id = body.get("payment_method_id")
    if not isinstance(payment_method_id, str) or not payment_method_id.startswith(("pm_", "card_", "src_")):
        return _error("invalid", _("A card payment method is required."), 400)
    if _throttled(request, reference):
        return _error("throttled", _("Too many payment attempts; please wait a minute."), 429)
    try:
        result = services.start_card_payment(booking_id=booking.pk, payment_method_id=payment_method_id[:255],
                                             actor=Actor.guest_of(booking))
    except DomainError as exc:
        return JsonResponse(exc.as_dict(), status=exc.http_status)
    return JsonResponse(result.as_dict())


@require_POST
def payment_return(request, reference):
    body = _body(request)
    booking = _guest_booking(request, reference, body)
    try:
        booking = services.sync_from_provider(booking_id=booking.pk)
    except DomainError as exc:
        return JsonResponse(exc.as_dict(), status=exc.http_status)
    return JsonResponse({
        "booking_status": booking.status, "payment_status": booking.payment_status,
        "amount_paid": str(booking.amount_paid), "amount_refunded": str(booking.amount_refunded),
        "currency": booking.currency,
    })


@csrf_exempt
@require_POST
@metrics.timed_webhook("stripe")
def stripe_webhook(request):
    secret = webhook_secret()
    if not secret:  # STRIPE_MODE=off, or no STRIPE_WEBHOOK_SECRET: nothing can be verified, so nothing is accepted
        logger.warning("Stripe webhook refused: card payment is not set up (STRIPE_MODE=%s, webhook secret %s).",
                       settings.STRIPE_MODE, "set" if settings.STRIPE_WEBHOOK_SECRET else "missing")
        return _error("card_payment_not_set_up", "Card payment is not set up; no Stripe event is accepted.", 503)
    payload = request.body
    try:
        stripe.WebhookSignature.verify_header(payload.decode("utf-8"), request.headers.get("Stripe-Signature", ""),
                                              secret, stripe.Webhook.DEFAULT_TOLERANCE)
    except (stripe.SignatureVerificationError, UnicodeDecodeError):
        return _error("bad_signature", "The Stripe-Signature header is missing, wrong or stale.", 400)
    try:
        event_id, event_type, obj = webhooks.parse_event(payload)
    except webhooks.MalformedEvent as exc:  # signed by Stripe, so acknowledged (no retries); nothing changes
        logger.warning("Stripe event ignored, malformed: %r", str(exc))
        return JsonResponse({"received": True, "outcome": f"ignored: malformed ({exc})"})
    try:
        outcome = webhooks.process_webhook_event(event_id=event_id, event_type=event_type, obj=obj)
    except ProviderError as exc:  # e.g. an automatic refund failed: nothing was recorded, Stripe retries
        logger.warning("Stripe event %s %s not applied: %s", event_type, event_id, exc.detail)
        return JsonResponse({"received": False, "detail": exc.detail}, status=503)
    logger.info("Stripe event %s %s: %s", event_type, event_id, outcome)
    return JsonResponse({"received": True, "outcome": outcome})

