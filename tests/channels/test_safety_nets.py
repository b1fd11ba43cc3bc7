"""The safety nets throw away no good news (issue 12 §2), fetch after fetch through the real sync path
(``sync_connection`` against the local feed server), one fetch a day: the cancel guard holds back only the
cancellations, an empty calendar is a glitch until further fetches agree, and ``Retry-After`` is obeyed."""

from __future__ import annotations

from datetime import timedelta
from email.utils import format_datetime

import pytest
from django.utils import timezone

from channels.models import ChannelConnection, ConnectionStatus, SyncRun
from channels.sync import due_connection_ids, sync_connection
from properties.pricing import local_today
from tests.channels.conftest_import import Ev, channel_blocks, exported_nights, ics, nights, stays
from tests.factories import PropertyFactory

pytestmark = pytest.mark.django_db

PATH = "/feed.ics"


@pytest.fixture
def server(server, settings):
    """The feed server of tests/channels/conftest.py, with the safety nets' settings at their defaults."""
    settings.CHANNEL_POLL_JITTER_SECONDS = 120
    settings.CHANNEL_CANCEL_CONFIRM_FETCHES = 3
    settings.CHANNEL_RETRY_AFTER_MAX_SECONDS = 6 * 3600
    return server


def connect(server, platform):
    return ChannelConnection.objects.create(property=PropertyFactory(), platform=platform,
                                            import_url=server.url(PATH + "?s=secret"))


class Days:
    """Fetch the connection once a day (``at`` = start + k days) with the feed the platform serves that day."""

    def __init__(self, server, conn):
        self.server, self.conn, self.start = server, conn, timezone.now()
        self.d0 = local_today(conn.property, self.start)
        other = "fewo_direkt" if conn.platform != "fewo_direkt" else "airbnb"
        self.other = ChannelConnection.objects.create(property=conn.property, platform=other)

    def d(self, n):
        return self.d0 + timedelta(days=n)

    def fetch(self, k, events) -> SyncRun:
        at = self.start + timedelta(days=k)
        self.server.route(PATH, ics(self.conn.platform, events, stamp=at))
        run = sync_connection(self.conn.pk, at=at)
        self.conn.refresh_from_db()
        # Whatever the run held back or applied: another platform's feed closes exactly the stays still held here.
        held_here = set().union(*(nights(start, end) for _, start, end in stays(self.conn)))
        assert held_here <= exported_nights(self.other, at=at)
        self.exported = exported_nights(self.other, at=at)
        return run


def test_the_guard_holds_back_only_the_cancellations_and_applies_them_once_confirmed(server):
    conn = connect(server, "airbnb")
    days = Days(server, conn)
    d = days.d
    a, b, c, dd = (Ev("A", d(5), d(8)), Ev("B", d(12), d(15)), Ev("C", d(20), d(23)), Ev("D", d(30), d(33)))
    block = Ev("na-1", d(40), d(42), "block")

    run = days.fetch(0, [a, b, c, dd, block])
    assert run.outcome == SyncRun.Outcome.OK and run.created == 4
    assert stays(conn) == [("A", d(5), d(8)), ("B", d(12), d(15)), ("C", d(20), d(23)), ("D", d(30), d(33))]

    # Day 1: the feed lost B, C and D (3 of 4: implausible) but also moved A, has a new stay E and a new block.
    moved_a, e, block2 = Ev("A", d(6), d(9)), Ev("E", d(50), d(53)), Ev("na-2", d(60), d(61), "block")
    feed = [moved_a, e, block, block2]
    for k in (1, 2, 3):  # the same feed three days running: the news is applied, the cancellations wait
        run = days.fetch(k, feed)
        assert run.outcome == SyncRun.Outcome.WARNING
        assert (run.created, run.changed, run.cancelled) == ((1, 1, 0) if k == 1 else (0, 0, 0))
        assert stays(conn) == [("A", d(6), d(9)), ("B", d(12), d(15)), ("C", d(20), d(23)),
                               ("D", d(30), d(33)), ("E", d(50), d(53))]
        assert f"would cancel 3 of {4 if k == 1 else 5}" in run.error  # E counts from day 2
        assert "held back" in run.error and "next 3 fetches" in run.error
        assert channel_blocks(conn) == [(d(40), d(42), False), (d(60), d(61), False)]
        # Not a success: a day after the last one, the connection shows Failing (3 poll intervals).
        assert conn.status == ConnectionStatus.FAILING and conn.last_error == run.error
        assert conn.held_cancellations == {"B": k, "C": k, "D": k}

    # Day 4: the third further fetch agrees: B, C and D are cancelled, and the owner is told why.
    run = days.fetch(4, feed)
    assert run.outcome == SyncRun.Outcome.OK and run.cancelled == 3
    assert stays(conn) == [("A", d(6), d(9)), ("E", d(50), d(53))]
    assert "3 stay(s) cancelled" in run.error and "4 fetches in a row" in run.error
    assert conn.last_error == run.error and conn.status == ConnectionStatus.WARNING
    assert conn.held_cancellations == {}

    # Day 5: the same feed again is an ordinary, quiet sync.
    run = days.fetch(5, feed)
    assert run.outcome == SyncRun.Outcome.OK and (run.created, run.changed, run.cancelled) == (0, 0, 0)
    assert conn.status == ConnectionStatus.OK and conn.last_error == ""


