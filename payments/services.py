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

No network call while a transaction or a row lock is open. A refund is first
recorded as a ``pending`` :class:`Refund` row (with the booking's new totals and
outbox event) under the locks; :func:`execute_refund` sends it to the provider
after commit (a Celery task queued on commit, and the ``execute_due_refunds``
sweeper for a lost task or a provider outage) and applies the answer in a second
short transaction. The refund row is this call's outbox: the outbox consumers
themselves run inside the delivery transaction, so they never talk to Stripe.
Cancelling open card attempts after a failure or a cancellation is queued the
same way (:func:`cancel_intents`).

Disputes: the payment is flagged ``disputed`` and both the payment and the
booking get an audit row; the booking's ``payment_status`` does not change (the
money is only withdrawn when the dispute is lost, which Stripe reports as a
separate event this app does not act on).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal

from celery import shared_task
from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from bookings import services as booking_services
from bookings.models import (
    CHANNEL_SOURCES,
    CONFIRMABLE_BY_PAYMENT_STATUSES,
    CONFIRMED_STATUSES,
    Booking,
    BookingStatus,
)
from bookings.models import PaymentStatus as BookingPaymentStatus
from core.actor import Actor
from core.errors import DomainError
from core.money import ZERO, round_money, to_minor_units

from . import schedule
from .errors import PaymentNotAllowed, ProviderError, RefundNotAllowed, TooManyAttempts
from .models import (
    CAPTURED_STATUSES,
    COUNTED_REFUNDS,
    OPEN_STATUSES,
    Payment,
    PaymentPurpose,
    Provider,
    Refund,
    RefundStatus,
    SavedCard,
)
from .models import PaymentStatus as P
from .providers import IntentData, RefundData, get_provider
from .state_machine import advance, record_payment_event

logger = logging.getLogger(__name__)
S = BookingStatus
# A booking whose balance the guest may pay (card page or a manual method) once it is confirmed.
BALANCE_PAYABLE_STATUSES = (S.CONFIRMED, S.CHECKED_IN)
SYSTEM = Actor.system("payments")
# A requested refund is sent at once (a task queued on commit); the sweeper picks it up after REFUND_RETRY_AFTER if
# that task was lost, and retries a failed attempt after 1, 2, 4 … 60 minutes. After REFUND_MAX_ATTEMPTS it is marked
# failed for staff (about two hours in all: well inside Stripe's 24-hour idempotency window).
REFUND_RETRY_AFTER = timedelta(minutes=1)
REFUND_MAX_ATTEMPTS = 8


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


RefundQuote = booking_services.RefundTerms  # percent, amount (policy, capped), refundable, currency, check_in_at


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
        raise PaymentNotAllowed(_("This booking does not exist."))
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


def sync_booking_totals(booking_id, actor: Actor, reason: str, *, always_record: bool = False) -> Booking:
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


def after_commit(task, *args) -> None:
    """Queue a Celery ``task`` once the current transaction commits (at once when none is open).

    Network calls happen in the task, never under a lock. A broker outage is logged;
    the sweepers catch up (requested refunds are retried by ``execute_due_refunds``)."""

    def queue():
        try:
            task.delay(*args)
        except Exception:  # the broker being down must not fail the caller
            logger.warning("Could not queue %s%r; the sweeper retries it", task.name, args, exc_info=True)

    transaction.on_commit(queue)


def _request_refund(payment: Payment, amount: Decimal, *, reason: str, actor: Actor) -> Refund:
    """Record a refund of ``amount`` as ``pending`` (caller holds the locks); it is sent after commit."""
    amount = round_money(amount, payment.currency)
    if amount <= 0 or amount > payment.refundable:
        raise RefundNotAllowed(f"At most {payment.refundable} {payment.currency} of this payment can be refunded.")
    now = timezone.now()
    refund = Refund.objects.create(
        payment=payment, amount=amount, currency=payment.currency, status=RefundStatus.PENDING, reason=reason,
        created_by=actor.user if actor.user is not None and getattr(actor.user, "pk", None) else None,
        actor_label=actor.label[:200], created_at=now, next_attempt_at=now + REFUND_RETRY_AFTER,
    )
    _refresh_refunded(payment, actor.label or actor.type, f"Refund #{refund.pk} of {amount} {payment.currency} "
                                                          f"requested: {reason}")
    after_commit(execute_refund_task, refund.pk)
    return refund


