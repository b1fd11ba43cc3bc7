"""A guest books two properties in one checkout, in Chromium: property page → add to group → second property →
group details → one card payment → the group page with both bookings confirmed. Screenshots go to
test-artifacts/group-checkout/; with ``STAYHOLD_DOC_SCREENSHOTS=1`` to docs/screenshots/group-*.png (the
documentation's pictures, refreshed on purpose only)."""

from __future__ import annotations

import os
import re
from decimal import Decimal
from pathlib import Path
from urllib.parse import urlencode

import pytest
from django.conf import settings
from django.test import Client
from playwright.sync_api import expect

from bookings.models import Booking, BookingGroup, BookingStatus
from payments.models import Payment
from tests.browser.conftest import wait_for
from tests.factories import OwnerFactory, PropertyFactory, future
from tests.payments.conftest import VISA

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
ROOT = Path(__file__).resolve().parents[3]
SHOTS = (ROOT / "docs" / "screenshots" if os.environ.get("STAYHOLD_DOC_SCREENSHOTS") == "1"
         else ROOT / "test-artifacts" / "group-checkout")


def shot(page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"group-{name}.png"), full_page=True)


def fill_card(page, number: str) -> None:
    element = page.locator("#card-element")
    element.locator('input[placeholder="number"]').fill(number)
    element.locator('input[placeholder="exp_month"]').fill("12")
    element.locator('input[placeholder="exp_year"]').fill("30")
    element.locator('input[placeholder="cvc"]').fill("123")
    element.locator('input[placeholder="postal_code"]').fill("1100")


def add_from_property_page(page, live_server, prop, check_in, check_out, adults):
    query = urlencode({"check_in": check_in.isoformat(), "check_out": check_out.isoformat(), "adults": adults})
    page.goto(f"{live_server.url}/properties/{prop.slug}/?{query}#book")
    expect(page.locator("#quote-result")).to_contain_text("Total")
    page.locator("#quote-result").get_by_role("link", name="Add to group booking").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Add this stay to your group booking")
    return page


def test_a_guest_books_two_properties_in_one_checkout(live_server, stripe_live, new_page):
    owner = OwnerFactory(email="owner@example.com")
    loft = PropertyFactory(owner=owner, name="Alfama Loft", base_price=Decimal("120.00"), cleaning_fee=Decimal("30.00"))
    house = PropertyFactory(owner=owner, name="Harbour House", base_price=Decimal("90.00"), max_guests=6)
    page = new_page()

    add_from_property_page(page, live_server, loft, future(30), future(33), 2)
    shot(page, "add")
    page.get_by_role("button", name="Add to group booking").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Your group booking")

    add_from_property_page(page, live_server, house, future(31), future(35), 4)
    page.get_by_role("button", name="Add to group booking").click()
    rows = page.locator("tr.group-line")
    expect(rows).to_have_count(2)
    expect(rows.nth(0)).to_contain_text("Alfama Loft")
    expect(rows.nth(1)).to_contain_text("Harbour House")
    total = Decimal("390.00") + Decimal("360.00")  # 3 × 120 + 30 cleaning; 4 × 90
    expect(page.locator("[data-group-total]")).to_contain_text("750.00")

    page.get_by_label("Full name").fill("Ada Lovelace")
    page.get_by_label("Email").fill("ada@example.com")
    page.get_by_label("Phone").fill("+44 20 7946 0000")
    page.get_by_label("Country").select_option("GB")
    page.get_by_label("I accept the house rules").check()
    shot(page, "details")
    page.get_by_role("button", name=re.compile("Reserve all and pay")).click()

    expect(page).to_have_url(re.compile(r"/payments/groups/GRP-\d{4}-\w+/pay/\?token="))
    group = BookingGroup.objects.get()
    assert set(group.bookings.values_list("status", flat=True)) == {BookingStatus.RESERVED}
    expect(page.locator(".amount-due")).to_contain_text("750.00")
    expect(page.locator('#card-element input[placeholder="number"]')).to_be_visible()
    expect(page.locator("#pay-button")).to_be_enabled()
    fill_card(page, VISA)
    shot(page, "payment")
    page.locator("#pay-button").click()

    expect(page).to_have_url(re.compile(rf"/groups/{group.reference}/\?token="))
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Group booking {group.reference}")
    expect(page.locator("td.booking-status")).to_have_count(2)
    for cell in page.locator("td.booking-status").all():
        expect(cell).to_contain_text("Confirmed")
    shot(page, "portal")

    bookings = list(Booking.objects.filter(group=group).order_by("pk"))
    assert [b.property_id for b in bookings] == [loft.pk, house.pk]
    assert all(b.status == BookingStatus.CONFIRMED and b.amount_paid == b.total for b in bookings)
    assert sum(b.total for b in bookings) == total
    rows = Payment.objects.filter(booking__group=group)
    assert rows.count() == 2 and len(set(rows.values_list("group_intent", flat=True))) == 1
    # localstripe's webhook reaches the live server and changes nothing.
    from payments.models import WebhookEvent

    assert wait_for(lambda: WebhookEvent.objects.filter(type="payment_intent.succeeded").exists())
    assert Payment.objects.filter(booking__group=group).count() == 2

    page.get_by_role("link", name="Cancel the whole group booking").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Cancel the whole group booking")
    shot(page, "cancel-all")

    # The owner's back office: the booking's page shows its group and the other booking.
    admin_page = new_page()
    client = Client()
    client.force_login(owner)
    admin_page.context.add_cookies([{"name": settings.SESSION_COOKIE_NAME,
                                     "value": client.cookies[settings.SESSION_COOKIE_NAME].value,
                                     "url": live_server.url}])
    admin_page.goto(f"{live_server.url}/admin/bookings/booking/{bookings[0].pk}/change/")
    expect(admin_page.locator("#booking-group")).to_contain_text(bookings[1].reference)
    shot(admin_page, "admin")
