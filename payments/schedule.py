"""Payment schedules: what a booking owes at booking, when its balance falls due, and its security deposit.

A property's :class:`~payments.models.PaymentSchedule` (no row: everything at booking, the behaviour before
schedules existed) is turned into a booking's :class:`~payments.models.PaymentPlan` by :func:`ensure_plan`, the
first time a payment starts (card or manual), under the property lock. From then on the booking follows its plan,
whatever the owner changes later (the same rule as the price and the cancellation policy: what was sold).

Rules (docs/payments-schedule.md):

* deposit mode: a percentage of the total (rounded to the minor unit) or a fixed amount (capped at the total);
  the balance is due ``balance_days_before`` days before arrival; when that day is today or already past at
  booking, everything is due at booking (no deposit, no balance collection);
* the owner's deadline is ``deadline_days_before`` days before arrival (flag, then auto-cancel if chosen);
* the security deposit is placed ``security_deposit_days_before`` days before arrival, but never earlier than 6
  days before its release day (check-out + ``security_deposit_release_days``): a card authorisation lapses after
  7 days, so a long stay has its hold cover the last days of the stay and the days after check-out, when damage
  is found and claimed. No re-authorisation.

Everything here is pure arithmetic except :func:`ensure_plan` (one insert, in the caller's transaction).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal

from core.money import ZERO, round_money
from properties.pricing import local_today

from .models import PaymentPlan, PaymentSchedule, ScheduleMode

# A Stripe card authorisation lasts 7 days; a hold is placed at most this long before its release day.
AUTHORISATION_DAYS = 7
HOLD_SPAN = timedelta(days=AUTHORISATION_DAYS - 1)


@dataclass(frozen=True)
class Terms:
    deposit: Decimal  # due at booking (the total when everything is)
    balance_due_on: date | None
    deadline_on: date | None
    auto_cancel: bool
    security_deposit: Decimal
    security_deposit_place_on: date | None
    security_deposit_release_on: date | None

    @property
    def has_balance(self) -> bool:
        return self.balance_due_on is not None


def schedule_of(prop) -> PaymentSchedule | None:
    return PaymentSchedule.objects.filter(property_id=prop.pk).first()


def security_deposit_days(check_in: date, check_out: date, days_before: int, release_days: int) -> tuple[date, date]:
    """(place on, release on) of a security deposit: placed ``days_before`` days before arrival, or later for a
    long stay, so that the 7-day authorisation still holds on the release day."""
    release_on = check_out + timedelta(days=release_days)
    place_on = max(check_in - timedelta(days=days_before), release_on - HOLD_SPAN)
    return place_on, release_on


def terms_for(booking, schedule: PaymentSchedule | None, today: date) -> Terms:
    """The booking's terms under ``schedule`` when booked on ``today`` (the property's local date)."""
    total = Decimal(booking.total)
    security = Decimal(schedule.security_deposit) if schedule is not None else ZERO
    place_on: date | None = None
    release_on: date | None = None
    if schedule is not None and security > 0:
        place_on, release_on = security_deposit_days(booking.check_in, booking.check_out,
                                                     schedule.security_deposit_days_before,
                                                     schedule.security_deposit_release_days)

    def terms(deposit: Decimal, balance_due_on: date | None = None, deadline_on: date | None = None,
              auto_cancel: bool = False) -> Terms:
        return Terms(deposit=deposit, balance_due_on=balance_due_on, deadline_on=deadline_on,
                     auto_cancel=auto_cancel, security_deposit=security, security_deposit_place_on=place_on,
                     security_deposit_release_on=release_on)

    if schedule is None or schedule.mode != ScheduleMode.DEPOSIT:
        return terms(total)
    balance_due_on = booking.check_in - timedelta(days=schedule.balance_days_before)
    if schedule.deposit_percent is not None:
        deposit = round_money(total * Decimal(schedule.deposit_percent) / 100, booking.currency)
    else:
        deposit = round_money(min(Decimal(schedule.deposit_fixed or 0), total), booking.currency)
    if balance_due_on <= today or deposit >= total or deposit <= 0:
        return terms(total)
    return terms(deposit, balance_due_on, booking.check_in - timedelta(days=schedule.deadline_days_before),
                 schedule.auto_cancel)


def plan_of(booking) -> PaymentPlan | None:
    try:
        return booking.payment_plan
    except PaymentPlan.DoesNotExist:
        return None


def current_terms(booking, now: datetime) -> Terms:
    """The booking's terms: its plan when one was written, else what its property's schedule says today."""
    plan = plan_of(booking)
    if plan is not None:
        return Terms(deposit=plan.deposit, balance_due_on=plan.balance_due_on, deadline_on=plan.deadline_on,
                     auto_cancel=plan.auto_cancel, security_deposit=plan.security_deposit,
                     security_deposit_place_on=plan.security_deposit_place_on,
                     security_deposit_release_on=plan.security_deposit_release_on)
    return terms_for(booking, schedule_of(booking.property), local_today(booking.property, now))


def due_at_booking(booking, now: datetime) -> Decimal:
    """What a reservation must pay to be confirmed: the deposit, or the total."""
    return current_terms(booking, now).deposit


def needs_saved_card(booking, now: datetime) -> bool:
    """Whether the checkout saves the card: a balance to charge later, or a security deposit to place."""
    terms = current_terms(booking, now)
    return terms.has_balance or terms.security_deposit > 0


def ensure_plan(booking, now: datetime) -> PaymentPlan:
    """The booking's plan, written from its property's schedule the first time (caller holds the property lock)."""
    plan = plan_of(booking)
    if plan is not None:
        return plan
    terms = terms_for(booking, schedule_of(booking.property), local_today(booking.property, now))
    plan = PaymentPlan.objects.create(
        booking=booking, deposit=terms.deposit, balance_due_on=terms.balance_due_on, deadline_on=terms.deadline_on,
        auto_cancel=terms.auto_cancel, security_deposit=terms.security_deposit,
        security_deposit_place_on=terms.security_deposit_place_on,
        security_deposit_release_on=terms.security_deposit_release_on, created_at=now)
    booking.payment_plan = plan
    return plan


def move_with_stay(booking, *, previous_check_in: date, previous_check_out: date) -> PaymentPlan | None:
    """A changed stay takes its plan's dates along (``payments.changes``, in the change's transaction, under the
    property lock): the balance day and the owner's deadline keep their distance to the arrival, the security
    deposit's hold and release their distance to the arrival and the departure (the hold still never earlier than
    the 7-day authorisation allows). What has happened already stays as it was: a balance charged or flagged, a
    hold placed. A balance day that moves into the past falls due at once (the next run of the balance job)."""
    plan = plan_of(booking)
    if plan is None:
        return None
    arrival = booking.check_in - previous_check_in
    departure = booking.check_out - previous_check_out
    changed = []
    if plan.balance_due_on is not None and plan.balance_charged_at is None and arrival:
        plan.balance_due_on += arrival
        changed.append("balance_due_on")
    if plan.deadline_on is not None and plan.flagged_at is None and arrival:
        plan.deadline_on += arrival
        changed.append("deadline_on")
    placed = booking.security_deposits.exists()
    if (plan.security_deposit_place_on is not None and plan.security_deposit_release_on is not None and not placed
            and (arrival or departure)):
        release_on = plan.security_deposit_release_on + departure
        place_on = max(plan.security_deposit_place_on + arrival, release_on - HOLD_SPAN)
        plan.security_deposit_place_on, plan.security_deposit_release_on = place_on, release_on
        changed += ["security_deposit_place_on", "security_deposit_release_on"]
    if changed:
        plan.save(update_fields=[*changed, "updated_at"])
    return plan