# --- card payments -------------------------------------------------------------------------------------


def amount_to_pay(booking: Booking, now: datetime) -> Decimal:
    """What the guest may pay now, by card or by a manual method (the one rule; the amount never comes from a
    request). Raises :class:`PaymentNotAllowed` saying why not.

    * a reservation that still holds its dates and has no captured payment: what its payment plan asks at
      booking (``payments.schedule.due_at_booking``: the deposit, or the total); paying it confirms the booking;
    * a confirmed (or checked-in) booking we sold with a balance still due: that balance (``Booking.balance_due``),
      e.g. after its automatic charge failed, or early. Channel bookings are paid on their platform.
    """
    if booking.status in BALANCE_PAYABLE_STATUSES and booking.source not in CHANNEL_SOURCES:
        due = booking.balance_due
        if due <= 0:
            raise PaymentNotAllowed(_("This booking is already paid."))
        return due
    if booking.status != S.RESERVED:
        raise PaymentNotAllowed(_("This booking is not waiting for a payment."))
    if not booking.is_occupying(now):
        raise PaymentNotAllowed(_("The reservation has expired; please book again."))
    due = booking.balance_due
    if due <= 0 or Payment.objects.filter(booking=booking, status__in=CAPTURED_STATUSES).exists():
        raise PaymentNotAllowed(_("This booking is already paid."))
    return min(due, schedule.due_at_booking(booking, now))


def check_payable(booking: Booking, now: datetime) -> Decimal:
    """:func:`amount_to_pay`, for one more card attempt (at most ``PAYMENT_MAX_ATTEMPTS`` per reservation; a
    confirmed booking's balance is not limited that way: its dates are not at stake, the throttle still counts)."""
    due = amount_to_pay(booking, now)
    if booking.status == S.RESERVED and attempts_used(booking) >= settings.PAYMENT_MAX_ATTEMPTS:
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
        if booking.status == S.RESERVED:
            schedule.ensure_plan(booking, now)  # the schedule as sold: the deposit (or total) due now
        attempt = next_attempt(booking)
        purpose = PaymentPurpose.BOOKING if booking.status == S.RESERVED else PaymentPurpose.BALANCE
        payment = Payment.objects.create(
            booking=booking, provider=Provider.STRIPE, attempt=attempt, amount=due, currency=booking.currency,
            idempotency_key=f"stayhold-{booking.reference}-{attempt}-{uuid.uuid4().hex[:12]}", created_at=now,
            purpose=purpose,
        )
        record_payment_event(payment, "", P.PENDING, actor,
                             f"Card payment attempt {attempt} ({payment.get_purpose_display().lower()}).", at=now)
        customer_id = SavedCard.objects.filter(booking=booking).values_list("customer_id", flat=True).first() or ""

    try:
        extra = {"customer_id": customer_id} if customer_id else {}  # the card is being saved for later
        intent = provider().create_payment(payment, payment_method_id, **extra)
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
    if customer_id and payment.status in CAPTURED_STATUSES:
        save_card(booking_id=booking_id, payment_method_id=payment_method_id)
    booking = Booking.objects.get(pk=booking_id)
    outcomes: dict[str, str] = {P.SUCCEEDED: "succeeded", P.REQUIRES_ACTION: "requires_action", P.PENDING: "pending"}
    status = outcomes.get(payment.status, "failed")
    if payment.status in CAPTURED_STATUSES:
        # Refunded at once: the booking could not be confirmed (its dates were taken meanwhile).
        status = "refunded" if payment.status == P.REFUNDED else "succeeded"
    error = payment.failure_message or {
        "failed": "Your card was declined.",
        "refunded": "The dates are no longer available; your payment was refunded in full.",
    }.get(status, "")
    return CardResult(status=status, payment=payment, booking=booking,
                      client_secret=intent.client_secret if status == "requires_action" else "", error=error)


