"""channels.reconcile.apply_snapshot: a feed snapshot becomes bookings, channel blocks and conflicts."""

from datetime import timedelta

import pytest
from django.utils import timezone

from bookings import services
from bookings.errors import DatesUnavailable
from bookings.models import Booking, BookingStatus, Source
from channels.ical_parse import Snapshot
from channels.models import SyncConflict
from channels.reconcile import apply_snapshot
from core.actor import Actor
from core.models import OutboxEvent
from properties import services as property_services
from properties.models import AvailabilityBlock
from tests.channels.conftest_import import (
    Ev,
    channel_blocks,
    day,
    imported,
    lanes,
    make_connection,
    row_counts,
    stays,
    sync,
)

pytestmark = [pytest.mark.django_db, pytest.mark.sqlite]  # also proven on the embedded SQLite default


@pytest.fixture
def conn(prop):
    return make_connection(prop, "airbnb")


def test_new_reservations_become_confirmed_channel_bookings_and_blocks_become_channel_blocks(prop, conn):
    before = set(OutboxEvent.objects.values_list("pk", flat=True))
    result = sync(conn, [Ev("a@airbnb.com", day(prop, 10), day(prop, 13)),
                         Ev("b@airbnb.com", day(prop, 20), day(prop, 22)),
                         Ev("n1@airbnb.com", day(prop, 30), day(prop, 40), "block")])
    assert (result.created, result.changed, result.cancelled, result.conflicts, result.blocks) == (2, 0, 0, 0, 1)
    assert result.warning == ""
    assert stays(conn) == [("a@airbnb.com", day(prop, 10), day(prop, 13)),
                           ("b@airbnb.com", day(prop, 20), day(prop, 22))]
    booking = imported(conn).first()
    assert booking.status == BookingStatus.CONFIRMED and booking.source == Source.AIRBNB
    assert booking.guest.name == "Airbnb guest"
    assert channel_blocks(conn) == [(day(prop, 30), day(prop, 40), False)]
    block = AvailabilityBlock.objects.get(connection=conn)
    assert block.reason == AvailabilityBlock.Reason.CHANNEL
    assert block.external_summary == "Airbnb (Not available)"
    topics = list(OutboxEvent.objects.exclude(pk__in=before).values_list("topic", flat=True))
    assert topics.count("booking.created") == 2 and topics.count("availability.updated") == 1


def test_guest_names_come_from_the_platform_when_it_tells_them(prop):
    vrbo = make_connection(prop, "fewo_direkt")
    sync(vrbo, [Ev("v1", day(prop, 5), day(prop, 8), name="Jane Doe")])
    assert imported(vrbo).get().guest.name == "Jane Doe"


def test_a_known_uid_with_new_dates_moves_the_stay(prop, conn):
    sync(conn, [Ev("a", day(prop, 10), day(prop, 13))])
    booking = imported(conn).get()
    result = sync(conn, [Ev("a", day(prop, 11), day(prop, 15))])
    assert (result.created, result.changed, result.unchanged) == (0, 1, 0)
    booking.refresh_from_db()
    assert (booking.check_in, booking.check_out) == (day(prop, 11), day(prop, 15))
    assert "Dates changed on the channel" in booking.events.order_by("-pk").first().reason


def test_a_future_stay_missing_from_the_snapshot_is_cancelled(prop, conn):
    sync(conn, [Ev("a", day(prop, 10), day(prop, 13)), Ev("b", day(prop, 20), day(prop, 23)),
                Ev("c", day(prop, 30), day(prop, 33))])
    result = sync(conn, [Ev("a", day(prop, 10), day(prop, 13)), Ev("c", day(prop, 30), day(prop, 33))])
    assert (result.cancelled, result.unchanged) == (1, 2)
    assert [uid for uid, *_ in stays(conn)] == ["a", "c"]
    gone = Booking.objects.get(external_id="b")
    assert gone.status == BookingStatus.CANCELLED and gone.cancellation_reason == "Cancelled on Airbnb."


