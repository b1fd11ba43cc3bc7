"""The payment page's JSON endpoints: access by signed token, the card flow, the return path, throttling."""

import pytest

from bookings.models import BookingStatus
from bookings.models import PaymentStatus as BP
from payments.models import Payment
from tests.payments.conftest import DECLINED, THREE_DS, VISA, let_hold_run_out, token

pytestmark = pytest.mark.django_db


def post(client, booking, action, body=None, tok=None):
    tok = token(booking) if tok is None else tok
    return client.post(f"/payments/{booking.reference}/{action}?token={tok}", data=body or {},
                       content_type="application/json")


def test_setup_returns_what_stripe_js_needs(client, reserved, settings):
    booking = reserved()
    response = post(client, booking, "setup")
    assert response.status_code == 200
    body = response.json()
    assert body["client_secret"].startswith("seti_") and "_secret_" in body["client_secret"]
    assert body["publishable_key"] == "pk_test_local"
    assert body["js_url"] == settings.STRIPE_JS_URL and body["js_url"].endswith("/js.stripe.com/v3/")
    assert (body["amount"], body["currency"], body["attempts_left"]) == (str(booking.total), "EUR", 3)


def test_card_success_through_the_endpoint(client, reserved, card):
    booking = reserved()
    response = post(client, booking, "card", {"payment_method_id": card(booking, VISA), "amount": "0.01"})
    assert response.status_code == 200
    body = response.json()
    assert (body["status"], body["booking_status"], body["payment_status"]) == ("succeeded", "confirmed", "paid")
    # A tampered amount in the request is ignored: the booking's total was charged.
    assert Payment.objects.get(booking=booking).amount == booking.total


def test_card_decline_and_3ds_through_the_endpoints(client, reserved, card, authenticate):
    booking = reserved()
    declined = post(client, booking, "card", {"payment_method_id": card(booking, DECLINED)}).json()
    assert declined["status"] == "failed" and declined["error"] and declined["attempts_left"] == 2

    action = post(client, booking, "card", {"payment_method_id": card(booking, THREE_DS)}).json()
    assert action["status"] == "requires_action" and action["client_secret"].startswith("pi_")
    authenticate(action["client_secret"], success=True)

    back = post(client, booking, "return").json()
    assert (back["booking_status"], back["payment_status"]) == ("confirmed", "paid")
    assert back["amount_paid"] == str(booking.total)


@pytest.mark.parametrize("action", ["setup", "card", "return"])
def test_a_wrong_or_missing_token_is_a_404(client, reserved, prop, book, action):
    booking = reserved()
    other = book(prop, start=60)
    for tok in ("", "garbage", token(other)):
        assert post(client, booking, action, {"payment_method_id": "pm_x"}, tok=tok).status_code == 404
    assert client.post(f"/payments/PMS-0000-XXXXX/{action}?token=x", content_type="application/json"
                       ).status_code == 404
    assert not Payment.objects.exists()


def test_the_token_may_come_in_the_body_or_a_header(client, reserved):
    booking = reserved()
    url = f"/payments/{booking.reference}/return"
    assert client.post(url, data={"token": token(booking)}, content_type="application/json").status_code == 200
    assert client.post(url, content_type="application/json",
                       headers={"X-Booking-Token": token(booking)}).status_code == 200


def test_card_needs_a_payment_method(client, reserved):
    booking = reserved()
    for body in ({}, {"payment_method_id": 3}, {"payment_method_id": "tok_x"}):
        response = post(client, booking, "card", body)
        assert response.status_code == 400 and response.json()["code"] == "invalid"
    assert not Payment.objects.exists()


def test_an_expired_or_paid_booking_answers_409(client, reserved, card):
    booking = reserved()
    pm = card(booking, VISA)
    let_hold_run_out(booking)
    for action, body in (("setup", None), ("card", {"payment_method_id": pm})):
        response = post(client, booking, action, body)
        assert response.status_code == 409 and response.json()["code"] == "payment_not_allowed"
    booking.refresh_from_db()
    assert booking.status == BookingStatus.RESERVED and booking.payment_status == BP.UNPAID


def test_payment_attempts_are_throttled_per_client(client, reserved, card, settings):
    settings.PAYMENT_THROTTLE = "2/min"
    booking = reserved()
    pm = card(booking, DECLINED)
    codes = [post(client, booking, "card", {"payment_method_id": pm}).status_code for _ in range(3)]
    assert codes[:2] == [200, 200] and codes[2] == 429
    assert booking.payments.count() == 2
    setups = [post(client, booking, "setup").status_code for _ in range(3)]
    assert setups[2] == 429


def test_get_is_not_allowed(client, reserved):
    booking = reserved()
    assert client.get(f"/payments/{booking.reference}/card?token={token(booking)}").status_code == 405
