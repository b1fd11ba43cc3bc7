"""Balances: charging the saved card off-session, payment links when that fails, reminders, the owner's deadline.

A booking sold with a deposit (``payments.schedule``) is confirmed on the deposit and owes the rest
(``Booking.balance_due``) on its plan's ``balance_due_on``. The beat job :func:`process_balances` then:

1. :func:`collect_balance`: once per booking (``PaymentPlan.balance_charged_at``, and a deterministic idempotency key
   ``stayhold-<ref>-balance`` that the unique constraint on ``Payment.idempotency_key`` holds to one row), charges the
   saved card off-session. No card saved (a deposit paid by a manual method): the guest gets the payment link.
2. :func:`reconcile_off_session`: an off-session attempt still ``pending`` after ``RECONCILE_AFTER`` (the worker died
   between the Stripe call and the record, or Stripe was unreachable) is asked again: retrieved by its intent id, or
   re-sent with the same idempotency key (Stripe replays the first answer: never a second charge). Webhooks
   (``payment_intent.*``, matched by the ``payment_id`` in the metadata) reconcile it too, whichever comes first.
3. :func:`remind_and_enforce`: while a due balance is unpaid, reminders ``REMINDER_DAYS`` days before the deadline;
   at the deadline (``PaymentPlan.deadline_on``, the property's local date) the booking is flagged
   (``flagged_at``: admin list and dashboard) and the owner emailed, then cancelled under its policy
   (``payments.services.cancel_with_refund``, as the guest would) if the owner chose auto-cancel.

Every charge follows Rule 7: the attempt (a ``pending`` :class:`Payment`, ``off_session=True``) is recorded in a
transaction under the property lock; Stripe is called after commit; the answer is applied in a second short
transaction by the same functions as every other intent (``payments.services.apply_intent``). A failed charge
(declined, ``authentication_required``, expired card) emails the guest the payment link (``payments:pay``, which
takes a confirmed booking's balance) once per attempt.

:func:`charge_saved_card` is the entry point for other flows (a booking change's price difference).
"""

from __future__ import annotations

import logging
import uuid
from datetime import datetime, timedelta
from decimal import Decimal

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext

from bookings import services as booking_services
from bookings.links import payment_url
from bookings.models import Booking
from bookings.notifications import Kind, Planned, absolute, guest_address, owner_address, queue
from core.actor import Actor
from core.errors import DomainError
from core.money import round_money
from properties.pricing import local_today

from . import services
from .errors import PaymentNotAllowed, ProviderError
from .models import OPEN_STATUSES, Payment, PaymentPlan, PaymentPurpose, Provider, SavedCard
from .models import PaymentStatus as P
from .providers.stripe import intent_data
from .schedule import plan_of
from .state_machine import record_payment_event

logger = logging.getLogger(__name__)
SYSTEM = Actor.system("balances")
RECONCILE_AFTER = timedelta(minutes=10)
REMINDER_DAYS = (2, 1)  # days before the owner's deadline


def _deadline_text(booking: Booking, plan: PaymentPlan | None) -> str:
    day = plan.deadline_on if plan and plan.deadline_on else booking.check_in
    return day.strftime("%d %b %Y")


def _email_data(booking: Booking, amount: Decimal, plan: PaymentPlan | None, **extra) -> dict:
    return {"amount": str(round_money(amount, booking.currency)), "currency": booking.currency,
            "pay_url": absolute(payment_url(booking)), "deadline": _deadline_text(booking, plan), **extra}


# --- one off-session charge ----------------------------------------------------------------------------------


def _start(booking: Booking, card: SavedCard, amount: Decimal, *, key: str, purpose: str, reason: str,
           actor: Actor, now: datetime) -> Payment | None:
    """Record the attempt (caller holds the property lock, inside a transaction). None when one with the same key
    exists (the job ran twice) or another off-session attempt is still open."""
    if Payment.objects.filter(booking=booking, off_session=True, status__in=OPEN_STATUSES).exists():
        return None
    try:
        with transaction.atomic():
            payment = Payment.objects.create(
                booking=booking, provider=Provider.STRIPE, attempt=services.next_attempt(booking), amount=amount,
                currency=booking.currency, idempotency_key=key[:100], created_at=now, purpose=purpose,
                off_session=True)
    except IntegrityError:
        return None  # this very charge was started already (same idempotency key)
    record_payment_event(payment, "", P.PENDING, actor,
                         f"Off-session charge of {amount} {booking.currency} to the saved card "
                         f"{card}: {reason}", at=now)
    return payment