def test_an_explicitly_cancelled_event_cancels_the_stay(prop):
    expedia = make_connection(prop, "expedia")
    sync(expedia, [Ev("x1", day(prop, 10), day(prop, 12)), Ev("x2", day(prop, 14), day(prop, 16))])
    result = sync(expedia, [Ev("x1", day(prop, 10), day(prop, 12), "cancelled"),
                            Ev("x2", day(prop, 14), day(prop, 16))])
    assert result.cancelled == 1
    assert Booking.objects.get(external_id="x1").status == BookingStatus.CANCELLED


def test_past_and_started_stays_are_left_alone(prop, conn):
    now = timezone.now()
    # Imported earlier: one stay already over, one the guest is in now (arrived yesterday).
    sync(conn, [Ev("past", day(prop, -10), day(prop, -7)), Ev("now", day(prop, -1), day(prop, 3)),
                Ev("later", day(prop, 10), day(prop, 12))], at=now - timedelta(days=20))
    assert len(stays(conn)) == 3
    # Today's feed no longer lists the past stay (scrolled out) nor, by a glitch, the current one.
    result = sync(conn, [Ev("later", day(prop, 10), day(prop, 12))], at=now)
    assert result.cancelled == 0
    assert [uid for uid, *_ in stays(conn)] == ["past", "now", "later"]
    # Even an explicit cancellation does not cancel a started stay: the owner decides.
    result = sync(conn, [Ev("now", day(prop, -1), day(prop, 3), "cancelled"),
                         Ev("later", day(prop, 10), day(prop, 12))], at=now)
    assert result.cancelled == 0 and Booking.objects.get(external_id="now").status == BookingStatus.CONFIRMED


def test_events_that_ended_are_not_imported(prop, conn):
    result = sync(conn, [Ev("old", day(prop, -10), day(prop, -7)), Ev("ends-today", day(prop, -3), day(prop, 0))])
    assert result.created == 0 and result.unchanged == 2
    assert not imported(conn).exists()


def test_the_same_snapshot_twice_changes_nothing_the_second_time(prop, conn, book):
    book(prop, start=50, nights=2)  # a direct booking the feed will conflict with
    events = [Ev("a", day(prop, 10), day(prop, 13)), Ev("b", day(prop, 20), day(prop, 23)),
              Ev("clash", day(prop, 50), day(prop, 52)), Ev("n1", day(prop, 30), day(prop, 35), "block"),
              Ev("n2", day(prop, 35), day(prop, 40), "block")]
    at = timezone.now()
    first = sync(conn, events, at=at)
    assert (first.created, first.conflicts, first.blocks) == (3, 1, 1)  # the clash is recorded: an overbooking
    counts = row_counts()
    second = sync(conn, events, at=at + timedelta(minutes=10))
    assert (second.created, second.changed, second.cancelled, second.unchanged) == (0, 0, 0, 3)
    assert second.conflicts == 1 and second.blocks == 1
    assert row_counts() == counts
    assert SyncConflict.objects.filter(connection=conn).count() == 1


def test_an_overlap_with_a_direct_booking_is_recorded_as_an_overbooking_and_the_direct_booking_is_untouched(
        prop, conn, book):
    direct = book(prop, start=10, nights=3)
    result = sync(conn, [Ev("clash", day(prop, 11), day(prop, 14))])
    assert (result.created, result.conflicts) == (1, 1)
    # The platform sold it: it is a booking, on its nights, in lane 1 beside the direct booking (lane 0).
    assert stays(conn) == [("clash", day(prop, 11), day(prop, 14))] and lanes(conn) == {"clash": 1}
    clash = imported(conn).get()
    assert clash.status == BookingStatus.CONFIRMED and clash.is_overbooked
    conflict = SyncConflict.objects.get(connection=conn)
    assert conflict.resolved_at is None and conflict.uid == "clash" and conflict.imported_booking == clash
    assert (conflict.check_in, conflict.check_out) == (day(prop, 11), day(prop, 14))
    assert conflict.other_booking == direct and conflict.other_block is None
    assert conflict.summary == "Reserved" and "reservations/details" in conflict.description
    assert f"overlaps booking {direct.reference}" in conflict.detail
    assert "Overbooking: it overlaps " + direct.reference in clash.events.get().reason
    direct.refresh_from_db()
    assert direct.status == BookingStatus.RESERVED and direct.overbooking_lane == 0
    # Seen again, moved by a night: the same open conflict, updated; the stay moved with it.
    later = timezone.now() + timedelta(minutes=10)
    sync(conn, [Ev("clash", day(prop, 11), day(prop, 15))], at=later)
    conflict.refresh_from_db()
    assert SyncConflict.objects.filter(connection=conn).count() == 1
    assert conflict.check_out == day(prop, 15) and conflict.last_seen_at == later
    assert stays(conn) == [("clash", day(prop, 11), day(prop, 15))] and lanes(conn) == {"clash": 1}


