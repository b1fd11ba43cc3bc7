"""The stay rules of a property for one arrival, and how guests read them.

The rules in force on the *arrival night* govern the whole stay (minimum and
maximum stay, allowed check-in and check-out weekdays; see ``properties.models``):
the property's defaults, changed by the shortest (then newest) ``DateOverride``
covering that night. These are catalogue facts and know nothing of bookings;
``bookings.availability`` checks a stay against them and against occupancy.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from .models import WEEKDAY_NAMES, weekdays_in

# "Check-in on Saturdays only": the weekdays in the plural, in the guest's language (WEEKDAY_NAMES: Monday first).
WEEKDAYS_PLURAL = [
    gettext_lazy("Mondays"), gettext_lazy("Tuesdays"), gettext_lazy("Wednesdays"), gettext_lazy("Thursdays"),
    gettext_lazy("Fridays"), gettext_lazy("Saturdays"), gettext_lazy("Sundays"),
]
assert len(WEEKDAYS_PLURAL) == len(WEEKDAY_NAMES)


@dataclass(frozen=True)
class StayRules:
    min_stay: int
    max_stay: int
    checkin_weekdays: int
    checkout_weekdays: int


def _pick(overrides, attr):
    """The value of ``attr`` from the shortest (then newest) override that sets it."""
    chosen = None
    for o in overrides:
        if getattr(o, attr) is None:
            continue
        if chosen is None or (o.nights, -o.pk) < (chosen.nights, -chosen.pk):
            chosen = o
    return None if chosen is None else getattr(chosen, attr)


def stay_rules_for(prop, arrival: date, overrides=None) -> StayRules:
    """The rules governing a stay arriving on ``arrival``. ``overrides`` may be any
    iterable of the property's overrides (they are filtered to those covering it)."""
    if overrides is None:
        overrides = prop.date_overrides.all()  # uses the caller's prefetch when there is one (bookings.services)
    covering = [o for o in overrides if o.covers(arrival)]

    def value(attr):
        picked = _pick(covering, attr)
        return getattr(prop, attr) if picked is None else picked

    return StayRules(value("min_stay"), value("max_stay"), value("checkin_weekdays"), value("checkout_weekdays"))


def weekdays_phrase(mask: int) -> str:
    """"Mondays", "Fridays and Saturdays", "Mondays, Fridays and Saturdays"."""
    names = [str(WEEKDAYS_PLURAL[d]) for d in weekdays_in(mask)]
    if len(names) == 1:
        return names[0]
    return _("%(first)s and %(last)s") % {"first": ", ".join(names[:-1]), "last": names[-1]}


def plural(n: int, word: str) -> str:
    """"1 night", "3 nights"."""
    return f"{n} {word}" + ("" if n == 1 else "s")


def sleeps_at_most(prop) -> str:
    """The capacity rule as guests read it (the stay form's guest fields say the same)."""
    return ngettext("This property sleeps at most %(count)d guest.", "This property sleeps at most %(count)d guests.",
                    prop.max_guests) % {"count": prop.max_guests}
