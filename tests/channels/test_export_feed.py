"""The iCal export feed (channels.ical_export): what it holds, read back by two independent parsers.

Every feed here is parsed with ``icalendar`` *and* with ``ical`` (a separate
RFC 5545 implementation, pydantic-based and strict), and both readings must
equal what the database holds.
"""

import re
from datetime import UTC, date, timedelta

import icalendar
import pytest
from django.utils import timezone
from ical.calendar_stream import IcsCalendarStream

from bookings import services
from bookings.models import Booking, BookingStatus
from channels import ical_export
from channels.ical_export import (
    EXPORT_FUTURE_DAYS,
    PRODID,
    buffer_runs,
    build_feed,
    feed_version,
    load_feed_data,
    render,
    render_with_icalendar,
)
from channels.models import ChannelConnection, Platform
from core.actor import Actor
from guests.services import GuestInput
from properties import services as property_services
from properties.availability import calendar as availability_calendar
from tests.factories import PropertyFactory, future

pytestmark = [pytest.mark.django_db, pytest.mark.sqlite]  # also proven on the embedded SQLite default

HOST = "stayhold.example"
SYSTEM = Actor.system("test")


@pytest.fixture(autouse=True)
def _site_and_cache(settings, clear_cache):
    settings.SITE_URL = f"https://{HOST}"


# --- helpers (also used by test_export_view) ------------------------------------------------------


def connect(prop, platform=Platform.AIRBNB, name=""):
    return ChannelConnection.objects.create(property=prop, platform=platform, name=name)


def imported(prop, source, uid, start, nights, name="Imported guest"):
    return services.import_external(property_id=prop.pk, source=source, external_id=uid, check_in=future(start),
                                    check_out=future(start + nights), guest=GuestInput(name=name)).booking


def hold(prop, start, nights, *, minutes=30, at=None):
    return services.hold(property_id=prop.pk, check_in=future(start), check_out=future(start + nights), adults=2,
                         actor=SYSTEM, minutes=minutes, at=at, email="holder@example.com")


def owner_block(prop, start, nights):
    return property_services.create_block(property_id=prop.pk, start_date=future(start),
                                          end_date=future(start + nights))


def read_icalendar(body: bytes) -> dict[str, tuple[date, date, str]]:
    cal = icalendar.Calendar.from_ical(body)
    return {
        str(ev["UID"]): (ev.decoded("DTSTART"), ev.decoded("DTEND"), str(ev["SUMMARY"]))
        for ev in cal.walk("VEVENT")
    }


def read_ical(body: bytes) -> dict[str, tuple[date, date, str]]:
    cal = IcsCalendarStream.calendar_from_ics(body.decode())
    return {ev.uid: (ev.dtstart, ev.dtend, ev.summary) for ev in cal.events}


def read_both(body: bytes) -> dict[str, tuple[date, date, str]]:
    """The events as both parsers read them; they must agree, and every date must be a plain DATE."""
    first, second = read_icalendar(body), read_ical(body)
    assert first == second
    for start, end, _summary in first.values():
        assert type(start) is date and type(end) is date and end > start
    return first


def unescape_text(value: str) -> str:
    """RFC 5545 TEXT unescaping (3.3.11), written out here so that the test does not trust the code under test."""
    return re.sub(r"\\([\\;,nN])", lambda m: "\n" if m.group(1) in "nN" else m.group(1), value)


def stay(booking) -> tuple[str, tuple[date, date, str]]:
    return f"booking-{booking.pk}@{HOST}", (booking.check_in, booking.check_out, "Reserved")


def block_event(block) -> tuple[str, tuple[date, date, str]]:
    return f"block-{block.pk}@{HOST}", (block.start_date, block.end_date, "Blocked")


def buffer_event(prop, start: date, end: date) -> tuple[str, tuple[date, date, str]]:
    return f"buffer-{prop.pk}-{start:%Y%m%d}@{HOST}", (start, end, "Not available")


# --- what the feed holds -------------------------------------------------------------------------------


