"""Google Vacation Rentals: what we sell and price here reaches Google (its emulator over HTTP) as ARI messages —
property data, inventory, stay rules, rates — within Google's 330-day window, through failures; and Google's free
booking link lands on our property page with a total that matches the price Google showed, cleaning fee, tax and
one stay-level discount (a Promotion) included (or differs by exactly the documented gaps)."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from datetime import timedelta
from decimal import Decimal
from urllib.parse import urlencode, urlsplit

import pytest
from django.utils import timezone

from bookings.models import Booking, Referral, SentEmail
from channels import api_sync
from channels.adapters.google_vr import (
    AVAILABILITY,
    INVENTORY,
    PROMOTIONS,
    PROPERTY_DATA,
    RATES,
    TAXES,
    GoogleVrAdapter,
    google_url_template,
    points_of_sale_xml,
)
from channels.models import AriChange, BreakerState, ChannelConnection, ConnectionStatus
from properties.models import PricingRule, weekday_mask
from tests.factories import PricingRuleFactory, PropertyFactory, future, next_weekday

pytestmark = pytest.mark.django_db
OTA = "{http://www.opentravel.org/OTA/2003/05}"


def sent(google):
    return google.requests("/travel/")


def paths(google):
    return [r["path"] for r in sent(google)]


def xml(request):
    return ET.fromstring(request["body"])


def price(google, connection, checkin, nights, adults=2, children=0):
    return google("price?" + urlencode({"property": connection.property.slug, "checkin": checkin.isoformat(),
                                        "nights": nights, "adults": adults, "children": children}))


def full_sync(connection):
    api_sync.request_full_sync(connection)
    return api_sync.push_connection(connection.pk)


# --- the push ------------------------------------------------------------------------------------------------


def test_a_full_sync_sends_property_data_inventory_rules_and_rates_within_330_days(google, google_connection):
    connection = google_connection(PropertyFactory(name="Casa Azul", max_guests=5))
    slug = connection.property.slug

    outcome = full_sync(connection)

    assert (outcome.status, outcome.requests, outcome.nights) == ("pushed", 6, 2 * 330)
    assert paths(google) == [PROPERTY_DATA, TAXES, PROMOTIONS, INVENTORY, RATES, AVAILABILITY]
    assert [r["status"] for r in sent(google)] == [200] * 6
    assert all(r["headers"]["content-type"].startswith("application/xml") for r in sent(google))
    transaction, fees, promotions, inventory, rates, avail = (xml(r) for r in sent(google))
    assert transaction.get("partner") == google.partner
    data_set = transaction.find("PropertyDataSet")
    assert (data_set.get("action"), data_set.findtext("Property"), data_set.findtext("RoomData/RoomID"),
            data_set.findtext("RoomData/Capacity"), data_set.findtext("PackageData/PackageID")) == (
        "overlay", slug, slug, "5", "STD")
    assert data_set.find("RoomData/Name/Text").get("text") == "Casa Azul"
    # No cleaning fee: an empty overlay, which clears any fee Google held.
    assert (fees.tag, fees.get("partner"), fees.findtext("Property/ID"), fees.find("Property").get("action"),
            fees.findall("Property/Fees/Fee")) == ("TaxFeeInfo", google.partner, slug, "overlay", [])
    # No stay-level discount: an empty overlay, which clears any promotion Google held.
    hotel = promotions.find("HotelPromotions")
    assert (promotions.tag, promotions.get("partner"), hotel.get("hotel_id"), hotel.get("action"),
            hotel.findall("Promotion")) == ("Promotions", google.partner, slug, "overlay", [])
    for message in (inventory, rates, avail):
        assert message.find(f"{OTA}POS/{OTA}Source/{OTA}RequestorID").get("ID") == google.partner
        assert re.fullmatch(r"[A-Za-z0-9_-]+", message.get("EchoToken"))
    # Ranges, not days: one inventory range for the whole window; every date inside [today, today + 329].
    (count,) = inventory.iter(f"{OTA}InvCount")
    assert count.get("Count") == "1"
    controls = [c for m in (inventory, rates, avail) for c in m.iter(f"{OTA}StatusApplicationControl")]
    assert min(c.get("Start") for c in controls) == future(0).isoformat()
    assert max(c.get("End") for c in controls) == future(329).isoformat()  # nothing beyond Google's 330 days
    stored = google(f"ari?property={slug}")
    assert sorted(stored["inventory"][slug]) == [(future(0) + timedelta(days=n)).isoformat() for n in range(330)]
    assert not AriChange.objects.filter(connection=connection).exists()
    connection.refresh_from_db()
    assert connection.status == ConnectionStatus.OK and connection.last_push_at is not None

    stay = price(google, connection, future(20), 3)
    assert (stay["available"], stay["total"], stay["currency"], stay["package"]) == (True, "300.00", "EUR", "STD")
    # A stay that runs past the window: its last night was never sent.
    late = price(google, connection, future(328), 3)
    assert not late["available"] and "Missing nightly rate" in late["reasons"]


def test_a_booking_here_closes_its_nights_on_google(google, google_connection, book,
                                                    django_capture_on_commit_callbacks):
    connection = google_connection()
    full_sync(connection)
    google("requests", method="DELETE")

    with django_capture_on_commit_callbacks(execute=True):
        book(connection.property, start=10, nights=3)

    assert paths(google) == [INVENTORY]  # availability only: no property data, rates or rules
    (inventory,) = (xml(r) for r in sent(google))
    assert [(c.get("Start"), c.get("End")) for c in inventory.iter(f"{OTA}StatusApplicationControl")] == [
        (future(10).isoformat(), future(12).isoformat())]
    assert [c.get("Count") for c in inventory.iter(f"{OTA}InvCount")] == ["0"]
    taken = price(google, connection, future(11), 2)
    assert not taken["available"] and taken["reasons"] == ["No vacancy"]
    assert price(google, connection, future(13), 2)["available"]
    assert price(google, connection, future(7), 3)["available"]  # departs the morning the booking arrives


def test_a_price_change_updates_the_price_google_shows(google, google_connection, django_capture_on_commit_callbacks):
    from properties.services import announce_pricing

    connection = google_connection()
    full_sync(connection)
    assert price(google, connection, future(30), 2)["total"] == "200.00"
    google("requests", method="DELETE")
    prop = connection.property
    prop.base_price = Decimal("180.00")
    prop.save()

    with django_capture_on_commit_callbacks(execute=True):
        announce_pricing(prop)

    # Every night again: a full push.
    assert paths(google) == [PROPERTY_DATA, TAXES, PROMOTIONS, INVENTORY, RATES, AVAILABILITY]
    assert price(google, connection, future(30), 2)["total"] == "360.00"


def test_a_cleaning_fee_reaches_google_with_its_tax_and_follows_its_changes(google, google_connection,
                                                                             django_capture_on_commit_callbacks):
    from properties.services import announce_pricing

    connection = google_connection(PropertyFactory(base_price=Decimal("100.00"), cleaning_fee=Decimal("35.00"),
                                                   tax_rate=Decimal("10")))
    prop = connection.property
    full_sync(connection)

    (message,) = (xml(r) for r in sent(google) if r["path"] == TAXES)
    (fee,) = message.findall("Property/Fees/Fee")
    assert {child.tag: child.text for child in fee} == {"Type": "amount", "Basis": "room", "Period": "stay",
                                                        "Currency": "EUR", "Amount": "38.50"}  # 35.00 x 1.10
    assert google(f"ari?property={prop.slug}")["fees"][0]["amount"] == "38.50"
    assert price(google, connection, future(30), 2)["total"] == "258.50"  # 2 x 110.00 + 38.50

    google("requests", method="DELETE")
    prop.cleaning_fee = Decimal("0")
    prop.save()
    with django_capture_on_commit_callbacks(execute=True):
        announce_pricing(prop)

    assert paths(google)[:2] == [PROPERTY_DATA, TAXES]
    assert google(f"ari?property={prop.slug}")["fees"] == []  # the overlay cleared it
    assert price(google, connection, future(30), 2)["total"] == "220.00"


def test_rates_carry_the_tax_and_the_extra_guest_fee_per_occupancy(google, google_connection):
    connection = google_connection(PropertyFactory(base_price=Decimal("100.00"), tax_rate=Decimal("10"),
                                                   guests_included=2, max_guests=4,
                                                   extra_guest_fee=Decimal("20.00")))
    full_sync(connection)

    rates = xml(sent(google)[4])
    amounts = next(rates.iter(f"{OTA}BaseByGuestAmts"))
    assert [(a.get("NumberOfGuests"), a.get("AmountBeforeTax"), a.get("AmountAfterTax"), a.get("CurrencyCode"))
            for a in amounts] == [("2", "100.00", "110.00", "EUR"), ("3", "120.00", "132.00", "EUR"),
                                  ("4", "140.00", "154.00", "EUR")]
    assert price(google, connection, future(20), 3, adults=1)["total"] == "330.00"
    assert price(google, connection, future(20), 3, adults=2, children=1)["total"] == "396.00"
    over = price(google, connection, future(20), 3, adults=5)
    assert not over["available"] and "Invalid occupancy" in over["reasons"]


def test_minimum_stay_and_closed_arrival_reach_google_as_its_reasons(google, google_connection):
    saturday = next_weekday(5, after_days=14)
    connection = google_connection(PropertyFactory(min_stay=3, checkin_weekdays=weekday_mask(5),
                                                   min_lead_days=2))
    full_sync(connection)

    slug = connection.property.slug
    stored = google(f"ari?property={slug}")["availability"][slug]["STD"]
    assert {day["forward_min"] for day in stored.values()} == {3}
    assert [day["arrival"] for _date, day in sorted(stored.items())][2:9] == [
        "Open" if (future(n)).weekday() == 5 else "Close" for n in range(2, 9)]
    (avail,) = (xml(r) for r in sent(google) if r["path"] == AVAILABILITY)
    arrivals = [m for m in avail.iter(f"{OTA}AvailStatusMessage")
                if m.find(f"{OTA}RestrictionStatus").get("Restriction") == "Arrival"]
    assert len(arrivals) <= 2 * 48 + 2  # Saturday open, the rest closed: two ranges a week, not one per night
    assert price(google, connection, saturday, 3)["available"]
    short = price(google, connection, saturday, 2)
    assert not short["available"] and short["reasons"] == ["Min stay"]
    sunday = price(google, connection, saturday + timedelta(days=1), 3)
    assert not sunday["available"] and sunday["reasons"] == ["Invalid arrival"]
    tomorrow = price(google, connection, future(1), 3)  # inside the 2-day lead time, whatever the weekday
    assert "Invalid arrival" in tomorrow["reasons"]


def test_an_inactive_property_is_closed_on_google(google, google_connection, django_capture_on_commit_callbacks):
    from properties.models import Property
    from properties.services import announce_pricing

    connection = google_connection()
    full_sync(connection)
    prop = connection.property
    prop.status = Property.Status.DRAFT
    prop.save()

    with django_capture_on_commit_callbacks(execute=True):
        announce_pricing(prop)

    closed = price(google, connection, future(20), 3)
    assert not closed["available"] and "Stop sell" in closed["reasons"]


def test_a_first_push_that_is_not_a_full_sync_defines_the_property_first(google, google_connection, book,
                                                                         django_capture_on_commit_callbacks):
    connection = google_connection()

    with django_capture_on_commit_callbacks(execute=True):
        book(connection.property, start=10, nights=2)

    # Google did not know the room yet ("Undefined room", nothing stored): the property data, then the same
    # message again.
    assert paths(google) == [INVENTORY, PROPERTY_DATA, TAXES, PROMOTIONS, INVENTORY]
    first, again = (xml(r) for r in (sent(google)[0], sent(google)[4]))
    assert ET.tostring(first.find(f"{OTA}Inventories")) == ET.tostring(again.find(f"{OTA}Inventories"))
    stored = google(f"ari?property={connection.property.slug}")["inventory"][connection.property.slug]
    assert stored == {future(10).isoformat(): 0, future(11).isoformat(): 0}
    connection.refresh_from_db()
    assert connection.status == ConnectionStatus.OK and connection.push_failures == 0


def test_a_503_is_retried_and_nothing_is_lost(google, google_connection):
    connection = google_connection()
    google("faults", {"path": "/travel/", "times": 1, "status": 503})
    api_sync.request_full_sync(connection)

    outcome = api_sync.push_connection(connection.pk)

    connection.refresh_from_db()
    assert outcome.status == "failed" and outcome.retry_in > 0
    assert connection.push_failures == 1 and connection.breaker_state == BreakerState.CLOSED
    assert connection.push_retry_at > timezone.now() and "platform_error" in connection.last_error
    assert AriChange.objects.filter(connection=connection).exists()  # kept for the retry
    assert api_sync.push_connection(connection.pk).status == "waiting"  # not before its time

    ChannelConnection.objects.filter(pk=connection.pk).update(push_retry_at=None)  # the backoff has passed
    assert api_sync.push_connection(connection.pk).status == "pushed"
    assert [r["status"] for r in sent(google)] == [503, 200, 200, 200, 200, 200, 200]
    connection.refresh_from_db()
    assert (connection.push_failures, connection.status) == (0, ConnectionStatus.OK)
    assert price(google, connection, future(20), 3)["available"]


def test_a_partner_google_does_not_know_opens_the_breaker_at_once(google, google_connection,
                                                                  django_capture_on_commit_callbacks):
    connection = google_connection(partner="not_our_partner")
    api_sync.request_full_sync(connection)

    with django_capture_on_commit_callbacks(execute=True):
        outcome = api_sync.push_connection(connection.pk)

    assert outcome.status == "breaker_open"
    assert [r["status"] for r in sent(google)] == [403]  # nothing after the refusal
    connection.refresh_from_db()
    assert connection.breaker_state == BreakerState.OPEN and connection.status == ConnectionStatus.FAILING
    assert "forbidden" in connection.last_error and "Unknown partner" in connection.last_error
    assert SentEmail.objects.filter(kind="owner_channel_paused").count() == 1
    assert AriChange.objects.filter(connection=connection).exists()


def test_a_property_the_partner_does_not_hold_is_refused_without_retrying(google, google_connection):
    connection = google_connection()
    google("partners", {"partner": google.partner, "properties": []})  # Hotel Center no longer lists it

    assert full_sync(connection).status == "breaker_open"
    connection.refresh_from_db()
    assert "not managed by partner" in connection.last_error


def test_google_takes_no_reservations_and_no_limit_is_drawn(google, google_connection):
    connection = google_connection()
    assert api_sync.pull_connection(connection.pk).status == "skipped"
    google("limits", {"requests_per_minute": 6})  # Google documents none; our own scope is far below any figure
    assert full_sync(connection).status == "pushed"
    assert [r["status"] for r in sent(google)] == [200] * 6


# --- the landing page: the price Google shows is the price the guest sees -----------------------------------


def landing(client, google, connection, checkin, nights, adults=2, children=0):
    """Click Google's booking link: the emulator expands the owner's PointsOfSale file; follow it to our page."""
    expanded = google("landing_url?" + urlencode({
        "property": connection.property.slug, "checkin": checkin.isoformat(), "nights": nights, "adults": adults,
        "children": children, "currency": connection.property.currency}))
    url = urlsplit(expanded["url"])
    response = client.get(f"{url.path}?{url.query}")
    return expanded, response


@pytest.fixture
def points_of_sale(google):
    """The owner's landing-page file, as given to Google (the one this site documents)."""
    import urllib.request

    request = urllib.request.Request(google.emulator.base_url + "/_emulator/points_of_sale",
                                     data=points_of_sale_xml("https://stay.example.com").encode(), method="POST",
                                     headers={"Content-Type": "application/xml"})
    with urllib.request.urlopen(request, timeout=10) as answer:  # noqa: S310 - the local emulator
        assert answer.status == 200


