"""The guest details page (/book/<slug>/): the form, the reservation it creates, and every kind of bad input."""

import re
import uuid
from datetime import timedelta
from decimal import Decimal
from urllib.parse import parse_qs, urlparse

import pytest
from django.test import Client

from bookings.models import Booking, BookingEvent, BookingStatus, IdempotencyKey
from bookings.tokens import check_booking_access_token
from guests.models import Guest
from properties.models import Property, weekday_mask
from tests.factories import BlockFactory, PropertyFactory, future
from tests.pages.conftest import text

pytestmark = pytest.mark.django_db


def book_url(prop, start=10, nights=3, adults=2, children=0):
    return (f"/book/{prop.slug}/?check_in={future(start).isoformat()}&check_out={future(start + nights).isoformat()}"
            f"&adults={adults}&children={children}")


def test_get_shows_the_quote_and_the_form_with_a_one_time_token(client):
    prop = PropertyFactory(base_price=Decimal("120.00"), cleaning_fee=Decimal("25.00"), house_rules="No pets.")

    response = client.get(book_url(prop))

    assert response.status_code == 200
    visible, html = text(response), response.content.decode()
    assert "Total €385.00" in visible  # 3 × 120 + 25
    assert "No pets." in visible and "Moderate cancellation" in visible
    for name in ("name", "email", "phone", "country", "adults", "children", "special_requests", "accept"):
        assert f'name="{name}"' in html
    assert '<label for="id_email">' in html and 'autocomplete="email"' in html
    token = re.search(r'name="form_token" value="([0-9a-f-]{36})"', html)
    assert token and uuid.UUID(token.group(1))
    assert 'name="csrfmiddlewaretoken"' in html
    assert '<option value="GB">United Kingdom</option>' in html


def test_submit_reserves_with_expiry_and_redirects_to_the_payment_page(client, details_data, settings):
    settings.BOOKING_HOLD_MINUTES = 30
    prop = PropertyFactory(base_price=Decimal("100.00"))

    response = client.post(f"/book/{prop.slug}/", details_data(children="1"))

    assert response.status_code == 302
    booking = Booking.objects.get()
    assert booking.status == BookingStatus.RESERVED and booking.source == "direct"
    assert booking.property == prop and (booking.adults, booking.children) == (2, 1)
    assert booking.total == Decimal("300.00")
    assert timedelta(minutes=29) < booking.expires_at - booking.reserved_at <= timedelta(minutes=30)
    assert booking.guest.name == "Ada Lovelace" and booking.guest.phone == "+44 20 7946 0000"
    assert booking.guest.country == "GB" and booking.special_requests == "Late arrival"
    event = BookingEvent.objects.get(booking=booking)
    assert event.actor_type == "guest" and event.actor_label == "ada@example.com"
    location = urlparse(response["Location"])
    assert location.path == f"/payments/{booking.reference}/pay/"
    assert check_booking_access_token(parse_qs(location.query)["token"][0], booking)
    page = client.get(response["Location"])
    assert page.status_code == 200
    assert booking.reference in text(page) and "Card payment" in text(page)
    assert 'id="card-element"' in page.content.decode()
    assert "29 min left" in text(page) or "30 min left" in text(page)  # issue 15 §8: hours and minutes


def test_tampered_hidden_fields_cannot_change_the_property_or_the_price(client, details_data):
    prop = PropertyFactory(base_price=Decimal("100.00"))
    other = PropertyFactory(base_price=Decimal("1.00"))

    response = client.post(f"/book/{prop.slug}/", details_data(
        property_id=str(other.pk), total="1.00", price="1", amount="0.01", currency="JPY", status="confirmed",
    ))

    assert response.status_code == 302
    booking = Booking.objects.get()
    assert booking.property == prop
    assert booking.total == Decimal("300.00") and booking.currency == "EUR"
    assert booking.status == BookingStatus.RESERVED and booking.amount_paid == 0


def test_double_submit_gives_one_booking(client, details_data):
    prop = PropertyFactory()
    data = details_data()

    first = client.post(f"/book/{prop.slug}/", data)
    second = client.post(f"/book/{prop.slug}/", data)

    assert first.status_code == second.status_code == 302
    assert Booking.objects.count() == 1
    assert urlparse(first["Location"]).path == urlparse(second["Location"]).path
    assert IdempotencyKey.objects.filter(scope="details-form", key=data["form_token"]).count() == 1


