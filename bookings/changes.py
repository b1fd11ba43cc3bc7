"""Changing a booking's dates or guests: who may change it now, whether the new stay fits, and what it costs.

Reads only. The write is :func:`bookings.services.change_booking` (under the property lock, where everything here
is decided again); ``payments.changes`` adds the money (the refund requested, the difference collected) and the
preview a guest or owner sees before confirming (``payments.changes.change_quote``). docs/changes.md explains the
decisions; the money rules in short (:func:`change_terms`):

* the booking is re-quoted on the server (``properties.pricing.quote``) for the new stay, at today's prices, and
  its total becomes the new quote's total; ``difference`` = new total − old total;
* a price increase raises the balance (``Booking.balance_due`` = total − paid): ``to_collect`` is what the guest now
  owes on top of what they owed before the change;
* a decrease refunds, of the part of the removed amount the guest had already paid (net of refunds, beyond the new
  total: ``refundable``), the cancellation-policy snapshot's percent at the moment of the change (counted from the
  booking's current check-in, as if those nights were cancelled now), never more than ``refundable``; an owner may
  refund all of ``refundable`` instead (``full_refund``). A decrease on an unpaid booking only lowers its balance.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal

from django.utils.translation import gettext as _

from core.money import ZERO, round_money
from properties.models import Property
from properties.policies import refund_percent
from properties.pricing import Quote, local_today, quote

from .availability import AvailabilityResult, Reason, check_availability
from .errors import ChangeNotAllowed, ChangeOnChannel, StayRuleViolation
from .models import CHANGEABLE_STATUSES, CHANNEL_SOURCES, Booking, BookingStatus

S = BookingStatus
# Rules about the arrival date that do not apply when the change keeps the arrival date (an extension the day
# before arrival must not fail the lead time the stay already met when it was sold).
ARRIVAL_RULES = frozenset({"in_past", "lead_time"})


@dataclass(frozen=True)
class StayChange:
    """The stay asked for: every field given, the booking's own where the request left one out."""

    check_in: date
    check_out: date
    adults: int
    children: int

    @property
    def guests(self) -> int:
        return self.adults + self.children

    @property
    def nights(self) -> int:
        return (self.check_out - self.check_in).days

    def describe(self) -> str:
        guests = f"{self.adults} adult{'s' if self.adults != 1 else ''}"
        if self.children:
            guests += f", {self.children} child{'ren' if self.children != 1 else ''}"
        return f"{self.check_in}–{self.check_out}, {guests}"


def current_stay(booking: Booking) -> StayChange:
    return StayChange(booking.check_in, booking.check_out, booking.adults, booking.children)


def new_stay(booking: Booking, *, check_in: date | None = None, check_out: date | None = None,
             adults: int | None = None, children: int | None = None) -> StayChange:
    """The stay after the change (missing fields keep the booking's). Raises :class:`StayRuleViolation` for a
    shape no booking can have (check-out not after check-in, no adult, a negative count)."""
    stay = StayChange(check_in if check_in is not None else booking.check_in,
                      check_out if check_out is not None else booking.check_out,
                      adults if adults is not None else booking.adults,
                      children if children is not None else booking.children)
    if stay.check_out <= stay.check_in:
        raise StayRuleViolation(_("Check-out must be after check-in."), reasons=[
            Reason("invalid_dates", _("Check-out must be after check-in."), "check_out")])
    if stay.adults < 1 or stay.children < 0:
        raise StayRuleViolation(_("At least one adult is required."), reasons=[
            Reason("invalid_guests", _("At least one adult is required."), "adults")])
    return stay


def refusal_to_change(booking: Booking, prop: Property, now: datetime, *, by_guest: bool) -> ChangeNotAllowed | None:
    """Why ``booking`` may not be changed now (None: it may). The service raises it under the lock.

    Channel bookings change on their platform (their import moves ours). Reservations that still hold their dates
    and confirmed stays may change; a guest only when the property lets guests change bookings
    (``Property.guests_may_change_bookings``) and before the arrival day (property-local, like cancelling)."""
    if booking.source in CHANNEL_SOURCES:
        return ChangeOnChannel(booking.get_source_display())
    if booking.status not in CHANGEABLE_STATUSES:
        return ChangeNotAllowed(_("This booking is %(status)s: it can no longer be changed.")
                                % {"status": booking.get_status_display().lower()})
    if booking.status == S.RESERVED and not booking.is_occupying(now):
        return ChangeNotAllowed(_("This reservation has expired: there is nothing left to change."))
    if by_guest:
        if not prop.guests_may_change_bookings:
            return ChangeNotAllowed(_("Changes to this booking are made by the owner: please message them."))
        if local_today(prop, now) >= booking.check_in:
            return ChangeNotAllowed(_("The arrival day has been reached: this booking can no longer be changed "
                                      "here. Please message the owner."))
    return None


