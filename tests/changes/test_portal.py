"""The guest portal's "Change your stay": behind the magic link, two steps (see the figures, then confirm), bad
input re-rendered with field messages, a moved price asked again, the property's switch respected."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.urls import reverse

from bookings.models import Booking
from bookings.tokens import booking_access_token
from tests.factories import BlockFactory, PropertyFactory, future

pytestmark = pytest.mark.django_db


def change_url(booking):
    return reverse("bookings:change", args=[booking.reference])


def step1(client, booking, **stay):
    params = {"token": booking_access_token(booking), "check_in": future(10).isoformat(),
              "check_out": future(13).isoformat(), "adults": 2, "children": 0, **stay}
    return client.get(change_url(booking), params)


def confirm(client, booking, difference, refund="0.00", **stay):
    body = {"check_in": future(10).isoformat(), "check_out": future(13).isoformat(), "adults": 2, "children": 0,
            "expected_difference": difference, "expected_refund": refund, **stay}
    return client.post(f"{change_url(booking)}?token={booking_access_token(booking)}", body)


def test_the_booking_page_offers_the_change(client, prop, book):
    booking = book(prop, start=10, nights=3)
    page = client.get(reverse("bookings:status", args=[booking.reference]), {"token": booking_access_token(booking)})
    assert page.context["can_change"] and page.context["change_url"].startswith(change_url(booking))
    assert "Change your stay" in page.content.decode()


def test_a_wrong_token_is_a_404(client, prop, book):
    booking = book(prop, start=10, nights=3)
    assert client.get(change_url(booking), {"token": "nope"}).status_code == 404
    assert client.post(f"{change_url(booking)}?token=nope", {}).status_code == 404


def test_step_one_shows_the_new_total_and_difference_and_changes_nothing(client, prop, book):
    booking = book(prop, start=10, nights=3)
    page = step1(client, booking, check_out=future(15).isoformat())
    assert page.status_code == 200
    preview = page.context["preview"]
    assert preview.terms.new_total == Decimal("500.00") and preview.terms.difference == Decimal("200.00")
    html = page.content.decode()
    assert "500.00" in html and 'name="expected_difference" value="200.00"' in html
    assert Booking.objects.get(pk=booking.pk).check_out == future(13)


def test_step_two_changes_and_goes_back_to_the_booking(client, prop, book):
    booking = book(prop, start=10, nights=3)
    response = confirm(client, booking, "200.00", check_out=future(15).isoformat())
    assert response.status_code == 302 and response["Location"].startswith(
        reverse("bookings:status", args=[booking.reference]))
    booking.refresh_from_db()
    assert booking.check_out == future(15) and booking.total == Decimal("500.00")
    assert booking.events.last().actor_type == "guest"


@pytest.mark.parametrize("stay, field", [
    ({"check_in": "not a date"}, "check_in"),
    ({"check_out": future(9).isoformat()}, "check_out"),
    ({"adults": 0}, "adults"),
])
def test_bad_input_re_renders_with_field_messages(client, prop, book, stay, field):
    booking = book(prop, start=10, nights=3)
    page = step1(client, booking, **stay)
    assert page.status_code == 400 and page.context["form"].errors[field]
    assert page.context["preview"] is None


def test_taken_dates_re_render_with_the_reason(client, prop, book):
    booking = book(prop, start=10, nights=3)
    BlockFactory(property=prop, start_date=future(13), end_date=future(15))
    page = step1(client, booking, check_out=future(15).isoformat())
    assert page.status_code == 400 and page.context["preview"] is None
    assert "not available" in page.content.decode()


def test_the_same_stay_is_not_a_change(client, prop, book):
    booking = book(prop, start=10, nights=3)
    page = step1(client, booking)
    assert page.status_code == 400 and "already your booking" in page.content.decode()


def test_a_price_that_moved_shows_the_new_figures_and_changes_nothing(client, prop, book):
    booking = book(prop, start=10, nights=3)
    response = confirm(client, booking, "150.00", check_out=future(15).isoformat())
    assert response.status_code == 409
    assert response.context["preview"].terms.difference == Decimal("200.00")
    assert Booking.objects.get(pk=booking.pk).check_out == future(13)


def test_a_forged_confirmation_without_figures_is_refused(client, prop, book):
    booking = book(prop, start=10, nights=3)
    response = confirm(client, booking, "", check_out=future(15).isoformat())
    assert response.status_code == 409 and Booking.objects.get(pk=booking.pk).check_out == future(13)


def test_the_property_switch_hides_and_refuses_the_change(client, book):
    prop = PropertyFactory(guests_may_change_bookings=False)
    booking = book(prop, start=10, nights=3)
    page = client.get(reverse("bookings:status", args=[booking.reference]), {"token": booking_access_token(booking)})
    assert not page.context["can_change"]
    response = confirm(client, booking, "200.00", check_out=future(15).isoformat())
    assert response.status_code == 200 and not response.context["allowed"]
    assert Booking.objects.get(pk=booking.pk).check_out == future(13)


def test_the_page_reads_in_few_queries(client, prop, book, django_assert_max_num_queries):
    booking = book(prop, start=10, nights=3)
    with django_assert_max_num_queries(20):
        step1(client, booking, check_out=future(15).isoformat())


def test_a_confirmed_booking_with_a_balance_links_to_the_pay_page(client, prop, book):
    from bookings import services
    from core.actor import Actor

    booking = book(prop, start=10, nights=3)
    page = client.get(reverse("bookings:status", args=[booking.reference]), {"token": booking_access_token(booking)})
    assert page.context["balance_pay_url"] == ""  # a reservation pays through its own pay link
    services.confirm(booking_id=booking.pk, actor=Actor.system("t"))
    page = client.get(reverse("bookings:status", args=[booking.reference]), {"token": booking_access_token(booking)})
    assert page.context["balance_pay_url"].startswith(reverse("payments:pay", args=[booking.reference]))
    assert "Pay the balance (€300.00)" in page.content.decode()  # money for the locale (i18n)
