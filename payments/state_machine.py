"""The payment state machine: one table, one function.

A payment (one attempt) moves forward only: a late or repeated provider event
that would move it backwards (``failed`` after ``succeeded``) is not in the
table, and :func:`advance` turns it into a no-op. ``failed → succeeded`` is legal
because the provider is the source of truth about money that arrived (a 3-D
Secure attempt reported failed can still complete).
"""

from __future__ import annotations

from django.utils import timezone

from bookings.errors import BookingError
from core import metrics
from core.actor import Actor

from .models import Payment, PaymentEvent
from .models import PaymentStatus as P

TRANSITIONS: dict[str, frozenset[str]] = {
    P.PENDING: frozenset({P.REQUIRES_ACTION, P.SUCCEEDED, P.FAILED, P.CANCELED}),
    P.REQUIRES_ACTION: frozenset({P.SUCCEEDED, P.FAILED, P.CANCELED}),
    P.FAILED: frozenset({P.SUCCEEDED}),
    P.SUCCEEDED: frozenset({P.PARTIALLY_REFUNDED, P.REFUNDED}),
    P.PARTIALLY_REFUNDED: frozenset({P.REFUNDED}),
    P.REFUNDED: frozenset(),
    P.CANCELED: frozenset(),
}


class InvalidPaymentTransition(BookingError):
    code = "invalid_payment_transition"
    http_status = 409

    def __init__(self, from_status: str, to_status: str):
        super().__init__(f"A payment cannot go from '{from_status}' to '{to_status}'.")
        self.from_status, self.to_status = from_status, to_status


def can_transition(from_status: str, to_status: str) -> bool:
    return to_status in TRANSITIONS.get(from_status, frozenset())


def as_actor(actor: Actor | str) -> Actor:
    """Who acts: an :class:`~core.actor.Actor`, or a label for the system (a provider's webhook, a sweeper)."""
    return actor if isinstance(actor, Actor) else Actor.system(actor)


def record_payment_event(payment: Payment, from_status: str, to_status: str, actor: Actor | str, reason: str = "",
                         *, at=None) -> PaymentEvent:
    return PaymentEvent.objects.create(payment=payment, from_status=from_status, to_status=to_status, reason=reason,
                                       created_at=at or timezone.now(), **PaymentEvent.actor_fields(as_actor(actor)))


# The outcomes of a card payment that payments_total counts (refunds are counted by their own rows, not here).
COUNTED_OUTCOMES = frozenset({P.SUCCEEDED, P.FAILED, P.CANCELED})


def apply_payment_transition(payment: Payment, to_status: str, actor: Actor | str, reason: str = "", *, at=None,
                             extra_fields: tuple[str, ...] = ()) -> Payment:
    """Move ``payment`` to ``to_status`` (caller holds its row lock, inside a transaction)."""
    from_status = payment.status
    if not can_transition(from_status, to_status):
        raise InvalidPaymentTransition(from_status, to_status)
    now = at or timezone.now()
    payment.status = to_status
    fields = ["status", "updated_at", *extra_fields]
    if to_status == P.SUCCEEDED:
        payment.succeeded_at = now
        fields.append("succeeded_at")
    payment.save(update_fields=fields)
    record_payment_event(payment, from_status, to_status, actor, reason, at=now)
    if to_status in COUNTED_OUTCOMES:  # payments_total (docs/operations.md), once committed
        metrics.count_after_commit(metrics.PAYMENTS, method="card", outcome=to_status)
    return payment


def advance(payment: Payment, to_status: str, actor: Actor | str, reason: str = "", **kwargs) -> bool:
    """Apply the transition if it is legal; a backwards or repeated one changes nothing. Returns whether it moved."""
    if not can_transition(payment.status, to_status):
        return False
    apply_payment_transition(payment, to_status, actor, reason, **kwargs)
    return True