def _send(payment: Payment, card: SavedCard) -> Payment:
    """Call Stripe (no transaction open) and apply the answer. A network failure leaves the attempt ``pending``
    for :func:`reconcile_off_session`."""
    try:
        raw = services.provider().charge_off_session(
            payment, customer_id=card.customer_id, payment_method_id=card.payment_method_id,
            metadata={"payment_id": str(payment.pk), "attempt": str(payment.attempt)})
    except ProviderError as exc:
        if exc.retryable:
            logger.warning("Off-session charge %s: no answer (%s); reconciled later", payment.pk, exc.detail)
            return payment
        services.fail_attempt(payment_id=payment.pk, code="card_refused", message=exc.detail,
                              actor_label="stripe")
        return _after(payment.pk)
    return apply_off_session_answer(payment.pk, raw)


def apply_off_session_answer(payment_id, raw: dict) -> Payment:
    """Apply what Stripe said about an off-session intent. Stripe fails an off-session charge that needs the card
    holder (``authentication_required``); localstripe leaves it ``requires_action`` instead: the same here, a
    failure (the intent is cancelled), because nobody is there to authenticate."""
    status = raw.get("status")
    if raw.get("id"):
        with transaction.atomic():
            payment = Payment.objects.select_for_update().get(pk=payment_id)
            if not payment.provider_ref:
                payment.provider_ref = raw["id"]
                payment.save(update_fields=["provider_ref", "updated_at"])
    if status == "requires_action":
        services.fail_attempt(payment_id=payment_id, code="authentication_required",
                              message="Your bank asks you to confirm this payment.", actor_label="stripe")
        services.cancel_intents([[raw["id"], raw.get("currency", "")]], actor_label="authentication required")
    elif raw.get("id") and status:
        services.apply_intent(intent_data(raw), actor_label="off-session charge")
    else:  # refused outright, no intent (localstripe's 402 carries none)
        error = raw.get("last_payment_error") or {}
        services.fail_attempt(payment_id=payment_id, code=error.get("decline_code") or error.get("code") or "",
                              message=error.get("message") or "", actor_label="stripe")
    return _after(payment_id)


def _after(payment_id) -> Payment:
    """After an off-session attempt ended: a failure emails the guest the payment link (once per attempt)."""
    payment = Payment.objects.select_related("booking__property", "booking__guest").get(pk=payment_id)
    if payment.status != P.FAILED:
        return payment
    booking = payment.booking
    with transaction.atomic():
        plan = PaymentPlan.objects.select_for_update().filter(booking=booking).first()
        if plan is not None and plan.balance_failed_at is None:
            plan.balance_failed_at = timezone.now()
            plan.save(update_fields=["balance_failed_at", "updated_at"])
        to = guest_address(booking)
        if to and booking.balance_due > 0:
            why = {"authentication_required": gettext("your bank asks you to confirm the payment"),
                   "card_declined": gettext("the card was declined"),
                   "expired_card": gettext("the card has expired")}.get(payment.failure_code, payment.failure_message)
            queue(booking, Planned(Kind.BALANCE_PAYMENT_FAILED, to, f"{Kind.BALANCE_PAYMENT_FAILED}:{payment.pk}"),
                  data=_email_data(booking, booking.balance_due, plan, why=why))
    return payment


def charge_saved_card(booking_id, amount: Decimal | None, reason: str, *, key: str = "",
                      purpose: str = PaymentPurpose.OTHER, actor: Actor = SYSTEM,
                      at: datetime | None = None) -> Payment | None:
    """Charge ``amount`` (default: the whole balance due) of a confirmed booking to its saved card, off-session.

    For other flows (a booking change's price difference: ``purpose=PaymentPurpose.CHANGE``). Never more than
    the balance due. ``key`` names this charge for idempotency (e.g. ``"change-<id>"``): calling again with the
    same key charges nothing more; without one every call is a new charge. Returns the attempt (its ``status``
    says how it went; a failure has emailed the guest the payment link), or None when nothing was charged: no
    saved card, nothing due, another off-session charge still open, or this key used already."""
    now = at or timezone.now()
    with transaction.atomic():
        try:
            booking = services._lock_booking(booking_id)
        except PaymentNotAllowed:
            return None
        card = SavedCard.objects.filter(booking=booking).exclude(payment_method_id="").first()
        due = booking.balance_due
        amount = round_money(due if amount is None else amount, booking.currency)
        if (card is None or booking.status not in services.BALANCE_PAYABLE_STATUSES or amount <= 0
                or amount > due):
            return None
        payment = _start(booking, card, amount, key=f"stayhold-{booking.reference}-{key or uuid.uuid4().hex}",
                         purpose=purpose, reason=reason, actor=actor, now=now)
    if payment is None:
        return None
    return _send(payment, card)


