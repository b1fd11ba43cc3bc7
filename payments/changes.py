"""Changing a booking, with its money: the preview shown before confirming, the change, its refund or its balance.

* :func:`change_quote` (read): what a change would do now: the new total, the difference, the balance the guest
  would owe or the refund they would get (``bookings.changes.preview_change`` with the payment rows' totals).
  The pages and the API show it; the confirm step passes its ``difference`` (and ``refund``) back as
  ``expected_difference`` / ``expected_refund``, so a price that moved meanwhile refuses the change
  (``bookings.errors.ChangePriceChanged``) instead of charging or refunding something else.
* :func:`change_with_payment` (write): ``bookings.services.change_booking`` under the property lock, then, in the
  same transaction, the refund rows of a decrease (sent to Stripe after commit, like every refund:
  ``payments.services``), the booking's money totals derived again from the rows, and the collection of an
  increase (:func:`collect_change_difference`).
* :func:`collect_change_difference`: the ONE place that asks the guest for the rise of the balance: the card saved
  at checkout is charged off-session after commit (``payments.balances.charge_saved_card``, keyed per change; a
  failure emails the pay link, like a failed balance), otherwise an email with the pay link (``payments:pay``,
  which charges ``Booking.balance_due`` of a confirmed booking).

Money stays derived from the rows: ``amount_paid`` / ``amount_refunded`` / ``payment_status`` are recomputed by
``payments.services.sync_booking_totals``; the total is the new quote's (docs/changes.md).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal

from celery import shared_task
from django.db import transaction
from django.utils import timezone

from bookings import services as booking_services
from bookings.changes import ChangePreview, new_stay, preview_change
from bookings.models import Booking, BookingStatus
from bookings.notifications import Kind, Planned, guest_address, queue
from core.actor import Actor

from . import balances
from .models import Payment, PaymentPurpose, Refund, SavedCard
from .schedule import move_with_stay
from .services import _request_refunds, after_commit, payment_totals, sync_booking_totals

S = BookingStatus


def change_quote(booking: Booking, *, check_in: date | None = None, check_out: date | None = None,
                 adults: int | None = None, children: int | None = None, by_guest: bool,
                 override_rules: bool = False, full_refund: bool = False,
                 at: datetime | None = None) -> ChangePreview:
    """The change as it would be made now (reads; ``booking`` with its property). Raises
    ``StayRuleViolation`` for a stay no booking can have (check-out not after check-in, no adult)."""
    stay = new_stay(booking, check_in=check_in, check_out=check_out, adults=adults, children=children)
    paid, refunded = payment_totals(booking.pk)
    return preview_change(booking, stay, paid=paid, refunded=refunded, at=at or timezone.now(), by_guest=by_guest,
                          enforce_rules=not override_rules, full_refund=full_refund)


@dataclass(frozen=True)
class Collection:
    """How the rise of the balance is asked for: ``saved_card`` (charged off-session after commit; the pay link is
    emailed to ``to`` if that fails), ``payment_link`` (emailed to ``to``), ``reservation`` (an unpaid
    reservation's own pay link charges the new total), or ``owner`` (no guest email here: the owner collects it)."""

    method: str
    amount: Decimal
    to: str = ""


def collect_change_difference(booking: Booking, amount: Decimal, *, actor: Actor) -> Collection:
    """Ask the guest for ``amount`` more after a change (in the change's transaction; nothing leaves before commit).

    With a card saved at checkout, the charge is queued for after commit (:func:`charge_change_difference_task`,
    keyed per change: a redelivered task charges nothing more). Otherwise the email (``Kind.PAYMENT_REQUEST``, with
    the pay link) is keyed per request, so a second change asks again.
    """
    if booking.status == S.RESERVED:
        return Collection("reservation", amount)
    to = guest_address(booking)
    key = uuid.uuid4().hex
    if SavedCard.objects.filter(booking=booking).exclude(payment_method_id="").exists():
        after_commit(charge_change_difference_task, booking.pk, str(amount), key, actor.label or actor.type)
        return Collection("saved_card", amount, to)
    if not to:
        return Collection("owner", amount)
    _request_payment(booking, amount, key=key, actor_label=actor.label or actor.type)
    return Collection("payment_link", amount, to)


def _request_payment(booking: Booking, amount: Decimal, *, key: str, actor_label: str) -> None:
    queue(booking, Planned(Kind.PAYMENT_REQUEST, guest_address(booking), f"{Kind.PAYMENT_REQUEST}:{booking.pk}:{key}"),
          data={"amount": str(amount), "currency": booking.currency, "reason": "change",
                "requested_by": actor_label})


@shared_task(name="payments.tasks.charge_change_difference", acks_late=True)
def charge_change_difference_task(booking_id, amount: str, key: str, actor_label: str = "") -> str:
    """After a change's commit: charge its difference to the saved card (no transaction open while Stripe is
    called). A declined or unauthenticated charge emails the pay link (``balances``); when nothing could be charged
    (another off-session charge still open, the card gone) and a balance is still due, the pay link is emailed
    here, once per change."""
    if Payment.objects.filter(booking_id=booking_id, idempotency_key__endswith=f"-change-{key}").exists():
        return "already_charged"  # a redelivered task: this change's charge was made (or tried) already
    payment = balances.charge_saved_card(booking_id, Decimal(amount), "booking change", key=f"change-{key}",
                                         purpose=PaymentPurpose.CHANGE)
    if payment is not None:
        return payment.status
    with transaction.atomic():
        booking = Booking.objects.select_related("guest").get(pk=booking_id)
        if booking.balance_due > 0 and guest_address(booking):
            _request_payment(booking, min(Decimal(amount), booking.balance_due), key=key, actor_label=actor_label)
            return "payment_link"
    return "nothing_due"


@dataclass
class ChangeResult:
    booking: Booking
    change: booking_services.Change
    refunds: list[Refund] = field(default_factory=list)
    collection: Collection | None = None


def change_with_payment(*, booking_id, actor: Actor, check_in: date | None = None, check_out: date | None = None,
                        adults: int | None = None, children: int | None = None, by_guest: bool = False,
                        override_rules: bool = False, override_reason: str = "", full_refund: bool = False,
                        expected_difference: Decimal | None = None, expected_refund: Decimal | None = None,
                        at: datetime | None = None) -> ChangeResult:
    """Change a booking and settle its money in one transaction with no network call (see the module docstring).

    ``by_guest``: the guest (portal, API with the access token): no override, the policy's refund. Otherwise an
    owner or staff member, who may override the stay rules with a reason and refund the whole removed amount
    (``full_refund``)."""
    with transaction.atomic():
        change = booking_services.change_booking(
            booking_id=booking_id, actor=actor, check_in=check_in, check_out=check_out, adults=adults,
            children=children, by_guest=by_guest, override_rules=override_rules, override_reason=override_reason,
            full_refund=full_refund, expected_difference=expected_difference, expected_refund=expected_refund,
            paid_and_refunded=lambda booking: payment_totals(booking.pk), at=at)
        booking, terms = change.booking, change.terms
        move_with_stay(booking, previous_check_in=change.previous.check_in,
                       previous_check_out=change.previous.check_out)
        who = "guest" if by_guest else "owner"
        refunds: list[Refund] = []
        if terms.refund > 0:
            refunds = _request_refunds(booking, terms.refund, actor=actor,
                                       reason=f"Booking changed by the {who}: {change.previous.describe()} → "
                                              f"{booking.check_in}–{booking.check_out}.")
        note = f"Booking changed by the {who}: total {terms.old_total} → {terms.new_total} {terms.currency}."
        if refunds:
            note += f" Refund of {terms.refund} {terms.currency} requested ({terms.percent}% policy)."
        sync_booking_totals(booking.pk, actor, note)
        booking.refresh_from_db()
        collection = collect_change_difference(booking, terms.to_collect, actor=actor) if terms.to_collect else None
    return ChangeResult(booking=booking, change=change, refunds=refunds, collection=collection)