def test_held_cancellations_apply_at_once_when_the_guard_no_longer_trips(server):
    conn = connect(server, "airbnb")
    days = Days(server, conn)
    d = days.d
    evs = [Ev(uid, d(5 + 7 * i), d(8 + 7 * i)) for i, uid in enumerate("ABCD")]
    days.fetch(0, evs)

    run = days.fetch(1, evs[:1] + [Ev("E", d(60), d(62))])  # B, C, D gone at once: held; E imported
    assert run.outcome == SyncRun.Outcome.WARNING and run.created == 1
    assert [uid for uid, *_ in stays(conn)] == ["A", "B", "C", "D", "E"]
    assert conn.held_cancellations == {"B": 1, "C": 1, "D": 1}

    # Day 2: the glitch is over for B and C; only D is missing (1 of 5): a plausible cancellation, applied now.
    run = days.fetch(2, evs[:3] + [Ev("E", d(60), d(62))])
    assert run.outcome == SyncRun.Outcome.OK and run.cancelled == 1 and run.error == ""
    assert [uid for uid, *_ in stays(conn)] == ["A", "B", "C", "E"]
    assert conn.held_cancellations == {} and conn.status == ConnectionStatus.OK


def test_an_empty_calendar_is_a_glitch_until_three_more_fetches_agree(server):
    conn = connect(server, "booking_com")
    days = Days(server, conn)
    d = days.d
    stay = Ev("4711", d(10), d(14), name="Jane Roe")

    run = days.fetch(0, [stay])
    assert run.outcome == SyncRun.Outcome.OK and stays(conn) == [("4711", d(10), d(14))]

    # Day 1: an empty VCALENDAR. One stay is below the guard's minimum, yet nothing is cancelled.
    run = days.fetch(1, [])
    assert run.outcome == SyncRun.Outcome.WARNING and run.cancelled == 0
    assert "empty calendar" in run.error and "held back" in run.error
    assert stays(conn) == [("4711", d(10), d(14))]
    assert conn.status == ConnectionStatus.FAILING and conn.last_error == run.error  # no success for a day
    assert conn.held_cancellations == {"4711": 1}

    # Day 2: the stay is back: the glitch is forgotten.
    run = days.fetch(2, [stay])
    assert run.outcome == SyncRun.Outcome.OK and (run.created, run.cancelled) == (0, 0)
    assert stays(conn) == [("4711", d(10), d(14))] and conn.held_cancellations == {}
    assert conn.status == ConnectionStatus.OK

    # Days 3–5: empty again, three times: still held (the count started over).
    for k, seen in ((3, 1), (4, 2), (5, 3)):
        run = days.fetch(k, [])
        assert run.outcome == SyncRun.Outcome.WARNING and run.cancelled == 0
        assert stays(conn) == [("4711", d(10), d(14))] and conn.held_cancellations == {"4711": seen}

    # Day 6: the third further empty fetch agrees: the stay is cancelled and its nights are free.
    run = days.fetch(6, [])
    assert run.outcome == SyncRun.Outcome.OK and run.cancelled == 1
    assert stays(conn) == [] and "1 stay(s) cancelled" in run.error
    assert conn.held_cancellations == {} and d(10) not in days.exported

    # Day 7: empty again, nothing left to cancel: an ordinary sync.
    run = days.fetch(7, [])
    assert run.outcome == SyncRun.Outcome.OK and run.error == "" and conn.status == ConnectionStatus.OK


