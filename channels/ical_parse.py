"""Read a platform's iCal export into a :class:`Snapshot`: what the feed says is occupied, event by event.

Parsing is lenient where real feeds are sloppy and strict where guessing could
invent or lose a booking. ``parse_feed`` never touches the database; the
reconciler (``channels.reconcile``) turns a snapshot into bookings, channel
blocks and conflicts.

Tolerated (each has a test in ``tests/channels/test_parse.py``, ``test_feed_rules.py`` or
``test_real_feed_parsing.py``):

* CRLF or bare LF line endings, folded lines, parameters on ``PRODID`` (Airbnb's
  ``PRODID;X-RICAL-TZSOURCE=TZINFO:…``), escaped commas/semicolons/newlines.
* Folded lines are joined on the bytes, before decoding (a fold may split a
  multi-byte UTF-8 character). Spaces and tabs around property values are dropped.
* Bytes that are not UTF-8: decoded as cp1252 (then latin-1, which never fails),
  with a warning. A UTF-8 byte-order mark is dropped. (A charset declared in the
  HTTP ``Content-Type`` has been honoured before: ``channels.fetch.as_utf8``.)
* **Which nights an event holds** — the reading that never leaves a sold night
  open (``_nights``; an extra night held is visible and harmless, a missed one is
  a double booking):

  - ``VALUE=DATE`` dates are taken as written (DTEND exclusive, as RFC 5545
    says), whatever zone the calendar or the property is in: a date has no zone
    (``X-WR-TIMEZONE`` changes nothing).
  - A date-time with a TZID or in UTC is converted to the **property's time
    zone**; a floating one (or one with a TZID nobody knows, warned) is local
    time already. The first night is the local date of the start. The check-out
    day is the local date of the end, or the **next day when the end falls after
    noon** local time: stays end in the morning, and an afternoon or evening end
    — typically a midnight written in another zone's clock (a PMS exporting
    all-day stays as ``T000000Z`` for a property in Los Angeles) — still holds
    that night. A timed event within one local day (a two-hour appointment in a
    Google calendar) holds that day's night.
  - No DTEND: ``DURATION`` when present, else one night.
  - An end that is not after the start (``DTEND`` equal to ``DTSTART``, or
    before it — a broken export, swapped dates) is never skipped: it holds every
    night from the earlier of the two dates through the later one (a zero-length
    event: its one night), with a warning on the snapshot.
* ``STATUS:CANCELLED`` → kind ``"cancelled"`` (whatever the summary says).
* **Recurring events** (``RRULE``/``RDATE``) are expanded, not ignored, by
  ``recurring_ical_events`` (RRULE, RDATE, EXDATE, and an ``UNTIL`` whose form —
  DATE, floating or UTC date-time — differs from DTSTART's, read as RFC 5545
  intends; an UNTIL that is a DATE on a date-time rule includes that whole day).
  No booking platform exports recurring stays, so they come from hand-kept
  calendars ("every Sunday: owner's cleaning day"). Each occurrence whose first
  night lies from 60 days before today to ``RECURRENCE_HORIZON_DAYS`` after today
  (at most ``MAX_OCCURRENCES`` per event) becomes a **block**, never a
  reservation — a rule cannot sell a stay, and a block is harmless if wrong (the
  owner sees it and fixes the source calendar). Each occurrence holds its nights
  as a single event would (one that does not end after its start: as many nights
  as the single reading, counted from each occurrence's start). An overriding instance (``RECURRENCE-ID``) replaces
  its occurrence. Occurrence UIDs are ``<UID>#<first night>`` (occurrences on
  the same first night are one). A silly or hostile rule costs a bounded amount
  of work (``_bounded_master``): a **sub-daily rule** (HOURLY, MINUTELY,
  SECONDLY) is read as the whole days it can touch (its day filters, DTSTART to
  UNTIL), unless its COUNT is at most ``SUB_DAILY_LITERAL_COUNT``; a daily or
  weekly rule that started long ago is restarted a whole number of intervals
  before the window; a rule whose filters match no day (30 February) keeps only
  its first occurrence, warned. A rule that cannot be read is skipped, warned.
  A feed whose recurring events together take longer than
  ``RECURRENCE_BUDGET_SECONDS`` (5 s) fails as ``"too_complex"`` and changes
  nothing (an error run, as for any unreadable feed).
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
* **Other** (another PMS or channel manager — Smoobu, Lodgify, Hostaway, Guesty,
  Beds24 — or a hand-kept calendar): as above, and the summary of a reservation
  **is the guest's name** (these exports write the name there), without a
  leading word (``Booking: ``, ``Reservation - ``, ``Reserved - ``…) or a trailing
  channel or number (``(Airbnb)``, ``[Booking.com]``, ``- Vrbo``, ``#48213``):
  ``Booking: John Smith (Airbnb)`` → "John Smith"; a summary that is only such a
  word (``Reserved``, ``Booking.com``) gives no name.
* **Check-in and check-out markers** (platform "other" only; ``pair_markers``):
  some exports show a stay as a short or zero-length "Check-in …" / "Arrival …"
  event and a "Check-out …" / "Departure …" event (Anreise/Abreise,
  Arrivée/Départ…), instead of or as well as one event for the stay. A marker
  is such a summary on an event of at most one night.

  - A marker that a stay or block event of the feed covers (a check-in on one
    of its nights, a check-out on one of its nights or its check-out day) is
    dropped: the stay already holds those nights.
  - The others are paired into **one stay [check-in date, check-out date)**, a
    reservation with the name from the markers, keyed by the check-in marker's
    UID (so a moved check-out moves the stay): first by the same reservation key
    — a reservation/booking id in DESCRIPTION or an X- property, else the UID
    without its check-in/check-out word — then, for markers left, each
    check-in with the next check-out after it when no other check-in comes
    between them (and their keys, if both have one, agree). On one day a
    check-out comes before a check-in (a turnover).
  - An **unpaired check-in** (its check-out beyond the export) blocks its
    night until the check-out is seen; an **unpaired check-out** (its check-in
    already past and dropped by the export: a guest in the house) blocks the
    nights before it from the later of today and the end of what comes before
    it in the feed, at least one night, at most ``UNPAIRED_CHECK_OUT_MAX_NIGHTS``.
    Blocks, not reservations: the stay's length is unknown, and a block never
    becomes a phantom booking. Both are warned.
  - When the export later adds a stay event for markers already paired, the
    stay event's UID takes over: the paired stay is cancelled and the stay event
    imported in the same run (its nights are never open); a stay that has
    started cannot be cancelled by a snapshot, so the new event conflicts with
    it and the owner is told.

Tentative and ``STATUS:TENTATIVE`` apply to every platform. The raw summary and
description are kept on every event for the owner to see.
"""