def check_new_stay(prop: Property, booking: Booking, stay: StayChange, at: datetime, *,
                   enforce_rules: bool) -> AvailabilityResult:
    """Whether ``stay`` is free and allowed, leaving the booking's own nights out. Arrival-date rules (lead time,
    past dates) are not asked again of a change that keeps the arrival date; a new arrival date is never in the
    past, not even with the stay rules overridden."""
    result = check_availability(prop, stay.check_in, stay.check_out, stay.guests, at=at, enforce_rules=enforce_rules,
                                exclude_booking_id=booking.pk)
    reasons = list(result.reasons)
    if stay.check_in == booking.check_in:
        reasons = [r for r in reasons if r.code not in ARRIVAL_RULES]
    elif not enforce_rules and stay.check_in < local_today(prop, at):
        reasons.append(Reason("in_past", _("Check-in cannot be in the past."), "check_in"))
    return AvailabilityResult(not reasons, reasons)


@dataclass(frozen=True)
class ChangeTerms:
    """What a change costs or refunds (see the module docstring)."""

    currency: str
    old_total: Decimal
    new_total: Decimal
    difference: Decimal  # new total − old total
    balance_before: Decimal
    balance_after: Decimal
    to_collect: Decimal  # the rise of the balance: what the guest is asked to pay now
    refundable: Decimal  # the removed amount the guest had paid beyond the new total (net of refunds)
    percent: Decimal  # the policy snapshot's refund percent now
    refund: Decimal  # what is refunded now
    full_refund: bool = False

    def as_dict(self) -> dict:
        return {"currency": self.currency, "old_total": str(self.old_total), "new_total": str(self.new_total),
                "difference": str(self.difference), "balance_before": str(self.balance_before),
                "balance_after": str(self.balance_after), "to_collect": str(self.to_collect),
                "refundable": str(self.refundable), "refund_percent": str(self.percent), "refund": str(self.refund)}


def change_terms(booking: Booking, prop: Property, new_total: Decimal, *, paid: Decimal, refunded: Decimal,
                 at: datetime, full_refund: bool = False) -> ChangeTerms:
    """The money of changing ``booking`` to a stay whose quote totals ``new_total``, at ``at``.

    ``paid`` and ``refunded`` are what the payment rows say (``payments.services.payment_totals``)."""
    currency = booking.currency
    old_total = Decimal(booking.total)
    called_off = booking.status not in CHANGEABLE_STATUSES
    balance_before = ZERO if called_off else max(old_total - paid, ZERO)
    balance_after = ZERO if called_off else max(new_total - paid, ZERO)
    difference = new_total - old_total
    refundable = ZERO
    if difference < 0:
        refundable = min(-difference, max(paid - refunded - new_total, ZERO))
    # The check-in moment as bookings.services.check_in_datetime computes it (not imported: services imports this).
    check_in_at = datetime.combine(booking.check_in, prop.check_in_time, tzinfo=prop.tz)
    percent = refund_percent(booking.cancellation_policy or {}, check_in_at, at)
    refund = refundable if full_refund else min(round_money(refundable * percent / 100, currency), refundable)
    return ChangeTerms(currency=currency, old_total=old_total, new_total=new_total, difference=difference,
                       balance_before=balance_before, balance_after=balance_after,
                       to_collect=max(balance_after - balance_before, ZERO), refundable=refundable, percent=percent,
                       refund=refund, full_refund=full_refund)


@dataclass(frozen=True)
class ChangePreview:
    """A change as it would be made now: for the pages and the API to show before the guest or owner confirms."""

    booking: Booking
    stay: StayChange
    quote: Quote | None
    terms: ChangeTerms | None
    refusal: str = ""  # the booking may not be changed (by this person, now)
    reasons: list[Reason] = field(default_factory=list)  # the new stay is not free or breaks a rule

    @property
    def possible(self) -> bool:
        return not self.refusal and not self.reasons

    @property
    def unchanged(self) -> bool:
        return self.stay == current_stay(self.booking)


def preview_change(booking: Booking, stay: StayChange, *, paid: Decimal, refunded: Decimal, at: datetime,
                   by_guest: bool, enforce_rules: bool = True, full_refund: bool = False) -> ChangePreview:
    """What changing ``booking`` to ``stay`` would do at ``at`` (no lock: the service decides again)."""
    prop = booking.property
    refusal = refusal_to_change(booking, prop, at, by_guest=by_guest)
    if refusal is not None:
        return ChangePreview(booking, stay, None, None, refusal=refusal.detail)
    result = check_new_stay(prop, booking, stay, at, enforce_rules=enforce_rules or by_guest)
    new_quote = quote(prop, stay.check_in, stay.check_out, stay.guests, at=at)
    terms = change_terms(booking, prop, new_quote.total, paid=paid, refunded=refunded, at=at,
                         full_refund=full_refund and not by_guest)
    return ChangePreview(booking, stay, new_quote, terms, reasons=result.reasons)
