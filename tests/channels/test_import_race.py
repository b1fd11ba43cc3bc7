"""Imports racing direct checkouts for the same nights, on real parallel database connections.

The platform sold its stay, so the import always lands; the checkout either wins the nights first (then the
import is recorded beside it as an overbooking in lane 1, a ``SyncConflict`` pointing at it, the owner alerted)
or gets a 409 (``DatesUnavailable``). Never a night left open, never a booking cancelled silently, never two
stays of ours on one night. (Same thread/barrier pattern as tests/bookings/test_concurrency.py.)"""

from __future__ import annotations

import pytest
from django.utils import timezone

from bookings import services
from bookings.errors import DatesUnavailable
from bookings.models import Booking, BookingStatus, SentEmail
from channels.ical_parse import parse_feed
from channels.models import SyncConflict
from channels.reconcile import apply_snapshot
from core.actor import Actor
from guests.services import GuestInput
from tests.channels.conftest_import import Ev, day, exported_nights, ics, make_connection, nights
from tests.factories import PropertyFactory
from tests.parallel import run_in_parallel

pytestmark = pytest.mark.django_db(transaction=True)
ROUNDS = 8


def checkout(prop, i, start, end):
    return lambda: services.reserve(property_id=prop.pk, check_in=start, check_out=end, adults=2,
                                    guest=GuestInput(name=f"Direct {i}", email=f"direct{i}@example.com"),
                                    actor=Actor.guest(f"direct{i}@example.com"))


def assert_overbooking_reported(conn, uid, direct_pk):
    conflict = SyncConflict.objects.get(connection=conn, uid=uid, resolved_at__isnull=True)
    assert conflict.other_booking_id == direct_pk and conflict.imported_booking.external_id == uid
    assert conflict.imported_booking.overbooking_lane == 1
    assert SentEmail.objects.filter(kind="owner_sync_conflict", dedupe_key__endswith=f":{conflict.pk}").exists()


def test_an_import_and_a_direct_checkout_racing_for_the_same_nights_neither_is_lost():
    prop = PropertyFactory()
    conn, other = make_connection(prop, "airbnb"), make_connection(prop, "booking_com")
    outcomes = []
    for i in range(ROUNDS):
        start, end = day(prop, 10 + 10 * i), day(prop, 13 + 10 * i)
        # Cumulative feed, as Airbnb's would be: earlier rounds' stays stay in it.
        events = [Ev(f"race-{j}", day(prop, 10 + 10 * j), day(prop, 13 + 10 * j)) for j in range(i + 1)]
        snapshot = parse_feed(ics("airbnb", events), platform="airbnb", tz=prop.timezone)

        results = run_in_parallel([lambda snapshot=snapshot: apply_snapshot(conn, snapshot),
                                   checkout(prop, i, start, end)])
        (import_kind, import_value), (direct_kind, direct_value) = results
        assert import_kind == "ok", import_value  # a conflict is a result, not an exception
        occupying = {b.source: b for b in Booking.objects.filter(property=prop).occupying().overlapping(start, end)}
        assert occupying["airbnb"].external_id == f"race-{i}"  # the import always lands
        if direct_kind == "ok":  # the checkout took the nights first: both kept, the owner told
            assert set(occupying) == {"airbnb", "direct"} and occupying["direct"].pk == direct_value.pk
            assert occupying["direct"].status == BookingStatus.RESERVED and occupying["direct"].overbooking_lane == 0
            assert import_value.conflicts >= 1
            assert_overbooking_reported(conn, f"race-{i}", direct_value.pk)
            outcomes.append("both")
        else:
            assert type(direct_value) is DatesUnavailable and direct_value.http_status == 409
            assert set(occupying) == {"airbnb"} and occupying["airbnb"].overbooking_lane == 0
            assert not SyncConflict.objects.filter(connection=conn, uid=f"race-{i}").exists()
            outcomes.append("import")
        assert nights(start, end) <= exported_nights(other)  # closed on the other channel either way
    assert len(outcomes) == ROUNDS  # either order is fine; no round lost a stay


def test_an_import_colliding_with_a_direct_booking_while_a_checkout_races_for_its_other_nights():
    """The feed's stay overlaps a confirmed direct booking (a collision for sure) while another guest checks out
    the stay's remaining nights: every night ends up closed, here and on the other channel; the owner is
    alerted; neither direct booking is cancelled."""
    prop = PropertyFactory()
    conn, other = make_connection(prop, "airbnb"), make_connection(prop, "booking_com")
    for i in range(ROUNDS):
        base = 10 + 10 * i
        first = checkout(prop, f"{i}a", day(prop, base), day(prop, base + 2))()
        snapshot = parse_feed(ics("airbnb", [Ev(f"clash-{i}", day(prop, base + 1), day(prop, base + 5))]),
                              platform="airbnb", tz=prop.timezone)
        # The feed holds only this round's stay: earlier rounds' stays leave it and are cancelled, as they should.
        results = run_in_parallel([lambda snapshot=snapshot: apply_snapshot(conn, snapshot, at=timezone.now()),
                                   checkout(prop, f"{i}b", day(prop, base + 3), day(prop, base + 5))])
        (import_kind, import_value), (direct_kind, direct_value) = results
        assert import_kind == "ok", import_value
        stay = Booking.objects.get(property=prop, source="airbnb", external_id=f"clash-{i}")
        assert stay.status == BookingStatus.CONFIRMED and stay.overbooking_lane == 1
        assert_overbooking_reported(conn, f"clash-{i}", first.pk)
        first.refresh_from_db()
        assert first.status == BookingStatus.RESERVED and first.overbooking_lane == 0
        if direct_kind == "ok":
            direct_value.refresh_from_db()
            assert direct_value.status == BookingStatus.RESERVED and direct_value.overbooking_lane == 0
        else:
            assert type(direct_value) is DatesUnavailable
        taken = set().union(*(nights(b.check_in, b.check_out)
                              for b in Booking.objects.filter(property=prop).occupying()))
        assert nights(day(prop, base), day(prop, base + 5)) <= taken
        assert nights(day(prop, base), day(prop, base + 5)) <= exported_nights(other)


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
