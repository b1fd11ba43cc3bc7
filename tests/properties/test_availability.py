"""check_availability: every reason code on its own, overrides, several at once, and time-based rules.

Time is pinned: ``AT`` is Monday 25 February 2030, noon UTC; stays are in March
2030 (the 4th is a Monday), so lead times and weekdays are known.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from django.db import transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bookings import services
from bookings.models import Booking, BookingStatus
from core.actor import Actor
from guests.services import GuestInput
from properties.availability import CONFLICT_CODES, check_availability, stay_rules_for
from properties.models import AvailabilityBlock, Property, weekday_mask
from tests.factories import BlockFactory, DateOverrideFactory, PropertyFactory

pytestmark = pytest.mark.django_db
AT = datetime(2030, 2, 25, 12, tzinfo=UTC)
TODAY = AT.date()
MON = date(2030, 3, 4)
SYSTEM = Actor.system("test")
GUEST = GuestInput(name="Ada", email="ada@example.com")


def d(n: int) -> date:
    """``n`` days after MON."""
    return MON + timedelta(days=n)


def codes(prop, ci, co, guests=2, **kw):
    kw.setdefault("at", AT)
    return check_availability(prop, ci, co, guests, **kw).codes


def reserve(prop, ci, co, at=AT, **kw):
    return services.reserve(property_id=prop.pk, check_in=ci, check_out=co, adults=1, guest=GUEST, actor=SYSTEM,
                            at=at, **kw)


def hold(prop, ci, co, at=AT):
    return services.hold(property_id=prop.pk, check_in=ci, check_out=co, adults=1, actor=SYSTEM, at=at)


@pytest.fixture
def prop():
    return PropertyFactory(max_guests=4, min_stay=1, max_stay=30, min_lead_days=0, max_advance_days=365)


@pytest.mark.sqlite
def test_a_plain_stay_is_available(prop):
    result = check_availability(prop, d(0), d(3), 2, at=AT)
    assert result.available and result.reasons == [] and result.conflicts == []


# --- Each reason on its own ------------------------------------------------------------------------------


@pytest.mark.parametrize("status", [Property.Status.DRAFT, Property.Status.ARCHIVED])
def test_property_inactive(prop, status):
    prop.status = status
    assert codes(prop, d(0), d(3)) == {"property_inactive"}


@pytest.mark.parametrize("nights", [0, -2])
def test_invalid_dates(prop, nights):
    result = check_availability(prop, d(5), d(5 + nights), 2, at=AT)
    assert not result.available
    assert result.codes == {"invalid_dates"}
    assert result.reasons[0].field == "check_out"


def test_too_many_guests(prop):
    assert codes(prop, d(0), d(3), guests=4) == set()
    result = check_availability(prop, d(0), d(3), 5, at=AT)
    assert result.codes == {"too_many_guests"}
    assert result.reasons[0].message == "This property sleeps at most 4 guests."


def test_no_guests(prop):
    assert codes(prop, d(0), d(3), guests=0) == {"invalid_guests"}


def test_in_past(prop):
    assert codes(prop, TODAY - timedelta(days=1), TODAY + timedelta(days=2)) == {"in_past"}
    assert codes(prop, TODAY, TODAY + timedelta(days=2)) == set()  # arrival today is fine with no lead time


def test_lead_time(prop):
    prop.min_lead_days = 7  # MON is exactly 7 days after TODAY
    assert codes(prop, d(0), d(2)) == set()
    assert codes(prop, d(-1), d(2)) == {"lead_time"}
    messages = {r.code: r.message for r in check_availability(prop, d(-1), d(2), 2, at=AT).reasons}
    assert messages["lead_time"] == "Bookings must be made at least 7 days before arrival."


def test_advance_window(prop):
    prop.max_advance_days = 7
    assert codes(prop, d(0), d(2)) == set()
    assert codes(prop, d(1), d(3)) == {"advance_window"}


def test_min_stay(prop):
    prop.min_stay = 3
    assert codes(prop, d(0), d(3)) == set()
    assert codes(prop, d(0), d(2)) == {"min_stay"}


def test_max_stay(prop):
    prop.max_stay = 7
    assert codes(prop, d(0), d(7)) == set()
    assert codes(prop, d(0), d(8)) == {"max_stay"}


def test_checkin_day(prop):
    prop.checkin_weekdays = weekday_mask(5)  # Saturday
    assert codes(prop, d(5), d(8)) == set()  # Sat 9 March
    result = check_availability(prop, d(0), d(3), 2, at=AT)
    assert result.codes == {"checkin_day"}
    assert result.reasons[0].message == "Check-in on Saturdays only."


def test_checkout_day(prop):
    prop.checkout_weekdays = weekday_mask(4, 6)  # Friday, Sunday
    assert codes(prop, d(0), d(4)) == set()  # out on Friday
    result = check_availability(prop, d(0), d(3), 2, at=AT)
    assert result.codes == {"checkout_day"}
    assert result.reasons[0].message == "Check-out on Fridays and Sundays only."


@pytest.mark.sqlite
def test_overlap(prop):
    reserve(prop, d(2), d(5))
    for ci, co in [(d(0), d(3)), (d(3), d(4)), (d(4), d(8)), (d(0), d(10))]:
        result = check_availability(prop, ci, co, 2, at=AT)
        assert result.codes == {"overlap"}, (ci, co)
        assert [r.code for r in result.conflicts] == ["overlap"]
    assert codes(prop, d(0), d(2)) == set()  # check-out on its check-in day
    assert codes(prop, d(5), d(7)) == set()  # check-in on its check-out day


@pytest.mark.sqlite
def test_blocked(prop):
    BlockFactory(property=prop, start_date=d(2), end_date=d(4))
    assert codes(prop, d(3), d(6)) == {"blocked"}
    assert codes(prop, d(0), d(2)) == set()
    assert codes(prop, d(4), d(6)) == set()


@pytest.mark.sqlite
def test_buffer(prop):
    prop.buffer_days = 2
    prop.save()
    reserve(prop, d(5), d(8))
    assert codes(prop, d(0), d(4)) == {"buffer"}  # ends one day before: needs two
    assert codes(prop, d(9), d(11)) == {"buffer"}  # starts one day after
    assert codes(prop, d(0), d(3)) == set()
    assert codes(prop, d(10), d(12)) == set()
    result = check_availability(prop, d(0), d(4), 2, at=AT)
    assert result.reasons[0].message == "The property needs 2 days free between stays."


def test_buffer_is_not_kept_around_owner_blocks(prop):
    prop.buffer_days = 2
    BlockFactory(property=prop, start_date=d(5), end_date=d(8))
    assert codes(prop, d(3), d(5)) == set()
    assert codes(prop, d(8), d(10)) == set()


def test_overlap_is_reported_instead_of_buffer_for_the_same_booking(prop):
    prop.buffer_days = 3
    prop.save()
    reserve(prop, d(5), d(8))
    assert codes(prop, d(6), d(7)) == {"overlap"}


# --- Overrides on the arrival night ---------------------------------------------------------------------------


def test_an_override_on_the_arrival_night_changes_the_min_stay(prop):
    DateOverrideFactory(property=prop, start_date=d(5), end_date=d(12), min_stay=5)
    assert codes(prop, d(5), d(8)) == {"min_stay"}
    assert codes(prop, d(5), d(10)) == set()
    # Arriving the night before the override: the property's own rule (1 night) governs the whole stay.
    assert codes(prop, d(4), d(6)) == set()


def test_an_override_changes_the_allowed_weekdays(prop):
    DateOverrideFactory(property=prop, start_date=d(0), end_date=d(7), checkin_weekdays=weekday_mask(5),
                        checkout_weekdays=weekday_mask(5))
    assert codes(prop, d(0), d(3)) == {"checkin_day", "checkout_day"}
    assert codes(prop, d(5), d(12)) == set()  # Sat → Sat
    prop.checkin_weekdays = weekday_mask(0)  # outside the override the property's rule still applies
    assert codes(prop, d(7), d(9)) == set()
    assert codes(prop, d(8), d(10)) == {"checkin_day"}


def test_the_shortest_override_governs(prop):
    DateOverrideFactory(property=prop, start_date=d(0), end_date=d(30), min_stay=7)
    DateOverrideFactory(property=prop, start_date=d(5), end_date=d(8), min_stay=2)
    DateOverrideFactory(property=prop, start_date=d(5), end_date=d(8), max_stay=3)  # sets only max stay
    assert stay_rules_for(prop, d(6)).min_stay == 2
    assert stay_rules_for(prop, d(6)).max_stay == 3
    assert stay_rules_for(prop, d(1)).min_stay == 7
    assert codes(prop, d(6), d(8)) == set()
    assert codes(prop, d(6), d(10)) == {"max_stay"}
    assert codes(prop, d(1), d(3)) == {"min_stay"}


# --- Several at once, rules off ------------------------------------------------------------------------------------


def test_every_failing_rule_is_reported_at_once(prop):
    prop.status = Property.Status.DRAFT
    prop.min_stay = 5
    prop.checkin_weekdays = weekday_mask(5)
    prop.checkout_weekdays = weekday_mask(5)
    prop.min_lead_days = 10
    prop.save()
    BlockFactory(property=prop, start_date=d(1), end_date=d(2))
    result = check_availability(prop, d(0), d(2), 9, at=AT)
    assert result.codes == {"property_inactive", "too_many_guests", "lead_time", "min_stay", "checkin_day",
                            "checkout_day", "blocked"}
    assert {r.code for r in result.conflicts} == {"blocked"}
    assert all(r.as_dict()["code"] == r.code for r in result.reasons)


def test_enforce_rules_false_keeps_only_conflicts_and_activity(prop):
    prop.min_stay = 5
    prop.save()
    reserve(prop, d(0), d(5))
    result = check_availability(prop, d(3), d(4), 99, at=AT, enforce_rules=False)
    assert result.codes == {"overlap"}
    assert codes(prop, d(10), d(11), guests=99, enforce_rules=False) == set()


def test_exclude_booking_id_ignores_that_booking(prop):
    booking = reserve(prop, d(0), d(5))
    assert codes(prop, d(1), d(4), exclude_booking_id=booking.pk) == set()
    assert codes(prop, d(1), d(4)) == {"overlap"}


# --- Time-based rules at read time ---------------------------------------------------------------------------------


@pytest.mark.sqlite
def test_an_expired_hold_is_ignored_before_the_job_runs(prop):
    held = hold(prop, d(0), d(3))
    assert codes(prop, d(0), d(3)) == {"overlap"}
    later = held.expires_at + timedelta(seconds=1)
    assert codes(prop, d(0), d(3), at=later) == set()
    assert codes(prop, d(0), d(3), at=held.expires_at) == set()  # expires_at itself is already free
    held.refresh_from_db()
    assert held.status == BookingStatus.HELD  # nothing was written by the read


def test_an_expired_reservation_is_ignored_but_a_confirmed_one_never_expires(prop):
    reserved = reserve(prop, d(0), d(3))
    confirmed = reserve(prop, d(10), d(13))
    services.confirm(booking_id=confirmed.pk, actor=SYSTEM, at=AT)
    much_later = AT + timedelta(days=3)
    assert codes(prop, d(0), d(3), at=much_later) == set()
    assert codes(prop, d(10), d(13), at=much_later) == {"overlap"}
    assert reserved.expires_at < much_later


@pytest.mark.parametrize("end", ["cancel", "release", "expire"])
def test_ended_bookings_free_their_nights(prop, end):
    if end == "release":
        b = hold(prop, d(0), d(3))
        services.release_hold(hold_id=b.pk, actor=SYSTEM)
    elif end == "expire":
        b = hold(prop, d(0), d(3))
        services.expire(booking_id=b.pk, at=b.expires_at)
    else:
        b = reserve(prop, d(0), d(3))
        services.cancel(booking_id=b.pk, actor=SYSTEM, reason="x")
    assert Booking.objects.get(pk=b.pk).status in (BookingStatus.CANCELLED, BookingStatus.RELEASED,
                                                   BookingStatus.EXPIRED)
    assert codes(prop, d(0), d(3)) == set()


def test_checked_out_stays_still_occupy_their_nights(prop):
    b = reserve(prop, TODAY, TODAY + timedelta(days=2))
    services.confirm(booking_id=b.pk, actor=SYSTEM, at=AT)
    services.check_in(booking_id=b.pk, actor=SYSTEM, at=AT)
    services.check_out(booking_id=b.pk, actor=SYSTEM, at=AT)
    assert codes(prop, TODAY, TODAY + timedelta(days=2), enforce_rules=False) == {"overlap"}


def test_lead_time_uses_the_propertys_local_date(prop):
    """At 23:30 UTC on 3 March it is already 4 March in Berlin: arrival on the 3rd is in the past there."""
    prop.timezone = "Europe/Berlin"
    late = datetime(2030, 3, 3, 23, 30, tzinfo=UTC)
    assert codes(prop, d(-1), d(1), at=late) == {"in_past"}
    prop.timezone = "UTC"
    assert codes(prop, d(-1), d(1), at=late) == set()


def test_conflict_codes_are_the_409_ones():
    assert {"overlap", "blocked", "buffer"} == CONFLICT_CODES


# --- Against a brute-force model ------------------------------------------------------------------------------

HORIZON = 21


@st.composite
def layouts(draw):
    """Non-overlapping stays (some ended or expired), arbitrary blocks, a buffer, and queries."""
    cuts = sorted(draw(st.sets(st.integers(0, HORIZON), max_size=8)))
    stays = []
    for a, b in zip(cuts[::2], cuts[1::2], strict=False):
        if b > a:
            kind = draw(st.sampled_from(["confirmed", "held_live", "held_expired", "cancelled"]))
            stays.append((a, b, kind))
    blocks = []
    for _ in range(draw(st.integers(0, 2))):
        a = draw(st.integers(0, HORIZON - 1))
        blocks.append((a, a + draw(st.integers(1, 4))))
    queries = draw(st.lists(st.tuples(st.integers(0, HORIZON - 1), st.integers(1, 6)), min_size=1, max_size=8))
    return stays, blocks, draw(st.integers(0, 2)), queries


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(layout=layouts())
def test_agrees_with_a_naive_per_night_model(prop, layout):
    stays, blocks, buffer, queries = layout
    with transaction.atomic():
        prop.buffer_days = buffer
        prop.save(update_fields=["buffer_days"])
        status = {"confirmed": BookingStatus.CONFIRMED, "held_live": BookingStatus.HELD,
                  "held_expired": BookingStatus.HELD, "cancelled": BookingStatus.CANCELLED}
        expires = {"held_live": AT + timedelta(minutes=5), "held_expired": AT - timedelta(minutes=5)}
        # Test setup only: rows in a given state (production rows come from bookings.services).
        Booking.objects.bulk_create([
            Booking(property=prop, reference=f"PMS-HYP-{i:05d}", check_in=d(a), check_out=d(b), status=status[kind],
                    currency="EUR", expires_at=expires.get(kind))
            for i, (a, b, kind) in enumerate(stays)
        ])
        AvailabilityBlock.objects.bulk_create([AvailabilityBlock(property=prop, start_date=d(a), end_date=d(b))
                                               for a, b in blocks])
        live = [(a, b) for a, b, kind in stays if kind in ("confirmed", "held_live")]
        for start, nights in queries:
            end = start + nights
            taken = any(a <= n < b for n in range(start, end) for a, b in live)
            blocked = any(a <= n < b for n in range(start, end) for a, b in blocks)
            near = any(a < end + buffer and b > start - buffer for a, b in live)
            expected = not (taken or blocked or near)
            result = check_availability(prop, d(start), d(end), 2, at=AT, enforce_rules=False)
            assert result.available == expected, (start, end, stays, blocks, buffer, result.codes)
            assert ("overlap" in result.codes) == taken
            assert ("blocked" in result.codes) == blocked
            assert ("buffer" in result.codes) == (near and not taken)
        transaction.set_rollback(True)
