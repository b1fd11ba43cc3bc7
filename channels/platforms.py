"""Per-platform set-up guides for channel connections: what to paste where, in each platform's own words.

Shown on a connection's admin page (``channels.admin``) next to our export URL,
and written out for people in the README (section "Channel manager"). Keep the two in step.

Every connection needs two pastes:

* **their URL here** — the platform's iCal *export* address of the listing goes
  into the connection's "import URL" (we poll it every ``poll_interval_minutes``);
* **our URL there** — the connection's export URL (``/ical/<token>.ics``) goes
  into the platform's calendar *import* ("connect another calendar").

Menu names are those the platforms used in 2025–2026; they move things around,
so each guide also names the platform's own help page and what to search for.
How often a platform re-reads the calendars it imports is up to the platform:
the figures below are what hosts typically see, not something we control.
"""

from __future__ import annotations

from dataclasses import dataclass

from .models import Platform


@dataclass(frozen=True)
class PlatformGuide:
    platform: str
    name: str
    find_their_url: tuple[str, ...]   # steps to the platform's export URL (paste it here)
    paste_our_url: tuple[str, ...]    # steps to the platform's calendar import (paste ours there)
    their_url_looks_like: str
    refresh: str                      # how often the platform re-reads our feed (typically)
    notes: tuple[str, ...]
    help_title: str
    help_url: str
    help_search: str                  # what to search for in the platform's help if the page moved


