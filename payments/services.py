"""Payment services: the only code that writes payments, refunds and processed webhook ids.

Bookings change only through ``bookings.services`` (confirm, cancel, expire,
``confirm_late_payment``, ``record_payment``). Every function that touches a
booking locks its property row first (the booking mutex), then the payment rows,
in that order, so webhook, return path and guest clicks serialize per property.

Provider events are applied by one function per kind of outcome; each is
idempotent and never moves state backwards, so events may arrive twice, late
or out of order:

* :func:`handle_intent_succeeded`: the payment succeeds; a ``reserved`` booking
  is confirmed (even after its deadline, if its dates are still free), an
  ``expired`` one too when its dates are free; otherwise the money goes back
  automatically (dates taken, booking cancelled, or a second payment for a paid
  booking). Never a double booking: the availability check under the lock and
  the exclusion constraint decide.
* :func:`handle_intent_failed`: the attempt fails; after ``PAYMENT_MAX_ATTEMPTS``
  failed attempts, or once the hold has run out, the reservation is released.
* :func:`handle_intent_canceled`, :func:`handle_refund`, :func:`handle_charge_refunded`,
  :func:`handle_dispute`.

Disputes: the payment is flagged ``disputed`` and both the payment and the
booking get an audit row; the booking's ``payment_status`` does not change (the
money is only withdrawn when the dispute is lost, which Stripe reports as a
separate event this app does not act on).
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from bookings import services as booking_services
from bookings.errors import BookingError, InvalidTransition
from bookings.models import Booking, BookingStatus
from bookings.models import PaymentStatus as BookingPaymentStatus
from bookings.state_machine import Actor
from properties.money import ZERO, round_money, to_minor_units
from properties.policies import refund_percent

from .errors import PaymentNotAllowed, ProviderError, RefundNotAllowed, TooManyAttempts
from .models import CAPTURED_STATUSES, OPEN_STATUSES, Payment, Provider, Refund, RefundStatus, WebhookEvent
from .models import PaymentStatus as P
from .providers import IntentData, RefundData, get_provider
from .state_machine import advance, record_payment_event

logger = logging.getLogger(__name__)
S = BookingStatus
SYSTEM = Actor.system("payments")
COUNTED_REFUNDS = (RefundStatus.PENDING, RefundStatus.SUCCEEDED)


def provider(name: str = Provider.STRIPE):
    return get_provider(name)


@dataclass
class CardResult:
    """What the payment page needs after a card attempt."""

    status: str  # "succeeded" | "requires_action" | "failed" | "refunded" | "pending"
    payment: Payment
    booking: Booking
    client_secret: str = ""
    error: str = ""

    def as_dict(self) -> dict:
        body = {"status": self.status, "booking_status": self.booking.status,
                "payment_status": self.booking.payment_status, "attempt": self.payment.attempt,
                "attempts_left": attempts_left(self.booking)}
        if self.client_secret:
            body["client_secret"] = self.client_secret
        if self.error:
            body["error"] = self.error
        return body


@dataclass(frozen=True)
class RefundQuote:
    percent: Decimal
    amount: Decimal  # what the policy refunds now, capped at `refundable`
    refundable: Decimal  # paid minus refunded
    currency: str
    check_in_at: datetime


@dataclass
class CancelResult:
    booking: Booking
    refunds: list[Refund] = field(default_factory=list)

    @property
    def refunded(self) -> Decimal:
        return sum((r.amount for r in self.refunds), ZERO)


# --- helpers ----------------------------------------------------------------------------------------


def _lock_booking(booking_id) -> Booking:
    """Lock the booking's property row (the booking mutex), then read the booking."""
    property_id = Booking.objects.filter(pk=booking_id).values_list("property_id", flat=True).first()
    if property_id is None:
        raise PaymentNotAllowed("This booking does not exist.")
    booking_services.lock_property(property_id)
    return Booking.objects.select_related("property").get(pk=booking_id)


def _lock_payment(payment_id) -> Payment:
    """Lock the property of the payment's booking, then the payment row."""
    booking_id = Payment.objects.filter(pk=payment_id).values_list("booking_id", flat=True).get()
    _lock_booking(booking_id)
    return Payment.objects.select_for_update().select_related("booking").get(pk=payment_id)


