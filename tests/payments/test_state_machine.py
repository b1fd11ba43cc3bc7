"""The payment state machine: forward only, one audit row per change, immutable audit rows."""

import itertools

import pytest

from core.models import ImmutableRowError
from payments.models import Payment, PaymentEvent
from payments.models import PaymentStatus as P
from payments.state_machine import TRANSITIONS, InvalidPaymentTransition, advance, apply_payment_transition

pytestmark = pytest.mark.django_db
ALL = [s.value for s in P]

EXPECTED = {
    (P.PENDING, P.REQUIRES_ACTION), (P.PENDING, P.SUCCEEDED), (P.PENDING, P.FAILED), (P.PENDING, P.CANCELED),
    (P.REQUIRES_ACTION, P.SUCCEEDED), (P.REQUIRES_ACTION, P.FAILED), (P.REQUIRES_ACTION, P.CANCELED),
    (P.FAILED, P.SUCCEEDED),
    (P.SUCCEEDED, P.PARTIALLY_REFUNDED), (P.SUCCEEDED, P.REFUNDED), (P.PARTIALLY_REFUNDED, P.REFUNDED),
}  # fmt: skip


@pytest.fixture
def payment(book, prop):
    booking = book(prop, start=30)
    return lambda status: Payment.objects.create(booking=booking, attempt=Payment.objects.count() + 1,
                                                 amount=booking.total, currency="EUR", status=status,
                                                 idempotency_key=f"k-{Payment.objects.count()}")


def test_the_table():
    assert set(TRANSITIONS) == set(ALL)
    assert {(a, b) for a, targets in TRANSITIONS.items() for b in targets} == {(str(a), str(b)) for a, b in EXPECTED}


@pytest.mark.parametrize(("a", "b"), list(itertools.product(ALL, ALL)))
def test_every_pair(payment, a, b):
    row = payment(a)
    if (a, b) in EXPECTED:
        apply_payment_transition(row, b, "test", "why")
        row.refresh_from_db()
        assert row.status == b
        event = PaymentEvent.objects.get(payment=row)
        assert (event.from_status, event.to_status, event.actor_label, event.reason) == (a, b, "test", "why")
        assert (row.succeeded_at is not None) == (b == P.SUCCEEDED)
    else:
        with pytest.raises(InvalidPaymentTransition):
            apply_payment_transition(row, b, "test")
        assert advance(row, b, "test") is False
        row.refresh_from_db()
        assert row.status == a and not PaymentEvent.objects.filter(payment=row).exists()


def test_audit_rows_are_immutable(payment):
    row = payment(P.PENDING)
    apply_payment_transition(row, P.SUCCEEDED, "test")
    event = PaymentEvent.objects.get()
    with pytest.raises(ImmutableRowError):
        event.save()
    with pytest.raises(ImmutableRowError):
        event.delete()
