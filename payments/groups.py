"""One card payment for a group booking ("book all"): one Stripe PaymentIntent for the group's total.

Design (docs/group-bookings.md, "Payment"):

* Each booking of the group still owns its money: an attempt writes **one** :class:`~payments.models.Payment` row
  **per booking** that is waiting for payment, with that booking's balance as its amount (its share), all in one
  transaction under the property locks (taken in ascending property id order, like ``reserve_group``). The rows
  are linked by the shared PaymentIntent id in ``Payment.group_intent`` (``provider_ref``, which is unique, stays
  empty); the constraint ``payment_group_intent_once`` (intent, booking) means an intent pays a booking at most
  once. Receipts, refunds, ``amount_paid`` and ``payment_status`` of each booking are derived from its own rows,
  exactly as for a single booking.
* The PaymentIntent's amount is the sum of the shares; its metadata carries ``group`` (reference), ``group_id`` and
  ``payment_ids`` (the rows), so a webhook that beats the request storing the intent id still finds them.
* When it succeeds (the webhook, ``payments.webhooks`` routes an intent with ``group_id`` metadata here, or the
  return path, :func:`sync_group_from_provider`), every row moves to ``succeeded`` and each booking is confirmed
  by ``bookings.services.confirm_late_payment`` in one transaction (all the group's property locks held, ascending
  order). A booking that cannot be confirmed any more (its hold ran out *and* its nights were sold meanwhile, or it
  was cancelled) gets its share refunded automatically, like a single payment; the others are confirmed.
  Idempotent: a second delivery finds every row captured and changes nothing. An intent whose amount or currency
  is not the sum of its rows is not applied: the rows are flagged for staff.
* A failed attempt fails every row (it counts as a failed attempt on each booking: after
  ``PAYMENT_MAX_ATTEMPTS`` each reservation is released, as for a single booking).
* Refunds (a cancellation of one booking, or all of them) are per booking, against the shared intent, for at most
  that booking's share (``payments.services`` refunds ``Payment.intent_ref``).

No network call with a lock held: rows are written, the transaction commits, Stripe is called, the answer is
applied in a second short transaction (Rule 7). Manual payment methods are not offered for a group: each booking's
own payment page still offers them (docs).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

import stripe
from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from bookings import services as booking_services
from bookings.models import (
    CANCELLABLE_STATUSES,
    CONFIRMED_STATUSES,
    Booking,
    BookingGroup,
    BookingStatus,
)
from core.actor import Actor
from core.errors import DomainError
from core.money import ZERO, to_minor_units

from . import services
from .errors import PaymentNotAllowed, ProviderError, TooManyAttempts
from .models import CAPTURED_STATUSES, OPEN_STATUSES, Payment, Provider
from .models import PaymentStatus as P
from .providers.base import IntentData
from .providers.stripe import client, intent_data
from .state_machine import advance, record_payment_event

logger = logging.getLogger(__name__)
SYSTEM = services.SYSTEM
GROUP_METADATA = "group_id"


@dataclass
class GroupShare:
    booking: Booking
    amount: Decimal


@dataclass
class GroupDue:
    """What paying the group now charges: one share per booking waiting for payment."""

    group: BookingGroup
    shares: list[GroupShare] = field(default_factory=list)
    currency: str = ""

    @property
    def total(self) -> Decimal:
        return sum((share.amount for share in self.shares), ZERO)


@dataclass
class GroupCardResult:
    status: str  # "succeeded" | "requires_action" | "failed" | "refunded" | "pending"
    bookings: list[Booking]
    client_secret: str = ""
    error: str = ""
    attempts_left: int = 0

    def as_dict(self) -> dict:
        statuses = {b.status for b in self.bookings}
        body: dict = {
            "status": self.status,
            # The payment page's script reads one booking status: the group's is "confirmed" once every booking
            # that was paid is, "reserved" while any still waits.
            "booking_status": BookingStatus.RESERVED if BookingStatus.RESERVED in statuses else (
                BookingStatus.CONFIRMED if BookingStatus.CONFIRMED in statuses else next(iter(statuses), "")),
            "payment_status": "paid" if self.bookings and all(b.balance_due <= 0 for b in self.bookings
                                                              if b.status in CONFIRMED_STATUSES) and any(
                b.status in CONFIRMED_STATUSES for b in self.bookings) else "unpaid",
            "attempts_left": self.attempts_left,
            "bookings": [{"reference": b.reference, "status": b.status, "payment_status": b.payment_status}
                         for b in self.bookings],
        }
        if self.client_secret:
            body["client_secret"] = self.client_secret
        if self.error:
            body["error"] = self.error
        return body


# --- reading and locking --------------------------------------------------------------------------------------


def group_bookings(group: BookingGroup) -> list[Booking]:
    return list(Booking.objects.filter(group=group).select_related("property").order_by("pk"))


def _lock_properties(property_ids) -> None:
    """The group's property rows, in ascending id order (the order every group path uses: no deadlock)."""
    for property_id in sorted(set(property_ids)):
        booking_services.lock_property(property_id)


