"""Owner cancellations (admin action, API) refund in full; the payments admin is scoped to managed properties."""

import pytest
from django.urls import reverse

from bookings.models import BookingStatus
from bookings.models import PaymentStatus as BP
from core.actor import Actor
from payments import services
from payments.models import Payment, Refund, WebhookEvent
from tests.factories import OwnerFactory, PropertyFactory, UserFactory
from tests.payments.conftest import VISA

pytestmark = pytest.mark.django_db


def owner_with(*codenames):
    from django.contrib.auth.models import Permission

    owner = UserFactory(is_staff=True)
    owner.user_permissions.add(*Permission.objects.filter(codename__in=codenames))
    return owner


@pytest.fixture
def paid_booking(book, card):
    def _paid(prop, start=40):
        booking = book(prop, start=start)
        services.start_card_payment(booking_id=booking.pk, payment_method_id=card(booking, VISA),
                                    actor=Actor.guest("ada@example.com"))
        booking.refresh_from_db()
        return booking

    return _paid


def test_owner_cancel_action_refunds_everything(client, paid_booking):
    owner = owner_with("view_booking", "manage_booking")
    prop = PropertyFactory(owner=owner, cancellation_policy="non_refundable")
    booking = paid_booking(prop)
    client.force_login(owner)

    client.post(reverse("admin:bookings_booking_cancel", args=[booking.pk]),
                {"refund": "full", "reason": "Owner cancelled"}, follow=True)

    booking.refresh_from_db()
    assert booking.status == BookingStatus.CANCELLED and booking.payment_status == BP.REFUNDED
    assert booking.amount_refunded == booking.total
    assert Refund.objects.get().created_by == owner


def test_payments_admin_shows_an_owner_only_their_properties(client, paid_booking):
    owner = owner_with("view_payment", "view_refund")
    mine = paid_booking(PropertyFactory(owner=owner))
    theirs = paid_booking(PropertyFactory())
    WebhookEvent.objects.create(event_id="evt_1", type="x")
    client.force_login(owner)

    page = client.get(reverse("admin:payments_payment_changelist")).content.decode()
    assert mine.reference in page and theirs.reference not in page
    other = Payment.objects.get(booking=theirs)
    assert client.get(reverse("admin:payments_payment_change", args=[other.pk])).status_code == 302
    assert client.get(reverse("admin:payments_payment_add")).status_code == 403
    assert client.get(reverse("admin:payments_webhookevent_changelist")).status_code == 403


def test_owner_cancellation_through_the_api_refunds_everything(client, paid_booking):
    owner = OwnerFactory()
    booking = paid_booking(PropertyFactory(owner=owner, cancellation_policy="strict"))
    client.force_login(owner)

    response = client.patch(f"/api/v1/bookings/{booking.reference}/status", data={"status": "cancelled"},
                            content_type="application/json")

    assert response.status_code == 200 and response.json()["status"] == "cancelled"
    booking.refresh_from_db()
    assert booking.payment_status == BP.REFUNDED and booking.amount_refunded == booking.total
    again = client.patch(f"/api/v1/bookings/{booking.reference}/status", data={"status": "cancelled"},
                         content_type="application/json")
    assert again.status_code == 409 and again.json()["code"] == "invalid_transition"
    assert Refund.objects.count() == 1
