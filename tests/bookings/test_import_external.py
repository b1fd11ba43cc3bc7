"""Channel bookings: keyed by (property, source, external id), idempotent, always recorded (an overbooking in a
lane of its own when its nights are taken), never changing another booking."""

from __future__ import annotations

import pytest

from bookings import services
from bookings.errors import BookingError, DatesUnavailable, ExternalBookingConflict
from bookings.models import Booking, BookingEvent, BookingStatus, PaymentStatus, Source
from core.actor import Actor
from core.models import OutboxEvent
from guests.services import GuestInput
from tests.factories import BlockFactory, PropertyFactory, future

pytestmark = pytest.mark.django_db
S = BookingStatus
GUEST = GuestInput(name="Channel Guest", email="c@example.com")


def imp(prop, start=10, nights=3, external_id="HM123", source=Source.AIRBNB, **kw):
    return services.import_external(property_id=prop.pk, source=source, external_id=external_id,
                                    check_in=future(start), check_out=future(start + nights), guest=GUEST, **kw)


def state():
    return (
        list(Booking.objects.order_by("pk").values_list("pk", "status", "check_in", "check_out", "updated_at")),
        BookingEvent.objects.count(),
        OutboxEvent.objects.count(),
    )


@pytest.mark.sqlite
def test_import_creates_a_confirmed_paid_channel_booking():
    prop = PropertyFactory()
    result = imp(prop, adults=2)

    b = result.booking
    assert result.action == "created"
    assert (b.source, b.external_id, b.status, b.payment_status) == (Source.AIRBNB, "HM123", S.CONFIRMED,
                                                                     PaymentStatus.PAID)
    assert b.amount_paid == b.total > 0
    event = b.events.get()
    assert (event.from_status, event.to_status, event.actor_type, event.actor_label) == ("", S.CONFIRMED, "channel",
                                                                                       "airbnb")
    assert OutboxEvent.objects.filter(topic="booking.created", aggregate_id=str(b.pk)).count() == 1


@pytest.mark.sqlite
def test_replaying_the_same_import_changes_nothing():
    prop = PropertyFactory()
    first = imp(prop, adults=2)
    before = state()

    again = imp(prop, adults=2)

    assert again.action == "unchanged"
    assert again.booking.pk == first.booking.pk
    assert state() == before


@pytest.mark.sqlite
def test_moved_dates_update_the_same_booking():
    prop = PropertyFactory()
    first = imp(prop, start=10, nights=3)
    events_before = OutboxEvent.objects.count()

    moved = imp(prop, start=20, nights=4)

    b = Booking.objects.get()
    assert moved.action == "changed" and moved.booking.pk == first.booking.pk
    assert (b.check_in, b.check_out, b.status) == (future(20), future(24), S.CONFIRMED)
    assert len(b.quote["nights"]) == 4
    last = b.events.last()
    assert (last.from_status, last.to_status) == (S.CONFIRMED, S.CONFIRMED)
    assert "Dates changed" in last.reason
    assert OutboxEvent.objects.count() == events_before + 1
    assert OutboxEvent.objects.filter(topic="booking.updated").exists()
    # The old nights are free again.
    direct = services.reserve(property_id=prop.pk, check_in=future(10), check_out=future(13), adults=1, guest=GUEST,
                              actor=Actor.system())
    assert direct.status == S.RESERVED


def test_moving_onto_its_own_nights_is_allowed():
    prop = PropertyFactory()
    imp(prop, start=10, nights=3)
    assert imp(prop, start=11, nights=3).action == "changed"  # overlaps only itself


@pytest.mark.sqlite
def test_cancellation_from_the_channel_frees_the_nights_and_is_idempotent():
    prop = PropertyFactory()
    created = imp(prop)

    cancelled = imp(prop, cancelled=True)
    before = state()
    again = imp(prop, cancelled=True)

    assert cancelled.action == "cancelled" and again.action == "unchanged"
    assert state() == before
    b = Booking.objects.get(pk=created.booking.pk)
    assert b.status == S.CANCELLED and "Airbnb" in b.cancellation_reason
    assert OutboxEvent.objects.filter(topic="booking.cancelled", aggregate_id=str(b.pk)).count() == 1
    assert imp(prop, external_id="HM999").action == "created"  # the nights are free for another booking


def test_cancelling_an_unknown_channel_booking_is_an_error():
    prop = PropertyFactory()
    with pytest.raises(BookingError):
        imp(prop, cancelled=True)
    assert Booking.objects.count() == 0


def test_a_cancelled_channel_id_cannot_be_reopened():
    prop = PropertyFactory()
    imp(prop)
    imp(prop, cancelled=True)
    with pytest.raises(ExternalBookingConflict):
        imp(prop)
    assert Booking.objects.get().status == S.CANCELLED


