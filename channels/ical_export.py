"""Our iCal feed for one channel connection: what the platform must not sell.

A platform (Airbnb, Booking.com, Vrbo, …) polls ``/ical/<export token>.ics`` and
blocks every night the feed covers. The feed is built from the database on
every request (never cached: a stale feed sells a night twice), and its
version (ETag / Last-Modified) is computed without building it, so that the
frequent "anything new?" polls are answered with a cheap 304.

What the feed of connection C (platform P) holds, as all-day events
(``DTSTART;VALUE=DATE`` = first night, ``DTEND;VALUE=DATE`` = check-out day,
exclusive, RFC 5545 §3.6.1):

* **Stays** — every booking or hold that occupies its nights now
  (``Booking.objects.occupying(at)``: held and reserved rows drop out as soon as
  ``expires_at`` passes, before the expiry job runs; confirmed, checked in and
  checked out rows stay; cancelled ones never appear). UID
  ``booking-<pk>@<host>``, SUMMARY "Reserved".
* **Owner blocks** (``AvailabilityBlock`` with no connection). UID
  ``block-<pk>@<host>``, SUMMARY "Blocked". Channel blocks (the platforms' own
  "not available" dates) are **never** exported: platforms re-export what they
  import, so a block sent from A to B comes back from B as B's block, is sent to
  A, and so on: an echo loop that outlives the original block and never clears.
  (The README's channel section says what this leaves to the host.)
* **Buffer days** — ``Property.buffer_days`` nights before *and* after each stay,
  exactly as ``bookings.availability`` keeps them free (a new stay may not
  come within ``buffer_days`` of an existing one on either side). Nights already
  occupied by a stay are left out, the rest is merged into runs of consecutive
  nights: UID ``buffer-<property pk>-<first night YYYYMMDD>@<host>``, SUMMARY
  "Not available". Buffers around a stay imported from P are exported to P too:
  they are our rule, not P's, and they do not echo (P sends them back at most as
  a channel block, which is never re-exported).
* **No echo** — stays imported through this connection (``source == P`` and an
  ``external_id``) are left out of P's feed; P knows them already, and sending
  them back would make P block its own reservation. They still appear in every
  other connection's feed. There is one connection per (property, platform,
  name), so "source and external id" is the whole test.

Window: from ``EXPORT_PAST_DAYS`` (30) days before the property's local today
up to ``max(EXPORT_FUTURE_DAYS (730), max_advance_days + 1)`` days after it;
an event overlapping the window is exported whole.

Every event is ``STATUS:CONFIRMED`` and ``TRANSP:OPAQUE``, holds and unpaid
reservations included: while a hold lives its nights are not for sale, and an
importer that drops or softens ``TENTATIVE`` events would sell them. Summaries
tell no guest data (no name, email, phone, reference or price): the feed URL is
handed to third parties. ``DTSTAMP`` is the row's own last change (the booking's
``updated_at``, the block's ``created_at``, for a buffer run the latest of its
stays), so an unchanged calendar gives the same bytes, and the same ETag, on
every request. ``X-WR-CALNAME`` is the property's name.

The body is RFC 5545 text (CRLF line ends, lines folded at 75 octets). The
calendar header is built by ``icalendar``; the events, all of the same fixed
shape and ASCII, are written by a small loop that produces byte for byte what
``icalendar`` produces for them (:func:`render_with_icalendar` is the reference,
compared byte for byte in the tests): ``icalendar`` objects need ~150 ms for the
~1,000 events of a property with 500 stays, far over the 20 ms budget.

Version: on PostgreSQL one query digests (md5) exactly the rows the body is made
of, so a 304 reads no rows; elsewhere the rows are read and digested in Python.
Time stamps enter the body and the digest cut to the second (DTSTAMP's
resolution), so the ETag changes exactly when the body does.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass, fields
from datetime import UTC, date, datetime, timedelta
from typing import NamedTuple
from urllib.parse import urlsplit

from django.conf import settings
from django.core.cache import cache
from django.db import connections
from django.db.models import CharField, QuerySet
from django.db.models.functions import Cast, Left
from django.utils import timezone
from icalendar import Calendar, Event, vText
from icalendar.parser import Contentline

from bookings.models import AvailabilityBlock, Booking
from properties.pricing import local_today

PRODID = "-//Stayhold//Channel feed//EN"
EXPORT_PAST_DAYS = 30
EXPORT_FUTURE_DAYS = 730
# Bump when the shape of the feed changes (new property, new summary…): every ETag changes with it.
FEED_FORMAT = "1"

SUMMARY_BOOKING = "Reserved"
SUMMARY_BLOCK = "Blocked"
SUMMARY_BUFFER = "Not available"


class FeedEvent(NamedTuple):  # a tuple: 500 of them are made per request
    """One all-day event of our feed (``end`` exclusive)."""

    uid: str
    start: date
    end: date
    summary: str
    stamp: str  # DTSTAMP in UTC, "YYYY-MM-DD HH:MM:SS" (see load_feed_data)


@dataclass
class FeedHeader:
    """Everything in a feed besides its rows (and in its ETag)."""

    connection_id: int
    platform: str
    property_id: int
    name: str
    tz: str
    buffer_days: int
    host: str
    window_start: date
    window_end: date


HEADER_FIELDS = tuple(f.name for f in fields(FeedHeader))


@dataclass
class FeedSource(FeedHeader):
    """What a connection's feed is made of, before any row is read: its header and the two row querysets."""

    bookings: QuerySet  # values_list (pk, check_in, check_out, updated_at stamp, source, external_id) by pk
    blocks: QuerySet  # values_list (pk, start_date, end_date, created_at stamp) by pk

    def header_key(self) -> list:
        return [FEED_FORMAT, *(getattr(self, name) for name in HEADER_FIELDS)]

    def etag(self) -> str:
        """A digest of every input of the body: the header and the rows (digested by PostgreSQL when it can)."""
        rows = _rows_digest_in_db(self.bookings, self.blocks)
        if rows is None:
            rows = _rows_digest(list(self.bookings), list(self.blocks))
        return _etag(self.header_key(), rows)

    def load(self) -> FeedData:
        return FeedData(**{f: getattr(self, f) for f in HEADER_FIELDS}, bookings=list(self.bookings),
                        blocks=list(self.blocks))


