"""channels.ical_parse: the quirks of real feeds (one test each, inline bytes) and per-platform classification
(from the hand-written fixture feeds in tests/channels/feeds/, each in its platform's real format)."""

from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from channels.ical_parse import BLOCK, CANCELLED, RESERVATION, FeedError, parse_feed

pytestmark = pytest.mark.sqlite  # pure parsing: also run on the SQLite leg of `make test`

FEEDS = Path(__file__).parent / "feeds"
AT = datetime(2030, 3, 1, 12, tzinfo=UTC)


def cal(*events: str, nl: str = "\r\n", prodid: str = "PRODID:-//Test//EN") -> bytes:
    lines = ["BEGIN:VCALENDAR", "VERSION:2.0", prodid]
    for ev in events:
        lines += ["BEGIN:VEVENT", *ev.strip().splitlines(), "END:VEVENT"]
    lines.append("END:VCALENDAR")
    return (nl.join(lines) + nl).encode()


def event(uid="e1", start="20300310", end="20300313", summary="Reserved", extra=""):
    lines = [f"UID:{uid}", f"DTSTART;VALUE=DATE:{start}"]
    if end:
        lines.append(f"DTEND;VALUE=DATE:{end}")
    lines.append(f"SUMMARY:{summary}")
    return "\n".join(lines) + ("\n" + extra.strip() if extra else "")


def parse(data: bytes, platform="other", tz="UTC"):
    return parse_feed(data, platform=platform, tz=tz, at=AT)


def only(snapshot):
    assert len(snapshot.events) == 1, snapshot.events
    return snapshot.events[0]


# --- quirks -----------------------------------------------------------------------------------


def test_crlf_and_bare_lf_line_endings_read_the_same():
    crlf, lf = parse(cal(event(), nl="\r\n")), parse(cal(event(), nl="\n"))
    assert crlf.events == lf.events
    assert (only(lf).start, only(lf).end) == (date(2030, 3, 10), date(2030, 3, 13))


def test_folded_lines_are_unfolded():
    data = cal(event(extra="DESCRIPTION:Reservation URL: https://www.airbnb.com/hosting/reservations/de\r\n"
                           " tails/HMABCD1234"))
    assert only(parse(data, "airbnb")).description == (
        "Reservation URL: https://www.airbnb.com/hosting/reservations/details/HMABCD1234")


def test_parameters_on_prodid_are_accepted():
    data = cal(event(), prodid="PRODID;X-RICAL-TZSOURCE=TZINFO:-//Airbnb Inc//Hosting Calendar 0.8.8//EN")
    assert only(parse(data, "airbnb")).kind == RESERVATION


def test_escaped_commas_semicolons_and_newlines_are_unescaped():
    e = only(parse(cal(event(summary="Reserved - Smith\\, John", extra="DESCRIPTION:a\\;b\\nc")), "fewo_direkt"))
    assert e.summary == "Reserved - Smith, John"
    assert e.guest_name == "Smith, John"
    assert e.description == "a;b\nc"


def test_date_times_with_a_tzid_are_taken_as_dates_in_the_property_time_zone():
    data = cal("UID:t1\nDTSTART;TZID=America/New_York:20300310T220000\n"
               "DTEND;TZID=America/New_York:20300313T100000\nSUMMARY:Reserved")
    # 22:00 in New York is already the 11th in Berlin; 10:00 on the 13th is 15:00 there: an end after noon local
    # time still holds the 13th's night (the next guest would arrive while this one is there).
    assert (only(parse(data, tz="Europe/Berlin")).start, only(parse(data, tz="Europe/Berlin")).end) == (
        date(2030, 3, 11), date(2030, 3, 14))
    assert only(parse(data, tz="America/New_York")).end == date(2030, 3, 13)
    assert only(parse(data, tz="America/New_York")).start == date(2030, 3, 10)


