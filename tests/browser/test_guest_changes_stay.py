"""A guest changes their stay in the portal in a real browser: open the magic link of a paid booking, choose a
longer stay, see the new total and what is still to pay before confirming, confirm, land on the booking page with
the balance and the pay link; and the owner's "Change dates/guests" page in the admin.

Screenshots of every step: ``test-artifacts/portal-change/`` and ``test-artifacts/admin-change/``.
"""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.conf import settings
from django.test import Client
from django.urls import reverse
from playwright.sync_api import expect

from bookings.links import status_url
from bookings.models import Booking, BookingStatus
from core.actor import Actor
from core.money import format_money as admin_money
from payments import services as payment_services
from properties.display import money as format_money  # locale money, as the guest pages show it (English: €600.00)
from tests.browser.conftest import Steps
from tests.factories import OwnerFactory, PropertyFactory, future
from tests.payments.conftest import VISA, card  # noqa: F401  (fixture)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def paid_booking(book, card, prop):  # noqa: F811
    booking = book(prop, start=30, nights=3)
    result = payment_services.start_card_payment(booking_id=booking.pk, payment_method_id=card(booking, VISA),
                                                 actor=Actor.guest("ada@example.com"))
    assert result.status == "succeeded"
    booking.refresh_from_db()
    return booking


def test_a_guest_extends_their_stay_and_sees_the_new_total_first(live_server, stripe_live, new_page, book,
                                                                  card):  # noqa: F811
    prop = PropertyFactory(name="Alfama Loft", city="Lisbon", country="PT", cancellation_policy="moderate",
                           base_price=Decimal("120.00"))
    booking = paid_booking(book, card, prop)
    extra = format_money(Decimal("240.00"), "EUR")
    new_total = format_money(Decimal("600.00"), "EUR")

    page = new_page()
    steps = Steps(page, "portal-change")
    page.goto(f"{live_server.url}{status_url(booking)}")
    page.get_by_role("link", name="Change your stay").click()
    expect(page.get_by_role("heading", name="Change your stay")).to_be_visible()
    page.get_by_label("Check-out").fill(future(35).isoformat())
    page.get_by_role("button", name="Show the new price").click()
    expect(page.locator(".new-total")).to_have_text(new_total)
    expect(page.locator(".to-collect")).to_contain_text(extra)
    steps.shot("new-total-shown")
    assert Booking.objects.get(pk=booking.pk).check_out == future(33)  # looking changes nothing

    page.get_by_role("button", name=f"Confirm the change (new total {new_total})").click()
    expect(page.get_by_role("status")).to_contain_text(f"Still to pay: {extra}")
    steps.shot("changed")
    booking.refresh_from_db()
    assert booking.check_out == future(35) and booking.total == Decimal("600.00")
    assert booking.balance_due == Decimal("240.00") and booking.status == BookingStatus.CONFIRMED

    page.get_by_role("link", name=f"Pay the balance ({extra})").click()
    expect(page.locator("[data-amount]")).to_have_text(extra)
    steps.shot("pay-the-difference")


def test_an_owner_previews_and_confirms_a_change_in_the_admin(live_server, stripe_live, new_page, book,
                                                              card):  # noqa: F811
    owner = OwnerFactory(email="owner-browser@example.com")
    prop = PropertyFactory(owner=owner, name="Alfama Loft", base_price=Decimal("120.00"), min_stay=3)
    booking = paid_booking(book, card, prop)
    page = new_page()
    client = Client()
    client.force_login(owner)
    page.context.add_cookies([{"name": settings.SESSION_COOKIE_NAME,
                               "value": client.cookies[settings.SESSION_COOKIE_NAME].value,
                               "url": live_server.url}])
    steps = Steps(page, "admin-change")
    page.goto(f"{live_server.url}{reverse('admin:bookings_booking_change', args=[booking.pk])}")
    page.get_by_role("link", name="Change dates/guests…").click()
    page.get_by_label("Check-out").fill(future(32).isoformat())
    page.get_by_label("Override the stay rules").check()
    page.get_by_label("Reason for the override").fill("Guest leaves a day early, agreed by phone")
    page.get_by_role("button", name="Show the new price").click()
    # The back office stays English with its own money format ("240.00 EUR"); guest pages are per locale.
    expect(page.locator(".new-total")).to_have_text(admin_money(Decimal("240.00"), "EUR"))
    expect(page.locator(".refund")).to_contain_text(admin_money(Decimal("120.00"), "EUR"))
    steps.shot("preview")
    page.get_by_role("button", name="Confirm the change").click()
    expect(page.locator(".messagelist")).to_contain_text("Refund of")
    steps.shot("changed")
    booking.refresh_from_db()
    assert booking.check_out == future(32) and booking.amount_refunded == Decimal("120.00")