def test_the_landing_page_shows_the_total_google_showed(client, google, google_connection, points_of_sale):
    connection = google_connection(PropertyFactory(base_price=Decimal("95.50"), tax_rate=Decimal("10"),
                                                   guests_included=2, max_guests=4,
                                                   extra_guest_fee=Decimal("15.00")))
    prop = connection.property
    full_sync(connection)
    checkin = future(40)

    expanded, response = landing(client, google, connection, checkin, 4, adults=2, children=1)

    shown = expanded["price"]
    assert shown["available"] and shown["total"] == "486.20"  # 4 nights × (95.50 + 1 extra guest × 15.00) × 1.10
    assert expanded["url"].startswith(f"https://stay.example.com/go/google/{prop.slug}?checkin=")
    assert f"price={shown['total']}" in expanded["url"] and expanded["unknown_variables"] == []
    assert response.status_code == 302
    page = client.get(response["Location"])
    assert page.status_code == 200
    quote = page.context["quote"]
    assert quote.bookable and (quote.quote.check_in, quote.quote.night_count, quote.quote.guests) == (checkin, 4, 3)
    assert quote.quote.total == Decimal(shown["total"]) and quote.quote.currency == shown["currency"]
    assert f"Total</th><td>€{shown['total']}" in page.content.decode().replace("\n", "")
    assert client.session["stayhold_referral"]["referral"] == Referral.GOOGLE_VR