def test_utc_date_times_are_converted_to_the_property_time_zone():
    data = cal("UID:t2\nDTSTART:20300310T230000Z\nDTEND:20300313T090000Z\nSUMMARY:Reserved")
    tokyo = only(parse(data, tz="Asia/Tokyo"))  # 08:00 on the 11th to 18:00 on the 13th: the 13th's night is held
    assert (tokyo.start, tokyo.end) == (date(2030, 3, 11), date(2030, 3, 14))
    la = only(parse(data, tz="America/Los_Angeles"))
    assert (la.start, la.end) == (date(2030, 3, 10), date(2030, 3, 13))


def test_an_unknown_tzid_is_read_as_local_time_with_a_warning():
    data = cal("UID:t3\nDTSTART;TZID=Mars/Olympus:20300310T150000\n"
               "DTEND;TZID=Mars/Olympus:20300312T100000\nSUMMARY:Reserved")
    snap = parse(data, tz="Europe/Lisbon")
    assert (only(snap).start, only(snap).end) == (date(2030, 3, 10), date(2030, 3, 12))
    assert any("unknown TZID" in w for w in snap.warnings)


def test_a_missing_dtend_means_one_night():
    e = only(parse(cal(event(end=""))))
    assert (e.start, e.end) == (date(2030, 3, 10), date(2030, 3, 11))


def test_a_duration_is_honoured_when_dtend_is_missing():
    e = only(parse(cal(event(end="", extra="DURATION:P4D"))))
    assert e.end == date(2030, 3, 14)


def test_status_cancelled_makes_a_cancelled_event_whatever_the_summary():
    for platform in ("airbnb", "booking_com", "fewo_direkt", "expedia", "other"):
        assert only(parse(cal(event(extra="STATUS:CANCELLED")), platform)).kind == CANCELLED


def test_recurring_events_are_expanded_as_blocks_within_the_window():
    data = cal(event(uid="weekly", start="20300303", end="20300304", summary="Cleaning day",
                     extra="RRULE:FREQ=WEEKLY;COUNT=4\nEXDATE;VALUE=DATE:20300317"))
    snap = parse(data)
    assert [(e.uid, e.start, e.kind) for e in snap.events] == [
        ("weekly#2030-03-03", date(2030, 3, 3), BLOCK),
        ("weekly#2030-03-10", date(2030, 3, 10), BLOCK),
        ("weekly#2030-03-24", date(2030, 3, 24), BLOCK),
    ]


def test_a_recurring_reservation_never_becomes_reservations_and_the_expansion_is_bounded():
    data = cal(event(uid="forever", start="20200101", end="20200103", summary="Reserved - Nobody",
                     extra="RRULE:FREQ=DAILY"))
    snap = parse(data, "fewo_direkt")
    assert {e.kind for e in snap.events} == {BLOCK}
    assert min(e.start for e in snap.events) >= date(2029, 12, 31)  # 60 days before AT
    assert max(e.start for e in snap.events) <= date(2032, 3, 1)  # 730 days after AT
    assert len(snap.events) <= 1000


def test_an_overriding_instance_replaces_its_occurrence():
    data = cal(event(uid="r", start="20300303", end="20300304", summary="Busy", extra="RRULE:FREQ=WEEKLY;COUNT=2"),
               event(uid="r", start="20300311", end="20300313", summary="Busy (moved)",
                     extra="RECURRENCE-ID;VALUE=DATE:20300310"))
    snap = parse(data)
    assert [(e.start, e.end) for e in snap.events] == [(date(2030, 3, 3), date(2030, 3, 4)),
                                                        (date(2030, 3, 11), date(2030, 3, 13))]


def test_duplicate_uids_keep_the_latest_sequence_then_dtstamp_with_a_warning():
    data = cal(event(uid="dup", start="20300310", end="20300312", extra="SEQUENCE:2\nDTSTAMP:20300101T000000Z"),
               event(uid="dup", start="20300410", end="20300412", extra="SEQUENCE:1\nDTSTAMP:20300201T000000Z"),
               event(uid="dup2", start="20300501", end="20300502", extra="DTSTAMP:20300101T000000Z"),
               event(uid="dup2", start="20300601", end="20300602", extra="DTSTAMP:20300102T000000Z"),
               event(uid="dup3", start="20300701", end="20300702"),
               event(uid="dup3", start="20300801", end="20300802"))
    snap = parse(data)
    by_uid = {e.uid: e.start for e in snap.events}
    assert by_uid == {"dup": date(2030, 3, 10), "dup2": date(2030, 6, 1), "dup3": date(2030, 8, 1)}
    assert sum("more than once" in w for w in snap.warnings) == 3


