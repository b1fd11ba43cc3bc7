"""Read a platform's iCal export into a :class:`Snapshot`: what the feed says is occupied, event by event.

Parsing is lenient where real feeds are sloppy and strict where guessing could
invent or lose a booking. ``parse_feed`` never touches the database; the
reconciler (``channels.reconcile``) turns a snapshot into bookings, channel
blocks and conflicts.

Tolerated (each has a test in ``tests/channels/test_parse.py``):

* CRLF or bare LF line endings, folded lines, parameters on ``PRODID`` (Airbnb's
  ``PRODID;X-RICAL-TZSOURCE=TZINFO:…``), escaped commas/semicolons/newlines.
* Folded lines are joined on the bytes, before decoding (a fold may split a
  multi-byte UTF-8 character). Spaces and tabs around property values are dropped.
* Bytes that are not UTF-8: decoded as cp1252 (then latin-1, which never fails),
  with a warning. A UTF-8 byte-order mark is dropped. (A charset declared in the
  HTTP ``Content-Type`` has been honoured before: ``channels.fetch.as_utf8``.)
* ``VALUE=DATE`` dates (DTEND exclusive, as RFC 5545 says) or date-times: a
  date-time with a TZID or in UTC is converted to the **property's time zone**
  and its date is taken; a floating date-time (or one with a TZID nobody knows,
  warned) is read as local time already.
* No DTEND: ``DURATION`` when present, else one night. An event whose end is
  not after its start (a two-hour appointment in a Google calendar, a broken
  export) is skipped with a warning.
* ``STATUS:CANCELLED`` → kind ``"cancelled"`` (whatever the summary says).
* **Recurring events** (``RRULE``/``RDATE``) are expanded, not ignored: no
  booking platform exports recurring stays, so they come from hand-kept calendars
  ("every Sunday: owner's cleaning day"). Each occurrence whose first night lies
  from 60 days before today to ``RECURRENCE_HORIZON_DAYS`` after today (at most
  ``MAX_OCCURRENCES`` per event) becomes a **block**, never a reservation — a
  rule cannot sell a stay, and a block is harmless if wrong (the owner sees it
  and fixes the source calendar). ``EXDATE`` is honoured; an overriding instance
  (``RECURRENCE-ID``) replaces its occurrence. Occurrence UIDs are
  ``<UID>#<first night>``.
* **Duplicate UIDs** (the same event exported twice, an update appended): the
  copy with the highest ``SEQUENCE``, then the latest ``DTSTAMP``, then the last
  in the file wins, with a warning. One event per UID in the snapshot.
* An event without a UID gets a stable one derived from its dates and summary
  (warned), so the same event keeps the same key from fetch to fetch.
* A body that is empty or is not a VCALENDAR (an HTML login page, a JSON error)
  → :class:`FeedError` ``"not_ical"``; a VCALENDAR that cannot be parsed →
  ``"broken_ical"``. An empty VCALENDAR is a valid, empty snapshot.

Classification (``kind``), per platform, from the real exports:

* **Airbnb** (``-//Airbnb Inc//Hosting Calendar…``): ``SUMMARY:Reserved`` with a
  DESCRIPTION holding ``Reservation URL: https://www.airbnb.com/hosting/reservations/details/HM…``
  and ``Phone Number (Last 4 Digits): …`` → reservation (Airbnb gives no name);
  the older ``Name (HM5Q2K8ZTR)`` summary (a confirmation code) → reservation with that name;
  ``Airbnb (Not available)`` / ``Not available`` → block. Anything else without a
  reservation URL → block: Airbnb exports only reservations and unavailability,
  and a block cannot become a phantom booking.
* **Vrbo / FeWo-direkt / Abritel** (one platform here, ``fewo_direkt``):
  ``Reserved - Name`` / ``Réservée - Name`` / ``Reserviert - Name`` (or without a
  name) → reservation with that guest name; ``Blocked`` / ``Indisponible`` /
  ``Nicht verfügbar`` → block; tentative (``Tentative…``, ``Provisoire…``,
  ``Vorläufig…`` or ``STATUS:TENTATIVE``) → block with ``tentative=True``.
* **Booking.com** (``-//admin.booking.com//EN``): ``CLOSED - Not available`` →
  block (Booking.com often exports every stay like this: it cannot be told
  apart, so it blocks without becoming a booking); ``CLOSED - Name`` →
  reservation with that name; a bare ``CLOSED`` → block.
* **Expedia, Google Vacation Rentals, other** (and anything the rules above do
  not recognise): tentative → tentative block; ``TRANSP:TRANSPARENT`` or a
  summary starting with Blocked / Not available / Unavailable / Closed /
  Indisponible / Nicht verfügbar / Busy … → block; ``<word> - Name`` where the
  word is Reserved/Réservée/Reserviert/Booked → reservation with the name;
  anything else → reservation without a name. (A transparent event is "free" in
  calendar terms; we still block it rather than ignore it: over-blocking is
  visible and harmless, a missed stay is a double booking.)

Tentative and ``STATUS:TENTATIVE`` apply to every platform. The raw summary and
description are kept on every event for the owner to see.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import icalendar
from dateutil import rrule as dateutil_rrule
from django.utils import timezone

RESERVATION = "reservation"
BLOCK = "block"
CANCELLED = "cancelled"

RECURRENCE_HORIZON_DAYS = 730
RECURRENCE_LOOKBACK_DAYS = 60
MAX_OCCURRENCES = 1000


@dataclass(frozen=True)
class FeedEvent:
    uid: str
    start: date  # first night
    end: date  # check-out day (exclusive)
    kind: str  # "reservation" | "block" | "cancelled"
    tentative: bool
    summary: str  # raw
    description: str  # raw
    guest_name: str = ""  # when the platform tells it (Vrbo "Reserved - Name", Booking.com "CLOSED - Name")


@dataclass
class Snapshot:
    events: list[FeedEvent]  # one per UID
    window_start: date | None
    window_end: date | None
    warnings: list[str] = field(default_factory=list)

    def of_kind(self, kind: str) -> list[FeedEvent]:
        return [e for e in self.events if e.kind == kind]


class FeedError(Exception):
    """A feed that cannot be read at all (the run is an error; nothing changes)."""

    def __init__(self, code: str, message: str):
        self.code, self.message = code, message
        super().__init__(f"{code}: {message}")


# --- classification ---------------------------------------------------------------------------

_TENTATIVE = re.compile(r"^\s*(tentative|provisoire|provisional|vorläufig|vorlaeufig|pending)\b", re.I)
_BLOCK_WORDS = re.compile(
    r"^\s*(airbnb \(not available\)|blocked|not available|unavailable|closed|indisponible|nicht verfügbar|"
    r"nicht verfuegbar|blockiert|geblockt|gesperrt|belegt|no disponible|non disponibile|busy|owner block)",
    re.I,
)
_RESERVED_NAMED = re.compile(
    r"^\s*(?:reserved|réservée?|reservee?|reserviert|reservado|reservada|prenotato|booked)\s*(?:[-–—:]\s*(?P<name>.*?))?\s*$",
    re.I,
)
_CLOSED_NAMED = re.compile(r"^\s*closed\s*(?:[-–—:]\s*(?P<name>.*?))?\s*$", re.I)
_AIRBNB_OLD_STYLE = re.compile(r"^\s*(?P<name>.+?)\s*\((?P<code>HM[A-Z0-9]+)\)\s*$")
_AIRBNB_RESERVATION_URL = re.compile(r"airbnb\.[a-z.]+/hosting/reservations/details/", re.I)


@dataclass(frozen=True)
class _Class:
    kind: str
    tentative: bool = False
    guest_name: str = ""


def _generic(summary: str, transparent: bool) -> _Class:
    if transparent or _BLOCK_WORDS.match(summary):
        return _Class(BLOCK)
    m = _RESERVED_NAMED.match(summary)
    return _Class(RESERVATION, guest_name=(m.group("name") or "") if m else "")


def classify(platform: str, *, summary: str, description: str, status: str = "", transparent: bool = False
             ) -> _Class:
    """The kind of one event for ``platform`` (see the module docstring for the rules and why)."""
    status = status.strip().upper()
    if status == "CANCELLED":
        return _Class(CANCELLED)
    if status == "TENTATIVE" or _TENTATIVE.match(summary):
        return _Class(BLOCK, tentative=True)

    if platform == "airbnb":
        if _BLOCK_WORDS.match(summary):
            return _Class(BLOCK)
        if summary.strip().lower() == "reserved" or _AIRBNB_RESERVATION_URL.search(description):
            return _Class(RESERVATION)
        old = _AIRBNB_OLD_STYLE.match(summary)
        if old:
            return _Class(RESERVATION, guest_name=old.group("name"))
        return _Class(BLOCK)

    if platform == "booking_com":
        m = _CLOSED_NAMED.match(summary)
        if m:
            name = (m.group("name") or "").strip()
            if not name or _BLOCK_WORDS.match(name):
                return _Class(BLOCK)
            return _Class(RESERVATION, guest_name=name)
        return _generic(summary, transparent)

    if platform == "fewo_direkt":
        m = _RESERVED_NAMED.match(summary)
        if m:
            return _Class(RESERVATION, guest_name=m.group("name") or "")
        return _generic(summary, transparent)

    return _generic(summary, transparent)


# --- decoding and dates -----------------------------------------------------------------------


_FOLD = re.compile(rb"\r?\n[ \t]")


def unfold(data: bytes) -> bytes:
    """Join folded lines on the bytes, before any decoding: a fold may split a multi-byte UTF-8 character
    (RFC 5545 folds at 75 octets, and some exporters count octets without looking at characters)."""
    return _FOLD.sub(b"", data)


def _decode(data: bytes, warnings: list[str]) -> str:
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    data = unfold(data)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    try:
        text = data.decode("cp1252")
        warnings.append("The feed is not UTF-8; it was read as Windows-1252.")
    except UnicodeDecodeError:
        text = data.decode("latin-1")
        warnings.append("The feed is not UTF-8; it was read as Latin-1.")
    return text


_CONTENT_LINE = re.compile(r'^(?P<head>(?:[^:"\r\n]|"[^"\r\n]*")*):(?P<value>[^\r\n]*)(?=\r?\n|\Z)', re.M)


def _strip_values(text: str) -> str:
    """Spaces and tabs around every property value (and before the colon) dropped: ``DTSTART;VALUE=DATE: 20300705``,
    ``SUMMARY:Reserved - Name`` and a tab. The text is unfolded already; a colon inside a quoted parameter is not the
    separator."""
    return _CONTENT_LINE.sub(lambda m: m["head"].rstrip(_BLANKS) + ":" + m["value"].strip(_BLANKS), text)


_BLANKS = " \t"


def _local_date(value, tz: ZoneInfo) -> date:
    """A DTSTART/DTEND value as a date in the property's time zone."""
    if isinstance(value, datetime):
        if value.tzinfo is None:  # floating (or an unknown TZID): already local time
            return value.date()
        return value.astimezone(tz).date()
    return value


