"""The guest portal in a real browser: open the magic link of a paid booking, read the receipt, see the refund
before confirming, cancel, and land back on the booking page with the refund stated.

Screenshots of every step: ``test-artifacts/portal-cancel/``.
"""

from __future__ import annotations

from decimal import Decimal

import pytest
from playwright.sync_api import expect

from bookings.links import status_url
from bookings.models import Booking, BookingStatus
from bookings.models import PaymentStatus as BookingPaymentStatus
from core.actor import Actor
from payments import services as payment_services
from properties.display import money as format_money  # guest pages write money for the locale
from tests.browser.conftest import Steps
from tests.factories import PropertyFactory
from tests.payments.conftest import VISA, card  # noqa: F401  (fixture)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_guest_cancels_from_the_portal_and_sees_the_refund(live_server, stripe_live, new_page, book,
                                                                card):  # noqa: F811
    prop = PropertyFactory(name="Alfama Loft", city="Lisbon", country="PT", cancellation_policy="moderate",
                           base_price=Decimal("120.00"))
    booking = book(prop, start=30, nights=3)
    result = payment_services.start_card_payment(booking_id=booking.pk, payment_method_id=card(booking, VISA),
                                                 actor=Actor.guest("ada@example.com"))
    assert result.status == "succeeded"
    booking.refresh_from_db()
    total = format_money(booking.total, booking.currency)

    page = new_page()
    steps = Steps(page, "portal-cancel")
    page.goto(f"{live_server.url}{status_url(booking)}")
    expect(page.get_by_role("heading", name="Your booking is confirmed")).to_be_visible()
    steps.shot("portal")

    page.get_by_role("link", name="Receipt").click()
    expect(page.get_by_role("heading", name="Receipt")).to_be_visible()
    expect(page.locator(".receipt-payments")).to_contain_text(total)
    steps.shot("receipt")
    page.go_back()

    page.get_by_role("link", name="Cancel this booking").click()
    expect(page.locator(".refund-amount")).to_have_text(total)  # 30 days ahead, moderate: everything back
    steps.shot("refund-shown")
    assert Booking.objects.get(pk=booking.pk).status == BookingStatus.CONFIRMED  # looking changes nothing

    page.get_by_label("Reason (optional)").fill("Our plans changed.")
    page.get_by_role("button", name=f"Cancel the booking and refund {total}").click()
    expect(page.get_by_role("heading", name="This booking was cancelled")).to_be_visible()
    expect(page.get_by_role("status")).to_contain_text(f"Refund: {total}")
    steps.shot("cancelled")

    booking.refresh_from_db()
    assert booking.status == BookingStatus.CANCELLED and booking.payment_status == BookingPaymentStatus.REFUNDED
    assert booking.amount_refunded == booking.total and booking.cancellation_reason == "Our plans changed."
    assert page.get_by_role("link", name="Cancel this booking").count() == 0
