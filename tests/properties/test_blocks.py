"""Owner blocks go through properties.services: checked under the property lock, announced in the outbox."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from bookings import services
from bookings.errors import DatesUnavailable, StayRuleViolation
from bookings.models import BookingStatus
from core.actor import Actor
from core.models import OutboxEvent
from guests.services import GuestInput
from properties.availability import check_availability
from properties.models import AvailabilityBlock
from properties.services import create_block, delete_block
from tests.factories import PropertyFactory, UserFactory, future

pytestmark = pytest.mark.django_db
SYSTEM = Actor.system("test")
GUEST = GuestInput(name="A", email="a@example.com")


def block(prop, a, b, **kw):
    return create_block(property_id=prop.pk, start_date=future(a), end_date=future(b), **kw)


def reserve(prop, a, b, **kw):
    return services.reserve(property_id=prop.pk, check_in=future(a), check_out=future(b), adults=1, guest=GUEST,
                            actor=SYSTEM, **kw)


def nothing_changed(before):
    return (AvailabilityBlock.objects.count(), OutboxEvent.objects.count()) == before


def snapshot():
    return AvailabilityBlock.objects.count(), OutboxEvent.objects.count()


@pytest.mark.sqlite
def test_create_block_emits_availability_updated():
    prop = PropertyFactory()
    owner = UserFactory()

    b = block(prop, 10, 13, reason=AvailabilityBlock.Reason.MAINTENANCE, note="boiler", user=owner)

    assert (b.start_date, b.end_date, b.reason, b.note, b.created_by) == (future(10), future(13), "maintenance",
                                                                          "boiler", owner)
    event = OutboxEvent.objects.get()
    assert (event.topic, event.aggregate_type, event.aggregate_id) == ("availability.updated", "property", str(prop.pk))
    assert event.payload == {"property_id": prop.pk, "start": future(10).isoformat(), "end": future(13).isoformat()}
    assert "blocked" in check_availability(prop, future(11), future(12), 1).codes


@pytest.mark.sqlite
def test_refused_over_a_booking():
    prop = PropertyFactory()
    booking = reserve(prop, 10, 13)
    before = snapshot()

    with pytest.raises(DatesUnavailable) as exc:
        block(prop, 12, 15)

    assert booking.reference in exc.value.detail
    assert exc.value.http_status == 409
    assert nothing_changed(before)


def test_refused_over_a_confirmed_or_checked_in_stay():
    prop = PropertyFactory()
    booking = reserve(prop, 0, 3)
    services.confirm(booking_id=booking.pk, actor=SYSTEM)
    with pytest.raises(DatesUnavailable):
        block(prop, 1, 2)
    services.check_in(booking_id=booking.pk, actor=SYSTEM)
    with pytest.raises(DatesUnavailable):
        block(prop, 2, 5)
    assert AvailabilityBlock.objects.count() == 0


@pytest.mark.sqlite
def test_refused_over_a_live_hold_allowed_over_an_expired_one():
    prop = PropertyFactory()
    live = services.hold(property_id=prop.pk, check_in=future(10), check_out=future(13), adults=1, actor=SYSTEM)
    stale = services.hold(property_id=prop.pk, check_in=future(20), check_out=future(23), adults=1, actor=SYSTEM,
                          at=timezone.now() - timedelta(hours=1))

    with pytest.raises(DatesUnavailable):
        block(prop, 11, 12)
    b = block(prop, 20, 23)

    stale.refresh_from_db()
    live.refresh_from_db()
    assert b.pk is not None
    assert stale.status == BookingStatus.EXPIRED  # expired under the lock, audited
    assert stale.events.last().to_status == BookingStatus.EXPIRED
    assert live.status == BookingStatus.HELD


def test_allowed_next_to_a_booking_and_over_a_cancelled_one():
    prop = PropertyFactory(buffer_days=2)  # buffer days are between stays, not around blocks
    reserve(prop, 10, 13)
    cancelled = reserve(prop, 20, 23)
    services.cancel(booking_id=cancelled.pk, actor=SYSTEM, reason="x")

    assert block(prop, 13, 14).pk
    assert block(prop, 8, 10).pk
    assert block(prop, 20, 23).pk
    assert AvailabilityBlock.objects.count() == 3


def test_a_block_stops_new_bookings_and_holds():
    prop = PropertyFactory()
    block(prop, 10, 13)
    with pytest.raises(DatesUnavailable):
        reserve(prop, 12, 14)
    with pytest.raises(DatesUnavailable):
        services.hold(property_id=prop.pk, check_in=future(9), check_out=future(11), adults=1, actor=SYSTEM)
    assert reserve(prop, 13, 15).status == BookingStatus.RESERVED


def test_blocks_may_overlap_each_other():
    prop = PropertyFactory()
    block(prop, 10, 15)
    block(prop, 12, 20)
    assert AvailabilityBlock.objects.filter(property=prop).count() == 2


@pytest.mark.parametrize("nights", [0, -1])
def test_an_empty_range_is_refused(nights):
    prop = PropertyFactory()
    with pytest.raises(StayRuleViolation):
        block(prop, 10, 10 + nights)
    assert snapshot() == (0, 0)


def test_unknown_property():
    from bookings.errors import PropertyUnavailable

    with pytest.raises(PropertyUnavailable):
        create_block(property_id=999_999, start_date=future(1), end_date=future(2))


@pytest.mark.sqlite
def test_delete_block_frees_the_nights_and_emits_availability_updated():
    prop = PropertyFactory()
    b = block(prop, 10, 13)

    delete_block(block_id=b.pk)

    assert not AvailabilityBlock.objects.exists()
    events = list(OutboxEvent.objects.order_by("created_at").values_list("topic", "payload"))
    assert events[-1] == ("availability.updated",
                          {"property_id": prop.pk, "start": future(10).isoformat(), "end": future(13).isoformat()})
    assert len(events) == 2
    assert reserve(prop, 10, 13).status == BookingStatus.RESERVED