def _find_payment_id(intent: IntentData) -> int | None:
    pk = Payment.objects.filter(provider_ref=intent.id).values_list("pk", flat=True).first()
    if pk is None and str(intent.metadata.get("payment_id", "")).isdigit():
        # The webhook can beat the request that stores the intent id on the row.
        pk = Payment.objects.filter(pk=int(intent.metadata["payment_id"]), provider_ref__isnull=True).values_list(
            "pk", flat=True).first()
    return pk


def _claim_ref(payment: Payment, intent: IntentData) -> None:
    if not payment.provider_ref:
        payment.provider_ref = intent.id
        payment.save(update_fields=["provider_ref", "updated_at"])


def attempts_used(booking) -> int:
    return Payment.objects.filter(booking=booking, status=P.FAILED).count()


def attempts_left(booking) -> int:
    return max(settings.PAYMENT_MAX_ATTEMPTS - attempts_used(booking), 0)


def payment_totals(booking_id) -> tuple[Decimal, Decimal]:
    """(paid, refunded) over the booking's captured payments."""
    paid = refunded = ZERO
    for amount, amount_refunded in Payment.objects.filter(booking_id=booking_id, status__in=CAPTURED_STATUSES
                                                          ).values_list("amount", "amount_refunded"):
        paid += amount
        refunded += amount_refunded
    return paid, refunded


def _sync_booking(booking_id, actor: Actor, reason: str, *, always_record: bool = False) -> Booking:
    """Write the booking's money totals and payment status, derived from its payment rows."""
    booking = Booking.objects.get(pk=booking_id)
    paid, refunded = payment_totals(booking_id)
    if paid > 0:
        if refunded >= paid:
            status = BookingPaymentStatus.REFUNDED
        elif refunded > 0:
            status = BookingPaymentStatus.PARTIALLY_REFUNDED
        elif paid >= booking.total:
            status = BookingPaymentStatus.PAID
        else:
            status = BookingPaymentStatus.PARTIALLY_PAID
    else:
        attempts = Payment.objects.filter(booking_id=booking_id)
        failed = attempts.filter(status=P.FAILED).exists() and not attempts.filter(status__in=OPEN_STATUSES).exists()
        status = BookingPaymentStatus.FAILED if failed else BookingPaymentStatus.UNPAID
    return booking_services.record_payment(booking_id=booking_id, amount_paid=paid, amount_refunded=refunded,
                                           payment_status=status, actor=actor, reason=reason,
                                           always_record=always_record)


def _refresh_refunded(payment: Payment, actor: str, reason: str) -> None:
    """Recompute ``payment.amount_refunded`` from its refund rows and move its status forward."""
    total = sum(payment.refunds.filter(status__in=COUNTED_REFUNDS).values_list("amount", flat=True), ZERO)
    if total == payment.amount_refunded:
        return
    before = payment.amount_refunded
    payment.amount_refunded = total
    target = P.REFUNDED if total >= payment.amount else (P.PARTIALLY_REFUNDED if total > 0 else payment.status)
    note = f"{reason} Refunded {before} → {total} {payment.currency}."
    if not advance(payment, target, actor, note, extra_fields=("amount_refunded",)):
        # Same status (partial → partial), or a refund failed later: amounts change, the status never goes back.
        payment.save(update_fields=["amount_refunded", "updated_at"])
        record_payment_event(payment, payment.status, payment.status, actor, note)


def _refund(payment: Payment, amount: Decimal, *, reason: str, actor: Actor, idempotency_key: str) -> Refund:
    """Refund ``amount`` of a captured payment at the provider and record it (caller holds the locks)."""
    amount = round_money(amount, payment.currency)
    if amount <= 0 or amount > payment.refundable:
        raise RefundNotAllowed(f"At most {payment.refundable} {payment.currency} of this payment can be refunded.")
    data: RefundData = provider(payment.provider).refund(payment, amount, idempotency_key=idempotency_key)
    refund = Refund.objects.filter(provider_ref=data.id).first()  # a retried idempotent call returns the same refund
    if refund is None:
        refund = Refund.objects.create(
            payment=payment, amount=data.amount or amount, currency=payment.currency, status=data.status,
            provider_ref=data.id, reason=reason,
            created_by=actor.user if actor.user is not None and getattr(actor.user, "pk", None) else None,
            actor_label=actor.label[:200],
        )
    _refresh_refunded(payment, actor.label or actor.type, f"Refund {data.id}: {reason}")
    return refund


