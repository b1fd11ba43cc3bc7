"""The guest pages of a group checkout: add stays to the basket, the group details page, one reservation step."""

from __future__ import annotations

import uuid
from urllib.parse import urlencode

import pytest
from django.urls import reverse

from bookings import services
from bookings.group_links import group_access_token
from bookings.models import Booking, BookingGroup, BookingStatus
from core.actor import Actor
from guests.services import GuestInput
from storefront.group_checkout import SESSION_KEY
from tests.factories import BlockFactory, PropertyFactory, future

pytestmark = pytest.mark.django_db


def stay_params(start=10, nights=3, adults=2):
    return {"check_in": future(start).isoformat(), "check_out": future(start + nights).isoformat(), "adults": adults,
            "children": 0}


def add(client, prop, **kwargs):
    return client.post(reverse("bookings:group-add", args=[prop.slug]), stay_params(**kwargs))


def details(**extra):
    return {"name": "Ana Lead", "email": "ana@example.com", "phone": "+351 912 345 678", "country": "PT",
            "special_requests": "", "accept": "on", "form_token": str(uuid.uuid4()), **extra}


@pytest.fixture
def two(db):
    return PropertyFactory(name="Casa Azul"), PropertyFactory(name="Casa Verde")


def test_add_page_shows_the_quote_and_adds_the_stay(client, two):
    a, _b = two
    page = client.get(reverse("bookings:group-add", args=[a.slug]) + "?" + urlencode(stay_params()))
    assert page.status_code == 200 and b"Add to group booking" in page.content and b"Total" in page.content

    response = add(client, a)
    assert response.status_code == 302 and response.url == reverse("bookings:group-basket")
    assert client.session[SESSION_KEY] == [{"property_id": a.pk, "check_in": future(10).isoformat(),
                                            "check_out": future(13).isoformat(), "adults": 2, "children": 0}]


def test_unavailable_or_bad_stays_are_not_added(client, two):
    a, _b = two
    BlockFactory(property=a, start_date=future(11), end_date=future(12))
    assert add(client, a).status_code == 409
    bad = client.post(reverse("bookings:group-add", args=[a.slug]), {"check_in": "nope", "adults": 2})
    assert bad.status_code == 400
    assert SESSION_KEY not in client.session


def test_the_same_property_twice_on_overlapping_nights_is_refused(client, two):
    a, _b = two
    add(client, a)
    response = add(client, a, start=11)
    assert response.status_code == 409 and b"already has a stay" in response.content
    assert add(client, a, start=20).status_code == 302
    assert len(client.session[SESSION_KEY]) == 2


def test_basket_lists_each_quote_and_the_total(client, two, django_assert_max_num_queries):
    a, b = two
    add(client, a)
    add(client, b, start=12, nights=2)
    with django_assert_max_num_queries(20):
        page = client.get(reverse("bookings:group-basket"))
    assert page.status_code == 200
    basket = page.context["basket"]
    assert [line.prop for line in basket.lines] == [a, b]
    assert basket.total == sum(line.quote.quote.total for line in basket.lines) and basket.total > 0
    assert b"Casa Azul" in page.content and b"Casa Verde" in page.content and b"Reserve all and pay" in page.content


def test_reserving_the_basket_books_every_stay_and_goes_to_one_payment(client, two):
    a, b = two
    add(client, a)
    add(client, b, start=12, nights=2)
    form = details()
    response = client.post(reverse("bookings:group-basket"), form)

    group = BookingGroup.objects.get()
    assert response.status_code == 302 and response.url.startswith(f"/payments/groups/{group.reference}/pay/")
    assert sorted(group.bookings.values_list("property_id", flat=True)) == sorted([a.pk, b.pk])
    assert set(group.bookings.values_list("status", flat=True)) == {BookingStatus.RESERVED}
    assert SESSION_KEY not in client.session  # the basket is emptied

    pay_page = client.get(response.url)
    assert pay_page.status_code == 200 and pay_page.context["due"].total == sum(
        bk.total for bk in group.bookings.all())
    assert b'id="pay-form"' in pay_page.content or b"Card payment is not set up" in pay_page.content


def test_a_double_submitted_form_books_once(client, two):
    a, b = two
    add(client, a)
    add(client, b)
    form = details()
    first = client.post(reverse("bookings:group-basket"), form)
    # The browser sends it again with the same token; the basket is gone but the stored answer replays first.
    session = client.session
    session[SESSION_KEY] = [{"property_id": p.pk, "check_in": future(10).isoformat(),
                             "check_out": future(13).isoformat(), "adults": 2, "children": 0} for p in (a, b)]
    session.save()
    second = client.post(reverse("bookings:group-basket"), form)
    assert first.url == second.url
    assert BookingGroup.objects.count() == 1 and Booking.objects.count() == 2


def test_a_stay_taken_meanwhile_fails_the_whole_group_and_says_which(client, two):
    a, b = two
    add(client, a)
    add(client, b)
    services.reserve(property_id=b.pk, check_in=future(11), check_out=future(12), adults=1,
                     guest=GuestInput(name="Other", email="o@example.com"), actor=Actor.system("other"))
    response = client.post(reverse("bookings:group-basket"), details())
    # The basket page already shows the stay cannot be booked; a POST anyway is refused whole, naming the stay.
    assert response.status_code == 409
    assert not BookingGroup.objects.exists() and Booking.objects.count() == 1
    assert response.context["outcome"]["stay"] == 1 and "Stay 2 (Casa Verde" in response.context["outcome"]["detail"]


def test_invalid_details_re_render_with_field_messages(client, two):
    a, _b = two
    add(client, a)
    response = client.post(reverse("bookings:group-basket"), details(email="not-an-email", accept=""))
    assert response.status_code == 400
    assert b"Enter a valid email address" in response.content and b"Please accept" in response.content
    assert not Booking.objects.exists()


def test_remove_a_stay(client, two):
    a, b = two
    add(client, a)
    add(client, b)
    client.post(reverse("bookings:group-remove"), {"index": "0"})
    assert [s["property_id"] for s in client.session[SESSION_KEY]] == [b.pk]
    client.post(reverse("bookings:group-remove"), {"index": "x"})  # bad input: nothing happens
    assert len(client.session[SESSION_KEY]) == 1


def test_property_and_search_pages_offer_add_to_group(client, two):
    a, _b = two
    page = client.get(reverse("properties:detail", args=[a.slug]) + "?" + urlencode(stay_params()))
    assert reverse("bookings:group-add", args=[a.slug]).encode() in page.content
    search = client.get(reverse("properties:home") + "?" + urlencode(
        {"check_in": future(10).isoformat(), "check_out": future(13).isoformat(), "guests": 2}))
    assert b"Add to group booking" in search.content


def test_group_pay_page_needs_the_group_token(client, two):
    a, b = two
    group = services.reserve_group(stays=[services.GroupStay(a.pk, future(10), future(12), 2)],
                                   guest=GuestInput(name="A", email="a@example.com"), actor=Actor.system("t"))
    url = reverse("payments:group-pay", args=[group.reference])
    assert client.get(url).status_code == 404
    assert client.get(url + "?token=forged").status_code == 404
    booking = group.bookings.get()
    from bookings.tokens import booking_access_token
    assert client.get(url + "?" + urlencode({"token": booking_access_token(booking)})).status_code == 404
    assert client.get(url + "?" + urlencode({"token": group_access_token(group)})).status_code == 200
