"""The guest's booking flow in a real browser: search → property → details → card payment → confirmation.

Headless Debian Chromium driven by Playwright against ``live_server``; the card is typed into localstripe's
fake Stripe.js card element (five plain inputs: number, exp_month, exp_year, cvc, postal_code).
Screenshots of every step: ``test-artifacts/checkout-flow/`` and ``test-artifacts/declined-card/``.
"""

from __future__ import annotations

import re
from decimal import Decimal
from urllib.parse import urlparse

import pytest
from playwright.sync_api import expect

from bookings.links import payment_url
from bookings.models import Booking, BookingStatus
from bookings.models import PaymentStatus as BookingPaymentStatus
from payments.models import Payment, PaymentStatus, WebhookEvent
from tests.browser.conftest import Steps, wait_for
from tests.factories import AmenityFactory, PropertyFactory, future
from tests.payments.conftest import DECLINED, THREE_DS, VISA, let_hold_run_out

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def seed():
    wifi, kitchen = AmenityFactory(name="Wi-Fi"), AmenityFactory(name="Kitchen")
    loft = PropertyFactory(name="Alfama Loft", city="Lisbon", country="PT", timezone="Europe/Lisbon",
                           base_price=Decimal("120.00"), cleaning_fee=Decimal("30.00"), bedrooms=1,
                           cancellation_policy="moderate", house_rules="No parties. No smoking indoors.")
    loft.amenities.set([wifi, kitchen])
    PropertyFactory(name="Harbour House", city="Porto", country="PT", base_price=Decimal("90.00"))
    return loft


def fill_card(page, number: str) -> None:
    """Type a card into the mounted card element (the fake Stripe.js: one input per part of the card)."""
    element = page.locator("#card-element")
    element.locator('input[placeholder="number"]').fill(number)
    element.locator('input[placeholder="exp_month"]').fill("12")
    element.locator('input[placeholder="exp_year"]').fill("30")
    element.locator('input[placeholder="cvc"]').fill("123")
    element.locator('input[placeholder="postal_code"]').fill("1100")


def card_form_ready(page) -> None:
    expect(page.locator('#card-element input[placeholder="number"]')).to_be_visible()
    expect(page.locator("#pay-button")).to_be_enabled()


def test_search_to_confirmation_with_a_card(live_server, stripe_live, new_page):
    loft = seed()
    check_in, check_out = future(30), future(33)
    page = new_page()
    steps = Steps(page, "checkout-flow")

    # 1. Search: place, dates, guests.
    page.goto(f"{live_server.url}/")
    page.get_by_label("Where").fill("Lisbon")
    page.get_by_label("Check-in").first.fill(check_in.isoformat())
    page.get_by_label("Check-out").first.fill(check_out.isoformat())
    page.get_by_label("Guests").fill("2")
    steps.shot("search")
    page.get_by_role("button", name="Search", exact=True).click()

    # 2. Results: only the Lisbon place, with its total for the dates.
    expect(page.locator("#results-heading")).to_contain_text("1 place")
    expect(page.locator(".card")).to_have_count(1)
    expect(page.locator(".card")).to_contain_text("Alfama Loft")
    steps.shot("results")
    page.locator("a.card-link", has_text="Alfama Loft").click()  # not its "Add to group booking" link

    # 3. The property page: the booking widget shows the quote for the dates.
    expect(page.get_by_role("heading", level=1)).to_have_text("Alfama Loft")
    quote = page.locator("#quote-result")
    expect(quote).to_contain_text("3 nights")
    expect(quote).to_contain_text("Total")
    expect(quote).to_contain_text("€390.00")  # 3 × 120 + 30 cleaning
    steps.shot("property")
    quote.get_by_role("link", name="Reserve").click()

    # 4. Details: fill in, accept the rules and the policy, continue.
    expect(page.get_by_role("heading", level=1)).to_have_text("Your details")
    page.get_by_label("Full name").fill("Ada Lovelace")
    page.get_by_label("Email").fill("ada@example.com")
    page.get_by_label("Phone").fill("+44 20 7946 0000")
    page.get_by_label("Country").select_option("GB")
    page.get_by_label("I accept the house rules").check()
    steps.shot("details")
    page.get_by_role("button", name="Continue to payment").click()

    # 5. Payment: the reservation, the time left, and the card element of the fake Stripe.js.
    expect(page).to_have_url(re.compile(r"/payments/PMS-\d{4}-\w+/pay/\?token="))
    reference = urlparse(page.url).path.split("/")[2]
    booking = Booking.objects.get(reference=reference)
    assert booking.status == BookingStatus.RESERVED and booking.total == Decimal("390.00")
    expect(page.get_by_role("heading", level=1)).to_have_text("Pay for your stay")
    expect(page.locator(".amount-due")).to_contain_text("€390.00")
    expect(page.locator(".countdown")).to_have_text(re.compile(r"^(29|30) min left$"))  # issue 15 §8
    card_form_ready(page)
    expect(page.locator("#pay-needs-js")).to_be_hidden()  # shown only when pay.js does not run
    steps.shot("payment")
    fill_card(page, VISA)
    steps.shot("card-filled")
    page.locator("#pay-button").click()

    # 6. Confirmation.
    expect(page).to_have_url(re.compile(rf"/bookings/{reference}/\?token="))
    expect(page.get_by_role("heading", level=1)).to_have_text("Your booking is confirmed")
    expect(page.locator(".reference").first).to_have_text(reference)
    expect(page.locator(".booking-status")).to_have_text("Confirmed · Paid")
    expect(page.locator(".booking-facts")).to_contain_text("Amount paid")
    expect(page.locator(".booking-facts")).to_contain_text("€390.00")
    steps.shot("confirmation")

    booking.refresh_from_db()
    assert booking.status == BookingStatus.CONFIRMED
    assert booking.payment_status == BookingPaymentStatus.PAID and booking.amount_paid == Decimal("390.00")
    payment = Payment.objects.get(booking=booking)
    assert payment.status == PaymentStatus.SUCCEEDED and payment.amount == Decimal("390.00")
    assert booking.property_id == loft.pk and booking.guest.email == "ada@example.com"
    # localstripe's signed webhook reaches the live server a second later and changes nothing.
    assert wait_for(lambda: WebhookEvent.objects.filter(type="payment_intent.succeeded").exists())
    booking.refresh_from_db()
    assert (booking.status, booking.amount_paid) == (BookingStatus.CONFIRMED, Decimal("390.00"))
    assert Payment.objects.filter(booking=booking).count() == 1


