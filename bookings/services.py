"""The booking services: the only code that writes bookings and holds.

Every function that changes occupancy runs in one transaction that:

1. locks the property row (``SELECT … FOR UPDATE``; on SQLite every
   transaction takes the write lock at BEGIN, see ``config.settings``),
2. expires the property's stale holds and reservations (so an expired hold
   never blocks, even when the periodic job is late),
3. re-checks availability under that lock, and
4. writes the booking, its audit row and its outbox event together.

On PostgreSQL the exclusion constraint ``booking_no_overlap`` is the last line:
a violation that slips past the check becomes :class:`DatesUnavailable`.

Functions take keyword arguments and return model instances; they raise the
domain errors of ``bookings.errors``.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import prefetch_related_objects
from django.utils import timezone
from django.utils.translation import gettext as _

from core import metrics, outbox
from core.actor import Actor
from core.money import ZERO, round_money
from guests.services import GuestInput, find_or_create_guest
from properties.models import Property
from properties.policies import policy_snapshot_for, refund_percent
from properties.pricing import local_today, quote

from . import statements
from .availability import CONFLICT_CODES, Reason, check_availability, occupying_bookings
from .changes import ChangeTerms, StayChange, change_terms, check_new_stay, current_stay, new_stay, refusal_to_change
from .errors import (
    BookingError,
    CancellationNotAllowed,
    ChangePriceChanged,
    CheckInTooEarly,
    DatesUnavailable,
    ExternalBookingConflict,
    GroupStayFailed,
    HoldExpired,
    HoldMismatch,
    InvalidGroup,
    InvalidTransition,
    PropertyUnavailable,
    RefundChanged,
    RefundNotAllowed,
    StayRuleViolation,
)
from .models import (
    CALLED_OFF_STATUSES,
    CANCELLABLE_STATUSES,
    CONFIRMABLE_BY_PAYMENT_STATUSES,
    CONFIRMATION_RESEND_STATUSES,
    AvailabilityBlock,
    Booking,
    BookingEvent,
    BookingGroup,
    BookingStatus,
    EmailStatus,
    GuestMessage,
    PaymentStatus,
    Referral,
    SentEmail,
    Source,
)
from .state_machine import apply_transition, booking_payload, record_creation, record_event

S = BookingStatus
REFERENCE_ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"  # no 0/O, 1/I/L
EXCLUSION_VIOLATION = "23P01"
UNIQUE_VIOLATION = "23505"


# --- helpers --------------------------------------------------------------------------------


def new_reference(year: int | None = None) -> str:
    code = "".join(secrets.choice(REFERENCE_ALPHABET) for _ in range(5))
    return f"PMS-{year or timezone.now().year}-{code}"


def lock_property(property_id, *, with_overrides: bool = False) -> Property:
    """Lock the property row for the rest of the transaction (the booking mutex).

    ``with_overrides`` reads its date overrides once for both the stay rules and the quote."""
    try:
        prop = Property.objects.select_for_update().get(pk=property_id)
    except Property.DoesNotExist:
        raise PropertyUnavailable("This property does not exist.") from None
    metrics.start_lock_clock()  # calendar_lock_duration_seconds: from here to the commit
    if with_overrides:
        prefetch_related_objects([prop], "date_overrides")
    return prop


def _lock_booking(booking_id) -> tuple[Booking, Property]:
    """Lock the property of a booking, then read the booking under that lock."""
    property_id = Booking.objects.filter(pk=booking_id).values_list("property_id", flat=True).first()
    if property_id is None:
        raise BookingError("This booking does not exist.")
    prop = lock_property(property_id)
    return Booking.objects.select_related("guest").get(pk=booking_id), prop


def expire_stale_for_property(prop: Property, now: datetime) -> int:
    """Mark the property's holds and reservations whose time ran out as expired (under its lock)."""
    stale = list(Booking.objects.filter(property=prop).stale(now))
    for booking in stale:
        apply_transition(booking, S.EXPIRED, Actor.system("expiry"), "Hold time ran out.", at=now)
    return len(stale)


def _raise_for(result) -> None:
    if result.available:
        return
    codes = result.codes
    if "property_inactive" in codes:
        raise PropertyUnavailable(reasons=result.reasons)
    if codes & CONFLICT_CODES:
        raise DatesUnavailable(reasons=result.reasons)
    raise StayRuleViolation(result.reasons[0].message, reasons=result.reasons)


def _ensure_available(prop, check_in, check_out, guests, now, *, enforce_rules=True, exclude_booking_id=None,
                      ignore_channel_blocks=False):
    expire_stale_for_property(prop, now)
    _raise_for(check_availability(prop, check_in, check_out, guests, at=now, enforce_rules=enforce_rules,
                                  exclude_booking_id=exclude_booking_id,
                                  ignore_channel_blocks=ignore_channel_blocks))


def _is_violation(exc: IntegrityError, sqlstate: str, name: str = "") -> bool:
    cause = exc.__cause__
    if getattr(cause, "sqlstate", None) == sqlstate:
        return not name or name in str(cause)
    return bool(name) and name in str(exc)


def _save_new(booking: Booking, now: datetime) -> Booking:
    """Insert a booking with a fresh reference; turn constraint violations into domain errors."""
    for _attempt in range(5):
        booking.reference = new_reference(now.year)
        try:
            with transaction.atomic():
                booking.save(force_insert=True)
            return booking
        except IntegrityError as exc:
            if _is_violation(exc, EXCLUSION_VIOLATION, "booking_no_overlap"):
                raise DatesUnavailable() from exc
            if _is_violation(exc, UNIQUE_VIOLATION, "booking_unique_external_id") or "external_id" in str(exc):
                raise ExternalBookingConflict("This channel booking already exists.") from exc
            if "reference" not in str(exc):
                raise
    raise BookingError("Could not allocate a booking reference; please retry.")


def _apply_quote(booking: Booking, q) -> None:
    booking.currency = q.currency
    booking.quote = q.as_dict()
    booking.subtotal = q.nightly_subtotal
    booking.fees = q.fees_total
    booking.discounts = q.discounts
    booking.taxes = q.taxes
    booking.total = q.total


