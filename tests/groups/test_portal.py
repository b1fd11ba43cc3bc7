"""The group in the guest portal: its page behind the group's magic link, each booking's page linking to the group,
and "cancel all" (each booking under its own policy; what cannot be cancelled is skipped and reported)."""

from __future__ import annotations

from urllib.parse import urlencode

import pytest
from django.urls import reverse

from bookings import services
from bookings.group_links import group_url
from bookings.links import status_url
from bookings.models import BookingStatus
from bookings.services import GroupStay
from core.actor import Actor
from guests.services import GuestInput
from tests.factories import PropertyFactory, future

pytestmark = pytest.mark.django_db
GUEST = GuestInput(name="Ana Lead", email="ana@example.com")


@pytest.fixture
def group(db):
    props = [PropertyFactory(name=f"House {i}") for i in range(3)]
    return services.reserve_group(stays=[GroupStay(p.pk, future(20), future(23), 2) for p in props], guest=GUEST,
                                  actor=Actor.guest("ana@example.com"))


def test_group_page_lists_every_booking_with_its_link(client, group):
    page = client.get(group_url(group))
    assert page.status_code == 200
    for booking in group.bookings.all():
        assert status_url(booking).encode().replace(b"&", b"&amp;") in page.content or (
            booking.reference.encode() in page.content)
    assert b"Pay" in page.content and b"Cancel the whole group booking" in page.content


def test_group_page_needs_the_group_token(client, group):
    url = reverse("bookings:group", args=[group.reference])
    assert client.get(url).status_code == 404
    assert client.get(url + "?" + urlencode({"token": "x"})).status_code == 404


def test_each_booking_page_shows_its_group(client, group):
    booking = group.bookings.order_by("pk").first()
    page = client.get(status_url(booking))
    assert page.status_code == 200
    assert f"Part of group booking {group.reference}".encode() in page.content
    assert len(page.context["group_others"]) == 2


def test_cancel_all_cancels_each_and_reports_the_skipped(client, group):
    first, second, third = group.bookings.order_by("pk")
    services.cancel(booking_id=second.pk, actor=Actor.system("t"), reason="gone")  # already cancelled
    page = client.get(group_url(group, "bookings:group-cancel"))
    assert page.status_code == 200
    response = client.post(group_url(group, "bookings:group-cancel"), {
        "reason": "Plans changed", f"expected-{first.reference}": "0", f"expected-{third.reference}": "0"})
    assert response.status_code == 302
    for booking in (first, third):
        booking.refresh_from_db()
        assert booking.status == BookingStatus.CANCELLED and booking.cancellation_reason == "Plans changed"
    followed = client.get(response.url)
    text = followed.content.decode()
    assert f"{second.reference} was not cancelled" in text and f"{first.reference} is cancelled" in text


def test_cancel_all_needs_the_token_and_csrf(group):
    from django.test import Client

    strict = Client(enforce_csrf_checks=True)
    response = strict.post(group_url(group, "bookings:group-cancel"), {"reason": "x"})
    assert response.status_code == 403
    assert set(group.bookings.values_list("status", flat=True)) == {BookingStatus.RESERVED}
    assert strict.post(reverse("bookings:group-cancel", args=[group.reference])).status_code in (403, 404)
