"""Deposits, balances and security deposits against localstripe (the session's ``localstripe`` fixture).

The payments fixtures are reused (Stripe settings, the card helpers); a card is saved the way the payment page
saves it: ``payments.services.prepare_card_setup`` (a customer and an off-session SetupIntent), confirmed like the
fake Stripe.js's ``confirmCardSetup``."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
import requests

from core.actor import Actor
from payments import services
from payments.models import PaymentSchedule, SavedCard, ScheduleMode
from tests.payments.conftest import (  # noqa: F401  (fixtures)
    THREE_DS,
    VISA,
    authenticate,
    card,
    post_event,
    reserved,
    run_on_commit,
    stripe_settings,
)

DECLINES_CHARGES = "4000000000000341"  # attaches fine, every charge declined (Stripe's test card)
GUEST = Actor.guest("ada@example.com")


@pytest.fixture
def deposit_schedule(prop):
    """30% at booking, the balance 30 days before arrival, flagged 14 days before, 200 EUR security deposit."""
    return PaymentSchedule.objects.create(property=prop, mode=ScheduleMode.DEPOSIT, deposit_percent=Decimal(30),
                                          balance_days_before=30, deadline_days_before=14,
                                          security_deposit=Decimal(200))


def confirm_setup(localstripe, client_secret: str, number: str) -> str:
    seti = client_secret.split("_secret_")[0]
    response = requests.post(f"{localstripe.url}/v1/setup_intents/{seti}/confirm", timeout=10, json={
        "key": "pk_test_local", "use_stripe_sdk": True, "client_secret": client_secret,
        "payment_method_data": {"type": "card", "card": {"number": number, "exp_month": 12, "exp_year": 2030,
                                                         "cvc": "123"}}})
    assert response.status_code == 200, response.text
    return response.json()["payment_method"]


@pytest.fixture
def saving_card(localstripe):
    """A PaymentMethod id collected on the payment page (customer + off-session SetupIntent when the plan needs it)."""

    def _card(booking, number=VISA):
        _id, secret = services.prepare_card_setup(booking=booking)
        return confirm_setup(localstripe, secret, number)

    return _card


@pytest.fixture
def paid_deposit(reserved, deposit_schedule, saving_card):  # noqa: F811  (the imported fixture)
    """A booking 60 days out whose 30% deposit was paid by card (card saved): confirmed, partially paid."""

    def _paid(start=60, nights=4):
        booking = reserved(start=start, nights=nights)
        result = services.start_card_payment(booking_id=booking.pk, payment_method_id=saving_card(booking),
                                             actor=GUEST)
        assert result.status == "succeeded", result.error
        booking.refresh_from_db()
        return booking

    return _paid


@pytest.fixture
def swap_card(localstripe):
    """Replace the booking's saved card by another one (e.g. a card that now declines), as Stripe would hold it."""

    def _swap(booking, number):
        card_row = SavedCard.objects.get(booking=booking)
        from payments.providers.stripe import StripeProvider

        _id, secret = StripeProvider().create_setup(booking, customer_id=card_row.customer_id)
        card_row.payment_method_id = confirm_setup(localstripe, secret, number)
        card_row.save()
        return card_row

    return _swap


def due_today(booking, **fields):
    """Time travel: make the booking's balance fall due today (and move its deadline with it)."""
    from payments.models import PaymentPlan
    from properties.pricing import local_today

    today = local_today(booking.property)
    values = {"balance_due_on": today, "deadline_on": today + timedelta(days=5), **fields}
    PaymentPlan.objects.filter(booking=booking).update(**values)