from __future__ import annotations

import copy
import hashlib
import math
import re
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from time import monotonic
from zoneinfo import ZoneInfo

import icalendar
import recurring_ical_events
from django.utils import timezone
from icalendar.parser import unescape_backslash

RESERVATION = "reservation"
BLOCK = "block"
CANCELLED = "cancelled"

RECURRENCE_HORIZON_DAYS = 730
# Wall-clock budget for expanding a feed's recurring events, checked before each one (one rule costs at most about
# 0.5 s once bounded by ``_bounded_master``): a feed over it fails as "too_complex" and changes nothing, so a silly
# or hostile calendar cannot hold a sync worker. A runtime guard, not a measurement: tests set it to -1.
RECURRENCE_BUDGET_SECONDS = 5.0
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


# Other PMSs and channel managers (Smoobu, Lodgify, Hostaway, Guesty, Beds24 …): the summary is the guest's name,
# often behind a word ("Booking: …", "Reservation - …") and before the channel ("… (Airbnb)", "… [Booking.com]").
_NAME_LEAD = re.compile(
    r"^\s*(?:reserved|r[ée]serv[ée]e?|reserviert|reservation|r[ée]servation|reservierung|buchung|booking|booked|"
    r"guest|gast|stay)\s*(?:[-–—:]\s*|\s+(?=\S))", re.I)
_NAME_TAIL = re.compile(r"\s*(?:[(\[][^()\[\]]*[)\]]|#\s*[\w-]+|[-–—|]\s*(?:airbnb|booking\.com|vrbo|expedia|"
                        r"homeaway|fewo-direkt|abritel|direct|website))\s*$", re.I)