def next_attempt(booking: Booking) -> int:
    """The next attempt number of the booking's payments (caller holds the property lock)."""
    return (Payment.objects.filter(booking=booking).order_by("-attempt").values_list("attempt", flat=True)
            .first() or 0) + 1


# --- the saved card (a Stripe customer and its PaymentMethod; never card data) -------------------------------


def prepare_card_setup(*, booking: Booking, at: datetime | None = None) -> tuple[str, str]:
    """A SetupIntent for the payment page: ``(id, client_secret)``.

    When the booking's plan needs the card later (a balance, a security deposit), the SetupIntent is made for
    ``off_session`` use on a Stripe customer of this booking (created once; its id kept on :class:`SavedCard`),
    so the confirmed card can be charged without the guest. No transaction is open during the calls."""
    now = at or timezone.now()
    gateway = provider()
    if not schedule.needs_saved_card(booking, now):
        return gateway.create_setup(booking)
    customer_id = SavedCard.objects.filter(booking=booking).values_list("customer_id", flat=True).first()
    if not customer_id:
        customer_id = gateway.create_customer(booking)  # idempotency key per booking: one customer
        with transaction.atomic():
            card, _created = SavedCard.objects.get_or_create(booking=booking, defaults={"customer_id": customer_id})
            customer_id = card.customer_id
    return gateway.create_setup(booking, customer_id=customer_id)


def save_card(*, booking_id, payment_method_id: str) -> SavedCard | None:
    """Keep the PaymentMethod that just paid as the booking's saved card (attached to its customer at Stripe) with
    the brand and last 4 digits Stripe reports. Best effort: a failure leaves the card unsaved (the balance then
    goes out as a payment link)."""
    card = SavedCard.objects.filter(booking_id=booking_id).first()
    if card is None:
        return None
    try:
        info = provider().attach_payment_method(payment_method_id, card.customer_id)
    except ProviderError as exc:
        logger.warning("Card of booking %s not saved: %s", booking_id, exc.detail)
        return None
    with transaction.atomic():
        card = SavedCard.objects.select_for_update().get(pk=card.pk)
        card.payment_method_id = payment_method_id
        card.brand, card.last4 = info.get("brand", "")[:30], info.get("last4", "")[:4]
        card.exp_month, card.exp_year = info.get("exp_month"), info.get("exp_year")
        card.save()
    return card


def apply_intent(intent: IntentData, *, actor_label: str = "stripe") -> Payment | None:
    """Apply what the provider says about an intent (from a response, a retrieval or a webhook)."""
    handlers: dict[str, Callable[..., Payment | None]] = {
        P.SUCCEEDED: handle_intent_succeeded,
        P.FAILED: handle_intent_failed,
        P.CANCELED: handle_intent_canceled,
        P.REQUIRES_ACTION: _handle_requires_action,
    }
    handler = handlers.get(intent.status)
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


def settle_booking_for(payment: Payment, *, group_intent: str = "") -> str:
    """What a payment just captured means for its booking (the caller holds the payment's row lock, in a
    transaction); returns why it must be refunded ("" = it stays). A reservation is confirmed, even an expired one
    whose dates are still free (``bookings.services.confirm_late_payment``); if its dates were taken meanwhile it is
    expired and the payment refunded. A confirmed booking keeps a balance payment but not a second full one. Any
    other booking returns it. ``group_intent``: the shared intent of a group payment (``payments.groups``), named
    in the audit rows."""
    booking = Booking.objects.get(pk=payment.booking_id)
    paid_before = payment_totals(booking.pk)[0] - payment.amount
    if booking.status in CONFIRMABLE_BY_PAYMENT_STATUSES:
        how = "Paid after the hold ran out; dates still free" if not booking.is_occupying() else "Paid by card"
        try:
            booking_services.confirm_late_payment(
                booking_id=booking.pk, actor=SYSTEM,
                reason=how + (f" (group payment {group_intent})." if group_intent else "."))
        except DomainError as exc:
            booking_services.expire(booking_id=booking.pk)
            return f"Paid after the reservation expired and its dates were taken ({exc.code})."
        return ""
    if booking.status in CONFIRMED_STATUSES:
        return "A second payment for a booking already paid." if paid_before >= booking.total else ""
    what = "its share of the group payment" if group_intent else "the payment"
    return f"The booking is {booking.status}; {what} is returned."


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
        refund_reason = settle_booking_for(payment)
        if refund_reason:
            _request_refund(payment, payment.refundable, reason=refund_reason, actor=SYSTEM)
        sync_booking_totals(payment.booking_id, SYSTEM,
                      f"Card payment {payment.amount} {payment.currency} received ({intent.id})."
                      + (f" Refunded automatically: {refund_reason}" if refund_reason else ""))
    return payment


