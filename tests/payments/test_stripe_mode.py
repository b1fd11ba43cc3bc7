"""STRIPE_MODE (config/stripe_mode.py): the local fake Stripe only with DEBUG on or when asked for; in production
without Stripe keys card payment is off, the webhook refuses every event and ``check --deploy`` says so.

The production tests load ``config/settings.py`` afresh with ``DJANGO_DEBUG=false`` and the given environment
(:func:`production_settings`) and apply its ``STRIPE_*`` values with the ``settings`` fixture, so they exercise
exactly what a server started that way would get.
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import pytest
from django.core import checks
from django.core.exceptions import ImproperlyConfigured

import config
from bookings.models import BookingStatus
from bookings.models import PaymentStatus as BP
from core.actor import Actor
from payments import services
from payments.models import HostPaymentMethod, Payment, PaymentStatus, WebhookEvent
from payments.stripe_mode import LIVE, LOCAL, OFF, stripe_mode_from_env, stripe_settings
from tests.pages.conftest import text
from tests.payments.conftest import THREE_DS, WEBHOOK_SECRET, event, sign, token

STRIPE_CHECKS = ("stayhold.E101", "stayhold.E102", "stayhold.E103", "stayhold.W101")


def production_settings(monkeypatch, **environ) -> dict:
    """The ``STRIPE_*`` settings ``config/settings.py`` gives a server with ``DJANGO_DEBUG=false``, ``environ`` and
    no other ``STRIPE_*`` variable."""
    for name in list(os.environ):
        if name.startswith("STRIPE_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("DJANGO_DEBUG", "false")
    for name, value in environ.items():
        monkeypatch.setenv(name, value)
    # A fresh copy of the settings module (not the one Django loaded), inside the config package.
    spec = importlib.util.spec_from_file_location("config.settings_under_test", Path(config.__file__).parent
                                                  / "settings.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return {name: value for name, value in vars(module).items() if name.startswith("STRIPE_")}


@pytest.fixture
def in_production(settings, monkeypatch):
    """Apply the production settings for an environment: ``in_production(**environ)``."""

    def _apply(**environ):
        values = production_settings(monkeypatch, **environ)
        for name, value in values.items():
            setattr(settings, name, value)
        settings.DEBUG = False
        settings.SECRET_KEY = "a-long-random-production-key-" + "x" * 40
        return values

    return _apply


def stripe_messages():
    return {m.id: m for m in checks.run_checks(include_deployment_checks=True) if m.id in STRIPE_CHECKS}


# --- the mode ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("requested", "debug", "secret_key", "mode"), [
    ("", True, "", LOCAL),  # make run, the tests
    ("", False, "", OFF),  # production without Stripe: never the published local keys
    ("", False, "sk_live_x", LIVE),
    ("", True, "sk_test_x", LIVE),  # a developer trying real Stripe test keys, as before
    ("local", False, "", LOCAL),  # asked for explicitly
    (" OFF ", True, "sk_test_x", OFF),
    ("live", False, "", LIVE),  # and check --deploy reports the missing keys
])
def test_stripe_mode_from_env(requested, debug, secret_key, mode):
    assert stripe_mode_from_env(requested, debug=debug, secret_key=secret_key) == mode


def test_an_unknown_mode_is_refused_at_start():
    with pytest.raises(ImproperlyConfigured, match="STRIPE_MODE must be one of local, live, off"):
        stripe_mode_from_env("fake", debug=True, secret_key="")


def test_debug_defaults_are_localstripe_exactly_as_before():
    assert stripe_settings({}, debug=True) == {
        "STRIPE_MODE": LOCAL, "STRIPE_MODE_EXPLICIT": False, "STRIPE_LOCAL": True, "STRIPE_LOCAL_PORT": 8420,
        "STRIPE_SECRET_KEY": "sk_test_local", "STRIPE_PUBLISHABLE_KEY": "pk_test_local",
        "STRIPE_WEBHOOK_SECRET": "whsec_local", "STRIPE_API_BASE": "http://127.0.0.1:8420",
        "STRIPE_JS_URL": "http://127.0.0.1:8420/js.stripe.com/v3/",
    }


def test_production_without_stripe_settings_has_no_known_secret(monkeypatch):
    values = production_settings(monkeypatch)
    assert values["STRIPE_MODE"] == OFF and values["STRIPE_LOCAL"] is False
    assert values["STRIPE_WEBHOOK_SECRET"] == "" and values["STRIPE_SECRET_KEY"] == ""
    assert values["STRIPE_PUBLISHABLE_KEY"] == "" and values["STRIPE_API_BASE"] == ""
    assert values["STRIPE_JS_URL"] == "https://js.stripe.com/v3/"


def test_production_with_keys_uses_them_and_nothing_local(monkeypatch):
    values = production_settings(monkeypatch, STRIPE_SECRET_KEY="sk_live_1", STRIPE_PUBLISHABLE_KEY="pk_live_1",
                                 STRIPE_WEBHOOK_SECRET="whsec_real")
    assert (values["STRIPE_MODE"], values["STRIPE_SECRET_KEY"], values["STRIPE_PUBLISHABLE_KEY"],
            values["STRIPE_WEBHOOK_SECRET"], values["STRIPE_API_BASE"]) == (
        LIVE, "sk_live_1", "pk_live_1", "whsec_real", "")


def test_the_test_settings_use_localstripe():
    from django.conf import settings

    assert settings.STRIPE_MODE == LOCAL


# --- the attack of issue 11 ----------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_webhook_signed_with_the_published_local_secret_confirms_nothing_in_production(
        reserved, card, client, in_production):
    """The probe: a guest reserves, starts a 3-D Secure card payment (the intent id is in the client secret the
    page gets), then posts ``payment_intent.succeeded`` for 1 USD signed with ``whsec_local``."""
    booking = reserved()
    payment = services.start_card_payment(booking_id=booking.pk, payment_method_id=card(booking, THREE_DS),
                                          actor=Actor.guest("ada@example.com")).payment
    in_production()  # DEBUG off, no Stripe variable
    forged = event("payment_intent.succeeded", {"id": payment.provider_ref, "object": "payment_intent",
                                                "status": "succeeded", "amount": 1, "currency": "usd",
                                                "metadata": {"payment_id": str(payment.pk)}})

    response = client.post("/payments/stripe/webhook", data=forged, content_type="application/json",
                           headers={"Stripe-Signature": sign(forged, "whsec_local")})

    assert response.status_code == 503 and response.json()["code"] == "card_payment_not_set_up"
    booking.refresh_from_db()
    assert (booking.status, booking.payment_status, booking.amount_paid) == (BookingStatus.RESERVED, BP.UNPAID, 0)
    assert Payment.objects.get(pk=payment.pk).status == PaymentStatus.REQUIRES_ACTION
    assert not WebhookEvent.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize("how", ["mode_off", "no_webhook_secret"])
def test_without_a_webhook_secret_every_event_is_refused(how, settings, client, caplog):
    if how == "mode_off":
        settings.STRIPE_MODE = OFF  # even with a secret still configured
    else:
        settings.STRIPE_MODE, settings.STRIPE_WEBHOOK_SECRET = LIVE, ""
    body = event("customer.created", {"id": "cus_1"})

    for secret in (WEBHOOK_SECRET, ""):
        response = client.post("/payments/stripe/webhook", data=body, content_type="application/json",
                               headers={"Stripe-Signature": sign(body, secret)})
        assert response.status_code == 503 and response.json()["code"] == "card_payment_not_set_up"
    assert not WebhookEvent.objects.exists()
    assert "Stripe webhook refused" in caplog.text


# --- check --deploy -----------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_check_deploy_reports_missing_stripe_keys_as_an_error(in_production):
    in_production()
    messages = stripe_messages()
    assert set(messages) == {"stayhold.E102"}
    assert messages["stayhold.E102"].level == checks.ERROR
    assert "STRIPE_SECRET_KEY" in messages["stayhold.E102"].hint and "STRIPE_MODE=off" in messages[
        "stayhold.E102"].hint


@pytest.mark.django_db
@pytest.mark.parametrize(("environ", "expected"), [
    ({"STRIPE_MODE": "off"}, set()),  # manual payments only, on purpose
    ({"STRIPE_SECRET_KEY": "sk_live_1", "STRIPE_PUBLISHABLE_KEY": "pk_live_1", "STRIPE_WEBHOOK_SECRET": "whsec_r"},
     set()),
    ({"STRIPE_SECRET_KEY": "sk_live_1"}, {"stayhold.E101"}),  # no publishable key, no webhook secret
    ({"STRIPE_MODE": "local"}, {"stayhold.E103", "stayhold.W101"}),  # the published whsec_local
    ({"STRIPE_MODE": "local", "STRIPE_WEBHOOK_SECRET": "whsec_own"}, {"stayhold.W101"}),
])
def test_check_deploy_for_each_production_mode(in_production, environ, expected):
    in_production(**environ)
    assert set(stripe_messages()) == expected


@pytest.mark.django_db
def test_check_deploy_names_the_missing_keys(in_production):
    in_production(STRIPE_SECRET_KEY="sk_live_1")
    error = stripe_messages()["stayhold.E101"]
    assert error.level == checks.ERROR
    assert "STRIPE_PUBLISHABLE_KEY, STRIPE_WEBHOOK_SECRET are not set" in error.msg


@pytest.mark.django_db
def test_check_deploy_is_quiet_with_debug_and_localstripe(settings):
    for name, value in stripe_settings({}, debug=True).items():
        setattr(settings, name, value)
    settings.DEBUG = True  # pytest-django turns it off for the tests
    assert stripe_messages() == {}


# --- checkout without card payment -----------------------------------------------------------------------------


@pytest.fixture
def card_off(in_production):
    in_production()


def test_card_payment_is_off_in_production_without_keys(card_off):
    from payments.providers.stripe import card_payments_enabled

    assert card_payments_enabled() is False


@pytest.mark.django_db
def test_the_payment_page_offers_the_owners_manual_methods_instead_of_cards(client, reserved, prop, card_off):
    HostPaymentMethod.objects.create(owner=prop.owner, kind="zelle", handle="pay@owner.example",
                                     display_name="Owner Zelle")
    booking = reserved()

    response = client.get(f"/payments/{booking.reference}/pay/?token={token(booking)}")

    assert response.status_code == 200
    visible, html = text(response), response.content.decode()
    assert "Card payment is not set up" in visible and "Pay the host directly" in visible
    assert "Zelle — Owner Zelle" in visible
    assert f'action="/payments/{booking.reference}/manual/"' in html
    assert 'id="pay-form"' not in html and "js/pay.js" not in html and "Card payment needs JavaScript" not in visible


@pytest.mark.django_db
def test_without_manual_methods_the_page_says_card_payment_is_not_set_up(client, reserved, card_off):
    booking = reserved()
    response = client.get(f"/payments/{booking.reference}/pay/?token={token(booking)}")
    visible, html = text(response), response.content.decode()
    assert "Card payment is not set up" in visible
    assert "the host has not added another way to pay here yet" in visible and "Nothing has been charged" in visible
    assert 'id="pay-form"' not in html and 'name="method"' not in html


@pytest.mark.django_db
@pytest.mark.parametrize("call", ["setup", "card"])
def test_the_card_calls_answer_503_and_create_nothing(client, reserved, card_off, call):
    booking = reserved()
    response = client.post(f"/payments/{booking.reference}/{call}?token={token(booking)}",
                           data={"payment_method_id": "pm_card_visa"}, content_type="application/json")
    assert response.status_code == 503
    assert response.json() == {"code": "card_payment_not_set_up", "detail": "Card payment is not set up on this site."}
    assert not Payment.objects.exists()
