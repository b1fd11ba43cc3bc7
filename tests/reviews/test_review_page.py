"""The guest's review page: who may review (a checked-out stay, once, with its own valid review link), the form's
validation (bad input re-renders with field messages, never a 500) and what the guest sees."""

from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from bookings import services as booking_services
from bookings.links import status_url
from bookings.tokens import booking_access_token
from reviews.links import REVIEW_TOKEN_MAX_AGE, review_token, review_url
from reviews.models import Review, ReviewEvent, ReviewStatus
from tests.reviews.conftest import SYSTEM, review_form

pytestmark = pytest.mark.django_db


def test_checked_out_guest_reviews_once_and_the_review_is_published(client, prop, stayed):
    booking = stayed(prop)
    url = review_url(booking)

    page = client.get(url)
    assert page.status_code == 200
    html = page.content.decode()
    assert prop.name in html and 'name="overall"' in html and "<legend>" in html
    # every rating is a radio group with a legend and one labelled radio per star
    assert html.count('type="radio"') == 7 * 5 and 'class="visually-hidden">3 stars<' in html

    response = client.post(url, review_form(overall="4", title="Great", cleanliness="5", value="3"))
    assert response.status_code == 302 and response["Location"] == url
    review = Review.objects.get(booking=booking)
    assert (review.overall, review.cleanliness, review.value, review.accuracy) == (4, 5, 3, None)
    assert review.status == ReviewStatus.PUBLISHED and review.property_id == prop.pk
    assert review.guest_display_name == "Ada L."  # the guest is "Ada Lovelace" <ada@example.com>
    event = ReviewEvent.objects.get(review=review)
    assert (event.action, event.from_status, event.to_status, event.actor_type, event.actor_label) == (
        "created", "", "published", "guest", "ada@example.com")

    shown = client.get(url).content.decode()
    assert "Thank you" in shown and "Great" in shown and 'name="overall"' not in shown
    # a second review of the same stay: refused, the first one shown, nothing written
    again = client.post(url, review_form(overall="1", body="Changed my mind entirely about it."))
    assert again.status_code == 409 and "Great" in again.content.decode()
    assert Review.objects.count() == 1 and Review.objects.get().overall == 4


@pytest.mark.parametrize("moved", ["reserved", "confirmed", "checked_in", "cancelled"])
def test_a_stay_not_checked_out_cannot_be_reviewed(client, prop, book, moved):
    booking = book(prop)
    if moved in ("confirmed", "checked_in"):
        booking_services.confirm(booking_id=booking.pk, actor=SYSTEM)
    if moved == "checked_in":
        from tests.reviews.conftest import local_noon

        booking_services.check_in(booking_id=booking.pk, actor=SYSTEM, at=local_noon(prop, booking.check_in))
    if moved == "cancelled":
        booking_services.cancel(booking_id=booking.pk, actor=SYSTEM, reason="test")
    url = review_url(booking)

    page = client.get(url)
    assert page.status_code == 200
    assert "once it has been checked out" in page.content.decode() and 'name="overall"' not in page.content.decode()
    assert client.post(url, review_form()).status_code == 409
    assert not Review.objects.exists()


def test_forged_expired_revoked_and_other_bookings_tokens_are_404(client, prop, stayed):
    booking = stayed(prop, start=10)
    other = stayed(prop, start=20)
    path = f"/bookings/{booking.reference}/review/"
    good = review_token(booking)

    forged = good[:-2] + ("AA" if not good.endswith("AA") else "BB")
    for token in ["", "nonsense", forged, review_token(other), "x" * 600,
                  booking_access_token(booking)]:  # the portal's token is not a review token
        assert client.get(path, {"token": token}).status_code == 404
        assert client.post(f"{path}?token={token}", review_form()).status_code == 404
    assert client.get(f"/bookings/NOPE-123/review/?token={good}").status_code == 404

    # a review token opens nothing but the review page (not the portal)
    assert client.get(f"/bookings/{booking.reference}/", {"token": good}).status_code == 404
    assert client.get(status_url(booking)).status_code == 200

    with time_machine.travel(timezone.now() - timedelta(seconds=REVIEW_TOKEN_MAX_AGE + 60)):
        old = review_token(booking)
    assert client.get(path, {"token": old}).status_code == 404

    booking_services.revoke_guest_links(booking_id=booking.pk, actor=SYSTEM)
    assert client.get(path, {"token": good}).status_code == 404
    booking.refresh_from_db()
    assert client.get(review_url(booking)).status_code == 200  # a new link works
    assert not Review.objects.exists()