def _lock_group(group: BookingGroup) -> list[Booking]:
    _lock_properties(Booking.objects.filter(group=group).values_list("property_id", flat=True))
    return group_bookings(group)


def group_due(group: BookingGroup, now: datetime, bookings: list[Booking] | None = None) -> GroupDue:
    """The shares to charge now: each booking that :func:`payments.services.amount_to_pay` allows (a reservation
    still holding its dates, not paid). Cancelled, expired or already paid bookings are skipped; none left raises
    :class:`PaymentNotAllowed`."""
    due = GroupDue(group=group)
    for booking in bookings if bookings is not None else group_bookings(group):
        try:
            amount = services.amount_to_pay(booking, now)
        except PaymentNotAllowed:
            continue
        due.shares.append(GroupShare(booking, amount))
        due.currency = booking.currency
    if not due.shares:
        raise PaymentNotAllowed(_("No booking of this group is waiting for a payment."))
    return due


def group_attempts_left(bookings) -> int:
    waiting = [b for b in bookings if b.status == BookingStatus.RESERVED]
    return min((services.attempts_left(b) for b in waiting), default=0)


# --- the attempt ---------------------------------------------------------------------------------------------


def _create_intent(rows: list[Payment], group: BookingGroup, payment_method_id: str, key: str) -> IntentData:
    """One PaymentIntent for the sum of ``rows``, created and confirmed (no transaction open)."""
    currency = rows[0].currency
    amount = sum((to_minor_units(row.amount, currency) for row in rows), 0)
    api = client()
    params: Any = {"amount": amount, "currency": currency.lower(), "payment_method": payment_method_id,
                   "payment_method_types": ["card"],  # as payments.providers.stripe: localstripe has no automatic ones
                   "metadata": {"group": group.reference, GROUP_METADATA: str(group.pk),
                                "payment_ids": ",".join(str(row.pk) for row in rows)}}
    try:
        intent = api.v1.payment_intents.create(params=params, options={"idempotency_key": key})
    except stripe.InvalidRequestError as exc:
        raise ProviderError(exc.user_message or "This card cannot be used.") from exc
    except stripe.StripeError as exc:
        raise ProviderError() from exc
    try:
        intent = api.v1.payment_intents.confirm(intent.id, options={"idempotency_key": f"{key}-confirm"})
    except stripe.CardError:
        try:
            return intent_data(api.v1.payment_intents.retrieve(intent.id))
        except stripe.StripeError as exc:
            raise ProviderError() from exc
    except stripe.StripeError as exc:
        raise ProviderError() from exc
    return intent_data(intent)


def _retrieve(ref: str) -> IntentData:
    try:
        return intent_data(client().v1.payment_intents.retrieve(ref))
    except stripe.StripeError as exc:
        raise ProviderError() from exc


def _cancel(ref: str) -> IntentData | None:
    try:
        return intent_data(client().v1.payment_intents.cancel(ref))
    except stripe.InvalidRequestError:
        return _retrieve(ref)
    except stripe.StripeError:
        logger.warning("Could not cancel group intent %s", ref)
        return None


def _open_group_refs(bookings) -> list[str]:
    refs = Payment.objects.filter(booking__in=bookings, status__in=OPEN_STATUSES, group_intent__isnull=False
                                  ).values_list("group_intent", flat=True)
    return sorted({ref for ref in refs if ref})


