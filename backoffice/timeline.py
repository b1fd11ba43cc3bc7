"""The multi-property calendar timeline of the back office (``/admin/calendar/``).

Rows are the properties the user manages, columns the days of a window
(60 by default), bars the stays and owner blocks that occupy nights in it, and
small markers the turnover tasks on their due day.

How it stays fast at 50 properties × 60 days with many bookings:

* a constant number of queries (properties, their cities for the filter,
  bookings, blocks, turnover tasks), whatever the number of rows and bars;
* the layout (grid column, span, lane, clipping) is computed by the pure
  functions below — :func:`place`, :func:`assign_lanes`, :func:`build_rows` —
  and each row's bars are rendered to HTML in Python (:func:`render_items`),
  so the template loops over rows only, never over row × day cells (Django
  template nodes cost ~10 µs each; see README "Measured facts");
* the grid lines, weekends and today are one element per *day column*
  spanning all rows, not one per cell.

A bar covers the *nights* ``[check_in, check_out)``: the check-out day is
exclusive, so consecutive stays touch without overlapping, and the turnover
marker of the first stay (due on its check-out day) sits in the first night
column of the next one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from html import escape

from django.core.exceptions import PermissionDenied
from django.db.models import F
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.http import urlencode
from django.utils.safestring import SafeString, mark_safe

from bookings.models import (
    EXPIRING_STATUSES,
    AvailabilityBlock,
    Booking,
    BookingStatus,
    Source,
    TurnoverTask,
    occupying_q,
)
from properties.models import Property

DEFAULT_DAYS = 60
MIN_DAYS, MAX_DAYS = 7, 92
ROWS_PER_PAGE = 100
# Dates outside this range are refused (falls back to the default window): far enough for any
# business use, and ``start + days`` can never overflow ``date.max``.
MIN_YEAR, MAX_YEAR = 2000, 2100
# Grid columns: 1 = the property label, 2 … days + 1 = the days of the window.
FIRST_DAY_COLUMN = 2
# Grid rows: 1 = months, 2 = days, 3 … = one per property.
FIRST_PROPERTY_ROW = 3
# Shortest bar (in nights) that gets a visible label; shorter ones rely on the tooltip.
LABEL_MIN_NIGHTS = 2

KNOWN_SOURCES = frozenset(Source.values)


# --- the window ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Window:
    """Days ``[start, end)`` shown by the timeline."""

    start: date
    days: int = DEFAULT_DAYS

    @property
    def end(self) -> date:
        return self.start + timedelta(days=self.days)

    def dates(self) -> list[date]:
        return [self.start + timedelta(days=i) for i in range(self.days)]


def default_start(today: date) -> date:
    """The first of the current month: month navigation stays aligned on months, and with a
    60-day window today is always visible with at least four weeks ahead of it."""
    return today.replace(day=1)


def parse_start(value: str | None, today: date) -> date:
    """``YYYY-MM-DD`` or ``YYYY-MM`` (→ the first of that month); anything else → the default."""
    if value:
        value = value.strip()
        try:
            parsed = date.fromisoformat(value if len(value) != 7 else f"{value}-01")
        except ValueError:
            parsed = None
        if parsed is not None and MIN_YEAR <= parsed.year <= MAX_YEAR:
            return parsed
    return default_start(today)


def parse_days(value: str | None) -> int:
    try:
        days = int(value)
    except (TypeError, ValueError):
        return DEFAULT_DAYS
    return days if MIN_DAYS <= days <= MAX_DAYS else DEFAULT_DAYS


def parse_page(value: str | None) -> int:
    try:
        page = int(value)
    except (TypeError, ValueError):
        return 1
    return page if 1 <= page <= 10_000 else 1


def clean_text(value: str | None, limit: int = 100) -> str:
    """A filter string without control characters (PostgreSQL refuses NUL bytes: a 500 otherwise)."""
    return "".join(ch for ch in (value or "")[:limit] if ch.isprintable()).strip()


def add_months(day: date, months: int) -> date:
    """The first of the month ``months`` after ``day``'s month."""
    index = day.year * 12 + day.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


# --- layout (pure) ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Placement:
    column: int  # grid column of the first visible night
    span: int  # visible nights
    clipped_start: bool  # the item starts before the window
    clipped_end: bool  # the item ends after the window


def place(start: date, end: date, window: Window) -> Placement | None:
    """Where the nights ``[start, end)`` fall in the window's grid, or None when none is visible."""
    first = max(start, window.start)
    last = min(end, window.end)  # exclusive
    if last <= first:
        return None
    return Placement(
        column=FIRST_DAY_COLUMN + (first - window.start).days,
        span=(last - first).days,
        clipped_start=start < window.start,
        clipped_end=end > window.end,
    )


