"""Security (damage) deposits: a hold on the saved card, released after check-out unless the owner claims part.

A card hold is a manual-capture PaymentIntent (``capture_method="manual"``) created off-session on the card saved
at checkout. Lifecycle (:data:`TRANSITIONS`, one function :func:`apply_deposit_transition`, an immutable
:class:`~payments.models.SecurityDepositEvent` per change):

* ``pending`` (the attempt recorded under the property lock) → ``held`` (Stripe says ``requires_capture``) or
  ``failed`` (declined, needs authentication: the owner is emailed; there is no automatic retry) or ``canceled``;
* ``held`` → ``released`` (the hold cancelled at Stripe: on its release day, or when the booking is cancelled),
  ``claimed`` (the owner captured part or all of it, with a reason; the rest is released by Stripe), or
  ``expired`` (the authorisation lapsed before anyone acted: Stripe cancels it after 7 days).

When: placed on the plan's ``security_deposit_place_on`` (``payments.schedule``: N days before arrival, but never
more than 6 days before the release day, so the hold is alive from check-out to release even for long stays: a
Stripe authorisation lasts 7 days and is not renewed); released on ``security_deposit_release_on`` (check-out + N
days, N ≤ 5). Every Stripe call happens with no transaction open; its answer is applied in a short transaction.

Manual methods: a deposit the guest paid by transfer or in cash is recorded by staff (:func:`record_manual`,
provider ``manual``, ``held``); releasing it means the owner sends it back by the same way (recorded, no call);
a claim keeps part of it. Claimed money is not part of the booking's ``amount_paid`` (it is not the price of the
stay); the deposit's rows and audit trail are its record.
"""

from __future__ import annotations

import logging
import uuid
from datetime import datetime, timedelta
from decimal import Decimal

from django.db import IntegrityError, transaction
from django.utils import timezone

from bookings.models import CONFIRMED_STATUSES, Booking, BookingStatus
from bookings.notifications import Kind, Planned, owner_address, queue
from core.actor import Actor
from core.errors import DomainError
from core.money import round_money
from properties.pricing import local_today

from . import services
from .errors import PaymentError, ProviderError
from .models import DepositStatus as D
from .models import PaymentPlan, Provider, SavedCard, SecurityDeposit, SecurityDepositEvent
from .schedule import AUTHORISATION_DAYS

logger = logging.getLogger(__name__)
SYSTEM = Actor.system("security deposits")

TRANSITIONS: dict[str, frozenset[str]] = {
    D.PENDING: frozenset({D.HELD, D.FAILED, D.CANCELED}),
    D.HELD: frozenset({D.RELEASED, D.CLAIMED, D.EXPIRED}),
    D.FAILED: frozenset(),
    D.RELEASED: frozenset(),
    D.CLAIMED: frozenset(),
    D.EXPIRED: frozenset(),
    D.CANCELED: frozenset(),
}
# Bookings whose deposit may be placed or kept; a booking leaving these has its hold released.
PLACEABLE_STATUSES = (BookingStatus.CONFIRMED, BookingStatus.CHECKED_IN)


class DepositError(PaymentError):
    code = "security_deposit_error"
    http_status = 409
    default_detail = "This security deposit cannot be changed now."


class InvalidDepositTransition(DepositError):
    code = "invalid_deposit_transition"

    def __init__(self, from_status: str, to_status: str):
        super().__init__(f"A security deposit cannot go from '{from_status}' to '{to_status}'.")


def can_transition(from_status: str, to_status: str) -> bool:
    return to_status in TRANSITIONS.get(from_status, frozenset())


def record_deposit_event(deposit: SecurityDeposit, from_status: str, to_status: str, actor: Actor, reason: str,
                         *, at=None) -> SecurityDepositEvent:
    return SecurityDepositEvent.objects.create(deposit=deposit, from_status=from_status, to_status=to_status,
                                               reason=reason, created_at=at or timezone.now(),
                                               **SecurityDepositEvent.actor_fields(actor))


def apply_deposit_transition(deposit: SecurityDeposit, to_status: str, actor: Actor, reason: str, *, at=None,
                             extra_fields: tuple[str, ...] = ()) -> SecurityDeposit:
    """Move ``deposit`` to ``to_status`` (caller holds its row lock, inside a transaction) and audit it."""
    from_status = deposit.status
    if not can_transition(from_status, to_status):
        raise InvalidDepositTransition(from_status, to_status)
    deposit.status = to_status
    deposit.save(update_fields=["status", "updated_at", *extra_fields])
    record_deposit_event(deposit, from_status, to_status, actor, reason, at=at)
    return deposit