def test_same_token_with_changed_details_is_refused_without_a_second_booking(client, details_data):
    prop = PropertyFactory()
    data = details_data()
    client.post(f"/book/{prop.slug}/", data)

    response = client.post(f"/book/{prop.slug}/", {**data, "name": "Someone Else"})

    assert response.status_code == 200
    assert "already sent with other details" in text(response)
    assert Booking.objects.count() == 1
    assert f'value="{data["form_token"]}"' not in response.content.decode()  # a fresh token for the retry


def assert_rerendered_with(response, message, data):
    assert response.status_code == 200
    assert message in text(response)
    html = response.content.decode()
    assert 'value="Ada Lovelace"' in html and 'value="ada@example.com"' in html  # input kept
    assert Booking.objects.count() == 0


def test_taken_dates_rerender_with_the_message_and_nothing_written(client, details_data, book):
    prop = PropertyFactory()
    book(prop, start=11, nights=2)
    bookings_before, guests_before = Booking.objects.count(), Guest.objects.count()
    data = details_data(start=10, nights=3)

    response = client.post(f"/book/{prop.slug}/", data)

    assert response.status_code == 200
    assert "These dates are already booked." in text(response) or "no longer available" in text(response)
    assert Booking.objects.count() == bookings_before and Guest.objects.count() == guests_before
    assert 'value="Ada Lovelace"' in response.content.decode()
    new_token = re.search(r'name="form_token" value="([0-9a-f-]{36})"', response.content.decode()).group(1)
    assert new_token != data["form_token"]


def test_blocked_dates_rerender_with_the_message(client, details_data):
    prop = PropertyFactory()
    BlockFactory(property=prop, start_date=future(11), end_date=future(12))
    response = client.post(f"/book/{prop.slug}/", details_data())
    assert_rerendered_with(response, "The property is not available on some of these dates.", None)


def test_stay_rule_violation_rerenders_with_the_reason(client, details_data):
    prop = PropertyFactory(min_stay=5)
    response = client.post(f"/book/{prop.slug}/", details_data(nights=3))
    assert_rerendered_with(response, "Minimum stay is 5 nights.", None)


def test_checkin_weekday_rule(client, details_data):
    prop = PropertyFactory(checkin_weekdays=weekday_mask(5))
    start = next(n for n in range(10, 20) if future(n).weekday() != 5)
    response = client.post(f"/book/{prop.slug}/", details_data(start=start))
    assert_rerendered_with(response, "Check-in on Saturdays only.", None)


def test_too_many_guests(client, details_data):
    prop = PropertyFactory(max_guests=4)
    response = client.post(f"/book/{prop.slug}/", details_data(adults="3", children="2"))
    assert_rerendered_with(response, "This property sleeps at most 4 guests.", None)


def test_property_that_stops_accepting_bookings_is_404(client, details_data):
    prop = PropertyFactory()
    Property.objects.filter(pk=prop.pk).update(status=Property.Status.ARCHIVED)
    assert client.post(f"/book/{prop.slug}/", details_data()).status_code == 404
    assert client.get(book_url(prop)).status_code == 404
    assert Booking.objects.count() == 0


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"check_in": "past"}, "check_in", "Check-in cannot be in the past."),
        ({"check_out": "same"}, "check_out", "Check-out must be after check-in."),
        ({"email": "not-an-email"}, "email", "Enter a valid email address, like name@example.com."),
        ({"email": ""}, "email", "Enter your email address."),
        ({"phone": "call me maybe"}, "phone", "Use digits, spaces, +, - and parentheses only"),
        ({"phone": "+1 234"}, "phone", "A phone number has 7 to 20 digits."),
        ({"phone": "1" * 21}, "phone", "A phone number has 7 to 20 digits."),
        ({"phone": "12+34567890"}, "phone", "Use digits, spaces, +, - and parentheses only"),
        ({"name": "   "}, "name", "Enter your full name."),
        ({"country": "XX"}, "country", "Choose a country from the list."),
        ({"adults": "0"}, "adults", "At least 1 adult."),
        ({"accept": None}, "accept", "Please accept the house rules and the cancellation policy to continue."),
        ({"form_token": None}, "form_token", "This form has expired; please submit it again."),
        ({"form_token": "not-a-uuid"}, "form_token", "This form has expired; please submit it again."),
    ],
)
def test_invalid_fields_rerender_with_messages_and_keep_the_input(client, details_data, changes, field, message):
    prop = PropertyFactory()
    data = details_data()
    for name, value in changes.items():
        if value is None:
            data.pop(name)
        elif value == "past":
            data[name] = future(-3).isoformat()
        elif value == "same":
            data[name] = data["check_in"]
        else:
            data[name] = value

    response = client.post(f"/book/{prop.slug}/", data)

    assert response.status_code == 200
    assert field in response.context["form"].errors
    assert message in " ".join(response.context["form"].errors[field])
    assert message.split(" (")[0] in text(response)
    assert Booking.objects.count() == 0
    html = response.content.decode()
    if field != "name":
        assert 'value="Ada Lovelace"' in html
    if field not in ("email", "form_token", "check_in", "check_out"):
        # issue 15 §8: the help text stays linked beside the message (phone has one)
        assert re.search(rf'aria-describedby="(id_{field}_helptext )?id_{field}_error"', html)
    if field == "form_token":  # a fresh token is rendered, so the next submit works
        token = re.search(r'name="form_token" value="([0-9a-f-]{36})"', html)
        assert token