@dataclass
class Bar:
    """A stay or an owner block, placed on the grid."""

    kind: str  # "booking" | "block"
    placement: Placement
    label: str
    title: str
    url: str
    css: str
    lane: int = 0

    @property
    def column(self) -> int:
        return self.placement.column

    @property
    def span(self) -> int:
        return self.placement.span


@dataclass(frozen=True)
class Marker:
    """A turnover task on its due day."""

    column: int
    done: bool
    overdue: bool
    title: str
    url: str


@dataclass
class Row:
    property_id: int
    name: str
    city: str
    url: str
    grid_row: int
    bars: list[Bar] = field(default_factory=list)
    markers: list[Marker] = field(default_factory=list)
    lanes: int = 1
    html: SafeString = SafeString("")


def assign_lanes(bars: list[Bar]) -> int:
    """Give overlapping bars of one row different lanes (greedy interval partitioning, in start order).

    Bookings never overlap (the exclusion constraint), but a block may overlap a channel import;
    both must stay visible and clickable. Returns the number of lanes used (at least 1)."""
    lane_ends: list[int] = []  # per lane, the first free grid column
    for bar in sorted(bars, key=lambda b: (b.column, -b.span)):
        for lane, free_from in enumerate(lane_ends):
            if bar.column >= free_from:
                bar.lane = lane
                lane_ends[lane] = bar.column + bar.span
                break
        else:
            bar.lane = len(lane_ends)
            lane_ends.append(bar.column + bar.span)
    return max(1, len(lane_ends))


# English labels as constants: ``calendar.month_abbr`` calls strftime on every access (~13 µs each).
MONTH_NAMES = ("", "January", "February", "March", "April", "May", "June", "July", "August", "September",
               "October", "November", "December")
MONTH_ABBR = tuple(name[:3] for name in MONTH_NAMES)
WEEKDAY_ABBR = ("Mo", "Tu", "We", "Th", "Fr", "Sa", "Su")


def _short(day: date) -> str:
    return f"{day.day} {MONTH_ABBR[day.month]} {day.year}"


def _nights(start: date, end: date) -> str:
    n = (end - start).days
    return f"{n} night{'s' if n != 1 else ''}"


def booking_bar(booking, placement: Placement, url: str) -> Bar:
    guest = booking.guest_name or ""
    source = booking.source if booking.source in KNOWN_SOURCES else "other"
    css = ["bar", "bar-booking", f"src-{source}", f"st-{booking.status}"]
    if booking.status in EXPIRING_STATUSES:
        css.append("bar-hold")
    overbooked = booking.overbooking_lane > 0
    if overbooked:
        css.append("bar-overbooked")
    if placement.clipped_start:
        css.append("clip-start")
    if placement.clipped_end:
        css.append("clip-end")
    source_label = Source(booking.source).label if booking.source in KNOWN_SOURCES else booking.source
    title = (f"{booking.reference} · {guest or 'no guest'} · {_short(booking.check_in)} → "
             f"{_short(booking.check_out)} ({_nights(booking.check_in, booking.check_out)}) · "
             f"{BookingStatus(booking.status).label} · {source_label}" + (" · OVERBOOKED" if overbooked else ""))
    label = (guest or booking.reference) if placement.span >= LABEL_MIN_NIGHTS else ""
    return Bar("booking", placement, label, title, url, " ".join(css))


def block_bar(block, placement: Placement, url: str) -> Bar:
    css = ["bar", "bar-block", f"block-{block.reason}"]
    if placement.clipped_start:
        css.append("clip-start")
    if placement.clipped_end:
        css.append("clip-end")
    reason = AvailabilityBlock.Reason(block.reason).label if block.reason in AvailabilityBlock.Reason.values \
        else block.reason
    platform = getattr(block, "platform", None)
    if platform:  # a channel block: the platform's "not available" (tentative ones dashed)
        reason = f"{Source(platform).label if platform in Source.values else platform}: not available"
        css.append(f"src-{platform if platform in Source.values else 'other'}")
        if getattr(block, "tentative", False):
            css.append("block-tentative")
            reason += " (tentative)"
    title = f"{reason} · {_short(block.start_date)} → {_short(block.end_date)}"
    if block.note:
        title += f" · {block.note}"
    label = reason if placement.span >= LABEL_MIN_NIGHTS else ""
    return Bar("block", placement, label, title, url, " ".join(css))


def task_marker(task, window: Window, today: date, url: str) -> Marker | None:
    if not window.start <= task.due_date < window.end:
        return None
    done = task.status == TurnoverTask.Status.DONE
    assignee = task.assignee_name or task.assignee_email
    who = f" · {assignee}" if assignee else ""
    ref = f" · after {task.booking_reference}" if task.booking_reference else ""
    title = f"Turnover {_short(task.due_date)} · {'done' if done else 'open'}{who}{ref}"
    return Marker(column=FIRST_DAY_COLUMN + (task.due_date - window.start).days, done=done,
                  overdue=not done and task.due_date < today, title=title, url=url)