# --- card payments -------------------------------------------------------------------------------------


def check_payable(booking: Booking, now: datetime) -> Decimal:
    if booking.status != S.RESERVED:
        raise PaymentNotAllowed("This booking is not waiting for a payment.")
    if not booking.is_occupying(now):
        raise PaymentNotAllowed("The reservation has expired; please book again.")
    due = booking.total - booking.amount_paid
    if due <= 0 or Payment.objects.filter(booking=booking, status__in=CAPTURED_STATUSES).exists():
        raise PaymentNotAllowed("This booking is already paid.")
    if attempts_used(booking) >= settings.PAYMENT_MAX_ATTEMPTS:
        raise TooManyAttempts()
    return due


def start_card_payment(*, booking_id, payment_method_id: str, actor: Actor, at: datetime | None = None) -> CardResult:
    """Charge the booking's balance to a card (a PaymentMethod id from Stripe.js): one new attempt.

    The amount comes from the booking, never from the request. An earlier attempt
    still waiting for 3-D Secure is cancelled first, so the guest is never
    charged twice by switching cards.
    """
    now = at or timezone.now()
    with transaction.atomic():
        booking = _lock_booking(booking_id)
        check_payable(booking, now)
        open_refs = list(Payment.objects.filter(booking=booking, status__in=OPEN_STATUSES,
                                                provider_ref__isnull=False).values_list("provider_ref", "currency"))
    for ref, currency in open_refs:
        apply_intent(provider().cancel(ref, currency), actor_label="superseded by a new attempt")

    with transaction.atomic():
        booking = _lock_booking(booking_id)
        due = check_payable(booking, now)
        attempt = (Payment.objects.filter(booking=booking).order_by("-attempt").values_list("attempt", flat=True)
                   .first() or 0) + 1
        payment = Payment.objects.create(
            booking=booking, provider=Provider.STRIPE, attempt=attempt, amount=due, currency=booking.currency,
            idempotency_key=f"stayhold-{booking.reference}-{attempt}-{uuid.uuid4().hex[:12]}", created_at=now,
        )
        record_payment_event(payment, "", P.PENDING, actor.label or actor.type,
                             f"Card payment attempt {attempt} of {settings.PAYMENT_MAX_ATTEMPTS}.", at=now)

    try:
        intent = provider().create_payment(payment, payment_method_id)
    except ProviderError as exc:
        with transaction.atomic():
            payment = _lock_payment(payment.pk)
            payment.failure_code, payment.failure_message = "provider_error", exc.detail
            # Not counted as a failed attempt: an outage must not cost the guest the reservation.
            advance(payment, P.CANCELED, "stripe", f"The provider refused or failed: {exc.detail}",
                    extra_fields=("failure_code", "failure_message"))
        raise

    with transaction.atomic():
        locked = _lock_payment(payment.pk)
        _claim_ref(locked, intent)
    apply_intent(intent, actor_label="card payment")
    payment.refresh_from_db()
    booking = Booking.objects.get(pk=booking_id)
    status = {P.SUCCEEDED: "succeeded", P.REQUIRES_ACTION: "requires_action", P.PENDING: "pending"}.get(
        payment.status, "failed")
    if payment.status in CAPTURED_STATUSES:
        # Refunded at once: the booking could not be confirmed (its dates were taken meanwhile).
        status = "refunded" if payment.status == P.REFUNDED else "succeeded"
    error = payment.failure_message or {
        "failed": "Your card was declined.",
        "refunded": "The dates are no longer available; your payment was refunded in full.",
    }.get(status, "")
    return CardResult(status=status, payment=payment, booking=booking,
                      client_secret=intent.client_secret if status == "requires_action" else "", error=error)


def apply_intent(intent: IntentData, *, actor_label: str = "stripe") -> Payment | None:
    """Apply what the provider says about an intent (from a response, a retrieval or a webhook)."""
    handler = {
        P.SUCCEEDED: handle_intent_succeeded,
        P.FAILED: handle_intent_failed,
        P.CANCELED: handle_intent_canceled,
        P.REQUIRES_ACTION: _handle_requires_action,
    }.get(intent.status)
    if handler is None:  # still pending
        pk = _find_payment_id(intent)
        return Payment.objects.filter(pk=pk).first() if pk else None
    return handler(intent, actor_label=actor_label)


