"""Parsing rules for what real feeds contain (issue 12 §3): recurrence whose UNTIL differs in form from DTSTART,
bounded expansion of silly rules, events in other time zones or that do not end after they start, and other PMSs'
exports (guest names in SUMMARY, separate check-in and check-out markers).

Fixtures in ``feeds/other/`` are the exports as served, with dates written ``{{D+n}}`` (day 0 plus n days): the parse
tests read them for day 0 = 2030-03-01, the sequences for the property's today, through the real sync path (local
feed server → fetch → parse → reconcile)."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from dateutil import rrule as dateutil_rrule
from django.utils import timezone

from bookings.models import AvailabilityBlock, Booking, BookingStatus
from channels.ical_parse import BLOCK, RESERVATION, classify, other_guest_name, parse_feed
from channels.models import ChannelConnection, SyncRun
from channels.sync import sync_connection
from properties.pricing import local_today
from tests.channels.conftest_import import exported_nights
from tests.channels.conftest_import import nights as nights_of
from tests.factories import PropertyFactory

FEEDS = Path(__file__).parent / "feeds"
AT = datetime(2030, 3, 1, 12, tzinfo=UTC)
D0 = date(2030, 3, 1)


def render(fixture: str, d0: date, edits: dict[str, str] | None = None) -> bytes:
    """The fixture with ``{{D+n}}`` written as the date n days after ``d0`` (``edits`` first: text replacements)."""
    text = (FEEDS / fixture).read_bytes().decode()  # CRLF kept, as served
    for old, new in (edits or {}).items():
        assert old in text, old
        text = text.replace(old, new)
    return re.sub(r"\{\{D([+-]\d+)\}\}", lambda m: f"{d0 + timedelta(days=int(m[1])):%Y%m%d}", text).encode()


def parse(fixture: str, tz: str = "Europe/Berlin", platform: str = "other", **edits):
    return parse_feed(render(fixture, D0, edits), platform=platform, tz=tz, at=AT)


def d(n: int) -> date:
    return D0 + timedelta(days=n)


def nights(snapshot, kind=None) -> list[tuple[date, date]]:
    return [(e.start, e.end) for e in snapshot.events if kind is None or e.kind == kind]


# --- 1. recurrence: UNTIL in another form than DTSTART, and bounded work ------------------------------------------


@pytest.mark.sqlite
def test_until_in_another_form_than_dtstart_is_expanded_as_rfc_5545_intends():
    snap = parse("other/google_until_forms.ics")
    by_event = {}
    for e in snap.events:
        by_event.setdefault(e.uid.split("#")[0], []).append((e.start, e.end))
    # DATE start, UTC date-time UNTIL (23:59:59 local on day 24): every week up to and including day 24.
    assert by_event["0c1eaning5d4y2k7q3w8e9r@google.com"] == [(d(n), d(n + 1)) for n in (3, 10, 17, 24)]
    # Zoned date-time start, DATE UNTIL: the UNTIL day is included whole (day 20's 10:00 occurrence too).
    assert by_event["7y0g4r3tr34t6h1q2w3e4r5t@google.com"] == [(d(n), d(n + 1)) for n in (6, 13, 20)]
    # Zoned date-time start, floating date-time UNTIL (read in DTSTART's zone): 16:00 to 10:00 is one night each.
    assert by_event["f4m1ly0v3rn1ght8a9s0d1f2@google.com"] == [(d(n), d(n + 1)) for n in (1, 15, 29)]
    assert {e.kind for e in snap.events} == {BLOCK}  # a rule never sells a stay
    assert all(re.fullmatch(r".+#\d{4}-\d{2}-\d{2}", e.uid) for e in snap.events)
    assert snap.warnings == []


@pytest.fixture
def rrule_work(monkeypatch):
    """Counts dateutil's periods (one per year, month, week, day, hour… walked): an expansion that walks more than
    ``LIMIT`` fails at once, where unbounded it would run for tens of seconds (no timing involved)."""
    limit, seen = 60_000, {"periods": 0}
    info = dateutil_rrule._iterinfo
    for name in ("ydayset", "mdayset", "wdayset", "ddayset"):
        original = getattr(info, name)

        def counted(self, *args, _original=original):
            seen["periods"] += 1
            if seen["periods"] > limit:
                raise RuntimeError(f"recurrence expansion walked more than {limit} periods")
            return _original(self, *args)

        monkeypatch.setattr(info, name, counted)
    return seen


@pytest.mark.sqlite
def test_sub_daily_and_runaway_rules_cost_a_bounded_amount_of_work(rrule_work):
    snap = parse("other/google_subdaily.ics")
    assert rrule_work["periods"] < 20_000
    by_event = {}
    for e in snap.events:
        by_event.setdefault(e.uid.split("#")[0], []).append((e.start, e.end))
    low, high = date(2029, 12, 31), date(2032, 3, 1)  # 60 days before today, 730 after
    # Every 30 minutes on Mondays since 2020: read as whole days, every Monday of the window.
    mondays = by_event["p00lpump2h8j9k0l1z2x3c4v@google.com"]
    assert mondays[0] == (date(2029, 12, 31), date(2030, 1, 1)) and {s.weekday() for s, _ in mondays} == {0}
    assert len(mondays) == 113 and all(low <= s <= high for s, _ in mondays)
    # Every second from 2030-01-01: every day, each one night, within the window and MAX_OCCURRENCES.
    seconds = by_event["s3c0ndly5v6b7n8m9q0w1e2r@google.com"]
    assert seconds[0] == (date(2030, 1, 1), date(2030, 1, 2)) and len(seconds) == 790
    # A small COUNT is expanded as written: three hours on one morning, one night.
    assert by_event["h0urly3t4y5u6i7o8p9a0s1d@google.com"] == [(date(2030, 3, 10), date(2030, 3, 11))]
    # Every other day since the year 1: no walk through twenty centuries, same days as from the start.
    since_year_one = by_event["y34r0n3f6g7h8j9k0l1z2x3c@google.com"]
    assert all((s - date(1, 1, 1)).days % 2 == 0 for s, _ in since_year_one) and len(since_year_one) == 396
    # 30 February never comes: only the first occurrence (DTSTART), warned, no walk to the year 9999.
    assert by_event["f3b30n3v3r4v5b6n7m8q9w0e@google.com"] == [(date(2030, 1, 15), date(2030, 1, 16))]
    assert any("matches no day" in w for w in snap.warnings)
    assert sum("read as whole days" in w for w in snap.warnings) == 2


def test_a_feed_whose_recurring_events_exceed_the_budget_fails_and_changes_nothing(monkeypatch):
    """The wall-clock budget is checked before each recurring event; -1 means "already spent" (no timing here)."""
    from channels import ical_parse

    monkeypatch.setattr(ical_parse, "RECURRENCE_BUDGET_SECONDS", -1)
    with pytest.raises(ical_parse.FeedError) as exc:
        parse("other/google_subdaily.ics")
    assert exc.value.code == "too_complex" and "nothing was changed" in str(exc.value)
    assert parse("other/hostaway_stays_and_markers.ics").events  # no recurring event: the budget never matters


# --- 2. time zones and events that do not end after they start -----------------------------------------------------


@pytest.mark.sqlite
def test_times_in_other_zones_and_inverted_events_take_every_night_they_may_hold():
    la = parse("other/hostaway_times_and_zones.ics", tz="America/Los_Angeles")
    assert [(e.start, e.end, e.kind, e.guest_name) for e in la.events] == [
        # Midnight UTC = 16:00 the day before in Los Angeles: from that night, and the afternoon end holds day 4.
        (d(1), d(5), RESERVATION, "Kai Nakamura"),
        (d(7), d(8), RESERVATION, "Anna Berg"),  # DTEND = DTSTART: its one night
        (d(9), d(13), RESERVATION, "Tom Ford"),  # DTEND before DTSTART: every night from day 9 through day 12
        (d(15), d(18), RESERVATION, "Yuki Tanaka"),  # all-day: the dates as written (X-WR-TIMEZONE or not)
        (d(19), d(23), RESERVATION, "Hiro Sato"),  # Tokyo 15:00 → LA 22:00 the day before; 10:00 → 17:00
    ]
    assert sum("does not end after its start" in w for w in la.warnings) == 2
    berlin = parse("other/hostaway_times_and_zones.ics", tz="Europe/Berlin")
    assert nights(berlin) == [(d(2), d(5)), (d(7), d(8)), (d(9), d(13)), (d(15), d(18)), (d(20), d(23))]


@pytest.mark.sqlite
@pytest.mark.parametrize(("dtstart", "dtend", "expected"), [
    ("DTSTART;VALUE=DATE:20300310", "DTEND;VALUE=DATE:20300310", (10, 11)),  # zero length all-day
    ("DTSTART:20300310T100000Z", "DTEND:20300310T120000Z", (10, 11)),  # two hours in the morning
    ("DTSTART:20300310T150000Z", "DTEND:20300310T150000Z", (10, 11)),  # zero length timed
    ("DTSTART:20300312T150000Z", "DTEND:20300310T100000Z", (10, 13)),  # timed, reversed
    ("DTSTART:20300310T150000Z", "DTEND:20300313T100000Z", (10, 13)),  # a stay: check-out in the morning
    ("DTSTART:20300310T150000Z", "DTEND:20300313T120000Z", (10, 13)),  # noon is still morning
    ("DTSTART:20300310T150000Z", "DTEND:20300313T121500Z", (10, 14)),  # an afternoon end holds that night
    ("DTSTART;VALUE=DATE:20300310", "DTEND:20300312T180000", (10, 13)),  # mixed forms
])
def test_the_nights_of_one_event(dtstart, dtend, expected):
    data = (f"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Test//EN\r\nBEGIN:VEVENT\r\nUID:x\r\n{dtstart}\r\n"
            f"{dtend}\r\nSUMMARY:Reserved\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n").encode()
    (event,) = parse_feed(data, platform="other", tz="UTC", at=AT).events
    assert (event.start, event.end) == (date(2030, 3, expected[0]), date(2030, 3, expected[1]))


# --- 3. other PMSs: guest names and check-in/check-out markers -----------------------------------------------------


@pytest.mark.sqlite
@pytest.mark.parametrize(("summary", "name"), [
    ("John Smith", "John Smith"),
    ("Booking: John Smith (Airbnb)", "John Smith"),
    ("Reservation - Anna Berg #48213", "Anna Berg"),
    ("Reserved - Łukasz Wójcik", "Łukasz Wójcik"),
    ("Smith, John [Booking.com]", "Smith, John"),
    ("Jane Doe - Airbnb", "Jane Doe"),
    ("Reserved", ""),
    ("Booking.com", ""),
    ("12345", ""),
])
def test_the_guest_name_in_another_pms_summary(summary, name):
    assert other_guest_name(summary) == name
    assert classify("other", summary=summary, description="") .guest_name == name


@pytest.mark.sqlite
def test_markers_covered_by_a_stay_event_are_dropped():
    snap = parse("other/hostaway_stays_and_markers.ics")
    assert [(e.uid, e.start, e.end, e.kind, e.guest_name) for e in snap.events] == [
        ("hostaway-res-81234@hostaway.com", d(3), d(6), RESERVATION, "John Smith"),
        ("hostaway-res-81240@hostaway.com", d(6), d(9), RESERVATION, "Maria Garcia"),
        ("hostaway-block-9921@hostaway.com", d(12), d(14), BLOCK, ""),
    ]
    assert snap.warnings == []


@pytest.mark.sqlite
def test_markers_without_a_stay_event_are_paired_and_unpaired_ones_still_block():
    snap = parse("other/guesty_markers_only.ics")
    assert [(e.uid, e.start, e.end, e.kind, e.guest_name) for e in snap.events] == [
        ("gy-evt-30001@guesty.com", d(0), d(1), BLOCK, ""),  # check-out, its check-in already past: to today
        ("gy-evt-30002@guesty.com", d(2), d(5), RESERVATION, "Lena Vogel"),  # paired by booking id
        ("gy-evt-30004@guesty.com", d(5), d(9), RESERVATION, "Pierre Martin"),  # no id: the next check-out
        ("gy-evt-30009@guesty.com", d(20), d(21), BLOCK, ""),  # check-in, check-out beyond the export: its night
    ]
    assert sum("marker" in w for w in snap.warnings) == 2


@pytest.mark.sqlite
def test_markers_of_different_reservations_are_not_paired():
    snap = parse("other/guesty_markers_only.ics", **{
        "SUMMARY:Check-out Pierre Martin": "SUMMARY:Check-out Pierre Martin\r\nDESCRIPTION:Booking ID: GY-60000",
        "SUMMARY:Check-in Pierre Martin": "SUMMARY:Check-in Pierre Martin\r\nDESCRIPTION:Booking ID: GY-59999"})
    assert (d(5), d(6)) in nights(snap, BLOCK)  # the check-in keeps its night
    assert (d(6), d(9)) in nights(snap, BLOCK)  # the check-out: from the end of what comes before it
    assert nights(snap, RESERVATION) == [(d(2), d(5))]


@pytest.mark.sqlite
def test_markers_are_paired_only_for_other_calendars():
    snap = parse("other/guesty_markers_only.ics", platform="google_vr")
    assert len(snap.events) == 6  # a platform's own export is read as it is


# --- sequences through the real sync path ------------------------------------------------------------------------


def connection(server, tz: str) -> ChannelConnection:
    return ChannelConnection.objects.create(property=PropertyFactory(timezone=tz), platform="other",
                                            import_url=server.url("/feed.ics"))


def fetch(server, conn, body: bytes, at) -> SyncRun:
    """One fetch through the real sync path; then every stay it holds is closed in another platform's feed too."""
    server.route("/feed.ics", body)
    run = sync_connection(conn.pk, at=at)
    assert run.outcome == SyncRun.Outcome.OK, run.error
    other, _ = ChannelConnection.objects.get_or_create(property=conn.property, platform="airbnb")
    exported = exported_nights(other, at=at)
    for stay in Booking.objects.filter(property=conn.property, source="other").occupying(at):
        assert nights_of(stay.check_in, stay.check_out) <= exported, stay
    return run