@dataclass
class FeedData(FeedHeader):
    """The rows of a connection's feed, read: enough to render it."""

    bookings: list[tuple]  # (pk, check_in, check_out, updated_at stamp, source, external_id), ordered by pk
    blocks: list[tuple]  # (pk, start_date, end_date, created_at stamp), ordered by pk


def _etag(header_key: list, rows_digest: str) -> str:
    return '"' + hashlib.sha256(repr([header_key, rows_digest]).encode()).hexdigest()[:40] + '"'


def _rows_digest(bookings: list[tuple], blocks: list[tuple]) -> str:
    return hashlib.sha256(repr([bookings, blocks]).encode()).hexdigest()


_DIGEST_SQL = "(SELECT md5(coalesce(string_agg(r::text, ',' ORDER BY r), '')) FROM ({}) r)"


def _rows_digest_in_db(bookings: QuerySet, blocks: QuerySet) -> str | None:
    """On PostgreSQL, a digest of exactly the rows :meth:`FeedSource.load` would read, in one query that
    returns two md5 sums instead of 500 rows (the 304 path's cost was the row fetch). None elsewhere."""
    connection = connections[bookings.db]  # the replica when the feed reads from it (core.replica)
    if connection.vendor != "postgresql":
        return None
    bookings_sql, bookings_params = bookings.query.sql_with_params()
    blocks_sql, blocks_params = blocks.query.sql_with_params()
    sql = f"SELECT {_DIGEST_SQL.format(bookings_sql)}, {_DIGEST_SQL.format(blocks_sql)}"
    with connection.cursor() as cursor:
        cursor.execute(sql, (*bookings_params, *blocks_params))
        return "pg:" + ":".join(cursor.fetchone())


def uid_host() -> str:
    """The domain part of our UIDs: the site's host, so that UIDs are globally unique and stable."""
    return urlsplit(settings.SITE_URL).hostname or "stayhold"


def export_window(prop, at: datetime | None = None) -> tuple[date, date]:
    """[start, end) of the dates exported for ``prop`` at ``at``: moves with the property's local date."""
    today = local_today(prop, at)
    future = max(EXPORT_FUTURE_DAYS, prop.max_advance_days + 1)
    return today - timedelta(days=EXPORT_PAST_DAYS), today + timedelta(days=future)


def _utc_text(field: str):
    return Left(Cast(field, output_field=CharField()), 19)


