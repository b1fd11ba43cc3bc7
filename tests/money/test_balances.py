"""Deposit checkout, the off-session balance (success, decline, authentication, retries, a lost answer), the pay link,
reminders, the owner's deadline (flag, auto-cancel), and money consistency — against localstripe."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from bookings.models import BookingEvent, BookingStatus, SentEmail
from bookings.models import PaymentStatus as BP
from bookings.notifications import Kind
from core.money import round_money
from payments import balances, services
from payments.errors import ProviderError
from payments.models import CAPTURED_STATUSES, Payment, PaymentPlan, PaymentPurpose, PaymentStatus, SavedCard
from payments.providers.stripe import StripeProvider
from tests.money.conftest import DECLINES_CHARGES, GUEST, THREE_DS, VISA, due_today
from tests.payments.conftest import token

pytestmark = pytest.mark.django_db


def captured_sum(booking):
    return sum(Payment.objects.filter(booking=booking, status__in=CAPTURED_STATUSES).values_list("amount", flat=True),
               Decimal(0))


def test_the_checkout_charges_the_deposit_confirms_and_saves_the_card(paid_deposit):
    booking = paid_deposit()

    deposit = round_money(booking.total * Decimal("0.30"), "EUR")
    assert booking.status == BookingStatus.CONFIRMED  # confirmed on the deposit
    assert (booking.payment_status, booking.amount_paid) == (BP.PARTIALLY_PAID, deposit)
    assert booking.balance_due == booking.total - deposit
    payment = Payment.objects.get(booking=booking)
    assert (payment.amount, payment.purpose, payment.off_session) == (deposit, PaymentPurpose.BOOKING, False)
    plan = PaymentPlan.objects.get(booking=booking)
    assert plan.deposit == deposit and plan.balance_due_on == booking.check_in - timedelta(days=30)
    card = SavedCard.objects.get(booking=booking)
    assert card.customer_id.startswith("cus_") and card.payment_method_id.startswith("pm_")
    assert (card.brand, card.last4, card.exp_year) == ("visa", "4242", 2030)
    # The intent was made on the customer (so the card can be charged again off-session).
    intent = StripeProvider().client.v1.payment_intents.retrieve(payment.provider_ref).to_dict()
    assert intent["customer"] == card.customer_id and intent["amount"] == int(deposit * 100)


def test_the_page_and_setup_ask_for_the_deposit_only(client, reserved, deposit_schedule):
    booking = reserved(start=60)
    deposit = round_money(booking.total * Decimal("0.30"), "EUR")
    page = client.get(f"/payments/{booking.reference}/pay/?token={token(booking)}")
    assert page.status_code == 200
    assert page.context["page"].amount_due == deposit
    assert page.context["page"].balance_later == booking.total - deposit
    assert b"data-saves-card" in page.content and b"data-schedule" in page.content
    setup = client.post(f"/payments/{booking.reference}/setup", data={"token": token(booking)},
                        content_type="application/json")
    assert setup.status_code == 200 and setup.json()["amount"] == str(deposit)
    assert SavedCard.objects.get(booking=booking).customer_id.startswith("cus_")


def test_short_notice_pays_everything_and_saves_no_card_without_a_security_deposit(reserved, deposit_schedule,
                                                                                  saving_card):
    deposit_schedule.security_deposit = 0
    deposit_schedule.save()
    booking = reserved(start=10)  # sooner than the 30 balance days
    result = services.start_card_payment(booking_id=booking.pk, payment_method_id=saving_card(booking), actor=GUEST)
    booking.refresh_from_db()
    assert result.status == "succeeded"
    assert (booking.payment_status, booking.amount_paid) == (BP.PAID, booking.total)
    assert not SavedCard.objects.filter(booking=booking).exists()


def test_the_balance_is_charged_off_session_once(paid_deposit):
    booking = paid_deposit()
    due_today(booking)
    balance = booking.balance_due

    first = balances.process_balances()
    second = balances.process_balances()  # the job again (beat overlap, a retry): nothing more

    assert first["charged"] == 1 and second["charged"] == 0
    booking.refresh_from_db()
    assert (booking.status, booking.payment_status, booking.amount_paid) == (BookingStatus.CONFIRMED, BP.PAID,
                                                                              booking.total)
    rows = Payment.objects.filter(booking=booking, purpose=PaymentPurpose.BALANCE)
    assert rows.count() == 1
    row = rows.get()
    assert (row.amount, row.status, row.off_session) == (balance, PaymentStatus.SUCCEEDED, True)
    assert row.idempotency_key == f"stayhold-{booking.reference}-balance"
    intent = StripeProvider().client.v1.payment_intents.retrieve(row.provider_ref).to_dict()
    assert intent["status"] == "succeeded" and intent["amount"] == int(balance * 100)
    assert booking.amount_paid == captured_sum(booking)  # "paid" is the rows
    assert list(row.events.values_list("from_status", "to_status")) == [("", "pending"), ("pending", "succeeded")]


def test_a_declined_balance_emails_the_pay_link_and_the_guest_pays_it(paid_deposit, swap_card, client, saving_card,
                                                                      run_on_commit):
    booking = paid_deposit()
    swap_card(booking, DECLINES_CHARGES)
    due_today(booking)
    with run_on_commit():
        balances.process_balances()

    row = Payment.objects.get(booking=booking, purpose=PaymentPurpose.BALANCE)
    assert (row.status, row.failure_code) == (PaymentStatus.FAILED, "card_declined")
    booking.refresh_from_db()
    assert booking.status == BookingStatus.CONFIRMED and booking.payment_status == BP.PARTIALLY_PAID
    assert PaymentPlan.objects.get(booking=booking).balance_failed_at is not None
    email = SentEmail.objects.get(booking=booking, kind=Kind.BALANCE_PAYMENT_FAILED)
    assert email.to == "ada@example.com" and f"/payments/{booking.reference}/pay/" in email.data["pay_url"]
    assert email.data["amount"] == str(booking.balance_due)

    # The link: the page takes the confirmed booking's balance, and the guest pays it with another card.
    page = client.get(email.data["pay_url"].split("testserver")[-1].replace("http://localhost:8000", ""))
    assert page.status_code == 200 and page.context["page"].is_balance
    assert page.context["page"].amount_due == booking.balance_due
    result = services.start_card_payment(booking_id=booking.pk, payment_method_id=saving_card(booking, VISA),
                                         actor=GUEST)
    assert result.status == "succeeded"
    booking.refresh_from_db()
    assert (booking.payment_status, booking.amount_paid) == (BP.PAID, booking.total)
    assert booking.amount_paid == captured_sum(booking)
    # Nothing more can be paid.
    assert client.get(email.data["pay_url"].split("8000")[-1]).context["page"].state == "confirmed"


def test_a_card_that_needs_authentication_fails_off_session_and_its_intent_is_cancelled(paid_deposit, swap_card):
    booking = paid_deposit()
    swap_card(booking, THREE_DS)
    due_today(booking)
    balances.process_balances()

    row = Payment.objects.get(booking=booking, purpose=PaymentPurpose.BALANCE)
    assert (row.status, row.failure_code) == (PaymentStatus.FAILED, "authentication_required")
    assert StripeProvider().retrieve(row.provider_ref).status == "canceled"
    assert SentEmail.objects.filter(booking=booking, kind=Kind.BALANCE_PAYMENT_FAILED).count() == 1


def test_a_worker_dying_after_the_stripe_call_is_reconciled_without_a_second_charge(paid_deposit, monkeypatch):
    booking = paid_deposit()
    due_today(booking)
    seen = []
    real = StripeProvider.charge_off_session

    def lost_answer(self, payment, **kwargs):
        seen.append(real(self, payment, **kwargs)["id"])  # Stripe charged …
        raise ProviderError("connection reset")  # … and the answer never arrived

    monkeypatch.setattr(StripeProvider, "charge_off_session", lost_answer)
    balances.process_balances()
    row = Payment.objects.get(booking=booking, purpose=PaymentPurpose.BALANCE)
    assert row.status == PaymentStatus.PENDING and row.provider_ref is None
    monkeypatch.setattr(StripeProvider, "charge_off_session", real)

    assert balances.reconcile_off_session() == 0  # too early: another worker may still be on it
    later = timezone.now() + balances.RECONCILE_AFTER + timedelta(minutes=1)
    assert balances.process_balances(at=later)["reconciled"] == 1

    row.refresh_from_db()
    assert row.status == PaymentStatus.SUCCEEDED and row.provider_ref == seen[0]  # the same intent, replayed
    booking.refresh_from_db()
    assert booking.amount_paid == booking.total == captured_sum(booking)


def test_the_webhook_reconciles_an_off_session_charge_whose_answer_was_lost(paid_deposit, monkeypatch, post_event):
    from tests.payments.conftest import intent_dict

    booking = paid_deposit()
    due_today(booking)
    real = StripeProvider.charge_off_session
    seen = []

    def lost_answer(self, payment, **kwargs):
        seen.append(real(self, payment, **kwargs)["id"])
        raise ProviderError("timeout")

    monkeypatch.setattr(StripeProvider, "charge_off_session", lost_answer)
    balances.process_balances()
    response = post_event("payment_intent.succeeded", intent_dict(seen[0]))
    assert response.status_code == 200
    row = Payment.objects.get(booking=booking, purpose=PaymentPurpose.BALANCE)
    assert row.status == PaymentStatus.SUCCEEDED and row.provider_ref == seen[0]
    booking.refresh_from_db()
    assert booking.payment_status == BP.PAID


def test_without_a_saved_card_the_guest_gets_the_link(paid_deposit):
    booking = paid_deposit()
    SavedCard.objects.filter(booking=booking).delete()
    due_today(booking)
    balances.process_balances()
    balances.process_balances()
    assert not Payment.objects.filter(booking=booking, purpose=PaymentPurpose.BALANCE).exists()
    assert SentEmail.objects.filter(booking=booking, kind=Kind.BALANCE_REQUEST).count() == 1


def test_reminders_then_the_deadline_flags_and_auto_cancels_under_the_policy(paid_deposit, swap_card, deposit_schedule,
                                                                            run_on_commit):
    deposit_schedule.auto_cancel = True
    deposit_schedule.save()
    booking = paid_deposit()
    swap_card(booking, DECLINES_CHARGES)
    due_today(booking, deadline_on=timezone.localdate() + timedelta(days=2))
    with run_on_commit():
        balances.process_balances()  # the charge fails; 2 days before the deadline: a reminder
    assert SentEmail.objects.filter(booking=booking, kind=Kind.BALANCE_REMINDER).count() == 1
    balances.process_balances()
    assert SentEmail.objects.filter(booking=booking, kind=Kind.BALANCE_REMINDER).count() == 1  # once per day

    PaymentPlan.objects.filter(booking=booking).update(deadline_on=timezone.localdate() - timedelta(days=1))
    paid = booking.amount_paid
    with run_on_commit():
        result = balances.process_balances()
    assert result["flagged"] == 1
    plan = PaymentPlan.objects.get(booking=booking)
    booking.refresh_from_db()
    assert plan.flagged_at is not None
    assert booking.status == BookingStatus.CANCELLED  # the owner chose auto-cancel
    # Refunded under the policy snapshot (the deposit paid, at the policy's percentage for this date).
    refunded = booking.amount_refunded
    assert 0 <= refunded <= paid
    owner_mail = SentEmail.objects.get(booking=booking, kind=Kind.OWNER_BALANCE_OVERDUE)
    assert owner_mail.data["cancelled"] is True
    assert BookingEvent.objects.filter(booking=booking, reason__contains="unpaid at the owner's deadline").exists()
    assert balances.process_balances()["flagged"] == 0  # once


def test_the_deadline_only_flags_when_the_owner_did_not_choose_auto_cancel(paid_deposit):
    booking = paid_deposit()
    SavedCard.objects.filter(booking=booking).delete()
    due_today(booking, deadline_on=timezone.localdate())
    balances.process_balances()
    booking.refresh_from_db()
    assert booking.status == BookingStatus.CONFIRMED
    assert PaymentPlan.objects.get(booking=booking).flagged_at is not None
    assert SentEmail.objects.get(booking=booking, kind=Kind.OWNER_BALANCE_OVERDUE).data["cancelled"] is False


def test_charge_saved_card_for_other_flows(paid_deposit):
    booking = paid_deposit()
    payment = balances.charge_saved_card(booking.pk, Decimal("50.00"), "booking change", key="change-1",
                                         purpose=PaymentPurpose.CHANGE)
    assert payment is not None and payment.status == PaymentStatus.SUCCEEDED and payment.amount == Decimal("50.00")
    assert balances.charge_saved_card(booking.pk, Decimal("50.00"), "booking change", key="change-1") is None
    assert balances.charge_saved_card(booking.pk, booking.total, "too much") is None  # more than the balance
    booking.refresh_from_db()
    assert booking.amount_paid == captured_sum(booking)


def test_a_balance_request_is_sent_once_a_day_and_audited(paid_deposit):
    from bookings.models import Booking

    booking = paid_deposit()
    row = balances.request_balance(booking_id=booking.pk, actor=GUEST)
    assert row.kind == Kind.BALANCE_REQUEST and row.data["amount"] == str(booking.balance_due)
    with pytest.raises(balances.BalanceRequestRefused):
        balances.request_balance(booking_id=booking.pk, actor=GUEST)
    assert BookingEvent.objects.filter(booking=booking, reason__startswith="Balance request").count() == 1
    Booking.objects.filter(pk=booking.pk).update(amount_paid=booking.total)
    with pytest.raises(balances.BalanceRequestRefused):
        balances.request_balance(booking_id=booking.pk, actor=GUEST)
