"""Reports: occupancy, ADR, RevPAR, revenue, bookings and cancellations, per month, per currency.

Figures cover only the properties the user manages (``managed_properties``:
owned or assigned; all for a superuser) and need ``bookings.view_reports``.

Definitions (also printed on the page, ``templates/admin/reports.html``):

* **Period**: whole calendar months, ``from`` … ``to`` inclusive (or a ``year``);
  default the last 12 months including the current one (site time zone). At
  most 36 months. Months after today show what is *on the books*.
* **Currencies are never added together**: one section per currency. A booking's
  nights and money count in the booking's currency; a property's available
  nights in the property's currency (they differ only if a property's currency
  was changed after it was booked).
* **Booked night**: a night of a booking in status confirmed, checked in or
  checked out, counted in the month the night falls in (a stay across a month
  boundary is split night by night; a night is the date of the evening it
  starts). Held, reserved (unpaid, may still expire), cancelled, expired and
  released bookings occupy no reported night. An overbooking (a channel stay
  recorded on a night another stay holds, ``Booking.overbooking_lane``) counts
  both stays' nights and revenue: both were sold. Occupancy can then read above
  100% for the month until the owner resolves it.
* **Available nights**: for each property that is active now (or that has booked
  nights in the period), every night of the period minus the nights the owner
  blocked (blocks take nights off the market, so they lower availability, not
  occupancy). A blocked night that nevertheless carries a booked night stays
  available.
* **Occupancy** = booked nights ÷ available nights, in % (one decimal).
* **Room revenue**: the accommodation price of the booked nights, taken night by
  night from the booking's quote snapshot (``Booking.quote["nights"][i]["price"]``:
  base price plus surcharges minus discounts of that night, exactly what the guest
  was sold). A booking without a usable snapshot spreads ``subtotal − discounts``
  evenly over its nights (to the cent; leftover cents go to the first nights).
* **ADR** (average daily rate) = room revenue ÷ booked nights.
* **RevPAR** (revenue per available night) = room revenue ÷ available nights
  (= ADR × occupancy).
* **Revenue** = room revenue + fees (cleaning, extra guests), *excluding taxes*
  (collected for the authorities, not earned). Recognised by stay night: the
  booking's fees are spread evenly over its nights like the fallback above.
  Cancelled bookings count no revenue (any cancellation fee kept is in payments,
  not here); later partial refunds of a stay are not deducted.
* **Bookings**: bookings in status confirmed, checked in or checked out, counted
  in the month of *arrival*. **Cancellations**: bookings in status cancelled
  (whatever status they were cancelled from), also by month of arrival, so that
  bookings + cancellations are all the firm requests for arrivals in a month.
* **By referral**: the bookings sold here whose guest a landing link brought (``Booking.referral``: Google's free
  booking links), with their nights and money, counted like a source; bookings without a referral have no row.
  The page shows it; the CSV does not (its columns are fixed).
* **Source filter** narrows bookings, nights and money to one source;
  availability stays that of the properties, so occupancy then reads "share of
  available nights sold through this source".

Computation: three queries whatever the number of bookings (the user's
properties; the period's bookings with only the needed columns, including just
the ``nights`` key of the quote; the period's blocks), then nights are split in
Python. That works the same on PostgreSQL and SQLite and stays fast at thousands
of bookings (one pass, a few dictionary updates per night).
"""

from __future__ import annotations

import builtins
import calendar
import csv
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.db.models.fields.json import KeyTransform
from django.http import Http404, HttpResponse
from django.template.response import TemplateResponse
from django.utils import timezone
from django.utils.safestring import mark_safe

from bookings.models import CONFIRMED_STATUSES, AvailabilityBlock, Booking, BookingStatus, Referral, Source
from core.money import CURRENCY_EXPONENTS, ZERO, format_money, round_money
from properties.models import Property
from properties.tenancy import managed_properties

from . import charts

PERMISSION = "bookings.view_reports"
MAX_MONTHS = 36
# Reports count confirmed stays (CONFIRMED_STATUSES: nights, money, count); cancelled ones count as cancellations only.
SOURCE_LABELS = dict(Source.choices)
SOURCE_ORDER = [s.value for s in Source]
REFERRAL_LABELS = dict(Referral.choices)
REFERRAL_ORDER = [r.value for r in Referral]

ALL, BY_SOURCE, BY_PROPERTY, BY_REFERRAL = "all", "source", "property", "referral"


# --- figures ----------------------------------------------------------------------------------------