def build_rows(properties, bookings, blocks, tasks, window: Window, today: date, urls: UrlMakers) -> list[Row]:
    """The timeline rows of ``properties`` (in their order) from already-loaded rows. Pure: no queries
    at all: rows are plain records (``timeline_rows`` reads them as named tuples) with the attributes
    read below (``booking.guest_name``, ``task.assignee_name`` / ``assignee_email`` / ``booking_reference``)."""
    rows = {}
    for index, prop in enumerate(properties):
        rows[prop.pk] = Row(property_id=prop.pk, name=prop.name, city=prop.city, url=urls.property(prop.pk),
                            grid_row=FIRST_PROPERTY_ROW + index)
    for booking in bookings:
        row = rows.get(booking.property_id)
        placement = place(booking.check_in, booking.check_out, window)
        if row is not None and placement is not None:
            row.bars.append(booking_bar(booking, placement, urls.booking(booking.pk)))
    for block in blocks:
        row = rows.get(block.property_id)
        placement = place(block.start_date, block.end_date, window)
        if row is not None and placement is not None:
            row.bars.append(block_bar(block, placement, urls.block(block.pk)))
    for task in tasks:
        row = rows.get(task.property_id)
        marker = task_marker(task, window, today, urls.task(task.pk)) if row is not None else None
        if marker is not None:
            row.markers.append(marker)
    for row in rows.values():
        row.lanes = assign_lanes(row.bars)
        row.bars.sort(key=lambda b: (b.lane, b.column))
        row.markers.sort(key=lambda m: m.column)
    return list(rows.values())


# --- rendering (Python, not template nodes) ---------------------------------------------------------


def render_items(row: Row) -> SafeString:
    """The bars and markers of one row as HTML (grid items of the timeline).

    Plain f-strings with ``html.escape`` on every text and URL (numbers need none): ``format_html``
    costs ~40 µs per bar here, which at 500 bars was the largest item of the page."""
    r = row.grid_row
    parts = [
        f'<a class="{escape(b.css)}" href="{escape(b.url)}" title="{escape(b.title)}" '
        f'style="grid-area:{r}/{b.column}/span 1/span {b.span};--lane:{b.lane}">{escape(b.label)}</a>'
        for b in row.bars
    ]
    for m in row.markers:
        css = "task-done" if m.done else "task-overdue" if m.overdue else "task-open"
        parts.append(f'<a class="task {css}" href="{escape(m.url)}" title="{escape(m.title)}" '
                     f'style="grid-area:{r}/{m.column}">{"✓" if m.done else "•"}</a>')
    return mark_safe("".join(parts))  # noqa: S308 — every interpolated text is escaped above


@dataclass(frozen=True)
class DayColumn:
    day: date
    column: int
    css: str
    label: str  # day number
    weekday: str  # one-letter weekday


@dataclass(frozen=True)
class MonthSpan:
    label: str
    column: int
    span: int


def day_columns(window: Window, today: date) -> list[DayColumn]:
    cols = []
    for i, day in enumerate(window.dates()):
        css = ["day"]
        if day.weekday() >= 5:
            css.append("weekend")
        if day == today:
            css.append("today")
        if day.day == 1:
            css.append("month-start")
        cols.append(DayColumn(day, FIRST_DAY_COLUMN + i, " ".join(css), str(day.day),
                              WEEKDAY_ABBR[day.weekday()]))
    return cols


def month_spans(window: Window) -> list[MonthSpan]:
    spans: list[MonthSpan] = []
    for i, day in enumerate(window.dates()):
        if i == 0 or day.day == 1:
            spans.append(MonthSpan(f"{MONTH_NAMES[day.month]} {day.year}", FIRST_DAY_COLUMN + i, 0))
        last = spans[-1]
        spans[-1] = MonthSpan(last.label, last.column, last.span + 1)
    return spans


# --- reads -----------------------------------------------------------------------------------------


class UrlMakers:
    """Admin change URLs by primary key, reversed once per page instead of once per bar
    (``reverse`` costs ~20 µs; a busy timeline has hundreds of links)."""

    SENTINEL = 987654321

    def __init__(self):
        self.booking = self._maker("admin:bookings_booking_change")
        self.block = self._maker("admin:bookings_availabilityblock_change")
        self.task = self._maker("admin:bookings_turnovertask_change")
        self.property = self._maker("admin:properties_property_change")

    @classmethod
    def _maker(cls, viewname):
        prefix, suffix = reverse(viewname, args=[cls.SENTINEL]).split(str(cls.SENTINEL))
        return lambda pk: f"{prefix}{pk}{suffix}"


