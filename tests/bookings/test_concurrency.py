"""Invariant 1 under real concurrency: many database connections race for the same nights.

Each thread opens its own connection (Django connections are per thread) and
closes it at the end; a barrier releases them together so the transactions really
overlap. The property row lock serializes them on PostgreSQL (BEGIN IMMEDIATE on
SQLite); the exclusion constraint is the last line (tested in test_services.py).
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection

from bookings import services
from bookings.errors import DatesUnavailable, HoldMismatch
from bookings.models import Booking, BookingStatus
from core.actor import Actor
from guests.services import GuestInput
from properties import services as property_services
from properties.models import AvailabilityBlock
from tests.factories import PropertyFactory, UserFactory, future
from tests.parallel import run_in_parallel

pytestmark = pytest.mark.django_db(transaction=True)
THREADS = 30
SYSTEM = Actor.system("race")


def guest(i: int) -> GuestInput:
    return GuestInput(name=f"Racer {i}", email=f"racer{i}@example.com")


def reserve_job(prop_id, i, start, nights):
    return lambda: services.reserve(property_id=prop_id, check_in=future(start), check_out=future(start + nights),
                                    adults=2, guest=guest(i), actor=SYSTEM)


def hold_job(prop_id, start, nights):
    return lambda: services.hold(property_id=prop_id, check_in=future(start), check_out=future(start + nights),
                                 adults=2, actor=SYSTEM)


def block_job(prop_id, start, nights):
    return lambda: property_services.create_block(property_id=prop_id, start_date=future(start),
                                                  end_date=future(start + nights))


def occupying(prop):
    return list(Booking.objects.filter(property=prop).occupying().order_by("check_in"))


def assert_no_overlap(rows):
    for a, b in zip(rows, rows[1:], strict=False):
        assert a.check_out <= b.check_in, f"{a} and {b} overlap"


def assert_only(results, *allowed):
    for kind, value in results:
        if kind == "error":
            assert isinstance(value, allowed), f"unexpected {type(value).__name__}: {value!r}"


@pytest.mark.sqlite
def test_thirty_reservations_for_overlapping_dates_exactly_one_wins():
    prop = PropertyFactory()
    # Ranges of 3 nights starting on days 10, 11 or 12: every one contains night 12.
    jobs = [reserve_job(prop.pk, i, 10 + i % 3, 3) for i in range(THREADS)]

    results = run_in_parallel(jobs)

    wins = [value for kind, value in results if kind == "ok"]
    losses = [value for kind, value in results if kind == "error"]
    assert len(wins) == 1
    assert len(losses) == THREADS - 1
    assert all(type(exc) is DatesUnavailable for exc in losses), {type(e).__name__ for e in losses}
    assert all(exc.code == "dates_unavailable" and exc.http_status == 409 for exc in losses)
    assert all("overlap" in {r.code for r in exc.reasons} for exc in losses if exc.reasons)
    rows = occupying(prop)
    assert [b.pk for b in rows] == [wins[0].pk]
    assert rows[0].status == BookingStatus.RESERVED
    assert rows[0].events.count() == 1  # the losers left no audit rows
    assert Booking.objects.count() == 1


@pytest.mark.sqlite
def test_holds_reservations_and_owner_blocks_racing_for_the_same_nights():
    prop = PropertyFactory()
    jobs = []
    for i in range(THREADS):
        start = 10 + i % 3  # every range contains night 12
        kind = i % 3
        if kind == 0:
            jobs.append(reserve_job(prop.pk, i, start, 3))
        elif kind == 1:
            jobs.append(hold_job(prop.pk, start, 3))
        else:
            jobs.append(block_job(prop.pk, start, 3))

    results = run_in_parallel(jobs)

    assert_only(results, DatesUnavailable)
    assert all(type(v) is DatesUnavailable for k, v in results if k == "error")
    rows = occupying(prop)
    blocks = list(AvailabilityBlock.objects.filter(property=prop))
    successes = sum(1 for kind, _ in results if kind == "ok")
    assert len(rows) <= 1
    assert successes == len(rows) + len(blocks)
    if rows:
        booking = rows[0]
        assert not blocks, "a block was created over an occupying booking"
        assert booking.status in (BookingStatus.HELD, BookingStatus.RESERVED)
    else:
        assert blocks, "nobody won"
    for block in blocks:
        for b in rows:
            assert not (block.start_date < b.check_out and block.end_date > b.check_in)


@pytest.mark.sqlite
def test_thirty_reservations_on_distinct_dates_all_succeed():
    prop = PropertyFactory()
    # Back to back: each check-out day is the next stay's check-in day.
    jobs = [reserve_job(prop.pk, i, 10 + 2 * i, 2) for i in range(THREADS)]

    results = run_in_parallel(jobs)

    errors = [value for kind, value in results if kind == "error"]
    assert errors == []
    rows = occupying(prop)
    assert len(rows) == THREADS
    assert_no_overlap(rows)
    assert len({b.reference for b in rows}) == THREADS


def test_parallel_bookings_on_different_properties_do_not_block_each_other():
    props = [PropertyFactory() for _ in range(3)]
    jobs = [reserve_job(props[i % 3].pk, i, 10, 3) for i in range(THREADS)]

    results = run_in_parallel(jobs)

    assert_only(results, DatesUnavailable)
    assert sum(1 for kind, _ in results if kind == "ok") == 3
    for prop in props:
        assert len(occupying(prop)) == 1


def test_race_against_an_expired_hold_exactly_one_takes_the_nights():
    """The expired hold is expired inside the winner's transaction; the losers see the winner."""
    prop = PropertyFactory()
    stale = services.hold(property_id=prop.pk, check_in=future(10), check_out=future(13), adults=2, actor=SYSTEM,
                          at=services.timezone.now() - timedelta(hours=1))
    jobs = [reserve_job(prop.pk, i, 10, 3) for i in range(THREADS)]

    results = run_in_parallel(jobs)

    assert_only(results, DatesUnavailable)
    assert sum(1 for kind, _ in results if kind == "ok") == 1
    stale.refresh_from_db()
    assert stale.status == BookingStatus.EXPIRED
    assert stale.events.filter(to_status=BookingStatus.EXPIRED).count() == 1  # expired once, not by every racer
    assert len(occupying(prop)) == 1