def test_an_empty_calendar_keeps_the_channel_blocks(server):
    conn = connect(server, "airbnb")
    days = Days(server, conn)
    d = days.d
    days.fetch(0, [Ev("A", d(5), d(8)), Ev("na", d(20), d(25), "block")])
    run = days.fetch(1, [])
    assert run.outcome == SyncRun.Outcome.WARNING
    assert stays(conn) == [("A", d(5), d(8))] and channel_blocks(conn) == [(d(20), d(25), False)]


def _poll(conn, at):
    return conn.pk in due_connection_ids(at)


def test_retry_after_delays_the_next_poll(server):
    conn = connect(server, "airbnb")
    days = Days(server, conn)
    d = days.d
    now = days.start
    days.fetch(0, [Ev("A", d(5), d(8))])

    # A 429 asking for an hour: not polled again for that hour (the usual interval is 10 minutes).
    server.route(PATH, status=429, headers={"Retry-After": "3600"})
    t1 = now + timedelta(minutes=11)
    run = sync_connection(conn.pk, at=t1)
    conn.refresh_from_db()
    assert run.outcome == SyncRun.Outcome.ERROR and run.http_status == 429
    assert stays(conn) == [("A", d(5), d(8))]
    assert conn.next_poll_at >= t1 + timedelta(seconds=3600)
    assert not _poll(conn, t1 + timedelta(minutes=13)) and not _poll(conn, t1 + timedelta(minutes=59))
    assert _poll(conn, t1 + timedelta(minutes=61))

    # A 503 with an HTTP-date two hours ahead.
    server.route(PATH, status=503, headers={"Retry-After": format_datetime(timezone.now() + timedelta(hours=2),
                                                                            usegmt=True)})
    t2 = timezone.now()
    sync_connection(conn.pk, at=t2)
    conn.refresh_from_db()
    assert conn.next_poll_at >= t2 + timedelta(hours=2) - timedelta(seconds=5)
    assert not _poll(conn, t2 + timedelta(minutes=100))

    # An absurd wait (four months) is capped at CHANNEL_RETRY_AFTER_MAX_SECONDS (6 h).
    server.route(PATH, status=429, headers={"Retry-After": str(120 * 86400)})
    t3 = t2 + timedelta(hours=3)
    sync_connection(conn.pk, at=t3)
    conn.refresh_from_db()
    assert t3 + timedelta(hours=6) <= conn.next_poll_at <= t3 + timedelta(hours=6, minutes=1)
    assert not _poll(conn, t3 + timedelta(hours=5)) and _poll(conn, t3 + timedelta(hours=6, minutes=1))

    # The platform is back: the next poll imports the new stay.
    run = days.fetch(1, [Ev("A", d(5), d(8)), Ev("B", d(12), d(14))])
    assert run.outcome == SyncRun.Outcome.OK and stays(conn) == [("A", d(5), d(8)), ("B", d(12), d(14))]


def test_a_plain_error_or_a_retry_after_on_another_status_keeps_the_usual_interval(server):
    conn = connect(server, "airbnb")
    server.route(PATH, status=500, headers={"Retry-After": "3600"})
    now = timezone.now()
    sync_connection(conn.pk, at=now)
    conn.refresh_from_db()
    assert conn.next_poll_at <= now + timedelta(minutes=12)
    server.route(PATH, status=503, headers={"Retry-After": "soon"})  # unreadable: ignored
    sync_connection(conn.pk, at=now + timedelta(minutes=15))
    conn.refresh_from_db()
    assert conn.next_poll_at <= now + timedelta(minutes=27)