def handle_intent_failed(intent: IntentData, *, actor_label: str = "stripe") -> Payment | None:
    """An attempt failed (declined, 3-D Secure failed). Releases the reservation after the last allowed attempt."""
    pk = _find_payment_id(intent)
    if pk is None:
        return None
    to_cancel: list[tuple[str | None, str]] = []  # (provider ref, currency); refs may be unset
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
        sync_booking_totals(booking.pk, SYSTEM,
                            f"Card payment attempt {payment.attempt} failed: {payment.failure_code}.")
        # A failed intent could be retried in the browser with another card; each attempt is its own intent here.
        # Cancelled after commit: this may run inside a webhook's transaction.
        _cancel_after_commit(to_cancel, "released")
    return payment


def fail_attempt(*, payment_id, code: str, message: str, actor_label: str) -> Payment:
    """Mark an open attempt ``failed`` when the provider gave no intent to apply (an off-session charge refused
    outright, or Stripe's ``authentication_required``): idempotent, never backwards. The booking is not touched
    beyond its totals (a confirmed booking's failed balance does not cancel it: ``payments.balances`` decides)."""
    with transaction.atomic():
        payment = _lock_payment(payment_id)
        if payment.status not in OPEN_STATUSES:
            return payment
        payment.failure_code, payment.failure_message = code[:100] or "payment_failed", message or "The payment failed."
        advance(payment, P.FAILED, actor_label, f"{payment.failure_code}: {payment.failure_message}",
                extra_fields=("failure_code", "failure_message"))
        sync_booking_totals(payment.booking_id, SYSTEM,
                            f"Card payment attempt {payment.attempt} failed: {payment.failure_code}.")
    return payment


def record_offline_payment(*, booking_id, amount: Decimal, method: str, reference: str, received_on,
                           actor: Actor, token: str = "", at: datetime | None = None) -> Payment:
    """A payment the owner received outside the system (cash, a bank transfer): a succeeded :class:`Payment` of
    provider ``offline``, audited, the booking's totals derived from the rows again. At most the balance due (an
    overpayment is refused, not stored as a credit). A reservation it pays in full or in part is confirmed.
    ``token`` (the form's one-time token) makes a double-submitted form record once."""
    now = at or timezone.now()
    if not reference.strip():
        raise PaymentNotAllowed("Give a reference (receipt number, transfer reference, …).")
    with transaction.atomic():
        booking = _lock_booking(booking_id)
        key = f"stayhold-offline-{booking.reference}-{token or uuid.uuid4().hex}"[:100]
        existing = Payment.objects.filter(idempotency_key=key).first()
        if existing is not None:
            return existing
        amount = round_money(amount, booking.currency)
        if booking.status not in (S.RESERVED, *CONFIRMED_STATUSES):
            raise PaymentNotAllowed(f"This booking is {booking.get_status_display().lower()}: it takes no payment.")
        if amount <= 0 or amount > booking.balance_due:
            raise PaymentNotAllowed(f"The amount must be more than 0 and at most the balance due, "
                                    f"{booking.balance_due} {booking.currency}.")
        note = (f"{amount} {booking.currency} received outside the system by {method} on {received_on}, "
                f"reference {reference.strip()[:200]}; recorded by {actor.label or actor.type}.")
        if booking.status == S.RESERVED:
            schedule.ensure_plan(booking, now)  # the deposit it may be, and the balance that follows
            booking_services.confirm_late_payment(booking_id=booking.pk, actor=actor, reason=note, at=now)
        payment = Payment.objects.create(
            booking=booking, provider=Provider.OFFLINE, attempt=next_attempt(booking), amount=amount,
            currency=booking.currency, status=P.SUCCEEDED, idempotency_key=key, created_at=now, succeeded_at=now,
            purpose=PaymentPurpose.BALANCE if booking.status != S.RESERVED else PaymentPurpose.BOOKING,
            reference=f"{method}: {reference.strip()}"[:200])
        record_payment_event(payment, "", P.SUCCEEDED, actor, note, at=now)
        sync_booking_totals(booking.pk, actor, note, always_record=True)
    return payment


