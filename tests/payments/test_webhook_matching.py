"""A correctly signed ``payment_intent.succeeded`` pays only the payment it matches (intent id, amount in minor
units, currency); a mismatch is flagged for staff and changes no booking. Validly signed but malformed events are
acknowledged as ignored, never a 500."""

import json
import time

import pytest
from django.urls import reverse

from bookings.models import BookingEvent, BookingStatus
from bookings.models import PaymentStatus as BP
from payments.models import Payment, PaymentStatus, WebhookEvent
from tests.payments.conftest import intent_dict, sign

pytestmark = pytest.mark.django_db


def tampered(obj: dict, payment: Payment, case: str) -> dict:
    if case == "amount":
        return {**obj, "amount": obj["amount"] - 1}
    if case == "currency":
        return {**obj, "currency": "usd"}
    if case == "one_usd":  # the probe's event: 1 USD for a 359.61 EUR stay
        return {**obj, "amount": 1, "currency": "usd"}
    if case == "intent_id":  # another intent that names this payment in its metadata
        return {**obj, "id": "pi_someoneelse", "metadata": {**obj["metadata"], "payment_id": str(payment.pk)}}
    raise AssertionError(case)


@pytest.mark.parametrize("case", ["amount", "currency", "one_usd", "intent_id"])
def test_a_succeeded_event_that_does_not_match_the_payment_is_flagged_and_changes_nothing(
        awaiting_3ds, post_event, case):
    booking, payment = awaiting_3ds
    genuine = intent_dict(payment.provider_ref)
    booking_events = BookingEvent.objects.filter(booking=booking).count()

    response = post_event("payment_intent.succeeded", tampered(genuine, payment, case), "evt_mismatch")

    assert response.status_code == 200 and response.json()["outcome"].startswith(f"mismatch: payment {payment.pk}")
    booking.refresh_from_db()
    assert (booking.status, booking.payment_status, booking.amount_paid) == (BookingStatus.RESERVED, BP.UNPAID, 0)
    assert BookingEvent.objects.filter(booking=booking).count() == booking_events
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.REQUIRES_ACTION and payment.flagged is True
    note = payment.events.last()
    assert note.from_status == note.to_status == PaymentStatus.REQUIRES_ACTION
    assert note.reason.startswith("Not applied") and note.actor_label == "stripe webhook"
    assert WebhookEvent.objects.get(event_id="evt_mismatch").outcome.startswith("mismatch")

    # The genuine event still pays: the flag asks staff to look, it blocks nothing real.
    assert post_event("payment_intent.succeeded", genuine, "evt_genuine").status_code == 200
    booking.refresh_from_db()
    assert (booking.status, booking.payment_status) == (BookingStatus.CONFIRMED, BP.PAID)


def test_before_the_row_has_its_intent_id_the_metadata_must_name_its_booking(awaiting_3ds, post_event):
    booking, payment = awaiting_3ds
    Payment.objects.filter(pk=payment.pk).update(provider_ref=None)  # the webhook beat the create response
    obj = intent_dict(payment.provider_ref)
    obj["metadata"] = {**obj["metadata"], "booking_id": str(booking.pk + 1000)}

    response = post_event("payment_intent.succeeded", obj)

    assert response.json()["outcome"].startswith("mismatch")
    payment.refresh_from_db()
    assert payment.flagged and payment.provider_ref is None and payment.status == PaymentStatus.REQUIRES_ACTION
    booking.refresh_from_db()
    assert booking.status == BookingStatus.RESERVED


def test_flagged_payments_are_a_filter_of_the_admin_payment_list(awaiting_3ds, post_event, client):
    from tests.factories import SuperuserFactory

    booking, payment = awaiting_3ds
    post_event("payment_intent.succeeded", {**intent_dict(payment.provider_ref), "amount": 1})
    client.force_login(SuperuserFactory())
    url = reverse("admin:payments_payment_changelist")

    flagged = client.get(url, {"flagged__exact": "1"})
    clean = client.get(url, {"flagged__exact": "0"})

    assert flagged.status_code == 200 and "By flagged" in flagged.content.decode()
    assert [p.pk for p in flagged.context["cl"].result_list] == [payment.pk]
    assert payment.pk not in [p.pk for p in clean.context["cl"].result_list]
    page = client.get(reverse("admin:payments_payment_change", args=[payment.pk])).content.decode()
    assert "Not applied: a succeeded payment that does not match this one" in page


# --- malformed but validly signed ------------------------------------------------------------------------------