@pytest.mark.parametrize("phone", ["+44 20 7946 0000", "(555) 123-4567", "0049-30-1234567", "1234567"])
def test_valid_phone_numbers(client, details_data, phone):
    prop = PropertyFactory()
    response = client.post(f"/book/{prop.slug}/", details_data(phone=phone))
    assert response.status_code == 302
    assert Booking.objects.get().guest.phone == phone


def test_csrf_is_enforced(details_data):
    prop = PropertyFactory()
    strict = Client(enforce_csrf_checks=True)

    refused = strict.post(f"/book/{prop.slug}/", details_data())
    assert refused.status_code == 403
    assert Booking.objects.count() == 0

    page = strict.get(book_url(prop))
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.content.decode()).group(1)
    accepted = strict.post(f"/book/{prop.slug}/", {**details_data(), "csrfmiddlewaretoken": token})
    assert accepted.status_code == 302
    assert Booking.objects.count() == 1


def test_reservations_are_throttled_per_client(details_data, settings, clear_cache):
    settings.API_THROTTLE_CREATE = "2/min"
    prop = PropertyFactory()
    client = Client(REMOTE_ADDR="198.51.100.1")  # counts start at zero (clear_cache)

    assert client.post(f"/book/{prop.slug}/", details_data(start=10, nights=2)).status_code == 302
    assert client.post(f"/book/{prop.slug}/", details_data(start=20, nights=2)).status_code == 302
    third = client.post(f"/book/{prop.slug}/", details_data(start=30, nights=2))

    assert third.status_code == 429
    assert "Too many booking attempts" in text(third)
    assert Booking.objects.count() == 2
    other_client = Client(REMOTE_ADDR="198.51.100.2")
    assert other_client.post(f"/book/{prop.slug}/", details_data(start=40, nights=2)).status_code == 302


def test_get_with_bad_or_unbookable_stay_explains_and_offers_no_form(client, book):
    prop = PropertyFactory()
    book(prop, start=10, nights=3)

    taken = client.get(book_url(prop, start=10, nights=2))
    assert taken.status_code == 200 and "These dates are already booked." in text(taken)
    assert 'name="email"' not in taken.content.decode()

    bad = client.get(f"/book/{prop.slug}/?check_in=2020-01-01&check_out=2019-01-01&adults=2")
    assert bad.status_code == 200 and "Check-in cannot be in the past." in text(bad)
    assert 'name="email"' not in bad.content.decode()

    none = client.get(f"/book/{prop.slug}/")
    assert none.status_code == 200 and "Choose your dates" in text(none)
    assert Booking.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_two_simultaneous_submits_of_one_form_give_one_booking(details_data):
    import threading

    from django.db import connection

    prop = PropertyFactory()
    data = details_data()
    barrier = threading.Barrier(2)
    results = []

    def submit():
        try:
            barrier.wait()
            results.append(Client().post(f"/book/{prop.slug}/", data))
        finally:
            connection.close()

    threads = [threading.Thread(target=submit) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert [r.status_code for r in results] == [302, 302]
    assert results[0]["Location"].split("?")[0] == results[1]["Location"].split("?")[0]
    assert Booking.objects.count() == 1
