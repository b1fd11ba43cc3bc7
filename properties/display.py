"""How dates, times and money are written for people (pages, emails, the back office), in the active language.

* :func:`short_date` — "5 Mar", with the year when it is not the current one ("5 Mar 2025"): a list
  that mixes last December and this January must not read as one month.
* :func:`local_datetime` — a moment (an aware datetime, stored in UTC) in the property's time zone, the
  zone named: "02:15 on 6 March (Europe/Lisbon time)"; "6. März, 02:15 (Zeitzone Europe/Lisbon)" in German.
  Every moment a guest or owner reads (payment deadlines, hold expiry, cancellation deadlines, message
  times) is shown like this, in guest pages, the portal and emails; the guest thinks in the place they are
  going to, and the name makes the zone unmistakable.
* :func:`local_time` — a wall-clock time of the property (check-in from 15:00), the zone named the same way.
* :func:`money` — a Decimal amount in a currency for the active locale (Babel, CLDR data): "€1,234.50" in
  English, "1.234,50 €" in German, "1 234,50 €" in French, "1.234,50 €" in Spanish.

* :func:`hold_countdown` — the time left to pay a hold and its deadline, "23 h 59 min left (until 02:08, Lisbon
  time, 8 Dec)": hours and minutes (a guest reads "1439:46" as nothing), translated, in the property's zone named by
  its place (the wording the issue asks for).

All are template filters too (``{% load stayhold %}``: ``{{ day|short_date }}``, ``{{ moment|in_property_tz:prop }}``
(alias ``local_datetime``), ``{{ prop.check_in_time|property_time:prop }}``, ``{{ amount|money:currency }}``).
The zone is named by its IANA id (Europe/Lisbon): the same in every language and unambiguous, where localized
names ("Westeuropäische Zeit") change with daylight saving time and are shared by several zones. docs/i18n.md.
"""

from __future__ import annotations

from datetime import date, datetime, time
from decimal import Decimal

from babel.numbers import format_currency
from django.utils import dateformat, formats, timezone, translation
from django.utils.translation import gettext, gettext_lazy, pgettext
from django.utils.translation import gettext as _

from core.money import round_money


def short_date(day: date | datetime, today: date | None = None) -> str:
    """``day`` as "5 Mar", or "5 Mar 2025" when its year is not ``today``'s (default: the site's date)."""
    if isinstance(day, datetime):
        day = timezone.localtime(day).date() if timezone.is_aware(day) else day.date()
    today = today or timezone.localdate()
    text = f"{day.day} {day:%b}"
    return text if day.year == today.year else f"{text} {day.year}"


def zone_label(prop) -> str:
    """The property's time zone as guests read it: its IANA id ("Europe/Lisbon")."""
    return prop.timezone


def local_datetime(moment: datetime, prop) -> str:
    """``moment`` in ``prop``'s time zone, the zone named: "02:15 on 6 March (Europe/Lisbon time)" in English; the year
    is added when it is not the current one there. Month names and word order follow the active language."""
    local = timezone.localtime(moment, prop.tz)
    today = timezone.localtime(timezone.now(), prop.tz).date()
    if local.year == today.year:
        day = formats.date_format(local, pgettext("date format: day and month", "j F"))
    else:
        day = formats.date_format(local, pgettext("date format: day, month and year", "j F Y"))
    return _("%(time)s on %(day)s (%(zone)s time)") % {
        "time": f"{local:%H:%M}", "day": day, "zone": zone_label(prop)}


def local_time(wall_clock: time, prop) -> str:
    """A wall-clock time of the property, the zone named: "15:00 (Europe/Lisbon time)"."""
    return _("%(time)s (%(zone)s time)") % {"time": f"{wall_clock:%H:%M}", "zone": zone_label(prop)}


def money(amount, currency: str, language: str | None = None) -> str:
    """``amount`` (rounded to ``currency``'s minor unit) for the active (or given) language: "€1,234.50",
    "1.234,50 €". Zero-decimal currencies show whole units (¥28,000)."""
    value = round_money(Decimal(amount), currency)
    locale = translation.to_locale(language or translation.get_language() or "en")
    # CLDR's minor units agree with core.money.CURRENCY_EXPONENTS (JPY, KRW and ISK whole: test_money_per_locale).
    return format_currency(value, currency, locale=locale)




# The hold countdown ("23 h 59 min left (until 02:08, Lisbon time, 8 Dec)"): the server writes the whole text,
# static/js/booking.js rewrites the time left once a minute from these same translated formats (rendered into the
# page as data attributes), so both speak the page's language.
TIME_LEFT_FORMATS = {
    "hours": gettext_lazy("%(hours)s h %(minutes)s min left"),
    "minutes": gettext_lazy("%(minutes)s min left"),
    "under_a_minute": gettext_lazy("Less than a minute left"),
    "done": gettext_lazy("Time is up"),
}


def zone_city(tz_name: str) -> str:
    """The place a time zone is named after, as people say it: "Europe/Lisbon" → "Lisbon",
    "America/Argentina/Buenos_Aires" → "Buenos Aires"; "UTC" stays "UTC"."""
    return tz_name.rsplit("/", 1)[-1].replace("_", " ")


def time_left(seconds: int) -> str:
    """Whole minutes left, rounded down (never promise time that is not there): "23 h 59 min left",
    "5 min left", "Less than a minute left", "Time is up"."""
    seconds = max(0, int(seconds))
    hours, minutes = divmod(seconds // 60, 60)
    if seconds == 0:
        return str(TIME_LEFT_FORMATS["done"])
    if hours:
        return str(TIME_LEFT_FORMATS["hours"]) % {"hours": hours, "minutes": minutes}
    if minutes:
        return str(TIME_LEFT_FORMATS["minutes"]) % {"minutes": minutes}
    return str(TIME_LEFT_FORMATS["under_a_minute"])


def deadline(moment: datetime, prop, now: datetime | None = None) -> str:
    """A deadline in the property's time zone, the place named: "02:08, Lisbon time, 8 Dec" (the year added when
    it is not the current one there)."""
    local = timezone.localtime(moment, prop.tz)
    today = timezone.localtime(now or timezone.now(), prop.tz).date()
    # The day in the language's own order and month abbreviation ("8 Dec", "8. Dez.", "8 déc.").
    if local.year == today.year:
        day = formats.date_format(local, pgettext("date format: day and short month", "j M"))
    else:
        day = formats.date_format(local, pgettext("date format: day, short month and year", "j M Y"))
    return gettext("%(time)s, %(place)s time, %(day)s") % {
        "time": dateformat.format(local, "H:i"), "place": zone_city(prop.timezone), "day": day}


def hold_countdown(expires_at: datetime, prop, now: datetime | None = None) -> dict:
    """What ``bookings/_hold_countdown.html`` shows of a hold that ends at ``expires_at``."""
    now = now or timezone.now()
    seconds = max(0, int((expires_at - now).total_seconds()))  # real seconds: a DST change in between counts
    return {"seconds": seconds, "text": time_left(seconds), "deadline": deadline(expires_at, prop, now),
            "expires_at": expires_at, "formats": {key: str(value) for key, value in TIME_LEFT_FORMATS.items()}}
