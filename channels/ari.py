"""What a platform must show for each night: availability, the nightly rate and the stay rules ("ARI").

Computed from the same sources as a direct booking, so that a night closed here is closed everywhere:

* **availability** (1 or 0: a vacation rental is one unit) from ``bookings.availability.calendar`` — a booking,
  a live hold, an owner or channel block, a buffer day or a past night closes it;
* **rate** from the quote engine (``properties.pricing.compute_quote`` for that one night, for the guests the
  base price includes): the night's price with its night rules (weekends, seasons, date overrides) only. Fees,
  taxes and the stay-level rules (length of stay, early bird, last minute: they depend on the whole stay and on
  the day it is booked, not on the night) are not a nightly rate; platforms take them from their own settings
  (Google: ``channels.adapters.google_vr``, ``Promotions``);
* **stay rules** from ``properties.stay_rules``: the minimum and maximum stay of an arrival that night, closed to
  arrival (not an arrival weekday, inside the lead time, beyond the advance window), closed to departure (not a
  departure weekday), and stop sell while the property is not active.

:func:`runs` compresses a night-by-night map into ranges of equal values, so that a hundred single-night
edits, or a 500-night full sync of a calendar with few changes, is a handful of values in one message.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Generic, TypeVar

from bookings.availability import AVAILABLE, BLOCKED, NO_CHECK_IN, calendar
from properties.models import DateOverride, Property
from properties.pricing import NIGHT_KINDS, compute_quote, local_today, pricing_spec
from properties.stay_rules import stay_rules_for

T = TypeVar("T")
V = TypeVar("V")


@dataclass(frozen=True)
class NightAvailability:
    available: int  # 1: the night can be sold, 0: it cannot


@dataclass(frozen=True)
class NightRestrictions:
    rate: Decimal
    currency: str
    min_stay: int
    max_stay: int
    closed_to_arrival: bool
    closed_to_departure: bool
    stop_sell: bool


@dataclass(frozen=True)
class Run(Generic[V]):
    """Consecutive nights ``first``..``last`` (both included) with the same value."""

    first: date
    last: date
    value: V


def availability(prop: Property, start: date, end: date, *, at: datetime | None = None
                 ) -> dict[date, NightAvailability]:
    """Nights [start, end): can each be sold? (Three queries, like the property page's calendar.)"""
    nights = {}
    for day in calendar(prop, start, end, at=at):
        # A night beyond the advance window is still part of a stay that arrives earlier: it stays open, and its
        # arrival is closed by the restrictions instead.
        open_night = day.state in (AVAILABLE, NO_CHECK_IN) or (day.state == BLOCKED and day.note == "advance_window")
        nights[day.date] = NightAvailability(1 if open_night else 0)
    return nights


def restrictions(prop: Property, start: date, end: date, *, at: datetime | None = None
                 ) -> dict[date, NightRestrictions]:
    """Nights [start, end): rate and stay rules. Two queries (pricing rules, date overrides)."""
    overrides = list(DateOverride.objects.filter(property=prop, start_date__lt=end, end_date__gt=start))
    spec = pricing_spec(prop)
    # The night rules only: a one-night quote booked today would also take the stay-level rules that match a
    # one-night stay arriving that night (an early bird for a far night, a last minute for a near one).
    spec = replace(spec, rules=tuple(r for r in spec.rules if r.kind in NIGHT_KINDS))
    today = local_today(prop, at)
    guests = max(1, min(prop.guests_included or 1, prop.max_guests or 1))
    stop_sell = prop.status != Property.Status.ACTIVE
    nights = {}
    day = start
    while day < end:
        rules = stay_rules_for(prop, day, overrides)
        lead = (day - today).days
        weekday = 1 << day.weekday()
        night = compute_quote(spec, day, day + timedelta(days=1), guests, today).nights[0]
        nights[day] = NightRestrictions(
            rate=night.price, currency=spec.currency, min_stay=rules.min_stay, max_stay=rules.max_stay,
            closed_to_arrival=not (rules.checkin_weekdays & weekday) or lead < prop.min_lead_days
            or lead > prop.max_advance_days,
            closed_to_departure=not (rules.checkout_weekdays & weekday), stop_sell=stop_sell)
        day += timedelta(days=1)
    return nights


def runs(nights: dict[date, T]) -> list[Run[T]]:
    """Ranges of consecutive nights with equal values, in date order."""
    out: list[Run[T]] = []
    for day in sorted(nights):
        value = nights[day]
        if out and out[-1].value == value and out[-1].last + timedelta(days=1) == day:
            out[-1] = Run(out[-1].first, day, value)
        else:
            out.append(Run(day, day, value))
    return out


def merge_ranges(ranges: list[tuple[date, date]]) -> list[tuple[date, date]]:
    """Half-open ``[start, end)`` ranges merged where they overlap or touch."""
    merged: list[list[date]] = []
    for start, end in sorted(ranges):
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    return [(s, e) for s, e in merged]
