"""The guest's booking page offers the review form once the stay is checked out, until it is reviewed."""

import pytest

from bookings.links import status_url
from core.actor import Actor
from reviews import services

pytestmark = pytest.mark.django_db


def test_the_booking_page_links_to_the_review_form_until_the_stay_is_reviewed(client, prop, book, stayed):
    upcoming = book(prop, start=40, nights=2)
    assert "Review your stay" not in client.get(status_url(upcoming)).content.decode()
    booking = stayed(prop, start=10)
    page = client.get(status_url(booking)).content.decode()
    assert "Review your stay" in page and f"/bookings/{booking.reference}/review" in page
    services.submit_review(booking_id=booking.pk, ratings={"overall": 5}, title="",
                           body="A lovely stay, spotless and quiet.", actor=Actor.guest_of(booking))
    assert "Review your stay" not in client.get(status_url(booking)).content.decode()
