"""Multi-day sequences: the same connection fetched day after day (``at=``), its feed regenerated for each day
as the platform would export it, while stays are added, moved and cancelled and Airbnb's rolling "not
available" window moves with a new UID every day. After each step: the expected calendar, and no pile-up."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from bookings import services
from bookings.models import Booking, BookingStatus
from channels.models import SyncConflict
from core.actor import Actor
from core.models import OutboxEvent
from properties.models import AvailabilityBlock
from properties.pricing import local_today
from tests.channels.conftest_import import Ev, channel_blocks, make_connection, stays, sync

pytestmark = [pytest.mark.django_db, pytest.mark.sqlite]  # also proven on the embedded SQLite default


class AirbnbListing:
    """What Airbnb knows about one listing, and the feed it exports on a given day.

    Reservations keep their UID for life; past ones stay in the feed for 30 days. Beyond the host's
    availability window (``window_days``) every night is "Airbnb (Not available)" — one event whose UID
    changes every day, as Airbnb's does."""

    def __init__(self, d0, window_days=90):
        self.d0, self.window_days = d0, window_days
        self.reservations: dict[str, tuple] = {}
        self.blocked: list[tuple] = []

    def feed(self, today) -> list[Ev]:
        events = [Ev(uid, s, e) for uid, (s, e) in self.reservations.items() if e >= today - timedelta(days=30)]
        events += [Ev(f"na-{today:%Y%m%d}-{i}@airbnb.com", s, e, "block") for i, (s, e) in enumerate(self.blocked)]
        rolling_start = today + timedelta(days=self.window_days)
        events.append(Ev(f"rolling-{today:%Y%m%d}@airbnb.com", rolling_start, rolling_start + timedelta(days=365),
                         "block"))
        return events


def test_an_airbnb_listing_synced_every_day_for_two_weeks(prop, guest_input):
    conn = make_connection(prop, "airbnb")
    now = timezone.now()
    d0 = local_today(prop, now)
    d = lambda n: d0 + timedelta(days=n)  # noqa: E731
    listing = AirbnbListing(d0)

    def fetch(k):
        at = now + timedelta(days=k)
        return sync(conn, listing.feed(local_today(prop, at)), at=at)

    def rolling(k):
        return (d(k + 90), d(k + 455), False)

    # Day 0: two stays and an owner-blocked weekend on Airbnb.
    listing.reservations = {"A": (d(5), d(8)), "B": (d(12), d(15))}
    listing.blocked = [(d(20), d(22))]
    r = fetch(0)
    assert (r.created, r.blocks) == (2, 2)
    assert stays(conn) == [("A", d(5), d(8)), ("B", d(12), d(15))]
    assert channel_blocks(conn) == [(d(20), d(22), False), rolling(0)]

    # Day 1: a new stay C; a direct guest books nights 30–33 here, which Airbnb echoes back as unavailable.
    services.reserve(property_id=prop.pk, check_in=d(30), check_out=d(33), adults=2, guest=guest_input,
                     actor=Actor.system("test"), at=now + timedelta(days=1))
    listing.reservations["C"] = (d(24), d(27))
    listing.blocked.append((d(30), d(33)))
    r = fetch(1)
    assert (r.created, r.changed, r.cancelled, r.conflicts) == (1, 0, 0, 0)
    assert stays(conn) == [("A", d(5), d(8)), ("B", d(12), d(15)), ("C", d(24), d(27))]
    assert channel_blocks(conn) == [(d(20), d(22), False), (d(30), d(33), False), rolling(1)]

    # Day 2: B's guest changes dates; the owner unblocks the weekend on Airbnb.
    listing.reservations["B"] = (d(13), d(17))
    listing.blocked.remove((d(20), d(22)))
    r = fetch(2)
    assert (r.created, r.changed, r.cancelled) == (0, 1, 0)
    assert stays(conn) == [("A", d(5), d(8)), ("B", d(13), d(17)), ("C", d(24), d(27))]
    assert channel_blocks(conn) == [(d(30), d(33), False), rolling(2)]

    # Day 3: C is cancelled on Airbnb; its nights free up (here and, through the outbox, on other channels).
    del listing.reservations["C"]
    outbox_before = set(OutboxEvent.objects.values_list("pk", flat=True))
    r = fetch(3)
    assert (r.created, r.changed, r.cancelled) == (0, 0, 1)
    assert stays(conn) == [("A", d(5), d(8)), ("B", d(13), d(17))]
    assert Booking.objects.get(external_id="C").status == BookingStatus.CANCELLED
    assert "booking.cancelled" in OutboxEvent.objects.exclude(pk__in=outbox_before).values_list("topic", flat=True)

    # Day 4: nothing changed on Airbnb except the rolling window: only that block is rewritten.
    bookings_before = list(Booking.objects.order_by("pk").values_list("pk", "status", "check_in", "check_out"))
    r = fetch(4)
    assert (r.created, r.changed, r.cancelled, r.unchanged) == (0, 0, 0, 2)
    assert list(Booking.objects.order_by("pk").values_list("pk", "status", "check_in", "check_out")) == (
        bookings_before)
    assert channel_blocks(conn) == [(d(30), d(33), False), rolling(4)]

    # Day 6: A's guest has arrived; a glitchy feed forgets A: a started stay is never cancelled by a feed.
    saved = listing.reservations.pop("A")
    r = fetch(6)
    assert r.cancelled == 0
    assert stays(conn) == [("A", d(5), d(8)), ("B", d(13), d(17))]
    listing.reservations["A"] = saved

    # Day 7: a stay for the nights C left, and a long stay beyond the old rolling window's start.
    listing.reservations["D"] = (d(24), d(27))
    listing.reservations["E"] = (d(95), d(100))  # the host opened more nights: the window moved too
    listing.window_days = 120
    r = fetch(7)
    assert (r.created, r.conflicts) == (2, 0)
    assert stays(conn) == [("A", d(5), d(8)), ("B", d(13), d(17)), ("D", d(24), d(27)), ("E", d(95), d(100))]
    assert channel_blocks(conn) == [(d(30), d(33), False), (d(127), d(492), False)]

    # Days 8–14: A is over, B comes and goes, the window rolls on; every day blocks are replaced, not added.
    for k in range(8, 15):
        r = fetch(k)
        assert r.warning == "" and r.cancelled == 0 and r.conflicts == 0
        assert channel_blocks(conn) == [(d(30), d(33), False), (d(k + 120), d(k + 485), False)]
        assert AvailabilityBlock.objects.filter(connection=conn).count() == 2
    assert stays(conn) == [("A", d(5), d(8)), ("B", d(13), d(17)), ("D", d(24), d(27)), ("E", d(95), d(100))]

    # Day 40: A (ended 32 days ago) has left the feed; B and D have ended; nothing is cancelled or lost.
    r = fetch(40)
    assert r.cancelled == 0
    assert [(uid, status) for uid, status in Booking.objects.filter(source="airbnb").order_by("check_in")
            .values_list("external_id", "status")] == [("A", "confirmed"), ("B", "confirmed"), ("C", "cancelled"),
                                                       ("D", "confirmed"), ("E", "confirmed")]
    assert SyncConflict.objects.count() == 0


