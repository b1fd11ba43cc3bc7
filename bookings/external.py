"""The set-based entry point of the booking services for channel imports: a whole snapshot's stays at once.

``bookings.services.import_external`` imports one channel stay: it locks the property, expires stale holds, reads
what overlaps the stay, prices it, inserts the guest, the booking, its audit row and its outbox event — about a
dozen statements. A feed of 2,000 events paid that 2,000 times. :func:`fit_external_stays` gives the same answer
for a list of stays in a handful of statements:

* It runs the caller's "fit" loop (``channels.reconcile``): each stay, in the order given, is imported if it
  collides with nothing (``import_external(allow_overlap=False)``), and the stays that collided are tried again
  while any pass succeeds (a stay may take nights another one just left). It decides that loop **in memory**,
  against the property's occupancy read once under the property lock (every occupying booking in any lane, and the
  owner blocks; channel blocks are never in the way, as in ``import_external``), with the nights each decision
  takes or frees applied as it goes. The same rule, the same order, so the same stays fit, in the same order.
* Then it writes. The moves and lane changes of existing stays (few: a changed feed moves one or two stays) go
  through ``import_external`` itself, one by one, in the loop's order; new stays are inserted together: their guest
  profiles in one ``INSERT``, the bookings in one, their audit rows in one, their ``booking.created`` outbox events
  in one (``core.outbox.emit_many``). Moves are written before creations: a move only ever takes nights that were
  free when the loop placed it (new stays placed earlier are not written yet, so the database holds a subset of
  what the loop saw), and the creations come last, when the stays they replace have left their nights. The
  exclusion constraint checks every row as always; a violation (only a writer that skipped the property lock could
  cause one) rolls the whole transaction back.

What is written is what ``import_external`` would have written for each stay: the same booking fields (status
confirmed, paid by the channel, the quote of the property's prices, the policy sold, lane 0), the same audit row
("Imported from <platform>."), the same outbox event and payload. The ids, references and insertion order of the
rows differ, as they do between any two runs. ``tests/channels/test_set_import.py`` replays random feed sequences
through both paths and compares bookings, audit rows and outbox events.

The caller holds a transaction (the property lock is taken here again, a no-op when held).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime

from django.db import IntegrityError, transaction
from django.utils import timezone

from core import outbox
from core.actor import Actor
from core.context import current_cause
from guests.models import Guest
from guests.services import GuestInput, find_or_create_guest
from properties.policies import policy_snapshot_for
from properties.pricing import compute_quote, local_today, pricing_spec

from .errors import BookingError, ExternalBookingConflict
from .models import CALLED_OFF_STATUSES, AvailabilityBlock, Booking, BookingEvent, BookingStatus, PaymentStatus, Source
from .services import (
    EXCLUSION_VIOLATION,
    UNIQUE_VIOLATION,
    ImportResult,
    _apply_quote,
    _is_violation,
    _language,
    _validate_dates,
    expire_stale_for_property,
    import_external,
    lock_property,
    new_reference,
)
from .state_machine import booking_payload, count_created

S = BookingStatus
REFERENCE_ATTEMPTS = 5


@dataclass(frozen=True)
class ExternalStay:
    """One channel stay to import: keyed by (property, source, ``external_id``) like ``import_external``."""

    external_id: str
    check_in: date
    check_out: date
    guest: GuestInput
    adults: int = 1
    children: int = 0


@dataclass
class FitResult:
    """``fitted``: (index in the stays given, the outcome) in the order the loop placed them; ``rest``: the indexes
    of the stays that still collide, in the order the loop last tried them (the caller records them as
    overbookings)."""

    fitted: list[tuple[int, ImportResult]] = field(default_factory=list)
    rest: list[int] = field(default_factory=list)


def _nights(check_in: date, check_out: date) -> range:
    return range(check_in.toordinal(), check_out.toordinal())


@transaction.atomic
def fit_external_stays(*, property_id, source: str, stays: Sequence[ExternalStay],
                       at: datetime | None = None) -> FitResult:
    """Import every stay of ``stays`` that fits without overbooking, retried while any succeed (see the module
    docstring); the same outcome as calling ``import_external(allow_overlap=False)`` for each in that loop."""
    if source not in {s.value for s in Source} or source in (Source.DIRECT, Source.OWNER):
        raise BookingError(f"'{source}' is not a channel.")
    result = FitResult()
    if not stays:
        return result
    for stay in stays:
        _validate_dates(stay.check_in, stay.check_out)
    now = at or timezone.now()
    prop = lock_property(property_id)
    expire_stale_for_property(prop, now)  # what the first import_external of the loop would do

    existing = {b.external_id: b for b in Booking.objects.filter(
        property=prop, source=source, external_id__in=[s.external_id for s in stays])}
    low = min(s.check_in for s in stays)
    high = max(s.check_out for s in stays)
    # The nights taken, counted: every occupying stay (any lane) and every owner block on [low, high).
    taken: Counter[int] = Counter()
    where: dict[int, range] = {}  # booking id → the nights it holds in ``taken``
    for pk, check_in, check_out in (Booking.objects.filter(property=prop).occupying(now)
                                    .overlapping(low, high).values_list("pk", "check_in", "check_out")):
        where[pk] = _nights(check_in, check_out)
        taken.update(where[pk])
    for start, end in (AvailabilityBlock.objects.filter(property=prop, connection__isnull=True, start_date__lt=high,
                                                        end_date__gt=low).values_list("start_date", "end_date")):
        taken.update(_nights(start, end))

    order: list[int] = []
    pending = list(range(len(stays)))
    while pending:
        still = []
        for index in pending:
            stay = stays[index]
            booking = existing.get(stay.external_id)
            if booking is not None and booking.status in CALLED_OFF_STATUSES:
                still.append(index)  # import_external refuses to re-open it, in every pass
                continue
            own = where.get(booking.pk, range(0)) if booking is not None else range(0)
            nights = _nights(stay.check_in, stay.check_out)
            if any(taken[n] - (n in own) > 0 for n in nights):
                still.append(index)
                continue
            taken.subtract(own)
            taken.update(nights)
            if booking is not None:
                where[booking.pk] = nights
            order.append(index)
        if len(still) == len(pending):
            break
        pending = still
    result.rest = pending  # what the last pass left (empty when every stay was placed)

    outcomes: dict[int, ImportResult] = {}
    for index in order:  # moves and lane changes first, through the one-stay service, in the loop's order
        stay = stays[index]
        if stay.external_id in existing:
            outcomes[index] = import_external(
                property_id=prop.pk, source=source, external_id=stay.external_id, check_in=stay.check_in,
                check_out=stay.check_out, guest=stay.guest, adults=stay.adults, children=stay.children,
                allow_overlap=False, at=now)
    new = [index for index in order if stays[index].external_id not in existing]
    for index, booking in zip(new, _create(prop, source, [stays[i] for i in new], now), strict=True):
        outcomes[index] = ImportResult(booking, "created")
    result.fitted = [(index, outcomes[index]) for index in order]
    return result


def _create(prop, source: str, stays: list[ExternalStay], now: datetime) -> list[Booking]:
    """Insert new channel stays that collide with nothing, as ``import_external`` would one by one."""
    if not stays:
        return []
    guests = _guests([s.guest for s in stays])
    spec, today = pricing_spec(prop), local_today(prop, now)
    policy, language = policy_snapshot_for(prop), _language("", prop)
    bookings = []
    for stay, guest in zip(stays, guests, strict=True):
        booking = Booking(
            property=prop, guest=guest, source=source, external_id=stay.external_id, check_in=stay.check_in,
            check_out=stay.check_out, adults=stay.adults, children=stay.children, status=S.CONFIRMED,
            confirmed_at=now, payment_status=PaymentStatus.PAID, overbooking_lane=0, cancellation_policy=policy,
            platform_total=None, language=language)
        _apply_quote(booking, compute_quote(spec, stay.check_in, stay.check_out, stay.adults + stay.children, today))
        booking.amount_paid = booking.total  # the channel collected the payment
        bookings.append(booking)
    _insert(bookings, now)
    actor = Actor.channel(source)
    reason = f"Imported from {Source(source).label}."
    who, cause = BookingEvent.actor_fields(actor), current_cause()
    BookingEvent.objects.bulk_create([
        BookingEvent(booking=b, from_status="", to_status=b.status, reason=reason, created_at=now, cause=cause, **who)
        for b in bookings])
    outbox.emit_many([("booking.created", "booking", b.pk, booking_payload(b)) for b in bookings])
    if bookings:
        count_created(bookings[0], amount=len(bookings))  # one source: the feed's
    return bookings


def _guests(inputs: list[GuestInput]) -> list[Guest]:
    """A guest profile per stay, as ``find_or_create_guest`` gives it: a new one for every input without an email
    (inserted together), the matching rules for the others."""
    out: list[Guest | None] = [None] * len(inputs)
    fresh = []
    for i, data in enumerate(inputs):
        if data.email.strip():
            out[i] = find_or_create_guest(data)
        else:
            fresh.append(i)
    created = Guest.objects.bulk_create([
        Guest(name=inputs[i].name.strip() or "Guest", email="", phone=inputs[i].phone.strip(),
              country=inputs[i].country.upper()) for i in fresh])
    for i, guest in zip(fresh, created, strict=True):
        out[i] = guest
    return [g for g in out if g is not None]


def _insert(bookings: list[Booking], now: datetime) -> None:
    """One INSERT for all, each with a fresh reference (drawn again for all on the rare collision)."""
    for _attempt in range(REFERENCE_ATTEMPTS):
        for booking in bookings:
            booking.reference = new_reference(now.year)
        try:
            with transaction.atomic():
                Booking.objects.bulk_create(bookings)
            return
        except IntegrityError as exc:
            if _is_violation(exc, EXCLUSION_VIOLATION, "booking_no_overlap"):
                raise ExternalBookingConflict() from exc  # only a writer that skipped the property lock
            if _is_violation(exc, UNIQUE_VIOLATION, "booking_unique_external_id") or "external_id" in str(exc):
                raise ExternalBookingConflict("This channel booking already exists.") from exc
            if "reference" not in str(exc):
                raise
            for booking in bookings:
                booking.pk = None
    raise BookingError("Could not allocate booking references; please retry.")