def _validate_dates(check_in: date, check_out: date) -> None:
    if check_out <= check_in:
        raise StayRuleViolation("Check-out must be after check-in.")


# --- holds ---------------------------------------------------------------------------------


@transaction.atomic
def hold(*, property_id, check_in: date, check_out: date, adults: int, children: int = 0, email: str = "",
         actor: Actor, minutes: int | None = None, at: datetime | None = None) -> Booking:
    """Hold dates for a short time (``API_HOLD_MINUTES``) while a client gathers details."""
    now = at or timezone.now()
    _validate_dates(check_in, check_out)
    prop = lock_property(property_id, with_overrides=True)
    _ensure_available(prop, check_in, check_out, adults + children, now)
    guest = find_or_create_guest(GuestInput(name=email, email=email)) if email else None
    booking = Booking(
        property=prop, guest=guest, source=Source.DIRECT, check_in=check_in, check_out=check_out, adults=adults,
        children=children, status=S.HELD, held_at=now,
        expires_at=now + timedelta(minutes=minutes or settings.API_HOLD_MINUTES),
        cancellation_policy=policy_snapshot_for(prop),
    )
    _apply_quote(booking, quote(prop, check_in, check_out, adults + children, at=now))
    _save_new(booking, now)
    record_creation(booking, actor, "Hold created.", at=now)
    return booking


@transaction.atomic
def release_hold(*, hold_id, actor: Actor, reason: str = "Released by the client.") -> Booking:
    booking, _prop = _lock_booking(hold_id)
    if booking.status != S.HELD:
        raise HoldMismatch("This is not an active hold.")
    return apply_transition(booking, S.RELEASED, actor, reason)


# --- reservations and bookings -------------------------------------------------------------------


@transaction.atomic
def reserve(*, property_id, check_in: date, check_out: date, adults: int, children: int = 0, guest: GuestInput,
            actor: Actor, special_requests: str = "", source: str = Source.DIRECT, hold_id=None,
            expires_in: timedelta | None = None, override_rules: bool = False, override_reason: str = "",
            referral: str = "", language: str = "", at: datetime | None = None) -> Booking:
    """Create a booking in ``reserved``: dates held until ``expires_at`` while the guest pays.

    With ``hold_id`` the hold becomes the booking (same row, same dates). With
    ``override_rules`` (owners and staff only, with a reason) stay rules are not
    enforced; overlaps, blocks and buffer days always are. ``referral`` (a ``Referral`` value or empty) records
    what brought the guest to our site (the guest pages pass what the landing page remembered). ``language`` is
    the one the guest booked in (the checkout passes the page's); empty = the property's default language.
    """
    now = at or timezone.now()
    _validate_dates(check_in, check_out)
    if referral and referral not in Referral.values:
        raise ValueError(f"Unknown referral {referral!r}.")
    if override_rules and not override_reason.strip():
        raise StayRuleViolation("Overriding the stay rules needs a reason.")
    expires_at = now + (expires_in or timedelta(minutes=settings.BOOKING_HOLD_MINUTES))
    if hold_id is None and connection.vendor == "postgresql":
        return _reserve_in_three_statements(
            property_id=property_id, check_in=check_in, check_out=check_out, adults=adults, children=children,
            guest=guest, actor=actor, special_requests=special_requests, source=source, expires_at=expires_at,
            override_rules=override_rules, override_reason=override_reason, referral=referral, language=language,
            now=now)
    prop = lock_property(property_id, with_overrides=True)
    guests = adults + children

    if hold_id is not None:
        booking = Booking.objects.filter(pk=hold_id, property=prop).first()
        if booking is None or (booking.check_in, booking.check_out) != (check_in, check_out) or (
                booking.status != S.HELD):
            raise HoldMismatch()
        if not booking.is_occupying(now):
            raise HoldExpired()
        _ensure_available(prop, check_in, check_out, guests, now, enforce_rules=not override_rules,
                          exclude_booking_id=booking.pk)
        booking.guest = find_or_create_guest(guest)
        booking.adults, booking.children = adults, children
        booking.special_requests = special_requests
        booking.expires_at = expires_at
        booking.rules_overridden = override_rules
        booking.referral = referral or booking.referral
        booking.language = _language(language, prop)
        _apply_quote(booking, quote(prop, check_in, check_out, guests, at=now))
        reason = "Hold converted to a reservation."
        if override_rules:
            reason += f" Stay rules overridden: {override_reason}"
        return apply_transition(
            booking, S.RESERVED, actor, reason, at=now,
            extra_fields=("guest", "adults", "children", "special_requests", "currency", "quote", "subtotal", "fees",
                          "discounts", "taxes", "total", "expires_at", "rules_overridden", "referral",
                          "language"),
        )

    _ensure_available(prop, check_in, check_out, guests, now, enforce_rules=not override_rules)
    booking = Booking(
        property=prop, guest=find_or_create_guest(guest), source=source, check_in=check_in, check_out=check_out,
        adults=adults, children=children, status=S.RESERVED, reserved_at=now, expires_at=expires_at,
        special_requests=special_requests, cancellation_policy=policy_snapshot_for(prop),
        rules_overridden=override_rules, referral=referral, language=_language(language, prop),
    )
    _apply_quote(booking, quote(prop, check_in, check_out, guests, at=now))
    _save_new(booking, now)
    record_creation(booking, actor, _reservation_reason(override_rules, override_reason), at=now)
    return booking


def _reservation_reason(override_rules: bool, override_reason: str) -> str:
    return f"Stay rules overridden: {override_reason}" if override_rules else "Reservation created."