def start_group_card_payment(*, group_id, payment_method_id: str, actor: Actor,
                             at: datetime | None = None) -> GroupCardResult:
    """Charge every booking of the group that waits for payment, with one PaymentIntent for the sum.

    The amounts come from the bookings, never from the request. An earlier group attempt still waiting for 3-D
    Secure is cancelled first (never charged twice by switching cards)."""
    now = at or timezone.now()
    group = BookingGroup.objects.get(pk=group_id)
    with transaction.atomic():
        bookings = _lock_group(group)
        check_group_payable(group_due(group, now, bookings))
        open_refs = _open_group_refs(bookings)
    for ref in open_refs:
        if (intent := _cancel(ref)) is not None:
            apply_group_intent(intent, actor_label="superseded by a new attempt")

    key = f"stayhold-{group.reference}-{uuid.uuid4().hex[:12]}"
    with transaction.atomic():
        bookings = _lock_group(group)
        due = check_group_payable(group_due(group, now, bookings))
        rows = []
        for share in due.shares:
            attempt = (Payment.objects.filter(booking=share.booking).order_by("-attempt")
                       .values_list("attempt", flat=True).first() or 0) + 1
            row = Payment.objects.create(
                booking=share.booking, provider=Provider.STRIPE, attempt=attempt, amount=share.amount,
                currency=share.booking.currency, idempotency_key=f"{key}-{share.booking.reference}"[:100],
                created_at=now)
            record_payment_event(row, "", P.PENDING, actor,
                                 f"Card payment attempt {attempt} of {settings.PAYMENT_MAX_ATTEMPTS}, part of group "
                                 f"{group.reference}'s payment of {due.total} {due.currency}.", at=now)
            rows.append(row)

    try:
        intent = _create_intent(rows, group, payment_method_id, key)
    except ProviderError as exc:
        with transaction.atomic():
            _lock_group(group)
            for row in Payment.objects.select_for_update().filter(pk__in=[r.pk for r in rows]):
                row.failure_code, row.failure_message = "provider_error", exc.detail
                advance(row, P.CANCELED, "stripe", f"The provider refused or failed: {exc.detail}",
                        extra_fields=("failure_code", "failure_message"))
        raise

    with transaction.atomic():
        _lock_group(group)
        Payment.objects.filter(pk__in=[r.pk for r in rows], group_intent__isnull=True).update(
            group_intent=intent.id, updated_at=timezone.now())
    apply_group_intent(intent, actor_label="card payment")
    return _result(group, [r.pk for r in rows], intent)


def check_group_payable(due: GroupDue) -> GroupDue:
    if any(services.attempts_used(share.booking) >= settings.PAYMENT_MAX_ATTEMPTS for share in due.shares):
        raise TooManyAttempts()
    if len({share.booking.currency for share in due.shares}) > 1:
        raise PaymentNotAllowed(_("The stays of this group are priced in different currencies."))
    return due


def _result(group: BookingGroup, row_ids: list[int], intent: IntentData) -> GroupCardResult:
    rows = list(Payment.objects.filter(pk__in=row_ids))
    bookings = group_bookings(group)
    statuses = {row.status for row in rows}
    if statuses & set(CAPTURED_STATUSES):
        status = "refunded" if statuses <= {P.REFUNDED} else "succeeded"
    elif P.REQUIRES_ACTION in statuses:
        status = "requires_action"
    elif P.PENDING in statuses:
        status = "pending"
    else:
        status = "failed"
    failure = next((row.failure_message for row in rows if row.failure_message), "")
    error = failure or {"failed": "Your card was declined.",
                        "refunded": "The dates are no longer available; your payment was refunded in full."
                        }.get(status, "")
    return GroupCardResult(status=status, bookings=bookings, error=error, attempts_left=group_attempts_left(bookings),
                           client_secret=intent.client_secret if status == "requires_action" else "")


# --- applying what Stripe says -------------------------------------------------------------------------------


def is_group_intent(intent: IntentData) -> bool:
    return bool(intent.metadata.get(GROUP_METADATA)) or Payment.objects.filter(group_intent=intent.id).exists()


