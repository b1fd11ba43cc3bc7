""""Add to calendar": one booking as an iCalendar (RFC 5545) file, built with ``icalendar``.

The stay is an all-day event: ``DTSTART;VALUE=DATE`` is the arrival day and
``DTEND;VALUE=DATE`` the departure day (exclusive, as RFC 5545 defines it and as
the channels' iCal feeds do). The check-in and check-out times, with the
property's time zone, are in the description.
"""

from __future__ import annotations

from django.utils import timezone
from icalendar import Calendar, Event

from guests.countries import country_name

from .models import CALLED_OFF_STATUSES, Booking, BookingStatus

PRODID = "-//Stayhold//Guest booking//EN"


def booking_calendar(booking: Booking, *, url: str = "") -> bytes:
    prop = booking.property
    cal = Calendar()
    cal.add("prodid", PRODID)
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("method", "PUBLISH")

    event = Event()
    event.add("uid", f"{booking.reference}@stayhold")
    event.add("dtstamp", timezone.now())
    event.add("dtstart", booking.check_in)
    event.add("dtend", booking.check_out)
    event.add("summary", f"Stay at {prop.name} ({booking.reference})")
    place = ", ".join(part for part in (prop.street, prop.city, prop.region, country_name(prop.country)) if part)
    event.add("location", place)
    lines = [
        f"Booking {booking.reference}",
        f"Check-in from {prop.check_in_time:%H:%M}, check-out by {prop.check_out_time:%H:%M} ({prop.timezone} time).",
        f"Guests: {booking.adults} adult{'s' if booking.adults != 1 else ''}"
        + (f", {booking.children} child{'ren' if booking.children != 1 else ''}" if booking.children else ""),
    ]
    if url:
        lines.append(f"Your booking: {url}")
        event.add("url", url)
    event.add("description", "\n".join(lines))
    cancelled = booking.status in CALLED_OFF_STATUSES
    tentative = booking.status in (BookingStatus.HELD, BookingStatus.RESERVED, BookingStatus.INQUIRY)
    event.add("status", "CANCELLED" if cancelled else "TENTATIVE" if tentative else "CONFIRMED")
    event.add("transp", "OPAQUE")
    cal.add_component(event)
    return cal.to_ical()
