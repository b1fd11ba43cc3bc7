"""Card payments against localstripe: success, decline, 3-D Secure, retries, the return path."""

from decimal import Decimal

import pytest

from bookings.models import Booking, BookingEvent, BookingStatus
from bookings.models import PaymentStatus as BP
from core.actor import Actor
from core.models import OutboxEvent
from payments import services
from payments.errors import PaymentNotAllowed, TooManyAttempts
from payments.models import Payment, PaymentEvent, PaymentStatus
from payments.providers.stripe import StripeProvider
from tests.payments.conftest import DECLINED, THREE_DS, VISA, let_hold_run_out

pytestmark = pytest.mark.django_db
GUEST = Actor.guest("ada@example.com")


def pay(booking, pm):
    return services.start_card_payment(booking_id=booking.pk, payment_method_id=pm, actor=GUEST)


def test_visa_pays_and_confirms_the_booking(reserved, card):
    booking = reserved()
    result = pay(booking, card(booking, VISA))

    assert result.status == "succeeded" and result.client_secret == ""
    booking.refresh_from_db()
    assert booking.status == BookingStatus.CONFIRMED
    assert (booking.payment_status, booking.amount_paid, booking.amount_refunded) == (BP.PAID, booking.total, 0)
    payment = Payment.objects.get(booking=booking)
    assert (payment.status, payment.amount, payment.currency, payment.attempt) == (
        PaymentStatus.SUCCEEDED, booking.total, "EUR", 1)
    assert payment.provider_ref.startswith("pi_") and payment.succeeded_at is not None
    # The intent at Stripe: minor units, lower-case currency, booking id and reference in metadata.
    intent = StripeProvider().client.v1.payment_intents.retrieve(payment.provider_ref).to_dict()
    assert intent["amount"] == int(booking.total * 100) and intent["currency"] == "eur"
    assert intent["metadata"]["booking_id"] == str(booking.pk)
    assert intent["metadata"]["reference"] == booking.reference
    # Audit: payment pending → succeeded; booking reserved → confirmed, then the money recorded.
    assert list(payment.events.values_list("from_status", "to_status")) == [
        ("", "pending"), ("pending", "succeeded")]
    steps = list(BookingEvent.objects.filter(booking=booking).values_list("from_status", "to_status"))
    assert steps[-2:] == [("reserved", "confirmed"), ("confirmed", "confirmed")]
    assert OutboxEvent.objects.filter(aggregate_id=str(booking.pk), topic="booking.updated").count() >= 2


def test_the_amount_comes_from_the_booking_balance(reserved, card):
    booking = reserved(nights=4)
    pay(booking, card(booking))
    assert Payment.objects.get(booking=booking).amount == Booking.objects.get(pk=booking.pk).total


def test_a_declined_card_fails_the_attempt_and_keeps_the_reservation(reserved, card, run_on_commit):
    booking = reserved()
    with run_on_commit():  # the failed intent is cancelled after commit
        result = pay(booking, card(booking, DECLINED))

    assert result.status == "failed" and "declined" in result.error.lower()
    assert result.as_dict()["attempts_left"] == 2
    booking.refresh_from_db()
    assert booking.status == BookingStatus.RESERVED and booking.payment_status == BP.FAILED
    assert booking.amount_paid == 0
    payment = Payment.objects.get(booking=booking)
    assert (payment.status, payment.failure_code) == (PaymentStatus.FAILED, "card_declined")
    # The failed intent is cancelled at Stripe: it cannot be paid later by another route.
    assert StripeProvider().retrieve(payment.provider_ref).status == "canceled"

    # A retry with a good card works: attempt 2.
    result = pay(booking, card(booking, VISA))
    assert result.status == "succeeded"
    booking.refresh_from_db()
    assert booking.status == BookingStatus.CONFIRMED and booking.payment_status == BP.PAID
    assert list(booking.payments.values_list("attempt", "status")) == [(1, "failed"), (2, "succeeded")]


def test_three_failures_release_the_reservation(reserved, card, prop, book):
    booking = reserved()
    for attempt in (1, 2):
        assert pay(booking, card(booking, DECLINED)).status == "failed"
        booking.refresh_from_db()
        assert booking.status == BookingStatus.RESERVED, attempt
    result = pay(booking, card(booking, DECLINED))

    assert result.status == "failed" and result.booking.status == BookingStatus.CANCELLED
    booking.refresh_from_db()
    assert booking.status == BookingStatus.CANCELLED and "3 times" in booking.cancellation_reason
    assert booking.payment_status == BP.FAILED
    with pytest.raises(PaymentNotAllowed):
        pay(booking, card(booking, VISA))
    # The dates are free again for someone else.
    other = book(prop, start=40, nights=3)
    assert other.status == BookingStatus.RESERVED