def test_the_feed_holds_live_stays_and_owner_blocks_and_both_parsers_read_the_same(prop, book):
    airbnb = connect(prop, Platform.AIRBNB)
    reserved = book(prop, start=10, nights=3)
    confirmed = services.confirm(booking_id=book(prop, start=20, nights=4).pk, actor=SYSTEM)
    live_hold = hold(prop, 30, 2)
    lapsed_hold = hold(prop, 40, 2, minutes=10, at=timezone.now() - timedelta(hours=1))
    cancelled = services.cancel(booking_id=book(prop, start=50, nights=2).pk, actor=SYSTEM, reason="test")
    block = owner_block(prop, 60, 5)
    property_services.replace_channel_blocks(connection=airbnb, blocks=[(future(70), future(75), False, "x")])
    booking_com = imported(prop, Platform.BOOKING_COM, "bdc-1", 80, 3)
    recent_past = imported(prop, Platform.EXPEDIA, "exp-recent", -10, 3)  # inside the 30 past days
    old_past = imported(prop, Platform.EXPEDIA, "exp-old", -40, 3)  # ended before the window

    events = read_both(build_feed(airbnb))

    expected = dict([stay(reserved), stay(confirmed), stay(live_hold), block_event(block), stay(booking_com),
                     stay(recent_past)])
    assert events == expected
    assert lapsed_hold.status == BookingStatus.HELD  # lapsed but not yet marked: still absent
    assert cancelled.status == BookingStatus.CANCELLED and stay(cancelled)[0] not in events
    assert stay(old_past)[0] not in events
    assert not any(uid.startswith("block-") and uid != block_event(block)[0] for uid in events)  # no channel block


def test_echo_suppression_across_two_connections(prop, book):
    airbnb, booking_com = connect(prop, Platform.AIRBNB), connect(prop, Platform.BOOKING_COM)
    direct = book(prop, start=5, nights=2)
    from_airbnb = imported(prop, Platform.AIRBNB, "HMABC123@airbnb.com", 10, 3)
    from_booking_com = imported(prop, Platform.BOOKING_COM, "bdc-77", 20, 3)

    airbnb_feed = read_both(build_feed(airbnb))
    booking_com_feed = read_both(build_feed(booking_com))

    assert airbnb_feed == dict([stay(direct), stay(from_booking_com)])
    assert booking_com_feed == dict([stay(direct), stay(from_airbnb)])


def test_a_second_connection_of_another_platform_gets_every_import(prop):
    """Echo suppression is by platform: an 'other' calendar sees the Airbnb and Booking.com stays."""
    other = connect(prop, Platform.OTHER)
    stays = [imported(prop, Platform.AIRBNB, "a1", 10, 2), imported(prop, Platform.BOOKING_COM, "b1", 20, 2)]
    assert read_both(build_feed(other)) == dict(stay(b) for b in stays)


def test_a_cancelled_import_leaves_every_feed(prop):
    booking_com = connect(prop, Platform.BOOKING_COM)
    airbnb_stay = imported(prop, Platform.AIRBNB, "a1", 10, 2)
    assert stay(airbnb_stay)[0] in read_both(build_feed(booking_com))
    services.import_external(property_id=prop.pk, source=Platform.AIRBNB, external_id="a1", check_in=future(10),
                             check_out=future(12), guest=GuestInput(name="x"), cancelled=True)
    assert read_both(build_feed(booking_com)) == {}


def test_buffer_days_before_and_after_each_stay_merge_into_runs(prop, book):
    prop.buffer_days = 2
    prop.save()
    airbnb = connect(prop, Platform.AIRBNB)
    first = book(prop, start=10, nights=3)  # nights 10-12, buffers 8-9 and 13-14
    second = book(prop, start=15, nights=3)  # the earliest allowed: buffers 13-14 (shared) and 18-19
    from_airbnb = imported(prop, Platform.AIRBNB, "a1", 30, 2)  # not in Airbnb's feed; its buffers are

    events = read_both(build_feed(airbnb))

    assert events == dict([
        stay(first), stay(second),
        buffer_event(prop, future(8), future(10)),
        buffer_event(prop, future(13), future(15)),
        buffer_event(prop, future(18), future(20)),
        buffer_event(prop, future(28), future(30)),
        buffer_event(prop, future(32), future(34)),
    ])
    assert stay(from_airbnb)[0] not in events


