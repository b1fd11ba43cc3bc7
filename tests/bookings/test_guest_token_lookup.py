"""``bookings.tokens.booking_for_guest_token``: the one booking-by-guest-token lookup.

The status page and portal, the payment pages, the manual-payment pages and the API read each take the token
from their own place (query string, JSON body, form field, header) and ask this function."""

from __future__ import annotations

import pytest

from bookings import services, tokens
from bookings.models import Booking
from bookings.tokens import booking_access_token, booking_for_guest_token, hold_release_token
from core.actor import Actor

pytestmark = pytest.mark.django_db


def test_the_token_of_a_booking_opens_that_booking_with_its_property_and_guest(prop, book,
                                                                               django_assert_num_queries):
    booking = book(prop, start=20)
    token = booking_access_token(booking)
    with django_assert_num_queries(1):
        found = booking_for_guest_token(booking.reference, token)
        assert (found.property.pk, found.guest.email) == (prop.pk, booking.guest.email)
    assert found == booking


def test_a_caller_chooses_what_comes_with_the_booking(prop, book, django_assert_num_queries):
    booking = book(prop, start=20)
    with django_assert_num_queries(1):
        found = booking_for_guest_token(booking.reference, booking_access_token(booking),
                                        Booking.objects.select_related("property__owner"))
        assert found.property.owner.pk == prop.owner.pk


@pytest.mark.parametrize("token", ["", None, "nonsense", "x" * 600, 42, {"b": 1}])
def test_a_missing_or_malformed_token_opens_nothing_and_costs_no_query(prop, book, token,
                                                                       django_assert_num_queries):
    booking = book(prop, start=20)
    with django_assert_num_queries(0):
        assert booking_for_guest_token(booking.reference, token) is None


def test_the_token_of_one_booking_never_opens_another(prop, book, django_assert_num_queries):
    first, second = book(prop, start=20), book(prop, start=40)
    with django_assert_num_queries(0):
        assert booking_for_guest_token(second.reference, booking_access_token(first)) is None


def test_a_hold_release_token_is_not_a_booking_token(prop, book):
    booking = book(prop, start=20)
    assert booking_for_guest_token(booking.reference, hold_release_token(booking)) is None


def test_a_revoked_token_opens_nothing(prop, book):
    booking = book(prop, start=20)
    old = booking_access_token(booking)
    services.revoke_guest_links(booking_id=booking.pk, actor=Actor.system("test"))
    assert booking_for_guest_token(booking.reference, old) is None
    fresh = booking_access_token(Booking.objects.get(pk=booking.pk))
    assert booking_for_guest_token(booking.reference, fresh) == booking


def test_an_expired_token_opens_nothing(prop, book, monkeypatch):
    booking = book(prop, start=20)
    token = booking_access_token(booking)
    monkeypatch.setattr(tokens, "BOOKING_TOKEN_MAX_AGE", -1)
    assert booking_for_guest_token(booking.reference, token) is None


def test_a_token_for_a_reference_that_no_longer_exists_opens_nothing(prop, book):
    booking = book(prop, start=20)
    token, reference = booking_access_token(booking), booking.reference
    Booking.objects.filter(pk=booking.pk).update(reference="PMS-GONE")  # test setup only
    assert booking_for_guest_token(reference, token) is None
