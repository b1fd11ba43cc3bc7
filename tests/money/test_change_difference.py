"""A booking change that raises the price charges the card saved at checkout (payments.changes wired to
payments.balances), after commit, once per change; a declined card emails the pay link instead."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core import mail

from core.actor import Actor
from payments import changes
from payments.models import Payment, PaymentPurpose

from .conftest import DECLINES_CHARGES

pytestmark = pytest.mark.django_db
OWNER = Actor.system("owner test")


def _extend(booking, run_on_commit):
    mail.outbox.clear()
    with run_on_commit():
        result = changes.change_with_payment(booking_id=booking.pk, actor=OWNER,
                                             check_out=booking.check_out + timedelta(days=1))
    booking.refresh_from_db()
    return result


def test_an_increase_is_charged_to_the_saved_card_once(paid_deposit, run_on_commit):
    booking = paid_deposit()
    paid_before = booking.amount_paid
    result = _extend(booking, run_on_commit)
    difference = result.change.terms.to_collect
    assert result.collection.method == "saved_card" and difference > 0
    [charge] = Payment.objects.filter(booking=booking, purpose=PaymentPurpose.CHANGE)
    assert (charge.status, charge.amount, charge.off_session) == ("succeeded", difference, True)
    assert booking.amount_paid == paid_before + difference
    assert "payment_request" not in [m.extra_headers["X-Stayhold-Email"] for m in mail.outbox]
    # the task redelivered with the same key charges nothing more
    key = charge.idempotency_key.rsplit("change-", 1)[1]
    assert changes.charge_change_difference_task(booking.pk, str(difference), key) == "already_charged"
    assert Payment.objects.filter(booking=booking, purpose=PaymentPurpose.CHANGE).count() == 1


def test_a_declined_saved_card_emails_the_pay_link(paid_deposit, swap_card, run_on_commit):
    booking = paid_deposit()
    swap_card(booking, DECLINES_CHARGES)
    result = _extend(booking, run_on_commit)
    assert result.collection.method == "saved_card"
    [charge] = Payment.objects.filter(booking=booking, purpose=PaymentPurpose.CHANGE)
    assert charge.status == "failed"
    sent = [m.extra_headers["X-Stayhold-Email"] for m in mail.outbox if m.to == ["ada@example.com"]]
    assert "balance_payment_failed" in sent
    assert booking.balance_due > 0


def test_a_moved_stay_takes_its_balance_day_deadline_and_deposit_hold_along(paid_deposit, run_on_commit):
    from payments.models import PaymentPlan

    booking = paid_deposit(start=60, nights=4)
    before = PaymentPlan.objects.get(booking=booking)
    week = timedelta(days=7)
    with run_on_commit():
        changes.change_with_payment(booking_id=booking.pk, actor=OWNER, check_in=booking.check_in + week,
                                    check_out=booking.check_out + week)
    after = PaymentPlan.objects.get(booking=booking)
    assert after.balance_due_on == before.balance_due_on + week
    assert after.deadline_on == before.deadline_on + week
    assert after.security_deposit_place_on == before.security_deposit_place_on + week
    assert after.security_deposit_release_on == before.security_deposit_release_on + week
    assert after.deposit == before.deposit  # what was due at booking stays what it was