def _lock(deposit_id) -> SecurityDeposit:
    booking_id = SecurityDeposit.objects.filter(pk=deposit_id).values_list("booking_id", flat=True).first()
    if booking_id is None:
        raise DepositError("This security deposit does not exist.")
    services._lock_booking(booking_id)
    return SecurityDeposit.objects.select_for_update(of=("self",)).select_related("booking").get(pk=deposit_id)


def _next_attempt(booking: Booking) -> int:
    return (SecurityDeposit.objects.filter(booking=booking).order_by("-attempt").values_list("attempt", flat=True)
            .first() or 0) + 1


# --- placing ----------------------------------------------------------------------------------------------------


def place(booking_id, *, at: datetime | None = None) -> SecurityDeposit | None:
    """Place the booking's security deposit on its saved card when due (once: an existing attempt, whatever its
    outcome, means it was placed or tried). None when not due or nothing to place."""
    now = at or timezone.now()
    with transaction.atomic():
        booking = services._lock_booking(booking_id)
        plan = PaymentPlan.objects.filter(booking=booking).first()
        if (plan is None or plan.security_deposit <= 0 or plan.security_deposit_place_on is None
                or plan.security_deposit_release_on is None
                or plan.security_deposit_place_on > local_today(booking.property, now)
                or booking.status not in PLACEABLE_STATUSES
                or SecurityDeposit.objects.filter(booking=booking).exists()):
            return None
        card = SavedCard.objects.filter(booking=booking).exclude(payment_method_id="").first()
        attempt = _next_attempt(booking)
        try:
            with transaction.atomic():
                deposit = SecurityDeposit.objects.create(
                    booking=booking, provider=Provider.STRIPE, attempt=attempt, amount=plan.security_deposit,
                    currency=booking.currency, release_on=plan.security_deposit_release_on,
                    idempotency_key=f"stayhold-{booking.reference}-deposit-{attempt}", created_at=now)
        except IntegrityError:
            return None
        record_deposit_event(deposit, "", D.PENDING, SYSTEM,
                             f"Hold of {deposit.amount} {deposit.currency} to place, release on {deposit.release_on}.",
                             at=now)
        if card is None:
            _fail(deposit, "no_saved_card", "No card was saved at checkout.", now)
            return deposit
    try:
        raw = services.provider().charge_off_session(
            deposit, customer_id=card.customer_id, payment_method_id=card.payment_method_id,
            capture_method="manual", metadata={"security_deposit_id": str(deposit.pk)},
            idempotency_key=deposit.idempotency_key)
    except ProviderError as exc:
        if exc.retryable:
            logger.warning("Security deposit %s: no answer (%s); asked again later", deposit.pk, exc.detail)
            return deposit
        raw = {"status": "requires_payment_method", "last_payment_error": {"code": "card_refused",
                                                                            "message": exc.detail}}
    return apply_hold_answer(deposit.pk, raw, at=now)


def apply_hold_answer(deposit_id, raw: dict, *, at: datetime | None = None) -> SecurityDeposit:
    """What Stripe said about a hold being placed: ``requires_capture`` = held; anything else = failed (and the
    intent cancelled: an off-session hold nobody can authenticate is of no use)."""
    now = at or timezone.now()
    cancel_ref = ""
    with transaction.atomic():
        deposit = _lock(deposit_id)
        if raw.get("id") and not deposit.provider_ref:
            deposit.provider_ref = raw["id"]
            deposit.save(update_fields=["provider_ref", "updated_at"])
        if deposit.status != D.PENDING:
            return deposit
        if raw.get("status") == "requires_capture":
            deposit.authorised_at = now
            deposit.expires_at = now + timedelta(days=AUTHORISATION_DAYS)
            apply_deposit_transition(deposit, D.HELD, Actor.system("stripe"),
                                     f"Authorised on the saved card ({raw.get('id')}); lapses on "
                                     f"{deposit.expires_at:%Y-%m-%d %H:%M} UTC.", at=now,
                                     extra_fields=("authorised_at", "expires_at"))
            return deposit
        error = raw.get("last_payment_error") or {}
        code = ("authentication_required" if raw.get("status") == "requires_action"
                else error.get("decline_code") or error.get("code") or "card_declined")
        cancel_ref = raw.get("id") or ""
        _fail(deposit, code, error.get("message") or "The card refused the hold.", now)
    if cancel_ref:
        try:
            services.provider().cancel_raw(cancel_ref)
        except ProviderError:
            logger.warning("Failed hold %s not cancelled at Stripe", cancel_ref)
    return deposit