def _reserve_in_three_statements(*, property_id, check_in: date, check_out: date, adults: int, children: int,
                                 guest: GuestInput, actor: Actor, special_requests: str, source: str,
                                 expires_at: datetime, override_rules: bool, override_reason: str, referral: str,
                                 language: str, now: datetime) -> Booking:
    """:func:`reserve` of new dates on PostgreSQL: the same steps in three statements (``bookings.statements``):
    lock; read the property, its overrides and pricing rules, the stale rows, the nearby stays and the blocks;
    insert the guest, booking, audit row and outbox event. Stale rows, when there are some, are expired as
    everywhere else (:func:`expire_stale_for_property`)."""
    read = statements.lock_and_read(property_id, check_in, check_out, now)
    prop = read.prop
    if read.stale_ids:
        expire_stale_for_property(prop, now)
    guests = adults + children
    _raise_for(check_availability(prop, check_in, check_out, guests, at=now, enforce_rules=not override_rules,
                                  nearby=read.nearby, blocked=read.blocked))
    booking = Booking(
        property=prop, source=source, check_in=check_in, check_out=check_out,
        adults=adults, children=children, status=S.RESERVED, reserved_at=now, expires_at=expires_at,
        special_requests=special_requests, cancellation_policy=policy_snapshot_for(prop),
        rules_overridden=override_rules, referral=referral, language=_language(language, prop),
    )
    _apply_quote(booking, quote(prop, check_in, check_out, guests, at=now))
    reason = _reservation_reason(override_rules, override_reason)
    for _attempt in range(5):
        booking.reference = new_reference(now.year)
        try:
            if statements.insert_reservation(booking, guest, actor, reason, now):
                return booking
        except IntegrityError as exc:  # the exclusion constraint: only a writer that skipped the lock causes it
            if _is_violation(exc, EXCLUSION_VIOLATION, "booking_no_overlap"):
                raise DatesUnavailable() from exc
            raise
    raise BookingError("Could not allocate a booking reference; please retry.")


# --- group bookings ("book all") -------------------------------------------------------------------


MAX_GROUP_STAYS = 10


@dataclass(frozen=True)
class GroupStay:
    """One stay of a group booking request."""

    property_id: int
    check_in: date
    check_out: date
    adults: int
    children: int = 0


def _save_new_group(group: BookingGroup, now: datetime) -> BookingGroup:
    for _attempt in range(5):
        group.reference = new_reference(now.year).replace("PMS-", "GRP-", 1)
        try:
            with transaction.atomic():
                group.save(force_insert=True)
            return group
        except IntegrityError as exc:
            if "reference" not in str(exc):
                raise
    raise BookingError("Could not allocate a group reference; please retry.")


def _check_group_request(stays: list[GroupStay]) -> None:
    """The request's own shape: 1 to ``MAX_GROUP_STAYS`` stays, valid dates, one property twice only on nights
    that do not overlap (two stays of one property back to back are two bookings, each under the usual rules)."""
    if not stays:
        raise InvalidGroup(_("A group booking needs at least one stay."))
    if len(stays) > MAX_GROUP_STAYS:
        raise InvalidGroup(_("A group booking has at most %(max)d stays.") % {"max": MAX_GROUP_STAYS})
    for i, stay in enumerate(stays):
        if stay.check_out <= stay.check_in:
            raise GroupStayFailed(_("Stay %(n)d: check-out must be after check-in.") % {"n": i + 1}, index=i,
                                  stay_code=StayRuleViolation.code)
        for j in range(i):
            other = stays[j]
            if other.property_id == stay.property_id and other.check_in < stay.check_out and (
                    stay.check_in < other.check_out):
                raise InvalidGroup(_("Stays %(a)d and %(b)d are at the same property on overlapping nights.")
                                   % {"a": j + 1, "b": i + 1})


@transaction.atomic
def reserve_group(*, stays, guest: GuestInput, actor: Actor, special_requests: str = "", referral: str = "",
                  expires_in: timedelta | None = None, at: datetime | None = None) -> BookingGroup:
    """Reserve several stays at once (a "book all" checkout): one ``reserved`` booking per stay, linked by a new
    :class:`BookingGroup`, all or nothing.

    One transaction: every property row is locked first, **in ascending id order** (two groups that share
    properties, requested in any order, take their locks in the same order, so they queue instead of
    deadlocking), then each stay is checked and inserted exactly as :func:`reserve` does (stale holds expired,
    availability and stay rules re-checked under the lock, the price quoted on the server, the exclusion
    constraint as the last line), each with its audit row and ``booking.created`` outbox event. The first stay
    that fails raises :class:`GroupStayFailed` naming it (its position, property, dates and why) and the whole
    transaction rolls back: no booking, no group, no event. All stays must be priced in one currency (the group is
    paid with one card payment). Returns the group; its bookings are ``group.bookings`` (in the request's order
    by id).
    """
    now = at or timezone.now()
    stays = list(stays)
    _check_group_request(stays)
    if referral and referral not in Referral.values:
        raise ValueError(f"Unknown referral {referral!r}.")
    props: dict[int, Property] = {}
    for property_id in sorted({stay.property_id for stay in stays}):
        try:
            props[property_id] = lock_property(property_id, with_overrides=True)
        except PropertyUnavailable as exc:
            index = next(i for i, stay in enumerate(stays) if stay.property_id == property_id)
            raise GroupStayFailed(_("Stay %(n)d: %(why)s") % {"n": index + 1, "why": exc.detail}, index=index,
                                  stay_code=exc.code) from exc
    expires_at = now + (expires_in or timedelta(minutes=settings.BOOKING_HOLD_MINUTES))
    lead = find_or_create_guest(guest)
    group = _save_new_group(BookingGroup(lead_guest=lead, created_at=now), now)
    currency = ""
    for i, stay in enumerate(stays):
        prop = props[stay.property_id]
        guests = stay.adults + stay.children
        try:
            _ensure_available(prop, stay.check_in, stay.check_out, guests, now)
            booking = Booking(
                property=prop, guest=lead, group=group, source=Source.DIRECT, check_in=stay.check_in,
                check_out=stay.check_out, adults=stay.adults, children=stay.children, status=S.RESERVED,
                reserved_at=now, expires_at=expires_at, special_requests=special_requests,
                cancellation_policy=policy_snapshot_for(prop), referral=referral,
            )
            _apply_quote(booking, quote(prop, stay.check_in, stay.check_out, guests, at=now))
            _save_new(booking, now)
        except BookingError as exc:
            raise GroupStayFailed(
                _("Stay %(n)d (%(property)s, %(check_in)s – %(check_out)s): %(why)s") % {
                    "n": i + 1, "property": prop.name, "check_in": stay.check_in.isoformat(),
                    "check_out": stay.check_out.isoformat(), "why": exc.detail},
                index=i, stay_code=exc.code, reasons=exc.reasons) from exc
        if currency and booking.currency != currency:
            raise InvalidGroup(_("The stays of one group booking must all be priced in the same currency."))
        currency = booking.currency
        record_creation(booking, actor, f"Reservation created in group {group.reference} "
                                        f"(stay {i + 1} of {len(stays)}).", at=now)
    return group


