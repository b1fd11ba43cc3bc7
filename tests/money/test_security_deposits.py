"""Security deposits against localstripe: placed as a manual-capture hold, released, claimed (partly), expired, the
state machine, manual ones."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from bookings import services as booking_services
from bookings.models import SentEmail
from bookings.notifications import Kind
from core.actor import Actor
from payments import security_deposits as sd
from payments.models import DepositStatus, PaymentPlan, Provider, SecurityDeposit, SecurityDepositEvent
from payments.providers.stripe import StripeProvider
from tests.money.conftest import DECLINES_CHARGES, GUEST, THREE_DS

pytestmark = pytest.mark.django_db
OWNER = Actor.system("owner in test")


def place_today(booking, release_in_days=3):
    today = timezone.localdate()
    PaymentPlan.objects.filter(booking=booking).update(
        security_deposit_place_on=today, security_deposit_release_on=today + timedelta(days=release_in_days))


def stripe_status(deposit):
    return StripeProvider().client.v1.payment_intents.retrieve(deposit.provider_ref).to_dict()["status"]


def test_placed_as_a_hold_once(paid_deposit):
    booking = paid_deposit()
    assert sd.process_security_deposits()["placed"] == 0  # not due yet
    place_today(booking)
    assert sd.process_security_deposits()["placed"] == 1
    assert sd.process_security_deposits()["placed"] == 0  # once

    deposit = SecurityDeposit.objects.get(booking=booking)
    assert (deposit.status, deposit.amount, deposit.provider) == (DepositStatus.HELD, Decimal(200), Provider.STRIPE)
    assert stripe_status(deposit) == "requires_capture"
    assert deposit.expires_at - deposit.authorised_at == timedelta(days=7)
    booking.refresh_from_db()
    assert booking.amount_paid < booking.total  # a hold is not a payment of the stay
    assert list(deposit.events.values_list("from_status", "to_status")) == [("", "pending"), ("pending", "held")]


def test_released_on_its_day_and_cancelled_at_stripe(paid_deposit):
    booking = paid_deposit()
    place_today(booking)
    sd.process_security_deposits()
    deposit = SecurityDeposit.objects.get(booking=booking)
    SecurityDeposit.objects.filter(pk=deposit.pk).update(release_on=timezone.localdate())
    assert sd.process_security_deposits()["released"] == 1
    deposit.refresh_from_db()
    assert deposit.status == DepositStatus.RELEASED and stripe_status(deposit) == "canceled"
    assert sd.release(deposit.pk).status == DepositStatus.RELEASED  # idempotent


def test_a_claim_captures_part_and_is_audited(paid_deposit):
    booking = paid_deposit()
    place_today(booking)
    sd.process_security_deposits()
    deposit = SecurityDeposit.objects.get(booking=booking)
    with pytest.raises(sd.DepositError):
        sd.claim(deposit.pk, amount=Decimal("200.01"), reason="Broken lamp", actor=OWNER)
    with pytest.raises(sd.DepositError):
        sd.claim(deposit.pk, amount=Decimal("40"), reason="  ", actor=OWNER)
    with pytest.raises(sd.DepositError):
        sd.claim(deposit.pk, amount=Decimal("0"), reason="Nothing", actor=OWNER)

    sd.claim(deposit.pk, amount=Decimal("40"), reason="Broken lamp", actor=OWNER)
    deposit.refresh_from_db()
    assert (deposit.status, deposit.captured_amount, deposit.claim_reason) == (DepositStatus.CLAIMED, Decimal(40),
                                                                               "Broken lamp")
    assert stripe_status(deposit) == "succeeded"
    assert SecurityDepositEvent.objects.filter(deposit=deposit, to_status="claimed",
                                               reason__contains="Broken lamp").exists()
    with pytest.raises(sd.DepositError):  # claimed: nothing more
        sd.claim(deposit.pk, amount=Decimal("10"), reason="Again", actor=OWNER)


def test_a_lapsed_hold_expires(paid_deposit):
    booking = paid_deposit()
    place_today(booking)
    sd.process_security_deposits()
    deposit = SecurityDeposit.objects.get(booking=booking)
    SecurityDeposit.objects.filter(pk=deposit.pk).update(expires_at=timezone.now() - timedelta(minutes=1),
                                                         release_on=timezone.localdate() + timedelta(days=9))
    assert sd.process_security_deposits()["expired"] == 1
    deposit.refresh_from_db()
    assert deposit.status == DepositStatus.EXPIRED


@pytest.mark.parametrize("number, code", [(DECLINES_CHARGES, "card_declined"), (THREE_DS, "authentication_required")])
def test_a_refused_hold_fails_and_tells_the_owner(paid_deposit, swap_card, number, code):
    booking = paid_deposit()
    swap_card(booking, number)
    place_today(booking)
    sd.process_security_deposits()
    deposit = SecurityDeposit.objects.get(booking=booking)
    assert (deposit.status, deposit.failure_code) == (DepositStatus.FAILED, code)
    assert SentEmail.objects.filter(booking=booking, kind=Kind.OWNER_SECURITY_DEPOSIT_FAILED).count() == 1
    assert sd.process_security_deposits()["placed"] == 0  # no automatic retry


def test_a_cancelled_booking_releases_its_hold(paid_deposit, run_on_commit):
    from payments.services import cancel_with_refund

    booking = paid_deposit()
    place_today(booking)
    sd.process_security_deposits()
    with run_on_commit():
        cancel_with_refund(booking_id=booking.pk, actor=OWNER, reason="Owner cancels", by_owner=True)
    assert sd.process_security_deposits()["released"] == 1
    assert SecurityDeposit.objects.get(booking=booking).status == DepositStatus.RELEASED


def test_the_transition_table_refuses_moves_backwards(paid_deposit):
    booking = paid_deposit()
    place_today(booking)
    sd.process_security_deposits()
    deposit = SecurityDeposit.objects.get(booking=booking)
    with pytest.raises(sd.InvalidDepositTransition):
        sd.apply_deposit_transition(deposit, DepositStatus.PENDING, OWNER, "back")
    for status, targets in sd.TRANSITIONS.items():
        assert status in DepositStatus.values and targets <= set(DepositStatus.values)


def test_a_manual_deposit_is_recorded_and_released_by_hand(paid_deposit):
    booking = paid_deposit()
    with pytest.raises(sd.DepositError):
        sd.record_manual(booking_id=booking.pk, amount=Decimal("-5"), reference="x", actor=OWNER)
    deposit = sd.record_manual(booking_id=booking.pk, amount=Decimal("150"), reference="IBAN transfer 42",
                               actor=OWNER)
    assert (deposit.status, deposit.provider) == (DepositStatus.HELD, Provider.MANUAL)
    with pytest.raises(sd.DepositError):  # one held at a time
        sd.record_manual(booking_id=booking.pk, amount=Decimal("150"), reference="again", actor=OWNER)
    sd.release(deposit.pk, actor=OWNER, reason="Returned by transfer.")
    deposit.refresh_from_db()
    assert deposit.status == DepositStatus.RELEASED
    assert "by hand" in deposit.events.last().reason


def test_a_checked_out_booking_is_released_after_its_release_day(paid_deposit):
    booking = paid_deposit()
    place_today(booking)
    sd.process_security_deposits()
    # the guest stays and leaves (statuses moved by the booking services)
    from bookings.models import Booking

    Booking.objects.filter(pk=booking.pk).update(check_in=timezone.localdate(),
                                                 check_out=timezone.localdate() + timedelta(days=1))
    booking_services.check_in(booking_id=booking.pk, actor=GUEST)
    booking_services.check_out(booking_id=booking.pk, actor=GUEST)
    assert sd.process_security_deposits()["released"] == 0  # release day not reached
    SecurityDeposit.objects.filter(booking=booking).update(release_on=timezone.localdate())
    assert sd.process_security_deposits()["released"] == 1