def scoped_properties(user, *, city: str = "", search: str = ""):
    qs = Property.objects.managed_by(user)
    if city:
        qs = qs.filter(city=city)
    if search:
        qs = qs.filter(name__icontains=search)
    return qs.order_by("name", "pk")


@dataclass
class Timeline:
    window: Window
    today: date
    rows: list[Row]
    has_next_page: bool


def timeline_rows(user, start: date, days: int = DEFAULT_DAYS, *, city: str = "", search: str = "", page: int = 1,
                  today: date | None = None, now=None) -> Timeline:
    """The rows of the timeline for ``user``: 4 queries, whatever the number of properties and bars.

    Bookings shown are those occupying their nights at ``now`` (held, reserved, confirmed,
    checked in or out; an expired hold is not, even before the expiry job marks it)."""
    now = now or timezone.now()
    today = today or timezone.localdate(now)
    window = Window(start, days)
    offset = (page - 1) * ROWS_PER_PAGE
    properties = list(scoped_properties(user, city=city, search=search)
                      .only("pk", "name", "city")[offset:offset + ROWS_PER_PAGE + 1])
    has_next = len(properties) > ROWS_PER_PAGE
    properties = properties[:ROWS_PER_PAGE]
    ids = [p.pk for p in properties]
    bookings = blocks = tasks = []
    if ids:
        bookings = (Booking.objects.filter(occupying_q(now), property_id__in=ids)
                    .overlapping(window.start, window.end)
                    .annotate(guest_name=F("guest__name"))
                    .order_by()
                    .values_list("pk", "reference", "property_id", "check_in", "check_out", "status", "source",
                                 "guest_name", "overbooking_lane", named=True))
        blocks = (AvailabilityBlock.objects.filter(property_id__in=ids, start_date__lt=window.end,
                                                   end_date__gt=window.start)
                  .annotate(platform=F("connection__platform"))
                  .order_by().values_list("pk", "property_id", "start_date", "end_date", "reason", "note", "platform",
                                          "tentative", named=True))
        tasks = (TurnoverTask.objects.filter(property_id__in=ids, due_date__gte=window.start,
                                             due_date__lt=window.end)
                 .annotate(assignee_name=F("assignee__full_name"), assignee_email=F("assignee__email"),
                           booking_reference=F("booking__reference"))
                 .order_by()
                 .values_list("pk", "property_id", "due_date", "status", "assignee_name", "assignee_email",
                              "booking_reference", named=True))
    rows = build_rows(properties, bookings, blocks, tasks, window, today, UrlMakers())
    for row in rows:
        row.html = render_items(row)
    return Timeline(window=window, today=today, rows=rows, has_next_page=has_next)


# --- the view --------------------------------------------------------------------------------------


LEGEND_SOURCES = [(value, label) for value, label in Source.choices]


def calendar_view(request):
    """The calendar page. Any back-office user who may view bookings (owners, staff); scoped rows."""
    user = request.user
    if not user.has_perm("bookings.view_booking"):
        raise PermissionDenied
    from django.contrib import admin

    today = timezone.localdate()
    start = parse_start(request.GET.get("start"), today)
    days = parse_days(request.GET.get("days"))
    page = parse_page(request.GET.get("page"))
    city = clean_text(request.GET.get("city"))
    search = clean_text(request.GET.get("q"))
    timeline = timeline_rows(user, start, days, city=city, search=search, page=page, today=today)
    cities = list(Property.objects.managed_by(user).order_by("city").values_list("city", flat=True).distinct())

    def link(**changes):
        params = {"start": start.isoformat(), "days": days if days != DEFAULT_DAYS else None, "city": city,
                  "q": search, "page": None}
        params.update(changes)
        return "?" + urlencode({k: v for k, v in params.items() if v})

    window = timeline.window
    context = {
        **admin.site.each_context(request),
        "title": "Calendar",
        "timeline": timeline,
        "window": window,
        "last_day": window.end - timedelta(days=1),
        "day_columns": day_columns(window, today),
        "month_spans": month_spans(window),
        "grid_columns": window.days,
        "grid_rows": len(timeline.rows),
        "legend_sources": LEGEND_SOURCES,
        "cities": [c for c in cities if c],
        "city": city,
        "search": search,
        "days": days,
        "start": start,
        "page": page,
        "prev_url": link(start=add_months(start, -1 if start.day == 1 else 0).isoformat()),
        "next_url": link(start=add_months(start, 1).isoformat()),
        "today_url": link(start=None),
        "prev_page_url": link(page=page - 1) if page > 1 else "",
        "next_page_url": link(page=page + 1) if timeline.has_next_page else "",
    }
    return TemplateResponse(request, "admin/calendar.html", context)