def _cancel_after_commit(refs, actor_label: str) -> None:
    refs = [[ref, currency] for ref, currency in refs if ref]
    if refs:
        after_commit(cancel_intents_task, refs, actor_label)


def cancel_intents(refs, *, actor_label: str) -> int:
    """Cancel open intents at the provider and apply the answers (no transaction open). The number cancelled."""
    cancelled = 0
    for ref, currency in refs:
        try:
            intent = provider().cancel(ref, currency)
        except ProviderError:
            logger.warning("Could not cancel intent %s", ref)
            continue
        apply_intent(intent, actor_label=actor_label)
        cancelled += 1
    return cancelled


def handle_intent_canceled(intent: IntentData, *, actor_label: str = "stripe") -> Payment | None:
    pk = _find_payment_id(intent)
    if pk is None:
        return None
    with transaction.atomic():
        payment = _lock_payment(pk)
        _claim_ref(payment, intent)
        if payment.status in OPEN_STATUSES:
            advance(payment, P.CANCELED, actor_label, f"Intent {intent.id} canceled.")
            sync_booking_totals(payment.booking_id, SYSTEM, f"Card payment attempt {payment.attempt} canceled.")
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


def refund_quote(booking: Booking, at: datetime | None = None) -> RefundQuote:
    """What cancelling ``booking`` at ``at`` refunds under its policy snapshot (a preview, read without locks:
    :func:`cancel_with_refund` decides again under the lock)."""
    paid, refunded = payment_totals(booking.pk)
    return booking_services.refund_terms(booking, paid=paid, refunded=refunded, at=at or timezone.now())


def _request_refunds(booking: Booking, amount: Decimal, *, reason: str, actor: Actor) -> list[Refund]:
    """Request ``amount`` over the booking's captured payments, newest first (caller holds the locks)."""
    refunds = []
    remaining = amount
    for payment in Payment.objects.select_for_update().filter(booking=booking, status__in=CAPTURED_STATUSES
                                                              ).order_by("-attempt"):
        part = min(remaining, payment.refundable)
        if part <= 0:
            continue
        refunds.append(_request_refund(payment, part, reason=reason, actor=actor))
        remaining -= part
        if remaining <= 0:
            break
    return refunds


def cancel_with_refund(*, booking_id, actor: Actor, reason: str, refund_amount: Decimal | None = None,
                       by_owner: bool = False, expected_refund: Decimal | None = None,
                       at: datetime | None = None) -> CancelResult:
    """Cancel a booking and refund what is due, in one transaction with no network call.

    Whether the booking may be cancelled, and the amount, are decided by
    ``bookings.services.cancel_with_terms`` under the property lock: a guest
    (``by_owner=False``) only before the arrival day, with the amount of the policy
    snapshot (``expected_refund``: the amount the guest was shown, see
    :class:`~bookings.errors.RefundChanged`); an owner refunds everything paid by
    default, or ``refund_amount`` (0 up to what was paid minus refunded). The refunds
    are recorded ``pending`` and sent to the provider after commit
    (:func:`execute_refund`); open card attempts are cancelled after commit too. A
    refund the provider refuses later is marked ``failed`` with an audit row on the
    booking, which stays cancelled.
    """
    now = at or timezone.now()
    with transaction.atomic():
        decided = booking_services.cancel_with_terms(
            booking_id=booking_id, actor=actor, reason=reason, by_owner=by_owner, refund_amount=refund_amount,
            expected_refund=expected_refund, paid_and_refunded=lambda booking: payment_totals(booking.pk), at=now)
        booking = decided.booking
        who = "owner" if by_owner else "guest"
        refunds = _request_refunds(booking, decided.refund, actor=actor, reason=f"Cancelled by the {who}: {reason}")
        if refunds:
            sync_booking_totals(booking.pk, actor, f"Refund of {decided.refund} {booking.currency} requested on "
                                             f"cancellation ({decided.terms.percent}% policy amount "
                                             f"{decided.terms.amount}).")
        _cancel_after_commit(Payment.objects.filter(booking_id=booking.pk, status__in=OPEN_STATUSES,
                                                    provider_ref__isnull=False).values_list("provider_ref", "currency"),
                             "booking cancelled")
        booking.refresh_from_db()
    return CancelResult(booking=booking, refunds=refunds)