_NO_NAME = re.compile(r"^\s*(?:reserved|booked|booking|reservation|occupied|stay|guest|airbnb|booking\.com|vrbo|"
                      r"expedia|direct(?: booking)?|website|\d*)\s*$", re.I)


def other_guest_name(summary: str) -> str:
    """The guest's name in another PMS's summary: ``John Smith``, ``Booking: John Smith (Airbnb)``,
    ``Reservation - Anna Berg #48213`` → the name; ``Reserved``, ``Booking.com`` → no name."""
    name = _NAME_LEAD.sub("", summary, count=1)
    for _ in range(3):  # "(Airbnb) #123": a few trailing tags
        name = _NAME_TAIL.sub("", name)
    name = name.strip(" -–—:|,")
    return "" if _NO_NAME.match(name) else name[:150]


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

    if platform == "other":
        generic = _generic(summary, transparent)
        if generic.kind != RESERVATION:
            return generic
        return _Class(RESERVATION, guest_name=other_guest_name(summary))

    return _generic(summary, transparent)


# --- check-in and check-out markers (platform "other") ---------------------------------------------

_MARKER = re.compile(
    r"^\s*(?:(?P<arrive>check[\s_-]?in|arrival|arriv[ée]e|anreise|ankunft|llegada)|"
    r"(?P<leave>check[\s_-]?out|departure|d[ée]part|abreise|abfahrt|salida))\b\s*[-–—:]?\s*(?P<rest>.*)$", re.I)
_RESERVATION_KEY = re.compile(
    r"\b(?:reservation|booking|confirmation|buchung|r[ée]servation)[\s_-]*(?:id|code|number|nr|no)?\.?\s*[:#]?\s*"
    r"(?P<key>[A-Z0-9][A-Z0-9-]{3,})", re.I)
_UID_MARKER_WORD = re.compile(r"[-_.@]?(?:check[-_]?in|check[-_]?out|arrival|departure)(?=[-_.@]|$)", re.I)
UNPAIRED_CHECK_OUT_MAX_NIGHTS = 30


def _marker(event: FeedEvent) -> str:
    """``"in"`` or ``"out"`` when the event is a check-in or check-out marker (such a summary, one night or less)."""
    m = _MARKER.match(event.summary)
    if m is None or event.kind == CANCELLED or (event.end - event.start).days > 1:
        return ""
    return "in" if m["arrive"] else "out"


def _reservation_key(comp) -> str:
    """The reservation a marker belongs to: a reservation/booking id in DESCRIPTION or an X- property, else the UID
    without its check-in/check-out word (``res-4711-checkin@pms`` and ``res-4711-checkout@pms``), else none."""
    texts = [_text(comp, "description")] + [str(v) for k, v in comp.property_items(recursive=False)
                                            if str(k).upper().startswith("X-")]
    for text in texts:
        m = _RESERVATION_KEY.search(text)
        if m:
            return m["key"].upper()
    uid = _text(comp, "uid").strip()
    stripped = _UID_MARKER_WORD.sub("", uid)
    return f"uid:{stripped}" if stripped != uid and stripped else ""


def _marker_name(event: FeedEvent) -> str:
    m = _MARKER.match(event.summary)
    return other_guest_name(m["rest"]) if m else ""