def test_with_a_cleaning_fee_and_a_tax_rate_the_landing_page_shows_the_total_google_showed(
        client, google, google_connection, points_of_sale):
    """The cleaning fee reaches Google in a TaxFeeInfo, tax included: Google's total is our quote's total
    (channels.adapters.google_vr, "Prices, taxes and fees")."""
    connection = google_connection(PropertyFactory(base_price=Decimal("100.00"), cleaning_fee=Decimal("40.00"),
                                                   tax_rate=Decimal("7"), guests_included=2, max_guests=4,
                                                   extra_guest_fee=Decimal("15.00")))
    full_sync(connection)

    for nights, adults, total in ((3, 2, "363.80"), (5, 3, "658.05")):
        expanded, response = landing(client, google, connection, future(25), nights, adults=adults)
        shown = expanded["price"]
        assert shown["available"] and shown["total"] == total  # (3 x 100 + 40) x 1.07; (5 x 115 + 40) x 1.07
        assert [fee["charged"] for fee in shown["fees"]] == ["42.80"]
        assert f"price={total}" in expanded["url"]
        page = client.get(response["Location"])
        quote = page.context["quote"].quote
        assert (quote.night_count, quote.guests) == (nights, adults)
        assert quote.total == Decimal(total) and quote.currency == shown["currency"]
        assert f"Total</th><td>€{total}" in page.content.decode().replace("\n", "")