def test_an_overlap_with_an_owner_block_is_recorded_and_is_a_conflict_with_the_block(prop, conn):
    block = property_services.create_block(property_id=prop.pk, start_date=day(prop, 10), end_date=day(prop, 12))
    result = sync(conn, [Ev("clash", day(prop, 9), day(prop, 11))])
    assert (result.created, result.conflicts) == (1, 1)
    conflict = SyncConflict.objects.get()
    assert conflict.other_block == block and conflict.other_booking is None
    assert lanes(conn) == {"clash": 0}  # no other stay on its nights: under the exclusion constraint


def test_stay_rules_do_not_apply_to_what_a_platform_sold(prop, conn, book):
    """Buffer days, minimum stay, check-in weekdays, lead time: rules for what *we* sell."""
    book(prop, start=40, nights=5)
    prop.buffer_days, prop.min_stay, prop.min_lead_days, prop.checkin_weekdays = 2, 5, 30, 1 << day(prop, 9).weekday()
    prop.save()
    result = sync(conn, [Ev("near", day(prop, 1), day(prop, 2)),  # 1 night, inside the lead time, any weekday
                         Ev("buffer", day(prop, 45), day(prop, 47))])  # right after the direct stay: in its buffer
    assert (result.created, result.conflicts) == (2, 0)
    assert lanes(conn) == {"near": 0, "buffer": 0}


def test_a_conflict_whose_event_disappears_resolves_itself_and_frees_the_nights(prop, conn, book):
    book(prop, start=10, nights=3)
    sync(conn, [Ev("clash", day(prop, 11), day(prop, 14)), Ev("later", day(prop, 30), day(prop, 32))])
    result = sync(conn, [Ev("later", day(prop, 30), day(prop, 32))])
    assert (result.conflicts, result.cancelled) == (0, 1)
    conflict = SyncConflict.objects.get()
    assert conflict.resolution == SyncConflict.Resolution.GONE and conflict.resolved_at is not None
    assert stays(conn) == [("later", day(prop, 30), day(prop, 32))]


def test_a_conflict_whose_event_moves_to_free_dates_resolves_and_returns_to_lane_0(prop, conn, book):
    book(prop, start=10, nights=3)
    sync(conn, [Ev("clash", day(prop, 11), day(prop, 14))])
    result = sync(conn, [Ev("clash", day(prop, 20), day(prop, 23))])
    assert (result.changed, result.conflicts) == (1, 0)
    assert SyncConflict.objects.get().resolution == SyncConflict.Resolution.GONE
    assert stays(conn) == [("clash", day(prop, 20), day(prop, 23))] and lanes(conn) == {"clash": 0}


def test_a_conflict_resolves_once_the_other_booking_is_cancelled(prop, conn, book, owner):
    direct = book(prop, start=10, nights=3)
    sync(conn, [Ev("clash", day(prop, 11), day(prop, 14))])
    services.cancel(booking_id=direct.pk, actor=Actor.for_user(owner), reason="guest cancelled")
    result = sync(conn, [Ev("clash", day(prop, 11), day(prop, 14))])
    assert (result.unchanged, result.conflicts) == (1, 0)
    assert SyncConflict.objects.get().resolution == SyncConflict.Resolution.GONE
    assert lanes(conn) == {"clash": 0}
    assert "the overbooking is over" in imported(conn).get().events.last().reason