def pair_markers(events: list[FeedEvent], keys: dict[str, str], today: date, warnings: list[str]) -> list[FeedEvent]:
    """Stays exported as separate check-in and check-out markers (see the module docstring): markers a stay event
    covers are dropped; the others are paired into one stay; an unpaired marker still takes its nights as a block."""
    markers = {e.uid: _marker(e) for e in events}
    stays = [e for e in events if not markers[e.uid] and e.kind != CANCELLED]

    def covered(e: FeedEvent) -> bool:
        if markers[e.uid] == "in":
            return any(s.start <= e.start < s.end for s in stays)
        return any(s.start < e.start <= s.end for s in stays)

    out = [e for e in events if not markers[e.uid]]
    loose = sorted((e for e in events if markers[e.uid] and not covered(e)),
                   key=lambda e: (e.start, markers[e.uid] == "in"))  # a check-out before a check-in on one day
    ins = [e for e in loose if markers[e.uid] == "in"]
    outs = [e for e in loose if markers[e.uid] == "out"]
    pairs: list[tuple[FeedEvent, FeedEvent]] = []
    for arrive in ins:  # the same reservation key first
        key = keys.get(arrive.uid)
        match = next((o for o in outs if key and keys.get(o.uid) == key and o.start > arrive.start), None)
        if match:
            pairs.append((arrive, match))
            outs.remove(match)
    paired = {a.uid for a, _ in pairs}
    sequence = [e for e in loose if (markers[e.uid] == "in" and e.uid not in paired) or e in outs]
    for arrive, leave in zip(sequence, sequence[1:], strict=False):  # else the next check-out, no check-in between
        if markers[arrive.uid] != "in" or markers[leave.uid] != "out" or leave.start <= arrive.start:
            continue
        if keys.get(arrive.uid) and keys.get(leave.uid) and keys[arrive.uid] != keys[leave.uid]:
            continue  # two different reservations
        if leave in outs:
            pairs.append((arrive, leave))
            paired.add(arrive.uid)
            outs.remove(leave)
    for arrive, leave in pairs:
        name = _marker_name(arrive) or _marker_name(leave)
        kind, tentative = (BLOCK, True) if arrive.tentative or leave.tentative else (RESERVATION, False)
        out.append(FeedEvent(arrive.uid, arrive.start, leave.start, kind, tentative, arrive.summary,
                             "\n".join(d for d in (arrive.description, leave.description) if d), name))
    for arrive in (a for a in ins if a.uid not in paired):
        warnings.append(f"{arrive.uid}: a check-in marker ({arrive.start}) without its check-out; its night is "
                        f"blocked until the check-out is seen.")
        out.append(FeedEvent(arrive.uid, arrive.start, arrive.start + timedelta(days=1), BLOCK, arrive.tentative,
                             arrive.summary, arrive.description))
    for leave in outs:
        before = max((e.end for e in out if e.end <= leave.start), default=None)
        start = max(today, before or today, leave.start - timedelta(days=UNPAIRED_CHECK_OUT_MAX_NIGHTS))
        start = min(start, leave.start - timedelta(days=1))
        warnings.append(f"{leave.uid}: a check-out marker ({leave.start}) without its check-in; the nights from "
                        f"{start} to it are blocked.")
        out.append(FeedEvent(leave.uid, start, leave.start, BLOCK, leave.tentative, leave.summary, leave.description))
    return out


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


def _local(value, tz: ZoneInfo):
    """A DTSTART/DTEND value in the property's time zone: a DATE as written (a date has no zone), a zoned or UTC
    date-time converted, a floating one (or one with a TZID nobody knows) as local time already."""
    if isinstance(value, datetime) and value.tzinfo is not None:
        return value.astimezone(tz).replace(tzinfo=None)
    return value


def _local_date(value, tz: ZoneInfo) -> date:
    """A DTSTART/DTEND value as a date in the property's time zone."""
    value = _local(value, tz)
    return value.date() if isinstance(value, datetime) else value


CHECK_OUT_BY = time(12, 0)  # a timed event that ends later than this local time still holds that day's night


def _nights(start_value, end_value, tz: ZoneInfo) -> tuple[date, date, bool]:
    """The nights an event occupies, as (first night, check-out day, whether its end was not after its start).

    The first night is the local date of the start. The check-out day is the local date of the end — the next day
    when a timed end falls after noon local time (a stay ends in the morning; an end in the afternoon or evening,
    often a midnight in another zone's clock, still holds that night). No end: one night. An end that is not after
    the start (zero length, or before it): every night from the earlier date through the later one — at least one
    night, never none."""
    first = _local_date(start_value, tz)
    if end_value is None:
        return first, first + timedelta(days=1), False
    end_local = _local(end_value, tz)
    checkout = end_local.date() if isinstance(end_local, datetime) else end_local
    if isinstance(end_local, datetime) and end_local.time() > CHECK_OUT_BY:
        checkout += timedelta(days=1)
    if _not_after(start_value, end_value):
        end_date = _local_date(end_value, tz)
        return min(first, end_date), max(first, end_date) + timedelta(days=1), True
    return first, max(checkout, first + timedelta(days=1)), False