def feed_source(connection, *, at: datetime | None = None) -> FeedSource:
    """The header and row querysets of ``connection``'s feed at ``at`` (no query; ``connection.property``
    should be loaded).

    Time stamps are read as UTC text cut to the second ("YYYY-MM-DD HH:MM:SS", what
    DTSTAMP shows), not as datetimes: turning 500 ``timestamptz`` values into
    aware datetimes costs more than the rest of the request. Django keeps the
    database session in UTC (``USE_TZ``; SQLite stores UTC text), which the tests check."""
    at = at or timezone.now()
    prop = connection.property
    start, end = export_window(prop, at)
    buffer = timedelta(days=prop.buffer_days)
    # Stays just outside the window still matter for the buffer nights inside it.
    bookings = (
        Booking.objects.filter(property_id=prop.pk).occupying(at).overlapping(start - buffer, end + buffer)
        .annotate(stamp=_utc_text("updated_at"))
        .order_by("pk").values_list("pk", "check_in", "check_out", "stamp", "source", "external_id")
    )
    blocks = (
        AvailabilityBlock.objects.filter(property_id=prop.pk, connection__isnull=True,
                                         start_date__lt=end, end_date__gt=start)
        .annotate(stamp=_utc_text("created_at"))
        .order_by("pk").values_list("pk", "start_date", "end_date", "stamp")
    )
    return FeedSource(
        connection_id=connection.pk, platform=connection.platform, property_id=prop.pk, name=prop.name,
        tz=prop.timezone, buffer_days=prop.buffer_days, host=uid_host(), window_start=start, window_end=end,
        bookings=bookings, blocks=blocks,
    )


def load_feed_data(connection, *, at: datetime | None = None) -> FeedData:
    """The rows of ``connection``'s feed at ``at``: two queries."""
    return feed_source(connection, at=at).load()


def buffer_runs(bookings: list[tuple], buffer_days: int) -> list[tuple[date, date, str]]:
    """Buffer nights around ``bookings`` that no stay occupies, merged into runs: (start, end, latest stamp).

    Mirrors ``bookings.availability``: a stay keeps ``buffer_days`` nights free
    before its check-in and from its check-out on."""
    if not buffer_days or not bookings:
        return []
    occupied: set[int] = set()
    stamps: dict[int, str] = {}  # fixed-width UTC text: compares like the times it shows
    for _pk, check_in, check_out, updated_at, *_ in bookings:
        first, last = check_in.toordinal(), check_out.toordinal()
        occupied.update(range(first, last))
        for night in (*range(first - buffer_days, first), *range(last, last + buffer_days)):
            if night not in stamps or stamps[night] < updated_at:
                stamps[night] = updated_at
    runs: list[tuple[date, date, str]] = []
    run_start = run_end = None
    run_stamp = None
    for night in sorted(stamps.keys() - occupied):
        if run_end == night:
            run_end, run_stamp = night + 1, max(run_stamp, stamps[night])
            continue
        if run_start is not None:
            runs.append((date.fromordinal(run_start), date.fromordinal(run_end), run_stamp))
        run_start, run_end, run_stamp = night, night + 1, stamps[night]
    if run_start is not None:
        runs.append((date.fromordinal(run_start), date.fromordinal(run_end), run_stamp))
    return runs


def feed_events(data: FeedData) -> list[FeedEvent]:
    """The events of the feed, in a stable order (stays by pk, then blocks by pk, then buffer runs by date)."""
    host, start, end, platform = data.host, data.window_start, data.window_end, data.platform
    events = [
        FeedEvent(f"booking-{pk}@{host}", check_in, check_out, SUMMARY_BOOKING, updated_at)
        for pk, check_in, check_out, updated_at, source, external_id in data.bookings
        if check_in < end and check_out > start and not (source == platform and external_id)  # no echo
    ]
    events += [FeedEvent(f"block-{pk}@{host}", s, e, SUMMARY_BLOCK, created_at) for pk, s, e, created_at in data.blocks]
    events += [
        FeedEvent(f"buffer-{data.property_id}-{s:%Y%m%d}@{host}", s, e, SUMMARY_BUFFER, stamp)
        for s, e, stamp in buffer_runs(data.bookings, data.buffer_days)
        if s < end and e > start
    ]
    return events


def _calendar(data: FeedData) -> Calendar:
    cal = Calendar()
    cal.add("prodid", PRODID)
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("method", "PUBLISH")
    # Non-standard properties are TEXT by default (RFC 5545 3.8.8.2): vText escapes ; , \\ and newlines.
    cal.add("x-wr-calname", vText(data.name))
    cal.add("x-wr-timezone", vText(data.tz))
    return cal


