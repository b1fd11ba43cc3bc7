"""Google's free booking links land on /go/google/<property>: a valid stay goes to the property page with the stay
filled in, anything else to the property page without dates (never an error page), and the referral reaches the
booking through the checkout. (The price Google shows against our page's total: tests/channels/api/test_google_vr.py.)
"""

import logging
import xml.etree.ElementTree as ET
from datetime import timedelta
from decimal import Decimal
from urllib.parse import parse_qs, urlsplit

import pytest
from django.utils import timezone

from bookings.models import Booking, Referral
from channels.adapters.google_vr import google_url_template, points_of_sale_xml
from channels.models import ChannelConnection, Transport
from properties.models import Property
from storefront.referrals import SESSION_KEY
from tests.factories import PropertyFactory, future
from tests.pages.conftest import text

pytestmark = pytest.mark.django_db


def go(client, prop_id, **params):
    return client.get(f"/go/google/{prop_id}", params)


def test_a_valid_link_lands_on_the_property_page_with_the_stay(client):
    prop = PropertyFactory(base_price=Decimal("100.00"), max_guests=4)

    response = go(client, prop.slug, checkin=future(20).isoformat(), nights="3", adults="2", children="1",
                  currency="EUR", price="300.00")

    assert response.status_code == 302
    location = urlsplit(response["Location"])
    assert location.path == f"/properties/{prop.slug}/"
    assert parse_qs(location.query) == {"check_in": [future(20).isoformat()], "check_out": [future(23).isoformat()],
                                        "adults": ["2"], "children": ["1"]}
    assert client.session[SESSION_KEY]["referral"] == Referral.GOOGLE_VR
    page = client.get(response["Location"])
    assert page.status_code == 200 and page.context["quote"].bookable
    assert "Total €300.00" in text(page)


def test_guests_default_to_two_adults_and_a_trailing_slash_is_fine(client):
    prop = PropertyFactory()

    response = client.get(f"/go/google/{prop.slug}/", {"checkin": future(20).isoformat(), "nights": "2"})

    assert parse_qs(urlsplit(response["Location"]).query) == {
        "check_in": [future(20).isoformat()], "check_out": [future(22).isoformat()], "adults": ["2"]}


@pytest.mark.parametrize("params", [
    {},  # Google's dateless "website link"
    {"checkin": "2027-13-01", "nights": "3"},
    {"checkin": "tomorrow", "nights": "3"},
    {"checkin": "20270301", "nights": "3"},
    {"checkin": "FUTURE20"},  # no nights
    {"checkin": "FUTURE20", "nights": "0"},
    {"checkin": "FUTURE20", "nights": "-2"},
    {"checkin": "FUTURE20", "nights": "three"},
    {"checkin": "FUTURE20", "nights": "400"},
    {"checkin": "FUTURE20", "nights": "3", "adults": "0"},
    {"checkin": "FUTURE20", "nights": "3", "adults": "2.5"},
    {"checkin": "FUTURE20", "nights": "3", "adults": "1000"},
    {"checkin": "FUTURE20", "nights": "3", "children": "-1"},
    {"checkin": "PAST5", "nights": "3"},
    {"checkin": "FUTURE20", "nights": "99999999999999999999999"},
])
def test_bad_input_lands_on_the_property_page_without_dates(client, params):
    prop = PropertyFactory()
    values = {"FUTURE20": future(20).isoformat(), "PAST5": future(-5).isoformat()}
    params = {k: values.get(v, v) for k, v in params.items()}

    response = go(client, prop.slug, **params)

    assert response.status_code == 302 and response["Location"] == f"/properties/{prop.slug}/"
    assert client.session[SESSION_KEY]["referral"] == Referral.GOOGLE_VR  # still a guest Google sent
    assert client.get(response["Location"]).status_code == 200


def test_price_and_currency_are_not_trusted_or_required(client):
    prop = PropertyFactory(base_price=Decimal("100.00"))

    response = go(client, prop.slug, checkin=future(20).isoformat(), nights="2", currency="<script>", price="abc")

    assert response.status_code == 302
    page = client.get(response["Location"])
    assert "Total €200.00" in text(page)  # our own quote, whatever the link said