def refund_booking(*, booking_id, amount: Decimal, actor: Actor, reason: str) -> list[Refund]:
    """A refund without cancelling (an owner's goodwill or correction). Never more than paid minus refunded.

    Recorded ``pending`` under the lock and sent to the provider after commit, like every refund."""
    if not reason.strip():
        raise RefundNotAllowed("A refund needs a reason.")
    with transaction.atomic():
        booking = _lock_booking(booking_id)
        paid, refunded = payment_totals(booking.pk)
        amount = round_money(amount, booking.currency)
        if amount <= 0 or amount > paid - refunded:
            raise RefundNotAllowed(f"At most {paid - refunded} {booking.currency} can be refunded.")
        refunds = _request_refunds(booking, amount, reason=reason, actor=actor)
        sync_booking_totals(booking.pk, actor, f"Refund of {amount} {booking.currency} requested: {reason}")
    return refunds


# --- sending requested refunds (after commit, no transaction open during the provider call) -------------------


def _refund_backoff(attempts: int) -> timedelta:
    return min(REFUND_RETRY_AFTER * 2 ** max(attempts - 1, 0), timedelta(hours=1))


def _claim_refund(refund_id, now: datetime) -> Refund | None:
    """Count an attempt in its own short transaction and lease the row until the next retry time.

    None when there is nothing to do: sent already, applied by a webhook, or an
    attempt is under way elsewhere (a redelivered task, the sweeper)."""
    with transaction.atomic():
        row = (Refund.objects.select_for_update(skip_locked=True, of=("self",)).select_related("payment")
               .filter(pk=refund_id, status=RefundStatus.PENDING, provider_ref__isnull=True).first())
        if row is None or (row.attempts and row.next_attempt_at and row.next_attempt_at > now):
            return None
        row.attempts += 1
        row.next_attempt_at = now + _refund_backoff(row.attempts)
        row.save(update_fields=["attempts", "next_attempt_at", "updated_at"])
    return row


def execute_refund(refund_id, *, at: datetime | None = None) -> Refund | None:
    """Send one requested refund to its provider and apply the answer. Idempotent; None when skipped.

    1. claim (short transaction: attempts + 1, leased until the next retry);
    2. the provider call, with no transaction open: the idempotency key is derived
       from the refund row (``<payment key>-refund-<id>``), the row id travels in the
       metadata, and a retry first looks the refund up at the provider, so a
       redelivered task or a lost answer never refunds twice;
    3. apply (short transaction: property lock, payment, then the refund row
       re-read with ``select_for_update``): a row already applied (by a webhook or
       another worker) is only moved forward.
    """
    now = at or timezone.now()
    row = _claim_refund(refund_id, now)
    if row is None:
        return None
    payment = row.payment
    gateway = provider(payment.provider)
    request_id = str(row.pk)
    try:
        data = gateway.find_refund(payment, request_id=request_id) if row.attempts > 1 else None
        if data is None:
            data = gateway.refund(payment, row.amount, idempotency_key=f"{payment.idempotency_key}-refund-{row.pk}",
                                  request_id=request_id)
    except ProviderError as exc:
        return _refund_attempt_failed(row, exc)
    with transaction.atomic():
        payment = _lock_payment(payment.pk)
        row = Refund.objects.select_for_update().get(pk=refund_id)
        _record_refund_data(payment, row, data, actor_label=payment.provider)
    return row


