"""The bookable stay nearest to the one asked for: what the search page offers when its dates are taken, and
where the property admin's quote preview opens.

It reads availability only (the calendar, then a few exact checks), so it belongs beside the availability
functions; it is its own module so that the guest pages and the admin share one rule.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

from django.utils import timezone

from properties.availability import AVAILABLE, NO_CHECK_IN, calendar, check_availability
from properties.models import Property
from properties.pricing import local_today

NEAREST_DATES_WINDOW = 45  # days searched on each side of the requested arrival


def nearest_free_stay(prop: Property, check_in: date, nights: int, guests: int, *, at: datetime | None = None,
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
