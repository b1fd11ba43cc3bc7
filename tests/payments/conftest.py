"""Payments tests run against a real localstripe server (one per test session, on a free port: the
``localstripe`` fixture of tests/conftest.py).

Cards go through the same path as the browser: a SetupIntent from the app, confirmed
with the publishable key like the fake Stripe.js's ``confirmCardSetup`` does, and
3-D Secure is completed like its ``confirmCardPayment``. Webhooks are signed here
with Stripe's scheme (``t=…,v1=HMAC-SHA256(secret, "t.payload")``).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
import uuid
from datetime import timedelta

import pytest
import requests
from django.utils import timezone

from bookings import services as booking_services
from bookings.tokens import booking_access_token
from core.actor import Actor
from payments.providers.stripe import StripeProvider

WEBHOOK_SECRET = "whsec_test_secret"  # noqa: S105
VISA = "4242424242424242"
DECLINED = "4000000000000341"
THREE_DS = "4000002500003155"


@pytest.fixture(autouse=True)
def stripe_settings(settings, localstripe):
    settings.STRIPE_SECRET_KEY = "sk_test_local"
    settings.STRIPE_PUBLISHABLE_KEY = "pk_test_local"
    settings.STRIPE_API_BASE = localstripe.url
    settings.STRIPE_JS_URL = f"{localstripe.url}/js.stripe.com/v3/"
    settings.STRIPE_WEBHOOK_SECRET = WEBHOOK_SECRET
    settings.PAYMENT_MAX_ATTEMPTS = 3
    settings.PAYMENT_THROTTLE = "1000/min"
    return settings


@pytest.fixture
def run_on_commit(django_capture_on_commit_callbacks):
    """Run what is queued for after commit (refunds and intent cancellations sent to Stripe, outbox deliveries) at
    the end of the block: the ``db`` fixture's transaction never commits, and nothing talks to Stripe before."""
    return lambda: django_capture_on_commit_callbacks(execute=True)


@pytest.fixture
def card(localstripe):
    """A PaymentMethod id for a card number, collected the way the fake Stripe.js does it."""

    def _card(booking, number=VISA):
        _id, secret = StripeProvider().create_setup(booking)
        seti = secret.split("_secret_")[0]
        response = requests.post(f"{localstripe.url}/v1/setup_intents/{seti}/confirm", timeout=10, json={
            "key": "pk_test_local", "use_stripe_sdk": True, "client_secret": secret,
            "payment_method_data": {"type": "card", "card": {"number": number, "exp_month": 12, "exp_year": 2030,
                                                             "cvc": "123"}},
        })
        assert response.status_code == 200, response.text
        return response.json()["payment_method"]

    return _card


@pytest.fixture
def authenticate(localstripe):
    """Finish (or fail) 3-D Secure like the fake Stripe.js's confirmCardPayment."""

    def _auth(client_secret, success=True):
        pi = client_secret.split("_secret_")[0]
        response = requests.post(f"{localstripe.url}/v1/payment_intents/{pi}/_authenticate",
                                 params={"success": "true" if success else "false"}, timeout=10,
                                 json={"key": "pk_test_local", "client_secret": client_secret})
        assert response.status_code == 200, response.text
        return response.json()

    return _auth


@pytest.fixture
def reserved(prop, book):
    """A reserved booking of ``prop`` (3 nights from day 40), waiting for its payment."""

    def _reserved(start=40, nights=3, **kwargs):
        return book(prop, start=start, nights=nights, **kwargs)

    return _reserved


@pytest.fixture
def awaiting_3ds(reserved, card, authenticate):
    """A booking whose payment completed 3-D Secure at Stripe, but the app has not heard of it yet."""
    from payments import services

    booking = reserved()
    result = services.start_card_payment(booking_id=booking.pk, payment_method_id=card(booking, THREE_DS),
                                         actor=Actor.guest("ada@example.com"))
    authenticate(result.client_secret, success=True)
    return booking, result.payment


def sign(payload: bytes, secret: str = WEBHOOK_SECRET, timestamp: int | None = None) -> str:
    t = int(time.time()) if timestamp is None else timestamp
    signature = hmac.new(secret.encode(), f"{t}.".encode() + payload, hashlib.sha256).hexdigest()
    return f"t={t},v1={signature}"


def event(event_type: str, obj: dict, event_id: str | None = None) -> bytes:
    return json.dumps({
        "id": event_id or f"evt_{uuid.uuid4().hex[:14]}", "object": "event", "type": event_type,
        "created": int(time.time()), "livemode": False, "api_version": "2017-08-15", "data": {"object": obj},
    }).encode()


@pytest.fixture
def post_event(client):
    """POST a signed event to the webhook endpoint; returns the response."""

    def _post(event_type, obj, event_id=None, *, secret=WEBHOOK_SECRET, timestamp=None, payload=None):
        body = payload if payload is not None else event(event_type, obj, event_id)
        return client.post("/payments/stripe/webhook", data=body, content_type="application/json",
                           headers={"Stripe-Signature": sign(body, secret, timestamp)})

    return _post


def intent_dict(payment_intent_id: str) -> dict:
    """The PaymentIntent as localstripe reports it now (a webhook's data.object)."""
    return StripeProvider().client.v1.payment_intents.retrieve(payment_intent_id).to_dict()


def token(booking) -> str:
    return booking_access_token(booking)


def take_dates(prop, booking, guest_input):
    """Another guest books ``booking``'s dates once its hold has run out (the expiry sweep runs inside)."""
    return booking_services.reserve(property_id=prop.pk, check_in=booking.check_in, check_out=booking.check_out,
                                    adults=2, guest=guest_input, actor=Actor.system("other guest"))


def let_hold_run_out(booking, minutes=1):
    """Time travel for tests: move the hold's deadline ``minutes`` into the past (as if the guest took too long)."""
    from bookings.models import Booking

    Booking.objects.filter(pk=booking.pk).update(expires_at=timezone.now() - timedelta(minutes=minutes))
    booking.refresh_from_db()
    return booking