def test_owner_blocks_and_cancellations_race_cleanly():
    """Cancelling a booking while others try to take its nights: the nights are never double-occupied."""
    prop = PropertyFactory()
    owner = UserFactory()
    booking = services.reserve(property_id=prop.pk, check_in=future(10), check_out=future(13), adults=2,
                               guest=guest(0), actor=SYSTEM)
    jobs = [lambda: services.cancel(booking_id=booking.pk, actor=Actor.for_user(owner), reason="race")]
    jobs += [reserve_job(prop.pk, i, 10, 3) for i in range(1, THREADS)]

    results = run_in_parallel(jobs)

    assert results[0][0] == "ok"
    assert_only(results, DatesUnavailable)
    rows = occupying(prop)
    assert len(rows) <= 1
    # Either the cancel came first and exactly one racer won, or every racer lost.
    winners = sum(1 for kind, _ in results[1:] if kind == "ok")
    assert winners == len(rows) and winners <= 1


def test_thirty_conversions_of_the_same_hold_exactly_one_wins():
    prop = PropertyFactory()
    held = services.hold(property_id=prop.pk, check_in=future(10), check_out=future(13), adults=2, actor=SYSTEM)
    jobs = [
        (lambda i=i: services.reserve(property_id=prop.pk, check_in=future(10), check_out=future(13), adults=2,
                                      guest=guest(i), actor=SYSTEM, hold_id=held.pk))
        for i in range(THREADS)
    ]

    results = run_in_parallel(jobs)

    assert_only(results, HoldMismatch)
    wins = [value for kind, value in results if kind == "ok"]
    assert len(wins) == 1 and wins[0].pk == held.pk
    held.refresh_from_db()
    assert held.status == BookingStatus.RESERVED
    assert list(held.events.values_list("to_status", flat=True)) == [BookingStatus.HELD, BookingStatus.RESERVED]
    assert Booking.objects.count() == 1


