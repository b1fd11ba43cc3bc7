"""Reads for the guest pages (search, property page, booking widget).

Built on ``bookings.search.search``, ``bookings.availability.calendar`` /
``check_availability`` / ``nearest_free_stay`` and ``properties.pricing.quote``;
every function here runs a fixed number of queries, whatever the number of
properties or bookings.
"""

from __future__ import annotations

import calendar as pycalendar
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal

from django.db import DEFAULT_DB_ALIAS, connections
from django.db.models import Prefetch, prefetch_related_objects
from django.urls import reverse
from django.utils import timezone
from django.utils.dates import MONTHS, WEEKDAYS
from django.utils.formats import date_format
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from bookings.availability import (
    AVAILABLE,
    BLOCKED,
    BOOKED,
    CHECK_OUT_ONLY,
    NO_CHECK_IN,
    AvailabilityResult,
    CalendarDay,
    calendar,
    check_availability,
    nearest_free_stay,
)
from bookings.search import SearchPage, SearchQuery, _prefetch_page, search
from core.money import round_money
from properties.display import money as format_money
from properties.forms import stay_query
from properties.models import Amenity, Property, PropertyPhoto
from properties.policies import policy_snapshot_for
from properties.pricing import Quote, local_today, quote

MAX_SUGGESTIONS = 3


def amenity_choices() -> list[tuple[str, str]]:
    return list(Amenity.objects.order_by("name").values_list("code", "name"))


def policy_info(prop: Property) -> dict:
    """The cancellation policy ``prop`` sells now (code, name, summary, tiers), custom tiers included."""
    return policy_snapshot_for(prop)


# --- search -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ResultCard:
    property: Property
    photo: PropertyPhoto | None
    url: str
    policy: dict
    quote: Quote | None
    per_night: str
    total: str
    amenities: list[Amenity]
    body: str = ""  # the card's cached HTML from the photo to the policy badge (storefront.fragments.card_bodies)


def result_cards(page: SearchPage, guests: int) -> list[ResultCard]:
    """Display data of one search page (no queries: search() prefetched photos and amenities)."""
    cards = []
    for result in page.results:
        prop, q = result.property, result.quote
        photos = list(prop.photos.all())
        if q is not None:
            per_night = format_money(round_money(q.nights_total / q.night_count, q.currency), q.currency)
            total = format_money(q.total, q.currency)
            query = stay_query(q.check_in, q.check_out, guests=guests)
        else:
            per_night, total = format_money(prop.base_price, prop.currency), ""
            query = stay_query(None, None, guests=guests if guests > 1 else None)
        url = reverse("properties:detail", args=[prop.slug]) + (f"?{query}" if query else "")
        cards.append(ResultCard(prop, photos[0] if photos else None, url, policy_info(prop), q,
                                per_night, total, list(prop.amenities.all())[:4]))
    return cards


@dataclass(frozen=True)
class NearestStay:
    property: Property
    check_in: date
    check_out: date
    url: str


@dataclass
class EmptyState:
    """What to offer when a dated search finds nothing."""

    same_place: list[ResultCard] = field(default_factory=list)
    same_place_total: int = 0
    nearest: NearestStay | None = None


def empty_state(q: SearchQuery, *, at: datetime | None = None) -> EmptyState:
    """The same search without dates (up to three properties) and, for the closest match, the nearest
    dates around the requested ones when a stay of the same length is free. Bounded: one search
    without dates plus at most a calendar and a few availability checks of one property."""
    now = at or timezone.now()
    undated = search(SearchQuery(text=q.text, guests=q.guests, bedrooms=q.bedrooms, amenities=q.amenities,
                                 min_price=q.min_price, max_price=q.max_price, sort=q.sort,
                                 page_size=MAX_SUGGESTIONS), at=now)
    state = EmptyState(same_place=result_cards(undated, q.guests), same_place_total=undated.total)
    if q.check_in is not None and q.check_out is not None and undated.results:
        best = undated.results[0].property
        found = nearest_free_stay(best, q.check_in, (q.check_out - q.check_in).days, q.guests, at=now)
        if found is not None:
            ci, co = found
            url = reverse("properties:detail", args=[best.slug]) + "?" + stay_query(ci, co, guests=q.guests)
            state.nearest = NearestStay(best, ci, co, url)
    return state


# --- property page ----------------------------------------------------------------------------


def property_for_page(slug: str) -> Property | None:
    """An active property with what its page shows (photos, amenities) and what its quote needs
    (pricing rules, date overrides), in five queries.

    On PostgreSQL the four relations are read as search() reads them for its page
    (``selectors._prefetch_page``: plain SQL, the same prefetch caches, less ORM work);
    elsewhere with ``prefetch_related``."""
    prop = Property.objects.active().filter(slug=slug).first()
    if prop is None:
        return None
    alias = prop._state.db or DEFAULT_DB_ALIAS
    if connections[alias].vendor == "postgresql":
        _prefetch_page([prop], alias, pricing=True)
    else:
        prefetch_related_objects(
            [prop], Prefetch("photos", queryset=PropertyPhoto.objects.order_by("position", "id")),
            "amenities", "pricing_rules", "date_overrides",
        )
    return prop


STATE_LABELS = {
    AVAILABLE: gettext_lazy("available"),
    NO_CHECK_IN: gettext_lazy("available, no check-in this day"),
    CHECK_OUT_ONLY: gettext_lazy("unavailable, check-out only"),
    BOOKED: gettext_lazy("unavailable"),
    BLOCKED: gettext_lazy("unavailable"),
}


