"""The Stripe webhook: signatures, replays, out-of-order events, refunds and disputes from the provider."""

import json
import threading
import time
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest

from bookings.models import BookingEvent, BookingStatus
from bookings.models import PaymentStatus as BP
from core.actor import Actor
from payments import services
from payments.localstripe_server import register_webhook, unregister_webhook
from payments.models import Payment, PaymentEvent, PaymentStatus, Refund, WebhookEvent
from tests.payments.conftest import DECLINED, THREE_DS, VISA, WEBHOOK_SECRET, event, intent_dict, sign

pytestmark = pytest.mark.django_db
GUEST = Actor.guest("ada@example.com")


def pay(booking, pm):
    return services.start_card_payment(booking_id=booking.pk, payment_method_id=pm, actor=GUEST)


def state(booking):
    booking.refresh_from_db()
    return (booking.status, booking.payment_status, booking.amount_paid, booking.amount_refunded,
            BookingEvent.objects.filter(booking=booking).count(), PaymentEvent.objects.count(),
            Refund.objects.count())


def test_a_signed_succeeded_event_confirms_the_booking(awaiting_3ds, post_event):
    booking, payment = awaiting_3ds
    response = post_event("payment_intent.succeeded", intent_dict(payment.provider_ref), "evt_ok_1")

    assert response.status_code == 200 and response.json()["received"] is True
    booking.refresh_from_db()
    assert booking.status == BookingStatus.CONFIRMED and booking.payment_status == BP.PAID
    record = WebhookEvent.objects.get(event_id="evt_ok_1")
    assert record.type == "payment_intent.succeeded" and "succeeded" in record.outcome


def test_a_replayed_event_changes_nothing(awaiting_3ds, post_event):
    booking, payment = awaiting_3ds
    body = event("payment_intent.succeeded", intent_dict(payment.provider_ref), "evt_replay")
    assert post_event(None, None, payload=body).status_code == 200
    before = state(booking)

    response = post_event(None, None, payload=body)

    assert response.status_code == 200 and response.json()["outcome"] == "duplicate"
    assert state(booking) == before
    assert WebhookEvent.objects.filter(event_id="evt_replay").count() == 1


def test_webhook_and_return_path_both_arriving_apply_once(awaiting_3ds, post_event):
    booking, payment = awaiting_3ds
    services.sync_from_provider(booking_id=booking.pk)
    before = state(booking)
    assert before[:2] == (BookingStatus.CONFIRMED, BP.PAID)

    assert post_event("payment_intent.succeeded", intent_dict(payment.provider_ref)).status_code == 200
    services.sync_from_provider(booking_id=booking.pk)

    assert state(booking) == before
    assert Payment.objects.get(pk=payment.pk).events.filter(to_status="succeeded").count() == 1


@pytest.mark.parametrize("case", ["forged", "wrong_secret", "stale", "missing", "garbage"])
def test_bad_signatures_are_rejected(awaiting_3ds, client, case):
    booking, payment = awaiting_3ds
    body = event("payment_intent.succeeded", intent_dict(payment.provider_ref))
    header = {
        "forged": sign(body.replace(b'"succeeded"', b'"succeeded" ')),  # signed another payload
        "wrong_secret": sign(body, secret="whsec_attacker"),
        "stale": sign(body, timestamp=int(time.time()) - 301),  # beyond the 300 s tolerance
        "missing": "",
        "garbage": "not a signature",
    }[case]
    before = state(booking)

    response = client.post("/payments/stripe/webhook", data=body, content_type="application/json",
                           headers={"Stripe-Signature": header} if header else {})

    assert response.status_code == 400
    assert state(booking) == before and not WebhookEvent.objects.exists()


def test_only_post_is_accepted(client):
    assert client.get("/payments/stripe/webhook").status_code == 405


def test_unknown_event_types_are_acknowledged_and_ignored(post_event):
    response = post_event("customer.created", {"id": "cus_1", "object": "customer"}, "evt_unknown")
    assert response.status_code == 200 and response.json()["outcome"] == "ignored"
    assert WebhookEvent.objects.get(event_id="evt_unknown").outcome == "ignored"


def test_failed_after_succeeded_keeps_the_booking_paid(reserved, card, post_event):
    booking = reserved()
    payment = pay(booking, card(booking, VISA)).payment
    before = state(booking)
    late_failure = {**intent_dict(payment.provider_ref), "status": "requires_payment_method",
                    "last_payment_error": {"code": "card_declined", "message": "Your card was declined."}}

    assert post_event("payment_intent.payment_failed", late_failure).status_code == 200
    assert post_event("payment_intent.canceled", {**late_failure, "status": "canceled"}).status_code == 200

    assert state(booking) == before
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.SUCCEEDED and payment.failure_code == ""


