"""bookings_occupancy (the bit strings search reads on PostgreSQL) equals a recomputation from bookings and blocks
after every kind of write, whatever code path makes it; an expired but unmarked hold never blocks search.

The triggers that keep the table live only on PostgreSQL (migration bookings.0018_occupancy): no sqlite mark.
"""

from __future__ import annotations

import threading
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from django.db import connection, connections, transaction

from bookings import blocks as block_services
from bookings import services
from bookings.models import (
    EXPIRING_STATUSES,
    OCCUPYING_STATUSES,
    AvailabilityBlock,
    Booking,
    BookingStatus,
    Occupancy,
)
from bookings.search import SearchQuery, _search_orm, search
from core.actor import Actor
from guests.services import GuestInput
from tests.factories import BlockFactory, PropertyFactory

pytestmark = pytest.mark.django_db
AT = datetime(2030, 2, 25, 12, tzinfo=UTC)  # Monday
MON = date(2030, 3, 4)
SYSTEM = Actor.system("test")
GUEST = GuestInput(name="A", email="a@example.com")


def d(n: int) -> date:
    return MON + timedelta(days=n)


def nights(start: date, end: date) -> set[date]:
    return {start + timedelta(days=i) for i in range((end - start).days)}


def expected(prop) -> tuple[set[date], set[date]]:
    """The obvious definition, in Python: nights of bookings that occupy for good, and of blocks."""
    booked: set[date] = set()
    for b in Booking.objects.filter(property=prop):
        if b.status in OCCUPYING_STATUSES and not (b.status in EXPIRING_STATUSES and b.expires_at is not None):
            booked |= nights(b.check_in, b.check_out)
    blocked: set[date] = set()
    for k in AvailabilityBlock.objects.filter(property=prop):
        blocked |= nights(k.start_date, k.end_date)
    return booked, blocked


def stored(prop) -> tuple[set[date], set[date]]:
    """What the table says, decoded (no row: nothing occupied)."""
    with connection.cursor() as cur:
        cur.execute("SELECT origin, booked::text, blocked::text FROM bookings_occupancy WHERE property_id = %s",
                    [prop.pk])
        row = cur.fetchone()
    if row is None:
        return set(), set()
    origin, booked, blocked = row
    return ({origin + timedelta(days=i) for i, bit in enumerate(booked) if bit == "1"},
            {origin + timedelta(days=i) for i, bit in enumerate(blocked) if bit == "1"})


def assert_kept(*props):
    for prop in props:
        assert stored(prop) == expected(prop), prop


def reserve(prop, a, b, at=AT):
    return services.reserve(property_id=prop.pk, check_in=d(a), check_out=d(b), adults=1, guest=GUEST, actor=SYSTEM,
                            at=at)


def test_each_write_of_the_booking_services_keeps_the_bits():
    prop, other = PropertyFactory(), PropertyFactory()
    assert_kept(prop)
    assert not Occupancy.objects.filter(property=prop).exists()  # nothing occupied: no row

    reservation = reserve(prop, 0, 3)  # reserved with an expires_at: clock-dependent, not in the bits
    assert stored(prop) == (set(), set())
    services.confirm(booking_id=reservation.pk, actor=SYSTEM, at=AT)  # now it occupies for good
    assert stored(prop)[0] == nights(d(0), d(3))
    assert_kept(prop)

    held = services.hold(property_id=prop.pk, check_in=d(5), check_out=d(7), adults=1, actor=SYSTEM, at=AT)
    assert_kept(prop)
    services.release_hold(hold_id=held.pk, actor=SYSTEM)
    assert_kept(prop)

    second = reserve(prop, 10, 12)
    services.expire(booking_id=second.pk, at=AT + timedelta(days=1))
    assert_kept(prop)

    third = reserve(prop, 14, 16)
    services.confirm(booking_id=third.pk, actor=SYSTEM, at=AT)
    services.check_in(booking_id=reservation.pk, actor=SYSTEM, at=datetime(2030, 3, 4, 16, tzinfo=UTC))
    assert_kept(prop)
    services.cancel(booking_id=third.pk, actor=SYSTEM, reason="x", at=AT)
    assert stored(prop)[0] == nights(d(0), d(3))
    assert_kept(prop, other)

    owner = services.create_owner_booking(property_id=other.pk, check_in=d(1), check_out=d(4), adults=1,
                                          guest=GUEST, actor=SYSTEM, confirm_now=True, at=AT)
    assert_kept(prop, other)
    assert owner.pk