@transaction.atomic
def confirm(*, booking_id, actor: Actor, reason: str = "", at: datetime | None = None) -> Booking:
    """Confirm a reservation (payment received, or an owner accepts it).

    A reservation whose ``expires_at`` passed but that nobody else has taken
    (the expiry job has not marked it) still confirms: its dates were never sold
    to anyone else, so a late payment is honoured. Once expired, it cannot.
    """
    booking, _prop = _lock_booking(booking_id)
    if booking.status == S.EXPIRED:  # only a late payment may revive it: confirm_late_payment
        raise InvalidTransition(booking.status, S.CONFIRMED)
    return apply_transition(booking, S.CONFIRMED, actor, reason or "Confirmed.", at=at)


@transaction.atomic
def confirm_late_payment(*, booking_id, actor: Actor, reason: str = "", at: datetime | None = None) -> Booking:
    """Confirm a reservation whose payment arrived after its hold ran out, if its dates are still free.

    ``reserved`` (deadline passed or not) or ``expired`` → ``confirmed``, after
    expiring the property's other stale rows and re-checking availability under
    the property lock (stay rules are not re-enforced: they were met when it was
    sold). Raises :class:`DatesUnavailable` when the nights were taken or blocked
    meanwhile; the caller then refunds. The exclusion constraint stays the last line.
    """
    now = at or timezone.now()
    booking, prop = _lock_booking(booking_id)
    if booking.status not in CONFIRMABLE_BY_PAYMENT_STATUSES:
        raise InvalidTransition(booking.status, S.CONFIRMED)
    if booking.awaits_payment(now):
        return apply_transition(booking, S.CONFIRMED, actor, reason or "Confirmed.", at=now)
    _ensure_available(prop, booking.check_in, booking.check_out, booking.guests, now, enforce_rules=False,
                      exclude_booking_id=booking.pk)
    booking.refresh_from_db()  # the sweep above may just have expired this very row
    try:
        with transaction.atomic():
            return apply_transition(booking, S.CONFIRMED, actor, reason or "Confirmed after a late payment.", at=now)
    except IntegrityError as exc:
        if _is_violation(exc, EXCLUSION_VIOLATION, "booking_no_overlap"):
            raise DatesUnavailable() from exc
        raise


@transaction.atomic
def record_payment(*, booking_id, amount_paid, amount_refunded, payment_status: str, actor: Actor, reason: str,
                   always_record: bool = False, at: datetime | None = None) -> Booking:
    """Write the booking's money totals and payment status (computed by ``payments.services``).

    Under the property lock, with an audit row (status unchanged, the reason says
    what happened to the money) and a ``booking.updated`` outbox event. Nothing
    is written when nothing changed, unless ``always_record`` (a fact worth an
    audit row, e.g. a dispute).
    """
    booking, _prop = _lock_booking(booking_id)
    if (booking.amount_paid, booking.amount_refunded, booking.payment_status) == (
        amount_paid, amount_refunded, payment_status
    ) and not always_record:
        return booking
    booking.amount_paid, booking.amount_refunded, booking.payment_status = amount_paid, amount_refunded, payment_status
    booking.save(update_fields=["amount_paid", "amount_refunded", "payment_status", "updated_at"])
    record_event(booking, booking.status, booking.status, actor, reason, at=at)
    outbox.emit("booking.updated", "booking", booking.pk, booking_payload(booking))
    return booking


@transaction.atomic
def cancel(*, booking_id, actor: Actor, reason: str, at: datetime | None = None) -> Booking:
    """Cancel before check-in. Refunds per the policy snapshot come with payments."""
    booking, _prop = _lock_booking(booking_id)
    booking.cancellation_reason = reason
    return apply_transition(booking, S.CANCELLED, actor, reason, at=at, extra_fields=("cancellation_reason",))


# --- cancellation with a refund: who may cancel, and what it refunds --------------------------------


@dataclass(frozen=True)
class RefundTerms:
    """What cancelling a booking at a given moment refunds under its policy snapshot."""

    percent: Decimal
    amount: Decimal  # what the policy refunds, capped at ``refundable``
    refundable: Decimal  # paid minus refunded
    currency: str
    check_in_at: datetime


@dataclass(frozen=True)
class Cancellation:
    """A cancellation decided and written under the property lock: the booking and the refund now due."""

    booking: Booking
    terms: RefundTerms
    refund: Decimal


def check_in_datetime(booking: Booking, prop: Property | None = None) -> datetime:
    """The check-in moment in the property's time zone (the policy's days count back from it)."""
    prop = prop or booking.property
    return datetime.combine(booking.check_in, prop.check_in_time, tzinfo=prop.tz)


def refund_terms(booking: Booking, *, paid: Decimal, refunded: Decimal, at: datetime,
                 prop: Property | None = None) -> RefundTerms:
    """The policy snapshot's refund for cancelling at ``at``: a percent of ``paid``, at most paid − refunded."""
    refundable = max(paid - refunded, ZERO)
    check_in_at = check_in_datetime(booking, prop)
    percent = refund_percent(booking.cancellation_policy or {}, check_in_at, at)
    amount = min(round_money(paid * percent / 100, booking.currency), refundable)
    return RefundTerms(percent=percent, amount=amount, refundable=refundable, currency=booking.currency,
                       check_in_at=check_in_at)


def guest_cancellation_refusal(booking: Booking, prop: Property, now: datetime) -> str:
    """Why a guest may not cancel ``booking`` at ``now`` ("" = they may).

    Guests cancel reserved, confirmed or inquiry bookings (a reservation only while
    it still holds its dates) before the arrival day in the property's time zone.
    From the arrival day on, only the owner cancels."""
    if booking.status not in CANCELLABLE_STATUSES:
        return f"This booking is {booking.get_status_display().lower()}: it can no longer be cancelled."
    if booking.status == S.RESERVED and not booking.is_occupying(now):
        return "This reservation has expired: there is nothing left to cancel."
    if local_today(prop, now) >= booking.check_in:
        return ("The arrival day has been reached: this booking can no longer be cancelled here. "
                "Please message the owner.")
    return ""