def test_a_move_onto_taken_nights_moves_the_stay_and_is_a_conflict(prop, conn, book):
    sync(conn, [Ev("a", day(prop, 10), day(prop, 13))])
    direct = book(prop, start=20, nights=3)
    result = sync(conn, [Ev("a", day(prop, 19), day(prop, 22))])
    assert (result.changed, result.conflicts) == (1, 1)
    assert stays(conn) == [("a", day(prop, 19), day(prop, 22))] and lanes(conn) == {"a": 1}
    assert SyncConflict.objects.get().other_booking == direct
    # The guest moves back: the conflict is gone, the stay is alone on its nights again.
    result = sync(conn, [Ev("a", day(prop, 10), day(prop, 13))])
    assert (result.changed, result.conflicts) == (1, 0)
    assert SyncConflict.objects.get().resolution == SyncConflict.Resolution.GONE
    assert lanes(conn) == {"a": 0}


def test_two_events_of_the_same_feed_on_the_same_nights_are_both_recorded(prop, conn):
    """A platform that sold a night twice (or exports one stay under two UIDs): both occupy, the owner is told."""
    result = sync(conn, [Ev("a", day(prop, 10), day(prop, 13)), Ev("b", day(prop, 12), day(prop, 15)),
                         Ev("c", day(prop, 11), day(prop, 14))])
    assert (result.created, result.conflicts) == (3, 2)
    assert lanes(conn) == {"a": 0, "c": 1, "b": 2}  # in arrival order; b overlaps both: the lowest lane neither uses
    conflicts = {c.uid: c for c in SyncConflict.objects.filter(connection=conn)}
    assert set(conflicts) == {"b", "c"} and conflicts["c"].other_booking.external_id == "a"


def test_a_chain_of_moves_in_one_snapshot_applies_whatever_the_order(prop, conn):
    sync(conn, [Ev("a", day(prop, 10), day(prop, 13)), Ev("b", day(prop, 13), day(prop, 16))])
    # "a" moves onto "b"'s old nights (processed first: it starts first), "b" moves away.
    result = sync(conn, [Ev("a", day(prop, 13), day(prop, 16)), Ev("b", day(prop, 20), day(prop, 23))])
    assert (result.changed, result.conflicts) == (2, 0)
    assert stays(conn) == [("a", day(prop, 13), day(prop, 16)), ("b", day(prop, 20), day(prop, 23))]


def test_two_stays_swapping_nights_are_applied_without_a_conflict(prop, conn):
    """A swap cannot be applied one move at a time without an overlap in between: the first move is recorded
    in lane 1 for a moment, the second frees its nights, and the stay returns to lane 0 before the run ends."""
    sync(conn, [Ev("a", day(prop, 10), day(prop, 13)), Ev("b", day(prop, 13), day(prop, 16))])
    result = sync(conn, [Ev("a", day(prop, 13), day(prop, 16)), Ev("b", day(prop, 10), day(prop, 13))])
    assert (result.changed, result.conflicts) == (2, 0)
    assert stays(conn) == [("b", day(prop, 10), day(prop, 13)), ("a", day(prop, 13), day(prop, 16))]
    assert lanes(conn) == {"a": 0, "b": 0} and not SyncConflict.objects.exists()


def test_a_stay_taking_nights_another_just_left_applies(prop, conn):
    sync(conn, [Ev("a", day(prop, 10), day(prop, 13))])
    result = sync(conn, [Ev("new", day(prop, 10), day(prop, 13))])  # "a" cancelled, "new" on its nights
    assert (result.created, result.cancelled, result.conflicts) == (1, 1, 0)
    assert stays(conn) == [("new", day(prop, 10), day(prop, 13))]


