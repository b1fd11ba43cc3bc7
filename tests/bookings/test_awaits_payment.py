"""``Booking.awaits_payment``: a reservation that still holds its dates and waits for the guest's payment.

Used by the booking page and emails (the pay link), manual payments (choosing, verifying), extending a hold and
confirming a payment that arrives on time."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from bookings.models import Booking, BookingStatus

S = BookingStatus


def test_a_reservation_before_its_deadline_awaits_payment():
    now = timezone.now()
    booking = Booking(status=S.RESERVED, expires_at=now + timedelta(minutes=5))
    assert booking.awaits_payment(now)
    assert not booking.awaits_payment(now + timedelta(minutes=5))  # the deadline itself is past it
    assert not booking.awaits_payment(now + timedelta(minutes=6))  # expired, even before the expiry job runs


@pytest.mark.parametrize("status", sorted(set(S.values) - {S.RESERVED}))
def test_no_other_status_awaits_payment(status):
    now = timezone.now()
    assert not Booking(status=status, expires_at=now + timedelta(minutes=5)).awaits_payment(now)