def _row_ids(intent: IntentData) -> list[int]:
    """The rows the intent pays: those holding its id, else (the webhook beat the request that stores it) the rows
    its metadata names that have no intent yet and belong to the group its metadata names."""
    ids = list(Payment.objects.filter(group_intent=intent.id).values_list("pk", flat=True))
    if ids:
        return ids
    named = [int(x) for x in str(intent.metadata.get("payment_ids", "")).split(",") if x.strip().isdigit()]
    group_id = str(intent.metadata.get(GROUP_METADATA, ""))
    if not named or not group_id.isdigit():
        return []
    return list(Payment.objects.filter(pk__in=named, group_intent__isnull=True, booking__group_id=int(group_id))
                .values_list("pk", flat=True))


def _lock_rows(ids: list[int]) -> list[Payment]:
    _lock_properties(Payment.objects.filter(pk__in=ids).values_list("booking__property_id", flat=True))
    return list(Payment.objects.select_for_update().filter(pk__in=ids).order_by("pk"))


def _claim(rows: list[Payment], intent: IntentData) -> None:
    for row in rows:
        if not row.group_intent:
            row.group_intent = intent.id
            row.save(update_fields=["group_intent", "updated_at"])


def group_mismatch(rows: list[Payment], intent: IntentData) -> str:
    """Why a succeeded ``intent`` cannot pay ``rows`` ("" when it can): another intent's rows, or an amount or
    currency that is not the sum of the rows."""
    problems = [f"payment {row.pk} belongs to {row.group_intent}" for row in rows
                if row.group_intent and row.group_intent != intent.id]
    currencies = {row.currency.upper() for row in rows}
    if currencies != {intent.currency.upper()}:
        problems.append(f"currency {intent.currency} instead of {', '.join(sorted(currencies))}")
    else:
        currency = rows[0].currency
        expected = sum((to_minor_units(row.amount, currency) for row in rows), 0)
        if to_minor_units(intent.amount, currency) != expected:
            problems.append(f"{intent.amount} {intent.currency} instead of the rows' sum")
    return "; ".join(problems)


def apply_group_intent(intent: IntentData, *, actor_label: str = "stripe") -> list[Payment]:
    """Apply what Stripe says about a group's PaymentIntent (a response, a retrieval or a webhook). Idempotent."""
    ids = _row_ids(intent)
    if not ids:
        logger.warning("Group intent %s matches no payment", intent.id)
        return []
    handlers: dict[str, Callable[[list[Payment], IntentData, str], None]] = {
        P.SUCCEEDED: _succeeded, P.FAILED: _failed, P.CANCELED: _canceled, P.REQUIRES_ACTION: _requires_action}
    handler = handlers.get(intent.status)
    if handler is None:  # still pending
        return list(Payment.objects.filter(pk__in=ids))
    with transaction.atomic():
        rows = _lock_rows(ids)
        handler(rows, intent, actor_label)
    for row in rows:  # keep ``mismatch`` (set on these instances) for the caller
        row.refresh_from_db()
    return rows


def _requires_action(rows, intent, actor_label) -> None:
    _claim(rows, intent)
    for row in rows:
        advance(row, P.REQUIRES_ACTION, actor_label, "The card asks for 3-D Secure authentication.")


def _succeeded(rows: list[Payment], intent: IntentData, actor_label: str) -> None:
    if problem := group_mismatch(rows, intent):
        for row in rows:
            services._flag_mismatch(row, intent, problem, actor_label)
        return
    _claim(rows, intent)
    for row in rows:
        if row.status in CAPTURED_STATUSES:
            continue  # already applied (the webhook and the return path both arrive)
        if not advance(row, P.SUCCEEDED, actor_label, f"Group payment {intent.id} succeeded."):
            logger.error("Group intent %s succeeded but payment %s is %s", intent.id, row.pk, row.status)
            continue
        refund_reason = services.settle_booking_for(row, group_intent=intent.id)
        if refund_reason:
            services._request_refund(row, row.refundable, reason=refund_reason, actor=SYSTEM)
        note = f"Card payment {row.amount} {row.currency} received: its share of group payment {intent.id}."
        if refund_reason:
            note += f" Refunded automatically: {refund_reason}"
        services.sync_booking_totals(row.booking_id, SYSTEM, note)


