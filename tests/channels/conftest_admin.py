"""Fixtures of the channel admin and dashboard tests (imported explicitly by those modules).

Two owners, each with a property and an Airbnb connection whose import URL is a
secret; owner A's staff member (assigned to A's property) and a superuser.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from django.contrib.admin.utils import quote
from django.urls import reverse
from django.utils import timezone

from bookings import services
from channels.models import ChannelConnection, Platform, SyncConflict, SyncRun
from core.actor import Actor
from guests.services import GuestInput
from tests.factories import OwnerFactory, PropertyFactory, StaffFactory, SuperuserFactory, future

SECRET_A = "https://www.airbnb.com/calendar/ical/111222333.ics?s=a1b2c3d4e5f60718293a4b5c6d7e8f90"
SECRET_B = "https://www.airbnb.com/calendar/ical/999888777.ics?s=ffeeddccbbaa00998877665544332211"
SECRET_TOKEN_A = "a1b2c3d4e5f60718293a4b5c6d7e8f90"


@dataclass
class Side:
    owner: object
    prop: object
    conn: ChannelConnection
    run: SyncRun
    conflict: SyncConflict
    booking: object
    imported: object  # the Airbnb stay recorded on the booking's nights (an overbooking, lane 1)


def admin_url(model, view, *args):
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_{view}",
                   args=[quote(a) for a in args])


def make_side(key: str, secret: str) -> Side:
    owner = OwnerFactory(email=f"owner-{key}@example.com")
    prop = PropertyFactory(owner=owner, name=f"Villa {key.upper()}")
    conn = ChannelConnection.objects.create(property=prop, platform=Platform.AIRBNB, import_url=secret,
                                            name=f"Listing {key}")
    run = SyncRun.objects.create(connection=conn, outcome=SyncRun.Outcome.ERROR, http_status=500,
                                 error=f"HTTP 500 from {secret}", finished_at=timezone.now())
    booking = services.reserve(property_id=prop.pk, check_in=future(10), check_out=future(13), adults=2,
                               guest=GuestInput(f"Guest {key}", f"guest-{key}@example.com"),
                               actor=Actor.system("test"))
    imported = services.import_external(property_id=prop.pk, source=Platform.AIRBNB,
                                        external_id=f"conflict-{key}@airbnb.com", check_in=future(11),
                                        check_out=future(14), guest=GuestInput("Airbnb guest")).booking
    conflict = SyncConflict.objects.create(
        connection=conn, property=prop, uid=f"conflict-{key}@airbnb.com", check_in=future(11), check_out=future(14),
        summary="Reserved", description=f"Reservation URL: https://www.airbnb.com/hosting/reservations/details/"
                                        f"HM{key.upper()}", other_booking=booking, imported_booking=imported,
        detail=f"It overlaps booking {booking.reference}.")
    return Side(owner=owner, prop=prop, conn=conn, run=run, conflict=conflict, booking=booking, imported=imported)


@pytest.fixture
def a(db):
    return make_side("a", SECRET_A)


@pytest.fixture
def b(db):
    return make_side("b", SECRET_B)


@pytest.fixture
def staff_a(a):
    return StaffFactory(email="staff-a@example.com", employer=a.owner, properties=[a.prop])


@pytest.fixture
def root(db):
    return SuperuserFactory(email="root@example.com")