def test_a_vrbo_calendar_over_a_week_tentative_stays_confirm_and_blocks_follow(prop):
    conn = make_connection(prop, "fewo_direkt")
    now = timezone.now()
    d0 = local_today(prop, now)
    d = lambda n: d0 + timedelta(days=n)  # noqa: E731

    def fetch(k, events):
        return sync(conn, events, at=now + timedelta(days=k))

    # Day 0: a tentative request blocks as tentative; a booked stay; an owner block on Vrbo.
    r = fetch(0, [Ev("t1", d(10), d(14), "tentative", "Tom Brown"), Ev("r1", d(20), d(25), name="Jane Doe"),
                  Ev("b1", d(30), d(32), "block")])
    assert (r.created, r.blocks) == (1, 2)
    assert stays(conn) == [("r1", d(20), d(25))]
    assert channel_blocks(conn) == [(d(10), d(14), True), (d(30), d(32), False)]

    # Day 1: the request is accepted: the same UID is now a reservation; its tentative block goes away.
    r = fetch(1, [Ev("t1", d(10), d(14), name="Tom Brown"), Ev("r1", d(20), d(25), name="Jane Doe"),
                  Ev("b1", d(30), d(32), "block")])
    assert (r.created, r.unchanged, r.blocks) == (1, 1, 1)
    assert stays(conn) == [("t1", d(10), d(14)), ("r1", d(20), d(25))]
    assert Booking.objects.get(external_id="t1").guest.name == "Tom Brown"
    assert channel_blocks(conn) == [(d(30), d(32), False)]

    # Day 2: two owner blocks next to each other are merged; r1 shortens its stay.
    r = fetch(2, [Ev("t1", d(10), d(14), name="Tom Brown"), Ev("r1", d(20), d(23), name="Jane Doe"),
                  Ev("b1", d(30), d(32), "block"), Ev("b2", d(32), d(35), "block")])
    assert (r.changed, r.blocks) == (1, 1)
    assert channel_blocks(conn) == [(d(30), d(35), False)]
    assert stays(conn) == [("t1", d(10), d(14)), ("r1", d(20), d(23))]

    # Day 3: the same feed again: nothing is written at all.
    outbox, blocks = OutboxEvent.objects.count(), list(AvailabilityBlock.objects.values_list("pk", flat=True))
    r = fetch(3, [Ev("t1", d(10), d(14), name="Tom Brown"), Ev("r1", d(20), d(23), name="Jane Doe"),
                  Ev("b1", d(30), d(32), "block"), Ev("b2", d(32), d(35), "block")])
    assert (r.created, r.changed, r.cancelled, r.unchanged) == (0, 0, 0, 2)
    assert OutboxEvent.objects.count() == outbox
    assert list(AvailabilityBlock.objects.values_list("pk", flat=True)) == blocks

    # Days 4–6: everything is cleared on Vrbo. An empty calendar is distrusted (a glitch) whatever the number
    # of stays: nothing is cancelled or unblocked, the owner is warned.
    for k in (4, 5, 6):
        r = fetch(k, [])
        assert r.cancelled == 0 and "empty calendar" in r.warning
        assert stays(conn) == [("t1", d(10), d(14)), ("r1", d(20), d(23))]
        assert channel_blocks(conn) == [(d(30), d(35), False)]
    # Day 7: the third further empty fetch agrees: the stays are cancelled and the blocks go.
    r = fetch(7, [])
    assert (r.cancelled, r.blocks, r.warning) == (2, 0, "") and "2 stay(s) cancelled" in r.notice
    assert stays(conn) == [] and channel_blocks(conn) == []