BAD_INPUT = [
    ({"overall": ""}, "overall", "Please choose from 1 to 5 stars."),
    ({"overall": "6"}, "overall", "Please choose from 1 to 5 stars."),
    ({"overall": "0"}, "overall", "Please choose from 1 to 5 stars."),
    ({"overall": "abc"}, "overall", "Please choose from 1 to 5 stars."),
    ({"overall": "4.5"}, "overall", "Please choose from 1 to 5 stars."),
    ({"cleanliness": "-1"}, "cleanliness", "Please choose from 1 to 5 stars."),
    ({"value": "99999999999999999999"}, "value", "Please choose from 1 to 5 stars."),
    ({"body": ""}, "body", "Please write a few words about your stay."),
    ({"body": "short"}, "body", "at least 10 characters"),
    ({"body": "x" * 3001}, "body", "at most 3000 characters"),
    ({"title": "t" * 121}, "title", "at most 120 characters"),
]


@pytest.mark.parametrize(("change", "field", "message"), BAD_INPUT)
def test_bad_input_re_renders_with_the_fields_message_and_writes_nothing(client, prop, stayed, change, field,
                                                                        message):
    booking = stayed(prop)
    data = {**review_form(title="Kept title", cleanliness="4"), **change}

    response = client.post(review_url(booking), data)

    assert response.status_code == 400
    html = response.content.decode()
    assert message in " ".join(response.context["form"].errors[field])
    assert f'id="id_{field}_error"' in html
    assert "Please check the marked fields." in html
    if field != "title":
        assert 'value="Kept title"' in html  # the guest's input is kept
    assert not Review.objects.exists()


def test_a_hidden_review_is_still_shown_to_its_author_with_a_note(client, prop, reviewed):
    review = reviewed(prop, overall=1, body="Terrible host, awful place, never again.")
    Review.objects.filter(pk=review.pk).update(status=ReviewStatus.HIDDEN)  # staff hid it (see test_back_office)

    html = client.get(review_url(review.booking)).content.decode()

    assert "Terrible host" in html and "hidden this review" in html


def test_guest_name_is_first_name_and_initial_never_the_email(prop, stayed):
    from reviews.services import display_name

    assert display_name("Ada Lovelace") == "Ada L."
    assert display_name("Jean-Luc de la Tour") == "Jean-Luc T."
    assert display_name("Cher") == "Cher"
    assert display_name("ada@example.com") == ""
    assert display_name("  ") == ""
    assert display_name("ada@example.com Smith") == "Smith"


@pytest.mark.parametrize("ratings", [{"overall": 0}, {"overall": "5"}, {"overall": True}, {"overall": None},
                                     {"overall": 5, "value": 6}, {"overall": 5, "location": 2.5}])
def test_the_service_refuses_bad_ratings_whatever_the_caller(prop, stayed, ratings):
    from core.actor import Actor
    from reviews.errors import InvalidReviewInput
    from reviews.services import submit_review

    booking = stayed(prop)
    with pytest.raises(InvalidReviewInput):
        submit_review(booking_id=booking.pk, ratings=ratings, title="", body="A fine stay overall.",
                      actor=Actor.guest_of(booking))
    with pytest.raises(InvalidReviewInput):
        submit_review(booking_id=booking.pk, ratings={"overall": 5}, title="", body="short",
                      actor=Actor.guest_of(booking))
    assert not Review.objects.exists()
