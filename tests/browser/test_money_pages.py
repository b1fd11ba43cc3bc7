"""The deposit and balance journeys in a real browser (Playwright + Debian's Chromium, localstripe's fake Stripe.js):
the guest pays a deposit (card saved), the off-session balance is declined, the guest pays it from the emailed link;
the owner's booking page, the record-a-payment page, the schedule on the property page and the dashboard.
Screenshots: docs/screenshots/money-*.png."""

from __future__ import annotations

import os
import re
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from django.conf import settings
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from playwright.sync_api import expect

from bookings.links import payment_url
from bookings.models import Booking, BookingStatus, SentEmail
from bookings.models import PaymentStatus as BP
from bookings.notifications import Kind
from core.money import round_money
from payments import balances
from payments.models import PaymentPlan, PaymentSchedule, SavedCard, ScheduleMode
from properties.display import money  # the pages show money for the locale (English: €153.00)
from tests.browser.conftest import wait_for
from tests.factories import OwnerFactory, PropertyFactory
from tests.money.conftest import DECLINES_CHARGES, confirm_setup
from tests.payments.conftest import VISA

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
# The documentation's copies only when asked (STAYHOLD_DOC_SCREENSHOTS=1): a test run leaves the tree as it was.
ROOT = Path(__file__).resolve().parents[2]
SHOTS = ROOT / "test-artifacts" / "money"
if os.environ.get("STAYHOLD_DOC_SCREENSHOTS") == "1":
    SHOTS = ROOT / "docs" / "screenshots"


def shot(page, name):
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"money-{name}.png"), full_page=True)


def fill_card(page, number):
    element = page.locator("#card-element")
    element.locator('input[placeholder="number"]').fill(number)
    element.locator('input[placeholder="exp_month"]').fill("12")
    element.locator('input[placeholder="exp_year"]').fill("30")
    element.locator('input[placeholder="cvc"]').fill("123")
    element.locator('input[placeholder="postal_code"]').fill("1100")


def signed_in(page, live_server, user):
    client = Client()
    client.force_login(user)
    page.context.add_cookies([{"name": settings.SESSION_COOKIE_NAME,
                               "value": client.cookies[settings.SESSION_COOKIE_NAME].value,
                               "url": live_server.url}])