def envelope(event_type, obj, event_id="evt_bad"):
    return json.dumps({"id": event_id, "object": "event", "type": event_type, "created": int(time.time()),
                       "data": {"object": obj}}).encode()


INTENT = {"id": "pi_x", "object": "payment_intent", "status": "succeeded", "amount": 100, "currency": "eur",
          "metadata": {}}
MALFORMED = {
    "not_json": b"not json",
    "a_list": b"[1, 2]",
    "no_type": b'{"id": "evt_1"}',
    "object_not_a_dict": b'{"id": "evt_2", "type": "x", "data": {"object": 3}}',
    "id_not_a_string": b'{"id": 7, "type": "x", "data": {"object": {}}}',
    "type_too_long": envelope("x" * 101, {}),
    "intent_without_id": envelope("payment_intent.succeeded", {k: v for k, v in INTENT.items() if k != "id"}),
    "amount_as_text": envelope("payment_intent.succeeded", {**INTENT, "amount": "100"}),
    "negative_amount": envelope("payment_intent.succeeded", {**INTENT, "amount": -1}),
    "amount_true": envelope("payment_intent.succeeded", {**INTENT, "amount": True}),
    "huge_amount": envelope("payment_intent.succeeded", {**INTENT, "amount": 10**30}),
    "unknown_currency": envelope("payment_intent.succeeded", {**INTENT, "currency": "xyz"}),
    "no_currency": envelope("payment_intent.payment_failed", {k: v for k, v in INTENT.items() if k != "currency"}),
    "metadata_text": envelope("payment_intent.succeeded", {**INTENT, "metadata": "payment_id=1"}),
    "metadata_number": envelope("payment_intent.succeeded", {**INTENT, "metadata": {"payment_id": 1}}),
    "status_list": envelope("payment_intent.canceled", {**INTENT, "status": ["canceled"]}),
    "error_text": envelope("payment_intent.payment_failed", {**INTENT, "last_payment_error": "declined"}),
    "error_code_number": envelope("payment_intent.payment_failed", {**INTENT, "last_payment_error": {"code": 5}}),
    "refunds_not_a_list": envelope("charge.refunded", {"payment_intent": "pi_x", "amount_refunded": 5,
                                                       "currency": "eur", "refunds": {"data": "re_1"}}),
    "refund_item_without_id": envelope("charge.refunded", {"payment_intent": "pi_x", "amount_refunded": 5,
                                                           "currency": "eur", "refunds": {"data": [{"amount": 5}]}}),
    "refund_without_amount": envelope("refund.updated", {"id": "re_1", "currency": "eur", "status": "succeeded"}),
    "dispute_without_intent": envelope("charge.dispute.created", {"id": "dp_1", "payment_intent": None,
                                                                  "amount": 5, "currency": "eur"}),
}


@pytest.mark.parametrize("case", MALFORMED)
def test_a_validly_signed_malformed_event_is_acknowledged_ignored_and_logged(client, caplog, case):
    body = MALFORMED[case]

    response = client.post("/payments/stripe/webhook", data=body, content_type="application/json",
                           headers={"Stripe-Signature": sign(body)})

    assert response.status_code == 200, response.content
    assert response.json()["received"] is True and response.json()["outcome"].startswith("ignored: malformed")
    assert not WebhookEvent.objects.exists() and not Payment.objects.exists()
    assert "Stripe event ignored, malformed" in caplog.text


def test_an_unknown_event_type_is_acknowledged_ignored_and_logged(post_event, caplog):
    response = post_event("invoice.paid", {"id": "in_1", "amount": "not checked for unknown types"}, "evt_inv")
    assert response.status_code == 200 and response.json()["outcome"] == "ignored"
    assert WebhookEvent.objects.get(event_id="evt_inv").outcome == "ignored"
    assert "Stripe event invoice.paid evt_inv: ignored" in caplog.text


def test_a_body_that_is_not_utf8_is_refused_with_a_json_400(client):
    body = b'{"id": "evt_\xff"}'  # HMAC-signed with the right secret, but Stripe signs text: never a real event
    response = client.post("/payments/stripe/webhook", data=body, content_type="application/json",
                           headers={"Stripe-Signature": sign(body)})
    assert response.status_code == 400 and response.json()["code"] == "bad_signature"
    assert not WebhookEvent.objects.exists()


def test_every_handled_event_type_has_its_fields_checked():
    from payments.webhooks import FIELDS, HANDLERS

    assert set(FIELDS) == set(HANDLERS)
