"""A stay that went all the way (reserved → confirmed → checked in → checked out) through the booking services,
reviews written through ``reviews.services``, and role users (``guests.roles``)."""

from datetime import datetime, time
from zoneinfo import ZoneInfo

import pytest

from bookings import services as booking_services
from core.actor import Actor
from reviews import services
from reviews.links import review_url

SYSTEM = Actor.system("test")


def local_noon(prop, day):
    return datetime.combine(day, time(12, 0), tzinfo=ZoneInfo(prop.timezone))


@pytest.fixture
def stayed(book):
    """``stayed(prop, start=…)``: a booking of ``prop`` checked out through the services."""

    def _stayed(prop, start=10, nights=3, **kwargs):
        booking = book(prop, start=start, nights=nights, **kwargs)
        booking_services.confirm(booking_id=booking.pk, actor=SYSTEM)
        booking_services.check_in(booking_id=booking.pk, actor=SYSTEM, at=local_noon(prop, booking.check_in))
        return booking_services.check_out(booking_id=booking.pk, actor=SYSTEM)

    return _stayed


@pytest.fixture
def reviewed(stayed):
    """``reviewed(prop, overall, start=…, **categories)``: a checked-out stay with its review written."""

    def _reviewed(prop, overall=5, start=10, body="A lovely stay, spotless and quiet.", title="", **categories):
        booking = stayed(prop, start=start)
        return services.submit_review(booking_id=booking.pk, ratings={"overall": overall, **categories},
                                      title=title, body=body, actor=Actor.guest_of(booking))

    return _reviewed


@pytest.fixture
def link():
    return review_url


def review_form(overall="5", body="Wonderful stay, the terrace was perfect.", **extra):
    return {"overall": overall, "body": body, "title": "", **extra}