def _dt(component, name: str):
    prop = component.get(name)
    if prop is None:
        return None
    try:
        value = prop.dt
    except (AttributeError, ValueError, icalendar.error.BrokenCalendarProperty):
        return False  # present but unreadable
    return value if isinstance(value, date | timedelta) else False


def _text(component, name: str) -> str:
    value = component.get(name)
    if value is None:
        return ""
    if isinstance(value, list):
        value = value[0]
    return str(value)


def _int(component, name: str) -> int:
    try:
        return int(component.get(name) or 0)
    except (TypeError, ValueError):
        return 0


def _dtstamp(component) -> datetime:
    value = _dt(component, "dtstamp") or _dt(component, "last-modified")
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=ZoneInfo("UTC"))
    return datetime.min.replace(tzinfo=ZoneInfo("UTC"))


def _unknown_tzid(component, name: str) -> bool:
    prop = component.get(name)
    value = _dt(component, name)
    params = getattr(prop, "params", {}) or {}
    return isinstance(value, datetime) and value.tzinfo is None and "TZID" in params


# --- parsing ----------------------------------------------------------------------------------


@dataclass
class _Candidate:
    event: FeedEvent
    sequence: int
    stamp: datetime
    position: int


def parse_feed(data: bytes, *, platform: str, tz: str, at: datetime | None = None) -> Snapshot:
    """Parse an iCal export of ``platform`` for a property in time zone ``tz``.

    ``at`` (default now) only anchors the expansion window of recurring events.
    Raises :class:`FeedError` when the body is not a readable VCALENDAR."""
    warnings: list[str] = []
    text = _decode(data or b"", warnings)
    if not text.strip():
        raise FeedError("not_ical", "The feed is empty (no VCALENDAR).")
    if not text.lstrip().upper().startswith("BEGIN:VCALENDAR"):
        raise FeedError("not_ical", f"The feed is not an iCal calendar (it starts with {text.strip()[:40]!r}).")
    text = _strip_values(text)
    try:
        calendar = icalendar.Calendar.from_ical(text)
    except (ValueError, IndexError, KeyError) as exc:
        raise FeedError("broken_ical", f"The calendar could not be read: {exc}") from exc
    zone = ZoneInfo(tz)
    today = timezone.localtime(at or timezone.now(), zone).date()

    components = list(calendar.walk("VEVENT"))
    overridden: dict[str, set[date]] = {}
    for comp in components:
        rid = _dt(comp, "recurrence-id")
        if rid:
            overridden.setdefault(_text(comp, "uid"), set()).add(_local_date(rid, zone))

    candidates: dict[str, _Candidate] = {}
    duplicates: set[str] = set()
    for position, comp in enumerate(components):
        for event in _events_of(comp, platform, zone, today, overridden, warnings):
            cand = _Candidate(event, _int(comp, "sequence"), _dtstamp(comp), position)
            previous = candidates.get(event.uid)
            if previous is not None:
                duplicates.add(event.uid)
                if (cand.sequence, cand.stamp, cand.position) < (previous.sequence, previous.stamp, previous.position):
                    continue
            candidates[event.uid] = cand
    for uid in sorted(duplicates):
        warnings.append(f"UID {uid} appears more than once; the latest version (SEQUENCE, DTSTAMP) was used.")

    events = sorted((c.event for c in candidates.values()), key=lambda e: (e.start, e.end, e.uid))
    window_start = min((e.start for e in events), default=None)
    window_end = max((e.end for e in events), default=None)
    return Snapshot(events=events, window_start=window_start, window_end=window_end, warnings=warnings)