def test_the_guard_trips_when_a_snapshot_would_cancel_most_future_stays(prop, conn, settings):
    events = [Ev(f"s{i}", day(prop, 10 + 5 * i), day(prop, 12 + 5 * i)) for i in range(4)]
    sync(conn, events + [Ev("n", day(prop, 60), day(prop, 70), "block")])
    result = sync(conn, events[:1] + [Ev("new", day(prop, 80), day(prop, 82)),
                                      Ev("n2", day(prop, 90), day(prop, 95), "block")])
    assert result.warning and "3 of 4" in result.warning
    # Only the cancellations wait: the new stay is imported and the new block added to the old one.
    assert (result.created, result.cancelled, result.blocks) == (1, 0, 2)
    assert len(stays(conn)) == 5
    assert channel_blocks(conn) == [(day(prop, 60), day(prop, 70), False), (day(prop, 90), day(prop, 95), False)]
    # A share the host could plausibly lose at once goes through.
    settings.CHANNEL_CANCEL_GUARD_SHARE = 0.8
    result = sync(conn, events[:1] + [Ev("new", day(prop, 80), day(prop, 82))])
    assert result.warning == "" and result.cancelled == 3 and conn.held_cancellations == {}


def test_below_the_minimum_the_guard_lets_cancellations_through(prop, conn):
    sync(conn, [Ev("a", day(prop, 10), day(prop, 12)), Ev("b", day(prop, 20), day(prop, 22))])
    result = sync(conn, [Ev("b", day(prop, 20), day(prop, 22))])
    assert result.warning == "" and result.cancelled == 1  # 1 of 2 is 50 %, but fewer than 3
    assert [uid for uid, *_ in stays(conn)] == ["b"]


def test_an_empty_feed_cancels_nothing_until_confirmed_whatever_the_count(prop, conn, settings):
    settings.CHANNEL_CANCEL_CONFIRM_FETCHES = 1
    sync(conn, [Ev("a", day(prop, 10), day(prop, 12)), Ev("b", day(prop, 20), day(prop, 22))])
    empty = Snapshot(events=[], window_start=None, window_end=None, warnings=[])
    result = apply_snapshot(conn, empty)
    assert "empty calendar" in result.warning and result.cancelled == 0 and len(stays(conn)) == 2
    result = apply_snapshot(conn, empty)  # one further fetch agrees (the setting): cancelled
    assert result.warning == "" and result.cancelled == 2 and stays(conn) == []


def test_a_stay_after_the_last_event_seen_still_counts_as_inside_the_window(prop, conn):
    sync(conn, [Ev("a", day(prop, 10), day(prop, 12)), Ev("b", day(prop, 40), day(prop, 42)),
                Ev("c", day(prop, 50), day(prop, 52))])
    result = sync(conn, [Ev("a", day(prop, 10), day(prop, 12))])  # the last stays were cancelled
    assert result.cancelled == 2


def test_the_next_stay_is_cancelled_even_when_the_feed_starts_after_it(prop):
    """Booking.com exports from today on: when the next stay is cancelled, the first event left is later."""
    bcom = make_connection(prop, "booking_com")
    sync(bcom, [Ev("next", day(prop, 3), day(prop, 5), name="A"), Ev("b", day(prop, 10), day(prop, 12), name="B")])
    result = sync(bcom, [Ev("b", day(prop, 10), day(prop, 12), name="B")])
    assert result.cancelled == 1 and [uid for uid, *_ in stays(bcom)] == ["b"]


def test_a_cancelled_uid_that_comes_back_is_imported_again(prop, conn):
    sync(conn, [Ev("a", day(prop, 10), day(prop, 12))])
    sync(conn, [Ev("a", day(prop, 10), day(prop, 12), "cancelled")])
    assert stays(conn) == []
    result = sync(conn, [Ev("a", day(prop, 10), day(prop, 12))])
    assert result.created == 1 and result.conflicts == 0
    assert stays(conn) == [("a~2", day(prop, 10), day(prop, 12))]
    assert sync(conn, [Ev("a", day(prop, 10), day(prop, 12))]).unchanged == 1