@dataclass
class Figures:
    """The figures of one cell (a month or the whole period; everything, one source or one property)."""

    currency: str
    booked_nights: int = 0
    available_nights: int | None = 0  # None where availability means nothing (a source)
    room_revenue: Decimal = ZERO
    revenue: Decimal = ZERO
    bookings: int = 0
    cancellations: int = 0

    @property
    def occupancy(self) -> Decimal | None:
        """Percent, one decimal; None when there is nothing available (never a division by zero)."""
        if not self.available_nights:
            return None
        pct = Decimal(self.booked_nights) * 100 / Decimal(self.available_nights)
        return pct.quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)

    @property
    def adr(self) -> Decimal | None:
        if not self.booked_nights:
            return None
        return round_money(self.room_revenue / self.booked_nights, self.currency)

    @property
    def revpar(self) -> Decimal | None:
        if not self.available_nights:
            return None
        return round_money(self.room_revenue / self.available_nights, self.currency)

    @property
    def is_empty(self) -> bool:
        return not (self.booked_nights or self.bookings or self.cancellations)

    # For the page: formatted with the currency, "—" where a figure is not defined.
    def _money(self, amount: Decimal | None) -> str:
        return "—" if amount is None else format_money(amount, self.currency)

    @property
    def occupancy_display(self) -> str:
        return "—" if self.occupancy is None else f"{self.occupancy}%"

    @property
    def adr_display(self) -> str:
        return self._money(self.adr)

    @property
    def revpar_display(self) -> str:
        return self._money(self.revpar)

    @property
    def room_revenue_display(self) -> str:
        return self._money(self.room_revenue)

    @property
    def revenue_display(self) -> str:
        return self._money(self.revenue)

    @property
    def available_display(self) -> str:
        return "—" if self.available_nights is None else f"{self.available_nights:,}"


@dataclass
class Row:
    """A labelled line of a table: its period total and its figures per month (same order as the months)."""

    key: str
    label: str
    total: Figures
    months: list[Figures]


@dataclass
class CurrencySection:
    currency: str
    months: list[tuple[date, Figures]]
    total: Figures
    by_source: list[Row]
    by_property: list[Row]
    by_referral: list[Row] = field(default_factory=list)

    @property
    def is_empty(self) -> bool:
        return self.total.is_empty


# --- filters ----------------------------------------------------------------------------------------


@dataclass
class ReportFilters:
    start: date  # first day of the first month
    end: date  # first day of the month after the last (exclusive)
    property: Property | None = None
    source: str = ""
    notes: list[str] = field(default_factory=list)  # why a parameter was ignored or changed
    # The raw values to put back into the form.
    year: str = ""
    from_month: str = ""
    to_month: str = ""

    @builtins.property  # `property` is a field of this class
    def months(self) -> list[date]:
        return month_starts(self.start, self.end)

    @builtins.property  # `property` is a field of this class
    def last_month(self) -> date:
        return self.months[-1]


