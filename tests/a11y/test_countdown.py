"""The hold countdown (issue 15 §8): "23 h 59 min left (until 02:08, Lisbon time, 8 Dec)" rendered by the server in
the property's time zone, and the translated formats the page's script rebuilds it from."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest

from bookings.links import status_url
from properties import display
from tests.factories import PropertyFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def lisbon():
    return PropertyFactory(name="Alfama Loft", city="Lisbon", timezone="Europe/Lisbon")


def test_the_issue_s_example(lisbon):
    expires = datetime(2026, 12, 8, 2, 8, tzinfo=UTC)  # winter: Lisbon is on UTC
    now = expires - timedelta(minutes=1439, seconds=46)

    countdown = display.hold_countdown(expires, lisbon, now=now)

    sentence = f"{countdown['text']} (until {countdown['deadline']})"
    assert sentence == "23 h 59 min left (until 02:08, Lisbon time, 8 Dec)"
    assert countdown["seconds"] == 1439 * 60 + 46


@pytest.mark.parametrize(("seconds", "text"), [
    (86400, "24 h 0 min left"), (3600, "1 h 0 min left"), (3599, "59 min left"), (1799, "29 min left"),
    (60, "1 min left"), (59, "Less than a minute left"), (1, "Less than a minute left"), (0, "Time is up"),
    (-5, "Time is up"),
])
def test_time_left_is_whole_minutes_rounded_down(seconds, text):
    assert display.time_left(seconds) == text


def test_across_the_october_dst_change_the_clock_and_the_time_left_are_right(lisbon):
    # Lisbon leaves summer time at 01:00 UTC on 25 October 2026 (02:00 WEST becomes 01:00 WET).
    now = datetime(2026, 10, 24, 23, 0, tzinfo=UTC)  # 00:00 WEST on the 25th
    before = display.hold_countdown(datetime(2026, 10, 25, 0, 30, tzinfo=UTC), lisbon, now=now)
    after = display.hold_countdown(datetime(2026, 10, 25, 1, 30, tzinfo=UTC), lisbon, now=now)

    assert before["deadline"] == "01:30, Lisbon time, 25 Oct"  # 00:30 UTC + 1 h (summer time)
    assert after["deadline"] == "01:30, Lisbon time, 25 Oct"  # 01:30 UTC + 0 (winter): the same wall clock
    assert before["text"] == "1 h 30 min left"
    assert after["text"] == "2 h 30 min left"  # real time, though the wall clock moves 1 h 30


def test_the_march_change_and_another_year(lisbon):
    now = datetime(2026, 12, 31, 23, 0, tzinfo=UTC)
    spring = display.hold_countdown(datetime(2027, 3, 28, 1, 30, tzinfo=UTC), lisbon, now=now)  # after 01:00 UTC

    assert spring["deadline"] == "02:30, Lisbon time, 28 Mar 2027"


@pytest.mark.parametrize(("zone", "place"), [("Europe/Lisbon", "Lisbon"), ("America/New_York", "New York"),
                                             ("America/Argentina/Buenos_Aires", "Buenos Aires"), ("UTC", "UTC")])
def test_the_zone_is_named_by_its_place(zone, place):
    assert display.zone_city(zone) == place


@pytest.mark.parametrize("page", ["bookings:status", "payments:pay"])
def test_the_pages_render_the_countdown_and_the_formats_for_the_script(client, book, lisbon, page):
    booking = book(lisbon, start=10, nights=3)

    html = client.get(status_url(booking, page)).content.decode()

    local = booking.expires_at.astimezone(lisbon.tz)
    assert '<strong class="countdown" aria-live="polite" aria-atomic="true"' in html
    assert 'data-format-hours="%(hours)s h %(minutes)s min left"' in html
    assert 'data-format-minutes="%(minutes)s min left"' in html
    assert 'data-format-under-a-minute="Less than a minute left"' in html and 'data-format-done="Time is up"' in html
    assert ">29 min left</strong>" in html or ">30 min left</strong>" in html
    assert (f'(until <time datetime="{booking.expires_at.isoformat()}">{local:%H:%M}, Lisbon time, '
            f'{local.day} {local:%b}</time>)') in html
    countdown = re.search(r'<strong class="countdown"[^>]*>([^<]*)</strong>', html).group(1)
    assert not re.search(r"\d+:\d\d", countdown)  # no "29:46" any more