def test_deposit_then_a_declined_balance_paid_from_the_link(live_server, stripe_live, new_page, book,
                                                            localstripe):
    owner = OwnerFactory(email="owner@example.com")
    prop = PropertyFactory(owner=owner, name="Alfama Loft", city="Lisbon", base_price=Decimal("120.00"),
                           cleaning_fee=Decimal("30.00"), cancellation_policy="moderate")
    PaymentSchedule.objects.create(property=prop, mode=ScheduleMode.DEPOSIT, deposit_percent=Decimal(30),
                                   balance_days_before=30, deadline_days_before=14, auto_cancel=True,
                                   security_deposit=Decimal(200))
    booking = book(prop, start=60, nights=4)
    deposit = round_money(booking.total * Decimal("0.3"), "EUR")
    page = new_page()

    # 1. The payment page asks for the deposit and says when the balance is charged.
    page.goto(f"{live_server.url}{payment_url(booking)}")
    expect(page.locator(".amount-due")).to_contain_text(money(deposit, "EUR"))
    expect(page.locator("[data-schedule]")).to_contain_text("The balance of")
    expect(page.locator("[data-saves-card]")).to_be_visible()
    expect(page.locator("#pay-button")).to_be_enabled()
    shot(page, "pay-deposit")
    fill_card(page, VISA)
    page.locator("#pay-button").click()
    expect(page).to_have_url(re.compile(rf"/bookings/{booking.reference}/\?token="))
    booking.refresh_from_db()
    assert booking.status == BookingStatus.CONFIRMED and booking.amount_paid == deposit
    card = SavedCard.objects.get(booking=booking)
    assert card.last4 == "4242" and card.payment_method_id

    # 2. The card now declines; the balance falls due; the charge fails and the guest is emailed the link.
    from payments.providers.stripe import StripeProvider

    _id, secret = StripeProvider().create_setup(booking, customer_id=card.customer_id)
    SavedCard.objects.filter(pk=card.pk).update(payment_method_id=confirm_setup(localstripe, secret,
                                                                               DECLINES_CHARGES))
    today = timezone.localdate()
    PaymentPlan.objects.filter(booking=booking).update(balance_due_on=today, deadline_on=today + timedelta(days=5))
    balances.process_balances()
    email = SentEmail.objects.get(booking=booking, kind=Kind.BALANCE_PAYMENT_FAILED)
    booking.refresh_from_db()
    assert booking.payment_status == BP.PARTIALLY_PAID

    # 3. The link: the balance of the confirmed booking, paid with a good card.
    page.goto(f"{live_server.url}{payment_url(booking)}")
    expect(page.get_by_role("heading", level=1)).to_have_text("Pay the balance of your stay")
    expect(page.locator(".amount-due")).to_contain_text(money(booking.balance_due, "EUR"))
    expect(page.locator("#pay-button")).to_be_enabled()
    shot(page, "pay-balance")
    fill_card(page, VISA)
    page.locator("#pay-button").click()
    expect(page).to_have_url(re.compile(rf"/bookings/{booking.reference}/\?token="))
    assert wait_for(lambda: Booking.objects.get(pk=booking.pk).payment_status == BP.PAID)
    assert email.data["pay_url"].split("?")[0].endswith(payment_url(booking).split("?")[0])

    # 4. The owner's pages.
    signed_in(page, live_server, owner)
    page.goto(f"{live_server.url}{reverse('admin:bookings_booking_change', args=[booking.pk])}")
    expect(page.locator("#booking-schedule")).to_contain_text("Visa •••• 4242")
    shot(page, "admin-booking")


def test_the_owner_records_a_transfer_and_sees_the_dashboard(live_server, stripe_live, new_page,
                                                             book):
    owner = OwnerFactory(email="owner@example.com")
    prop = PropertyFactory(owner=owner, name="Harbour House", base_price=Decimal("150.00"))
    PaymentSchedule.objects.create(property=prop, mode=ScheduleMode.DEPOSIT, deposit_fixed=Decimal(100),
                                   balance_days_before=30, deadline_days_before=14)
    booking = book(prop, start=45, nights=3)
    from payments import services
    from tests.money.conftest import GUEST

    services.record_offline_payment(booking_id=booking.pk, amount=Decimal(100), method="bank transfer",
                                    reference="deposit TRX-1", received_on=timezone.localdate(), actor=GUEST)
    PaymentPlan.objects.filter(booking=booking).update(balance_due_on=timezone.localdate() + timedelta(days=2))
    page = new_page()
    signed_in(page, live_server, owner)
    page.goto(f"{live_server.url}{reverse('admin:index')}")
    expect(page.locator("#dash-balances")).to_contain_text(booking.reference)
    shot(page, "admin-dashboard")

    page.goto(f"{live_server.url}{reverse('admin:bookings_booking_record_payment', args=[booking.pk])}")
    page.get_by_label("Amount").fill("99999")
    page.get_by_label("Reference").fill("TRX-2")
    page.get_by_role("button", name="Record the payment").click()
    expect(page.locator(".errorlist")).to_contain_text("at most the balance due")
    shot(page, "admin-record-payment")
    page.get_by_label("Amount").fill(str(Booking.objects.get(pk=booking.pk).balance_due))
    page.get_by_role("button", name="Record the payment").click()
    expect(page.locator(".messagelist")).to_contain_text("Recorded")
    booking.refresh_from_db()
    assert booking.payment_status == BP.PAID

    page.goto(f"{live_server.url}{reverse('admin:properties_property_change', args=[prop.pk])}")
    schedule = page.locator(".inline-group", has_text="Payment schedule")
    schedule.scroll_into_view_if_needed()
    expect(schedule).to_be_visible()
    schedule.screenshot(path=str(SHOTS / "money-admin-schedule.png"))