def render_with_icalendar(data: FeedData) -> bytes:
    """The feed built entirely with ``icalendar`` objects: the reference the fast path must equal (tests)."""
    cal = _calendar(data)
    for ev in feed_events(data):
        event = Event()
        event.add("uid", ev.uid)
        event.add("dtstamp", datetime.fromisoformat(ev.stamp + "+00:00"))
        event.add("dtstart", ev.start)
        event.add("dtend", ev.end)
        event.add("summary", ev.summary)
        event.add("transp", "OPAQUE")
        event.add("status", "CONFIRMED")
        cal.add_component(event)
    return cal.to_ical()


def _line(text: str) -> str:
    return text if len(text) < 75 else Contentline(text).to_ical().decode()  # ASCII: 75 characters = 75 octets


def _date(value: date) -> str:
    return value.isoformat().replace("-", "")  # 6x faster than strftime, which dominated the request


def _stamp(text: str) -> str:
    return f"{text[0:4]}{text[5:7]}{text[8:10]}T{text[11:13]}{text[14:16]}{text[17:19]}Z"


# icalendar's canonical property order, so that the bytes are the same as render_with_icalendar's.
_EVENT = ("BEGIN:VEVENT\r\nSUMMARY:{}\r\nDTSTART;VALUE=DATE:{}\r\nDTEND;VALUE=DATE:{}\r\nDTSTAMP:{}\r\n{}\r\n"
          "STATUS:CONFIRMED\r\nTRANSP:OPAQUE\r\nEND:VEVENT\r\n").format


def render(data: FeedData) -> bytes:
    """The feed as bytes: ``icalendar`` for the calendar's properties, a plain loop for the events."""
    head = _calendar(data).to_ical().decode()
    closing = "END:VCALENDAR\r\n"
    assert head.endswith(closing)
    dates: dict[date, str] = {}  # a check-out day is often the next buffer's first night: format it once

    def day(value: date) -> str:
        text = dates.get(value)
        if text is None:
            text = dates[value] = _date(value)
        return text

    events = [_EVENT(summary, day(start), day(end), _stamp(stamp), _line("UID:" + uid))
              for uid, start, end, summary, stamp in feed_events(data)]
    return "".join([head[: -len(closing)], *events, closing]).encode()


def build_feed(connection, *, at: datetime | None = None) -> bytes:
    """The iCal feed of ``connection`` at ``at`` (default now), built from the database."""
    return render(load_feed_data(connection, at=at))


# --- version (ETag / Last-Modified) ---------------------------------------------------------------

LAST_MODIFIED_KEY = "ical-export:last-modified:{}"
LAST_MODIFIED_TTL = 60 * 60 * 24 * 90


def last_modified_for(connection_id: int, etag: str, *, now: datetime | None = None) -> datetime:
    """When we first served this version of the connection's feed (to the second).

    The rows alone cannot say when the feed last changed: a deleted block leaves
    no timestamp, a hold that lapses changes nothing in its row. So the cache
    remembers the last ETag served per connection and since when: a new ETag
    gets "now" (and always a later second than the version before it, so that an
    ``If-Modified-Since`` from that version never matches the new one). If the
    cache forgets, the answer is "now": a client then downloads once more, it
    never keeps a stale copy."""
    now = now or timezone.now()
    key = LAST_MODIFIED_KEY.format(connection_id)
    stored = cache.get(key)
    if stored and stored[0] == etag:
        return datetime.fromtimestamp(stored[1], UTC)
    since = math.floor(now.timestamp())
    if stored:
        since = max(since, stored[1] + 1)
    cache.set(key, (etag, since), LAST_MODIFIED_TTL)
    return datetime.fromtimestamp(since, UTC)


def feed_version(connection, *, at: datetime | None = None) -> tuple[str, datetime | None]:
    """(ETag, Last-Modified) of ``connection``'s feed at ``at``, without building it: one query (PostgreSQL;
    two elsewhere) and the cache.

    The ETag is a digest of every input of the body (the rows the feed is made of,
    the property's name, time zone and buffer, the connection's platform, the
    window, which moves with the local date), so it changes whenever the body would."""
    etag = feed_source(connection, at=at).etag()
    return etag, last_modified_for(connection.pk, etag, now=at)
