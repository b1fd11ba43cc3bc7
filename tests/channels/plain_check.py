"""A check of the plain-feed reader (``channels.ical_parse._plain_events``) against icalendar, on every feed the
channel tests parse: ``tests/channels/conftest.py`` wraps the reader with :func:`checked_plain_events` for every test
of the directory, so each feed the plain reader accepts is also read by icalendar and every value the parser uses
must be equal."""

from __future__ import annotations

import icalendar

from channels import ical_parse

READ = ("uid", "summary", "description", "status", "transp")
DATES = ("dtstart", "dtend", "dtstamp", "last-modified", "recurrence-id", "duration")


def reading(comp) -> dict:
    """Everything ``parse_feed`` reads from one VEVENT."""
    return {
        **{name: ical_parse._text(comp, name) for name in READ},
        **{name: ical_parse._dt(comp, name) for name in DATES},
        **{f"tzid-{name}": ical_parse._unknown_tzid(comp, name) for name in ("dtstart", "dtend")},
        "sequence": ical_parse._int(comp, "sequence"),
        "recurs": [comp.get(name) is not None for name in ("rrule", "rdate", "recurrence-id")],
        "stamp": ical_parse._dtstamp(comp),
        "key": ical_parse._reservation_key(comp),
    }


def checked_plain_events(original):
    def check(text: str):
        plain = original(text)
        if plain is not None:
            full = list(icalendar.Calendar.from_ical(text).walk("VEVENT"))
            assert [reading(c) for c in plain] == [reading(c) for c in full], "plain reader differs from icalendar"
        return plain

    return check
