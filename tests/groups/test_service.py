"""bookings.services.reserve_group: all or nothing, a clear error naming the failing stay, audit and outbox."""

from __future__ import annotations

from decimal import Decimal

import pytest

from bookings import services
from bookings.errors import GroupStayFailed, InvalidGroup
from bookings.models import Booking, BookingEvent, BookingGroup, BookingStatus
from bookings.services import GroupStay
from core.actor import Actor
from core.models import OutboxEvent
from guests.services import GuestInput
from tests.factories import BlockFactory, PropertyFactory, future

pytestmark = pytest.mark.django_db
GUEST = GuestInput(name="Ana Lead", email="ana@example.com")
ACTOR = Actor.guest("ana@example.com")


def stay(prop, start, nights=3, adults=2):
    return GroupStay(property_id=prop.pk, check_in=future(start), check_out=future(start + nights), adults=adults)


def test_group_reserves_one_booking_per_stay_with_audit_and_events():
    a, b = PropertyFactory(), PropertyFactory(base_price=Decimal("150.00"))
    group = services.reserve_group(stays=[stay(b, 10), stay(a, 12, 2)], guest=GUEST, actor=ACTOR)

    bookings = list(group.bookings.order_by("pk"))
    assert [x.property_id for x in bookings] == [b.pk, a.pk]
    assert all(x.status == BookingStatus.RESERVED and x.group_id == group.pk for x in bookings)
    assert group.reference.startswith("GRP-") and group.lead_guest.email == "ana@example.com"
    assert bookings[0].total > 0 and bookings[1].check_in == future(12)
    for booking in bookings:
        event = BookingEvent.objects.get(booking=booking)
        assert group.reference in event.reason
        assert OutboxEvent.objects.filter(topic="booking.created", aggregate_id=str(booking.pk)).count() == 1


def test_one_failing_stay_writes_nothing_and_names_the_stay():
    a, b = PropertyFactory(), PropertyFactory(name="Blue House")
    BlockFactory(property=b, start_date=future(11), end_date=future(12))
    before = OutboxEvent.objects.count()

    with pytest.raises(GroupStayFailed) as caught:
        services.reserve_group(stays=[stay(a, 10), stay(b, 10)], guest=GUEST, actor=ACTOR)

    err = caught.value
    assert err.index == 1 and err.stay_code == "dates_unavailable" and err.http_status == 409
    assert "Stay 2" in err.detail and "Blue House" in err.detail
    assert err.as_dict()["stay"] == 1
    assert not Booking.objects.exists() and not BookingGroup.objects.exists()
    assert OutboxEvent.objects.count() == before


def test_stay_rule_failure_is_reported_with_its_code():
    a = PropertyFactory(max_guests=2)
    with pytest.raises(GroupStayFailed) as caught:
        services.reserve_group(stays=[stay(a, 10, adults=4)], guest=GUEST, actor=ACTOR)
    assert caught.value.stay_code == "stay_rule_violation"
    assert not Booking.objects.exists()


def test_same_property_twice_on_separate_nights_is_two_bookings():
    a = PropertyFactory()
    group = services.reserve_group(stays=[stay(a, 10, 2), stay(a, 20, 2)], guest=GUEST, actor=ACTOR)
    assert group.bookings.count() == 2


def test_same_property_twice_on_overlapping_nights_is_refused():
    a = PropertyFactory()
    with pytest.raises(InvalidGroup, match="Stays 1 and 2"):
        services.reserve_group(stays=[stay(a, 10, 3), stay(a, 12, 3)], guest=GUEST, actor=ACTOR)
    assert not Booking.objects.exists()


@pytest.mark.parametrize("stays", [[], "too many"])
def test_empty_or_oversized_group_is_refused(stays):
    a = PropertyFactory()
    if stays == "too many":
        stays = [stay(a, 10 + 3 * i, 2) for i in range(services.MAX_GROUP_STAYS + 1)]
    with pytest.raises(InvalidGroup):
        services.reserve_group(stays=stays, guest=GUEST, actor=ACTOR)


def test_mixed_currencies_are_refused():
    a, b = PropertyFactory(), PropertyFactory(currency="USD")
    with pytest.raises(InvalidGroup, match="currency"):
        services.reserve_group(stays=[stay(a, 10), stay(b, 10)], guest=GUEST, actor=ACTOR)
    assert not Booking.objects.exists()


def test_unknown_property_and_bad_dates_are_stay_errors():
    with pytest.raises(GroupStayFailed) as caught:
        services.reserve_group(stays=[GroupStay(property_id=999999, check_in=future(3), check_out=future(5),
                                                adults=1)], guest=GUEST, actor=ACTOR)
    assert caught.value.stay_code == "property_unavailable"
    a = PropertyFactory()
    with pytest.raises(GroupStayFailed) as caught:
        services.reserve_group(stays=[GroupStay(property_id=a.pk, check_in=future(5), check_out=future(5),
                                                adults=1)], guest=GUEST, actor=ACTOR)
    assert caught.value.stay_code == "stay_rule_violation"


def test_a_stale_reservation_does_not_block_a_group():
    from datetime import timedelta

    from django.utils import timezone

    a = PropertyFactory()
    old = services.reserve(property_id=a.pk, check_in=future(10), check_out=future(13), adults=2, guest=GUEST,
                           actor=ACTOR, at=timezone.now() - timedelta(hours=2))
    services.reserve_group(stays=[stay(a, 10)], guest=GUEST, actor=ACTOR)
    old.refresh_from_db()
    assert old.status == BookingStatus.EXPIRED