def test_non_utf8_bytes_are_decoded_as_windows_1252_with_a_warning():
    data = cal(event(summary="Reserviert - J\u00fcrgen M\u00fcller")).replace("ü".encode(), b"\xfc")
    snap = parse(data, "fewo_direkt")
    assert only(snap).guest_name == "Jürgen Müller"
    assert any("not UTF-8" in w for w in snap.warnings)


def test_a_utf8_byte_order_mark_is_ignored():
    assert only(parse(b"\xef\xbb\xbf" + cal(event()))).uid == "e1"


def test_an_event_that_does_not_end_after_it_starts_still_takes_its_nights_with_a_warning():
    data = cal(event(uid="bad", start="20300310", end="20300310"), event(uid="worse", start="20300320",
                                                                           end="20300317"), event(uid="ok"))
    snap = parse(data)
    assert [(e.uid, e.start, e.end) for e in snap.events] == [
        ("bad", date(2030, 3, 10), date(2030, 3, 11)),  # zero length: its one night
        ("ok", date(2030, 3, 10), date(2030, 3, 13)),
        ("worse", date(2030, 3, 17), date(2030, 3, 21)),  # reversed: every night from the earlier through the later
    ]
    assert sum("does not end after its start" in w for w in snap.warnings) == 2


def test_an_event_with_an_unreadable_dtstart_is_skipped_with_a_warning():
    snap = parse(cal("UID:x\nDTSTART:garbage\nSUMMARY:Reserved", event(uid="ok")))
    assert [e.uid for e in snap.events] == ["ok"]
    assert any("DTSTART" in w for w in snap.warnings)


def test_an_event_without_a_uid_gets_a_stable_key():
    data = cal("DTSTART;VALUE=DATE:20300310\nDTEND;VALUE=DATE:20300312\nSUMMARY:Reserved")
    first, second = parse(data), parse(data)
    assert only(first).uid == only(second).uid and only(first).uid.startswith("nouid-")


@pytest.mark.parametrize("body", [b"", b"   \r\n", b"<!DOCTYPE html><html><body>Sign in</body></html>",
                                  b'{"error": "not found"}'])
def test_a_body_that_is_not_a_vcalendar_is_a_feed_error(body):
    with pytest.raises(FeedError) as exc:
        parse(body)
    assert exc.value.code == "not_ical" and exc.value.message


def test_a_vcalendar_that_cannot_be_parsed_is_a_feed_error():
    with pytest.raises(FeedError) as exc:
        parse(b"BEGIN:VCALENDAR\r\nthis is not a content line\r\nEND:VCALENDAR\r\n")
    assert exc.value.code == "broken_ical"


def test_an_empty_vcalendar_is_a_valid_empty_snapshot():
    snap = parse(cal())
    assert snap.events == [] and snap.window_start is None and snap.window_end is None


def test_the_window_is_the_first_start_and_the_last_end_seen():
    snap = parse(cal(event(uid="a", start="20300310", end="20300312"), event(uid="b", start="20300301",
                                                                              end="20300305",
                                                                              summary="Blocked")))
    assert (snap.window_start, snap.window_end) == (date(2030, 3, 1), date(2030, 3, 12))


# --- classification from the fixture feeds --------------------------------------------------------


def feed(path: str, platform: str, tz: str = "UTC"):
    return parse_feed((FEEDS / path).read_bytes(), platform=platform, tz=tz, at=AT)


def kinds(snapshot):
    return [(e.start.isoformat(), e.kind, e.tentative, e.guest_name) for e in snapshot.events]


