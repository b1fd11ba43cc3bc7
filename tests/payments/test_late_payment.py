"""Payments that arrive late: after the hold ran out, after someone else took the dates, twice, concurrently."""

import threading

import pytest
from django.db import connection

from bookings import services as booking_services
from bookings.blocks import create_block
from bookings.models import Booking, BookingStatus
from bookings.models import PaymentStatus as BP
from core.actor import Actor
from payments import services, webhooks
from payments.models import Payment, PaymentStatus, Refund
from payments.providers.stripe import StripeProvider
from tests.payments.conftest import THREE_DS, VISA, intent_dict, let_hold_run_out, take_dates

GUEST = Actor.guest("ada@example.com")


def pay(booking, pm):
    return services.start_card_payment(booking_id=booking.pk, payment_method_id=pm, actor=GUEST)


def occupying(prop):
    return list(Booking.objects.filter(property=prop).occupying().values_list("pk", flat=True))


@pytest.fixture
def late(reserved, card, authenticate):
    """A booking whose guest started paying (3-D Secure), took too long, then completed at Stripe."""

    def _late():
        booking = reserved()
        result = pay(booking, card(booking, THREE_DS))
        let_hold_run_out(booking)
        authenticate(result.client_secret, success=True)
        return booking, result.payment

    return _late


@pytest.mark.django_db
def test_late_payment_with_dates_still_free_confirms(late, prop):
    booking, payment = late()
    booking = services.sync_from_provider(booking_id=booking.pk)
    assert booking.status == BookingStatus.CONFIRMED and booking.payment_status == BP.PAID
    assert booking.expires_at is None and occupying(prop) == [booking.pk]
    assert not Refund.objects.exists()


@pytest.mark.django_db
def test_late_payment_after_the_expiry_job_ran_still_confirms_if_free(late, prop):
    booking, payment = late()
    booking_services.expire_stale_bookings()
    booking.refresh_from_db()
    assert booking.status == BookingStatus.EXPIRED

    booking = services.sync_from_provider(booking_id=booking.pk)

    assert booking.status == BookingStatus.CONFIRMED and booking.payment_status == BP.PAID
    steps = list(booking.events.values_list("from_status", "to_status"))
    assert ("expired", "confirmed") in steps


@pytest.mark.django_db
def test_late_payment_for_taken_dates_is_refunded_and_never_double_books(late, prop, guest_input, post_event,
                                                                        run_on_commit):
    booking, payment = late()
    other = take_dates(prop, booking, guest_input)
    booking.refresh_from_db()
    assert booking.status == BookingStatus.EXPIRED

    with run_on_commit():  # the automatic refund is sent to Stripe after the webhook's transaction
        response = post_event("payment_intent.succeeded", intent_dict(payment.provider_ref))

    assert response.status_code == 200
    booking.refresh_from_db()
    assert booking.status == BookingStatus.EXPIRED
    assert (booking.payment_status, booking.amount_paid, booking.amount_refunded) == (
        BP.REFUNDED, booking.total, booking.total)
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.REFUNDED
    refund = Refund.objects.get(payment=payment)
    assert refund.amount == booking.total and "dates were taken" in refund.reason
    assert sum(r.amount for r in StripeProvider().client.v1.refunds.list(
        params={"payment_intent": payment.provider_ref}).data) == int(booking.total * 100)
    assert occupying(prop) == [other.pk]
    # The guest is told: the audit says why the money went back.
    assert booking.events.filter(reason__contains="Refunded automatically").exists()
    # The return path afterwards changes nothing.
    services.sync_from_provider(booking_id=booking.pk)
    assert Refund.objects.count() == 1


@pytest.mark.django_db
def test_late_payment_for_dates_blocked_by_the_owner_is_refunded(late, prop):
    booking, payment = late()
    create_block(property_id=prop.pk, start_date=booking.check_in, end_date=booking.check_out)
    booking = services.sync_from_provider(booking_id=booking.pk)
    assert booking.status == BookingStatus.EXPIRED and booking.payment_status == BP.REFUNDED
    assert occupying(prop) == []


@pytest.mark.django_db
def test_payment_for_a_cancelled_booking_is_refunded(reserved, card, authenticate):
    booking = reserved()
    result = pay(booking, card(booking, THREE_DS))
    booking_services.cancel(booking_id=booking.pk, actor=GUEST, reason="Changed my mind")
    authenticate(result.client_secret, success=True)  # completes 3-D Secure in an old tab

    booking = services.sync_from_provider(booking_id=booking.pk)

    assert booking.status == BookingStatus.CANCELLED and booking.payment_status == BP.REFUNDED
    assert Refund.objects.get().amount == booking.total