def test_buffer_nights_are_exactly_those_the_availability_calendar_keeps_free(prop, book):
    """The exported buffer mirrors properties.availability, night by night."""
    prop.buffer_days = 3
    prop.save()
    connection = connect(prop, Platform.BOOKING_COM)
    book(prop, start=4, nights=2)
    book(prop, start=9, nights=1)
    imported(prop, Platform.AIRBNB, "a1", 16, 4)
    owner_block(prop, 30, 2)  # no buffer around a block
    start, end = future(0), future(45)

    exported = set()
    for uid, (s, e, _summary) in read_both(build_feed(connection)).items():
        if uid.startswith("buffer-"):
            exported.update(s + timedelta(days=i) for i in range((e - s).days))
    kept_free = {day.date for day in availability_calendar(prop, start, end) if day.note == "buffer"}

    assert kept_free and exported == kept_free


def test_buffer_runs_skip_nights_that_a_stay_occupies():
    stamp = timezone.now()
    d = date(2030, 1, 1)
    rows = [(1, d, d + timedelta(days=2), stamp, "direct", ""),
            (2, d + timedelta(days=3), d + timedelta(days=5), stamp + timedelta(seconds=5), "direct", "")]
    runs = buffer_runs(rows, 2)
    assert runs == [(d - timedelta(days=2), d, stamp),
                    (d + timedelta(days=2), d + timedelta(days=3), stamp + timedelta(seconds=5)),
                    (d + timedelta(days=5), d + timedelta(days=7), stamp + timedelta(seconds=5))]
    assert buffer_runs(rows, 0) == []


def test_the_window_runs_from_30_days_ago_to_two_years_ahead(prop):
    connection = connect(prop)
    inside = owner_block(prop, EXPORT_FUTURE_DAYS - 3, 2)
    beyond = owner_block(prop, EXPORT_FUTURE_DAYS + 1, 2)
    straddling = imported(prop, Platform.EXPEDIA, "e1", -32, 5)  # ended 27 days ago: overlaps the window
    events = read_both(build_feed(connection))
    assert block_event(inside)[0] in events and stay(straddling)[0] in events
    assert block_event(beyond)[0] not in events


def test_the_window_reaches_the_booking_horizon_when_it_is_longer(prop):
    prop.max_advance_days = EXPORT_FUTURE_DAYS + 100
    prop.save()
    connection = connect(prop)
    far = owner_block(prop, EXPORT_FUTURE_DAYS + 50, 2)
    assert block_event(far)[0] in read_both(build_feed(connection))


def test_no_guest_data_in_the_feed(prop, book, guest_input):
    connection = connect(prop, Platform.BOOKING_COM)
    direct = book(prop, start=10, nights=3, special_requests="Late arrival, call +1 555 0100")
    imported(prop, Platform.AIRBNB, "a1", 20, 2, name="Grace Hopper")
    body = build_feed(connection)
    for secret in (guest_input.name, guest_input.email, guest_input.phone, "Grace Hopper", "Late arrival",
                   "555", direct.reference, "Lovelace", "ada@"):
        assert secret.encode() not in body
    assert {summary for _s, _e, summary in read_both(body).values()} == {"Reserved"}


def test_all_day_events_with_an_exclusive_end_and_the_calendar_properties(prop, book):
    connection = connect(prop)
    booking = book(prop, start=10, nights=3)
    body = build_feed(connection)
    assert f"DTSTART;VALUE=DATE:{booking.check_in:%Y%m%d}\r\n".encode() in body
    assert f"DTEND;VALUE=DATE:{booking.check_out:%Y%m%d}\r\n".encode() in body  # the check-out day
    assert (booking.check_out - booking.check_in).days == 3
    cal = icalendar.Calendar.from_ical(body)
    assert str(cal["PRODID"]) == PRODID == "-//Stayhold//Channel feed//EN"
    assert (str(cal["VERSION"]), str(cal["CALSCALE"]), str(cal["METHOD"])) == ("2.0", "GREGORIAN", "PUBLISH")
    assert str(cal["X-WR-CALNAME"]) == prop.name
    event = cal.walk("VEVENT")[0]
    assert (str(event["TRANSP"]), str(event["STATUS"])) == ("OPAQUE", "CONFIRMED")
    assert event.decoded("DTSTAMP") == booking.updated_at.replace(microsecond=0).astimezone(UTC)