def test_with_a_length_of_stay_discount_the_landing_page_shows_the_total_google_showed(
        client, google, google_connection, points_of_sale, django_capture_on_commit_callbacks):
    """The length-of-stay discount reaches Google as a Promotion (LengthOfStay min, Discount percentage) that Google
    applies to the nightly rates, not to the cleaning fee: Google's total is our quote's total
    (channels.adapters.google_vr, "Stay-level discounts")."""
    prop = PropertyFactory(base_price=Decimal("100.00"), cleaning_fee=Decimal("40.00"), tax_rate=Decimal("7"))
    rule = PricingRuleFactory(property=prop, kind=PricingRule.Kind.LENGTH_OF_STAY, min_nights=3, value=Decimal("-10"))
    connection = google_connection(prop)
    full_sync(connection)

    (message,) = (xml(r) for r in sent(google) if r["path"] == PROMOTIONS)
    (promotion,) = message.findall("HotelPromotions/Promotion")
    assert (promotion.get("id"), promotion.find("LengthOfStay").attrib, promotion.find("Discount").attrib,
            promotion.find("BookingWindow")) == (f"rule-{rule.pk}", {"min": "3"}, {"percentage": "10.00"}, None)

    for nights, total in ((3, "331.70"), (4, "428.00"), (2, "256.80")):  # (300 - 30 + 40) x 1.07; 4 x 96.30 + 42.80
        expanded, response = landing(client, google, connection, future(25), nights)
        shown = expanded["price"]
        assert shown["available"] and shown["total"] == total, (nights, shown)
        assert (shown["promotion"] is None) == (nights < 3)
        assert [fee["charged"] for fee in shown["fees"]] == ["42.80"]  # the fee is not discounted
        quote = client.get(response["Location"]).context["quote"].quote
        assert quote.total == Decimal(total)
    assert quote.discounts == Decimal("0.00")  # the 2-night stay: no discount here, none on Google

    # The owner switches the rule off: the next push clears the promotion, and Google's price goes back up.
    from properties.services import announce_pricing

    google("requests", method="DELETE")
    rule.active = False
    rule.save()
    with django_capture_on_commit_callbacks(execute=True):
        announce_pricing(prop)
    (message,) = (xml(r) for r in sent(google) if r["path"] == PROMOTIONS)
    assert message.findall("HotelPromotions/Promotion") == []
    assert landing(client, google, connection, future(25), 3)[0]["price"]["total"] == "363.80"  # 3 x 107.00 + 42.80