def _refund_attempt_failed(row: Refund, exc: ProviderError) -> Refund:
    """A failed attempt: retried later, or, when the provider refused it or the attempts are used up, ``failed``."""
    error = exc.detail[:2000]
    if exc.retryable and row.attempts < REFUND_MAX_ATTEMPTS:
        Refund.objects.filter(pk=row.pk, status=RefundStatus.PENDING, provider_ref__isnull=True).update(
            last_error=error, updated_at=timezone.now())
        logger.warning("Refund %s: attempt %s failed (%s); retrying after %s", row.pk, row.attempts, error,
                       row.next_attempt_at)
        row.refresh_from_db()
        return row
    with transaction.atomic():
        payment = _lock_payment(row.payment_id)
        row = Refund.objects.select_for_update().get(pk=row.pk)
        if row.status != RefundStatus.PENDING or row.provider_ref:
            return row  # applied meanwhile (a webhook said what happened)
        row.status, row.last_error = RefundStatus.FAILED, error
        row.save(update_fields=["status", "last_error", "updated_at"])
        _refresh_refunded(payment, payment.provider, f"Refund #{row.pk} failed: {error}")
        sync_booking_totals(payment.booking_id, SYSTEM, f"Refund of {row.amount} {row.currency} failed after "
                                                  f"{row.attempts} attempt(s): {error} Nothing was refunded; "
                                                  "refund it again or by another way.", always_record=True)
    logger.error("Refund %s of %s %s (booking %s) failed: %s", row.pk, row.amount, row.currency, payment.booking_id,
                 error)
    return row


def execute_due_refunds(*, at: datetime | None = None, limit: int = 100) -> int:
    """The sweeper (beat, every minute): send requested refunds whose task was lost or whose retry is due."""
    now = at or timezone.now()
    ids = list(Refund.objects.filter(status=RefundStatus.PENDING, provider_ref__isnull=True, next_attempt_at__lte=now)
               .order_by("next_attempt_at").values_list("pk", flat=True)[:limit])
    sent = 0
    for pk in ids:
        try:
            sent += execute_refund(pk, at=now) is not None
        except Exception:  # one broken row must not stop the others
            logger.exception("Refund %s could not be sent", pk)
    return sent


def _record_refund_data(payment: Payment, row: Refund, data: RefundData, *, actor_label: str) -> Refund:
    """What the provider says about one of our refund rows (caller holds the locks). Moves only forward:
    pending → succeeded/failed/canceled, succeeded → failed (Stripe can fail a refund later)."""
    fields = []
    if not row.provider_ref:
        row.provider_ref = data.id
        fields.append("provider_ref")
    moves = row.status == RefundStatus.PENDING or (
        row.status == RefundStatus.SUCCEEDED and data.status == RefundStatus.FAILED)
    if data.status != row.status and moves:
        row.status = data.status
        fields.append("status")
    if not fields:
        return row
    row.save(update_fields=[*fields, "updated_at"])
    if "status" in fields:
        _refresh_refunded(payment, actor_label, f"Refund {data.id} is {data.status}.")
        sync_booking_totals(payment.booking_id, SYSTEM, f"Refund {data.id} {data.status}.")
    return row


# --- provider events about refunds and disputes -----------------------------------------------------------


def handle_refund(refund: RefundData, *, actor_label: str = "stripe") -> Refund | None:
    """A refund was created or changed at the provider (``refund.created`` / ``refund.updated``)."""
    pk = Payment.objects.filter(provider_ref=refund.payment_ref).values_list("pk", flat=True).first()
    if pk is None:
        return None
    with transaction.atomic():
        payment = _lock_payment(pk)
        row = Refund.objects.select_for_update().filter(provider_ref=refund.id).first()
        if row is None and refund.request_id.isdigit():
            # One of ours whose answer has not been applied yet (the webhook beat execute_refund's second step).
            row = Refund.objects.select_for_update().filter(pk=int(refund.request_id), payment=payment,
                                                            provider_ref__isnull=True).first()
        if row is not None:
            return _record_refund_data(payment, row, refund, actor_label=actor_label)
        if refund.status not in COUNTED_REFUNDS or refund.amount > payment.refundable:
            return None
        row = Refund.objects.create(payment=payment, amount=refund.amount, currency=payment.currency,
                                    status=refund.status, provider_ref=refund.id, actor_label=actor_label,
                                    reason="Refunded at the provider.")
        _refresh_refunded(payment, actor_label, f"Refund {refund.id} is {refund.status}.")
        sync_booking_totals(payment.booking_id, SYSTEM, f"Refund {refund.id} {refund.status}.")
    return row


