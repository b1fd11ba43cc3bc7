"""Role users and bookings for the booking back-office tests.

Owners and staff are made with the role factories (``is_staff`` + the "Owners" /
"Staff" group of ``guests.roles``), so these tests check the real role table.
"""

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse

from bookings.models import Booking
from core.actor import Actor
from payments import manual
from payments.models import HostPaymentMethod
from tests.factories import OwnerFactory, PropertyFactory, StaffFactory

GUEST = Actor.guest("ada@example.com")


def grant(user, codenames):
    user.user_permissions.add(*Permission.objects.filter(codename__in=codenames))
    return user


@pytest.fixture(autouse=True)
def _private_root(settings, tmp_path):
    settings.PRIVATE_MEDIA_ROOT = tmp_path / "private"
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture
def owner(db):
    """Owner A (the shared ``prop`` fixture's owner), with the Owners permissions."""
    return OwnerFactory(email="owner-a@example.com")


@pytest.fixture
def staffer(db, prop):
    return StaffFactory(email="staff-a@example.com", properties=[prop])


@pytest.fixture
def owner_b(db):
    user = OwnerFactory(email="owner-b@example.com")
    PropertyFactory(owner=user, name="B's Barn")
    return user


@pytest.fixture
def as_user(client):
    def _login(user):
        client.force_login(user)
        return client

    return _login


@pytest.fixture
def run_on_commit(django_capture_on_commit_callbacks):
    """Run the on-commit callbacks (outbox delivery, email sending) of what happens inside."""
    return lambda: django_capture_on_commit_callbacks(execute=True)


@pytest.fixture
def paid(book, owner, staffer):
    """A booking of ``prop`` confirmed and paid in full through the manual-payment path (no Stripe)."""

    def _paid(prop, start=40, nights=3):
        booking = book(prop, start=start, nights=nights)
        method, _ = HostPaymentMethod.objects.get_or_create(
            owner=prop.owner, kind="zelle", defaults={"handle": "pay@owner-a.example", "display_name": "Owner A"})
        mp = manual.choose_method(booking_id=booking.pk, method_id=method.pk, actor=GUEST)
        manual.claim(mp_id=mp.pk, guest_reference="TX-1", actor=GUEST)
        manual.verify(mp_id=mp.pk, action="confirm", user=staffer, amount_received=mp.amount)
        booking.refresh_from_db()
        assert booking.payment_status == "paid"
        return booking

    return _paid


def url(name, *args):
    return reverse(f"admin:bookings_booking_{name}", args=args)


def do_url(booking, action):
    return url("do", booking.pk, action)


def reload(booking) -> Booking:
    return Booking.objects.get(pk=booking.pk)
