"""Bookings the owner enters (source ``owner``): same services and rules, an explicit and audited override."""

import pytest

from bookings import blocks as block_services
from bookings.models import Booking, BookingEvent, BookingStatus, Source
from properties.models import Property
from tests.factories import PropertyFactory, future

from .conftest import url

pytestmark = pytest.mark.django_db
S = BookingStatus


def form(prop, start=10, nights=3, **extra):
    return {"property": prop.pk, "check_in": future(start).isoformat(),
            "check_out": future(start + nights).isoformat(), "adults": "2", "children": "0",
            "guest_name": "Grace Hopper", "guest_email": "grace@example.com", "guest_phone": "+1 212 555 0100",
            "guest_country": "US", "notes": "Phoned on Monday", **extra}


def test_the_add_page_offers_only_my_properties(prop, owner, owner_b, as_user):
    client = as_user(owner)
    assert url("owner_add") in client.get(url("changelist")).content.decode()

    page = client.get(url("owner_add"))

    assert page.status_code == 200
    assert prop.name in page.content.decode() and "B's Barn" not in page.content.decode()


def test_owner_booking_confirmed_now(prop, owner, as_user):
    response = as_user(owner).post(url("owner_add"), form(prop, confirm_now="on"), follow=True)

    booking = Booking.objects.get()
    assert response.redirect_chain[-1][0] == url("change", booking.pk)
    assert (booking.source, booking.status, booking.rules_overridden) == (Source.OWNER, S.CONFIRMED, False)
    assert (booking.guest.name, booking.guest.email, booking.guest.country) == ("Grace Hopper", "grace@example.com",
                                                                               "US")
    assert booking.special_requests == "Phoned on Monday"
    assert booking.total > 0 and booking.quote["nights"]  # priced by the server, like every booking
    events = list(BookingEvent.objects.filter(booking=booking).order_by("id"))
    assert [(e.to_status, e.actor_user) for e in events] == [(S.RESERVED, owner), (S.CONFIRMED, owner)]
    assert f"Booking {booking.reference} created, confirmed." in response.content.decode()


def test_owner_booking_without_confirmation_is_reserved_for_the_manual_payment_window(prop, owner, as_user, settings):
    as_user(owner).post(url("owner_add"), form(prop))

    booking = Booking.objects.get()
    assert booking.status == S.RESERVED
    held = (booking.expires_at - booking.reserved_at).total_seconds()
    assert held == settings.MANUAL_PAYMENT_TIMEOUT_HOURS * 3600


@pytest.mark.parametrize("clash", ["booking", "block", "buffer"])
def test_a_clash_is_a_form_error_and_writes_nothing_even_with_the_override(prop, book, owner, as_user, clash):
    if clash == "booking":
        book(prop, start=11, nights=2)
    elif clash == "block":
        block_services.create_block(property_id=prop.pk, start_date=future(12), end_date=future(14))
    else:
        prop.buffer_days = 2
        prop.save()
        book(prop, start=14, nights=2)  # our stay would end one day before it: inside the 2 buffer days
    count = Booking.objects.count()
    client = as_user(owner)

    for extra in ({}, {"override_rules": "on", "override_reason": "VIP"}):
        response = client.post(url("owner_add"), form(prop, start=10, nights=3, confirm_now="on", **extra))

        assert response.status_code == 200
        assert "not available" in response.content.decode()
        assert "cannot be overridden" in response.content.decode()
        assert Booking.objects.count() == count


def test_a_stay_rule_violation_is_a_form_error_with_the_override_hint(owner, as_user):
    prop = PropertyFactory(owner=owner, min_stay=5)

    response = as_user(owner).post(url("owner_add"), form(prop, nights=2))

    assert response.status_code == 200
    html = response.content.decode()
    assert "minimum stay" in html.lower() and "Override the stay rules" in html
    assert not Booking.objects.exists()


def test_an_override_without_a_reason_is_refused(owner, as_user):
    prop = PropertyFactory(owner=owner, min_stay=5)

    response = as_user(owner).post(url("owner_add"), form(prop, nights=2, override_rules="on", override_reason=" "))

    assert response.status_code == 200
    assert "Give a reason for overriding the stay rules" in response.content.decode()
    assert not Booking.objects.exists()


def test_an_override_with_a_reason_is_audited(owner, as_user):
    prop = PropertyFactory(owner=owner, min_stay=5)

    as_user(owner).post(url("owner_add"), form(prop, nights=2, override_rules="on",
                                               override_reason="Regular guest, short visit"))

    booking = Booking.objects.get()
    assert booking.rules_overridden and booking.source == Source.OWNER and booking.nights == 2
    event = BookingEvent.objects.get(booking=booking)
    assert event.actor_user == owner
    assert event.reason == "Stay rules overridden: Regular guest, short visit"


def test_another_owners_property_is_not_a_valid_choice(prop, owner, owner_b, as_user):
    theirs = Property.objects.get(owner=owner_b)

    response = as_user(owner).post(url("owner_add"), form(theirs, confirm_now="on"))

    assert response.status_code == 200
    assert "Choose one of your properties" in response.content.decode()
    assert not Booking.objects.exists()


@pytest.mark.parametrize("changes, error", [
    ({"check_out": future(5).isoformat()}, "Check-out must be after check-in"),
    ({"guest_name": ""}, "This field is required"),
    ({"adults": "0"}, "greater than or equal to 1"),
    ({"guest_phone": "call me"}, "Use digits"),
])
def test_bad_input_is_a_field_error(prop, owner, as_user, changes, error):
    response = as_user(owner).post(url("owner_add"), {**form(prop), **changes})

    assert response.status_code == 200 and error in response.content.decode()
    assert not Booking.objects.exists()
