"""The admin shows the same balance as the receipt (``Booking.balance_due``).

Before, the admin (list column and detail page) showed ``total - amount_paid`` for every booking, while the
guest's receipt showed 0 for a cancelled, expired or released one: a cancelled unpaid booking read as a debt in
the admin. Now both say a called-off booking owes nothing."""

import pytest

from backoffice.admin import BookingAdmin
from bookings import services
from bookings.models import Booking
from core.actor import Actor
from core.money import format_money

from .conftest import url

pytestmark = pytest.mark.django_db


def test_a_cancelled_unpaid_booking_shows_no_balance_due_in_the_admin(prop, book, owner, as_user):
    booking = book(prop, start=20)
    services.cancel(booking_id=booking.pk, actor=Actor.system("test"), reason="Plans changed")
    booking = Booking.objects.get(pk=booking.pk)
    zero, total = format_money(0, booking.currency), format_money(booking.total, booking.currency)

    response = as_user(owner).get(url("change", booking.pk))

    assert response.status_code == 200
    assert response.context["money"]["balance"] == zero
    assert f"{zero} / {zero} / {zero}" in response.content.decode()  # paid / refunded / balance due
    assert total != zero
    assert BookingAdmin.balance_display(None, booking) == zero  # the list column says the same


def test_an_unpaid_reservation_shows_its_total_as_the_balance_due(prop, book, owner, as_user):
    booking = book(prop, start=20)
    response = as_user(owner).get(url("change", booking.pk))
    assert response.context["money"]["balance"] == format_money(booking.total, booking.currency)