def test_no_attempt_beyond_the_maximum(reserved, card, settings):
    settings.PAYMENT_MAX_ATTEMPTS = 1
    booking = reserved()
    pay(booking, card(booking, DECLINED))
    booking.refresh_from_db()
    assert booking.status == BookingStatus.CANCELLED
    with pytest.raises(PaymentNotAllowed):
        pay(booking, card(booking, VISA))
    assert booking.payments.count() == 1


def test_too_many_attempts_is_refused_before_charging(reserved, card, settings):
    booking = reserved()
    pay(booking, card(booking, DECLINED))
    settings.PAYMENT_MAX_ATTEMPTS = 1  # lowered after the failure: the booking is still reserved
    with pytest.raises(TooManyAttempts):
        pay(booking, card(booking, VISA))
    assert booking.payments.count() == 1


def test_three_d_secure_success_confirms_on_return(reserved, card, authenticate):
    booking = reserved()
    result = pay(booking, card(booking, THREE_DS))

    assert result.status == "requires_action" and result.client_secret.startswith("pi_")
    booking.refresh_from_db()
    assert booking.status == BookingStatus.RESERVED and booking.payment_status == BP.UNPAID
    payment = Payment.objects.get(booking=booking)
    assert payment.status == PaymentStatus.REQUIRES_ACTION

    assert authenticate(result.client_secret, success=True)["status"] == "succeeded"
    booking = services.sync_from_provider(booking_id=booking.pk)

    assert booking.status == BookingStatus.CONFIRMED and booking.payment_status == BP.PAID
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.SUCCEEDED
    # The return path again (or the webhook after it) changes nothing.
    events = PaymentEvent.objects.count(), BookingEvent.objects.count()
    services.sync_from_provider(booking_id=booking.pk)
    assert (PaymentEvent.objects.count(), BookingEvent.objects.count()) == events


def test_three_d_secure_failure_is_a_failed_attempt(reserved, card, authenticate):
    booking = reserved()
    result = pay(booking, card(booking, THREE_DS))
    authenticate(result.client_secret, success=False)

    booking = services.sync_from_provider(booking_id=booking.pk)

    payment = Payment.objects.get(booking=booking)
    assert payment.status == PaymentStatus.FAILED
    assert payment.failure_code == "payment_intent_authentication_failure"
    assert booking.status == BookingStatus.RESERVED and booking.payment_status == BP.FAILED
    assert services.attempts_left(booking) == 2


def test_a_new_attempt_cancels_the_one_waiting_for_3ds(reserved, card):
    booking = reserved()
    first = pay(booking, card(booking, THREE_DS))
    assert first.status == "requires_action"

    second = pay(booking, card(booking, VISA))

    assert second.status == "succeeded"
    first.payment.refresh_from_db()
    assert first.payment.status == PaymentStatus.CANCELED
    assert StripeProvider().retrieve(first.payment.provider_ref).status == "canceled"
    booking.refresh_from_db()
    assert booking.payment_status == BP.PAID and booking.amount_paid == booking.total


def test_an_expired_hold_cannot_be_paid(reserved, card):
    booking = reserved()
    pm = card(booking)
    let_hold_run_out(booking)
    with pytest.raises(PaymentNotAllowed):
        pay(booking, pm)
    assert not booking.payments.exists()


def test_a_paid_booking_cannot_be_paid_again(reserved, card):
    booking = reserved()
    pay(booking, card(booking))
    with pytest.raises(PaymentNotAllowed):
        pay(booking, card(booking))
    assert booking.payments.count() == 1


def test_an_unusable_payment_method_is_a_provider_error_not_a_lost_attempt(reserved):
    from payments.errors import ProviderError

    booking = reserved()
    with pytest.raises(ProviderError):
        pay(booking, "pm_doesnotexist")
    payment = Payment.objects.get(booking=booking)
    assert payment.status == PaymentStatus.CANCELED and payment.failure_code == "provider_error"
    assert services.attempts_left(booking) == 3
    booking.refresh_from_db()
    assert booking.status == BookingStatus.RESERVED and booking.amount_paid == Decimal(0)