def test_a_declined_card_shows_the_error_and_the_guest_can_retry(live_server, stripe_live, new_page, book):
    loft = seed()
    booking = book(loft, start=50, nights=2)
    page = new_page()
    steps = Steps(page, "declined-card")

    page.goto(f"{live_server.url}{payment_url(booking)}")
    card_form_ready(page)
    expect(page.locator("[data-attempts-left]")).to_have_text("3")
    fill_card(page, DECLINED)
    steps.shot("declined-card-filled")
    page.locator("#pay-button").click()

    error = page.locator("#pay-error")
    expect(error).to_contain_text("declined")
    expect(error).to_contain_text("2 attempts left")
    expect(page.locator("[data-attempts-left]")).to_have_text("2")
    expect(page.locator("#pay-button")).to_be_enabled()
    steps.shot("declined")
    booking.refresh_from_db()
    assert booking.status == BookingStatus.RESERVED
    assert Payment.objects.get(booking=booking).status == PaymentStatus.FAILED

    fill_card(page, VISA)
    page.locator("#pay-button").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Your booking is confirmed")
    steps.shot("retry-confirmed")

    booking.refresh_from_db()
    assert (booking.status, booking.payment_status) == (BookingStatus.CONFIRMED, BookingPaymentStatus.PAID)
    statuses = sorted(Payment.objects.filter(booking=booking).values_list("status", flat=True))
    assert statuses == [PaymentStatus.FAILED, PaymentStatus.SUCCEEDED]
    # Both of localstripe's webhooks arrive (and are waited for, so none lands after the test's cleanup).
    assert wait_for(lambda: WebhookEvent.objects.filter(type="payment_intent.payment_failed").exists())
    assert wait_for(lambda: WebhookEvent.objects.filter(type="payment_intent.succeeded").exists())
    booking.refresh_from_db()
    assert (booking.status, booking.payment_status) == (BookingStatus.CONFIRMED, BookingPaymentStatus.PAID)


def test_the_test_card_typed_with_spaces_as_the_page_shows_it_pays(live_server, stripe_live, new_page, book):
    """The page lists the test card as ``4242 4242 4242 4242``; typed like that, key by key, it pays (the card
    element sends the digits only, as Stripe.js does, and moves to the expiry after the 16th digit)."""
    booking = book(seed(), start=55, nights=2)
    page = new_page()
    steps = Steps(page, "spaced-card-number")

    page.goto(f"{live_server.url}{payment_url(booking)}")
    card_form_ready(page)
    shown = page.locator(".test-cards code").first.inner_text()
    assert shown == "4242 4242 4242 4242"
    element = page.locator("#card-element")
    element.locator('input[placeholder="number"]').press_sequentially(shown)
    # After the last digit (not after 16 characters) the fake element moves on to the expiry month.
    expect(element.locator('input[placeholder="exp_month"]')).to_be_focused()
    expect(element.locator('input[placeholder="number"]')).to_have_value(shown)
    element.locator('input[placeholder="exp_month"]').fill("12")
    element.locator('input[placeholder="exp_year"]').fill("30")
    element.locator('input[placeholder="cvc"]').fill("123")
    element.locator('input[placeholder="postal_code"]').fill("1100")
    steps.shot("spaced-number-typed")
    page.locator("#pay-button").click()

    expect(page.get_by_role("heading", level=1)).to_have_text("Your booking is confirmed")
    steps.shot("confirmed")
    booking.refresh_from_db()
    assert (booking.status, booking.payment_status) == (BookingStatus.CONFIRMED, BookingPaymentStatus.PAID)
    assert wait_for(lambda: WebhookEvent.objects.filter(type="payment_intent.succeeded").exists())