def test_a_failed_event_fails_the_open_attempt(reserved, card, post_event):
    booking = reserved()
    payment = pay(booking, card(booking, THREE_DS)).payment
    failure = {**intent_dict(payment.provider_ref), "status": "requires_payment_method", "next_action": None,
               "last_payment_error": {"code": "card_declined", "message": "Your card was declined."}}

    assert post_event("payment_intent.payment_failed", failure, "evt_fail").status_code == 200

    payment.refresh_from_db()
    assert (payment.status, payment.failure_code) == (PaymentStatus.FAILED, "card_declined")
    booking.refresh_from_db()
    assert booking.status == BookingStatus.RESERVED and booking.payment_status == BP.FAILED


def test_succeeded_after_failed_event_is_honoured(awaiting_3ds, post_event):
    """Out of order: a failure event for the intent arrives, then its success: the money is real."""
    booking, payment = awaiting_3ds
    obj = intent_dict(payment.provider_ref)
    post_event("payment_intent.payment_failed", {**obj, "status": "requires_payment_method",
                                                 "last_payment_error": {"code": "x", "message": "x"}})
    post_event("payment_intent.succeeded", obj)

    booking.refresh_from_db()
    assert booking.status == BookingStatus.CONFIRMED and booking.payment_status == BP.PAID
    assert Payment.objects.get(pk=payment.pk).status == PaymentStatus.SUCCEEDED


def test_a_canceled_event_cancels_an_open_attempt(reserved, card, post_event):
    booking = reserved()
    payment = pay(booking, card(booking, THREE_DS)).payment
    post_event("payment_intent.canceled", {**intent_dict(payment.provider_ref), "status": "canceled"})
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.CANCELED
    booking.refresh_from_db()
    assert booking.status == BookingStatus.RESERVED and booking.payment_status == BP.UNPAID


def test_an_event_for_an_unknown_intent_is_recorded_and_ignored(post_event):
    obj = {"id": "pi_unknown", "object": "payment_intent", "status": "succeeded", "amount": 100, "currency": "eur",
           "metadata": {}}
    response = post_event("payment_intent.succeeded", obj, "evt_unknown_pi")
    assert response.status_code == 200 and "no matching payment" in response.json()["outcome"]


def test_the_webhook_beating_the_intent_id_finds_the_payment_by_metadata(awaiting_3ds, post_event):
    booking, payment = awaiting_3ds
    Payment.objects.filter(pk=payment.pk).update(provider_ref=None)  # as if the create response was not stored yet
    post_event("payment_intent.succeeded", intent_dict(payment.provider_ref))
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.SUCCEEDED and payment.provider_ref.startswith("pi_")


def test_charge_refunded_made_at_stripe_is_recorded_once(reserved, card, post_event):
    booking = reserved()
    payment = pay(booking, card(booking, VISA)).payment
    charge = {"id": "ch_x", "object": "charge", "payment_intent": payment.provider_ref, "currency": "eur",
              "amount": int(payment.amount * 100), "amount_refunded": 5000}

    post_event("charge.refunded", charge)
    post_event("charge.refunded", charge)  # another event id, same total: nothing new

    booking.refresh_from_db()
    assert booking.amount_refunded == Decimal("50.00") and booking.payment_status == BP.PARTIALLY_REFUNDED
    assert Refund.objects.filter(payment=payment).count() == 1
    post_event("charge.refunded", {**charge, "amount_refunded": charge["amount"]})
    booking.refresh_from_db()
    assert booking.amount_refunded == booking.amount_paid and booking.payment_status == BP.REFUNDED
    assert Payment.objects.get(pk=payment.pk).status == PaymentStatus.REFUNDED


def test_refund_updated_moves_forward_only(reserved, card, post_event):
    booking = reserved()
    payment = pay(booking, card(booking, VISA)).payment
    refund = {"id": "re_ext", "object": "refund", "payment_intent": payment.provider_ref, "amount": 2000,
              "currency": "eur", "status": "pending"}

    post_event("refund.created", refund)
    post_event("refund.updated", {**refund, "status": "succeeded"})
    post_event("refund.updated", {**refund, "status": "pending"})  # late, older snapshot: ignored
    row = Refund.objects.get(provider_ref="re_ext")
    assert row.status == "succeeded"
    booking.refresh_from_db()
    assert booking.amount_refunded == Decimal("20.00")

    post_event("refund.updated", {**refund, "status": "failed"})  # Stripe can fail a refund later
    row.refresh_from_db()
    booking.refresh_from_db()
    assert row.status == "failed" and booking.amount_refunded == 0


