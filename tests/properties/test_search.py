"""search(): availability for the dates, filters, sorting, pagination, and a bounded number of queries."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal as D

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from bookings import services
from core.actor import Actor
from guests.services import GuestInput
from properties.models import Property, PropertyPhoto, weekday_mask
from properties.selectors import SearchQuery, search
from tests.factories import (
    AmenityFactory,
    BlockFactory,
    DateOverrideFactory,
    PricingRuleFactory,
    PropertyFactory,
)

pytestmark = pytest.mark.django_db
AT = datetime(2030, 2, 25, 12, tzinfo=UTC)  # Monday
MON = date(2030, 3, 4)
SYSTEM = Actor.system("test")
GUEST = GuestInput(name="A", email="a@example.com")


def d(n: int) -> date:
    return MON + timedelta(days=n)


def names(page):
    return [r.property.name for r in page.results]


def find(**kw):
    kw.setdefault("page_size", 50)
    return search(SearchQuery(**kw), at=AT)


def stay(a=0, b=3, **kw):
    """Search for nights a..b (default: Monday 4 to Thursday 7 March)."""
    return find(check_in=d(a), check_out=d(b), **kw)


def reserve(prop, a, b, at=AT):
    return services.reserve(property_id=prop.pk, check_in=d(a), check_out=d(b), adults=1, guest=GUEST, actor=SYSTEM,
                            at=at)


# --- Availability for the dates -----------------------------------------------------------------------


@pytest.mark.sqlite
def test_free_booked_blocked_and_buffer_properties():
    free = PropertyFactory(name="free")
    booked = PropertyFactory(name="booked")
    blocked = PropertyFactory(name="blocked")
    buffered = PropertyFactory(name="buffered", buffer_days=2)
    adjacent = PropertyFactory(name="adjacent")  # a stay that ends on our check-in day
    far = PropertyFactory(name="far buffer", buffer_days=2)  # a stay ending two days before: just enough
    reserve(booked, 2, 5)
    BlockFactory(property=blocked, start_date=d(1), end_date=d(2))
    reserve(buffered, -3, -1)  # ends one day before check-in, needs two
    reserve(adjacent, -3, 0)
    reserve(far, -4, -2)

    page = stay()

    assert sorted(names(page)) == ["adjacent", "far buffer", "free"]
    assert page.total == 3
    # Later in the week every one of them is free (check-in on the booked stay's check-out day).
    assert stay(5, 8).total == 6
    assert free.pk and booked.pk


def test_buffer_after_the_stay_counts_too():
    before = PropertyFactory(name="stay after", buffer_days=1)
    reserve(before, 3, 5)  # starts on our check-out day: one buffer day is missing
    assert names(stay(0, 3)) == []
    assert names(stay(0, 2)) == ["stay after"]


@pytest.mark.sqlite
def test_expired_holds_and_cancelled_bookings_do_not_hide_a_property():
    held = PropertyFactory(name="expired hold")
    cancelled = PropertyFactory(name="cancelled")
    live = PropertyFactory(name="live hold")
    services.hold(property_id=held.pk, check_in=d(0), check_out=d(3), adults=1, actor=SYSTEM,
                  at=AT - timedelta(hours=2))
    b = reserve(cancelled, 0, 3)
    services.cancel(booking_id=b.pk, actor=SYSTEM, reason="x", at=AT)
    services.hold(property_id=live.pk, check_in=d(0), check_out=d(3), adults=1, actor=SYSTEM, at=AT)
    assert sorted(names(stay())) == ["cancelled", "expired hold"]


def test_inactive_properties_never_appear():
    PropertyFactory(name="draft", status=Property.Status.DRAFT)
    PropertyFactory(name="archived", status=Property.Status.ARCHIVED)
    PropertyFactory(name="active")
    assert names(find()) == ["active"]
    assert names(stay()) == ["active"]


def test_stay_rules_lead_time_and_window():
    PropertyFactory(name="any")
    PropertyFactory(name="min 4", min_stay=4)
    PropertyFactory(name="max 2", max_stay=2)
    PropertyFactory(name="saturday in", checkin_weekdays=weekday_mask(5))
    PropertyFactory(name="sunday out", checkout_weekdays=weekday_mask(6))
    PropertyFactory(name="lead 10", min_lead_days=10)  # MON is 7 days after AT
    PropertyFactory(name="window 5", max_advance_days=5)
    assert names(stay(0, 3)) == ["any"]
    assert sorted(names(stay(5, 13))) == ["any", "lead 10", "min 4", "saturday in", "sunday out"]  # Sat 9 → Sun 17
    assert sorted(names(stay(6, 13))) == ["any", "lead 10", "min 4", "sunday out"]  # Sun 10 → Sun 17


def test_no_results_for_dates_in_the_past():
    PropertyFactory(name="any")
    past = AT.date() - timedelta(days=1)
    assert search(SearchQuery(check_in=past, check_out=past + timedelta(days=2)), at=AT).total == 0


def test_overrides_on_the_arrival_night_change_the_rules():
    strict = PropertyFactory(name="override raises min stay")
    relaxed = PropertyFactory(name="override lowers min stay", min_stay=7)
    later = PropertyFactory(name="override starts after arrival")
    DateOverrideFactory(property=strict, start_date=d(0), end_date=d(10), min_stay=5)
    DateOverrideFactory(property=relaxed, start_date=d(0), end_date=d(1), min_stay=2)
    DateOverrideFactory(property=later, start_date=d(1), end_date=d(10), min_stay=5)
    DateOverrideFactory(property=later, start_date=d(0), end_date=d(1), nightly_price=D("500"))  # price only
    assert sorted(names(stay(0, 3))) == ["override lowers min stay", "override starts after arrival"]
    assert sorted(names(stay(0, 5))) == sorted(["override raises min stay", "override lowers min stay",
                                                "override starts after arrival"])
    assert sorted(names(stay(1, 4))) == []  # all three: 5 nights (override) or 7 (property) needed


def test_an_override_of_weekdays_on_the_arrival_night():
    prop = PropertyFactory(name="saturdays in this week", checkin_weekdays=weekday_mask(0))
    DateOverrideFactory(property=prop, start_date=d(0), end_date=d(7), checkin_weekdays=weekday_mask(5))
    assert names(stay(0, 3)) == []  # Monday, but the override says Saturday
    assert names(stay(5, 8)) == ["saturdays in this week"]
    assert names(stay(7, 10)) == ["saturdays in this week"]  # next Monday: the property's rule again


def test_each_result_carries_its_quote():
    prop = PropertyFactory(name="q", base_price=D("100"), cleaning_fee=D("40"))
    PricingRuleFactory(property=prop, kind="weekend", value=D("50"))
    (result,) = stay(3, 6).results  # Thu, Fri, Sat nights
    assert result.quote is not None
    assert [n.price for n in result.quote.nights] == [D("100.00"), D("150.00"), D("150.00")]
    assert result.quote.total == D("440.00")
    assert find().results[0].quote is None


# --- Filters --------------------------------------------------------------------------------------------------


def test_guests():
    PropertyFactory(name="two", max_guests=2)
    PropertyFactory(name="six", max_guests=6)
    assert sorted(names(stay(guests=2))) == ["six", "two"]
    assert names(stay(guests=3)) == ["six"]
    assert names(find(guests=7)) == []


def test_text_matches_name_city_or_region_case_insensitively():
    PropertyFactory(name="Blue House", city="Porto", region="Norte")
    PropertyFactory(name="Red Barn", city="Lisbon", region="Lisboa")
    PropertyFactory(name="Green Flat", city="Faro", region="Algarve")
    assert names(find(text="blue")) == ["Blue House"]
    assert names(find(text="LISBON")) == ["Red Barn"]
    assert names(find(text="algar")) == ["Green Flat"]
    assert len(find(text="  ").results) == 3
    assert names(find(text="nowhere")) == []


def test_price_range_on_the_base_price():
    for price in ("50", "100", "150", "200"):
        PropertyFactory(name=f"p{price}", base_price=D(price))
    assert names(find(min_price=D("100"), max_price=D("150"))) == ["p100", "p150"]
    assert names(find(min_price=D("151"))) == ["p200"]
    assert names(find(max_price=D("49.99"))) == []


def test_bedrooms_at_least():
    PropertyFactory(name="studio", bedrooms=0)
    PropertyFactory(name="two", bedrooms=2)
    PropertyFactory(name="four", bedrooms=4)
    assert sorted(names(find(bedrooms=2))) == ["four", "two"]
    assert names(find(bedrooms=3)) == ["four"]


def test_amenities_are_all_required():
    wifi, pool, sauna = AmenityFactory(code="wifi"), AmenityFactory(code="pool"), AmenityFactory(code="sauna")
    PropertyFactory(name="wifi only").amenities.set([wifi])
    PropertyFactory(name="wifi and pool").amenities.set([wifi, pool])
    PropertyFactory(name="everything").amenities.set([wifi, pool, sauna])
    PropertyFactory(name="nothing")
    assert sorted(names(find(amenities=("wifi",)))) == ["everything", "wifi and pool", "wifi only"]
    assert sorted(names(find(amenities=("wifi", "pool")))) == ["everything", "wifi and pool"]
    assert names(find(amenities=("pool", "sauna", "wifi"))) == ["everything"]
    assert names(find(amenities=("unknown",))) == []
    assert find(amenities=("wifi", "pool")).total == 2  # no duplicate rows from the joins


def test_filters_combine_with_dates():
    hit = PropertyFactory(name="hit", city="Porto", bedrooms=3, base_price=D("120"))
    hit.amenities.set([AmenityFactory(code="wifi")])
    booked = PropertyFactory(name="booked twin", city="Porto", bedrooms=3, base_price=D("120"))
    booked.amenities.set([AmenityFactory(code="wifi")])
    reserve(booked, 1, 2)
    PropertyFactory(name="cheap", city="Porto", bedrooms=3, base_price=D("60")).amenities.set(
        [AmenityFactory(code="wifi")])
    page = stay(text="porto", bedrooms=3, min_price=D("100"), amenities=("wifi",), guests=4)
    assert names(page) == ["hit"] and page.total == 1


# --- Sorting and pagination ---------------------------------------------------------------------------------------


@pytest.fixture
def five():
    return [
        PropertyFactory(name=name, base_price=D(price), bedrooms=bedrooms)
        for name, price, bedrooms in [("Echo", "300", 1), ("Alpha", "100", 3), ("Delta", "100", 2),
                                      ("Bravo", "250", 3), ("Charlie", "50", 1)]
    ]


@pytest.mark.parametrize(
    ("sort", "expected"),
    [
        ("price", ["Charlie", "Alpha", "Delta", "Bravo", "Echo"]),  # ties by id: Alpha was created first
        ("-price", ["Echo", "Bravo", "Alpha", "Delta", "Charlie"]),
        ("name", ["Alpha", "Bravo", "Charlie", "Delta", "Echo"]),
        ("newest", ["Charlie", "Bravo", "Delta", "Alpha", "Echo"]),
        ("bedrooms", ["Alpha", "Bravo", "Delta", "Charlie", "Echo"]),  # most bedrooms, then cheapest
        ("nonsense", ["Charlie", "Alpha", "Delta", "Bravo", "Echo"]),  # unknown: the default (price)
    ],
)
def test_sort_orders(five, sort, expected):
    assert names(find(sort=sort)) == expected
    assert names(stay(sort=sort)) == expected


def test_pagination_totals_and_pages(five):
    first = find(sort="name", page_size=2, page=1)
    second = find(sort="name", page_size=2, page=2)
    last = find(sort="name", page_size=2, page=3)
    beyond = find(sort="name", page_size=2, page=4)

    assert (first.total, first.pages, first.page, first.page_size) == (5, 3, 1, 2)
    assert names(first) + names(second) + names(last) == ["Alpha", "Bravo", "Charlie", "Delta", "Echo"]
    assert (last.total, len(last.results)) == (5, 1)
    assert (beyond.total, beyond.results, beyond.pages) == (5, [], 3)
    assert find(page=0, page_size=0).page_size == 1  # clamped, never a crash
    assert find(page_size=10_000).page_size <= 50


def test_pagination_with_dates_counts_only_available(five):
    reserve(five[0], 1, 2)
    reserve(five[1], 1, 2)
    page = stay(page_size=2, page=2, sort="name")
    assert page.total == 3 and page.pages == 2
    assert names(page) == ["Delta"]  # page 1: Bravo, Charlie; page 2: Delta


def test_empty_results():
    page = find()
    assert (page.results, page.total, page.pages) == ([], 0, 1)


# --- Queries -------------------------------------------------------------------------------------------------------


def build(n: int, tag: str):
    wifi = AmenityFactory(code="wifi")
    for i in range(n):
        prop = PropertyFactory(name=f"{tag} {i}", city="Porto", buffer_days=i % 3)
        prop.amenities.set([wifi, AmenityFactory(code=f"extra-{i % 4}")])
        PropertyPhoto.objects.create(property=prop, image=f"properties/{i}/a.jpg", position=1)
        PropertyPhoto.objects.create(property=prop, image=f"properties/{i}/b.jpg", position=0)
        PricingRuleFactory(property=prop, kind="weekend", value=D("10"))
        DateOverrideFactory(property=prop, start_date=d(0), end_date=d(5), min_stay=1 + i % 2,
                            nightly_price=D("90"))
        if i % 5 == 0:
            reserve(prop, 20, 23)


def count_queries(q: SearchQuery) -> tuple[int, int]:
    with CaptureQueriesContext(connection) as ctx:
        page = search(q, at=AT)
        for result in page.results:  # what a template or serializer touches
            list(result.property.amenities.all())
            list(result.property.photos.all())
            if result.quote:
                result.quote.as_dict()
    return len(ctx.captured_queries), len(page.results)


@pytest.mark.parametrize("with_dates", [True, False])
def test_the_number_of_queries_does_not_grow_with_the_number_of_properties(with_dates):
    dates = {"check_in": d(0), "check_out": d(3)} if with_dates else {}
    q = SearchQuery(text="porto", amenities=("wifi",), page_size=50, **dates)

    build(3, "small")
    small, n_small = count_queries(q)
    build(27, "large")
    large, n_large = count_queries(q)

    assert (n_small, n_large) == (3, 30)
    assert large == small
    assert small <= 10, small


def test_photos_come_in_position_order():
    prop = PropertyFactory(name="photos")
    PropertyPhoto.objects.create(property=prop, image="properties/x/2.jpg", position=2)
    PropertyPhoto.objects.create(property=prop, image="properties/x/0.jpg", position=0)
    (result,) = find().results
    assert [p.image.name for p in result.property.photos.all()] == ["properties/x/0.jpg", "properties/x/2.jpg"]


# --- Search agrees with check_availability ------------------------------------------------------------------------


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_search_agrees_with_check_availability_on_random_data(seed):
    """The SQL filter and the Python rules must give the same answer for every property and stay."""
    import random

    from bookings.models import Booking, BookingStatus
    from properties.availability import check_availability

    rng = random.Random(seed)
    props = []
    for i in range(16):
        min_stay = rng.choice([1, 1, 2, 3])
        prop = PropertyFactory(
            name=f"r{i}", max_guests=rng.choice([2, 4, 6]), min_stay=min_stay,
            max_stay=rng.choice([min_stay + 2, 14, 30]), buffer_days=rng.choice([0, 0, 1, 2]),
            checkin_weekdays=rng.choice([127] * 4 + [weekday_mask(5), weekday_mask(0, 4, 5)]),
            checkout_weekdays=rng.choice([127] * 4 + [weekday_mask(5, 6), weekday_mask(0)]),
            min_lead_days=rng.choice([0] * 4 + [5, 9]), max_advance_days=rng.choice([365] * 4 + [10, 14]),
        )
        day = 0
        rows = []
        while day < 25:  # non-overlapping stays in various states (test setup, not the booking path)
            day += rng.randint(0, 9)
            length = rng.randint(1, 4)
            status, expires = rng.choice([
                (BookingStatus.CONFIRMED, None), (BookingStatus.HELD, AT + timedelta(minutes=5)),
                (BookingStatus.HELD, AT - timedelta(minutes=5)), (BookingStatus.CANCELLED, None),
                (BookingStatus.RESERVED, AT + timedelta(minutes=30)),
            ])
            rows.append(Booking(property=prop, reference=f"PMS-R{seed}-{i:02d}{day:03d}", check_in=d(day),
                                check_out=d(day + length), status=status, expires_at=expires, currency="EUR"))
            day += length
        Booking.objects.bulk_create(rows)
        if rng.random() < 0.3:
            start = rng.randint(0, 25)
            BlockFactory(property=prop, start_date=d(start), end_date=d(start + rng.randint(1, 3)))
        if rng.random() < 0.5:
            start = rng.randint(0, 20)
            DateOverrideFactory(property=prop, start_date=d(start), end_date=d(start + rng.randint(1, 6)),
                                min_stay=rng.choice([None, 1, 4]), max_stay=rng.choice([None, 5]),
                                checkin_weekdays=rng.choice([None, weekday_mask(rng.randint(0, 6))]),
                                checkout_weekdays=rng.choice([None, 127]))
        props.append(prop)

    for _ in range(15):
        start, nights, guests = rng.randint(0, 25), rng.randint(1, 5), rng.randint(1, 4)
        ci, co = d(start), d(start + nights)
        found = {r.property.pk for r in search(SearchQuery(check_in=ci, check_out=co, guests=guests, page_size=50),
                                               at=AT).results}
        expected = {p.pk for p in props if check_availability(p, ci, co, guests, at=AT).available}
        assert found == expected, (ci, co, guests, {
            p.name: sorted(check_availability(p, ci, co, guests, at=AT).codes) for p in props
            if p.pk in found ^ expected
        })
