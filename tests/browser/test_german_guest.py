"""A German guest (the browser asks for German: Accept-Language de-DE) books a stay and sees every page in German:
search, property page with its price widget (the script's strings too), details, payment, confirmation; the
booking records German, so the emails will be German. Screenshots: ``test-artifacts/german-guest/``."""

from __future__ import annotations

import re
from decimal import Decimal
from urllib.parse import urlparse

import pytest
from playwright.sync_api import expect

from bookings.models import Booking, BookingStatus
from tests.browser.conftest import Steps
from tests.browser.test_checkout_flow import card_form_ready, fill_card
from tests.factories import PropertyFactory, future
from tests.payments.conftest import VISA

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_german_guest_books_in_german(live_server, stripe_live, new_page):
    PropertyFactory(name="Alfama Loft", city="Lisbon", country="PT", timezone="Europe/Lisbon",
                    base_price=Decimal("1200.00"), cleaning_fee=Decimal("30.00"), cancellation_policy="moderate",
                    house_rules="Keine Partys.")
    check_in, check_out = future(30), future(33)
    page = new_page(locale="de-DE", extra_http_headers={"Accept-Language": "de-DE,de;q=0.9"})
    steps = Steps(page, "german-guest")

    page.goto(f"{live_server.url}/")
    expect(page.locator("html")).to_have_attribute("lang", "de")
    expect(page.get_by_role("heading", level=1)).to_have_text("Ferienhäuser, direkt gebucht")
    page.get_by_label("Wohin").fill("Lisbon")
    page.get_by_label("Anreise").first.fill(check_in.isoformat())
    page.get_by_label("Abreise").first.fill(check_out.isoformat())
    page.get_by_label("Gäste").fill("2")
    page.get_by_role("button", name="Suchen", exact=True).click()
    expect(page.locator("#results-heading")).to_contain_text("1 Unterkunft")
    expect(page.locator(".card")).to_contain_text("3.630,00\u00a0€ insgesamt für 3 Nächte")  # 3 × 1,200 + 30
    steps.shot("suche")
    page.locator("a.card-link", has_text="Alfama Loft").click()  # not its "Add to group booking" link

    expect(page.get_by_role("heading", name="Hausordnung")).to_be_visible()
    quote = page.locator("#quote-result")
    expect(quote).to_contain_text("3 Nächte")
    page.get_by_label("Erwachsene").fill("3")  # the widget re-prices through the API and quote.js
    page.keyboard.press("Tab")
    expect(quote.locator("a.button-primary")).to_have_attribute("href", re.compile(r"adults=3"))
    expect(quote.locator("tfoot")).to_contain_text("Gesamt")
    expect(quote.locator("tfoot")).to_contain_text("3.630,00\u00a0€")
    expect(quote.locator("caption")).to_have_text("Preis für 3 Nächte")  # quote.js's strings, from /jsi18n/
    steps.shot("unterkunft")
    quote.locator("a.button-primary").click()

    expect(page.get_by_role("heading", level=1)).to_have_text("Ihre Angaben")
    page.get_by_role("button", name="Weiter zur Zahlung").click()  # empty: the errors speak German
    expect(page.locator("#form-errors")).to_contain_text("Geben Sie Ihren vollständigen Namen ein.")
    page.get_by_label("Vollständiger Name").fill("Grete Weiß")
    page.get_by_label("E-Mail").fill("grete@example.de")
    page.get_by_label("Telefon").fill("+49 30 901820")
    page.locator("#id_country").select_option("DE")
    page.get_by_label("Ich akzeptiere die Hausordnung").check()
    steps.shot("angaben")
    page.get_by_role("button", name="Weiter zur Zahlung").click()

    expect(page.get_by_role("heading", level=1)).to_have_text("Bezahlen Sie Ihren Aufenthalt")
    expect(page.locator(".hold-timer")).to_contain_text("Uhr, Ortszeit Lisbon")  # the countdown's deadline
    reference = urlparse(page.url).path.split("/")[2]
    booking = Booking.objects.get(reference=reference)
    assert booking.language == "de"
    card_form_ready(page)
    steps.shot("zahlung")
    fill_card(page, VISA)
    page.locator("#pay-button").click()

    expect(page.get_by_role("heading", level=1)).to_have_text("Ihre Buchung ist bestätigt")
    expect(page.locator(".booking-status")).to_have_text("Bestätigt · Bezahlt")
    expect(page.locator(".booking-facts")).to_contain_text("Bezahlter Betrag")
    steps.shot("bestaetigung")
    booking.refresh_from_db()
    assert booking.status == BookingStatus.CONFIRMED