@pytest.mark.sqlite
def test_hold_conversion_racing_the_expiry_job_has_one_consistent_outcome():
    """Converting a hold in its last second while the job expires it: either it becomes a reservation that
    keeps its own (longer) deadline, or it expires and the conversion is refused; never both, never neither."""
    prop = PropertyFactory()
    now = services.timezone.now()
    holds = [
        services.hold(property_id=prop.pk, check_in=future(10 + 3 * i), check_out=future(12 + 3 * i), adults=1,
                      actor=SYSTEM, minutes=1, at=now)
        for i in range(THREADS // 2)
    ]
    convert_at = now + timedelta(seconds=59)  # just inside the hold
    job_at = now + timedelta(seconds=61)  # just after it
    jobs = []
    for i, h in enumerate(holds):
        jobs.append(lambda h=h, i=i: services.reserve(
            property_id=prop.pk, check_in=h.check_in, check_out=h.check_out, adults=1, guest=guest(i), actor=SYSTEM,
            hold_id=h.pk, at=convert_at))
        jobs.append(lambda h=h: services.expire(booking_id=h.pk, at=job_at))

    results = run_in_parallel(jobs)

    assert_only(results, HoldMismatch)
    for i, h in enumerate(holds):
        converted, expired = results[2 * i], results[2 * i + 1]
        assert expired[0] == "ok"
        h.refresh_from_db()
        history = list(h.events.values_list("to_status", flat=True))
        if converted[0] == "ok":
            assert h.status == BookingStatus.RESERVED
            assert history == [BookingStatus.HELD, BookingStatus.RESERVED]
            assert h.expires_at > job_at  # the reservation's own deadline, so the job left it alone
        else:
            assert h.status == BookingStatus.EXPIRED
            assert history == [BookingStatus.HELD, BookingStatus.EXPIRED]


def test_the_expiry_job_racing_new_bookings_never_double_books():
    prop = PropertyFactory()
    past = services.timezone.now() - timedelta(hours=1)
    for i in range(5):
        services.hold(property_id=prop.pk, check_in=future(10 + 2 * i), check_out=future(12 + 2 * i), adults=1,
                      actor=SYSTEM, at=past)
    jobs = [lambda: services.expire_stale_bookings() for _ in range(5)]
    jobs += [reserve_job(prop.pk, i, 10 + i % 10, 2) for i in range(THREADS - 5)]

    results = run_in_parallel(jobs)

    assert_only(results, DatesUnavailable)
    rows = occupying(prop)
    assert_no_overlap(rows)
    assert len(rows) == sum(1 for kind, v in results[5:] if kind == "ok")
    stale = Booking.objects.filter(property=prop, status=BookingStatus.EXPIRED)
    assert stale.count() == 5
    for b in stale:
        assert b.events.filter(to_status=BookingStatus.EXPIRED).count() == 1  # expired exactly once


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the exclusion constraint exists on PostgreSQL only")
def test_with_the_lock_and_the_check_bypassed_the_constraint_alone_lets_exactly_one_win(monkeypatch):
    """The last line: no property lock, no availability check; the constraint still turns every loser into
    DatesUnavailable (not an IntegrityError, not a 500)."""
    from properties.availability import AvailabilityResult
    from properties.models import Property

    monkeypatch.setattr(services, "lock_property", lambda property_id, **kw: Property.objects.get(pk=property_id))
    monkeypatch.setattr(services, "check_availability", lambda *args, **kwargs: AvailabilityResult(True))
    prop = PropertyFactory()
    jobs = [reserve_job(prop.pk, i, 10 + i % 3, 3) for i in range(THREADS)]

    results = run_in_parallel(jobs)

    assert_only(results, DatesUnavailable)
    assert sum(1 for kind, _ in results if kind == "ok") == 1
    assert all(type(v) is DatesUnavailable and v.reasons == [] for k, v in results if k == "error")
    assert len(occupying(prop)) == 1