def _events_of(comp, platform, zone, today, overridden, warnings) -> list[FeedEvent]:
    """The FeedEvents of one VEVENT: none (skipped, warned), one, or its occurrences when it recurs."""
    summary = _text(comp, "summary")
    description = _text(comp, "description")
    uid = _text(comp, "uid").strip()
    label = uid or summary or "an event"
    start_value = _dt(comp, "dtstart")
    if not start_value or isinstance(start_value, timedelta):
        warnings.append(f"Skipped {label}: no readable DTSTART.")
        return []
    end_value, duration = _dt(comp, "dtend"), _dt(comp, "duration")
    if end_value is False or duration is False:
        warnings.append(f"Skipped {label}: unreadable DTEND or DURATION.")
        return []
    for name in ("dtstart", "dtend"):
        if _unknown_tzid(comp, name):
            warnings.append(f"{label}: unknown TZID on {name.upper()}; read as the property's local time.")
    if end_value is None and isinstance(duration, timedelta):
        end_value = start_value + duration
    start = _local_date(start_value, zone)
    end = _local_date(end_value, zone) if end_value is not None else start + timedelta(days=1)
    if end <= start:
        warnings.append(f"Skipped {label}: it ends ({end}) on or before its start ({start}).")
        return []
    if not uid:
        uid = "nouid-" + hashlib.sha256(f"{start}|{end}|{summary}".encode()).hexdigest()[:24]
        warnings.append(f"An event without a UID ({summary!r} {start}–{end}) was given the key {uid}.")

    transparent = _text(comp, "transp").strip().upper() == "TRANSPARENT"
    cls = classify(platform, summary=summary, description=description, status=_text(comp, "status"),
                   transparent=transparent)

    if comp.get("recurrence-id") is not None:  # an overriding instance of a recurring event: a block too
        occ_uid = f"{uid}#{start.isoformat()}"
        kind = CANCELLED if cls.kind == CANCELLED else BLOCK
        return [FeedEvent(occ_uid, start, end, kind, cls.tentative, summary, description)]
    if comp.get("rrule") is None and comp.get("rdate") is None:
        return [FeedEvent(uid, start, end, cls.kind, cls.tentative, summary, description, cls.guest_name)]

    if cls.kind == CANCELLED:
        return []
    occurrences = _occurrences(comp, start_value, end_value, zone, today, overridden.get(uid, set()), warnings,
                               label)
    return [FeedEvent(f"{uid}#{s.isoformat()}", s, e, BLOCK, cls.tentative, summary, description)
            for s, e in occurrences]


