"""Group bookings under real parallel connections: locks in a stable order (no deadlock), all or nothing.

Every thread has its own PostgreSQL connection; a barrier releases them together (tests/parallel.py)."""

from __future__ import annotations

import pytest

from bookings import services
from bookings.errors import DatesUnavailable, GroupStayFailed
from bookings.models import Booking, BookingGroup
from bookings.services import GroupStay
from core.actor import Actor
from guests.services import GuestInput
from tests.factories import PropertyFactory, future
from tests.parallel import run_in_parallel

pytestmark = pytest.mark.django_db(transaction=True)
ACTOR = Actor.system("race")


def group_job(props, i, start=10, nights=3):
    stays = [GroupStay(property_id=p.pk, check_in=future(start), check_out=future(start + nights), adults=2)
             for p in props]
    return lambda: services.reserve_group(stays=stays, guest=GuestInput(name=f"G{i}", email=f"g{i}@example.com"),
                                          actor=ACTOR)


def assert_no_overlap(prop):
    rows = list(Booking.objects.filter(property=prop).occupying().order_by("check_in"))
    for a, b in zip(rows, rows[1:], strict=False):
        assert a.check_out <= b.check_in, f"{a} and {b} overlap"
    return rows


@pytest.mark.parametrize("round_", range(6))
def test_groups_overlapping_in_opposite_orders_never_deadlock_and_one_wins(round_):
    a, b, c = PropertyFactory(), PropertyFactory(), PropertyFactory()
    # Four groups share a and b; half list them a→b, half b→a (c only in some): a naive lock order deadlocks.
    jobs = [group_job([a, b, c], 0), group_job([c, b, a], 1), group_job([b, a], 2), group_job([a, b], 3)]

    results = run_in_parallel(jobs)

    errors = [value for kind, value in results if kind == "error"]
    wins = [value for kind, value in results if kind == "ok"]
    assert all(isinstance(e, GroupStayFailed) for e in errors), [repr(e) for e in errors]  # no deadlock error
    assert all(e.stay_code == "dates_unavailable" for e in errors)
    assert len(wins) == 1
    winner = wins[0]
    assert BookingGroup.objects.count() == 1
    for prop in (a, b):
        rows = assert_no_overlap(prop)
        assert [r.group_id for r in rows] == [winner.pk]
    expected_c = 1 if {p.property_id for p in winner.bookings.all()} >= {c.pk} else 0
    assert Booking.objects.filter(property=c).count() == expected_c  # the losers left nothing behind on c


def test_many_groups_on_disjoint_and_shared_properties():
    props = [PropertyFactory() for _ in range(4)]
    # Pairs (0,1), (1,0), (2,3), (3,2) for the same nights: exactly one of each pair wins.
    jobs = []
    for i in range(12):
        pair = [props[0], props[1]] if i % 4 in (0, 1) else [props[2], props[3]]
        jobs.append(group_job(pair if i % 2 == 0 else pair[::-1], i))

    results = run_in_parallel(jobs)

    assert all(isinstance(v, GroupStayFailed) for kind, v in results if kind == "error")
    assert sum(kind == "ok" for kind, _ in results) == 2
    for prop in props:
        assert len(assert_no_overlap(prop)) == 1


def test_group_racing_single_bookings():
    a, b = PropertyFactory(), PropertyFactory()
    singles = [
        (lambda i=i: services.reserve(property_id=b.pk, check_in=future(11), check_out=future(12), adults=2,
                                      guest=GuestInput(name=f"S{i}", email=f"s{i}@example.com"), actor=ACTOR))
        for i in range(6)
    ]
    jobs = [group_job([a, b], 0), group_job([b, a], 1), *singles]

    results = run_in_parallel(jobs)

    group_results = results[:2]
    single_results = results[2:]
    assert all(isinstance(v, GroupStayFailed | DatesUnavailable) for kind, v in results if kind == "error")
    b_rows = assert_no_overlap(b)
    assert len(b_rows) == 1  # night 11 on b sold exactly once, to a group or to a single
    group_won = any(kind == "ok" for kind, _ in group_results)
    assert sum(kind == "ok" for kind, _ in group_results) <= 1
    assert sum(kind == "ok" for kind, _ in single_results) == (0 if group_won else 1)
    # A group that lost left nothing on a either: all or nothing.
    assert Booking.objects.filter(property=a).count() == (1 if group_won else 0)
    if group_won:
        assert b_rows[0].group_id is not None
