"""channels.ari: what a platform must show per night, from the same rules as a direct booking, and its ranges."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from channels import ari
from properties.models import PricingRule, Property
from tests.factories import BlockFactory, DateOverrideFactory, PricingRuleFactory, PropertyFactory, future

pytestmark = pytest.mark.django_db


def test_booked_blocked_and_buffer_nights_are_closed_the_others_open(book):
    prop = PropertyFactory(buffer_days=1)
    book(prop, start=10, nights=3)  # nights 10, 11, 12; buffer 9 and 13
    BlockFactory(property=prop, start_date=future(20), end_date=future(22))

    nights = ari.availability(prop, future(5), future(25))

    closed = sorted((day - timezone.localdate()).days for day, night in nights.items() if not night.available)
    assert closed == [9, 10, 11, 12, 13, 20, 21]


def test_an_expired_hold_frees_its_nights_before_any_job_runs(book):
    prop = PropertyFactory()
    booking = book(prop, start=10, nights=2)

    later = booking.expires_at + timedelta(seconds=1)
    assert all(n.available for n in ari.availability(prop, future(10), future(12), at=later).values())


def test_rates_come_from_the_quote_engine_and_rules_from_the_stay_rules():
    prop = PropertyFactory(base_price=Decimal("100.00"), checkin_weekdays=0b0011111, min_lead_days=2)
    PricingRuleFactory(property=prop, kind=PricingRule.Kind.WEEKEND, value=Decimal("10"),
                       weekend_days=0b1100000)  # Saturday, Sunday +10 %
    DateOverrideFactory(property=prop, start_date=future(30), end_date=future(33), min_stay=4,
                        nightly_price=Decimal("250.00"))

    nights = ari.restrictions(prop, future(0), future(40))

    for day, night in nights.items():
        offset = (day - timezone.localdate()).days
        weekend = day.weekday() >= 5
        if 30 <= offset < 33:
            assert (night.rate, night.min_stay) == (Decimal("250.00") * (Decimal("1.1") if weekend else 1), 4)
        else:
            assert (night.rate, night.min_stay) == (Decimal("110.00") if weekend else Decimal("100.00"), 1)
        assert night.closed_to_arrival == (weekend or offset < 2)
        assert night.currency == "EUR" and not night.stop_sell and not night.closed_to_departure


def test_a_property_that_does_not_sell_is_stop_sell():
    prop = PropertyFactory(status=Property.Status.DRAFT)
    assert all(n.stop_sell for n in ari.restrictions(prop, future(1), future(5)).values())


def test_runs_compress_equal_consecutive_nights_and_keep_gaps_apart():
    day0 = future(1)
    nights = {day0 + timedelta(days=i): ari.NightAvailability(1) for i in range(100)}
    nights[day0 + timedelta(days=50)] = ari.NightAvailability(0)
    del nights[day0 + timedelta(days=80)]

    runs = ari.runs(nights)

    assert [(r.first - day0).days for r in runs] == [0, 50, 51, 81]
    assert [(r.last - day0).days for r in runs] == [49, 50, 79, 99]
    assert [r.value.available for r in runs] == [1, 0, 1, 1]


def test_merge_ranges_joins_overlapping_and_touching_ranges():
    d = future(1)
    ranges = [(d, d + timedelta(2)), (d + timedelta(2), d + timedelta(4)), (d + timedelta(10), d + timedelta(12)),
              (d + timedelta(1), d + timedelta(3))]
    assert ari.merge_ranges(ranges) == [(d, d + timedelta(4)), (d + timedelta(10), d + timedelta(12))]


def test_stay_level_rules_are_not_in_the_nightly_rate():
    """A last-minute or early-bird discount depends on the stay and the day it is booked, not on the night: the
    rate a platform gets is the night's (base, weekend, season, overrides); Google gets the discounts as
    Promotions (channels.adapters.google_vr)."""
    prop = PropertyFactory(base_price=Decimal("100.00"))
    PricingRuleFactory(property=prop, kind=PricingRule.Kind.LAST_MINUTE, value=Decimal("-20"), days=30)
    PricingRuleFactory(property=prop, kind=PricingRule.Kind.EARLY_BIRD, value=Decimal("-15"), days=60)

    nights = ari.restrictions(prop, future(1), future(120))

    assert {night.rate for night in nights.values()} == {Decimal("100.00")}