def _not_after(start_value, end_value) -> bool:
    """Whether the end is not after the start (compared as written; mixed forms compared by date)."""
    if isinstance(start_value, datetime) != isinstance(end_value, datetime):
        return _as_date(end_value) <= _as_date(start_value)
    if isinstance(start_value, datetime) and (start_value.tzinfo is None) != (end_value.tzinfo is None):
        return end_value.replace(tzinfo=None) <= start_value.replace(tzinfo=None)
    return end_value <= start_value


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
    components: list | None = _plain_events(text)
    if components is None:
        try:
            calendar = icalendar.Calendar.from_ical(text)
        except (ValueError, IndexError, KeyError) as exc:
            raise FeedError("broken_ical", f"The calendar could not be read: {exc}") from exc
        components = list(calendar.walk("VEVENT"))
    zone = ZoneInfo(tz)
    today = timezone.localtime(at or timezone.now(), zone).date()

    overridden: dict[str, set[date]] = {}
    for comp in components:
        rid = _dt(comp, "recurrence-id")
        if rid:
            overridden.setdefault(_text(comp, "uid"), set()).add(_local_date(rid, zone))

    candidates: dict[str, _Candidate] = {}
    duplicates: set[str] = set()
    keys: dict[str, str] = {}
    deadline = monotonic() + RECURRENCE_BUDGET_SECONDS
    for position, comp in enumerate(components):
        if ("RRULE" in comp or "RDATE" in comp) and monotonic() > deadline:
            raise FeedError("too_complex", f"The calendar's repeating events take too long to read (more than "
                                           f"{RECURRENCE_BUDGET_SECONDS:g} s); nothing was changed.")
        for event in _events_of(comp, platform, zone, today, overridden, warnings):
            if platform == "other":
                keys[event.uid] = _reservation_key(comp)
            cand = _Candidate(event, _int(comp, "sequence"), _dtstamp(comp), position)
            previous = candidates.get(event.uid)
            if previous is not None:
                duplicates.add(event.uid)
                if (cand.sequence, cand.stamp, cand.position) < (previous.sequence, previous.stamp, previous.position):
                    continue
            candidates[event.uid] = cand
    for uid in sorted(duplicates):
        warnings.append(f"UID {uid} appears more than once; the latest version (SEQUENCE, DTSTAMP) was used.")

    events = [c.event for c in candidates.values()]
    if platform == "other":
        events = pair_markers(events, keys, today, warnings)
    events.sort(key=lambda e: (e.start, e.end, e.uid))
    window_start = min((e.start for e in events), default=None)
    window_end = max((e.end for e in events), default=None)
    return Snapshot(events=events, window_start=window_start, window_end=window_end, warnings=warnings)


# --- the plain-feed reader ---------------------------------------------------------------------
# ``icalendar`` builds a full object model of every content line (parameters, value types, case-less dicts): about
# 0.3 ms of CPU per event, most of a 2,000-event import. Nearly every platform feed is *plain*: one VCALENDAR of
# VEVENTs whose properties carry no parameters except ``VALUE=DATE`` on the dates, with no recurrence and no time
# zone. Such a feed is read here into ``_PlainEvent``\s that answer ``_events_of`` exactly as icalendar's
# components do (the same value types: icalendar's own ``from_ical`` of each value). Anything else — a parameter,
# a TZID, a nested component, a recurrence, a repeated property, an ``X-`` property (platform "other" reads them),
# a line that is not ``NAME:value`` — returns None and the feed goes through icalendar as before.
# ``tests/channels/test_parse_plain.py`` parses every feed both ways and compares.

_PLAIN_LINE = re.compile(r"([A-Z][A-Z0-9-]*)(;VALUE=DATE)?:(.*)")
_PLAIN_CALENDAR_LINE = re.compile(r"[A-Z][A-Z0-9-]*(?:;[A-Z][A-Z0-9-]*=[^;:\",]*)*:.*")
_PLAIN_DATE = re.compile(r"\d{8}")
_PLAIN_DATE_TIME = re.compile(r"\d{8}T\d{6}Z?")
_PLAIN_DATES = frozenset({"DTSTART", "DTEND", "DTSTAMP", "LAST-MODIFIED", "CREATED"})
_PLAIN_TEXTS = frozenset({"UID", "SUMMARY", "DESCRIPTION", "STATUS", "TRANSP", "LOCATION", "URL", "CLASS"})
_PLAIN_INTS = frozenset({"SEQUENCE", "PRIORITY"})