@transaction.atomic
def cancel_with_terms(*, booking_id, actor: Actor, reason: str,
                      paid_and_refunded: Callable[[Booking], tuple[Decimal, Decimal]], by_owner: bool = False,
                      refund_amount: Decimal | None = None, expected_refund: Decimal | None = None,
                      at: datetime | None = None) -> Cancellation:
    """Cancel a booking, deciding under the property lock whether it may be cancelled and what it refunds.

    ``paid_and_refunded(booking)`` (from ``payments``) gives the money received and
    refunded so far, read under the same lock. A guest (``by_owner=False``) may cancel
    only before the arrival day (:func:`guest_cancellation_refusal`, property-local)
    and gets the amount of the policy snapshot at ``at``; ``expected_refund`` is the
    amount the guest was shown: if the policy now gives less, nothing changes and
    :class:`RefundChanged` says the new amount. An owner refunds everything refundable,
    or ``refund_amount`` (0 up to paid minus refunded). The caller records the refund
    in the same transaction and sends it to the provider only after commit.
    """
    now = at or timezone.now()
    if not reason.strip():
        raise RefundNotAllowed("A cancellation needs a reason.")
    if refund_amount is not None and not by_owner:
        raise RefundNotAllowed("A guest's refund follows the cancellation policy.")
    booking, prop = _lock_booking(booking_id)
    if booking.status not in CANCELLABLE_STATUSES:
        raise InvalidTransition(booking.status, S.CANCELLED)
    if not by_owner:
        refusal = guest_cancellation_refusal(booking, prop, now)
        if refusal:
            raise CancellationNotAllowed(refusal)
    paid, refunded = paid_and_refunded(booking)
    terms = refund_terms(booking, paid=paid, refunded=refunded, at=now, prop=prop)
    if by_owner:
        amount = terms.refundable if refund_amount is None else round_money(refund_amount, booking.currency)
    else:
        amount = terms.amount
        if expected_refund is not None and amount < expected_refund:
            raise RefundChanged(amount, booking.currency)
    if amount < 0 or amount > terms.refundable:
        raise RefundNotAllowed(f"At most {terms.refundable} {booking.currency} can be refunded.")
    booking.cancellation_reason = reason
    apply_transition(booking, S.CANCELLED, actor, reason, at=now, extra_fields=("cancellation_reason",))
    return Cancellation(booking=booking, terms=terms, refund=amount)


@transaction.atomic
def expire(*, booking_id, at: datetime | None = None) -> Booking:
    """Expire one hold or reservation if its time has run out (idempotent: otherwise unchanged)."""
    now = at or timezone.now()
    booking, _prop = _lock_booking(booking_id)
    if booking.time_ran_out(now):
        apply_transition(booking, S.EXPIRED, Actor.system("expiry"), "Hold time ran out.", at=now)
    return booking


@transaction.atomic
def extend_reservation(*, booking_id, until: datetime, actor: Actor, reason: str,
                       at: datetime | None = None) -> Booking:
    """Hold a live reservation until ``until`` (never shorter), e.g. while a manual payment is on its way."""
    now = at or timezone.now()
    booking, _prop = _lock_booking(booking_id)
    if not booking.awaits_payment(now):
        raise InvalidTransition(booking.status, S.RESERVED)
    if booking.expires_at is None or until > booking.expires_at:
        booking.expires_at = until
        booking.save(update_fields=["expires_at", "updated_at"])
        record_event(booking, booking.status, booking.status, actor, f"{reason} Held until {until:%Y-%m-%d %H:%M} UTC.",
                     at=now)
    return booking


def expire_stale_bookings(*, at: datetime | None = None) -> int:
    """The periodic job: expire every stale hold and reservation, one property transaction at a time."""
    now = at or timezone.now()
    property_ids = set(Booking.objects.stale(now).values_list("property_id", flat=True))
    count = 0
    for property_id in property_ids:
        with transaction.atomic():
            count += expire_stale_for_property(lock_property(property_id), now)
    return count


@transaction.atomic
def check_in(*, booking_id, actor: Actor, at: datetime | None = None) -> Booking:
    now = at or timezone.now()
    booking, prop = _lock_booking(booking_id)
    if local_today(prop, now) < booking.check_in:
        raise CheckInTooEarly()
    return apply_transition(booking, S.CHECKED_IN, actor, "Guest checked in.", at=now)


@transaction.atomic
def check_out(*, booking_id, actor: Actor, at: datetime | None = None) -> Booking:
    booking, _prop = _lock_booking(booking_id)
    return apply_transition(booking, S.CHECKED_OUT, actor, "Guest checked out.", at=at)


# --- channel imports -------------------------------------------------------------------------------


@dataclass(frozen=True)
class ImportResult:
    booking: Booking
    action: str  # "created" | "changed" | "cancelled" | "unchanged"
    # What else occupies the stay's nights (the overbooking the owner must resolve): other stays, owner blocks.
    overlapping_stays: tuple[Booking, ...] = ()
    overlapping_blocks: tuple[AvailabilityBlock, ...] = ()

    @property
    def collides(self) -> bool:
        return bool(self.overlapping_stays or self.overlapping_blocks)


def _overlaps(prop, check_in: date, check_out: date, now: datetime, exclude_booking_id=None):
    """The stays (any lane) and the owner blocks on any night of [check_in, check_out). Channel blocks are
    not in it: they are at most echoes of stays, never a reason to doubt a stay already sold."""
    stays = tuple(occupying_bookings(prop, check_in, check_out, now, exclude_booking_id).order_by("check_in", "pk"))
    blocks = tuple(AvailabilityBlock.objects.filter(property=prop, connection__isnull=True, start_date__lt=check_out,
                                                    end_date__gt=check_in).order_by("start_date", "pk"))
    return stays, blocks


def _free_lane(stays) -> int:
    """The lowest overbooking lane none of ``stays`` uses (0 when nothing overlaps)."""
    used = {stay.overbooking_lane for stay in stays}
    return next(lane for lane in range(len(used) + 1) if lane not in used)