def taken(conn) -> dict[str, list]:
    """The nights taken after a fetch: imported stays (with the guest's name) and channel blocks."""
    stays = [(b.external_id, b.check_in, b.check_out, b.guest.name)
             for b in Booking.objects.filter(property=conn.property, status=BookingStatus.CONFIRMED)
             .select_related("guest").order_by("check_in")]
    blocks = list(AvailabilityBlock.objects.filter(connection=conn).order_by("start_date")
                  .values_list("start_date", "end_date"))
    return {"stays": stays, "blocks": blocks}


@pytest.mark.django_db
def test_a_hand_kept_calendar_with_mixed_until_forms_over_three_days(server):
    conn = connection(server, "Europe/Berlin")
    now = timezone.now()
    d0 = local_today(conn.property, now)
    day = lambda n: d0 + timedelta(days=n)  # noqa: E731

    # Day 0: three rules whose UNTIL differs in form from DTSTART — once skipped, now every occurrence blocks.
    fetch(server, conn, render("other/google_until_forms.ics", d0), now)
    assert taken(conn) == {"stays": [], "blocks": [(day(n), day(n + 1)) for n in (1, 3, 6, 10, 13, 15, 17, 20, 24,
                                                                                    29)]}
    # Day 1: the owner ends the cleaning days a week earlier (UNTIL still in UTC) and skips one yoga weekend.
    edits = {"UNTIL={{D+24}}T225959Z": "UNTIL={{D+17}}T225959Z",
             "RRULE:FREQ=WEEKLY;UNTIL={{D+20}}": "RRULE:FREQ=WEEKLY;UNTIL={{D+20}}\r\nEXDATE;TZID=Europe/Berlin:"
                                                 "{{D+13}}T100000"}
    fetch(server, conn, render("other/google_until_forms.ics", d0, edits), now + timedelta(days=1))
    assert taken(conn)["blocks"] == [(day(n), day(n + 1)) for n in (1, 3, 6, 10, 15, 17, 20, 29)]
    # Day 2: the same feed again: only the night that has passed is gone.
    fetch(server, conn, render("other/google_until_forms.ics", d0, edits), now + timedelta(days=2))
    assert taken(conn)["blocks"] == [(day(n), day(n + 1)) for n in (3, 6, 10, 15, 17, 20, 29)]