def test_holds_are_confirmed_events_too(prop):
    """A live hold's nights are not for sale: it is exported like any stay (no TENTATIVE an importer may skip)."""
    connection = connect(prop)
    hold(prop, 10, 2)
    event = icalendar.Calendar.from_ical(build_feed(connection)).walk("VEVENT")[0]
    assert str(event["STATUS"]) == "CONFIRMED" and str(event["SUMMARY"]) == "Reserved"


def test_crlf_and_lines_folded_at_75_octets_with_a_long_non_ascii_name(db):
    name = ("Ferienhaus Schön Ålesund – Château Élysée «Žluťoučký kůň» 日本の家 ") * 4
    name = name[:200]
    prop = PropertyFactory(name=name)
    prop.refresh_from_db()
    assert len(prop.name) == 200 and len(prop.name.encode()) > 200
    connection = connect(prop)
    owner_block(prop, 10, 2)
    body = build_feed(connection)

    assert body.endswith(b"END:VCALENDAR\r\n")
    assert b"\n" not in body.replace(b"\r\n", b"")  # no bare LF
    assert b"\r" not in body.replace(b"\r\n", b"")  # no bare CR
    lines = body.split(b"\r\n")[:-1]
    assert max(len(line) for line in lines) <= 75
    assert any(line.startswith(b" ") for line in lines)  # the name was folded
    for line in lines:
        line.decode()  # a fold never splits a UTF-8 character
    assert str(icalendar.Calendar.from_ical(body)["X-WR-CALNAME"]) == name
    extras = {p.name: p.value for p in IcsCalendarStream.calendar_from_ics(body.decode()).extras}
    assert extras["x-wr-calname"] == name


def test_names_with_ical_special_characters_are_escaped(db):
    prop = PropertyFactory(name="Villa; Sea, Sun\\Sand")
    connection = connect(prop)
    body = build_feed(connection)
    assert b"X-WR-CALNAME:Villa\\; Sea\\, Sun\\\\Sand\r\n" in body
    # Both parsers hand an X- property back raw; it is TEXT (RFC 5545 3.8.8.2), so unescape it as TEXT.
    raw_icalendar = str(icalendar.Calendar.from_ical(body)["X-WR-CALNAME"])
    raw_ical = {p.name: p.value for p in IcsCalendarStream.calendar_from_ics(body.decode()).extras}["x-wr-calname"]
    assert unescape_text(raw_icalendar) == unescape_text(raw_ical) == "Villa; Sea, Sun\\Sand"


def test_the_fast_renderer_writes_exactly_what_icalendar_writes(db, settings, book):
    settings.SITE_URL = "https://a-rather-long-host-name-for-folding-uids.stayhold.example.com"
    prop = PropertyFactory(name="Maison « Les Tilleuls » – vue sur mer, 4 chambres, jardin, piscine chauffée",
                           buffer_days=1)
    connection = connect(prop, Platform.BOOKING_COM)
    book(prop, start=10, nights=3)
    hold(prop, 20, 2)
    imported(prop, Platform.AIRBNB, "a1", 30, 4)
    owner_block(prop, 40, 3)
    data = load_feed_data(connection)
    fast, reference = render(data), render_with_icalendar(data)
    assert fast.count(b"BEGIN:VEVENT") == 10  # 3 stays, 1 block, 6 one-night buffer runs
    assert fast == reference


def test_an_empty_feed_is_a_valid_calendar(prop):
    body = build_feed(connect(prop))
    assert read_both(body) == {}
    assert body.startswith(b"BEGIN:VCALENDAR\r\n") and body.endswith(b"END:VCALENDAR\r\n")


def test_a_draft_or_archived_property_still_exports(prop, book):
    connection = connect(prop)
    booking = book(prop, start=10, nights=2)
    prop.status = prop.Status.ARCHIVED
    prop.save()
    assert read_both(build_feed(connection)) == dict([stay(booking)])


def test_the_same_calendar_gives_the_same_bytes(prop, book):
    connection = connect(prop)
    book(prop, start=10, nights=2)
    owner_block(prop, 20, 2)
    assert build_feed(connection) == build_feed(connection)


