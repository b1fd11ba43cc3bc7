"""Fixtures for the calendar timeline and dashboard tests: two owners, a staff member, stays made as rows.

Owners and staff are role users (``OwnerFactory`` / ``StaffFactory``: the "Owners" / "Staff" groups of
``guests.roles``); ``back_office_user`` makes a user with chosen permissions only. ``booking_row`` writes a
booking row directly (test setup only, like tests/properties/test_search.py) so a test can place stays in
the past, on today and in any status."""

from datetime import timedelta
from itertools import count

import pytest
from django.contrib.auth.models import Permission
from django.utils import timezone

from bookings.models import Booking, BookingStatus
from tests.factories import GuestFactory, PropertyFactory, StaffFactory, UserFactory

_refs = count(1)


def back_office_user(email, *codenames, **kwargs):
    """An ``is_staff`` user with exactly the permissions named (no role group)."""
    user = UserFactory(email=email, is_staff=True, **kwargs)
    user.user_permissions.add(*Permission.objects.filter(codename__in=codenames))
    return user


def booking_row(prop, check_in, check_out, *, status=BookingStatus.CONFIRMED, source="direct", guest=None,
                expires_at=None, adults=2, **kwargs):
    if status in (BookingStatus.HELD, BookingStatus.RESERVED) and expires_at is None:
        expires_at = timezone.now() + timedelta(hours=12)
    return Booking.objects.create(
        property=prop, reference=f"PMS-T-{next(_refs):05d}", check_in=check_in, check_out=check_out, status=status,
        source=source, guest=guest if guest is not None else GuestFactory(), expires_at=expires_at, adults=adults,
        currency=prop.currency, **kwargs)


@pytest.fixture(autouse=True)
def _clear_cache(clear_cache):
    """Rate limits, throttles and used TOTP codes live in the cache: each test starts empty."""


@pytest.fixture
def prop_a(owner_a):
    return PropertyFactory(owner=owner_a, name="Alpha Loft", city="Lisbon")


@pytest.fixture
def prop_a2(owner_a):
    return PropertyFactory(owner=owner_a, name="Alpha Villa", city="Porto")


@pytest.fixture
def prop_b(owner_b):
    return PropertyFactory(owner=owner_b, name="Bravo House", city="Lisbon")


@pytest.fixture
def staffer(prop_a):
    return StaffFactory(email="staff-a@example.com", properties=[prop_a])