@pytest.mark.django_db
def test_a_pms_export_in_utc_for_a_property_in_los_angeles_over_two_days(server):
    conn = connection(server, "America/Los_Angeles")
    now = timezone.now()
    d0 = local_today(conn.property, now)
    day = lambda n: d0 + timedelta(days=n)  # noqa: E731

    # Day 0: the UTC-midnight stay holds its last night (day 4) too; the zero-length and reversed stays hold theirs.
    run = fetch(server, conn, render("other/hostaway_times_and_zones.ics", d0), now)
    assert taken(conn)["stays"] == [
        ("hostaway-res-70411@hostaway.com", day(1), day(5), "Kai Nakamura"),
        ("hostaway-res-70415@hostaway.com", day(7), day(8), "Anna Berg"),
        ("hostaway-res-70420@hostaway.com", day(9), day(13), "Tom Ford"),
        ("hostaway-res-70433@hostaway.com", day(15), day(18), "Yuki Tanaka"),
        ("hostaway-res-70440@hostaway.com", day(19), day(23), "Hiro Sato"),
    ]
    conn.refresh_from_db()
    assert sum("does not end after its start" in w for w in conn.last_counts["warnings"]) == 2
    assert run.events_seen == 5
    # Day 1: the PMS repairs its export: Anna stays two nights, Tom's dates are the right way round.
    edits = {"DTEND;VALUE=DATE:{{D+7}}": "DTEND;VALUE=DATE:{{D+9}}",
             "DTSTART;VALUE=DATE:{{D+12}}\r\nDTEND;VALUE=DATE:{{D+9}}":
                 "DTSTART;VALUE=DATE:{{D+9}}\r\nDTEND;VALUE=DATE:{{D+12}}"}
    fetch(server, conn, render("other/hostaway_times_and_zones.ics", d0, edits), now + timedelta(days=1))
    assert [(s[1], s[2]) for s in taken(conn)["stays"]] == [(day(1), day(5)), (day(7), day(9)), (day(9), day(12)),
                                                            (day(15), day(18)), (day(19), day(23))]
    conn.refresh_from_db()
    assert conn.last_counts["warnings"] == []