def add_months(month: date, count: int) -> date:
    index = month.year * 12 + month.month - 1 + count
    return date(index // 12, index % 12 + 1, 1)


def month_starts(start: date, end: date) -> list[date]:
    months, month = [], start
    while month < end:
        months.append(month)
        month = add_months(month, 1)
    return months


def _parse_month(value: str) -> date | None:
    try:
        year, month = value.strip().split("-")
        parsed = date(int(year), int(month), 1)
    except (ValueError, TypeError):
        return None
    return parsed if 2000 <= parsed.year <= 2100 else None


def parse_filters(params, properties: list[Property], today: date) -> ReportFilters:
    """Read the query string; a bad value falls back to its default with a note, never an error.

    The one exception: a property id that is not among ``properties`` (the
    user's) answers 404, as every foreign object id does in the back office."""
    notes: list[str] = []
    this_month = today.replace(day=1)
    first, last = add_months(this_month, -11), this_month
    year = params.get("year", "").strip()
    from_raw, to_raw = params.get("from", "").strip(), params.get("to", "").strip()
    if year:
        if year.isdigit() and 2000 <= int(year) <= 2100:
            first, last = date(int(year), 1, 1), date(int(year), 12, 1)
            from_raw = to_raw = ""
        else:
            notes.append(f"“{year}” is not a year: showing the last 12 months.")
            year = ""
    elif from_raw or to_raw:
        parsed_from, parsed_to = _parse_month(from_raw) if from_raw else None, _parse_month(to_raw) if to_raw else None
        if (from_raw and parsed_from is None) or (to_raw and parsed_to is None):
            notes.append("Months are written YYYY-MM (e.g. 2025-03): showing the last 12 months.")
            from_raw = to_raw = ""
        else:
            first = parsed_from or parsed_to
            last = parsed_to or parsed_from
            if first > last:
                first, last = last, first
                notes.append("“From” was after “to”: the months were swapped.")
            if len(month_starts(first, add_months(last, 1))) > MAX_MONTHS:
                first = add_months(last, -(MAX_MONTHS - 1))
                notes.append(f"At most {MAX_MONTHS} months at a time: showing the {MAX_MONTHS} months up to “to”.")
    chosen_property = None
    raw_property = params.get("property", "").strip()
    if raw_property:
        if not raw_property.isdigit():
            notes.append("Unknown property: showing all your properties.")
        else:
            chosen_property = next((p for p in properties if p.pk == int(raw_property)), None)
            if chosen_property is None:
                raise Http404("No such property.")
    source = params.get("source", "").strip()
    if source and source not in SOURCE_LABELS:
        notes.append(f"Unknown source “{source}”: showing all sources.")
        source = ""
    return ReportFilters(
        start=first, end=add_months(last, 1), property=chosen_property, source=source, notes=notes,
        year=year, from_month=from_raw, to_month=to_raw,
    )


# --- splitting a booking into nights ------------------------------------------------------------------


def split_evenly(amount: Decimal, parts: int, currency: str) -> list[Decimal]:
    """``amount`` in ``parts`` shares that add up to it exactly, to the minor unit (leftovers to the first)."""
    exponent = CURRENCY_EXPONENTS.get(currency, 2)
    units = int(Decimal(amount).scaleb(exponent).to_integral_value(rounding=ROUND_HALF_UP))
    share, leftover = divmod(units, parts)
    return [Decimal(share + (1 if i < leftover else 0)).scaleb(-exponent) for i in range(parts)]


def night_prices(row: dict) -> list[Decimal]:
    """The accommodation price of each night of a booking row, from its quote snapshot when it is usable."""
    check_in, nights = row["check_in"], (row["check_out"] - row["check_in"]).days
    snapshot = row.get("quote_nights")
    if isinstance(snapshot, list) and len(snapshot) == nights:
        try:
            expected = [(check_in + timedelta(days=i)).isoformat() for i in range(nights)]
            if [n["date"] for n in snapshot] == expected:
                return [Decimal(str(n["price"])) for n in snapshot]
        except (KeyError, TypeError, ArithmeticError, ValueError):
            pass
    return split_evenly(Decimal(row["subtotal"]) - Decimal(row["discounts"]), nights, row["currency"])


# --- the report ---------------------------------------------------------------------------------------


class _Cells(dict):
    """Figures keyed by (currency, dimension, key, month or None for the period)."""

    def __missing__(self, cell):
        currency, dimension, _key, _month = cell
        figures = Figures(currency, available_nights=None if dimension in (BY_SOURCE, BY_REFERRAL) else 0)
        self[cell] = figures
        return figures

    def each(self, currency, source, property_id, month, referral=""):
        """The cells a fact about one booking in one month counts in (six, eight with a referral)."""
        for dimension, key in ((ALL, ""), (BY_SOURCE, source), (BY_PROPERTY, property_id), (BY_REFERRAL, referral)):
            if (dimension == BY_SOURCE and source is None) or (dimension == BY_REFERRAL and not referral):
                continue
            yield self[(currency, dimension, key, month)]
            yield self[(currency, dimension, key, None)]


def compute_report(months: list[date], properties: list[Property], bookings: list[dict],
                   blocks: list[tuple]) -> list[CurrencySection]:
    """The figures, per currency, from rows already read (pure: no queries).

    ``bookings``: dicts with property_id, source, status, check_in, check_out, currency,
    subtotal, discounts, fees, quote_nights (and referral, optional). ``blocks``: (property_id, start_date,
    end_date)."""
    if not months:
        return []
    start, end = months[0], add_months(months[-1], 1)
    cells = _Cells()
    booked_dates: dict[int, set[date]] = defaultdict(set)
    currencies = set()

    for row in bookings:
        currency, source, property_id = row["currency"], row["source"], row["property_id"]
        referral = row.get("referral") or ""
        arrival = row["check_in"]
        if start <= arrival < end:
            for cell in cells.each(currency, source, property_id, arrival.replace(day=1), referral):
                if row["status"] == BookingStatus.CANCELLED:
                    cell.cancellations += 1
                else:
                    cell.bookings += 1
            currencies.add(currency)
        if row["status"] not in CONFIRMED_STATUSES:
            continue
        nights = (row["check_out"] - arrival).days
        fees = split_evenly(Decimal(row["fees"]), nights, currency)
        for index, price in enumerate(night_prices(row)):
            night = arrival + timedelta(days=index)
            if not start <= night < end:
                continue
            month = night.replace(day=1)
            booked_dates[property_id].add(night)
            for cell in cells.each(currency, source, property_id, month, referral):
                cell.booked_nights += 1
                cell.room_revenue += price
                cell.revenue += price + fees[index]
            currencies.add(currency)

    blocked: dict[int, set[date]] = defaultdict(set)
    for property_id, block_start, block_end in blocks:
        day = max(block_start, start)
        while day < min(block_end, end):
            blocked[property_id].add(day)
            day += timedelta(days=1)

    reported_properties = []
    for prop in properties:
        has_activity = any(
            (cur, BY_PROPERTY, prop.pk, None) in cells for cur in currencies
        )
        if not (prop.status == Property.Status.ACTIVE or has_activity):
            continue
        reported_properties.append(prop)
        off_market = blocked.get(prop.pk, set()) - booked_dates.get(prop.pk, set())
        currencies.add(prop.currency)
        for month in months:
            days = calendar.monthrange(month.year, month.month)[1]
            month_end = add_months(month, 1)
            available = days - sum(1 for d in off_market if month <= d < month_end)
            for cell in cells.each(prop.currency, None, prop.pk, month):
                cell.available_nights += available

    sections = []
    names = {p.pk: p.name for p in properties}
    for currency in sorted(currencies):
        def row_for(dimension, key, label, currency=currency):
            return Row(str(key), label, cells[(currency, dimension, key, None)],
                       [cells[(currency, dimension, key, m)] for m in months])

        source_keys = [s for s in SOURCE_ORDER if (currency, BY_SOURCE, s, None) in cells]
        source_keys += sorted({k[2] for k in cells if k[0] == currency and k[1] == BY_SOURCE} - set(source_keys))
        property_ids = [p.pk for p in properties if (currency, BY_PROPERTY, p.pk, None) in cells]
        referral_keys = [r for r in REFERRAL_ORDER if (currency, BY_REFERRAL, r, None) in cells]
        referral_keys += sorted({k[2] for k in cells if k[0] == currency and k[1] == BY_REFERRAL} - set(referral_keys))
        sections.append(CurrencySection(
            currency=currency,
            months=[(m, cells[(currency, ALL, "", m)]) for m in months],
            total=cells[(currency, ALL, "", None)],
            by_source=[row_for(BY_SOURCE, s, SOURCE_LABELS.get(s, s)) for s in source_keys],
            by_property=[row_for(BY_PROPERTY, pk, names[pk]) for pk in property_ids],
            by_referral=[row_for(BY_REFERRAL, r, REFERRAL_LABELS.get(r, r)) for r in referral_keys],
        ))
    return sections


def report_rows(properties: list[Property], filters: ReportFilters) -> tuple[list[dict], list[tuple]]:
    """The period's bookings (only the columns the figures need) and blocks: two queries."""
    ids = [p.pk for p in properties]
    bookings = Booking.objects.filter(
        property_id__in=ids,
        status__in=(*CONFIRMED_STATUSES, BookingStatus.CANCELLED),
        check_in__lt=filters.end,
        check_out__gt=filters.start,
    )
    if filters.source:
        bookings = bookings.filter(source=filters.source)
    rows = list(
        bookings.order_by().values(
            "property_id", "source", "referral", "status", "check_in", "check_out", "currency", "subtotal",
            "discounts", "fees",
            quote_nights=KeyTransform("nights", "quote"),  # just the nights, not the whole snapshot
        )
    )
    blocks = list(
        AvailabilityBlock.objects.filter(property_id__in=ids, start_date__lt=filters.end, end_date__gt=filters.start)
        .order_by()
        .values_list("property_id", "start_date", "end_date")
    )
    return rows, blocks


def user_properties(user) -> list[Property]:
    """Every property the user may report on (one query), for the filter's choices and the figures."""
    return list(managed_properties(user).only("pk", "name", "currency", "status").order_by("name", "pk"))


def build_report(user, params, today: date | None = None) -> tuple[ReportFilters, list[Property], list]:
    properties = user_properties(user)
    filters = parse_filters(params, properties, today or timezone.localdate())
    chosen = [filters.property] if filters.property else properties
    rows, blocks = report_rows(chosen, filters) if chosen else ([], [])
    return filters, properties, compute_report(filters.months, chosen, rows, blocks)


# --- presentation -------------------------------------------------------------------------------------


def _require_permission(request) -> None:
    if not request.user.has_perm(PERMISSION):
        raise PermissionDenied("You may not view reports.")


def _short_money(currency: str):
    def label(value) -> str:
        value = Decimal(str(value))
        if CURRENCY_EXPONENTS.get(currency, 2) == 0 or value == value.to_integral_value():
            return f"{value:,.0f}"
        return f"{value:,.2f}"

    return label


def section_charts(section: CurrencySection) -> dict[str, str]:
    """The three SVG charts of a currency section (the chart module escapes every text it draws)."""
    cur = section.currency
    labels = [m.strftime("%b %y") for m, _f in section.months]
    revenue = charts.column_chart(
        chart_id=f"chart-revenue-{cur}", title=f"Revenue per month ({cur})", labels=labels,
        values=[f.revenue for _m, f in section.months], y_label=f"Revenue, {cur} (excl. taxes)",
        value_label=_short_money(cur),
    )
    occupancy = charts.column_chart(
        chart_id=f"chart-occupancy-{cur}", title=f"Occupancy per month ({cur} properties)", labels=labels,
        values=[f.occupancy or 0 for _m, f in section.months], y_label="Occupancy, %", max_value=100,
        value_label=lambda v: f"{Decimal(str(v)).quantize(Decimal('0.1'))}%".replace(".0%", "%"),
    )
    sources = charts.bar_chart(
        chart_id=f"chart-sources-{cur}", title=f"Bookings by source ({cur})",
        items=[(r.label, r.total.bookings, charts.source_color(r.key)) for r in section.by_source],
        x_label="Bookings (by month of arrival)", value_label=lambda v: f"{int(v):,}", integer=True,
    )
    svgs = {"revenue": revenue, "occupancy": occupancy, "sources": sources}
    return {name: mark_safe(svg) for name, svg in svgs.items()}  # noqa: S308 - charts escapes every text it draws


def reports_view(request):
    _require_permission(request)
    filters, properties, sections = build_report(request.user, request.GET)
    context = {
        **admin.site.each_context(request),
        "title": "Reports",
        "filters": filters,
        "properties": properties,
        "sources": Source.choices,
        "source_colors": charts.SOURCE_COLORS,
        "sections": [{"section": s, "charts": section_charts(s)} for s in sections],
        "months": filters.months,
        "csv_query": request.GET.urlencode(),
    }
    return TemplateResponse(request, "admin/reports.html", context)


CSV_HEADER = [
    "section", "currency", "month", "source", "property", "booked_nights", "available_nights", "occupancy_pct",
    "adr", "revpar", "room_revenue", "revenue", "bookings", "cancellations",
]


def _csv_cell(value) -> str:
    """Neutralise spreadsheet formulas in free text (a property named "=HYPERLINK(...)")."""
    text = "" if value is None else str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def csv_rows(sections: list[CurrencySection]):
    """One row per (currency × month) with ``section=month``, the period as ``section=total``, then per
    source and per property: one row for the period (month empty) and one per month. Money is a plain
    decimal in the row's currency; empty cells mean "not applicable" (no available nights, no nights sold)."""

    def figures(f: Figures) -> list:
        return [
            f.booked_nights, "" if f.available_nights is None else f.available_nights,
            "" if f.occupancy is None else f.occupancy, "" if f.adr is None else f.adr,
            "" if f.revpar is None else f.revpar, round_money(f.room_revenue, f.currency),
            round_money(f.revenue, f.currency), f.bookings, f.cancellations,
        ]

    for s in sections:
        for month, f in s.months:
            yield ["month", s.currency, f"{month:%Y-%m}", "", "", *figures(f)]
        yield ["total", s.currency, "", "", "", *figures(s.total)]
        for dimension, rows in (("source", s.by_source), ("property", s.by_property)):
            for row in rows:
                who = [row.key, ""] if dimension == "source" else ["", _csv_cell(row.label)]
                yield [dimension, s.currency, "", *who, *figures(row.total)]
                for (month, _f), f in zip(s.months, row.months, strict=True):
                    yield [dimension, s.currency, f"{month:%Y-%m}", *who, *figures(f)]


def reports_csv_view(request):
    _require_permission(request)
    filters, _properties, sections = build_report(request.user, request.GET)
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    name = f"stayhold-report-{filters.start:%Y-%m}-to-{filters.last_month:%Y-%m}.csv"
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    writer = csv.writer(response)
    writer.writerow(CSV_HEADER)
    writer.writerows(csv_rows(sections))
    return response
