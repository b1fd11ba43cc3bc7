"""The payment page (payments:pay): the card form while payable, notices otherwise, token checks, queries."""

from urllib.parse import parse_qs, urlparse

import pytest
from django.urls import reverse

from bookings import services as booking_services
from bookings.links import payment_url
from bookings.models import Booking, BookingStatus
from bookings.tokens import check_booking_access_token
from core.actor import Actor
from payments import services
from payments.models import Payment
from properties.display import money as format_money  # guest pages write money for the locale
from tests.pages.conftest import text
from tests.payments.conftest import DECLINED, VISA, let_hold_run_out, token

pytestmark = pytest.mark.django_db


def page_url(booking, tok=None, extra=""):
    return f"/payments/{booking.reference}/pay/?token={token(booking) if tok is None else tok}{extra}"


def pay(booking, card, number):
    return services.start_card_payment(booking_id=booking.pk, payment_method_id=card(booking, number),
                                       actor=Actor.guest("ada@example.com"))


def test_payment_url_is_the_payments_page():
    assert reverse("payments:pay", args=["PMS-2026-ABCDE"]) == "/payments/PMS-2026-ABCDE/pay/"


def test_payable_booking_shows_summary_time_left_policy_attempts_and_the_card_form(client, reserved):
    booking = reserved()
    url = payment_url(booking)
    assert urlparse(url).path == f"/payments/{booking.reference}/pay/"
    assert check_booking_access_token(parse_qs(urlparse(url).query)["token"][0], booking)

    response = client.get(url)

    assert response.status_code == 200
    visible, html = text(response), response.content.decode()
    due = format_money(booking.total, booking.currency)
    assert "Pay for your stay" in visible and booking.reference in visible
    assert f"Amount to pay {due}" in visible and f"Pay {due}" in visible
    assert 'class="countdown"' in html and 'data-seconds="' in html
    assert "29 min left (until " in visible or "30 min left (until " in visible  # issue 15 §8: no "1439:46"
    policy = booking.cancellation_policy
    assert f"{policy['name']} cancellation: {policy['summary']}" in visible
    assert "Attempts left: 3 of 3." in visible
    assert 'id="card-element"' in html and 'id="pay-button"' in html
    assert 'id="pay-error"' in html and 'aria-live="assertive"' in html
    assert 'id="pay-needs-js"' in html and "Card payment needs JavaScript" in visible
    assert '<form id="pay-form" class="pay-form" method="post" action="" hidden' in html  # pay.js shows it
    assert "/static/js/pay.js" in html and "/static/js/booking.js" in html
    assert f'data-setup-url="/payments/{booking.reference}/setup"' in html
    assert f'data-status-url="/bookings/{booking.reference}/?token=' in html
    assert 'name="csrfmiddlewaretoken"' in html and "csrftoken" in response.cookies
    assert "stripe.com" not in html  # Stripe.js comes from /setup's js_url, nothing is hard-coded
    assert "no-cache" in response["Cache-Control"] or "max-age=0" in response["Cache-Control"]
    assert "4242 4242 4242 4242" in visible  # test mode (pk_test_ key): the test cards are listed


def test_the_amount_never_comes_from_the_browser(client, reserved):
    booking = reserved()
    response = client.get(page_url(booking, extra="&amount=0.01&total=1&currency=JPY"))
    visible = text(response)
    assert f"Amount to pay {format_money(booking.total, 'EUR')}" in visible
    assert "0.01" not in visible and "JPY" not in visible
    assert client.post(page_url(booking), {"amount": "0.01"}).status_code == 405


def test_wrong_or_missing_token_is_404(client, reserved, prop, book):
    booking = reserved()
    other = book(prop, start=60)
    assert client.get(page_url(booking)).status_code == 200
    assert client.get(f"/payments/{booking.reference}/pay/").status_code == 404
    assert client.get(page_url(booking, tok="garbage")).status_code == 404
    assert client.get(page_url(booking, tok=token(other))).status_code == 404
    assert client.get(f"/payments/PMS-2026-NOPE0/pay/?token={token(booking)}").status_code == 404


def test_query_count_is_bounded(client, reserved, card, django_assert_max_num_queries):
    booking = reserved()
    pay(booking, card, DECLINED)
    pay(booking, card, DECLINED)
    # the booking (with property and guest), one count of its attempts, the owner's manual methods
    with django_assert_max_num_queries(4):
        response = client.get(page_url(booking))
    assert "Attempts left: 1 of 3." in text(response)


def test_confirmed_after_a_card_payment_links_to_the_confirmation_which_shows_the_amount_paid(client, reserved,
                                                                                            card):
    booking = reserved()
    result = pay(booking, card, VISA)
    assert result.status == "succeeded"
    booking.refresh_from_db()
    assert booking.status == BookingStatus.CONFIRMED and booking.amount_paid == booking.total

    response = client.get(page_url(booking))
    visible, html = text(response), response.content.decode()
    assert "This booking is paid and confirmed" in visible
    assert 'id="pay-form"' not in html and "pay.js" not in html
    assert f'href="/bookings/{booking.reference}/?token=' in html and "View your confirmation" in visible

    status = client.get(f"/bookings/{booking.reference}/?token={token(booking)}")
    paid = format_money(booking.total, booking.currency)
    assert "Your booking is confirmed" in text(status) and f"Amount paid {paid}" in text(status)


def test_expired_reservation_shows_a_notice_instead_of_the_form(client, reserved):
    booking = let_hold_run_out(reserved())
    response = client.get(page_url(booking))
    visible, html = text(response), response.content.decode()
    assert response.status_code == 200
    assert "This reservation has expired" in visible and "nothing was charged" in visible
    assert 'id="pay-form"' not in html and "Card payment needs JavaScript" not in visible
    assert f"/properties/{booking.property.slug}/?check_in=" in html

    booking_services.expire_stale_bookings()
    assert Booking.objects.get(pk=booking.pk).status == BookingStatus.EXPIRED
    assert "This reservation has expired" in text(client.get(page_url(booking)))


def test_cancelled_after_the_last_failed_attempt(client, reserved, card):
    booking = reserved()
    for _ in range(3):
        assert pay(booking, card, DECLINED).status == "failed"
    booking.refresh_from_db()
    assert booking.status == BookingStatus.CANCELLED

    response = client.get(page_url(booking))
    visible = text(response)
    assert "This reservation was cancelled" in visible and "Payment failed 3 times" in visible
    assert 'id="pay-form"' not in response.content.decode()


def test_no_attempts_left_while_still_reserved(client, reserved, card, settings):
    booking = reserved()
    assert pay(booking, card, DECLINED).status == "failed"
    settings.PAYMENT_MAX_ATTEMPTS = 1  # lowered after the failure: still reserved, but nothing left to try

    response = client.get(page_url(booking))
    assert "No payment attempts left" in text(response)
    assert 'id="pay-form"' not in response.content.decode()
    assert Payment.objects.filter(booking=booking).count() == 1


def test_a_cancelled_booking(client, reserved):
    booking = reserved()
    booking_services.cancel(booking_id=booking.pk, actor=Actor.guest("ada@example.com"), reason="Plans changed.")
    visible = text(client.get(page_url(booking)))
    assert "This reservation was cancelled" in visible and "Plans changed." in visible
