"""An import and a direct checkout racing for the same nights on real parallel database connections.

Exactly one wins: either the imported stay is booked and the checkout gets a 409 (``DatesUnavailable``), or
the checkout's reservation stands and the import becomes a ``SyncConflict`` pointing at it. Never both
occupying, never a silent loss. (Same thread/barrier pattern as tests/bookings/test_concurrency.py.)"""

from __future__ import annotations

import pytest
from django.utils import timezone

from bookings import services
from bookings.errors import DatesUnavailable
from bookings.models import Booking
from bookings.state_machine import Actor
from channels.ical_parse import parse_feed
from channels.models import SyncConflict
from channels.reconcile import apply_snapshot
from guests.services import GuestInput
from tests.bookings.test_concurrency import run_in_parallel
from tests.channels.conftest_import import Ev, day, ics, make_connection
from tests.factories import PropertyFactory

pytestmark = pytest.mark.django_db(transaction=True)
ROUNDS = 8


def test_an_import_and_a_direct_checkout_racing_for_the_same_nights_exactly_one_wins():
    prop = PropertyFactory()
    conn = make_connection(prop, "airbnb")
    outcomes = []
    for i in range(ROUNDS):
        start, end = day(prop, 10 + 10 * i), day(prop, 13 + 10 * i)
        # Cumulative feed, as Airbnb's would be: earlier rounds' stays stay in it.
        events = [Ev(f"race-{j}", day(prop, 10 + 10 * j), day(prop, 13 + 10 * j)) for j in range(i + 1)]
        snapshot = parse_feed(ics("airbnb", events), platform="airbnb", tz=prop.timezone)

        def checkout(i=i, start=start, end=end):
            return services.reserve(property_id=prop.pk, check_in=start, check_out=end, adults=2,
                                    guest=GuestInput(name=f"Direct {i}", email=f"direct{i}@example.com"),
                                    actor=Actor.guest(f"direct{i}@example.com"))

        results = run_in_parallel([lambda snapshot=snapshot: apply_snapshot(conn, snapshot), checkout])
        (import_kind, import_value), (direct_kind, direct_value) = results
        assert import_kind == "ok", import_value  # a conflict is a result, not an exception
        occupying = list(Booking.objects.filter(property=prop).occupying().overlapping(start, end))
        assert len(occupying) == 1, occupying
        winner = occupying[0]
        if direct_kind == "ok":
            assert winner.pk == direct_value.pk and winner.source == "direct"
            assert import_value.conflicts >= 1
            conflict = SyncConflict.objects.get(connection=conn, uid=f"race-{i}", resolved_at__isnull=True)
            assert conflict.other_booking_id == direct_value.pk
            outcomes.append("direct")
        else:
            assert type(direct_value) is DatesUnavailable and direct_value.http_status == 409
            assert winner.source == "airbnb" and winner.external_id == f"race-{i}"
            assert not SyncConflict.objects.filter(connection=conn, uid=f"race-{i}").exists()
            outcomes.append("import")
    assert len(outcomes) == ROUNDS  # either order is fine; each round had exactly one winner


def test_two_syncs_of_the_same_feed_at_once_import_each_stay_once():
    prop = PropertyFactory()
    conn = make_connection(prop, "fewo_direkt")
    events = [Ev(f"v{i}", day(prop, 5 + 4 * i), day(prop, 8 + 4 * i), name=f"Guest {i}") for i in range(5)]
    events.append(Ev("b", day(prop, 40), day(prop, 45), "block"))
    snapshot = parse_feed(ics("fewo_direkt", events), platform="fewo_direkt", tz=prop.timezone)
    now = timezone.now()

    results = run_in_parallel([lambda: apply_snapshot(conn, snapshot, at=now) for _ in range(4)])

    assert all(kind == "ok" for kind, _ in results), results
    assert sorted(value.created for _, value in results) == [0, 0, 0, 5]
    assert Booking.objects.filter(property=prop, source="fewo_direkt").count() == 5
    assert conn.channel_blocks.count() == 1
    assert SyncConflict.objects.count() == 0
