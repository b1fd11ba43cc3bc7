"""The booking state machine: one transition table, one function that applies it.

Every change of status goes through :func:`apply_transition`, which refuses
anything not in :data:`TRANSITIONS`, stamps the milestone time, and writes the
immutable :class:`~bookings.models.BookingEvent` and the outbox event in the
caller's transaction.
"""

from __future__ import annotations

from django.utils import timezone
from prometheus_client import Counter

from core import metrics, outbox
from core.actor import Actor

from .errors import InvalidTransition
from .models import EXPIRING_STATUSES, Booking, BookingEvent, Source
from .models import BookingStatus as S

TRANSITIONS: dict[str, frozenset[str]] = {
    S.INQUIRY: frozenset({S.RESERVED, S.CANCELLED}),
    S.HELD: frozenset({S.RESERVED, S.RELEASED, S.EXPIRED}),
    S.RESERVED: frozenset({S.CONFIRMED, S.CANCELLED, S.EXPIRED}),
    S.CONFIRMED: frozenset({S.CHECKED_IN, S.CANCELLED}),
    S.CHECKED_IN: frozenset({S.CHECKED_OUT}),
    S.CHECKED_OUT: frozenset(),
    S.CANCELLED: frozenset(),
    # Only through services.confirm_late_payment (a payment that arrived after the hold ran out, dates still free).
    S.EXPIRED: frozenset({S.CONFIRMED}),
    S.RELEASED: frozenset(),
}
# The status a booking may be created in, by kind of creation.
INITIAL_STATUSES = frozenset({S.INQUIRY, S.HELD, S.RESERVED, S.CONFIRMED})
ENDING_TOPICS: dict[str, str] = {
    S.CANCELLED: "booking.cancelled", S.EXPIRED: "booking.cancelled", S.RELEASED: "booking.cancelled"}
# The counters of docs/operations.md ("Metrics"), counted here because every booking is created and every status
# changed through this module; once committed, and not for history written by a backfill (the demo's past year).
TRANSITION_COUNTERS: dict[str, Counter] = {S.CANCELLED: metrics.BOOKINGS_CANCELLED, S.EXPIRED: metrics.BOOKINGS_EXPIRED}


def _count(counter, booking: Booking, amount: int = 1) -> None:
    if not outbox.is_backfill():
        metrics.count_after_commit(counter, amount=amount, source=metrics.bounded(booking.source, Source.values))


def can_transition(from_status: str, to_status: str) -> bool:
    return to_status in TRANSITIONS.get(from_status, frozenset())


def booking_payload(booking: Booking) -> dict:
    return {
        "booking_id": booking.pk,
        "reference": booking.reference,
        "property_id": booking.property_id,
        "source": booking.source,
        "external_id": booking.external_id,
        "status": booking.status,
        "payment_status": booking.payment_status,
        "check_in": booking.check_in.isoformat(),
        "check_out": booking.check_out.isoformat(),
    }


def record_event(booking: Booking, from_status: str, to_status: str, actor: Actor, reason: str = "", *, at=None):
    BookingEvent.objects.create(booking=booking, from_status=from_status, to_status=to_status, reason=reason,
                                created_at=at or timezone.now(), **BookingEvent.actor_fields(actor))


def record_creation(booking: Booking, actor: Actor, reason: str = "", *, at=None) -> None:
    """Audit and announce a booking row just inserted in its initial status."""
    if booking.status not in INITIAL_STATUSES:
        raise InvalidTransition("", booking.status)
    record_event(booking, "", booking.status, actor, reason, at=at)
    outbox.emit("booking.created", "booking", booking.pk, booking_payload(booking))
    _count(metrics.BOOKINGS_CREATED, booking)


def count_created(booking: Booking, amount: int = 1) -> None:
    """``bookings_created_total`` once the transaction commits, for bookings inserted by their own statements
    (``amount`` of them, all of ``booking``'s source)."""
    _count(metrics.BOOKINGS_CREATED, booking, amount)


def apply_transition(booking: Booking, to_status: str, actor: Actor, reason: str = "", *, at=None,
                     extra_fields: tuple[str, ...] = ()) -> Booking:
    """Move ``booking`` to ``to_status`` (caller holds the property lock, inside a transaction)."""
    from_status = booking.status
    if not can_transition(from_status, to_status):
        raise InvalidTransition(from_status, to_status)
    now = at or timezone.now()
    booking.status = to_status
    setattr(booking, f"{to_status}_at", now)
    fields = ["status", f"{to_status}_at", "updated_at", *extra_fields]
    if to_status not in EXPIRING_STATUSES:
        booking.expires_at = None
        fields.append("expires_at")
    booking.save(update_fields=fields)
    record_event(booking, from_status, to_status, actor, reason, at=now)
    outbox.emit(ENDING_TOPICS.get(to_status, "booking.updated"), "booking", booking.pk,
                {**booking_payload(booking), "from_status": from_status})
    if to_status in TRANSITION_COUNTERS:
        _count(TRANSITION_COUNTERS[to_status], booking)
    return booking
