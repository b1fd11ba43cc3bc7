"""What a platform sold always occupies its nights: multi-day sequences of real-format feeds (issue 12 §1).

Each test plays a few days of a host's calendars — feeds generated in each platform's own export format
(``tests.channels.conftest_import.ics``) — and after every fetch asserts which nights are taken and by what,
what the owner has been told (open conflicts, alert emails), that the guest-facing availability, calendar and
search see the nights as taken, and that every *other* connection's feed closes them.
"""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from django.utils import timezone

from bookings import services
from bookings.models import Booking, BookingStatus, SentEmail
from channels.models import SyncConflict
from core.actor import Actor
from properties.availability import BLOCKED, BOOKED, CHECK_OUT_ONLY, calendar, check_availability
from properties.selectors import SearchQuery, search
from tests.channels.conftest_import import Ev, day, exported_nights, lanes, make_connection, nights, sync

pytestmark = [pytest.mark.django_db]
CLOSED = {BOOKED, CHECK_OUT_ONLY, BLOCKED}  # the guest calendar's states of a night nobody can book


def taken(prop) -> dict[date, list[str]]:
    """Night → who occupies it ("direct", or "<platform>:<uid>"), from the bookings table."""
    out: dict[date, list[str]] = {}
    for b in Booking.objects.filter(property=prop).occupying().order_by("check_in", "pk"):
        who = "direct" if b.source == "direct" else f"{b.source}:{b.external_id}"
        for night in nights(b.check_in, b.check_out):
            out.setdefault(night, []).append(who)
    return out


def assert_closed_everywhere(prop, span: set[date], feeds) -> None:
    """Every night of ``span`` is taken here (availability, guest calendar, search) and in every feed given."""
    first, last = min(span), max(span) + timedelta(days=1)
    for night in span:
        assert not check_availability(prop, night, night + timedelta(days=1), 1, enforce_rules=False).available, night
    assert all(d.state in CLOSED for d in calendar(prop, first, last)), calendar(prop, first, last)
    found = search(SearchQuery(check_in=first, check_out=last, guests=1, page_size=100))
    assert prop.pk not in {r.property.pk for r in found.results}
    for conn in feeds:
        assert span <= exported_nights(conn), conn


def open_conflicts(prop) -> dict[str, str]:
    """Open conflicts: imported UID → what it runs into (a booking's external id or "direct", or "block")."""
    out = {}
    for c in SyncConflict.objects.filter(property=prop, resolved_at__isnull=True).select_related("other_booking"):
        other = c.other_booking
        out[c.uid] = "block" if other is None else ("direct" if other.source == "direct" else other.external_id)
    return out


def alerts() -> int:
    return SentEmail.objects.filter(kind="owner_sync_conflict").count()


def test_a_week_where_two_platforms_sell_nights_already_booked_here(prop, book, owner):
    airbnb, vrbo, bdc = (make_connection(prop, p) for p in ("airbnb", "fewo_direkt", "booking_com"))
    t0 = timezone.now()
    direct = book(prop, start=10, nights=3)  # nights 10, 11, 12
    direct = services.confirm(booking_id=direct.pk, actor=Actor.system("test"))  # paid: it does not expire
    day1 = [Ev("hm-a", day(prop, 20), day(prop, 23))]

    # Day 1: Airbnb's feed holds one stay on free nights.
    assert sync(airbnb, day1, at=t0).created == 1
    assert open_conflicts(prop) == {} and alerts() == 0

    # Day 2: Airbnb has sold nights 11–13 (a sync lag on their side): recorded beside the direct booking.
    day2 = day1 + [Ev("hm-b", day(prop, 11), day(prop, 14))]
    result = sync(airbnb, day2, at=t0 + timedelta(days=1))
    assert (result.created, result.conflicts) == (1, 1)
    assert taken(prop)[day(prop, 11)] == ["direct", "airbnb:hm-b"] and taken(prop)[day(prop, 13)] == ["airbnb:hm-b"]
    assert lanes(airbnb) == {"hm-a": 0, "hm-b": 1}
    assert open_conflicts(prop) == {"hm-b": "direct"} and alerts() == 1
    assert_closed_everywhere(prop, nights(day(prop, 10), day(prop, 14)), [vrbo, bdc])
    assert nights(day(prop, 10), day(prop, 11)) <= exported_nights(airbnb)  # the direct night, to Airbnb too

    # Day 3: the same feed again: nothing changes, no second email.
    result = sync(airbnb, day2, at=t0 + timedelta(days=2))
    assert (result.created, result.changed, result.conflicts) == (0, 0, 1)
    assert alerts() == 1

    # Day 4: Vrbo sold nights 12–15, over both: the third lane, a second conflict, a second email.
    result = sync(vrbo, [Ev("vrbo-c", day(prop, 12), day(prop, 16), name="Jürgen Größ")], at=t0 + timedelta(days=3))
    assert (result.created, result.conflicts) == (1, 1)
    assert taken(prop)[day(prop, 12)] == ["direct", "airbnb:hm-b", "fewo_direkt:vrbo-c"]
    assert lanes(vrbo) == {"vrbo-c": 2}
    assert open_conflicts(prop) == {"hm-b": "direct", "vrbo-c": "direct"} and alerts() == 2
    assert_closed_everywhere(prop, nights(day(prop, 10), day(prop, 16)), [bdc])

    # Day 5: the direct guest cancels. Night 10 is free again; every night a platform sold stays closed.
    services.cancel(booking_id=direct.pk, actor=Actor.for_user(owner), reason="Guest cancelled.")
    assert check_availability(prop, day(prop, 10), day(prop, 11), 1, enforce_rules=False).available
    assert_closed_everywhere(prop, nights(day(prop, 11), day(prop, 16)), [bdc])
    # Airbnb's next fetch: hm-b still overlaps the Vrbo stay, so it stays a conflict, now with that stay; it
    # takes lane 0 again (nothing there any more).
    result = sync(airbnb, day2, at=t0 + timedelta(days=4))
    assert result.conflicts == 1 and open_conflicts(prop)["hm-b"] == "vrbo-c"
    assert lanes(airbnb)["hm-b"] == 0
    assert alerts() == 2  # the same conflict, updated: no new email

    # Day 6: Airbnb cancels hm-b: its nights 11 is freed, Vrbo's stay is alone and its conflict resolves itself.
    sync(airbnb, day1, at=t0 + timedelta(days=5))
    assert Booking.objects.get(external_id="hm-b").status == BookingStatus.CANCELLED
    sync(vrbo, [Ev("vrbo-c", day(prop, 12), day(prop, 16), name="Jürgen Größ")], at=t0 + timedelta(days=5))
    assert open_conflicts(prop) == {}
    assert lanes(vrbo) == {"vrbo-c": 0}
    assert check_availability(prop, day(prop, 11), day(prop, 12), 1, enforce_rules=False).available
    assert day(prop, 11) not in exported_nights(bdc)  # a cancelled stay blocks nothing
    assert_closed_everywhere(prop, nights(day(prop, 12), day(prop, 16)), [airbnb, bdc])
    direct.refresh_from_db()
    assert direct.cancellation_reason == "Guest cancelled."  # cancelled by its guest, never by a sync