@pytest.mark.django_db
def test_a_new_attempt_finds_the_previous_one_paid_and_charges_nothing(reserved, card, authenticate):
    """Two tabs: attempt 1 completed 3-D Secure but the app has not heard; the guest tries another card."""
    from payments.errors import PaymentNotAllowed

    booking = reserved()
    first = pay(booking, card(booking, THREE_DS))
    authenticate(first.client_secret, success=True)
    pm = card(booking, VISA)

    with pytest.raises(PaymentNotAllowed):
        pay(booking, pm)

    booking.refresh_from_db()
    assert booking.status == BookingStatus.CONFIRMED and booking.payment_status == BP.PAID
    assert list(booking.payments.values_list("attempt", "status")) == [(1, "succeeded")]


@pytest.mark.django_db
def test_a_duplicate_success_for_a_paid_booking_is_refunded(reserved, card, post_event):
    booking = reserved()
    first = pay(booking, card(booking, VISA)).payment
    # A stray second attempt that succeeded at Stripe (e.g. created by a crashed earlier request).
    stray = Payment.objects.create(booking=booking, attempt=2, amount=booking.total, currency="EUR",
                                   idempotency_key="stray-2", status=PaymentStatus.PENDING)
    client = StripeProvider().client
    pi = client.v1.payment_intents.create(params={
        "amount": int(booking.total * 100), "currency": "eur", "payment_method": "pm_card_visa",
        "metadata": {"booking_id": str(booking.pk), "payment_id": str(stray.pk)}})  # as create_payment sets it
    client.v1.payment_intents.confirm(pi.id)

    post_event("payment_intent.succeeded", intent_dict(pi.id))

    booking.refresh_from_db()
    stray.refresh_from_db()
    assert stray.status == PaymentStatus.REFUNDED and stray.provider_ref == pi.id
    assert (booking.amount_paid, booking.amount_refunded) == (2 * booking.total, booking.total)
    assert Payment.objects.get(pk=first.pk).status == PaymentStatus.SUCCEEDED


@pytest.mark.django_db
def test_a_failure_after_the_hold_ran_out_expires_the_reservation(reserved, card, authenticate):
    booking = reserved()
    result = pay(booking, card(booking, THREE_DS))
    let_hold_run_out(booking)
    authenticate(result.client_secret, success=False)
    booking = services.sync_from_provider(booking_id=booking.pk)
    assert booking.status == BookingStatus.EXPIRED and booking.payment_status == BP.FAILED


@pytest.mark.django_db(transaction=True)
def test_webhook_and_return_path_at_the_same_time_confirm_once(reserved, card, authenticate):
    booking = reserved()
    result = pay(booking, card(booking, THREE_DS))
    authenticate(result.client_secret, success=True)
    intent = StripeProvider().retrieve(result.payment.provider_ref)
    barrier = threading.Barrier(4)
    errors = []

    def run(fn):
        try:
            barrier.wait()
            fn()
        except Exception as exc:  # reported below
            errors.append(exc)
        finally:
            connection.close()

    calls = [lambda: services.sync_from_provider(booking_id=booking.pk),
             lambda: services.handle_intent_succeeded(intent),
             lambda: webhooks.process_webhook_event(event_id="evt_same", event_type="payment_intent.succeeded",
                                                    obj=intent_dict(intent.id)),
             lambda: webhooks.process_webhook_event(event_id="evt_same", event_type="payment_intent.succeeded",
                                                    obj=intent_dict(intent.id))]
    threads = [threading.Thread(target=run, args=(fn,)) for fn in calls]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert errors == []
    booking.refresh_from_db()
    assert booking.status == BookingStatus.CONFIRMED and booking.payment_status == BP.PAID
    assert booking.events.filter(to_status="confirmed", from_status="reserved").count() == 1
    assert result.payment.events.filter(to_status="succeeded").count() == 1


@pytest.mark.django_db
def test_paying_at_the_last_second_while_the_dates_go_is_refunded_and_reported(reserved, card, prop, guest_input,
                                                                               monkeypatch):
    """The hold runs out and another guest books the dates while Stripe is charging the card."""
    booking = reserved()
    pm = card(booking, VISA)
    original = StripeProvider.create_payment

    def slow_charge(self, payment, payment_method_id):
        result = original(self, payment, payment_method_id)
        let_hold_run_out(booking)
        take_dates(prop, booking, guest_input)
        return result

    monkeypatch.setattr(StripeProvider, "create_payment", slow_charge)
    result = pay(booking, pm)

    assert result.status == "refunded" and "refunded" in result.error
    assert result.as_dict()["booking_status"] == BookingStatus.EXPIRED
    booking.refresh_from_db()
    assert booking.payment_status == BP.REFUNDED and booking.amount_refunded == booking.total
    assert len(occupying(prop)) == 1 and booking.pk not in occupying(prop)
