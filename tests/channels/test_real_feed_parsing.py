"""Parsing what real feeds contain (issue 12 §3), through the real path: local feed server → fetch → parse → sync.

Each fixture in ``feeds/<platform>/`` is a platform's export as served; the assertions are the nights taken
afterwards (imported stays and channel blocks) and what the guest is called."""

from datetime import date
from pathlib import Path

import pytest

from bookings.models import AvailabilityBlock, Booking, BookingStatus
from channels.fetch import as_utf8, declared_charset
from channels.models import ChannelConnection, SyncRun
from channels.sync import sync_connection
from tests.factories import PropertyFactory

pytestmark = pytest.mark.django_db

FEEDS = Path(__file__).parent / "feeds"


def synced(server, platform: str, fixture: str, content_type: str = "text/calendar; charset=utf-8"):
    """Serve ``feeds/<fixture>``, sync a new connection of ``platform`` from it; return (connection, run)."""
    server.route("/feed.ics", (FEEDS / fixture).read_bytes(), content_type=content_type)
    conn = ChannelConnection.objects.create(property=PropertyFactory(timezone="Europe/Berlin"), platform=platform,
                                            import_url=server.url("/feed.ics"))
    return conn, sync_connection(conn.pk)


def warnings(conn) -> list[str]:
    conn.refresh_from_db()
    return conn.last_counts["warnings"]


def stays(conn) -> list[tuple[str, date, date, str]]:
    return [(b.external_id, b.check_in, b.check_out, b.guest.name)
            for b in Booking.objects.filter(property=conn.property, status=BookingStatus.CONFIRMED)
            .select_related("guest").order_by("check_in")]


def blocks(conn) -> list[tuple[date, date, str]]:  # the summary as imported (with its description)
    return list(AvailabilityBlock.objects.filter(connection=conn).order_by("start_date")
                .values_list("start_date", "end_date", "external_summary"))


def test_a_fold_that_splits_a_utf8_character_is_joined_before_decoding(server):
    # FeWo-direkt folds at 75 octets, here inside the two bytes of "ü" (in the name and in "Nicht verfügbar").
    conn, run = synced(server, "fewo_direkt", "fewo_direkt/folded_multibyte.ics")
    assert run.outcome == SyncRun.Outcome.OK, run.error
    assert stays(conn) == [("6f1e2d3c-4b5a-4978-8a6b-5c4d3e2f1a0b", date(2030, 7, 5), date(2030, 7, 9),
                            "Jürgen Größ")]
    # "Nicht verfügbar" is still recognised: nights 12–14 are blocked, not a phantom booking.
    assert blocks(conn) == [(date(2030, 7, 12), date(2030, 7, 15), "Nicht verfügbar")]
    assert warnings(conn) == []  # nothing was guessed


def test_the_charset_declared_in_content_type_is_honoured_before_guessing(server):
    # A PMS export in Windows-1250 (Polish), declared so by the server: "Ł" is 0xA3 there ("£" in Windows-1252).
    conn, run = synced(server, "other", "other/cp1250_declared.ics", content_type="text/calendar; charset=windows-1250")
    assert run.outcome == SyncRun.Outcome.OK, run.error
    assert stays(conn) == [("smoobu-48213977", date(2030, 8, 1), date(2030, 8, 5), "Łukasz Wójcik")]
    assert warnings(conn) == []  # nothing was guessed


def test_blanks_around_property_values_are_ignored(server):
    # Spaces and tabs around DTSTART/DTEND/UID/SUMMARY values: the stay and the block still take their nights.
    conn, run = synced(server, "airbnb", "airbnb/blanks_around_values.ics")
    assert run.outcome == SyncRun.Outcome.OK, run.error
    assert stays(conn) == [("1418fb94e984-a1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d6@airbnb.com", date(2030, 9, 6),
                            date(2030, 9, 10), "Airbnb guest")]
    assert blocks(conn) == [(date(2030, 9, 12), date(2030, 9, 15), "Airbnb (Not available)")]


@pytest.mark.parametrize(("content_type", "body", "expected"), [
    ("text/calendar; charset=windows-1250", "Łukasz".encode("cp1250"), "Łukasz".encode()),
    ('text/calendar; charset="ISO-8859-1"', "Größ".encode("cp1252"), "Größ".encode()),  # read as its superset
    ("text/calendar; charset=utf-8", "Größ".encode(), "Größ".encode()),
    ("text/calendar; charset=x-nobody-knows", b"Gr\xf6\xdf", b"Gr\xf6\xdf"),  # unknown: left to the parser's guess
    ("text/calendar; charset=windows-1250", "\ufeffGröß".encode(), "\ufeffGröß".encode()),  # a UTF-8 BOM wins
])
def test_a_declared_charset_is_decoded_to_utf8_before_the_parser_guesses(content_type, body, expected):
    assert as_utf8(body, declared_charset(content_type)) == expected