@pytest.mark.django_db
def test_a_pms_exporting_check_in_and_check_out_markers_over_four_days(server):
    conn = connection(server, "Europe/Berlin")
    now = timezone.now()
    d0 = local_today(conn.property, now)
    day = lambda n: d0 + timedelta(days=n)  # noqa: E731
    feed = "other/guesty_markers_only.ics"

    # Day 0: two stays from their markers; the in-house guest's departure and a lone arrival block their nights.
    fetch(server, conn, render(feed, d0), now)
    assert taken(conn) == {
        "stays": [("gy-evt-30002@guesty.com", day(2), day(5), "Lena Vogel"),
                  ("gy-evt-30004@guesty.com", day(5), day(9), "Pierre Martin")],
        "blocks": [(day(0), day(1)), (day(20), day(21))],
    }
    # Day 1: Omar has left (the PMS drops his marker); Sofia's departure appears: her stay replaces the block.
    arrival = "SUMMARY:Arrival: Sofia Rossi\r\nDESCRIPTION:Booking ID: GY-55107\r\nEND:VEVENT\r\n"
    departure = arrival + ("BEGIN:VEVENT\r\nUID:gy-evt-30010@guesty.com\r\nDTSTART;VALUE=DATE:{{D+24}}\r\n"
                           "DTEND;VALUE=DATE:{{D+25}}\r\nSUMMARY:Departure: Sofia Rossi\r\n"
                           "DESCRIPTION:Booking ID: GY-55107\r\nEND:VEVENT\r\n")
    omar = ("BEGIN:VEVENT\r\nUID:gy-evt-30001@guesty.com\r\nDTSTAMP:20260101T090000Z\r\nDTSTART;VALUE=DATE:{{D+1}}\r\n"
            "DTEND;VALUE=DATE:{{D+2}}\r\nSUMMARY:Departure: Omar Haddad\r\nDESCRIPTION:Booking ID: GY-54990\r\n"
            "END:VEVENT\r\n")
    day1 = {arrival: departure, omar: ""}
    fetch(server, conn, render(feed, d0, day1), now + timedelta(days=1))
    assert taken(conn) == {
        "stays": [("gy-evt-30002@guesty.com", day(2), day(5), "Lena Vogel"),
                  ("gy-evt-30004@guesty.com", day(5), day(9), "Pierre Martin"),
                  ("gy-evt-30009@guesty.com", day(20), day(24), "Sofia Rossi")],
        "blocks": [],
    }
    # Day 2: Pierre extends by two nights: his check-out marker moves, the stay (keyed by its check-in) moves.
    day2 = {**day1, "DTSTART;VALUE=DATE:{{D+9}}\r\nDTEND;VALUE=DATE:{{D+10}}":
            "DTSTART;VALUE=DATE:{{D+11}}\r\nDTEND;VALUE=DATE:{{D+12}}"}
    fetch(server, conn, render(feed, d0, day2), now + timedelta(days=2))
    assert [(s[0], s[1], s[2]) for s in taken(conn)["stays"]][1] == ("gy-evt-30004@guesty.com", day(5), day(11))
    # Day 3: the PMS now exports each stay as one event as well: the markers are dropped, nothing is doubled
    # (Sofia's stay is now keyed by its own event: the one from her markers gives way to it in the same run).
    sofia = ("BEGIN:VEVENT\r\nUID:gy-res-55107@guesty.com\r\nDTSTART;VALUE=DATE:{{D+20}}\r\nDTEND;VALUE=DATE:{{D+24}}"
             "\r\nSUMMARY:Sofia Rossi (Vrbo)\r\nEND:VEVENT\r\nEND:VCALENDAR")
    day3 = {**day2, "END:VCALENDAR": sofia}
    run = fetch(server, conn, render(feed, d0, day3), now + timedelta(days=3))
    assert taken(conn) == {
        "stays": [("gy-evt-30002@guesty.com", day(2), day(5), "Lena Vogel"),
                  ("gy-evt-30004@guesty.com", day(5), day(11), "Pierre Martin"),
                  ("gy-res-55107@guesty.com", day(20), day(24), "Sofia Rossi")],
        "blocks": [],
    }
    assert (run.created, run.cancelled, run.conflicts) == (1, 1, 0)
    assert not conn.conflicts.exists()