def _as_datetime(value) -> datetime:
    return value if isinstance(value, datetime) else datetime(value.year, value.month, value.day)


def _listed(comp, name: str) -> list:
    values = comp.get(name)
    if values is None:
        return []
    return values if isinstance(values, list) else [values]


def _occurrences(comp, start_value, end_value, zone, today, overridden, warnings, label) -> list[tuple[date, date]]:
    """Expand a recurring event within [today - lookback, today + horizon] (see the module docstring)."""
    first = _as_datetime(start_value)
    length = (_as_datetime(end_value) - first) if end_value is not None else timedelta(days=1)

    def aligned(dt: datetime) -> datetime:  # rdate/exdate in the same awareness as DTSTART
        if first.tzinfo is not None and dt.tzinfo is None:
            return dt.replace(tzinfo=first.tzinfo)
        if first.tzinfo is None and dt.tzinfo is not None:
            return dt.replace(tzinfo=None)
        return dt

    rules = dateutil_rrule.rruleset()
    try:
        for rule in _listed(comp, "rrule"):
            rules.rrule(dateutil_rrule.rrulestr(rule.to_ical().decode(), dtstart=first))
        rules.rdate(first)
        for name, add in (("rdate", rules.rdate), ("exdate", rules.exdate)):
            for entry in _listed(comp, name):
                for item in entry.dts:
                    add(aligned(_as_datetime(item.dt)))
    except (ValueError, TypeError, AttributeError) as exc:
        warnings.append(f"Skipped {label}: its recurrence rule could not be read ({exc}).")
        return []
    low = datetime.combine(today - timedelta(days=RECURRENCE_LOOKBACK_DAYS), datetime.min.time())
    high = datetime.combine(today + timedelta(days=RECURRENCE_HORIZON_DAYS), datetime.min.time())
    if first.tzinfo is not None:
        low, high = low.replace(tzinfo=zone), high.replace(tzinfo=zone)
    out: list[tuple[date, date]] = []
    for occurrence in rules.xafter(low, count=MAX_OCCURRENCES + 1, inc=True):
        if occurrence > high:
            break
        if len(out) == MAX_OCCURRENCES:
            warnings.append(f"{label}: more than {MAX_OCCURRENCES} occurrences; the rest were ignored.")
            break
        s, e = _local_date(occurrence, zone), _local_date(occurrence + length, zone)
        if s not in overridden and e > s:
            out.append((s, e))
    return out