def _handle_requires_action(intent: IntentData, *, actor_label: str = "stripe") -> Payment | None:
    pk = _find_payment_id(intent)
    if pk is None:
        return None
    with transaction.atomic():
        payment = _lock_payment(pk)
        _claim_ref(payment, intent)
        advance(payment, P.REQUIRES_ACTION, actor_label, "The card asks for 3-D Secure authentication.")
    return payment


def intent_mismatch(payment: Payment, intent: IntentData) -> str:
    """Why a succeeded ``intent`` cannot pay ``payment`` ("" when it can).

    Its PaymentIntent id must be the one on the row (before the row has one, when the webhook beats the request
    that stores it, the booking in the intent's metadata must be the payment's), and its amount in minor units
    and its currency must be the payment's."""
    problems = []
    if payment.provider_ref:
        if payment.provider_ref != intent.id:
            problems.append(f"PaymentIntent {intent.id} is not this payment's {payment.provider_ref}")
    elif str(intent.metadata.get("booking_id", "")) != str(payment.booking_id):
        problems.append(f"PaymentIntent {intent.id} is for booking id {intent.metadata.get('booking_id') or '(none)'}")
    if intent.currency.upper() != payment.currency.upper() or (
            to_minor_units(intent.amount, payment.currency) != to_minor_units(payment.amount, payment.currency)):
        problems.append(f"{intent.amount} {intent.currency or '(no currency)'} instead of "
                        f"{payment.amount} {payment.currency}")
    return "; ".join(problems)


def _flag_mismatch(payment: Payment, intent: IntentData, problem: str, actor_label: str) -> None:
    """Record a succeeded intent that does not match ``payment`` (caller holds the locks); no booking changes.

    The payment is flagged for staff (``Payment.flagged``: the admin's payment list filters on it) and gets an
    audit row; ``payment.mismatch`` tells the caller what was wrong."""
    logger.warning("Succeeded intent %s does not match payment %s: %s", intent.id, payment.pk, problem)
    if not payment.flagged:
        payment.flagged = True
        payment.save(update_fields=["flagged", "updated_at"])
    record_payment_event(payment, payment.status, payment.status, actor_label,
                         f"Not applied: a succeeded payment that does not match this one ({problem}). "
                         "No booking was changed; check the PaymentIntent at Stripe.")
    payment.mismatch = problem


def _payment_named_by(intent: IntentData) -> int | None:
    """The payment an intent's metadata names, whatever intent id the row holds (to flag a mismatch)."""
    ref = str(intent.metadata.get("payment_id", ""))
    return Payment.objects.filter(pk=int(ref)).values_list("pk", flat=True).first() if ref.isdigit() else None


def handle_intent_succeeded(intent: IntentData, *, actor_label: str = "stripe") -> Payment | None:
    """The money arrived. Idempotent; confirms the booking or, if that is impossible, refunds automatically.

    Only an intent that matches the payment row (:func:`intent_mismatch`) is applied; any other is flagged."""
    pk = _find_payment_id(intent) or _payment_named_by(intent)
    if pk is None:
        logger.warning("Succeeded intent %s matches no payment", intent.id)
        return None
    with transaction.atomic():
        payment = _lock_payment(pk)
        if problem := intent_mismatch(payment, intent):
            _flag_mismatch(payment, intent, problem, actor_label)
            return payment
        _claim_ref(payment, intent)
        if payment.status in CAPTURED_STATUSES:
            return payment  # already applied (webhook and return path both arrive)
        if not advance(payment, P.SUCCEEDED, actor_label, f"Payment {intent.id} succeeded."):
            logger.error("Intent %s succeeded but payment %s is %s", intent.id, payment.pk, payment.status)
            return payment
        booking = Booking.objects.get(pk=payment.booking_id)
        paid_before = payment_totals(booking.pk)[0] - payment.amount
        refund_reason = ""
        if booking.status in (S.RESERVED, S.EXPIRED):
            late = not booking.is_occupying()
            try:
                booking_services.confirm_late_payment(
                    booking_id=booking.pk, actor=SYSTEM,
                    reason="Paid after the hold ran out; dates still free." if late else "Paid by card.",
                )
            except BookingError as exc:
                refund_reason = f"Paid after the reservation expired and its dates were taken ({exc.code})."
                booking_services.expire(booking_id=booking.pk)
        elif booking.status in (S.CONFIRMED, S.CHECKED_IN, S.CHECKED_OUT):
            if paid_before >= booking.total:
                refund_reason = "A second payment for a booking already paid."
        else:
            refund_reason = f"The booking is {booking.status}; the payment is returned."
        if refund_reason:
            _refund(payment, payment.refundable, reason=refund_reason, actor=SYSTEM,
                    idempotency_key=f"stayhold-auto-refund-{payment.idempotency_key}")
        _sync_booking(payment.booking_id, SYSTEM,
                      f"Card payment {payment.amount} {payment.currency} received ({intent.id})."
                      + (f" Refunded automatically: {refund_reason}" if refund_reason else ""))
    return payment


