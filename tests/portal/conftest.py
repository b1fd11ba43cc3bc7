"""Guest portal and email tests. Payments run against the session's localstripe (see tests/payments/conftest.py)."""

import pytest

from bookings import services
from core.actor import Actor
from payments import services as payment_services
from tests.factories import PropertyFactory
from tests.payments.conftest import VISA, card, stripe_settings  # noqa: F401  (fixtures)

GUEST = Actor.guest("ada@example.com")


@pytest.fixture
def run_on_commit(django_capture_on_commit_callbacks):
    """Run the on-commit callbacks (outbox delivery → email consumer → send task) of what happens inside."""
    return lambda: django_capture_on_commit_callbacks(execute=True)


@pytest.fixture
def paid(book, card):  # noqa: F811
    """A confirmed booking paid in full by card, of a property with ``policy``, ``start`` days ahead."""

    def _paid(policy="moderate", start=40, nights=3, prop=None):
        prop = prop or PropertyFactory(cancellation_policy=policy)
        booking = book(prop, start=start, nights=nights)
        result = payment_services.start_card_payment(booking_id=booking.pk, payment_method_id=card(booking, VISA),
                                                     actor=GUEST)
        assert result.status == "succeeded"
        booking.refresh_from_db()
        return booking

    return _paid


@pytest.fixture
def confirmed(book, prop):
    """A confirmed (owner-accepted, unpaid) booking of ``prop``."""

    def _confirmed(start=10, nights=3, **kwargs):
        booking = book(prop, start=start, nights=nights, **kwargs)
        return services.confirm(booking_id=booking.pk, actor=Actor.system("test"))

    return _confirmed