def test_imported_stays_do_not_conflict_with_channel_blocks_but_direct_bookings_do(prop, conn, guest_input):
    vrbo = make_connection(prop, "fewo_direkt")
    sync(vrbo, [Ev("echo", day(prop, 10), day(prop, 14), "block")])
    result = sync(conn, [Ev("a", day(prop, 10), day(prop, 13))])
    assert (result.created, result.conflicts) == (1, 0)
    with pytest.raises(DatesUnavailable):
        services.reserve(property_id=prop.pk, check_in=day(prop, 13), check_out=day(prop, 14), adults=1,
                         guest=guest_input, actor=Actor.system("test"))
    # Moving the imported stay within the channel block works too.
    assert sync(conn, [Ev("a", day(prop, 11), day(prop, 14))]).changed == 1


def test_channel_blocks_may_overlap_bookings_platforms_echo_what_we_sent(prop, book):
    book(prop, start=10, nights=3)
    vrbo = make_connection(prop, "fewo_direkt")
    result = sync(vrbo, [Ev("echo", day(prop, 10), day(prop, 13), "block"),
                         Ev("t", day(prop, 20), day(prop, 22), "tentative", name="Tom")])
    assert result.blocks == 2
    assert channel_blocks(vrbo) == [(day(prop, 10), day(prop, 13), False), (day(prop, 20), day(prop, 22), True)]


def test_a_booking_com_stay_with_a_name_imports_with_that_name(prop):
    bcom = make_connection(prop, "booking_com")
    sync(bcom, [Ev("b1", day(prop, 5), day(prop, 7), name="Maria Garcia"),
                Ev("b2", day(prop, 9), day(prop, 11), "block")])
    assert imported(bcom).get().guest.name == "Maria Garcia"
    assert channel_blocks(bcom) == [(day(prop, 9), day(prop, 11), False)]


# --- replace_channel_blocks -----------------------------------------------------------------------


def test_replace_channel_blocks_merges_touching_ranges_and_is_silent_when_unchanged(prop, conn):
    d = lambda n: day(prop, n)  # noqa: E731
    blocks = [(d(5), d(7), False, "A"), (d(7), d(9), False, "A"), (d(8), d(12), False, "B"),
              (d(20), d(21), False, "A"), (d(8), d(10), True, "T")]
    assert property_services.replace_channel_blocks(connection=conn, blocks=blocks) == 3
    rows = list(AvailabilityBlock.objects.filter(connection=conn).order_by("start_date", "tentative")
                .values_list("start_date", "end_date", "tentative", "external_summary"))
    assert rows == [(d(5), d(12), False, "A\nB"), (d(8), d(10), True, "T"), (d(20), d(21), False, "A")]
    ids, outbox = set(AvailabilityBlock.objects.values_list("pk", flat=True)), OutboxEvent.objects.count()
    outbox_ids = set(OutboxEvent.objects.values_list("pk", flat=True))
    assert property_services.replace_channel_blocks(connection=conn, blocks=list(reversed(blocks))) == 3
    assert set(AvailabilityBlock.objects.values_list("pk", flat=True)) == ids
    assert OutboxEvent.objects.count() == outbox
    # One range changes: only that row is replaced, one availability event covers the change.
    assert property_services.replace_channel_blocks(connection=conn, blocks=blocks[:4]) == 2
    assert OutboxEvent.objects.count() == outbox + 1
    event = OutboxEvent.objects.exclude(pk__in=outbox_ids).get()
    assert event.topic == "availability.updated" and event.payload["start"] == d(8).isoformat()


def test_replace_channel_blocks_leaves_owner_blocks_and_other_connections_alone(prop, conn):
    owner_block = property_services.create_block(property_id=prop.pk, start_date=day(prop, 1), end_date=day(prop, 2))
    other = make_connection(prop, "fewo_direkt")
    property_services.replace_channel_blocks(connection=other, blocks=[(day(prop, 3), day(prop, 4), False, "x")])
    property_services.replace_channel_blocks(connection=conn, blocks=[(day(prop, 5), day(prop, 6), False, "y")])
    assert property_services.replace_channel_blocks(connection=conn, blocks=[]) == 0
    assert AvailabilityBlock.objects.filter(pk=owner_block.pk).exists()
    assert channel_blocks(other) == [(day(prop, 3), day(prop, 4), False)]