def test_a_price_google_showed_that_differs_from_our_quote_is_logged(client, caplog):
    """Google's total includes the cleaning fee (sent as a TaxFeeInfo fee): 230.00 is the matching price; a price
    that differs (here a stale one) is logged."""
    prop = PropertyFactory(base_price=Decimal("100.00"), cleaning_fee=Decimal("30.00"))

    with caplog.at_level(logging.INFO, logger="storefront.landing_views"):
        go(client, prop.slug, checkin=future(20).isoformat(), nights="2", currency="EUR", price="230.00")
        go(client, prop.slug, checkin=future(20).isoformat(), nights="2", currency="EUR", price="210.00")
        go(client, prop.slug, checkin=future(20).isoformat(), nights="2", currency="USD", price="1.00")

    (record,) = [r for r in caplog.records if r.name == "storefront.landing_views"]  # not the request lines
    assert "Google showed 210.00 EUR" in record.getMessage() and "our quote is 230.00" in record.getMessage()


def test_an_unknown_or_unpublished_property_is_404(client):
    draft = PropertyFactory(status=Property.Status.DRAFT)
    assert go(client, "no-such-place", checkin=future(20).isoformat(), nights="2").status_code == 404
    assert go(client, draft.slug).status_code == 404
    assert client.get("/go/google/bad%20id").status_code == 404
    assert SESSION_KEY not in client.session


def test_the_id_google_knows_from_the_connection_also_lands(client):
    prop = PropertyFactory()
    connection = ChannelConnection(property=prop, platform="google_vr", transport=Transport.GOOGLE_VR,
                                   remote_property_id="VR-77")
    connection.save()

    response = go(client, "VR-77", checkin=future(20).isoformat(), nights="2")

    assert urlsplit(response["Location"]).path == f"/properties/{prop.slug}/"


def test_only_get(client):
    prop = PropertyFactory()
    assert client.post(f"/go/google/{prop.slug}").status_code == 405


# --- the referral reaches the booking ---------------------------------------------------------------------


def test_a_guest_google_sent_books_through_the_details_form_with_the_referral(client, details_data):
    prop = PropertyFactory()
    go(client, prop.slug, checkin=future(10).isoformat(), nights="3")

    response = client.post(f"/book/{prop.slug}/", details_data())

    assert response.status_code == 302
    booking = Booking.objects.get()
    assert (booking.referral, booking.source) == (Referral.GOOGLE_VR, "direct")


def test_a_guest_without_a_landing_link_has_no_referral(client, details_data):
    prop = PropertyFactory()
    assert client.post(f"/book/{prop.slug}/", details_data()).status_code == 302
    assert Booking.objects.get().referral == ""


@pytest.mark.parametrize("stored", [
    {"referral": "google_vr", "at": "OLD"},  # older than 30 days
    {"referral": "somewhere_else", "at": "NOW"},  # a value this version does not know
    {"referral": "google_vr", "at": "yesterday"},
    {"referral": "google_vr", "at": "2027-01-01T00:00:00"},  # no time zone
    "google_vr",
])
def test_an_old_or_unknown_referral_is_not_recorded(client, details_data, stored):
    prop = PropertyFactory()
    if isinstance(stored, dict):
        moments = {"OLD": (timezone.now() - timedelta(days=31)).isoformat(), "NOW": timezone.now().isoformat()}
        stored = {**stored, "at": moments.get(stored["at"], stored["at"])}
    session = client.session
    session[SESSION_KEY] = stored
    session.save()

    assert client.post(f"/book/{prop.slug}/", details_data()).status_code == 302
    assert Booking.objects.get().referral == ""


def test_the_service_refuses_a_referral_it_does_not_know(book):
    with pytest.raises(ValueError):
        book(PropertyFactory(), referral="somewhere_else")


# --- what the owner gives Google -------------------------------------------------------------------------------


def test_the_points_of_sale_file_holds_the_documented_template(settings):
    settings.SITE_URL = "https://stay.example.com"
    raw = points_of_sale_xml()

    root = ET.fromstring(raw)
    assert root.tag == "PointsOfSale" and [p.get("id") for p in root] == ["stayhold"]
    assert root.find("PointOfSale/URL").text == google_url_template() == (
        "https://stay.example.com/go/google/(PARTNER-HOTEL-ID)?checkin=(CHECKINYEAR)-(CHECKINMONTH)-(CHECKINDAY)"
        "&nights=(LENGTH)&adults=(NUM-ADULTS)&children=(NUM-CHILDREN)&currency=(USER-CURRENCY)"
        "&price=(PRICE-DISPLAYED-TOTAL)")
    assert "&amp;nights=" in raw  # written as &amp; in the file, as Google asks
