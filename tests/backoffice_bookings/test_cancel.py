"""Cancelling from the admin: the refund per policy (pre-selected), everything paid, or a custom amount."""

import re
from decimal import Decimal

import pytest

from bookings.models import BookingEvent, BookingStatus
from core.money import format_money
from payments.models import Refund
from payments.services import refund_quote
from tests.factories import PropertyFactory

from .conftest import reload, url

pytestmark = pytest.mark.django_db
S = BookingStatus


@pytest.fixture
def strict_prop(owner):
    """Strict policy: 100% up to 30 days before check-in, 50% up to 14 days, none after."""
    return PropertyFactory(owner=owner, cancellation_policy="strict")


@pytest.fixture
def paid_strict(strict_prop, paid, staffer):
    strict_prop.staff.add(staffer)
    return paid(strict_prop, start=20)  # 20 days ahead: the policy refunds 50%


def cancel(client, booking, **data):
    return client.post(url("cancel", booking.pk), data, follow=True)


def state(booking):
    b = reload(booking)
    return b.status, b.payment_status, b.amount_refunded, Refund.objects.count(), BookingEvent.objects.count()


def test_cancel_page_shows_the_policy_refund_pre_selected(paid_strict, owner, as_user):
    quote = refund_quote(paid_strict)
    assert quote.percent == 50 and quote.amount == paid_strict.total / 2

    page = as_user(owner).get(url("cancel", paid_strict.pk))

    assert page.status_code == 200
    html = page.content.decode()
    assert format_money(quote.amount, quote.currency) in html and "(50%)" in html
    assert re.search(r'<input[^>]*value="policy"[^>]*checked', html)
    assert "Strict" in html


def test_cancel_with_the_policy_refund(paid_strict, owner, as_user):
    expected = refund_quote(paid_strict).amount

    response = cancel(as_user(owner), paid_strict, refund="policy", reason="Guest called: flight cancelled")

    booking = reload(paid_strict)
    assert booking.status == S.CANCELLED and booking.amount_refunded == expected
    assert booking.payment_status == "partially_refunded"
    assert booking.cancellation_reason == "Guest called: flight cancelled"
    refund = Refund.objects.get()
    assert (refund.amount, refund.created_by) == (expected, owner)
    event = BookingEvent.objects.get(booking=booking, from_status=S.CONFIRMED, to_status=S.CANCELLED)
    assert event.actor_user == owner
    assert response.redirect_chain[-1][0] == url("change", booking.pk)
    assert f"refunded {format_money(expected, booking.currency)}" in response.content.decode()


def test_cancel_with_a_custom_amount(paid_strict, owner, as_user):
    cancel(as_user(owner), paid_strict, refund="custom", refund_amount="25.00", reason="Goodwill")

    booking = reload(paid_strict)
    assert booking.status == S.CANCELLED and booking.amount_refunded == Decimal("25.00")
    assert Refund.objects.get().amount == Decimal("25.00")


def test_cancel_with_a_full_refund(paid_strict, owner, as_user):
    cancel(as_user(owner), paid_strict, refund="full", reason="Our mistake")

    booking = reload(paid_strict)
    assert booking.status == S.CANCELLED and booking.amount_refunded == booking.total
    assert booking.payment_status == "refunded"


def test_custom_zero_refund_cancels_without_a_refund(paid_strict, owner, as_user):
    cancel(as_user(owner), paid_strict, refund="custom", refund_amount="0", reason="No-show policy")

    booking = reload(paid_strict)
    assert booking.status == S.CANCELLED and booking.amount_refunded == 0
    assert not Refund.objects.exists()


@pytest.mark.parametrize("data, error", [
    ({"refund": "custom", "refund_amount": "100000", "reason": "Too much"}, "can be refunded"),
    ({"refund": "custom", "refund_amount": "-1", "reason": "Negative"}, "greater than or equal to 0"),
    ({"refund": "custom", "refund_amount": "", "reason": "No amount"}, "Enter the amount to refund"),
    ({"refund": "custom", "refund_amount": "10", "reason": ""}, "Give a reason for the cancellation"),
    ({"refund": "policy", "reason": "   "}, "Give a reason for the cancellation"),
    ({"refund": "everything", "reason": "Bad choice"}, "Select a valid choice"),
])
def test_bad_input_re_renders_the_page_and_changes_nothing(paid_strict, owner, as_user, data, error):
    before = state(paid_strict)

    response = as_user(owner).post(url("cancel", paid_strict.pk), data)

    assert response.status_code == 200
    assert error in response.content.decode()
    assert state(paid_strict) == before
    assert reload(paid_strict).status == S.CONFIRMED


def test_custom_amount_above_what_is_refundable_after_a_partial_refund(paid_strict, owner, as_user):
    from core.actor import Actor
    from payments.services import refund_booking

    refund_booking(booking_id=paid_strict.pk, amount=Decimal("100"), actor=Actor.for_user(owner), reason="Goodwill")
    refundable = refund_quote(paid_strict).refundable
    before = state(paid_strict)

    response = as_user(owner).post(url("cancel", paid_strict.pk), {
        "refund": "custom", "refund_amount": str(refundable + Decimal("0.01")), "reason": "x"})

    assert response.status_code == 200 and "can be refunded" in response.content.decode()
    assert state(paid_strict) == before


def test_cancelling_an_unpaid_reservation(prop, book, owner, as_user):
    booking = book(prop)

    page = as_user(owner).get(url("cancel", booking.pk))
    assert format_money(Decimal(0), booking.currency) in page.content.decode()
    cancel(as_user(owner), booking, refund="policy", reason="Guest never paid")

    assert reload(booking).status == S.CANCELLED
    assert not Refund.objects.exists()


def test_a_booking_that_can_no_longer_be_cancelled_is_a_message(prop, book, owner, as_user):
    from bookings import services
    from core.actor import Actor

    booking = book(prop)
    services.cancel(booking_id=booking.pk, actor=Actor.system("test"), reason="test")

    response = as_user(owner).get(url("cancel", booking.pk), follow=True)

    assert response.redirect_chain[-1][0] == url("change", booking.pk)
    assert "can no longer be cancelled" in response.content.decode()
    assert b'data-action="cancel"' not in response.content