def handle_intent_failed(intent: IntentData, *, actor_label: str = "stripe") -> Payment | None:
    """An attempt failed (declined, 3-D Secure failed). Releases the reservation after the last allowed attempt."""
    pk = _find_payment_id(intent)
    if pk is None:
        return None
    to_cancel: list[tuple[str, str]] = []
    with transaction.atomic():
        payment = _lock_payment(pk)
        _claim_ref(payment, intent)
        if payment.status not in OPEN_STATUSES:
            return payment  # repeated, or late after success: never backwards
        payment.failure_code = intent.failure_code[:100] or "payment_failed"
        payment.failure_message = intent.failure_message or "The payment failed."
        advance(payment, P.FAILED, actor_label, f"{payment.failure_code}: {payment.failure_message}",
                extra_fields=("failure_code", "failure_message"))
        to_cancel.append((payment.provider_ref, payment.currency))
        booking = Booking.objects.get(pk=payment.booking_id)
        used = attempts_used(booking)
        if booking.status == S.RESERVED:
            if not booking.is_occupying():
                booking_services.expire(booking_id=booking.pk)
            elif used >= settings.PAYMENT_MAX_ATTEMPTS:
                booking_services.cancel(booking_id=booking.pk, actor=SYSTEM,
                                        reason=f"Payment failed {used} times; the reservation was released.")
            booking.refresh_from_db()
            if booking.status != S.RESERVED:
                to_cancel += list(Payment.objects.filter(booking=booking, status__in=OPEN_STATUSES,
                                                         provider_ref__isnull=False)
                                  .values_list("provider_ref", "currency"))
        _sync_booking(booking.pk, SYSTEM, f"Card payment attempt {payment.attempt} failed: {payment.failure_code}.")
    # A failed intent could be retried in the browser with another card; each attempt is its own intent here.
    for ref, currency in to_cancel:
        try:
            apply_intent(provider().cancel(ref, currency), actor_label="released")
        except ProviderError:
            logger.warning("Could not cancel intent %s", ref)
    return payment


def handle_intent_canceled(intent: IntentData, *, actor_label: str = "stripe") -> Payment | None:
    pk = _find_payment_id(intent)
    if pk is None:
        return None
    with transaction.atomic():
        payment = _lock_payment(pk)
        _claim_ref(payment, intent)
        if payment.status in OPEN_STATUSES:
            advance(payment, P.CANCELED, actor_label, f"Intent {intent.id} canceled.")
            _sync_booking(payment.booking_id, SYSTEM, f"Card payment attempt {payment.attempt} canceled.")
    return payment


def sync_from_provider(*, booking_id) -> Booking:
    """The confirm-on-return path: ask the provider about the booking's open attempts and apply the answers.

    Does not wait for the webhook; idempotent with it (whichever comes second changes nothing)."""
    refs = Payment.objects.filter(booking_id=booking_id, status__in=OPEN_STATUSES, provider_ref__isnull=False
                                  ).values_list("provider_ref", "currency", "provider")
    for ref, currency, name in refs:
        apply_intent(provider(name).retrieve(ref, currency), actor_label="return from payment")
    return Booking.objects.get(pk=booking_id)


# --- refunds and cancellations ----------------------------------------------------------------------------


def check_in_datetime(booking: Booking) -> datetime:
    prop = booking.property
    return datetime.combine(booking.check_in, prop.check_in_time, tzinfo=prop.tz)