def test_a_last_minute_discount_matches_and_two_kinds_at_once_stay_the_documented_gap(
        client, google, google_connection, points_of_sale):
    """Last minute → BookingWindow max. Our quote compounds a length-of-stay and a last-minute discount; Google
    applies only the greatest one (default stacking): the documented gap, Google higher, never lower."""
    prop = PropertyFactory(base_price=Decimal("100.00"), cleaning_fee=Decimal("40.00"), tax_rate=Decimal("7"))
    PricingRuleFactory(property=prop, kind=PricingRule.Kind.LAST_MINUTE, days=7, value=Decimal("-20"))
    PricingRuleFactory(property=prop, kind=PricingRule.Kind.LENGTH_OF_STAY, min_nights=5, value=Decimal("-10"))
    connection = google_connection(prop)
    full_sync(connection)

    (message,) = (xml(r) for r in sent(google) if r["path"] == PROMOTIONS)
    windows = [p.find("BookingWindow").attrib for p in message.iter("Promotion") if p.find("BookingWindow") is not None]
    assert windows == [{"max": "7"}]

    for checkin, nights, total in ((future(7), 2, "214.00"), (future(8), 2, "256.80")):  # (160 + 40) x 1.07
        expanded, response = landing(client, google, connection, checkin, nights)
        assert expanded["price"]["total"] == total, {k: v for k, v in expanded["price"].items() if k != "details"}
        assert client.get(response["Location"]).context["quote"].quote.total == Decimal(total)

    # 5 nights, 3 days ahead: ours 500 x 0.9 x 0.8 = 360; Google only the 20% (the greatest): 400.
    expanded, response = landing(client, google, connection, future(3), 5)
    quote = client.get(response["Location"]).context["quote"].quote
    assert quote.total == Decimal("428.00")  # (360 + 40) x 1.07
    assert expanded["price"]["total"] == "470.80"  # 5 x 107.00 x 0.8 + 42.80
    assert expanded["price"]["promotion"]["percentage"] == "20.00"


