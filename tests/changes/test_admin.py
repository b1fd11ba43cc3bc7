"""The admin's "Change dates/guests" page: owners with ``manage_booking`` on their own bookings only, the figures
before the change, override with a reason, the refund choice, channel bookings sent to their platform."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.urls import reverse

from bookings import services
from bookings.models import Booking
from guests.services import GuestInput
from tests.factories import BlockFactory, OwnerFactory, PropertyFactory, StaffFactory, future

pytestmark = pytest.mark.django_db


def page_url(booking):
    return reverse("admin:bookings_booking_change_stay", args=[booking.pk])


def form(booking, step, **values):
    data = {"check_in": booking.check_in.isoformat(), "check_out": booking.check_out.isoformat(),
            "adults": booking.adults, "children": booking.children, "refund": "policy", "override_reason": "",
            "step": step}
    data.update({k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in values.items()})
    return data


@pytest.fixture
def owner_booking(book, owner):
    prop = PropertyFactory(owner=owner, min_stay=3)
    return book(prop, start=10, nights=3)


def test_the_detail_page_offers_the_change_to_owners(client, owner, owner_booking):
    client.force_login(owner)
    page = client.get(reverse("admin:bookings_booking_change", args=[owner_booking.pk]))
    assert page.context["can_change"] and page_url(owner_booking) in page.content.decode()


def test_staff_without_manage_booking_get_403_and_no_button(client, owner_booking):
    staff = StaffFactory(properties=[owner_booking.property])
    client.force_login(staff)
    page = client.get(reverse("admin:bookings_booking_change", args=[owner_booking.pk]))
    assert page.status_code == 200 and not page.context["can_change"]
    assert client.get(page_url(owner_booking)).status_code == 403
    response = client.post(page_url(owner_booking), form(owner_booking, "confirm", check_out=future(15),
                                                        expected_difference="200.00"))
    assert response.status_code == 403
    assert Booking.objects.get(pk=owner_booking.pk).check_out == future(13)


def test_another_owner_gets_404(client, owner_booking):
    client.force_login(OwnerFactory(email="other-owner@example.com"))
    assert client.get(page_url(owner_booking)).status_code == 404
    assert client.post(page_url(owner_booking), form(owner_booking, "confirm", check_out=future(15),
                                                     expected_difference="200.00")).status_code == 404
    assert Booking.objects.get(pk=owner_booking.pk).check_out == future(13)


def test_preview_then_confirm(client, owner, owner_booking):
    client.force_login(owner)
    preview = client.post(page_url(owner_booking), form(owner_booking, "preview", check_out=future(15)))
    assert preview.status_code == 200 and preview.context["figures"]["raw_difference"] == Decimal("200.00")
    assert "500.00" in preview.content.decode()
    assert Booking.objects.get(pk=owner_booking.pk).check_out == future(13)  # a preview changes nothing
    done = client.post(page_url(owner_booking), form(owner_booking, "confirm", check_out=future(15),
                                                     expected_difference="200.00", expected_refund="0"))
    assert done.status_code == 302
    booking = Booking.objects.get(pk=owner_booking.pk)
    assert booking.check_out == future(15) and booking.total == Decimal("500.00")
    assert booking.events.last().actor_user == owner


def test_a_stay_rule_needs_the_override_with_a_reason(client, owner, owner_booking):
    client.force_login(owner)
    refused = client.post(page_url(owner_booking), form(owner_booking, "preview", check_out=future(12)))
    assert refused.context["figures"] is None and "Override the stay rules" in refused.content.decode()
    no_reason = client.post(page_url(owner_booking), form(owner_booking, "preview", check_out=future(12),
                                                          override_rules="on"))
    assert no_reason.context["form"].errors["override_reason"]
    done = client.post(page_url(owner_booking), form(owner_booking, "confirm", check_out=future(12),
                                                     override_rules="on", override_reason="Leaves early",
                                                     expected_difference="-100.00", expected_refund="0"))
    assert done.status_code == 302
    booking = Booking.objects.get(pk=owner_booking.pk)
    assert booking.nights == 2 and "Stay rules overridden: Leaves early" in booking.events.last().reason


def test_taken_nights_cannot_be_overridden(client, owner, owner_booking):
    client.force_login(owner)
    BlockFactory(property=owner_booking.property, start_date=future(13), end_date=future(14))
    page = client.post(page_url(owner_booking), form(owner_booking, "confirm", check_out=future(15),
                                                     override_rules="on", override_reason="x",
                                                     expected_difference="200.00"))
    assert page.status_code == 200 and page.context["figures"] is None
    assert Booking.objects.get(pk=owner_booking.pk).check_out == future(13)


def test_a_moved_price_shows_the_new_figures_and_changes_nothing(client, owner, owner_booking):
    client.force_login(owner)
    page = client.post(page_url(owner_booking), form(owner_booking, "confirm", check_out=future(15),
                                                     expected_difference="150.00"))
    assert page.status_code == 200 and page.context["figures"]["raw_difference"] == Decimal("200.00")
    assert Booking.objects.get(pk=owner_booking.pk).check_out == future(13)


def test_bad_input_re_renders(client, owner, owner_booking):
    client.force_login(owner)
    page = client.post(page_url(owner_booking), form(owner_booking, "preview", check_out=future(9), adults=0))
    assert page.status_code == 200 and {"check_out", "adults"} <= set(page.context["form"].errors)


def test_a_channel_booking_is_sent_to_its_platform(client, owner):
    prop = PropertyFactory(owner=owner)
    imported = services.import_external(property_id=prop.pk, source="airbnb", external_id="HM9",
                                        check_in=future(10), check_out=future(13),
                                        guest=GuestInput(name="Air", email="")).booking
    client.force_login(owner)
    detail = client.get(reverse("admin:bookings_booking_change", args=[imported.pk]))
    assert not detail.context["can_change"] and "change its dates or guests on Airbnb" in detail.content.decode()
    response = client.get(page_url(imported), follow=True)
    assert "made on Airbnb" in " ".join(str(m) for m in response.context["messages"])


def test_the_page_reads_in_a_fixed_number_of_queries(client, owner, owner_booking, django_assert_max_num_queries):
    client.force_login(owner)
    with django_assert_max_num_queries(20):
        client.post(page_url(owner_booking), form(owner_booking, "preview", check_out=future(15)))