GUIDES: dict[str, PlatformGuide] = {g.platform: g for g in (
    PlatformGuide(
        platform=Platform.AIRBNB,
        name="Airbnb",
        find_their_url=(
            "On airbnb.com (a browser, not the app), go to Listings and open the listing.",
            "Open Availability (the listing's calendar settings) and scroll to \u201cConnect calendars\u201d / "
            "\u201cSync calendars\u201d.",
            "Choose \u201cExport calendar\u201d and copy the link.",
        ),
        paste_our_url=(
            "In the same place choose \u201cConnect to another website\u201d / \u201cImport calendar\u201d.",
            "Paste our export URL as the calendar address and name it \u201cStayhold\u201d.",
        ),
        their_url_looks_like="https://www.airbnb.com/calendar/ical/<listing id>.ics?s=<secret>",
        refresh="Airbnb re-reads imported calendars on its own schedule, typically every few hours.",
        notes=(
            "Airbnb's feed shows reservations as \u201cReserved\u201d (with a reservation link) and every other "
            "unavailable date as \u201cAirbnb (Not available)\u201d, including the rolling window beyond your booking "
            "horizon and nights closed by your advance-notice and preparation-time settings. Those become channel "
            "blocks here, not bookings.",
            "Airbnb's feed carries no guest names: imported stays are named \u201cAirbnb guest\u201d.",
        ),
        help_title="Airbnb Help: Sync your calendars",
        help_url="https://www.airbnb.com/help/article/99",
        help_search="sync calendar",
    ),
    PlatformGuide(
        platform=Platform.BOOKING_COM,
        name="Booking.com",
        find_their_url=(
            "In the Booking.com extranet (admin.booking.com), open Rates & Availability \u2192 Sync calendars "
            "(shown only to properties that may use calendar sync: one unit per room type, no channel manager "
            "or XML connection).",
            "Click \u201cAdd calendar connection\u201d for the room/unit; at the export step name the connection "
            "and click \u201cExport calendar\u201d, then copy the link (copy it now: it is harder to find later).",
            "Under \u201cExport options\u201d choose \u201cBooked and closed dates\u201d if you want dates you close "
            "by hand on Booking.com to reach us too.",
        ),
        paste_our_url=(
            "At the import step of the same \u201cAdd calendar connection\u201d, paste our export URL and name it "
            "\u201cStayhold\u201d.",
        ),
        their_url_looks_like="https://admin.booking.com/hotel/hoteladmin/ical.html?t=<secret>",
        refresh="Booking.com re-reads imported calendars on its own schedule, typically within an hour or two.",
        notes=(
            "Booking.com's feed names every closed date \u201cCLOSED - Not available\u201d, reservations included, "
            "unless the reservation carries a guest name (\u201cCLOSED - Name\u201d): where the two cannot be told "
            "apart the dates come in as channel blocks, which still close them for direct bookings.",
            "The connection shows \u201cActivating\u201d on Booking.com until it has read our feed once.",
        ),
        help_title="Booking.com Partner Help: syncing your calendar with other websites",
        help_url="https://partner.booking.com/en-gb/help",
        help_search="sync calendars",
    ),
    PlatformGuide(
        platform=Platform.EXPEDIA,
        name="Expedia",
        find_their_url=(
            "A Vrbo listing is also sold on Expedia and Hotels.com: its Expedia bookings appear in the Vrbo "
            "calendar, so connect Vrbo (one connection covers both) and skip this one.",
            "A property managed in Expedia Partner Central (apps.expediapartnercentral.com): open Rates & "
            "Inventory and look for the calendar sync / iCal export of the unit, where Expedia offers it "
            "(vacation-rental-type properties); copy the export link.",
        ),
        paste_our_url=(
            "In the same calendar sync page add an imported calendar and paste our export URL.",
            "If Partner Central offers no calendar sync for your property, Expedia connects only through a "
            "connectivity partner (API): iCal cannot be used for it, keep the connection export-free and close "
            "dates on Expedia by hand.",
        ),
        their_url_looks_like="an https:// address ending in .ics given by Partner Central",
        refresh="Expedia re-reads imported calendars on its own schedule, typically every few hours.",
        notes=("Expedia's iCal feeds carry no guest names: imported stays are named \u201cExpedia guest\u201d.",),
        help_title="Expedia Partner Central Help",
        help_url="https://help.expediapartnercentral.com/",
        help_search="calendar sync iCal",
    ),
    PlatformGuide(
        platform=Platform.FEWO_DIREKT,
        name="Vrbo / FeWo-direkt",
        find_their_url=(
            "Vrbo (and its brands FeWo-direkt, Abritel, Stayz): in the owner dashboard open the property's "
            "Calendar (Reservations \u2192 Calendar).",
            "Open \u201cImport & export\u201d (FeWo-direkt: \u201cImportieren und exportieren\u201d), choose "
            "\u201cExport calendar\u201d and copy the link.",
        ),
        paste_our_url=(
            "In the same menu choose \u201cImport calendar\u201d, name it \u201cStayhold\u201d and paste our "
            "export URL.",
        ),
        their_url_looks_like="https://www.vrbo.com/icalendar/<id>.ics (fewo-direkt.de / abritel.fr alike)",
        refresh="Vrbo re-reads imported calendars on its own schedule, typically every hour or two.",
        notes=(
            "Vrbo's feed names reservations \u201cReserved - Guest name\u201d (\u201cR\u00e9serv\u00e9e - \u2026\u201d "
            "on Abritel), owner holds \u201cBlocked\u201d (\u201cIndisponible\u201d) and tentative requests "
            "\u201cTentative\u201d (\u201cProvisoire\u201d): tentative dates are blocked here and shown as tentative.",
            "Vrbo bookings made on Expedia.com or Hotels.com come through this same calendar.",
        ),
        help_title="Vrbo Help: import and export calendars",
        help_url="https://help.vrbo.com/",
        help_search="import export calendar iCal",
    ),
    PlatformGuide(
        platform=Platform.GOOGLE_VR,
        name="Google Vacation Rentals",
        find_their_url=(
            "Google has no host calendar to paste into: Google Vacation Rentals shows listings sent by its "
            "connectivity partners (property-management systems and channel managers) and hands the booking to "
            "the partner's site.",
            "If your Google listing comes from such a partner, take the iCal export URL of the listing from that "
            "partner's calendar settings.",
        ),
        paste_our_url=(
            "Paste our export URL into that partner's calendar import, so Google shows our availability.",
            "Without such a partner there is nothing to connect: Stayhold does not list on Google by itself.",
        ),
        their_url_looks_like="the partner's https:// iCal address",
        refresh="The partner re-reads our feed on its own schedule; Google then refreshes from the partner.",
        notes=("Stays booked through a Google partner arrive from that partner's calendar and are recorded with "
               "the source \u201cGoogle Vacation Rentals\u201d.",),
        help_title="Google Hotel Center Help: Integrate with Vacation Rentals",
        help_url="https://support.google.com/hotelprices/answer/10224602",
        help_search="vacation rentals connectivity partners",
    ),
    PlatformGuide(
        platform=Platform.OTHER,
        name="Another calendar",
        find_their_url=(
            "Any site or calendar that publishes iCal (.ics) works: look for \u201cexport calendar\u201d, "
            "\u201ciCal link\u201d or \u201csecret address in iCal format\u201d (Google Calendar) and copy it.",
        ),
        paste_our_url=("Paste our export URL where the site offers \u201cimport calendar\u201d or "
                       "\u201csubscribe by URL\u201d.",),
        their_url_looks_like="an http(s):// or webcal:// address ending in .ics",
        refresh="The other site re-reads our feed on its own schedule.",
        notes=("Events are imported as reservations when they look like one, otherwise as channel blocks.",),
        help_title="RFC 5545 (iCalendar)",
        help_url="https://www.rfc-editor.org/rfc/rfc5545",
        help_search="export calendar iCal",
    ),
)}


def guide_for(platform: str) -> PlatformGuide:
    return GUIDES.get(platform, GUIDES[Platform.OTHER])