@dataclass(frozen=True)
class CalendarCell:
    day: CalendarDay
    label: str  # for screen readers
    classes: str
    min_stay_hint: int  # shown when it differs from the property's usual minimum stay; else 0
    href: str = ""  # a check-in day links to the widget with that arrival and the minimum stay

    @property
    def date(self) -> date:
        return self.day.date


@dataclass(frozen=True)
class CalendarMonth:
    first: date
    title: str
    weeks: list[list[CalendarCell | None]]


@dataclass(frozen=True)
class MinStayRange:
    start: date
    end: date  # last day, inclusive
    nights: int


@dataclass(frozen=True)
class PropertyCalendar:
    months: list[CalendarMonth]
    prev_month: date | None
    next_month: date | None
    min_stays: list[MinStayRange]


def add_months(day: date, months: int) -> date:
    index = day.year * 12 + day.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def property_calendar(prop: Property, first_month: date, *, months: int = 2, at: datetime | None = None,
                      stay: tuple[date, date] | None = None, adults: int = 2, children: int = 0) -> PropertyCalendar:
    """``months`` months from ``first_month`` as week rows (Monday first), in three queries.

    Days where a stay can start link to the page with that arrival and the minimum stay
    (``adults`` and ``children`` carried along), so dates can be picked without JavaScript."""
    now = at or timezone.now()
    today = local_today(prop, now)
    earliest = today.replace(day=1)
    latest = add_months(earliest, max(1, -(-prop.max_advance_days // 30)) + 1)
    first_month = min(max(first_month.replace(day=1), earliest), latest)
    end = add_months(first_month, months)
    days = calendar(prop, first_month, end, at=now)

    cells = {}
    states = {state: str(label) for state, label in STATE_LABELS.items()}  # translated once, not per day
    in_your_stay, choose_as_arrival = _("in your stay"), _("choose as arrival")
    # date_format(day, "l j F Y") spelled out with the names translated once: the same text, without parsing the
    # format for each of the ~60 days (~2 ms a page here)
    weekday_names = [str(WEEKDAYS[i]) for i in range(7)]
    month_names = [""] + [str(MONTHS[i]) for i in range(1, 13)]
    for day in days:
        classes = [f"cal-{day.state.replace('_', '-')}"]
        if day.state in (BOOKED, BLOCKED, CHECK_OUT_ONLY):
            classes.append("cal-unavailable")
        if day.date == today:
            classes.append("cal-today")
        d = day.date
        label = f"{weekday_names[d.weekday()]} {d.day} {month_names[d.month]} {d.year:04d}: {states[day.state]}"
        if stay and stay[0] <= day.date < stay[1]:
            classes.append("cal-selected")
            label += f", {in_your_stay}"
        hint = day.min_stay if day.min_stay != prop.min_stay and day.state in (AVAILABLE,) else 0
        if day.min_stay > 1 and day.state == AVAILABLE:
            label += ", " + ngettext("minimum stay %(count)d night", "minimum stay %(count)d nights",
                                     day.min_stay) % {"count": day.min_stay}
        href = ""
        if day.checkin_allowed:
            query = stay_query(day.date, day.date + timedelta(days=day.min_stay), adults, children)
            href = f"?{query}&month={first_month:%Y-%m}#book"
            label += f", {choose_as_arrival}"
        cells[day.date] = CalendarCell(day, label, " ".join(classes), hint, href)

    month_list = []
    for i in range(months):
        first = add_months(first_month, i)
        weeks = [
            [cells.get(d) if d.month == first.month else None for d in week]
            for week in pycalendar.Calendar(firstweekday=0).monthdatescalendar(first.year, first.month)
        ]
        month_list.append(CalendarMonth(first, date_format(first, "F Y"), weeks))

    ranges: list[MinStayRange] = []
    for day in days:
        if day.state != AVAILABLE:
            continue
        last = ranges[-1] if ranges else None
        if last and last.nights == day.min_stay:
            ranges[-1] = MinStayRange(last.start, day.date, last.nights)
        else:
            ranges.append(MinStayRange(day.date, day.date, day.min_stay))
    prev_month = add_months(first_month, -1) if first_month > earliest else None
    next_month = add_months(first_month, 1) if first_month < latest else None
    if len({r.nights for r in ranges}) < 2:
        ranges = []  # one minimum stay throughout: the house rules already say it
    return PropertyCalendar(month_list, prev_month, next_month, ranges)


@dataclass(frozen=True)
class StayQuote:
    quote: Quote
    availability: AvailabilityResult
    per_night: Decimal

    @property
    def bookable(self) -> bool:
        return self.availability.available

    @property
    def nights(self) -> list[dict]:
        return [{"date": n.date, "price": n.price, "base": n.base, "adjustments": n.adjustments}
                for n in self.quote.nights]


def stay_quote(prop: Property, check_in: date, check_out: date, guests: int, *,
               at: datetime | None = None) -> StayQuote:
    """The quote and the availability (with every reason) of one stay: two queries on a prepared property."""
    now = at or timezone.now()
    q = quote(prop, check_in, check_out, guests, at=now)
    result = check_availability(prop, check_in, check_out, guests, at=now)
    return StayQuote(q, result, round_money(q.nights_total / q.night_count, q.currency))
