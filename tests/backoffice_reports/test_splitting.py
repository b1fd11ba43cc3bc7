"""Splitting a booking into nights: the quote snapshot when usable, an exact even split otherwise."""

from datetime import date
from decimal import Decimal

import pytest

from backoffice.reports import compute_report, night_prices, split_evenly
from bookings.models import BookingStatus
from properties.models import Property

D = Decimal


@pytest.mark.parametrize(
    "amount, parts, currency, shares",
    [
        (D("31.00"), 3, "EUR", [D("10.34"), D("10.33"), D("10.33")]),
        (D("31.00"), 2, "EUR", [D("15.50"), D("15.50")]),
        (D("0"), 4, "EUR", [D("0.00")] * 4),
        (D("1000"), 3, "JPY", [D("334"), D("333"), D("333")]),
        (D("0.02"), 3, "USD", [D("0.01"), D("0.01"), D("0.00")]),
    ],
)
def test_split_evenly_adds_up_exactly(amount, parts, currency, shares):
    result = split_evenly(amount, parts, currency)
    assert result == shares
    assert sum(result) == amount


def row(**kw):
    base = {"property_id": 1, "source": "direct", "status": BookingStatus.CONFIRMED, "check_in": date(2024, 1, 31),
            "check_out": date(2024, 2, 2), "currency": "EUR", "subtotal": D("300.00"), "discounts": D("0.01"),
            "fees": D("0"), "quote_nights": None}
    return {**base, **kw}


def test_night_prices_from_snapshot():
    snapshot = [{"date": "2024-01-31", "price": "120.00"}, {"date": "2024-02-01", "price": "179.99"}]
    assert night_prices(row(quote_nights=snapshot)) == [D("120.00"), D("179.99")]


@pytest.mark.parametrize(
    "snapshot",
    [None, [], [{"date": "2024-01-31", "price": "1"}],  # missing, empty, wrong length
     [{"date": "2024-03-01", "price": "1"}, {"date": "2024-03-02", "price": "1"}],  # other dates (booking moved)
     [{"date": "2024-01-31"}, {"date": "2024-02-01"}], "garbage"],  # no prices; not a list
)
def test_night_prices_fall_back_to_an_even_split(snapshot):
    # 300.00 - 0.01 discount = 299.99 over two nights.
    assert night_prices(row(quote_nights=snapshot)) == [D("150.00"), D("149.99")]


def test_compute_report_with_nothing():
    assert compute_report([], [], [], []) == []
    prop = Property(pk=1, name="P", currency="EUR", status=Property.Status.ACTIVE)
    (section,) = compute_report([date(2024, 2, 1)], [prop], [], [])
    assert (section.total.available_nights, section.total.occupancy, section.total.adr) == (29, D("0.0"), None)
    assert section.is_empty and section.by_source == []