# --- the beat job ---------------------------------------------------------------------------------------------


def collect_balance(booking_id, *, at: datetime | None = None) -> Payment | None:
    """Charge a due balance to the saved card, once per booking; without a saved card, email the payment link."""
    now = at or timezone.now()
    with transaction.atomic():
        booking = services._lock_booking(booking_id)
        plan = PaymentPlan.objects.select_for_update().filter(booking=booking).first()
        if (plan is None or plan.balance_charged_at is not None or plan.balance_due_on is None
                or plan.balance_due_on > local_today(booking.property, now)
                or booking.status not in services.BALANCE_PAYABLE_STATUSES or booking.balance_due <= 0):
            return None
        plan.balance_charged_at = now
        plan.save(update_fields=["balance_charged_at", "updated_at"])
        card = SavedCard.objects.filter(booking=booking).exclude(payment_method_id="").first()
        if card is None:
            to = guest_address(booking)
            if to:
                queue(booking, Planned(Kind.BALANCE_REQUEST, to, f"{Kind.BALANCE_REQUEST}:due:{booking.pk}"),
                      data=_email_data(booking, booking.balance_due, plan))
            return None
        payment = _start(booking, card, booking.balance_due, key=f"stayhold-{booking.reference}-balance",
                         purpose=PaymentPurpose.BALANCE, reason="the balance is due.", actor=SYSTEM, now=now)
    return _send(payment, card) if payment is not None else None


def collect_due_balances(*, at: datetime | None = None) -> int:
    """Every plan whose balance falls due (local dates: a day of margin in the query, the exact test per row)."""
    now = at or timezone.now()
    ids = list(PaymentPlan.objects.filter(
        balance_due_on__lte=now.date() + timedelta(days=1), balance_charged_at__isnull=True,
        booking__status__in=services.BALANCE_PAYABLE_STATUSES).values_list("booking_id", flat=True))
    done = 0
    for booking_id in ids:
        try:
            done += collect_balance(booking_id, at=now) is not None
        except Exception:  # one broken row must not stop the others
            logger.exception("Balance of booking %s not collected", booking_id)
    return done


def reconcile_off_session(*, at: datetime | None = None) -> int:
    """Off-session attempts left ``pending`` (a worker died after calling Stripe, or Stripe did not answer): ask
    Stripe by intent id, or send the same request again with the same idempotency key (answered from Stripe's
    record of the first one: no second charge), and apply the answer."""
    now = at or timezone.now()
    rows = list(Payment.objects.filter(off_session=True, status=P.PENDING, created_at__lte=now - RECONCILE_AFTER)
                .select_related("booking"))
    done = 0
    for payment in rows:
        card = SavedCard.objects.filter(booking_id=payment.booking_id).first()
        try:
            if payment.provider_ref:
                raw = services.provider().retrieve_raw(payment.provider_ref)
            elif card is not None:
                raw = services.provider().charge_off_session(
                    payment, customer_id=card.customer_id, payment_method_id=card.payment_method_id,
                    metadata={"payment_id": str(payment.pk), "attempt": str(payment.attempt)})
            else:
                continue
        except ProviderError as exc:
            logger.warning("Off-session attempt %s not reconciled: %s", payment.pk, exc.detail)
            continue
        apply_off_session_answer(payment.pk, raw)
        done += 1
    return done


