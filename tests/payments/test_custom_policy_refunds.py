"""A guest cancelling a card-paid booking of a property with custom tiers gets the tier's refund from Stripe."""

from datetime import timedelta
from decimal import Decimal

import pytest

from bookings.models import BookingStatus
from bookings.models import PaymentStatus as BP
from bookings.services import check_in_datetime
from core.actor import Actor
from payments import services
from tests.factories import PropertyFactory
from tests.payments.conftest import VISA
from tests.payments.test_refunds import stripe_refunded

pytestmark = pytest.mark.django_db
GUEST = Actor.guest("ada@example.com")
TIERS = [{"days_before": 21, "refund_percent": 100}, {"days_before": 7, "refund_percent": 40}]


@pytest.mark.parametrize(("days_before", "percent"), [(25, 100), (10, 40), (6, 0)])
def test_guest_cancellation_refunds_the_custom_tier(book, card, days_before, percent, run_on_commit):
    prop = PropertyFactory(cancellation_policy="custom", custom_cancellation_tiers=TIERS)
    booking = book(prop, start=40, nights=3)
    assert services.start_card_payment(booking_id=booking.pk, payment_method_id=card(booking, VISA),
                                       actor=GUEST).status == "succeeded"
    prop.custom_cancellation_tiers = [{"days_before": 0, "refund_percent": 100}]  # edited after the sale
    prop.save()
    booking.refresh_from_db()
    at = check_in_datetime(booking) - timedelta(days=days_before)
    expected = (booking.total * percent / 100).quantize(Decimal("0.01"))

    assert services.refund_quote(booking, at).amount == expected
    with run_on_commit():  # the refund is sent to Stripe after commit
        result = services.cancel_with_refund(booking_id=booking.pk, actor=GUEST, reason="Plans changed", at=at)

    booking.refresh_from_db()
    assert booking.status == BookingStatus.CANCELLED
    assert result.refunded == expected == booking.amount_refunded
    assert stripe_refunded(booking.payments.get()) == int(expected * 100)
    assert booking.payment_status == {100: BP.REFUNDED, 40: BP.PARTIALLY_REFUNDED, 0: BP.PAID}[percent]