def handle_charge_refunded(*, payment_ref: str, amount_refunded: Decimal, refunds: Sequence[RefundData] = (),
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
            sync_booking_totals(payment.booking_id, SYSTEM,
                                f"Refund of {missing} {payment.currency} made at the provider.")
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
        sync_booking_totals(payment.booking_id, SYSTEM, note, always_record=True)
    return payment


# --- queued after commit ------------------------------------------------------------------------------------------
# The provider calls that must not run under a lock, as Celery tasks. They are defined here, beside what they run,
# so that this module never imports ``payments.tasks`` (which imports it); the names are the ones queued messages
# and the beat schedule carry.


@shared_task(name="payments.tasks.execute_refund", acks_late=True)
def execute_refund_task(refund_id: int) -> str:
    row = execute_refund(refund_id)
    return row.status if row is not None else "skipped"


@shared_task(name="payments.tasks.cancel_intents", acks_late=True)
def cancel_intents_task(refs: list, actor_label: str) -> int:
    return cancel_intents(refs, actor_label=actor_label)


# --- privacy: erasing a guest's personal data (privacy.services.erase_guest) ------------------------------


@dataclass(frozen=True)
class PaymentErasure:
    """What :func:`erase_guest_payment_data` changed, for the erasure's audit row."""

    proofs_deleted: int
    manual_payments: int
    refunds: int
    audit_rows_redacted: int


def _delete_private_files(names: list[str]) -> None:
    from .models import private_storage

    storage = private_storage()
    for name in names:
        try:
            storage.delete(name)
        except OSError:  # already gone: the erasure's goal
            logger.warning("Could not delete the private file %s", name, exc_info=True)


@transaction.atomic
def erase_guest_payment_data(*, booking_ids: Sequence[int], pseudonym: str, secrets: list[str]) -> PaymentErasure:
    """Remove a guest's personal data from the payments of ``booking_ids`` while every money row stays as it is
    (amount, currency, status, dates, provider and our payment codes: the accounting record, docs/privacy.md).

    Manual payments lose the proof file (deleted from private storage after commit: a rollback keeps it) and the
    reference the guest typed; refunds, card and manual payment audit rows that quote one of ``secrets`` quote
    ``pseudonym`` instead; the address a guest's manual-payment action came from is cleared."""
    from .models import ManualPayment, ManualPaymentEvent, PaymentEvent, Refund

    manual = ManualPayment.objects.filter(booking_id__in=booking_ids)
    proofs = [name for name in manual.exclude(proof="").values_list("proof", flat=True) if name]
    manual_count = manual.update(proof="", proof_content_type="", guest_reference="")
    refunds = Refund.objects.filter(payment__booking_id__in=booking_ids)
    refund_count = 0
    for refund in refunds:  # a handful per booking; texts that quote the guest only
        label, reason = refund.actor_label, refund.reason
        for secret in [s for s in secrets if s]:
            label, reason = label.replace(secret, pseudonym), reason.replace(secret, pseudonym)
        if (label, reason) != (refund.actor_label, refund.reason):
            refund.actor_label, refund.reason = label, reason
            refund.save(update_fields=["actor_label", "reason", "updated_at"])
            refund_count += 1
    redacted = PaymentEvent.objects.filter(payment__booking_id__in=booking_ids).redact(
        secrets=secrets, replacement=pseudonym)
    manual_events = ManualPaymentEvent.objects.filter(payment__booking_id__in=booking_ids)
    redacted += manual_events.redact(secrets=secrets, replacement=pseudonym)
    manual_events.filter(actor_type="guest").exclude(ip=None).redact(clear={"ip": None})
    if proofs:
        transaction.on_commit(lambda: _delete_private_files(proofs))
    return PaymentErasure(proofs_deleted=len(proofs), manual_payments=manual_count, refunds=refund_count,
                          audit_rows_redacted=redacted)