def test_a_date_change_moves_the_bits():
    prop = PropertyFactory()
    booking = reserve(prop, 0, 3)
    services.confirm(booking_id=booking.pk, actor=SYSTEM, at=AT)
    services.change_booking(booking_id=booking.pk, actor=SYSTEM, check_in=d(5), check_out=d(9),
                            paid_and_refunded=lambda b: (Decimal("0"), Decimal("0")), at=AT)
    assert stored(prop)[0] == nights(d(5), d(9))
    assert_kept(prop)


def test_group_booking_and_expiry_job():
    a, b = PropertyFactory(), PropertyFactory()
    stays = [services.GroupStay(a.pk, d(0), d(2), 1), services.GroupStay(b.pk, d(3), d(6), 1)]
    group = services.reserve_group(stays=stays, guest=GUEST, actor=SYSTEM, at=AT)
    assert_kept(a, b)
    for booking in group.bookings.all():
        services.confirm(booking_id=booking.pk, actor=SYSTEM, at=AT)
    assert stored(a)[0] == nights(d(0), d(2)) and stored(b)[0] == nights(d(3), d(6))
    reserve(a, 10, 12)
    services.expire_stale_bookings(at=AT + timedelta(days=1))
    assert_kept(a, b)


def test_blocks_added_moved_and_removed():
    prop = PropertyFactory()
    block = block_services.create_block(property_id=prop.pk, start_date=d(2), end_date=d(5))
    overlapping = BlockFactory(property=prop, start_date=d(4), end_date=d(8))  # blocks may overlap
    assert stored(prop)[1] == nights(d(2), d(8))
    block_services.delete_block(block_id=block.pk)
    assert stored(prop)[1] == nights(d(4), d(8))  # the other block still covers its nights
    AvailabilityBlock.objects.filter(pk=overlapping.pk).update(start_date=d(6))
    assert_kept(prop)
    block_services.delete_block(block_id=overlapping.pk)
    assert stored(prop) == (set(), set())
    assert not Occupancy.objects.filter(property=prop).exists()


def test_channel_imports_blocks_and_overbooking_lanes():
    from tests.channels.conftest_import import Ev, make_connection, sync

    prop = PropertyFactory()
    conn = make_connection(prop, "airbnb")
    base = date.today()
    day = lambda n: base + timedelta(days=n)  # noqa: E731 - the import helpers work from today
    sync(conn, [Ev("a", day(10), day(13)), Ev("b", day(20), day(22)), Ev("k", day(30), day(33), "block")])
    assert_kept(prop)
    # An overlapping stay from another platform goes to another lane: both occupy, the bits are their union.
    other = make_connection(prop, "booking_com")
    sync(other, [Ev("x", day(12), day(15))])
    assert stored(prop)[0] == nights(day(10), day(15)) | nights(day(20), day(22))
    sync(conn, [Ev("a", day(11), day(13))])  # a moved, b cancelled, the block gone
    assert_kept(prop)


