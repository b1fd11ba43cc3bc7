"""Helpers for the import tests (parse → reconcile): feeds written in each platform's real format, for dates
relative to the property's today, so that a test can regenerate "the feed of day N" as a platform would.

Imported explicitly by the import tests (``from tests.channels.conftest_import import …``)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

import icalendar
from django.utils import timezone

from bookings.models import Booking, BookingEvent
from channels.ical_export import build_feed
from channels.ical_parse import parse_feed
from channels.models import ChannelConnection
from channels.reconcile import apply_snapshot
from core.models import OutboxEvent
from properties.models import AvailabilityBlock
from properties.pricing import local_today

PRODIDS = {
    "airbnb": "PRODID;X-RICAL-TZSOURCE=TZINFO:-//Airbnb Inc//Hosting Calendar 0.8.8//EN",
    "booking_com": "PRODID:-//admin.booking.com//EN",
    "fewo_direkt": "PRODID:-//HomeAway.com\\, Inc.//EN",
}


@dataclass(frozen=True)
class Ev:
    """One event of a generated feed: ``kind`` is "reservation", "block", "tentative" or "cancelled"."""

    uid: str
    start: date
    end: date
    kind: str = "reservation"
    name: str = ""


def _summary(platform: str, ev: Ev) -> tuple[str, str]:
    if platform == "airbnb":
        if ev.kind in ("reservation", "cancelled"):
            code = "HM" + ev.uid.upper().replace("-", "")[:8]
            return "Reserved", (f"Reservation URL: https://www.airbnb.com/hosting/reservations/details/{code}\\n"
                                "Phone Number (Last 4 Digits): 1234")
        return "Airbnb (Not available)", ""
    if platform == "booking_com":
        return ("CLOSED - " + (ev.name or "Guest")) if ev.kind == "reservation" else "CLOSED - Not available", ""
    if ev.kind == "block":
        return "Blocked", ""
    if ev.kind == "tentative":
        return f"Tentative - {ev.name or 'Guest'}", ""
    return f"Reserved - {ev.name or 'Guest'}", ""


def ics(platform: str, events, *, stamp: datetime | None = None) -> bytes:
    """A feed of ``platform`` holding ``events`` (CRLF, all-day dates), as the platform exports it."""
    stamp = (stamp or timezone.now()).strftime("%Y%m%dT%H%M%SZ")
    lines = ["BEGIN:VCALENDAR", PRODIDS.get(platform, "PRODID:-//Example//Calendar//EN"), "CALSCALE:GREGORIAN",
             "VERSION:2.0"]
    for ev in events:
        summary, description = _summary(platform, ev)
        lines += ["BEGIN:VEVENT", f"DTSTAMP:{stamp}", f"DTSTART;VALUE=DATE:{ev.start:%Y%m%d}",
                  f"DTEND;VALUE=DATE:{ev.end:%Y%m%d}", f"SUMMARY:{summary}", f"UID:{ev.uid}"]
        if description:
            lines.append(f"DESCRIPTION:{description}")
        if ev.kind == "cancelled":
            lines.append("STATUS:CANCELLED")
        lines.append("END:VEVENT")
    lines.append("END:VCALENDAR")
    return ("\r\n".join(lines) + "\r\n").encode()


def make_connection(prop, platform="airbnb", name="") -> ChannelConnection:
    return ChannelConnection.objects.create(property=prop, platform=platform, name=name,
                                            import_url=f"https://example.com/{platform}.ics")


def sync(conn: ChannelConnection, events, *, at: datetime | None = None):
    """Generate the feed, parse it and apply it, as ``channels.sync`` does after a fetch."""
    at = at or timezone.now()
    snapshot = parse_feed(ics(conn.platform, events, stamp=at), platform=conn.platform, tz=conn.property.timezone,
                          at=at)
    return apply_snapshot(conn, snapshot, at=at)


def day(prop, n: int, at: datetime | None = None) -> date:
    """The property's today (at ``at``) plus ``n`` days."""
    return local_today(prop, at) + timedelta(days=n)


def imported(conn, *, live=True):
    qs = Booking.objects.filter(property=conn.property, source=conn.platform).exclude(external_id="")
    if live:
        qs = qs.filter(status__in=("confirmed", "reserved", "checked_in", "checked_out"))
    return qs.order_by("check_in")


def stays(conn, *, live=True) -> list[tuple[str, date, date]]:
    return [(b.external_id, b.check_in, b.check_out) for b in imported(conn, live=live)]


def lanes(conn) -> dict[str, int]:
    """The overbooking lane of each live imported stay (0: alone on its nights)."""
    return {b.external_id: b.overbooking_lane for b in imported(conn)}


def exported_nights(conn, *, at: datetime | None = None) -> set[date]:
    """Every night our feed for ``conn`` closes (what that platform must not sell), read back from the bytes."""
    calendar = icalendar.Calendar.from_ical(build_feed(conn, at=at))
    nights = set()
    for event in calendar.walk("VEVENT"):
        night, end = event.decoded("DTSTART"), event.decoded("DTEND")
        while night < end:
            nights.add(night)
            night += timedelta(days=1)
    return nights


def nights(start: date, end: date) -> set[date]:
    return {start + timedelta(days=i) for i in range((end - start).days)}


def channel_blocks(conn) -> list[tuple[date, date, bool]]:
    return list(AvailabilityBlock.objects.filter(connection=conn).order_by("start_date")
                .values_list("start_date", "end_date", "tentative"))


def row_counts() -> dict[str, int]:
    return {"bookings": Booking.objects.count(), "events": BookingEvent.objects.count(),
            "outbox": OutboxEvent.objects.count(), "blocks": AvailabilityBlock.objects.count()}