def test_airbnb_reserved_is_a_reservation_and_not_available_is_a_block():
    snap = feed("airbnb/listing.ics", "airbnb")
    assert kinds(snap) == [
        ("2030-03-10", RESERVATION, False, ""),
        ("2030-03-18", RESERVATION, False, ""),
        ("2030-04-01", BLOCK, False, ""),
        ("2031-03-01", BLOCK, False, ""),
    ]
    first = snap.events[0]
    assert first.summary == "Reserved"
    assert "hosting/reservations/details/HMABCD1234" in first.description
    assert "Phone Number (Last 4 Digits): 4821" in first.description
    assert snap.events[2].summary == "Airbnb (Not available)"
    assert snap.warnings == []


def test_airbnb_legacy_name_summaries_and_unknown_summaries():
    data = cal(event(uid="a", summary="Ada Lovelace (HMQ2W3E4R5)"), event(uid="b", start="20300401",
                                                                          end="20300402", summary="Not available"),
               event(uid="c", start="20300501", end="20300502", summary="Something else"))
    assert kinds(parse(data, "airbnb")) == [("2030-03-10", RESERVATION, False, "Ada Lovelace"),
                                            ("2030-04-01", BLOCK, False, ""), ("2030-05-01", BLOCK, False, "")]


def test_booking_com_closed_name_is_a_reservation_and_closed_not_available_a_block():
    assert kinds(feed("booking_com/property.ics", "booking_com")) == [
        ("2030-03-10", BLOCK, False, ""),
        ("2030-03-15", RESERVATION, False, "Maria Garcia"),
        ("2030-03-22", BLOCK, False, ""),
    ]


def test_vrbo_reserved_blocked_and_tentative():
    snap = feed("fewo_direkt/vrbo.ics", "fewo_direkt")
    assert kinds(snap) == [
        ("2030-03-10", RESERVATION, False, "Jane Doe"),
        ("2030-03-16", BLOCK, False, ""),
        ("2030-03-20", BLOCK, True, ""),
    ]
    assert "2 adults, 1 child" in snap.events[0].description


def test_fewo_direkt_german_summaries():
    assert kinds(feed("fewo_direkt/fewo.ics", "fewo_direkt")) == [
        ("2030-07-05", RESERVATION, False, "Jürgen Müller"),
        ("2030-07-14", BLOCK, False, ""),
        ("2030-07-20", BLOCK, True, ""),
    ]


def test_abritel_french_summaries():
    assert kinds(feed("fewo_direkt/abritel.ics", "fewo_direkt")) == [
        ("2030-08-01", RESERVATION, False, "Élodie Dupont"),
        ("2030-08-10", BLOCK, False, ""),
        ("2030-08-15", BLOCK, True, ""),
    ]


def test_expedia_defaults():
    assert kinds(feed("expedia/calendar.ics", "expedia")) == [
        ("2030-03-10", RESERVATION, False, ""),
        ("2030-03-15", BLOCK, False, ""),
        ("2030-03-20", CANCELLED, False, ""),
    ]


def test_google_vacation_rentals_defaults():
    assert kinds(feed("google_vr/calendar.ics", "google_vr")) == [
        ("2030-03-10", RESERVATION, False, "Rui Costa"),
        ("2030-03-15", BLOCK, False, ""),
    ]


def test_a_hand_kept_google_calendar_with_a_vtimezone():
    snap = feed("other/google_calendar.ics", "other", tz="Europe/Berlin")
    assert [(e.start, e.end, e.kind) for e in snap.events] == [
        (date(2030, 3, 10), date(2030, 3, 14), RESERVATION),
        (date(2030, 3, 20), date(2030, 3, 22), BLOCK),
    ]
    assert snap.events[0].summary == "Familie Weber, 4 Personen"


def test_transparent_events_and_block_words_are_blocks_for_other_calendars():
    data = cal(event(uid="a", summary="Dentist", extra="TRANSP:TRANSPARENT"),
               event(uid="b", start="20300401", end="20300402", summary="Closed"),
               event(uid="c", start="20300501", end="20300502", summary="Unavailable"),
               event(uid="d", start="20300601", end="20300602", summary="Smith family"))
    assert [e.kind for e in parse(data, "other").events] == [BLOCK, BLOCK, BLOCK, RESERVATION]