def _fail(deposit: SecurityDeposit, code: str, message: str, now: datetime) -> None:
    deposit.failure_code, deposit.failure_message = code[:100], message
    apply_deposit_transition(deposit, D.FAILED, Actor.system("stripe"), f"{code}: {message}", at=now,
                             extra_fields=("failure_code", "failure_message"))
    booking = Booking.objects.select_related("property__owner").get(pk=deposit.booking_id)
    to = owner_address(booking)
    if to:
        queue(booking, Planned(Kind.OWNER_SECURITY_DEPOSIT_FAILED, to,
                               f"{Kind.OWNER_SECURITY_DEPOSIT_FAILED}:{deposit.pk}"),
              data={"amount": str(deposit.amount), "currency": deposit.currency, "why": message})


def record_manual(*, booking_id, amount: Decimal, reference: str, actor: Actor,
                  at: datetime | None = None) -> SecurityDeposit:
    """Staff record a security deposit the guest paid by a manual method (held by the owner, returned by hand)."""
    now = at or timezone.now()
    with transaction.atomic():
        booking = services._lock_booking(booking_id)
        amount = round_money(amount, booking.currency)
        if amount <= 0:
            raise DepositError("The amount must be more than 0.")
        if booking.status not in (*CONFIRMED_STATUSES,):
            raise DepositError("Only a confirmed booking takes a security deposit.")
        if SecurityDeposit.objects.filter(booking=booking, status__in=(D.PENDING, D.HELD)).exists():
            raise DepositError("This booking already has a security deposit held.")
        plan = PaymentPlan.objects.filter(booking=booking).first()
        release_on = (plan.security_deposit_release_on if plan and plan.security_deposit_release_on
                      else booking.check_out + timedelta(days=2))
        attempt = _next_attempt(booking)
        deposit = SecurityDeposit.objects.create(
            booking=booking, provider=Provider.MANUAL, attempt=attempt, amount=amount, currency=booking.currency,
            release_on=release_on, idempotency_key=f"stayhold-{booking.reference}-deposit-manual-{uuid.uuid4().hex}",
            created_at=now)
        record_deposit_event(deposit, "", D.PENDING, actor, f"Received by a manual method, reference {reference}.",
                             at=now)
        deposit.authorised_at = now
        apply_deposit_transition(deposit, D.HELD, actor, "Held by the owner; returned by the same way when "
                                 "released.", at=now, extra_fields=("authorised_at",))
    return deposit


# --- releasing, claiming, expiring -----------------------------------------------------------------------------


def release(deposit_id, *, actor: Actor = SYSTEM, reason: str = "Released after check-out.",
            at: datetime | None = None) -> SecurityDeposit:
    """Release a held deposit: cancel the hold at Stripe (no lock open), then record it. A manual one is marked
    released (the owner returns the money by the same way). Idempotent."""
    now = at or timezone.now()
    deposit = SecurityDeposit.objects.get(pk=deposit_id)
    if deposit.status != D.HELD:
        return deposit
    raw: dict = {}
    if deposit.provider == Provider.STRIPE and deposit.provider_ref:
        raw = services.provider().cancel_raw(deposit.provider_ref)
    with transaction.atomic():
        deposit = _lock(deposit_id)
        if deposit.status != D.HELD:
            return deposit
        if raw and raw.get("status") not in ("canceled", "requires_capture"):
            # Captured meanwhile (a claim from elsewhere) or gone: report, never guess.
            raise DepositError(f"The hold is {raw.get('status')} at Stripe; it was not released here.")
        note = reason if deposit.provider == Provider.STRIPE else f"{reason} Return it to the guest by hand."
        apply_deposit_transition(deposit, D.RELEASED, actor, note, at=now)
    return deposit


