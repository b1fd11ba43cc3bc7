"""Every guest page has one meta description, and no two pages share one (issue 15 §8): the property page's comes
from the property's description."""

from __future__ import annotations

import pytest
from django.template.loader import render_to_string

from bookings.links import status_url
from core.actor import Actor
from payments import manual
from payments.models import HostPaymentMethod
from tests.a11y.conftest import meta_description
from tests.factories import PropertyFactory, UserFactory, future
from tests.pages.test_booking_pages import confirm

pytestmark = pytest.mark.django_db


def test_each_guest_page_has_its_own_description(client, book):
    prop = PropertyFactory(name="Alfama Loft", city="Lisbon",
                           description="A bright loft above the Tagus.\n\nTiled walls, a terrace & a view.")
    other = PropertyFactory(name="Harbour Cottage", city="Porto", description="")
    held = book(prop, start=10, nights=3)
    paid = confirm(book(prop, start=30, nights=3))
    method = HostPaymentMethod.objects.create(owner=prop.owner, kind="zelle", handle="pay@example.com",
                                              display_name="Owner", instructions="Use Zelle.")
    mp = manual.choose_method(booking_id=held.pk, method_id=method.pk, actor=Actor.guest("ada@example.com"))
    stay = f"check_in={future(60)}&check_out={future(63)}&adults=2"
    urls = {
        "search": "/", "search in a place": "/?q=Lisbon", "property": f"/properties/{prop.slug}/",
        "property without description": f"/properties/{other.slug}/", "details": f"/book/{prop.slug}/?{stay}",
        "status": status_url(held), "pay": status_url(held, "payments:pay"),
        "manual": manual.instructions_url(mp), "receipt": status_url(paid, "bookings:receipt"),
        "cancel": status_url(paid, "bookings:cancel"), "sign-in": "/accounts/login/", "sign-up": "/accounts/signup/",
    }
    descriptions = {}
    for name, url in urls.items():
        response = client.get(url)
        assert response.status_code == 200, (name, url, response.status_code)
        descriptions[name] = meta_description(response.content.decode())
    client.force_login(UserFactory(email="ada@example.com"))
    descriptions["my bookings"] = meta_description(client.get("/account/bookings/").content.decode())
    descriptions["403"] = meta_description(render_to_string("403.html", {"message": "No."}))
    descriptions["503"] = meta_description(render_to_string("503.html"))

    assert all(len(text) >= 40 for text in descriptions.values()), descriptions
    assert len(set(descriptions.values())) == len(descriptions), descriptions  # distinct
    assert descriptions["property"] == "A bright loft above the Tagus.\n\nTiled walls, a terrace &amp; a view."
    assert "Harbour Cottage in Porto" in descriptions["property without description"]
    assert "Lisbon" in descriptions["search in a place"]
    assert held.reference in descriptions["status"] and paid.reference in descriptions["receipt"]


def test_a_long_description_is_cut_at_155_characters(client):
    prop = PropertyFactory(description="<b>Sea</b> view. " + "Quiet street, " * 30)

    text = meta_description(client.get(f"/properties/{prop.slug}/").content.decode())

    assert len(text) <= 155 and text.endswith("…") and text.startswith("Sea view.")  # no markup
