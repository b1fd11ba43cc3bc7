"""The money of a change, against localstripe: an increase becomes a balance the guest is asked to pay (and the
pay page charges it); a decrease is refunded under the policy snapshot, sent to Stripe after commit."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.core import mail
from django.urls import reverse

from bookings.tokens import booking_access_token
from payments import services as payment_services
from payments.models import Payment, Refund, RefundStatus
from tests.factories import future
from tests.payments.conftest import VISA

from .conftest import GUEST

pytestmark = pytest.mark.django_db


def kinds(to=None):
    return sorted(m.extra_headers["X-Stayhold-Email"] for m in mail.outbox if to is None or m.to == [to])


def test_an_increase_raises_the_balance_and_emails_the_pay_link(paid, change, run_on_commit):
    booking = paid(start=40, nights=3)
    mail.outbox.clear()
    with run_on_commit():
        result = change(booking, check_out=future(45), by_guest=True, expected_difference=Decimal("200.00"))
    booking.refresh_from_db()
    assert booking.total == Decimal("500.00") and booking.amount_paid == Decimal("300.00")
    assert booking.balance_due == Decimal("200.00") and booking.payment_status == "partially_paid"
    assert result.collection.method == "payment_link" and result.collection.to == "ada@example.com"
    assert result.refunds == []
    sent = kinds("ada@example.com")
    assert sent.count("booking_changed") == 1 and sent.count("payment_request") == 1
    request = next(m for m in mail.outbox if m.extra_headers["X-Stayhold-Email"] == "payment_request")
    assert reverse("payments:pay", args=[booking.reference]) in request.body and "200.00" in request.body


def test_the_pay_page_charges_the_balance_of_a_confirmed_booking(paid, change, card, client):
    booking = paid(start=40, nights=3)
    change(booking, check_out=future(45))
    booking.refresh_from_db()
    page = client.get(reverse("payments:pay", args=[booking.reference]),
                      {"token": booking_access_token(booking)})
    assert page.status_code == 200 and page.context["page"].state == "payable"
    assert page.context["page"].amount_due == Decimal("200.00")
    result = payment_services.start_card_payment(booking_id=booking.pk, payment_method_id=card(booking, VISA),
                                                 actor=GUEST)
    assert result.status == "succeeded", result.error
    booking.refresh_from_db()
    assert booking.amount_paid == Decimal("500.00") and booking.balance_due == 0 and booking.payment_status == "paid"
    assert booking.status == "confirmed"
    assert list(Payment.objects.filter(booking=booking).values_list("amount", flat=True).order_by("attempt")) == [
        Decimal("300.00"), Decimal("200.00")]
    assert client.get(reverse("payments:pay", args=[booking.reference]),
                      {"token": booking_access_token(booking)}).context["page"].state == "confirmed"


def test_a_decrease_long_before_arrival_refunds_the_policy_share(paid, change, run_on_commit):
    booking = paid(policy="moderate", start=40, nights=5)  # 100% more than 5 days before check-in
    with run_on_commit():
        result = change(booking, check_out=future(43), by_guest=True)
    booking.refresh_from_db()
    assert result.change.terms.refund == Decimal("200.00") and result.change.terms.percent == 100
    refund, = Refund.objects.filter(payment__booking=booking)
    assert refund.amount == Decimal("200.00") and refund.status == RefundStatus.SUCCEEDED  # sent after commit
    assert booking.total == Decimal("300.00") and booking.amount_refunded == Decimal("200.00")
    assert booking.payment_status == "partially_refunded" and booking.balance_due == 0


def test_a_decrease_close_to_arrival_refunds_half_under_moderate(paid, change, run_on_commit):
    booking = paid(policy="moderate", start=3, nights=5)  # 50% within 5 days of check-in
    with run_on_commit():
        result = change(booking, check_out=future(6), by_guest=True)
    assert result.change.terms.refundable == Decimal("200.00") and result.change.terms.refund == Decimal("100.00")
    booking.refresh_from_db()
    assert booking.amount_refunded == Decimal("100.00") and booking.total == Decimal("300.00")


def test_the_owner_may_refund_the_whole_removed_amount(paid, change, run_on_commit):
    booking = paid(policy="non_refundable", start=40, nights=5)
    with run_on_commit():
        result = change(booking, check_out=future(43), full_refund=True)
    assert result.change.terms.refund == Decimal("200.00")
    booking.refresh_from_db()
    assert booking.amount_refunded == Decimal("200.00")


def test_a_guest_cannot_ask_for_a_full_refund(paid, change):
    booking = paid(policy="non_refundable", start=40, nights=5)
    result = change(booking, check_out=future(43), by_guest=True, full_refund=True)
    assert result.change.terms.refund == 0 and result.refunds == []


def test_a_refund_that_shrank_since_it_was_shown_refuses(paid, change):
    booking = paid(policy="moderate", start=3, nights=5)
    from bookings.errors import ChangePriceChanged

    with pytest.raises(ChangePriceChanged):
        change(booking, check_out=future(6), by_guest=True, expected_difference=Decimal("-200.00"),
               expected_refund=Decimal("200.00"))
    booking.refresh_from_db()
    assert booking.check_out == future(8) and not Refund.objects.filter(payment__booking=booking).exists()


def test_money_stays_derived_from_the_rows_after_a_shorten_then_extend(paid, change, run_on_commit):
    booking = paid(policy="moderate", start=40, nights=5)
    with run_on_commit():
        change(booking, check_out=future(43))
    with run_on_commit():
        change(booking, check_out=future(46))
    booking.refresh_from_db()
    paid_total, refunded = payment_services.payment_totals(booking.pk)
    assert (booking.amount_paid, booking.amount_refunded) == (paid_total, refunded)
    assert booking.total == Decimal("600.00") and booking.balance_due == Decimal("100.00")