class _PlainValue:
    """A date property as ``_dt`` and ``_unknown_tzid`` read it: ``.dt`` and (no) ``.params``."""

    __slots__ = ("dt",)
    params: dict = {}

    def __init__(self, dt):
        self.dt = dt


class _PlainEvent(dict):
    """A VEVENT of a plain feed: lower-case property names → values, as ``component.get(name)`` answers them."""

    def property_items(self, recursive=False):
        return []  # ``_reservation_key`` reads the X- properties: a plain event has none


def _plain_value(name: str, date_param: bool, raw: str):
    if name in _PLAIN_DATES:
        if _PLAIN_DATE.fullmatch(raw) or (not date_param and _PLAIN_DATE_TIME.fullmatch(raw)):
            return _PlainValue(icalendar.prop.vDDDTypes.from_ical(raw))
        return None
    if date_param:
        return None
    if name in _PLAIN_TEXTS:
        return icalendar.prop.vText(icalendar.prop.vText.from_ical(unescape_backslash(raw)))
    if name in _PLAIN_INTS:
        try:
            return icalendar.prop.vInt(int(raw))
        except ValueError:
            return None
    return None


def _plain_events(text: str) -> list[_PlainEvent] | None:
    """The VEVENTs of a plain feed (see above), or None when the feed is not one."""
    lines = text.split("\n")
    while lines and not lines[-1].strip("\r"):
        lines.pop()
    if not lines or lines[0].rstrip("\r") != "BEGIN:VCALENDAR" or lines[-1].rstrip("\r") != "END:VCALENDAR":
        return None
    events: list[_PlainEvent] = []
    event: _PlainEvent | None = None
    match = _PLAIN_LINE.fullmatch
    for line in lines[1:-1]:
        if line.endswith("\r"):
            line = line[:-1]
        if event is None:
            if line == "BEGIN:VEVENT":
                event = _PlainEvent()
            elif line.startswith(("BEGIN", "END")) or not _PLAIN_CALENDAR_LINE.fullmatch(line):
                return None  # another component, or a line icalendar may read otherwise
            continue
        if line == "END:VEVENT":
            if "uid" not in event:
                return None
            events.append(event)
            event = None
            continue
        m = match(line)
        if m is None:
            return None
        name, date_param, raw = m.groups()
        key = name.lower()
        value = _plain_value(name, bool(date_param), raw)
        if value is None or key in event:
            return None
        event[key] = value
    return events if event is None else None


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
    start, end, inverted = _nights(start_value, end_value, zone)
    if inverted and not (platform == "other" and _MARKER.match(summary)):  # a marker is often zero length
        warnings.append(f"{label}: it does not end after its start; read as the nights {start} to {end} "
                        f"(at least one night, never none).")
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


# --- recurrence ---------------------------------------------------------------------------------

_SUB_DAILY = {"HOURLY", "MINUTELY", "SECONDLY"}
_DAY_PARTS = ("BYMONTH", "BYMONTHDAY", "BYYEARDAY", "BYWEEKNO", "BYDAY")
_ORDINAL = re.compile(r"^[+-]?\d+")
SUB_DAILY_LITERAL_COUNT = 500  # a sub-daily rule with at most this COUNT is expanded as written


def _rule_parts(rule) -> dict[str, list]:
    return {str(key).upper(): list(value) for key, value in rule.items()}


def _weekdays(values) -> list[str]:
    return sorted({_ORDINAL.sub("", str(v)).strip().upper() for v in values})


