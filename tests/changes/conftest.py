"""Changing a booking: money runs against the session's localstripe (see tests/payments/conftest.py), so a
refund of a decrease really goes to (fake) Stripe after commit."""

from __future__ import annotations

import pytest

from bookings import services
from core.actor import Actor
from payments import services as payment_services
from payments.changes import change_with_payment
from tests.factories import PropertyFactory
from tests.payments.conftest import VISA, card, stripe_settings  # noqa: F401  (fixtures)

GUEST = Actor.guest("ada@example.com")
OWNER_ACTOR = Actor.system("owner-test")


@pytest.fixture
def run_on_commit(django_capture_on_commit_callbacks):
    """Run the on-commit callbacks (outbox delivery → consumers → refunds and emails) of what happens inside."""
    return lambda: django_capture_on_commit_callbacks(execute=True)


@pytest.fixture
def paid(book, card):  # noqa: F811
    """A confirmed booking paid in full by card, ``start`` days ahead, of ``prop`` or a new property."""

    def _paid(policy="moderate", start=40, nights=3, prop=None, **kwargs):
        prop = prop or PropertyFactory(cancellation_policy=policy, **kwargs)
        booking = book(prop, start=start, nights=nights)
        result = payment_services.start_card_payment(booking_id=booking.pk, payment_method_id=card(booking, VISA),
                                                     actor=GUEST)
        assert result.status == "succeeded"
        booking.refresh_from_db()
        assert booking.status == "confirmed" and booking.payment_status == "paid"
        return booking

    return _paid


@pytest.fixture
def confirmed(book):
    """A confirmed (owner-accepted, unpaid) booking."""

    def _confirmed(prop, start=10, nights=3, **kwargs):
        booking = book(prop, start=start, nights=nights, **kwargs)
        return services.confirm(booking_id=booking.pk, actor=Actor.system("test"))

    return _confirmed


@pytest.fixture
def change():
    """``payments.changes.change_with_payment`` as the owner by default (``by_guest=True`` for the guest)."""

    def _change(booking, **kwargs):
        kwargs.setdefault("actor", GUEST if kwargs.get("by_guest") else OWNER_ACTOR)
        return change_with_payment(booking_id=booking.pk, **kwargs)

    return _change