def test_without_javascript_the_payment_page_says_card_payment_needs_it(live_server, stripe_live, new_page, book):
    booking = book(seed(), start=60, nights=2)
    page = new_page(java_script_enabled=False)
    steps = Steps(page, "no-javascript")

    page.goto(f"{live_server.url}{payment_url(booking)}")

    expect(page.get_by_text("Card payment needs JavaScript.")).to_be_visible()
    expect(page.locator("#pay-form")).to_be_hidden()
    expect(page.locator(".booking-card")).to_contain_text(booking.reference)
    steps.shot("payment-without-javascript")


def test_3d_secure_is_completed_in_the_browser(live_server, stripe_live, new_page, book):
    booking = book(seed(), start=70, nights=2)
    page = new_page()
    steps = Steps(page, "3d-secure")

    page.goto(f"{live_server.url}{payment_url(booking)}")
    card_form_ready(page)
    fill_card(page, THREE_DS)
    page.locator("#pay-button").click()

    # The fake Stripe.js asks in a small dialog (the bank's page with real Stripe): for this card when the
    # card is set up (confirmCardSetup) and, if the payment asks again, in confirmCardPayment.
    authenticate = page.get_by_role("button", name="Complete authentication")
    confirmed = page.get_by_role("heading", level=1, name="Your booking is confirmed")
    expect(authenticate).to_be_visible()
    expect(page.locator("#pay-button")).to_be_disabled()  # no second submit while waiting
    steps.shot("3d-secure-dialog")
    authenticate.click()
    expect(authenticate.or_(confirmed)).to_be_visible()
    if authenticate.is_visible():
        expect(page.locator("#pay-status")).to_contain_text("3-D Secure")
        steps.shot("3d-secure-payment-dialog")
        authenticate.click()

    expect(confirmed).to_be_visible()
    steps.shot("confirmed")
    booking.refresh_from_db()
    assert (booking.status, booking.payment_status) == (BookingStatus.CONFIRMED, BookingPaymentStatus.PAID)
    assert Payment.objects.get(booking=booking).status == PaymentStatus.SUCCEEDED
    assert wait_for(lambda: WebhookEvent.objects.filter(type="payment_intent.succeeded").exists())


def test_a_hold_that_ran_out_closes_the_form_with_the_reason(live_server, stripe_live, new_page, book):
    booking = book(seed(), start=80, nights=2)
    page = new_page()
    steps = Steps(page, "hold-ran-out")
    page.goto(f"{live_server.url}{payment_url(booking)}")
    card_form_ready(page)
    let_hold_run_out(booking)  # the guest took too long: the server refuses the payment

    fill_card(page, VISA)
    page.locator("#pay-button").click()

    expect(page.locator("#pay-error")).to_contain_text("The reservation has expired")
    expect(page.locator("#pay-button")).to_be_hidden()
    expect(page.locator("#card-element")).to_be_hidden()
    expect(page.get_by_role("link", name="View your booking")).to_be_visible()
    expect(page.locator(".hold-timer")).to_be_hidden()
    steps.shot("expired-notice")
    assert not Payment.objects.filter(booking=booking).exists()


def test_failed_3d_secure_shows_the_error_and_allows_a_retry(live_server, stripe_live, new_page, book):
    booking = book(seed(), start=90, nights=2)
    page = new_page()
    steps = Steps(page, "3d-secure-failed")
    page.goto(f"{live_server.url}{payment_url(booking)}")
    card_form_ready(page)
    fill_card(page, THREE_DS)
    page.locator("#pay-button").click()

    # Pass the card's own check (confirmCardSetup), then fail the payment's authentication.
    page.get_by_role("button", name="Complete authentication").click()
    expect(page.locator("#pay-status")).to_contain_text("3-D Secure")
    page.get_by_role("button", name="Fail authentication").click()

    expect(page.locator("#pay-error")).to_contain_text("You can try again (2 attempts left)")
    expect(page.locator("#pay-button")).to_be_enabled()
    expect(page.locator("[data-attempts-left]")).to_have_text("2")
    steps.shot("3d-secure-failed")
    booking.refresh_from_db()
    assert booking.status == BookingStatus.RESERVED
    assert Payment.objects.get(booking=booking).status == PaymentStatus.FAILED

    fill_card(page, VISA)
    page.locator("#pay-button").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Your booking is confirmed")
    steps.shot("retry-confirmed")
    assert wait_for(lambda: WebhookEvent.objects.filter(type="payment_intent.succeeded").exists())