def _never_matches(parts: dict[str, list], first) -> bool:
    """Whether the rule can yield nothing after DTSTART (``BYMONTH=2;BYMONTHDAY=30``, ``BYSETPOS=40`` in a month):
    such a rule would make the expansion walk the calendar to the year 9999 looking for one. Checked cheaply and
    generously (a filter that is not understood counts as matching): the day filters against every day of 2001–2028,
    which hold every type of year; BYSETPOS against the largest set a period can have; a daily rule whose INTERVAL is
    a whole number of weeks against DTSTART's weekday (the only one it meets)."""
    freq = (parts.get("FREQ") or [""])[0]
    interval = int((parts.get("INTERVAL") or [1])[0] or 1)
    weekdays = _weekdays(parts.get("BYDAY") or [])
    if freq == "DAILY" and interval % 7 == 0 and weekdays and first.strftime("%a")[:2].upper() not in weekdays:
        return True
    if parts.get("BYSETPOS"):
        times = math.prod(len(parts.get(name) or [0]) for name in ("BYHOUR", "BYMINUTE", "BYSECOND"))
        largest = {"DAILY": 1, "WEEKLY": 7, "MONTHLY": 31, "YEARLY": 366}.get(freq, 10**6) * times
        if all(abs(int(pos)) > largest for pos in parts["BYSETPOS"]):
            return True
    months = {int(m) for m in parts.get("BYMONTH") or []}
    monthdays = {int(d) for d in parts.get("BYMONTHDAY") or []}
    yeardays = {int(d) for d in parts.get("BYYEARDAY") or []}
    if not (months or monthdays or yeardays or weekdays):
        return False
    day = date(2001, 1, 1)
    while day.year <= 2028:
        month_length = (date(day.year + day.month // 12, day.month % 12 + 1, 1) - timedelta(days=1)).day
        year_length = 366 if day.year % 4 == 0 else 365
        yearday = day.timetuple().tm_yday
        if ((not months or day.month in months)
                and (not monthdays or day.day in monthdays or day.day - month_length - 1 in monthdays)
                and (not yeardays or yearday in yeardays or yearday - year_length - 1 in yeardays)
                and (not weekdays or day.strftime("%a")[:2].upper() in weekdays)):
            return False
        day += timedelta(days=1)
    return True


def _day_level(parts: dict[str, list]) -> dict[str, list]:
    """A sub-daily rule read as the days it can touch: DAILY with the rule's day filters and UNTIL (a superset)."""
    out = {"FREQ": ["DAILY"]}
    for name in (*_DAY_PARTS, "WKST", "UNTIL"):
        if parts.get(name):
            out[name] = _weekdays(parts[name]) if name == "BYDAY" else parts[name]
    return out


def _until_inclusive(parts: dict[str, list], first) -> dict[str, list]:
    """``UNTIL`` given as a DATE on a rule whose DTSTART is a DATE-TIME covers that whole day (RFC 5545 asks for the
    same form; the intent of a date is "up to and including that day"). The other mismatches — a floating or UTC
    date-time against a DATE or zoned DTSTART — are read by ``recurring_ical_events`` as RFC 5545 intends."""
    until = (parts.get("UNTIL") or [None])[0]
    if isinstance(first, datetime) and isinstance(until, date) and not isinstance(until, datetime):
        end_of_day = datetime.combine(until, datetime.max.time().replace(microsecond=0))
        if first.tzinfo is not None:
            end_of_day = end_of_day.replace(tzinfo=first.tzinfo).astimezone(ZoneInfo("UTC"))
        parts = {**parts, "UNTIL": [end_of_day]}
    return parts


def _bounded_master(comp, start_value, end_value, low: date, warnings: list[str], label: str):
    """A copy of the recurring VEVENT whose expansion costs a bounded amount of work.

    * A sub-daily rule (HOURLY, MINUTELY, SECONDLY) with a COUNT above ``SUB_DAILY_LITERAL_COUNT`` or no COUNT is read
      at day level: every day its day filters allow, from DTSTART to UNTIL, is blocked whole (a superset of what
      it touches). Expanded literally, a minutely rule over the window is a million occurrences.
    * A daily or weekly rule without COUNT that starts long before the window starts again a whole number of
      intervals before it (the same occurrences in the window; nothing to walk through from the year 1900).
    * A rule whose day filters match no day is dropped (warned): it would walk the calendar to the year 9999.
    """
    master = copy.copy(comp)
    rules = []
    first, length = start_value, _length(start_value, end_value)
    rewrite = end_value is not None and (length <= timedelta(0) or _form(start_value) != _form(end_value))
    if rewrite:  # read each occurrence as the event itself is: at least its own night
        length = abs(length) if length else None
    for rule in _listed(comp, "rrule"):
        parts = _rule_parts(rule)
        freq = (parts.get("FREQ") or [""])[0]
        if _never_matches(parts, start_value):
            warnings.append(f"{label}: its recurrence rule matches no day; only its first occurrence was read.")
            continue
        if freq in _SUB_DAILY and int((parts.get("COUNT") or [0])[0]) not in range(1, SUB_DAILY_LITERAL_COUNT + 1):
            warnings.append(f"{label}: a {freq.lower()} recurrence was read as whole days (every day it can touch).")
            parts = _day_level(parts)
            if isinstance(start_value, datetime):
                first = start_value.replace(hour=0, minute=0, second=0, microsecond=0)
                length = (length or timedelta(0)) + timedelta(days=1)
                rewrite = True
        rules.append(parts)
    step = {"DAILY": 1, "WEEKLY": 7}
    if rules and all(p["FREQ"][0] in step and not p.get("COUNT") for p in rules):
        period = math.lcm(*(step[p["FREQ"][0]] * int((p.get("INTERVAL") or [1])[0] or 1) for p in rules))
        behind = (low - _as_date(first)).days
        if behind > 2 * period:
            first = first + timedelta(days=(behind // period - 1) * period)
            rewrite = True
    master.pop("RRULE", None)
    for parts in rules:
        master.add("RRULE", icalendar.vRecur(_until_inclusive(parts, first)))
    if rewrite:
        master.pop("DTSTART", None)
        master.pop("DTEND", None)
        master.pop("DURATION", None)
        master.add("DTSTART", first)
        if length is not None:
            master.add("DTEND", first + length)
    return master


def _form(value) -> tuple[type, bool]:
    return type(value), isinstance(value, datetime) and value.tzinfo is None


def _length(start_value, end_value) -> timedelta | None:
    if end_value is None:
        return None
    if isinstance(start_value, datetime) and isinstance(end_value, datetime):
        if (start_value.tzinfo is None) != (end_value.tzinfo is None):
            return end_value.replace(tzinfo=None) - start_value.replace(tzinfo=None)
        return end_value - start_value
    return timedelta(days=(_as_date(end_value) - _as_date(start_value)).days)


def _as_date(value) -> date:
    return value.date() if isinstance(value, datetime) else value


def _listed(comp, name: str) -> list:
    values = comp.get(name)
    if values is None:
        return []
    return values if isinstance(values, list) else [values]


def _occurrences(comp, start_value, end_value, zone, today, overridden, warnings, label) -> list[tuple[date, date]]:
    """Expand a recurring event with ``recurring_ical_events`` (RRULE, RDATE, EXDATE, the time-zone forms of UNTIL):
    the occurrences whose first night lies in [today - lookback, today + horizon], at most ``MAX_OCCURRENCES``, each
    read as any event is (see the module docstring); an overridden occurrence (RECURRENCE-ID) is left to its override.
    """
    low = today - timedelta(days=RECURRENCE_LOOKBACK_DAYS)
    high = today + timedelta(days=RECURRENCE_HORIZON_DAYS)
    out: list[tuple[date, date]] = []
    try:
        master = _bounded_master(comp, start_value, end_value, low, warnings, label)
        calendar = icalendar.Calendar()
        calendar.add_component(master)
        # between(), not after(): after() queries growing spans one by one, each walked from DTSTART again.
        occurrences = recurring_ical_events.of(calendar).between(low - timedelta(days=1), high + timedelta(days=2))
        read = sorted(_nights(_dt(o, "dtstart"), _dt(o, "dtend") or None, zone)[:2] for o in occurrences)
        for s, e in read:
            if s > high or s < low or s in overridden:
                continue
            if out and out[-1][0] == s:  # a sub-daily rule: several occurrences, one first night
                out[-1] = (s, max(e, out[-1][1]))
                continue
            if len(out) == MAX_OCCURRENCES:
                warnings.append(f"{label}: more than {MAX_OCCURRENCES} occurrences; the rest were ignored.")
                break
            out.append((s, e))
    except (ValueError, TypeError, AttributeError, KeyError, recurring_ical_events.InvalidCalendar) as exc:
        warnings.append(f"Skipped {label}: its recurrence rule could not be read ({exc}).")
        return []
    return out