# --- the version (ETag / Last-Modified) ------------------------------------------------------------


def snapshot(connection, at=None):
    connection = ChannelConnection.objects.select_related("property").get(pk=connection.pk)
    return build_feed(connection, at=at), feed_version(connection, at=at)[0]


@pytest.fixture(params=["postgresql", "python"])
def digest(request, monkeypatch):
    """The rows' digest as PostgreSQL computes it (the fast path) and as Python does (other databases)."""
    if request.param == "python":
        monkeypatch.setattr(ical_export, "_rows_digest_in_db", lambda bookings, blocks: None)
    return request.param


def test_the_etag_stays_while_nothing_changes_and_changes_with_every_kind_of_change(prop, book, digest):
    prop.buffer_days = 1
    prop.save()
    airbnb = connect(prop, Platform.AIRBNB)
    reserved = book(prop, start=10, nights=2)
    block = owner_block(prop, 30, 2)
    short_hold = hold(prop, 40, 2, minutes=5)

    def change(label, mutate, at=None, body_changes=True):
        before_body, before_etag = snapshot(airbnb)
        mutate()
        after_body, after_etag = snapshot(airbnb, at=at)
        assert (after_body != before_body) is body_changes, label
        assert after_etag != before_etag, label

    assert snapshot(airbnb) == snapshot(airbnb)
    change("reservation", lambda: book(prop, start=50, nights=2))
    # Confirming changes only the DTSTAMP (updated_at, to the second): within the same second the body stays the
    # same, and so does the ETag; either way the two move together.
    before = snapshot(airbnb)
    services.confirm(booking_id=reserved.pk, actor=SYSTEM)
    after = snapshot(airbnb)
    assert (after[0] != before[0]) is (after[1] != before[1])
    change("cancelled", lambda: services.cancel(booking_id=reserved.pk, actor=SYSTEM, reason="x"))
    change("import from another channel", lambda: imported(prop, Platform.BOOKING_COM, "b1", 60, 2))
    change("imported stay moved", lambda: services.import_external(
        property_id=prop.pk, source=Platform.BOOKING_COM, external_id="b1", check_in=future(61),
        check_out=future(63), guest=GuestInput(name="x")))
    change("owner block added", lambda: owner_block(prop, 70, 2))
    change("owner block removed", lambda: property_services.delete_block(block_id=block.pk))
    change("renamed", lambda: type(prop).objects.filter(pk=prop.pk).update(name="A new name"))
    change("buffer changed", lambda: type(prop).objects.filter(pk=prop.pk).update(buffer_days=2))
    later = timezone.now() + timedelta(minutes=10)
    change("hold lapsed", lambda: None, at=later)
    assert not Booking.objects.get(pk=short_hold.pk).is_occupying(later)


def test_the_etag_ignores_what_the_feed_does_not_show(prop, digest):
    """Channel blocks are never exported: replacing them leaves the body and the ETag alone."""
    airbnb = connect(prop, Platform.AIRBNB)
    before = snapshot(airbnb)
    property_services.replace_channel_blocks(connection=airbnb, blocks=[(future(5), future(9), False, "x")])
    assert snapshot(airbnb) == before


def test_the_etag_changes_when_the_day_moves_the_window(prop, digest):
    connection = connect(prop)
    today = snapshot(connection)
    tomorrow = snapshot(connection, at=timezone.now() + timedelta(days=1))
    assert today[1] != tomorrow[1]


def test_each_connection_has_its_own_etag(prop):
    airbnb, booking_com = connect(prop, Platform.AIRBNB), connect(prop, Platform.BOOKING_COM)
    assert feed_version(airbnb)[0] != feed_version(booking_com)[0]


def test_last_modified_stays_while_nothing_changes_and_moves_forward_on_a_change(prop):
    connection = connect(prop)
    etag, first = feed_version(connection)
    assert feed_version(connection) == (etag, first)
    block = owner_block(prop, 10, 2)
    _etag, second = feed_version(connection)
    assert second > first
    property_services.delete_block(block_id=block.pk)  # back to the first body: still a newer date
    etag_again, third = feed_version(connection)
    assert etag_again == etag and third > second
