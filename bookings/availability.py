"""Can these dates be booked? One function answers with every reason when not,
and a per-day calendar renders the same rules.

Decisions (where the issue is silent):

* Buffer (preparation) days are kept between two *stays* (bookings and holds),
  not around owner blocks: a block needs no cleaning.
* The stay rules in force on the arrival night govern the whole stay (see
  ``properties.stay_rules``).
* Lead time and the advance window count days between the property's local
  date now and the arrival date; ``min_lead_days = 0`` allows arrival today.
* Time-based rules are evaluated at read time: a hold or reservation whose
  ``expires_at`` has passed is free even if the expiry job has not run yet.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from properties.models import DateOverride
from properties.pricing import local_today
from properties.stay_rules import sleeps_at_most, stay_rules_for, weekdays_phrase

from .models import AvailabilityBlock, Booking

# Reasons that mean "the nights are taken" (HTTP 409) rather than "the request breaks a rule" (400).
CONFLICT_CODES = frozenset({"overlap", "blocked", "buffer"})
NEAREST_DATES_WINDOW = 45  # days searched on each side of the requested arrival (nearest_free_stay)


@dataclass(frozen=True)
class Reason:
    code: str
    message: str
    field: str = ""

    def as_dict(self) -> dict:
        return {"code": self.code, "message": self.message, **({"field": self.field} if self.field else {})}


@dataclass
class AvailabilityResult:
    available: bool
    reasons: list[Reason] = field(default_factory=list)

    @property
    def conflicts(self) -> list[Reason]:
        return [r for r in self.reasons if r.code in CONFLICT_CODES]

    @property
    def codes(self) -> set[str]:
        return {r.code for r in self.reasons}


def occupying_bookings(prop, start: date, end: date, at: datetime | None = None, exclude_booking_id=None):
    """Bookings and holds occupying any night of [start, end) at ``at``."""
    qs = Booking.objects.filter(property=prop).occupying(at).overlapping(start, end)
    if exclude_booking_id is not None:
        qs = qs.exclude(pk=exclude_booking_id)
    return qs


def check_availability(
    prop,
    check_in: date,
    check_out: date,
    guests: int,
    *,
    at: datetime | None = None,
    enforce_rules: bool = True,
    exclude_booking_id=None,
    ignore_channel_blocks: bool = False,
    nearby: list[tuple[date, date]] | None = None,
    blocked: bool | None = None,
) -> AvailabilityResult:
    """Can ``prop`` be booked from ``check_in`` to ``check_out`` for ``guests`` at ``at``?

    Returns every reason when not. ``enforce_rules=False`` (an owner's audited
    override, or a channel import: that stay is already sold on the platform)
    skips the stay rules and the property's status, never the conflicts. ``exclude_booking_id``
    leaves one booking out (when a hold is converted or a stay is moved). ``ignore_channel_blocks`` (channel
    imports only) leaves out the blocks a platform exported (``connection`` set): they are at most echoes of
    stays, and a stay sold on a platform must not conflict with another platform's "not available".

    ``nearby`` (the (check-in, check-out) of the rows :func:`occupying_bookings` finds within the buffer days
    around the stay) and ``blocked`` (whether a block covers a night of it) are what this function would read;
    :func:`bookings.services.reserve` passes them when it has read them in its one statement under the lock.
    """
    at = at or timezone.now()
    reasons: list[Reason] = []
    if enforce_rules and not prop.is_active:
        reasons.append(Reason("property_inactive", _("This property is not accepting bookings.")))
    if check_out <= check_in:
        reasons.append(Reason("invalid_dates", _("Check-out must be after check-in."), "check_out"))
        return AvailabilityResult(False, reasons)
    nights = (check_out - check_in).days

    if enforce_rules:
        if guests < 1:
            reasons.append(Reason("invalid_guests", _("At least one guest is required."), "adults"))
        elif guests > prop.max_guests:
            reasons.append(Reason("too_many_guests", sleeps_at_most(prop), "adults"))
        lead = (check_in - local_today(prop, at)).days
        if lead < 0:
            reasons.append(Reason("in_past", _("Check-in cannot be in the past."), "check_in"))
        elif lead < prop.min_lead_days:
            reasons.append(Reason("lead_time", ngettext(
                "Bookings must be made at least %(count)d day before arrival.",
                "Bookings must be made at least %(count)d days before arrival.", prop.min_lead_days)
                % {"count": prop.min_lead_days}, "check_in"))
        if lead > prop.max_advance_days:
            reasons.append(Reason("advance_window", ngettext(
                "Arrival can be at most %(count)d day ahead.", "Arrival can be at most %(count)d days ahead.",
                prop.max_advance_days) % {"count": prop.max_advance_days}, "check_in"))
        rules = stay_rules_for(prop, check_in)
        if nights < rules.min_stay:
            reasons.append(Reason("min_stay", ngettext(
                "Minimum stay is %(count)d night.", "Minimum stay is %(count)d nights.", rules.min_stay)
                % {"count": rules.min_stay}, "check_out"))
        if nights > rules.max_stay:
            reasons.append(Reason("max_stay", ngettext(
                "Maximum stay is %(count)d night.", "Maximum stay is %(count)d nights.", rules.max_stay)
                % {"count": rules.max_stay}, "check_out"))
        if not rules.checkin_weekdays & (1 << check_in.weekday()):
            reasons.append(Reason("checkin_day", _("Check-in on %(days)s only.") % {
                "days": weekdays_phrase(rules.checkin_weekdays)},
                                  "check_in"))
        if not rules.checkout_weekdays & (1 << check_out.weekday()):
            reasons.append(Reason("checkout_day", _("Check-out on %(days)s only.") % {
                "days": weekdays_phrase(rules.checkout_weekdays)},
                                  "check_out"))

    if nearby is None:
        buffer = timedelta(days=prop.buffer_days)
        nearby = list(
            occupying_bookings(prop, check_in - buffer, check_out + buffer, at, exclude_booking_id)
            .values_list("check_in", "check_out")
        )
    if any(b_in < check_out and b_out > check_in for b_in, b_out in nearby):
        reasons.append(Reason("overlap", _("These dates are already booked.")))
    elif nearby:
        reasons.append(Reason("buffer", ngettext(
            "The property needs %(count)d day free between stays.",
            "The property needs %(count)d days free between stays.", prop.buffer_days) % {"count": prop.buffer_days}))
    if blocked is None:
        blocks = AvailabilityBlock.objects.filter(property=prop, start_date__lt=check_out, end_date__gt=check_in)
        if ignore_channel_blocks:
            blocks = blocks.filter(connection__isnull=True)
        blocked = blocks.exists()
    if blocked:
        reasons.append(Reason("blocked", _("The property is not available on some of these dates.")))
    return AvailabilityResult(not reasons, reasons)


# --- Calendar -----------------------------------------------------------------------

AVAILABLE = "available"
BOOKED = "booked"
BLOCKED = "blocked"
NO_CHECK_IN = "no_check_in"  # free night, but a stay cannot start here
CHECK_OUT_ONLY = "check_out_only"  # taken night, but the previous night is free: a stay can end here


@dataclass(frozen=True)
class CalendarDay:
    date: date
    state: str
    min_stay: int
    checkin_allowed: bool
    checkout_allowed: bool
    note: str = ""

    def as_dict(self) -> dict:
        return {
            "date": self.date.isoformat(),
            "state": self.state,
            "min_stay": self.min_stay,
            "check_in_allowed": self.checkin_allowed,
            "check_out_allowed": self.checkout_allowed,
            **({"note": self.note} if self.note else {}),
        }


def calendar(prop, start: date, end: date, at: datetime | None = None) -> list[CalendarDay]:
    """Per-day states for [start, end) in three queries, for rendering.

    ``booked`` — a booking or live hold occupies the night; ``blocked`` — an owner
    block, buffer days, or outside the bookable window (past, lead time, advance
    window); ``no_check_in`` — free, but a stay cannot start that day (weekday
    rule, or fewer free nights ahead than the minimum stay); ``check_out_only`` —
    taken, but the night before is free so a stay can end that morning.
    """
    at = at or timezone.now()
    buffer = timedelta(days=prop.buffer_days)
    before = start - timedelta(days=1)  # the night before `start` decides whether `start` can be a check-out day
    overrides = list(DateOverride.objects.filter(property=prop, start_date__lt=end, end_date__gt=start))
    # Look ahead far enough to know whether a stay starting near `end` can reach its minimum.
    longest_min_stay = max([prop.min_stay] + [o.min_stay for o in overrides if o.min_stay])
    horizon = end + timedelta(days=longest_min_stay)
    bookings = list(
        occupying_bookings(prop, before - buffer, horizon + buffer, at).values_list("check_in", "check_out")
    )
    blocks = list(
        AvailabilityBlock.objects.filter(property=prop, start_date__lt=horizon, end_date__gt=before)
        .values_list("start_date", "end_date", "reason")
    )
    today = local_today(prop, at)

    def night_state(day: date) -> tuple[str, str]:
        for b_in, b_out in bookings:
            if b_in <= day < b_out:
                return BOOKED, ""
        for s, e, reason in blocks:
            if s <= day < e:
                return BLOCKED, reason
        if any(b_in - buffer <= day < b_out + buffer for b_in, b_out in bookings):
            return BLOCKED, "buffer"
        if day < today:
            return BLOCKED, "past"
        return AVAILABLE, ""  # beyond the advance window a night is still free for a stay arriving earlier

    # states[0] is the night before `start`; states[i + 1] is night `start + i`.
    span = (horizon - before).days
    states = [night_state(before + timedelta(days=i)) for i in range(span)]
    # free_run[i]: consecutive free nights starting at states[i].
    free_run = [0] * (span + 1)
    for i in range(span - 1, -1, -1):
        free_run[i] = free_run[i + 1] + 1 if states[i][0] == AVAILABLE else 0

    days = []
    for i in range((end - start).days):
        day = start + timedelta(days=i)
        state, note = states[i + 1]
        rules = stay_rules_for(prop, day, overrides)
        prev_free = states[i][0] == AVAILABLE
        checkout_allowed = prev_free and bool(rules.checkout_weekdays & (1 << day.weekday()))
        checkin_allowed = False
        if state == AVAILABLE and (day - today).days > prop.max_advance_days:
            state, note = BLOCKED, "advance_window"  # the window limits arrivals, not the nights of a stay
        elif state == AVAILABLE:
            lead = (day - today).days
            checkin_allowed = (
                bool(rules.checkin_weekdays & (1 << day.weekday()))
                and lead >= prop.min_lead_days
                and free_run[i + 1] >= rules.min_stay
            )
            if not checkin_allowed:
                state = NO_CHECK_IN
        elif checkout_allowed:  # the night before is free and a stay may end on this weekday
            state = CHECK_OUT_ONLY
        days.append(CalendarDay(day, state, rules.min_stay, checkin_allowed, checkout_allowed, note))
    return days


def nearest_free_stay(prop, check_in: date, nights: int, guests: int, *, at: datetime | None = None,
                      window: int = NEAREST_DATES_WINDOW, max_checks: int = 3,
                      forward: bool = False) -> tuple[date, date] | None:
    """The bookable stay of ``nights`` nights (or the minimum stay, if longer) whose arrival is closest to
    ``check_in``, within ``window`` days either side (``forward``: on or after ``check_in`` only, so the
    first free one). One calendar read, then at most ``max_checks`` exact checks (the calendar does not
    know every rule, e.g. check-out weekdays of longer stays)."""
    now = at or timezone.now()
    today = local_today(prop, now)
    start = max(today, check_in if forward else check_in - timedelta(days=window))
    longest = max(nights, prop.min_stay, 1)
    end = check_in + timedelta(days=window + longest + 1)
    days = calendar(prop, start, end, at=now)
    by_date = {d.date: d for d in days}
    candidates = sorted((d for d in days if d.checkin_allowed), key=lambda d: (abs((d.date - check_in).days), d.date))
    checks = 0
    for day in candidates:
        length = max(nights, day.min_stay)
        nights_free = all(
            by_date.get(day.date + timedelta(days=i)) is not None
            and by_date[day.date + timedelta(days=i)].state in (AVAILABLE, NO_CHECK_IN)
            for i in range(length)
        )
        departure = by_date.get(day.date + timedelta(days=length))
        if not nights_free or departure is None or not departure.checkout_allowed:
            continue
        checks += 1
        co = day.date + timedelta(days=length)
        if check_availability(prop, day.date, co, guests, at=now).available:
            return day.date, co
        if checks >= max_checks:
            break
    return None