def test_a_kind_google_would_pick_differently_or_a_fixed_discount_is_not_sent(google, google_connection):
    """Our quote takes the highest-priority matching rule of a kind, Google the greatest discount: where they could
    differ, the kind is not sent (Google then shows more, never less); a fixed amount or a surcharge neither."""
    prop = PropertyFactory()
    PricingRuleFactory(property=prop, kind=PricingRule.Kind.LENGTH_OF_STAY, min_nights=3, value=Decimal("-5"),
                       priority=10)
    PricingRuleFactory(property=prop, kind=PricingRule.Kind.LENGTH_OF_STAY, min_nights=7, value=Decimal("-15"))
    early = PricingRuleFactory(property=prop, kind=PricingRule.Kind.EARLY_BIRD, days=60, value=Decimal("-8"))
    PricingRuleFactory(property=prop, kind=PricingRule.Kind.EARLY_BIRD, days=90, value=Decimal("-12"), priority=1)
    PricingRuleFactory(property=prop, kind=PricingRule.Kind.LAST_MINUTE, days=3, value=Decimal("-10"),
                       adjustment=PricingRule.Adjustment.FIXED)
    connection = google_connection(prop)

    sent_rules, gaps = GoogleVrAdapter.promoted_rules(connection)

    assert [r.kind for r in sent_rules] == ["early_bird", "early_bird"]  # 90 days: 12% is both the priority and max
    assert gaps == ["length_of_stay", "last_minute"]  # 7 nights: ours 5% (priority), Google would take 15%
    full_sync(connection)
    (message,) = (xml(r) for r in sent(google) if r["path"] == PROMOTIONS)
    assert sorted((p.get("id"), p.find("BookingWindow").get("min")) for p in message.iter("Promotion")) == sorted(
        [(f"rule-{early.pk}", "60"), (f"rule-{early.pk + 1}", "90")])