def test_bulk_writes_outside_the_services_are_kept_too():
    """Triggers, not Python: bulk_create, queryset update and delete (one recompute per statement)."""
    props = [PropertyFactory() for _ in range(4)]
    rows = [Booking(property=p, reference=f"PMS-BULK-{i}{j}", check_in=d(j * 5), check_out=d(j * 5 + 2),
                    status=BookingStatus.CONFIRMED, currency="EUR")
            for i, p in enumerate(props[:3]) for j in range(3)]
    Booking.objects.bulk_create(rows)
    assert_kept(*props)
    Booking.objects.filter(property=props[0]).update(check_out=models_f_plus_one())
    Booking.objects.filter(property=props[1], check_in=d(5)).update(status=BookingStatus.CANCELLED)
    Booking.objects.filter(property=props[2], check_in=d(10)).update(property=props[3])
    assert_kept(*props)
    Booking.objects.filter(property=props[1]).delete()
    assert_kept(*props)


def models_f_plus_one():
    from django.db.models import F

    return F("check_out") + timedelta(days=1)


def test_payment_updates_do_not_rewrite_the_row():
    """Writes that move no night leave the row alone (no recompute: cheaper writes)."""
    prop = PropertyFactory()
    booking = reserve(prop, 0, 3)
    services.confirm(booking_id=booking.pk, actor=SYSTEM, at=AT)
    with connection.cursor() as cur:
        cur.execute("SELECT xmin::text FROM bookings_occupancy WHERE property_id = %s", [prop.pk])
        before = cur.fetchone()[0]
        Booking.objects.filter(pk=booking.pk).update(payment_status="paid", special_requests="late arrival")
        cur.execute("SELECT xmin::text FROM bookings_occupancy WHERE property_id = %s", [prop.pk])
        assert cur.fetchone()[0] == before


def test_an_expired_but_unmarked_hold_does_not_block_search():
    prop = PropertyFactory(name="p")
    services.hold(property_id=prop.pk, check_in=d(0), check_out=d(3), adults=1, actor=SYSTEM, minutes=30, at=AT)
    stay = SearchQuery(check_in=d(0), check_out=d(3))
    assert search(stay, at=AT).total == 0  # live: blocks
    later = AT + timedelta(minutes=31)
    assert Booking.objects.filter(status=BookingStatus.HELD).count() == 1  # not marked expired by anyone
    assert [r.property.pk for r in search(stay, at=later).results] == [prop.pk]
    # A buffer day widens a live hold like any booking.
    buffered = PropertyFactory(name="b", buffer_days=1)
    services.hold(property_id=buffered.pk, check_in=d(3), check_out=d(5), adults=1, actor=SYSTEM, at=AT)
    assert [r.property.pk for r in search(stay, at=AT).results] == []
    assert [r.property.pk for r in search(SearchQuery(check_in=d(0), check_out=d(2)), at=AT).results] == [
        buffered.pk]


def test_search_takes_two_round_trips():
    from django.test.utils import CaptureQueriesContext

    for i in range(5):
        reserve(PropertyFactory(name=f"p{i}"), 0, 3 if i % 2 else 1)
    with CaptureQueriesContext(connection) as ctx:
        page = search(SearchQuery(check_in=d(1), check_out=d(4), text="p", amenities=()), at=AT)
    # One statement for the page and its exact total; then amenities, photos, pricing rules and date overrides
    # of the page's properties, four statements sent as one.
    assert len(ctx.captured_queries) == 2, [q["sql"][:80] for q in ctx.captured_queries]
    assert ctx.captured_queries[1]["sql"].count("SELECT ") == 4
    assert page.total == 3  # the two reservations over the dates hide theirs
    assert all(len(r.property.photos.all()) == 0 and r.quote is not None for r in page.results)
    with CaptureQueriesContext(connection) as ctx:
        search(SearchQuery(), at=AT)
    assert len(ctx.captured_queries) == 2  # no dates: the page, then amenities and photos
    assert ctx.captured_queries[1]["sql"].count("SELECT ") == 2


def test_prefetched_relations_still_filter_per_property():
    from properties.models import PropertyPhoto

    a, b = PropertyFactory(name="a"), PropertyFactory(name="b")
    for prop in (a, b):
        PropertyPhoto.objects.create(property=prop, image=f"properties/{prop.pk}/x.jpg", position=0)
    page = search(SearchQuery(check_in=d(1), check_out=d(4), sort="name"), at=AT)
    first = page.results[0].property
    assert [p.property_id for p in first.photos.all()] == [a.pk]
    assert list(first.photos.filter(position=0).values_list("property_id", flat=True)) == [a.pk]