def claim(deposit_id, *, amount: Decimal, reason: str, actor: Actor, at: datetime | None = None) -> SecurityDeposit:
    """The owner keeps ``amount`` (more than 0, at most the hold) for a stated reason: captured at Stripe (the rest
    of the hold is released by Stripe), audited. Recorded first (``claim_amount``, ``claim_reason``), then
    captured with no lock open, then applied; a capture Stripe refuses (the hold lapsed) marks it expired."""
    now = at or timezone.now()
    if not reason.strip():
        raise DepositError("A claim needs a reason.")
    with transaction.atomic():
        deposit = _lock(deposit_id)
        amount = round_money(amount, deposit.currency)
        if deposit.status != D.HELD:
            raise DepositError(f"This security deposit is {deposit.get_status_display().lower()}.")
        if amount <= 0 or amount > deposit.amount:
            raise DepositError(f"Claim more than 0 and at most {deposit.amount} {deposit.currency}.")
        if deposit.claim_amount is not None and deposit.claim_amount != amount:
            raise DepositError("A claim of another amount is already under way.")
        deposit.claim_amount, deposit.claim_reason = amount, reason.strip()
        deposit.save(update_fields=["claim_amount", "claim_reason", "updated_at"])
        record_deposit_event(deposit, D.HELD, D.HELD, actor, f"Claim of {amount} {deposit.currency}: {reason}",
                             at=now)
    if deposit.provider == Provider.STRIPE:
        try:
            services.provider().capture(deposit.provider_ref, amount, deposit.currency,
                                        idempotency_key=f"{deposit.idempotency_key}-capture")
        except ProviderError as exc:
            if exc.retryable:
                raise
            with transaction.atomic():
                deposit = _lock(deposit_id)
                if deposit.status == D.HELD:
                    apply_deposit_transition(deposit, D.EXPIRED, actor, f"Capture refused: {exc.detail}", at=now)
            raise DepositError(f"The hold could not be captured ({exc.detail}); it has lapsed.") from exc
    with transaction.atomic():
        deposit = _lock(deposit_id)
        if deposit.status == D.HELD:
            deposit.captured_amount = amount
            apply_deposit_transition(deposit, D.CLAIMED, actor,
                                     f"Claimed {amount} of {deposit.amount} {deposit.currency}: {reason.strip()}",
                                     at=now, extra_fields=("captured_amount",))
    return deposit


def expire_lapsed(*, at: datetime | None = None) -> int:
    """Holds past their authorisation's end that nobody released or claimed: ``expired`` (Stripe let them go)."""
    now = at or timezone.now()
    count = 0
    for pk in SecurityDeposit.objects.filter(status=D.HELD, provider=Provider.STRIPE, expires_at__lte=now
                                             ).values_list("pk", flat=True):
        with transaction.atomic():
            deposit = _lock(pk)
            if deposit.status == D.HELD:
                apply_deposit_transition(deposit, D.EXPIRED, SYSTEM, "The card authorisation lapsed (7 days).",
                                         at=now)
                count += 1
    return count


def process_security_deposits(*, at: datetime | None = None) -> dict:
    """The beat job (every 30 minutes): place due holds, release due or cancelled ones, expire lapsed ones."""
    now = at or timezone.now()
    placed = released = 0
    horizon = now.date() + timedelta(days=1)
    for booking_id in PaymentPlan.objects.filter(
            security_deposit__gt=0, security_deposit_place_on__lte=horizon,
            booking__status__in=PLACEABLE_STATUSES).exclude(
            booking__security_deposits__isnull=False).values_list("booking_id", flat=True):
        try:
            placed += place(booking_id, at=now) is not None
        except Exception:
            logger.exception("Security deposit of booking %s not placed", booking_id)
    held = SecurityDeposit.objects.filter(status=D.HELD).select_related("booking__property")
    for deposit in held:
        called_off = deposit.booking.status not in (*PLACEABLE_STATUSES, BookingStatus.CHECKED_OUT)
        if deposit.provider == Provider.MANUAL and not called_off:
            continue  # returned by hand: staff release it
        if called_off or deposit.release_on <= local_today(deposit.booking.property, now):
            try:
                release(deposit.pk, reason="Booking called off." if called_off else "Released after check-out.",
                        at=now)
                released += 1
            except (DomainError, ProviderError):
                logger.exception("Security deposit %s not released", deposit.pk)
    return {"placed": placed, "released": released, "expired": expire_lapsed(at=now)}