@pytest.mark.sqlite
def test_a_stay_on_a_direct_bookings_nights_is_recorded_in_lane_1_and_leaves_the_direct_booking_untouched():
    prop = PropertyFactory()
    direct = services.reserve(property_id=prop.pk, check_in=future(10), check_out=future(13), adults=2, guest=GUEST,
                              actor=Actor.system())
    result = imp(prop, start=12, nights=3)

    assert result.action == "created" and result.collides
    assert result.overlapping_stays == (direct,) and result.overlapping_blocks == ()
    assert result.booking.overbooking_lane == 1 and result.booking.status == S.CONFIRMED
    direct.refresh_from_db()
    assert direct.status == S.RESERVED and direct.overbooking_lane == 0
    # Replayed: nothing new.
    before = state()
    again = imp(prop, start=12, nights=3)
    assert again.action == "unchanged" and again.collides and state() == before


@pytest.mark.sqlite
def test_allow_overlap_false_refuses_and_changes_nothing():
    prop = PropertyFactory()
    services.reserve(property_id=prop.pk, check_in=future(10), check_out=future(13), adults=2, guest=GUEST,
                     actor=Actor.system())
    before = state()
    with pytest.raises(ExternalBookingConflict) as exc:
        imp(prop, start=12, nights=3, allow_overlap=False)
    assert isinstance(exc.value, DatesUnavailable)
    assert exc.value.code == "external_conflict" and exc.value.http_status == 409
    assert "overlap" in {r.code for r in exc.value.reasons}
    assert state() == before


def test_moving_a_channel_booking_onto_a_direct_booking_moves_it_into_lane_1_and_back():
    prop = PropertyFactory()
    channel = imp(prop, start=10, nights=3).booking
    direct = services.reserve(property_id=prop.pk, check_in=future(20), check_out=future(23), adults=2, guest=GUEST,
                              actor=Actor.system())

    moved = imp(prop, start=21, nights=3)
    assert moved.action == "changed" and moved.overlapping_stays == (direct,)
    channel.refresh_from_db()
    assert (channel.check_in, channel.check_out, channel.overbooking_lane) == (future(21), future(24), 1)
    assert imp(prop, start=30, nights=3).action == "changed"
    channel.refresh_from_db()
    assert channel.overbooking_lane == 0


def test_stay_rules_and_buffer_days_do_not_apply_to_imports_and_an_owner_block_is_reported_not_refused():
    prop = PropertyFactory(min_stay=7, buffer_days=1, checkin_weekdays=1 << 5)
    block = BlockFactory(property=prop, start_date=future(30), end_date=future(32))

    assert imp(prop, start=10, nights=2, external_id="A").action == "created"  # stay rules not enforced
    blocked = imp(prop, start=31, nights=2, external_id="B")
    assert blocked.action == "created" and blocked.overlapping_blocks == (block,)
    assert blocked.booking.overbooking_lane == 0  # no other stay on its nights
    inside_buffer = imp(prop, start=12, nights=2, external_id="C")
    assert inside_buffer.action == "created" and not inside_buffer.collides


@pytest.mark.parametrize("source", [Source.DIRECT, Source.OWNER])
def test_our_own_sales_can_never_sit_outside_lane_0(source):
    """The database refuses it (booking_lane_channel_only): the exclusion constraint always covers our sales."""
    from django.db import IntegrityError, transaction

    prop = PropertyFactory()
    booking = services.reserve(property_id=prop.pk, check_in=future(10), check_out=future(13), adults=2,
                               guest=GUEST, actor=Actor.system())
    Booking.objects.filter(pk=booking.pk).update(source=source)
    with pytest.raises(IntegrityError), transaction.atomic():
        Booking.objects.filter(pk=booking.pk).update(overbooking_lane=1)


def test_the_same_external_id_on_two_channels_or_properties_is_two_bookings():
    prop, other = PropertyFactory(), PropertyFactory()
    imp(prop, start=10, external_id="X1", source=Source.AIRBNB)
    imp(prop, start=20, external_id="X1", source=Source.BOOKING_COM)
    imp(other, start=10, external_id="X1", source=Source.AIRBNB)
    assert Booking.objects.count() == 3


@pytest.mark.parametrize("source", [Source.DIRECT, Source.OWNER, "myspace"])
def test_only_channels_can_import(source):
    prop = PropertyFactory()
    with pytest.raises(BookingError):
        imp(prop, source=source)
    assert Booking.objects.count() == 0


def test_an_expired_hold_does_not_block_an_import():
    from datetime import timedelta

    from django.utils import timezone

    prop = PropertyFactory()
    held = services.hold(property_id=prop.pk, check_in=future(10), check_out=future(13), adults=2,
                         actor=Actor.system(), at=timezone.now() - timedelta(hours=1))
    assert imp(prop).action == "created"
    held.refresh_from_db()
    assert held.status == S.EXPIRED


def test_a_stay_sold_on_the_channel_is_recorded_even_if_the_property_is_not_active_here():
    """The platform already sold it: refusing would hide a real guest from the owner's calendar."""
    prop = PropertyFactory(status="archived")
    result = imp(prop)
    assert result.action == "created" and result.booking.status == S.CONFIRMED