@pytest.mark.parametrize("seed", [4, 5])
def test_sql_search_equals_the_orm_definition(seed):
    """The bit-string statement and the ORM filter (SQLite's path) agree on random data, page by page."""
    import random

    from properties.models import weekday_mask
    from tests.factories import DateOverrideFactory

    rng = random.Random(seed)
    for i in range(14):
        prop = PropertyFactory(name=f"r{i}", min_stay=rng.choice([1, 2]), buffer_days=rng.choice([0, 0, 1, 2]),
                               checkin_weekdays=rng.choice([127, 127, weekday_mask(5)]),
                               base_price=Decimal(rng.choice([80, 100, 120])))
        day = 0
        while day < 20:
            day += rng.randint(0, 6)
            length = rng.randint(1, 4)
            status, expires = rng.choice([
                (BookingStatus.CONFIRMED, None), (BookingStatus.HELD, AT + timedelta(minutes=5)),
                (BookingStatus.HELD, AT - timedelta(minutes=5)), (BookingStatus.RESERVED, None),
                (BookingStatus.CANCELLED, None), (BookingStatus.RESERVED, AT + timedelta(minutes=30)),
            ])
            Booking.objects.create(property=prop, reference=f"PMS-S{seed}-{i:02d}{day:03d}", check_in=d(day),
                                   check_out=d(day + length), status=status, expires_at=expires, currency="EUR")
            day += length
        if rng.random() < 0.3:
            start = rng.randint(0, 20)
            BlockFactory(property=prop, start_date=d(start), end_date=d(start + rng.randint(1, 3)))
        if rng.random() < 0.4:
            start = rng.randint(0, 15)
            DateOverrideFactory(property=prop, start_date=d(start), end_date=d(start + rng.randint(1, 6)),
                                min_stay=rng.choice([None, 1, 3]), checkin_weekdays=rng.choice([None, 127]))
    for _ in range(12):
        start, length = rng.randint(0, 22), rng.randint(1, 5)
        q = SearchQuery(check_in=d(start), check_out=d(start + length), page_size=4, page=rng.randint(1, 3),
                        sort=rng.choice(["price", "-price", "name", "newest", "bedrooms"]))
        new, old = search(q, at=AT), _search_orm(q, AT)
        assert new.total == old.total
        assert [r.property.pk for r in new.results] == [r.property.pk for r in old.results]
        assert [r.quote.total for r in new.results] == [r.quote.total for r in old.results]


@pytest.mark.django_db(transaction=True)
def test_concurrent_writers_on_one_property_leave_the_bits_exact():
    """Eight threads write the same property at once, through the services and around them (a bulk insert
    that takes no property lock): the trigger's own row lock orders the recomputes, nothing is lost."""
    prop = PropertyFactory()
    base = date.today() + timedelta(days=10)
    barrier = threading.Barrier(8)
    errors = []

    def work(i):
        try:
            barrier.wait()
            with transaction.atomic():
                if i % 2:
                    Booking.objects.create(property=prop, reference=f"PMS-C-{i}", check_in=base + timedelta(i * 3),
                                           check_out=base + timedelta(i * 3 + 2), status=BookingStatus.CONFIRMED,
                                           currency="EUR")
                else:
                    b = services.reserve(property_id=prop.pk, check_in=base + timedelta(i * 3),
                                         check_out=base + timedelta(i * 3 + 2), adults=1,
                                         guest=GUEST, actor=SYSTEM)
                    services.confirm(booking_id=b.pk, actor=SYSTEM)
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=work, args=(i,)) for i in range(1, 9)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == [], [str(e) for e in errors]
    assert len(stored(prop)[0]) == 8 * 2
    assert_kept(prop)