def _flag(booking: Booking, plan: PaymentPlan, now: datetime) -> bool:
    """At the deadline (caller holds the locks): flag, tell the owner, cancel under the policy if chosen."""
    plan.flagged_at = now
    plan.save(update_fields=["flagged_at", "updated_at"])
    due = booking.balance_due
    note = f"Balance of {due} {booking.currency} unpaid at the owner's deadline ({plan.deadline_on}): flagged."
    services.sync_booking_totals(booking.pk, SYSTEM, note, always_record=True)
    cancelled = False
    if plan.auto_cancel:
        try:
            with transaction.atomic():
                services.cancel_with_refund(booking_id=booking.pk, actor=Actor.system("balance deadline"),
                                            reason=f"Balance of {due} {booking.currency} unpaid at the deadline "
                                                   f"({plan.deadline_on}); cancelled under the policy.", at=now)
            cancelled = True
        except DomainError as exc:
            logger.warning("Booking %s not auto-cancelled: %s", booking.pk, exc.detail)
            services.sync_booking_totals(booking.pk, SYSTEM, f"Not cancelled automatically: {exc.detail}",
                                         always_record=True)
    to = owner_address(booking)
    if to:
        queue(booking, Planned(Kind.OWNER_BALANCE_OVERDUE, to, f"{Kind.OWNER_BALANCE_OVERDUE}:{booking.pk}"),
              data=_email_data(booking, due, plan, cancelled=cancelled))
    return cancelled


def remind_and_enforce(*, at: datetime | None = None) -> tuple[int, int]:
    """Reminders before the deadline, the flag (and auto-cancel) at it. Returns (reminders queued, flagged)."""
    now = at or timezone.now()
    ids = list(PaymentPlan.objects.filter(
        balance_due_on__isnull=False, flagged_at__isnull=True, balance_charged_at__isnull=False,
        deadline_on__lte=now.date() + timedelta(days=max(REMINDER_DAYS) + 1),
        booking__status__in=services.BALANCE_PAYABLE_STATUSES).values_list("booking_id", flat=True))
    reminded = flagged = 0
    for booking_id in ids:
        with transaction.atomic():
            booking = services._lock_booking(booking_id)
            plan = PaymentPlan.objects.select_for_update().get(booking=booking)
            if (plan.flagged_at is not None or plan.deadline_on is None or booking.balance_due <= 0
                    or booking.status not in services.BALANCE_PAYABLE_STATUSES):
                continue
            days_left = (plan.deadline_on - local_today(booking.property, now)).days
            if days_left <= 0:
                _flag(booking, plan, now)
                flagged += 1
            elif days_left in REMINDER_DAYS and (to := guest_address(booking)):
                sent = queue(booking, Planned(Kind.BALANCE_REMINDER, to,
                                              f"{Kind.BALANCE_REMINDER}:{booking.pk}:{days_left}"),
                             data=_email_data(booking, booking.balance_due, plan))
                reminded += sent is not None
    return reminded, flagged


def process_balances(*, at: datetime | None = None) -> dict:
    """The beat job (every 15 minutes): collect, reconcile, remind and enforce."""
    now = at or timezone.now()
    charged = collect_due_balances(at=now)
    reconciled = reconcile_off_session(at=now)
    reminded, flagged = remind_and_enforce(at=now)
    return {"charged": charged, "reconciled": reconciled, "reminded": reminded, "flagged": flagged}


# --- the owner's balance request -------------------------------------------------------------------------------


class BalanceRequestRefused(PaymentNotAllowed):
    code = "balance_request_refused"


def request_balance(*, booking_id, actor: Actor, at: datetime | None = None):
    """Email the guest the payment link for the balance, at most once per day and booking (the email's dedupe
    key), audited on the booking. Returns the queued email row."""
    now = at or timezone.now()
    with transaction.atomic():
        booking = services._lock_booking(booking_id)
        if booking.status not in services.BALANCE_PAYABLE_STATUSES or booking.balance_due <= 0:
            raise BalanceRequestRefused("This booking has no balance to ask for.")
        to = guest_address(booking)
        if not to:
            raise BalanceRequestRefused("This booking has no guest email address.")
        day = local_today(booking.property, now)
        row = queue(booking, Planned(Kind.BALANCE_REQUEST, to, f"{Kind.BALANCE_REQUEST}:{booking.pk}:{day}"),
                    data=_email_data(booking, booking.balance_due, plan_of(booking)))
        if row is None:
            raise BalanceRequestRefused("A balance request was already sent today.")
        booking_services.record_payment(
            booking_id=booking.pk, amount_paid=booking.amount_paid, amount_refunded=booking.amount_refunded,
            payment_status=booking.payment_status, actor=actor, always_record=True, at=now,
            reason=f"Balance request ({booking.balance_due} {booking.currency}) emailed to {to}.")
    return row
