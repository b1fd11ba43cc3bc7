"""How dates and times are written for people (pages, emails, the back office).

* :func:`short_date` — "5 Mar", with the year when it is not the current one ("5 Mar 2025"): a list
  that mixes last December and this January must not read as one month.
* :func:`local_datetime` — a moment (an aware datetime, stored in UTC) in the property's time zone, the
  zone named: "02:15 on 6 March (Europe/Lisbon time)". Deadlines a guest must meet (pay until, send the
  transfer before) are shown like this, in guest pages, the portal and emails; the guest thinks in the
  place they are going to, and the name makes the zone unmistakable.

Both are template filters too (``{% load stayhold %}``: ``{{ day|short_date }}``,
``{{ moment|local_datetime:prop }}``).
"""

from __future__ import annotations

from datetime import date, datetime

from django.utils import timezone


def short_date(day: date | datetime, today: date | None = None) -> str:
    """``day`` as "5 Mar", or "5 Mar 2025" when its year is not ``today``'s (default: the site's date)."""
    if isinstance(day, datetime):
        day = timezone.localtime(day).date() if timezone.is_aware(day) else day.date()
    today = today or timezone.localdate()
    text = f"{day.day} {day:%b}"
    return text if day.year == today.year else f"{text} {day.year}"


def local_datetime(moment: datetime, prop) -> str:
    """``moment`` in ``prop``'s time zone, the zone named: "02:15 on 6 March (Europe/Lisbon time)"; the year
    is added when it is not the current one there."""
    local = timezone.localtime(moment, prop.tz)
    today = timezone.localtime(timezone.now(), prop.tz).date()
    day = f"{local.day} {local:%B}" + ("" if local.year == today.year else f" {local.year}")
    return f"{local:%H:%M} on {day} ({prop.timezone} time)"