def _overbooking_note(stays, blocks) -> str:
    """The audit row's words for an import recorded on taken nights (empty when nothing overlaps)."""
    others = [f"{b.reference} ({b.get_source_display()}, {b.check_in}–{b.check_out})" for b in stays]
    others += [f"owner block {b.start_date}–{b.end_date}" for b in blocks]
    if not others:
        return ""
    return f" Overbooking: it overlaps {', '.join(others)}; both are kept until the owner resolves it."


def _language(language: str, prop) -> str:
    """The booking's language: the one given if the site offers it (its base, "de" for "de-AT"), else the
    property's default."""
    offered = {code for code, _name in settings.LANGUAGES}
    base = (language or "").lower().replace("_", "-").split("-")[0]
    return base if base in offered else prop.default_language


@transaction.atomic
def import_external(*, property_id, source: str, external_id: str, check_in: date, check_out: date,
                    guest: GuestInput, adults: int = 1, children: int = 0, cancelled: bool = False,
                    allow_overlap: bool = True, platform_total: Decimal | None = None, language: str = "",
                    at: datetime | None = None) -> ImportResult:
    """Create, move or cancel a booking that came from a channel, keyed by (property, source, external id).

    A channel stay is already sold on its platform: refusing it here would not unsell it, only leave its
    nights open on our site and every other channel. So it is **always recorded and always occupies its
    nights**: no stay rule applies (minimum stay, weekdays, lead time, buffer days, the property's status), and
    when other stays or owner blocks are on its nights it is still written, in the lowest *overbooking lane*
    none of the overlapping stays uses (``Booking.overbooking_lane``; lane 0 when no stay overlaps), and the
    result names what it overlaps so that the channel layer records the conflict and alerts the owner. The other
    stays are never touched: a direct booking is never cancelled automatically. ``allow_overlap=False`` raises
    :class:`ExternalBookingConflict` instead and changes nothing (the sync's first passes, which try to fit a
    snapshot's stays without overbooking before accepting one).

    A stay recorded in a lane >= 1 moves back to lane 0 (under the exclusion constraint again) as soon as an
    import of it finds no other stay on its nights. Channel blocks are never in the way (echoes of stays).
    ``platform_total``: what the platform charged (API imports; in the property's currency, else leave it out), kept
    in ``Booking.platform_total`` and updated when the platform changes it. Idempotent: the same input twice
    changes nothing the second time.
    """
    if source not in {s.value for s in Source} or source in (Source.DIRECT, Source.OWNER):
        raise BookingError(f"'{source}' is not a channel.")
    now = at or timezone.now()
    _validate_dates(check_in, check_out)
    prop = lock_property(property_id)
    actor = Actor.channel(source)
    existing = Booking.objects.filter(property=prop, source=source, external_id=external_id).first()

    if cancelled:
        if existing is None or existing.status in CALLED_OFF_STATUSES:
            if existing is None:
                raise BookingError("There is no such channel booking to cancel.")
            return ImportResult(existing, "unchanged")
        existing.cancellation_reason = f"Cancelled on {existing.get_source_display()}."
        apply_transition(existing, S.CANCELLED, actor, existing.cancellation_reason, at=now,
                         extra_fields=("cancellation_reason",))
        return ImportResult(existing, "cancelled")

    if existing is not None and existing.status in CALLED_OFF_STATUSES:
        raise ExternalBookingConflict("This channel booking was cancelled and cannot be re-opened under the same id.")
    expire_stale_for_property(prop, now)
    stays, blocks = _overlaps(prop, check_in, check_out, now, existing.pk if existing else None)
    if (stays or blocks) and not allow_overlap:
        reasons = [Reason("overlap", "These dates are already booked.")] if stays else []
        reasons += [Reason("blocked", "The property is not available on some of these dates.")] if blocks else []
        raise ExternalBookingConflict(reasons=reasons)
    lane = _free_lane(stays)
    guests = adults + children
    if platform_total is not None:
        platform_total = round_money(platform_total, prop.currency)
    if existing is not None:
        same = (existing.check_in, existing.check_out, existing.adults, existing.children) == (
            check_in, check_out, adults, children)
        new_price = platform_total is not None and platform_total != existing.platform_total
        if same and new_price:
            old_price, existing.platform_total = existing.platform_total, platform_total
            existing.save(update_fields=["platform_total", "updated_at"])
            record_event(existing, existing.status, existing.status, actor,
                         f"Price changed on the channel: {old_price} → {platform_total} {existing.currency}.", at=now)
            if lane >= existing.overbooking_lane:
                return ImportResult(existing, "changed", stays, blocks)
        if same and lane >= existing.overbooking_lane:
            return ImportResult(existing, "unchanged", stays, blocks)
        old, old_lane = f"{existing.check_in}–{existing.check_out}", existing.overbooking_lane
        moved_from = {"previous_check_in": existing.check_in.isoformat(),
                      "previous_check_out": existing.check_out.isoformat()}
        existing.check_in, existing.check_out = check_in, check_out
        existing.adults, existing.children = adults, children
        existing.overbooking_lane = lane
        if platform_total is not None:
            existing.platform_total = platform_total
        if same:  # only the lane: the stays it overlapped are gone
            existing.save(update_fields=["overbooking_lane", "updated_at"])
            record_event(existing, existing.status, existing.status, actor,
                         "No other stay overlaps it any more: the overbooking is over." if not stays else
                         f"Overbooking lane {old_lane} → {lane}.", at=now)
            return ImportResult(existing, "unchanged", stays, blocks)
        _apply_quote(existing, quote(prop, check_in, check_out, guests, at=now))
        try:
            with transaction.atomic():
                existing.save()
        except IntegrityError as exc:  # only a writer that skipped the property lock could cause it
            if _is_violation(exc, EXCLUSION_VIOLATION, "booking_no_overlap"):
                raise ExternalBookingConflict() from exc
            raise
        note = _overbooking_note(stays, blocks)
        record_event(existing, existing.status, existing.status, actor,
                     f"Dates changed on the channel: {old} → {check_in}–{check_out}.{note}", at=now)
        # The old nights are free again: consumers that track nights (channel pushes) need both ranges.
        outbox.emit("booking.updated", "booking", existing.pk, {**booking_payload(existing), **moved_from})
        return ImportResult(existing, "changed", stays, blocks)

    booking = Booking(
        property=prop, guest=find_or_create_guest(guest), source=source, external_id=external_id,
        check_in=check_in, check_out=check_out, adults=adults, children=children, status=S.CONFIRMED,
        confirmed_at=now, payment_status=PaymentStatus.PAID, overbooking_lane=lane,
        cancellation_policy=policy_snapshot_for(prop), platform_total=platform_total,
        language=_language(language, prop),
    )
    _apply_quote(booking, quote(prop, check_in, check_out, guests, at=now))
    booking.amount_paid = booking.total  # the channel collected the payment
    try:
        _save_new(booking, now)
    except ExternalBookingConflict:
        raise
    except DatesUnavailable as exc:  # only a writer that skipped the property lock could cause it
        raise ExternalBookingConflict() from exc
    record_creation(booking, actor, f"Imported from {booking.get_source_display()}." + _overbooking_note(stays, blocks),
                    at=now)
    return ImportResult(booking, "created", stays, blocks)