def test_a_dispute_flags_the_payment_and_audits_the_booking(reserved, card, post_event):
    booking = reserved()
    payment = pay(booking, card(booking, VISA)).payment
    dispute = {"id": "dp_1", "object": "dispute", "payment_intent": payment.provider_ref, "amount": 1000,
               "currency": "eur", "reason": "fraudulent", "charge": "ch_1"}

    post_event("charge.dispute.created", dispute)
    post_event("charge.dispute.created", dispute)  # a second delivery under another id

    payment.refresh_from_db()
    assert payment.disputed is True
    assert payment.events.filter(reason__contains="Dispute dp_1").count() == 1
    booking.refresh_from_db()
    assert booking.payment_status == BP.PAID  # unchanged: money only moves if the dispute is lost
    assert BookingEvent.objects.filter(booking=booking, reason__contains="Dispute dp_1").count() == 1


class _Capture(BaseHTTPRequestHandler):
    received: list = []

    def do_POST(self):  # noqa: N802
        body = self.rfile.read(int(self.headers["Content-Length"]))
        _Capture.received.append((body, self.headers["Stripe-Signature"]))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args):
        pass


def test_localstripe_sent_webhooks_verify_and_apply(reserved, card, client):
    """A real event from localstripe (its own signature) passes our verification and confirms the booking."""
    server = HTTPServer(("127.0.0.1", 0), _Capture)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    _Capture.received = []
    register_webhook(f"http://127.0.0.1:{server.server_port}/hook", WEBHOOK_SECRET, webhook_id="capture")
    try:
        booking = reserved()
        refs = {pay(booking, card(booking, DECLINED)).payment.provider_ref,
                pay(booking, card(booking, VISA)).payment.provider_ref}

        def ours():  # earlier tests' intents may still be sending their events
            return [(body, sig) for body, sig in _Capture.received
                    if json.loads(body)["data"]["object"]["id"] in refs]

        deadline = time.time() + 10
        while len(ours()) < 2 and time.time() < deadline:
            time.sleep(0.1)
    finally:
        unregister_webhook("capture")
        server.shutdown()
    received = ours()
    types = [json.loads(body)["type"] for body, _ in received]
    assert types == ["payment_intent.payment_failed", "payment_intent.succeeded"]
    before = state(booking)
    for body, signature in received:
        response = client.post("/payments/stripe/webhook", data=body, content_type="application/json",
                               headers={"Stripe-Signature": signature})
        assert response.status_code == 200
    assert state(booking) == before  # the synchronous path already applied both: the events change nothing
    assert WebhookEvent.objects.count() == 2


def test_an_automatic_refund_stripe_cannot_make_now_does_not_fail_the_webhook(reserved, card, authenticate,
                                                                              post_event, monkeypatch, prop,
                                                                              guest_input, run_on_commit):
    """The event is applied (refund requested, in the event's transaction); Stripe is called after commit, and an
    outage there leaves the refund pending for the sweeper instead of failing or repeating the event."""
    from payments.errors import ProviderError
    from payments.providers.stripe import StripeProvider
    from tests.payments.conftest import let_hold_run_out, take_dates

    booking = reserved()
    result = pay(booking, card(booking, THREE_DS))
    let_hold_run_out(booking)
    take_dates(prop, booking, guest_input)
    authenticate(result.client_secret, success=True)

    def down(self, payment, amount, *, idempotency_key, request_id=""):
        raise ProviderError("Stripe is down")

    monkeypatch.setattr(StripeProvider, "refund", down)
    body = event("payment_intent.succeeded", intent_dict(result.payment.provider_ref), "evt_retry")
    with run_on_commit():
        assert post_event(None, None, payload=body).status_code == 200
    assert WebhookEvent.objects.filter(event_id="evt_retry").exists()
    assert Payment.objects.get(pk=result.payment.pk).status == PaymentStatus.REFUNDED
    refund = Refund.objects.get(payment=result.payment)
    assert (refund.status, refund.provider_ref, refund.last_error) == ("pending", None, "Stripe is down")
    booking.refresh_from_db()
    assert booking.payment_status == BP.REFUNDED and booking.status == BookingStatus.EXPIRED

    monkeypatch.undo()
    with run_on_commit():
        assert post_event(None, None, payload=body).status_code == 200  # Stripe's retry: a duplicate
    assert services.execute_due_refunds(at=refund.next_attempt_at) == 1
    refund.refresh_from_db()
    assert refund.status == "succeeded" and Refund.objects.filter(payment=result.payment).count() == 1