def refund_quote(booking: Booking, at: datetime | None = None) -> RefundQuote:
    """What cancelling ``booking`` at ``at`` refunds under its policy snapshot (capped at paid minus refunded)."""
    at = at or timezone.now()
    paid, refunded = payment_totals(booking.pk)
    refundable = max(paid - refunded, ZERO)
    check_in_at = check_in_datetime(booking)
    percent = refund_percent(booking.cancellation_policy or {}, check_in_at, at)
    amount = min(round_money(paid * percent / 100, booking.currency), refundable)
    return RefundQuote(percent=percent, amount=amount, refundable=refundable, currency=booking.currency,
                       check_in_at=check_in_at)


def _refund_across(booking: Booking, amount: Decimal, *, reason: str, actor: Actor, key: str) -> list[Refund]:
    """Refund ``amount`` over the booking's captured payments, newest first (caller holds the locks)."""
    refunds = []
    remaining = amount
    for payment in Payment.objects.select_for_update().filter(booking=booking, status__in=CAPTURED_STATUSES
                                                              ).order_by("-attempt"):
        part = min(remaining, payment.refundable)
        if part <= 0:
            continue
        refunds.append(_refund(payment, part, reason=reason, actor=actor,
                               idempotency_key=f"{key}-{payment.pk}-{to_minor_units(part, payment.currency)}"))
        remaining -= part
        if remaining <= 0:
            break
    return refunds


def cancel_with_refund(*, booking_id, actor: Actor, reason: str, refund_amount: Decimal | None = None,
                       by_owner: bool = False, at: datetime | None = None) -> CancelResult:
    """Cancel a booking and refund what is due.

    A guest (``by_owner=False``) gets the amount of the policy snapshot and cannot
    choose it. An owner refunds everything paid by default, or ``refund_amount``
    (0 up to what was paid minus refunded) with a reason. Refunds never exceed what
    was paid. Open card attempts are cancelled first. Nothing changes if a refund fails.
    """
    now = at or timezone.now()
    if not reason.strip():
        raise RefundNotAllowed("A cancellation needs a reason.")
    if refund_amount is not None and not by_owner:
        raise RefundNotAllowed("A guest's refund follows the cancellation policy.")
    open_refs = Payment.objects.filter(booking_id=booking_id, status__in=OPEN_STATUSES, provider_ref__isnull=False
                                       ).values_list("provider_ref", "currency")
    for ref, currency in list(open_refs):
        apply_intent(provider().cancel(ref, currency), actor_label="booking cancelled")

    with transaction.atomic():
        booking = _lock_booking(booking_id)
        if booking.status not in (S.RESERVED, S.CONFIRMED, S.INQUIRY):
            raise InvalidTransition(booking.status, S.CANCELLED)
        quote = refund_quote(booking, now)
        if by_owner:
            amount = quote.refundable if refund_amount is None else round_money(refund_amount, booking.currency)
        else:
            amount = quote.amount
        if amount < 0 or amount > quote.refundable:
            raise RefundNotAllowed(f"At most {quote.refundable} {booking.currency} can be refunded.")
        who = "owner" if by_owner else "guest"
        refunds = _refund_across(booking, amount, actor=actor, key=f"stayhold-cancel-{booking.reference}",
                                 reason=f"Cancelled by the {who}: {reason}")
        booking_services.cancel(booking_id=booking.pk, actor=actor, reason=reason, at=now)
        if refunds:
            _sync_booking(booking.pk, actor, f"Refunded {amount} {booking.currency} on cancellation "
                                             f"({quote.percent}% policy amount {quote.amount}).")
        booking.refresh_from_db()
    return CancelResult(booking=booking, refunds=refunds)


def refund_booking(*, booking_id, amount: Decimal, actor: Actor, reason: str) -> list[Refund]:
    """A refund without cancelling (an owner's goodwill or correction). Never more than paid minus refunded."""
    if not reason.strip():
        raise RefundNotAllowed("A refund needs a reason.")
    with transaction.atomic():
        booking = _lock_booking(booking_id)
        paid, refunded = payment_totals(booking.pk)
        amount = round_money(amount, booking.currency)
        if amount <= 0 or amount > paid - refunded:
            raise RefundNotAllowed(f"At most {paid - refunded} {booking.currency} can be refunded.")
        refunds = _refund_across(booking, amount, reason=reason, actor=actor,
                                 key=f"stayhold-refund-{booking.reference}-{uuid.uuid4().hex[:8]}")
        _sync_booking(booking.pk, actor, f"Refunded {amount} {booking.currency}: {reason}")
    return refunds


