"""The per-day calendar on a constructed scenario, and its bounded number of queries."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from bookings import services
from core.actor import Actor
from guests.services import GuestInput
from properties.availability import (
    AVAILABLE,
    BLOCKED,
    BOOKED,
    CHECK_OUT_ONLY,
    NO_CHECK_IN,
    calendar,
    check_availability,
)
from properties.models import weekday_mask
from tests.factories import BlockFactory, DateOverrideFactory, PropertyFactory

pytestmark = pytest.mark.django_db
AT = datetime(2030, 2, 25, 12, tzinfo=UTC)  # Monday
MON = date(2030, 3, 4)
SYSTEM = Actor.system("test")


def d(n: int) -> date:
    return MON + timedelta(days=n)


def reserve(prop, a, b, **kw):
    return services.reserve(property_id=prop.pk, check_in=d(a), check_out=d(b), adults=1,
                            guest=GuestInput(name="A", email="a@example.com"), actor=SYSTEM, at=AT, **kw)


@pytest.fixture
def scenario():
    """Booked nights 3–4 with one buffer day each side, a maintenance block on night 9, min stay 2."""
    prop = PropertyFactory(min_stay=2, buffer_days=1)
    reserve(prop, 3, 5)
    BlockFactory(property=prop, start_date=d(9), end_date=d(10), reason="maintenance")
    return prop


def states(days):
    return [day.state for day in days]


@pytest.mark.sqlite
def test_states_of_a_constructed_fortnight(scenario):
    days = calendar(scenario, d(0), d(14), at=AT)

    assert [day.date for day in days] == [d(i) for i in range(14)]
    assert states(days) == [
        AVAILABLE,  # 0: two free nights ahead (0, 1) = min stay
        NO_CHECK_IN,  # 1: only one free night before the buffer
        CHECK_OUT_ONLY,  # 2: buffer day, but a stay arriving on 0 can leave on 2
        BOOKED,  # 3
        BOOKED,  # 4
        BLOCKED,  # 5: buffer after the stay, and night 4 is taken: no check-out either
        AVAILABLE,  # 6
        AVAILABLE,  # 7
        NO_CHECK_IN,  # 8: one night before the block
        CHECK_OUT_ONLY,  # 9: maintenance, but a stay can end that morning
        AVAILABLE, AVAILABLE, AVAILABLE, AVAILABLE,  # 10–13
    ]
    assert days[2].note == "buffer" and days[5].note == "buffer" and days[9].note == "maintenance"
    assert [day.checkin_allowed for day in days] == [s == AVAILABLE for s in states(days)]
    assert [day.checkout_allowed for day in days][:7] == [True, True, True, False, False, False, False]
    assert days[10].checkout_allowed is False and days[9].checkout_allowed is True
    assert all(day.min_stay == 2 for day in days)


def test_calendar_agrees_with_check_availability(scenario):
    days = {day.date: day for day in calendar(scenario, d(0), d(14), at=AT)}
    for i in range(14):
        start = d(i)
        if days[start].checkin_allowed:
            assert check_availability(scenario, start, start + timedelta(days=2), 2, at=AT).available, start
        if days[start].state in (BOOKED, BLOCKED, CHECK_OUT_ONLY):
            assert not check_availability(scenario, start, start + timedelta(days=2), 2, at=AT).available, start


def test_past_and_advance_window_are_blocked():
    prop = PropertyFactory(max_advance_days=10)
    today = AT.date()
    days = calendar(prop, today - timedelta(days=2), today + timedelta(days=14), at=AT)
    by_date = {day.date: day for day in days}
    assert by_date[today - timedelta(days=1)].state == BLOCKED
    assert by_date[today - timedelta(days=1)].note == "past"
    assert by_date[today].state == AVAILABLE  # arrival today is allowed with no lead time
    assert by_date[today].checkout_allowed is False  # the night before is in the past
    assert by_date[today + timedelta(days=10)].state == AVAILABLE
    beyond = by_date[today + timedelta(days=11)]
    assert (beyond.state, beyond.note, beyond.checkin_allowed, beyond.checkout_allowed) == (
        BLOCKED, "advance_window", False, True)
    assert by_date[today + timedelta(days=12)].note == "advance_window"


def test_the_last_arrival_days_of_the_advance_window_allow_check_in():
    """The window limits the arrival, not the nights: a 3-night stay may arrive on the window's last day
    (check_availability accepts it), so the calendar must show that day as a check-in day."""
    prop = PropertyFactory(min_stay=3, max_advance_days=10)
    today = AT.date()
    last = today + timedelta(days=10)
    assert check_availability(prop, last, last + timedelta(days=3), 1, at=AT).available

    days = {day.date: day for day in calendar(prop, today, today + timedelta(days=15), at=AT)}

    for arrival in (last - timedelta(days=2), last - timedelta(days=1), last):
        assert days[arrival].state == AVAILABLE and days[arrival].checkin_allowed, days[arrival]
    after = last + timedelta(days=1)
    assert (days[after].state, days[after].note, days[after].checkin_allowed) == (BLOCKED, "advance_window", False)
    assert days[after].checkout_allowed  # a stay arriving on the last day may leave the next morning
    assert days[last + timedelta(days=3)].checkout_allowed


def test_lead_time_and_weekday_rules_mean_no_check_in():
    prop = PropertyFactory(min_lead_days=9, checkin_weekdays=weekday_mask(0, 5))  # Mondays and Saturdays
    days = {day.date: day for day in calendar(prop, d(0), d(14), at=AT)}
    assert days[d(0)].state == NO_CHECK_IN  # a Monday, but 7 days ahead < 9
    assert days[d(5)].state == AVAILABLE  # Saturday 9 March, 12 days ahead
    assert days[d(6)].state == NO_CHECK_IN  # Sunday
    assert days[d(7)].state == AVAILABLE  # Monday
    assert days[d(6)].checkout_allowed  # leaving is allowed any day


def test_a_min_stay_override_on_the_arrival_night():
    prop = PropertyFactory(min_stay=1)
    BlockFactory(property=prop, start_date=d(9), end_date=d(10))
    DateOverrideFactory(property=prop, start_date=d(5), end_date=d(7), min_stay=4)
    days = {day.date: day for day in calendar(prop, d(0), d(12), at=AT)}
    assert (days[d(5)].state, days[d(5)].min_stay) == (AVAILABLE, 4)  # nights 5–8 free: exactly 4
    assert (days[d(6)].state, days[d(6)].min_stay) == (NO_CHECK_IN, 4)  # only 3 free nights before the block
    assert (days[d(7)].state, days[d(7)].min_stay) == (AVAILABLE, 1)


def test_the_look_ahead_reaches_past_the_end_of_the_range():
    prop = PropertyFactory(min_stay=3)
    BlockFactory(property=prop, start_date=d(12), end_date=d(13))
    days = calendar(prop, d(0), d(11), at=AT)
    assert days[9].state == AVAILABLE  # nights 9, 10, 11 free
    assert days[10].state == NO_CHECK_IN  # nights 10, 11 then the block on 12, after the range's end


def test_expired_holds_and_cancelled_bookings_show_as_available():
    prop = PropertyFactory()
    held = services.hold(property_id=prop.pk, check_in=d(0), check_out=d(3), adults=1, actor=SYSTEM, at=AT)
    cancelled = reserve(prop, 5, 8)
    services.cancel(booking_id=cancelled.pk, actor=SYSTEM, reason="x", at=AT)
    assert states(calendar(prop, d(0), d(3), at=AT)) == [CHECK_OUT_ONLY, BOOKED, BOOKED]
    later = held.expires_at + timedelta(seconds=1)
    assert set(states(calendar(prop, d(0), d(10), at=later))) == {AVAILABLE}


def test_check_out_only_needs_an_allowed_check_out_day():
    """A taken day after a free night is "check-out only" only if a stay may end on that weekday."""
    prop = PropertyFactory(checkout_weekdays=weekday_mask(5))  # leave on Saturdays only
    reserve(prop, 3, 5)  # Thursday 7 → Saturday 9 (an owner could enter it; here the rule allows it)
    BlockFactory(property=prop, start_date=d(12), end_date=d(13))  # Saturday 16
    days = {day.date: day for day in calendar(prop, d(0), d(14), at=AT)}
    assert days[d(3)].checkout_allowed is False
    assert days[d(3)].state == BOOKED  # a Thursday: nobody can check out here
    assert days[d(12)].checkout_allowed is True
    assert days[d(12)].state == CHECK_OUT_ONLY


def test_as_dict():
    prop = PropertyFactory()
    (day,) = calendar(prop, d(0), d(1), at=AT)
    assert day.as_dict() == {"date": "2030-03-04", "state": "available", "min_stay": 1, "check_in_allowed": True,
                             "check_out_allowed": True}


@pytest.mark.parametrize("length", [7, 31, 366])
def test_the_number_of_queries_does_not_depend_on_the_range(scenario, django_assert_max_num_queries, length):
    for i in range(0, 300, 20):
        DateOverrideFactory(property=scenario, start_date=d(20 + i), end_date=d(25 + i), min_stay=3)
        BlockFactory(property=scenario, start_date=d(30 + i), end_date=d(31 + i))
    with django_assert_max_num_queries(3):
        days = calendar(scenario, d(0), d(length), at=AT)
    assert len(days) == length


@pytest.mark.parametrize("seed", range(6))
def test_check_in_allowed_means_the_minimum_stay_from_that_day_is_bookable(seed):
    """Random bookings, blocks, buffers, lead times and min-stay overrides: the calendar's check-in days are
    exactly the days from which check_availability accepts a stay of the minimum length."""
    import random

    rng = random.Random(seed)
    prop = PropertyFactory(min_stay=rng.choice([1, 2, 3]), buffer_days=rng.choice([0, 1, 2]),
                           min_lead_days=rng.choice([0, 4, 8]), max_advance_days=rng.choice([365, 17, 20, 25]),
                           checkin_weekdays=rng.choice([127, weekday_mask(0, 3, 5)]))
    day = 0
    while day < 30:
        day += rng.randint(2, 7)
        length = rng.randint(1, 4)
        if rng.random() < 0.7:
            reserve(prop, day, day + length, override_rules=True, override_reason="test setup")
        else:
            BlockFactory(property=prop, start_date=d(day), end_date=d(day + length))
        day += length + prop.buffer_days
    for _ in range(2):
        start = rng.randint(0, 30)
        DateOverrideFactory(property=prop, start_date=d(start), end_date=d(start + rng.randint(1, 5)),
                            min_stay=rng.choice([2, 4]))

    days = calendar(prop, d(-10), d(40), at=AT)

    allowed = 0
    for day in days:
        bookable = check_availability(prop, day.date, day.date + timedelta(days=day.min_stay), 1, at=AT).available
        assert day.checkin_allowed == bookable, (day, check_availability(
            prop, day.date, day.date + timedelta(days=day.min_stay), 1, at=AT).codes)
        allowed += bookable
    assert 0 < allowed < len(days)