# --- changing a booking's dates or guests -----------------------------------------------------------------


@dataclass(frozen=True)
class Change:
    booking: Booking
    previous: StayChange
    terms: ChangeTerms


@transaction.atomic
def change_booking(*, booking_id, actor: Actor, paid_and_refunded: Callable[[Booking], tuple[Decimal, Decimal]],
                   check_in: date | None = None, check_out: date | None = None, adults: int | None = None,
                   children: int | None = None, by_guest: bool = False, override_rules: bool = False,
                   override_reason: str = "", full_refund: bool = False, expected_difference: Decimal | None = None,
                   expected_refund: Decimal | None = None, at: datetime | None = None) -> Change:
    """Move a direct or owner booking to new dates and/or guests, re-priced, under the property lock.

    Who may change what is :func:`bookings.changes.refusal_to_change` (channel bookings change on their platform:
    :class:`~bookings.errors.ChangeOnChannel`; a guest only before the arrival day, and only where the property lets
    guests change bookings). Under the lock: stale rows expire, the new stay is checked leaving the booking's own
    nights out (overlaps, blocks and buffer days always; stay rules unless an owner overrides them with a reason,
    audited as in :func:`reserve`), re-quoted on the server, and its terms computed
    (:func:`bookings.changes.change_terms`) from ``paid_and_refunded(booking)`` (from ``payments``, read under the
    same lock). ``expected_difference`` / ``expected_refund`` are what the person was shown: when the change now
    costs something else, or refunds less, nothing changes and :class:`ChangePriceChanged` says the new figures.
    Writes the dates, guests, quote and total, an audit row (status unchanged, old → new) and a ``booking.updated``
    outbox event with ``change`` (and ``previous_check_in``/``previous_check_out`` when the dates moved, as
    :func:`import_external` does) for the channel pushes, the turnover task and the guest's updated confirmation.
    The caller (``payments.changes.change_with_payment``) requests the refund or collects the difference in the same
    transaction. The exclusion constraint stays the last line: a violation is :class:`DatesUnavailable`.
    """
    now = at or timezone.now()
    if override_rules and by_guest:
        raise StayRuleViolation("Only the owner or staff may override the stay rules.")
    if override_rules and not override_reason.strip():
        raise StayRuleViolation("Overriding the stay rules needs a reason.")
    property_id = Booking.objects.filter(pk=booking_id).values_list("property_id", flat=True).first()
    if property_id is None:
        raise BookingError("This booking does not exist.")
    prop = lock_property(property_id, with_overrides=True)
    booking = Booking.objects.select_related("guest").get(pk=booking_id)
    refusal = refusal_to_change(booking, prop, now, by_guest=by_guest)
    if refusal is not None:
        raise refusal
    stay = new_stay(booking, check_in=check_in, check_out=check_out, adults=adults, children=children)
    previous = current_stay(booking)
    if stay == previous:
        raise BookingError("Nothing to change: these are the booking's dates and guests already.")
    expire_stale_for_property(prop, now)
    _raise_for(check_new_stay(prop, booking, stay, now, enforce_rules=not override_rules))
    new_quote = quote(prop, stay.check_in, stay.check_out, stay.guests, at=now)
    paid, refunded = paid_and_refunded(booking)
    terms = change_terms(booking, prop, new_quote.total, paid=paid, refunded=refunded, at=now,
                         full_refund=full_refund and not by_guest)
    if (expected_difference is not None and terms.difference != expected_difference) or (
            expected_refund is not None and terms.refund < expected_refund):
        raise ChangePriceChanged(terms.difference, terms.refund, terms.currency)

    booking.check_in, booking.check_out = stay.check_in, stay.check_out
    booking.adults, booking.children = stay.adults, stay.children
    booking.rules_overridden = override_rules
    _apply_quote(booking, new_quote)
    try:
        with transaction.atomic():
            booking.save(update_fields=["check_in", "check_out", "adults", "children", "rules_overridden", "currency",
                                        "quote", "subtotal", "fees", "discounts", "taxes", "total", "updated_at"])
    except IntegrityError as exc:  # only a writer that skipped the property lock could cause it
        if _is_violation(exc, EXCLUSION_VIOLATION, "booking_no_overlap"):
            raise DatesUnavailable() from exc
        raise
    cur = booking.currency
    reason = (f"Changed: {previous.describe()} → {stay.describe()}; total {terms.old_total} → {terms.new_total} {cur}"
              f" ({'+' if terms.difference >= 0 else ''}{terms.difference}).")
    if terms.to_collect:
        reason += f" Balance due {terms.balance_before} → {terms.balance_after} {cur}."
    if terms.refund:
        how = "in full (owner's choice)" if terms.full_refund else f"{terms.percent}% under the policy"
        reason += f" Refund {terms.refund} {cur} of {terms.refundable} {cur} paid for the removed amount, {how}."
    if override_rules:
        reason += f" Stay rules overridden: {override_reason.strip()}"
    record_event(booking, booking.status, booking.status, actor, reason, at=now)
    payload = {**booking_payload(booking), "from_status": booking.status,
               "change": {"by_guest": by_guest, "previous_adults": previous.adults,
                          "previous_children": previous.children, **terms.as_dict()}}
    if (previous.check_in, previous.check_out) != (stay.check_in, stay.check_out):
        # The old nights are free again: consumers that track nights (channel pushes) need both ranges.
        payload.update(previous_check_in=previous.check_in.isoformat(),
                       previous_check_out=previous.check_out.isoformat())
    outbox.emit("booking.updated", "booking", booking.pk, payload)
    return Change(booking=booking, previous=previous, terms=terms)


