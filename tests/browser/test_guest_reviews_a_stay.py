"""Reviews in a real browser: a checked-out guest opens the review link, gets a field message for a missing
rating, rates with the keyboard and the mouse, publishes, and finds the review on the property page; the owner
replies and flags it in the back office, staff independent of the owner hide it.

Screenshots of every step: ``test-artifacts/reviews/``; the documentation's come from here
(``docs/screenshots/reviews-*.png``, copied by hand).
"""

from __future__ import annotations

from decimal import Decimal

import pytest
from playwright.sync_api import expect

from reviews.links import review_url
from reviews.models import Review, ReviewStatus
from tests.browser.conftest import Steps
from tests.browser.test_staff_verifies_manual_payment import signed_in
from tests.factories import OwnerFactory, PropertyFactory, StaffFactory
from tests.reviews.conftest import reviewed, stayed  # noqa: F401  (fixtures)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]



def test_a_checked_out_guest_reviews_via_the_link_and_the_property_page_shows_it(live_server, new_page,
                                                                                stayed):  # noqa: F811
    owner = OwnerFactory(email="owner-a@example.com")
    prop = PropertyFactory(owner=owner, name="Alfama Loft", city="Lisbon", country="PT",
                           base_price=Decimal("120.00"))
    booking = stayed(prop, start=10)

    page = new_page()
    steps = Steps(page, "reviews")
    page.goto(f"{live_server.url}{review_url(booking)}")
    expect(page.get_by_role("heading", name="Review your stay at Alfama Loft")).to_be_visible()
    page.get_by_label("Your review").fill("Bright, quiet and spotless; the host answered within minutes.")
    page.get_by_role("button", name="Publish my review").click()
    overall = page.get_by_role("group", name="Overall")
    expect(overall).to_contain_text("Please choose from 1 to 5 stars.")
    expect(page.get_by_label("Your review")).to_have_value(
        "Bright, quiet and spotless; the host answered within minutes.")  # the input is kept
    steps.shot("missing-rating")

    # the keyboard: focus the first star of "Overall", arrow right to the fourth, then Space
    overall.get_by_role("radio", name="1 star", exact=True).focus()
    for _ in range(3):
        page.keyboard.press("ArrowRight")
    expect(overall.get_by_role("radio", name="4 stars")).to_be_checked()
    # the mouse: click the stars' labels
    page.get_by_role("group", name="Cleanliness").get_by_text("5 stars").click(force=True)
    page.get_by_role("group", name="Location").locator("label").nth(2).click()
    page.get_by_label("Title (optional)").fill("A perfect base for Lisbon")
    steps.shot("filled")
    page.get_by_role("button", name="Publish my review").click()

    expect(page.get_by_role("status")).to_contain_text("Thank you")
    expect(page.get_by_role("heading", name="Your review")).to_be_visible()
    steps.shot("published")
    review = Review.objects.get(booking=booking)
    assert (review.overall, review.cleanliness, review.location, review.value) == (4, 5, 3, None)

    page.goto(f"{live_server.url}/properties/{prop.slug}/")
    reviews = page.locator("#reviews")
    expect(reviews).to_contain_text("4.0 out of 5 from 1 review")
    expect(reviews).to_contain_text("A perfect base for Lisbon")
    expect(reviews).to_contain_text("Ada L.")
    expect(reviews.locator(".rating-categories")).to_contain_text("Cleanliness5.0")
    reviews.scroll_into_view_if_needed()
    steps.shot("property-page")


def test_owner_replies_and_flags_and_independent_staff_hide(live_server, new_page, reviewed):  # noqa: F811
    owner = OwnerFactory(email="owner-a@example.com")
    prop = PropertyFactory(owner=owner, name="Harbour Cottage")
    review = reviewed(prop, 1, title="Awful", body="The owner is a crook and a liar, avoid at all costs.")
    moderator = StaffFactory(email="moderator@example.com", properties=[prop])

    page = new_page()
    steps = Steps(page, "reviews-back-office")
    signed_in(page, live_server, owner)
    page.goto(f"{live_server.url}/admin/reviews/review/{review.pk}/change/")
    page.get_by_label("Your reply, shown under the review").fill("We are sorry you felt this way.")
    page.get_by_role("button", name="Reply publicly").click()
    expect(page.locator(".messagelist")).to_contain_text("reply saved")
    page.get_by_label("Why is it abusive?").fill("Personal insults, nothing about the stay.")
    steps.shot("owner-review")
    page.get_by_role("button", name="Flag for staff").click()
    expect(page.locator(".messagelist")).to_contain_text("flagged for staff")
    expect(page.get_by_role("button", name="Hide it")).to_have_count(0)  # the owner cannot hide

    staff_page = new_page()
    signed_in(staff_page, live_server, moderator)
    staff_page.goto(f"{live_server.url}/admin/reviews/review/?queue=flagged")
    staff_page.locator(f'#result_list a[href*="/reviews/review/{review.pk}/change/"]').click()
    staff_page.get_by_label("Note (kept in the review's history)").fill("Insults; hidden.")
    Steps(staff_page, "reviews-staff").shot("staff-decision")
    staff_page.get_by_role("button", name="Hide it").click()
    expect(staff_page.locator(".messagelist")).to_contain_text("hidden")
    assert Review.objects.get(pk=review.pk).status == ReviewStatus.HIDDEN
    steps.shot("after")
