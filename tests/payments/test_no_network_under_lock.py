"""No call to Stripe while a transaction or a row lock is open (issue 11, item 6).

Every StripeProvider call is wrapped: at the moment of the call the test's connection
must not be inside ``transaction.atomic()``, and a *second* database connection must be
able to lock, without waiting (``FOR UPDATE NOWAIT``), the property row (the booking
mutex) and the booking's payment rows. Transactional tests: the ``db`` fixture wraps
every test in a transaction that would make ``in_atomic_block`` always true, and
on-commit work (where the Stripe calls now happen) runs for real here.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest
from django.db import connection, connections
from django.db.utils import OperationalError

from bookings.models import Booking, BookingStatus
from core.actor import Actor
from payments import services
from payments.models import Payment, PaymentStatus, Refund, RefundStatus
from payments.providers.stripe import StripeProvider
from tests.factories import PropertyFactory
from tests.payments.conftest import THREE_DS, VISA, intent_dict, let_hold_run_out, take_dates
from tests.payments.test_refunds import at_days_before, stripe_refunded

pytestmark = pytest.mark.django_db(transaction=True)
GUEST = Actor.guest("ada@example.com")
GUARDED = ("create_payment", "retrieve", "cancel", "refund", "find_refund")


def _booking_id(args) -> int:
    first = args[0]
    if isinstance(first, Payment):
        return first.booking_id
    return Payment.objects.filter(provider_ref=first).values_list("booking_id", flat=True).get()


def _lockable(table: str, ids: list[int]) -> bool:
    """Whether another connection can lock these rows right now, without waiting."""
    other = connections.create_connection("default")
    try:
        other.set_autocommit(False)
        with other.cursor() as cursor:
            cursor.execute(f"SELECT id FROM {table} WHERE id = ANY(%s) FOR UPDATE NOWAIT", [ids])  # noqa: S608
        return True
    except OperationalError:  # LockNotAvailable: someone holds the lock
        return False
    finally:
        other.rollback()
        other.close()


@dataclass
class StripeCallGuard:
    calls: list[str] = field(default_factory=list)
    violations: list[str] = field(default_factory=list)

    def check(self, name: str, args) -> None:
        """Recorded rather than raised: a raise inside an after-commit task would only be logged."""
        self.calls.append(name)
        if connection.in_atomic_block:
            self.violations.append(f"{name}: called inside transaction.atomic()")
        booking = Booking.objects.get(pk=_booking_id(args))
        if not _lockable("properties_property", [booking.property_id]):
            self.violations.append(f"{name}: the property row is locked during the call")
        payment_ids = list(Payment.objects.filter(booking=booking).values_list("pk", flat=True))
        if payment_ids and not _lockable("payments_payment", payment_ids):
            self.violations.append(f"{name}: a payment row is locked during the call")


@pytest.fixture
def guard(monkeypatch):
    """Install the guard on every StripeProvider call the services make (after the fixtures set things up)."""
    g = StripeCallGuard()

    def install():
        for name in GUARDED:
            original = getattr(StripeProvider, name, None)
            if original is None:
                continue

            def wrapper(self, *args, _original=original, _name=name, **kwargs):
                g.check(_name, args)
                return _original(self, *args, **kwargs)

            monkeypatch.setattr(StripeProvider, name, wrapper)
        return g

    return install


def paid_booking(book, card, policy="flexible"):
    booking = book(PropertyFactory(cancellation_policy=policy), start=40, nights=3)
    assert services.start_card_payment(booking_id=booking.pk, payment_method_id=card(booking, VISA),
                                       actor=GUEST).status == "succeeded"
    booking.refresh_from_db()
    return booking


def test_a_guest_cancellation_refunds_with_no_transaction_or_lock_open(book, card, guard):
    booking = paid_booking(book, card)
    g = guard()

    result = services.cancel_with_refund(booking_id=booking.pk, actor=GUEST, reason="Plans changed",
                                         at=at_days_before(booking, 5))

    assert "refund" in g.calls and g.violations == []
    booking.refresh_from_db()
    assert booking.status == BookingStatus.CANCELLED and booking.amount_refunded == booking.total
    refund, = result.refunds
    refund.refresh_from_db()
    assert refund.status == RefundStatus.SUCCEEDED and refund.provider_ref.startswith("re_")
    assert stripe_refunded(Payment.objects.get(booking=booking)) == int(booking.total * 100)


def test_an_owner_refund_and_cancellation_of_open_attempts_call_stripe_after_commit(book, prop, card, guard):
    booking = paid_booking(book, card)
    other = book(prop, start=60)
    attempt = services.start_card_payment(booking_id=other.pk, payment_method_id=card(other, THREE_DS),
                                          actor=GUEST).payment
    g = guard()

    owner = Actor.for_user(booking.property.owner)
    services.refund_booking(booking_id=booking.pk, amount=booking.total / 2, actor=owner, reason="Broken heater")
    services.cancel_with_refund(booking_id=other.pk, actor=owner, reason="Double-booked by phone", by_owner=True)

    assert sorted(set(g.calls)) == ["cancel", "refund"] and g.violations == []
    attempt.refresh_from_db()
    assert attempt.status == PaymentStatus.CANCELED
    assert StripeProvider().retrieve(attempt.provider_ref).status == "canceled"


def test_webhook_follow_ups_call_stripe_after_the_event_transaction(reserved, prop, card, authenticate, post_event,
                                                                     guest_input, settings, guard):
    """An automatic refund (a late payment for dates taken meanwhile) and the cancellation of the intents of a
    released reservation are decided inside the webhook's transaction and sent to Stripe after it."""
    late = reserved()
    paying = services.start_card_payment(booking_id=late.pk, payment_method_id=card(late, THREE_DS), actor=GUEST)
    let_hold_run_out(late)
    take_dates(prop, late, guest_input)
    authenticate(paying.client_secret, success=True)

    settings.PAYMENT_MAX_ATTEMPTS = 1
    released = reserved(start=80)
    failing = services.start_card_payment(booking_id=released.pk, payment_method_id=card(released, THREE_DS),
                                          actor=GUEST)
    authenticate(failing.client_secret, success=False)
    g = guard()

    assert post_event("payment_intent.succeeded", intent_dict(paying.payment.provider_ref)).status_code == 200
    failure = {**intent_dict(failing.payment.provider_ref), "status": "requires_payment_method",
               "last_payment_error": {"code": "card_declined", "message": "Your card was declined."}}
    assert post_event("payment_intent.payment_failed", failure).status_code == 200

    assert sorted(set(g.calls)) == ["cancel", "refund"] and g.violations == []
    assert Refund.objects.get(payment=paying.payment).status == RefundStatus.SUCCEEDED
    released.refresh_from_db()
    assert released.status == BookingStatus.CANCELLED