# --- guest links ---------------------------------------------------------------------------------


@transaction.atomic
def revoke_guest_links(*, booking_id, actor: Actor, reason: str = "", at: datetime | None = None) -> Booking:
    """Revoke every magic link (portal and API access token) issued for the booking so far.

    Bumps ``access_version`` under the property lock, with an audit row (status
    unchanged). Links issued afterwards, e.g. in the next email, work again."""
    booking, _prop = _lock_booking(booking_id)
    booking.access_version += 1
    booking.save(update_fields=["access_version", "updated_at"])
    record_event(booking, booking.status, booking.status, actor, reason or "Guest links revoked.", at=at)
    return booking


# --- the back office: owner bookings and resent confirmations -------------------------------------


@transaction.atomic
def create_owner_booking(*, property_id, check_in: date, check_out: date, adults: int, children: int = 0,
                         guest: GuestInput, actor: Actor, notes: str = "", confirm_now: bool = False,
                         override_rules: bool = False, override_reason: str = "",
                         at: datetime | None = None) -> Booking:
    """A booking the owner or staff enter themselves (e.g. taken on the phone): source ``owner``.

    It goes through :func:`reserve` like every other booking, so overlaps, owner
    blocks and buffer days always refuse it; stay rules only give way to an
    explicit ``override_rules`` with a reason, which ``reserve`` audits. Without
    ``confirm_now`` the reservation is held ``MANUAL_PAYMENT_TIMEOUT_HOURS`` (not
    the 30 minutes of a card checkout) so the guest has time to pay by the link in
    their email or by a manual method. ``confirm_now`` (paid outside the system,
    or the owner accepts it as it is) confirms it in the same transaction: both
    rows exist or neither does. No payment row is invented for money paid outside.
    """
    now = at or timezone.now()
    booking = reserve(property_id=property_id, check_in=check_in, check_out=check_out, adults=adults,
                      children=children, guest=guest, actor=actor, special_requests=notes, source=Source.OWNER,
                      expires_in=timedelta(hours=settings.MANUAL_PAYMENT_TIMEOUT_HOURS),
                      override_rules=override_rules, override_reason=override_reason, at=now)
    if confirm_now:
        booking = confirm(booking_id=booking.pk, actor=actor, at=now,
                          reason="Confirmed when entered by the owner (paid outside the system).")
    return booking


@transaction.atomic
def resend_confirmation(*, booking_id, actor: Actor, at: datetime | None = None):
    """Send the guest their confirmation email once more (lost in spam, deleted …).

    The first confirmation is keyed per booking so that events repeating
    "confirmed" send it once; a resend is an explicit request, so it gets a key
    of its own and a new :class:`~bookings.models.SentEmail` row, plus an audit row
    (status unchanged) saying who asked. Returns the ``SentEmail``."""
    import uuid

    from .notifications import Kind, Planned, guest_address, queue

    booking, _prop = _lock_booking(booking_id)
    if booking.status not in CONFIRMATION_RESEND_STATUSES:
        raise BookingError("Only a confirmed booking has a confirmation to resend.")
    to = guest_address(booking)
    if not to:
        raise BookingError("This booking has no guest email address here (channel guests hear from their channel).")
    row = queue(booking, Planned(Kind.CONFIRMATION, to, f"{Kind.CONFIRMATION}:{booking.pk}:resend:{uuid.uuid4().hex}"))
    record_event(booking, booking.status, booking.status, actor, f"Confirmation email resent to {to}.", at=at)
    return row


# --- privacy: erasing a guest's personal data (privacy.services.erase_guest) ------------------------------

ERASED_TEXT = "[erased]"


@dataclass(frozen=True)
class BookingErasure:
    """What :func:`erase_guest_details` changed on one booking, for the erasure's audit row."""

    messages: int
    emails_addressed: int
    emails_cancelled: int
    audit_rows_redacted: int


@transaction.atomic
def erase_guest_details(*, booking_id, pseudonym: str, secrets: list[str], actor: Actor,
                        reason: str = "The guest's personal data was erased.") -> BookingErasure:
    """Remove the guest's personal data from one booking and what hangs off it, keeping the booking itself (dates,
    amounts, currency, status history: the accounting record, docs/privacy.md).

    Under the property lock: the free texts (special requests, cancellation reason) are emptied; every magic link is
    revoked (``access_version``); the guest's messages keep their date with ``pseudonym`` as sender and no body; the
    emails keep kind, status and dates but lose their address (when it was the guest's) and their data, and the ones
    not sent yet are given up; the booking's audit rows that quote one of ``secrets`` (the guest's address, phone,
    name) quote ``pseudonym`` instead (``core.models.ImmutableQuerySet.redact``). An audit row (status unchanged)
    records the erasure, naming nobody."""
    booking, _prop = _lock_booking(booking_id)
    booking.special_requests = ""
    booking.cancellation_reason = ""
    booking.access_version += 1
    booking.save(update_fields=["special_requests", "cancellation_reason", "access_version", "updated_at"])
    messages = GuestMessage.objects.filter(booking=booking).update(sender=pseudonym, body=ERASED_TEXT)
    addresses = [s.lower() for s in secrets if "@" in s]
    emails = SentEmail.objects.filter(booking=booking)
    cancelled = emails.filter(status=EmailStatus.PENDING).update(
        status=EmailStatus.FAILED, last_error="Not sent: the guest's personal data was erased.")
    addressed = emails.filter(to__in=addresses).update(to="") if addresses else 0
    emails.update(data={})
    redacted = BookingEvent.objects.filter(booking=booking).redact(secrets=secrets, replacement=pseudonym)
    record_event(booking, booking.status, booking.status, actor, reason)
    return BookingErasure(messages=messages, emails_addressed=addressed, emails_cancelled=cancelled,
                          audit_rows_redacted=redacted)