# --- provider events about refunds and disputes -----------------------------------------------------------


def handle_refund(refund: RefundData, *, actor_label: str = "stripe") -> Refund | None:
    """A refund was created or changed at the provider (``refund.created`` / ``refund.updated``)."""
    pk = Payment.objects.filter(provider_ref=refund.payment_ref).values_list("pk", flat=True).first()
    if pk is None:
        return None
    with transaction.atomic():
        payment = _lock_payment(pk)
        row = Refund.objects.select_for_update().filter(provider_ref=refund.id).first()
        if row is None:
            if refund.status not in COUNTED_REFUNDS or refund.amount > payment.refundable:
                return None
            row = Refund.objects.create(payment=payment, amount=refund.amount, currency=payment.currency,
                                        status=refund.status, provider_ref=refund.id, actor_label=actor_label,
                                        reason="Refunded at the provider.")
        else:
            # pending → succeeded/failed/canceled, succeeded → failed (Stripe can fail a refund later); never back.
            moves = row.status == RefundStatus.PENDING or (
                row.status == RefundStatus.SUCCEEDED and refund.status == RefundStatus.FAILED)
            if row.status == refund.status or not moves:
                return row
            row.status = refund.status
            row.save(update_fields=["status", "updated_at"])
        _refresh_refunded(payment, actor_label, f"Refund {refund.id} is {refund.status}.")
        _sync_booking(payment.booking_id, SYSTEM, f"Refund {refund.id} {refund.status}.")
    return row


def handle_charge_refunded(*, payment_ref: str, amount_refunded: Decimal, refunds: list[RefundData] = (),
                           actor_label: str = "stripe") -> Payment | None:
    """``charge.refunded``: the charge's refunded total at the provider. Adds what this app did not record."""
    for refund in refunds:
        handle_refund(refund, actor_label=actor_label)
    pk = Payment.objects.filter(provider_ref=payment_ref).values_list("pk", flat=True).first()
    if pk is None:
        return None
    with transaction.atomic():
        payment = _lock_payment(pk)
        missing = min(amount_refunded, payment.amount) - payment.amount_refunded
        if missing > 0:
            Refund.objects.create(payment=payment, amount=missing, currency=payment.currency,
                                  status=RefundStatus.SUCCEEDED, actor_label=actor_label,
                                  reason="Refunded at the provider (charge.refunded).")
            _refresh_refunded(payment, actor_label, "Refund made at the provider.")
            _sync_booking(payment.booking_id, SYSTEM, f"Refund of {missing} {payment.currency} made at the provider.")
    return payment


def handle_dispute(*, payment_ref: str, amount: Decimal, reason: str, dispute_id: str,
                   actor_label: str = "stripe") -> Payment | None:
    """``charge.dispute.created``: flag the payment and audit it on the payment and the booking."""
    pk = Payment.objects.filter(provider_ref=payment_ref).values_list("pk", flat=True).first()
    if pk is None:
        return None
    with transaction.atomic():
        payment = _lock_payment(pk)
        if payment.disputed:
            return payment
        payment.disputed = True
        payment.save(update_fields=["disputed", "updated_at"])
        note = f"Dispute {dispute_id} opened for {amount} {payment.currency}: {reason or 'no reason given'}."
        record_payment_event(payment, payment.status, payment.status, actor_label, note)
        _sync_booking(payment.booking_id, SYSTEM, note, always_record=True)
    return payment


# --- webhooks -------------------------------------------------------------------------------------------------


def process_webhook_event(*, event_id: str, event_type: str, obj: dict, provider_name: str = Provider.STRIPE) -> str:
    """Apply one verified provider event at most once: its id is recorded in the same transaction as its effect.

    Returns the outcome ("duplicate", "ignored", or what the handler did)."""
    from .webhooks import HANDLERS

    handler = HANDLERS.get(event_type)
    with transaction.atomic():
        try:
            with transaction.atomic():
                record = WebhookEvent.objects.create(provider=provider_name, event_id=event_id, type=event_type)
        except IntegrityError:
            return "duplicate"
        outcome = handler(obj) if handler else "ignored"
        record.outcome = outcome[:200]
        record.save(update_fields=["outcome"])
    return outcome
