"""Invariant 1 with changes in the race: real parallel connections (tests/parallel.py) moving bookings onto the
same nights, and a reservation racing a change. Exactly one wins; the nights are never sold twice."""

from __future__ import annotations

import pytest

from bookings import services
from bookings.errors import DatesUnavailable
from bookings.models import Booking
from core.actor import Actor
from guests.services import GuestInput
from payments.changes import change_with_payment
from tests.factories import PropertyFactory, future
from tests.parallel import run_in_parallel

pytestmark = pytest.mark.django_db(transaction=True)
SYSTEM = Actor.system("race")


def reserve(prop, i, start, nights):
    return services.reserve(property_id=prop.pk, check_in=future(start), check_out=future(start + nights), adults=2,
                            guest=GuestInput(name=f"Racer {i}", email=f"racer{i}@example.com"), actor=SYSTEM)


def assert_no_overlap(prop):
    rows = list(Booking.objects.filter(property=prop).occupying().order_by("check_in"))
    for a, b in zip(rows, rows[1:], strict=False):
        assert a.check_out <= b.check_in, f"{a} and {b} overlap"
    return rows


def move_job(booking, start, nights):
    return lambda: change_with_payment(booking_id=booking.pk, actor=SYSTEM, check_in=future(start),
                                       check_out=future(start + nights))


def test_changes_racing_for_the_same_nights_exactly_one_wins():
    prop = PropertyFactory()
    bookings = [reserve(prop, i, 10 + 4 * i, 3) for i in range(6)]  # 10-13, 14-17, … 30-33
    jobs = [move_job(b, 50 + i % 2, 3) for i, b in enumerate(bookings)]  # all onto night 51-52

    results = run_in_parallel(jobs)

    wins = [value for kind, value in results if kind == "ok"]
    losses = [value for kind, value in results if kind == "error"]
    assert len(wins) == 1, results
    assert all(type(exc) is DatesUnavailable for exc in losses), {type(e).__name__ for e in losses}
    rows = assert_no_overlap(prop)
    moved = [b for b in rows if b.check_in >= future(50)]
    assert [b.pk for b in moved] == [wins[0].booking.pk]


def test_a_change_and_new_reservations_race_for_the_same_nights():
    prop = PropertyFactory()
    booking = reserve(prop, 0, 10, 3)
    jobs = [move_job(booking, 40, 3)] + [
        (lambda i=i: reserve(prop, i, 41, 2)) for i in range(1, 6)]

    results = run_in_parallel(jobs)

    assert sum(kind == "ok" for kind, _ in results) == 1, results
    assert all(type(value) is DatesUnavailable for kind, value in results if kind == "error")
    rows = assert_no_overlap(prop)
    assert len([b for b in rows if b.check_in >= future(40)]) == 1