def test_a_booking_from_google_is_recorded_with_its_referral(client, google, google_connection, points_of_sale):
    connection = google_connection()
    full_sync(connection)
    checkin = future(20)
    expanded, response = landing(client, google, connection, checkin, 3)
    page = client.get(response["Location"])
    form_page = client.get(f"/book/{connection.property.slug}/?{urlsplit(response['Location']).query}")
    token = re.search(r'name="form_token" value="([0-9a-f-]{36})"', form_page.content.decode()).group(1)

    booked = client.post(f"/book/{connection.property.slug}/", {
        "check_in": checkin.isoformat(), "check_out": (checkin + timedelta(days=3)).isoformat(), "adults": "2",
        "children": "0", "name": "Ada Lovelace", "email": "ada@example.com", "phone": "+44 20 7946 0000",
        "country": "GB", "accept": "on", "form_token": token})

    assert page.status_code == 200 and booked.status_code == 302
    booking = Booking.objects.get()
    assert (booking.referral, booking.source) == (Referral.GOOGLE_VR, "direct")
    assert booking.total == Decimal(expanded["price"]["total"])


def test_the_documented_template_uses_only_variables_google_fills(google, google_connection):
    connection = google_connection()
    full_sync(connection)
    expanded = google("landing_url?" + urlencode({
        "property": connection.property.slug, "checkin": future(20).isoformat(), "nights": 3, "adults": 2,
        "template": google_url_template("https://stay.example.com")}))
    assert expanded["unknown_variables"] == []
    assert expanded["url"] == (
        f"https://stay.example.com/go/google/{connection.property.slug}?checkin={future(20).isoformat()}&nights=3"
        f"&adults=2&children=0&currency=EUR&price=300.00")