def test_one_feed_listing_two_stays_on_the_same_nights(prop):
    """Vrbo exports a changed reservation under a new UID before dropping the old one: both are kept (the
    nights were sold, perhaps twice), the owner is told, and the duplicate's exit frees nothing still sold."""
    vrbo, airbnb = make_connection(prop, "fewo_direkt"), make_connection(prop, "airbnb")
    t0 = timezone.now()
    old = Ev("vrbo-1", day(prop, 5), day(prop, 9), name="Ann")
    new = Ev("vrbo-1b", day(prop, 6), day(prop, 10), name="Ann")
    later = Ev("vrbo-2", day(prop, 30), day(prop, 33), name="Bo")
    assert sync(vrbo, [old, later], at=t0).created == 2

    result = sync(vrbo, [old, new, later], at=t0 + timedelta(days=1))
    assert (result.created, result.conflicts) == (1, 1)
    assert open_conflicts(prop) == {"vrbo-1b": "vrbo-1"} and alerts() == 1
    assert_closed_everywhere(prop, nights(day(prop, 5), day(prop, 10)), [airbnb])

    result = sync(vrbo, [new, later], at=t0 + timedelta(days=2))
    assert (result.cancelled, result.conflicts) == (1, 0)
    assert open_conflicts(prop) == {} and lanes(vrbo) == {"vrbo-1b": 0, "vrbo-2": 0}
    assert day(prop, 5) not in exported_nights(airbnb)
    assert_closed_everywhere(prop, nights(day(prop, 6), day(prop, 10)), [airbnb])


def test_stays_that_break_our_stay_rules_are_imported_without_a_conflict(prop, book):
    """Buffer days, minimum stay, check-in weekdays and lead time decide what we sell, not what Booking.com sold."""
    bdc, airbnb = make_connection(prop, "booking_com"), make_connection(prop, "airbnb")
    book(prop, start=20, nights=5)  # nights 20–24
    prop.buffer_days, prop.min_stay, prop.min_lead_days = 2, 7, 14
    prop.checkin_weekdays = 1 << day(prop, 3).weekday()  # one weekday only
    prop.save()
    stays = [Ev("bdc-1", day(prop, 1), day(prop, 2), name="Lead Time"),  # tomorrow, one night
             Ev("bdc-2", day(prop, 25), day(prop, 27), name="In Buffer"),  # the direct stay's check-out day
             Ev("bdc-3", day(prop, 40), day(prop, 42), name="Wrong Day")]
    for n in range(2):  # two fetches: the second changes nothing
        result = sync(bdc, stays, at=timezone.now() + timedelta(hours=n))
        assert result.conflicts == 0 and open_conflicts(prop) == {} and alerts() == 0
    assert lanes(bdc) == {"bdc-1": 0, "bdc-2": 0, "bdc-3": 0}
    for ev in stays:
        assert_closed_everywhere(prop, nights(ev.start, ev.end), [airbnb])
    assert {b.guest.name for b in Booking.objects.filter(source="booking_com")} == {"Lead Time", "In Buffer",
                                                                                    "Wrong Day"}


def test_a_stay_on_an_owner_block_is_recorded_and_the_owner_told(prop):
    from properties import services as property_services

    airbnb, vrbo = make_connection(prop, "airbnb"), make_connection(prop, "fewo_direkt")
    property_services.create_block(property_id=prop.pk, start_date=day(prop, 8), end_date=day(prop, 12))
    result = sync(airbnb, [Ev("hm-z", day(prop, 10), day(prop, 14))])
    assert (result.created, result.conflicts) == (1, 1)
    assert open_conflicts(prop) == {"hm-z": "block"} and alerts() == 1
    assert lanes(airbnb) == {"hm-z": 0}  # no other stay: under the exclusion constraint
    assert_closed_everywhere(prop, nights(day(prop, 8), day(prop, 14)), [vrbo])
