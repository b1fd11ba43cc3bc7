"""``Booking.balance_due``: the one place the balance is computed (pages, emails, API, payments)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from bookings.models import CALLED_OFF_STATUSES, Booking, BookingStatus

S = BookingStatus


def booking(total: str, paid: str, status: str = S.RESERVED, refunded: str = "0") -> Booking:
    return Booking(total=Decimal(total), amount_paid=Decimal(paid), amount_refunded=Decimal(refunded), status=status)


def test_the_balance_is_the_total_less_what_was_paid():
    assert booking("500.00", "0").balance_due == Decimal("500.00")
    assert booking("500.00", "120.50").balance_due == Decimal("379.50")
    assert booking("500.00", "500.00", S.CONFIRMED).balance_due == Decimal("0")


def test_an_overpayment_is_a_credit_not_a_negative_balance():
    assert booking("500.00", "1000.00", S.CONFIRMED).balance_due == Decimal("0")


def test_a_refund_does_not_make_a_paid_stay_owe_again():
    assert booking("500.00", "500.00", S.CONFIRMED, refunded="100.00").balance_due == Decimal("0")


@pytest.mark.parametrize("status", CALLED_OFF_STATUSES)
def test_a_called_off_booking_owes_nothing(status):
    assert booking("500.00", "0", status).balance_due == Decimal("0")
    assert booking("500.00", "200.00", status).balance_due == Decimal("0")


@pytest.mark.parametrize("status", sorted(set(S.values) - set(CALLED_OFF_STATUSES)))
def test_every_other_status_owes_what_is_unpaid(status):
    assert booking("300.00", "100.00", status).balance_due == Decimal("200.00")


def test_the_balance_is_a_decimal_even_on_a_fresh_row():
    assert Booking().balance_due == Decimal("0") and isinstance(Booking().balance_due, Decimal)