def _failed(rows: list[Payment], intent: IntentData, actor_label: str) -> None:
    _claim(rows, intent)
    for row in rows:
        if row.status not in OPEN_STATUSES:
            continue  # repeated, or late after success: never backwards
        row.failure_code = intent.failure_code[:100] or "payment_failed"
        row.failure_message = intent.failure_message or "The payment failed."
        advance(row, P.FAILED, actor_label, f"{row.failure_code}: {row.failure_message}",
                extra_fields=("failure_code", "failure_message"))
        booking = Booking.objects.get(pk=row.booking_id)
        used = services.attempts_used(booking)
        if booking.status == BookingStatus.RESERVED:
            if not booking.is_occupying():
                booking_services.expire(booking_id=booking.pk)
            elif used >= settings.PAYMENT_MAX_ATTEMPTS:
                booking_services.cancel(booking_id=booking.pk, actor=SYSTEM,
                                        reason=f"Payment failed {used} times; the reservation was released.")
        services.sync_booking_totals(booking.pk, SYSTEM,
                                     f"Card payment attempt {row.attempt} (group payment) failed: {row.failure_code}.")


def _canceled(rows: list[Payment], intent: IntentData, actor_label: str) -> None:
    _claim(rows, intent)
    for row in rows:
        if row.status in OPEN_STATUSES:
            advance(row, P.CANCELED, actor_label, f"Group intent {intent.id} canceled.")
            services.sync_booking_totals(row.booking_id, SYSTEM,
                                         f"Card payment attempt {row.attempt} (group payment) canceled.")


def sync_group_from_provider(*, group_id) -> list[Booking]:
    """The return path: ask Stripe about the group's open intents and apply the answers (idempotent with the
    webhook: whichever comes second changes nothing)."""
    group = BookingGroup.objects.get(pk=group_id)
    bookings = group_bookings(group)
    for ref in _open_group_refs(bookings):
        apply_group_intent(_retrieve(ref), actor_label="return from payment")
    return group_bookings(group)


# --- cancelling every booking of a group ---------------------------------------------------------------------


@dataclass
class GroupCancellation:
    """What "cancel all" did: the bookings cancelled (with their refunds) and those skipped, each with why."""

    cancelled: list[services.CancelResult] = field(default_factory=list)
    skipped: list[tuple[Booking, str]] = field(default_factory=list)

    @property
    def refunded(self) -> Decimal:
        return sum((result.refunded for result in self.cancelled), ZERO)


def cancel_group(*, group_id, actor: Actor, reason: str, by_owner: bool = False,
                 expected_refunds: dict[str, Decimal] | None = None,
                 at: datetime | None = None) -> GroupCancellation:
    """Cancel every booking of the group that can still be cancelled, each under **its own** policy snapshot, one
    after the other in booking order, each by ``payments.services.cancel_with_refund`` in its own transaction.

    Decision (docs/group-bookings.md): not all-or-nothing. A booking that may not be cancelled any more (already
    cancelled or expired, checked in, the arrival day reached for a guest) or whose refund dropped below the
    amount the guest was shown (``expected_refunds``, by reference: :class:`~bookings.errors.RefundChanged`) is
    **skipped and reported** with the reason; the others are cancelled. A guest who wants everything gone gets
    everything that can go, and the page says what could not."""
    outcome = GroupCancellation()
    for booking in Booking.objects.filter(group_id=group_id).select_related("property").order_by("pk"):
        if booking.status not in CANCELLABLE_STATUSES:
            outcome.skipped.append((booking, f"This booking is {booking.get_status_display().lower()}."))
            continue
        expected = (expected_refunds or {}).get(booking.reference)
        try:
            outcome.cancelled.append(services.cancel_with_refund(
                booking_id=booking.pk, actor=actor, reason=reason, by_owner=by_owner,
                expected_refund=None if by_owner else expected, at=at))
        except DomainError as exc:
            outcome.skipped.append((booking, exc.detail))
    return outcome
