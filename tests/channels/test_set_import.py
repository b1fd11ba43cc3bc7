"""The set-based import (``bookings.external.fit_external_stays``, used by ``channels.reconcile``) against the one-stay
path it replaces, and the query budgets of an import (issue 16).

Equivalence: random sequences of snapshots — new, moved, swapped, missing and cancelled stays, stays colliding with
each other, with direct bookings and with owner blocks, blocks — are applied to two identical properties, one through
the set-based fit and one through ``import_external`` per stay and pass (``_Reconciler.set_based = False``). After
every snapshot both must hold the same bookings, audit rows, outbox events and conflicts (ids and references, which
are random, are normalised; rows of one snapshot are compared as multisets: the set path writes moves before new
stays)."""

from __future__ import annotations

import contextlib
import random
import re
from collections import Counter
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from bookings import blocks as block_services
from bookings import services
from bookings.models import Booking, BookingEvent
from channels.models import SyncConflict
from channels.reconcile import _Reconciler
from core.actor import Actor
from core.models import OutboxEvent
from guests.services import GuestInput
from tests.channels.conftest_import import Ev, day, make_connection, sync
from tests.factories import PropertyFactory

pytestmark = [pytest.mark.django_db]
REFERENCE = re.compile(r"PMS-\d{4}-[A-Z0-9]{5}")


def _labels(prop) -> dict[str, str]:
    return {b.reference: f"{b.source}:{b.external_id or b.check_in}" for b in Booking.objects.filter(property=prop)}


def _normal(text: str, labels: dict[str, str]) -> str:
    return REFERENCE.sub(lambda m: labels.get(m.group(0), "?"), text)


def state(prop, conn) -> dict:
    """Everything an import writes, for ``prop``, without ids and references."""
    labels = _labels(prop)
    bookings = Counter(
        (b.source, b.external_id, b.check_in, b.check_out, b.status, b.overbooking_lane, b.total, b.amount_paid,
         b.payment_status, b.guest.name if b.guest else "", b.language, str(b.cancellation_policy), str(b.quote))
        for b in Booking.objects.filter(property=prop).select_related("guest"))
    events = Counter(
        (labels[e.booking.reference], e.from_status, e.to_status, e.actor_type, e.actor_label,
         _normal(e.reason, labels))
        for e in BookingEvent.objects.filter(booking__property=prop).select_related("booking"))
    ids = {str(b.pk): labels[b.reference] for b in Booking.objects.filter(property=prop)}
    outbox = Counter()
    for e in OutboxEvent.objects.all():
        payload = dict(e.payload)
        if payload.get("property_id") != prop.pk:
            continue
        key = ids.get(str(payload.get("booking_id")), "") if e.aggregate_type == "booking" else "property"
        payload.pop("booking_id", None), payload.pop("reference", None), payload.pop("property_id", None)
        outbox[(e.topic, key, str(sorted(payload.items())))] += 1
    conflicts = Counter(
        (c.uid, c.check_in, c.check_out, c.resolution, c.resolved_at is None,
         labels.get(c.other_booking.reference) if c.other_booking else "",
         labels.get(c.imported_booking.reference) if c.imported_booking else "", _normal(c.detail, labels))
        for c in SyncConflict.objects.filter(connection=conn).select_related("other_booking", "imported_booking"))
    blocks = sorted((b.start_date, b.end_date, b.tentative, b.external_summary)
                    for b in block_services.AvailabilityBlock.objects.filter(property=prop))
    return {"bookings": bookings, "events": events, "outbox": outbox, "conflicts": conflicts, "blocks": blocks}


def scenario(seed: int) -> tuple[list[tuple[int, int]], list[tuple[int, int]], list[list[Ev]]]:
    """Direct bookings and owner blocks (start, nights), and a sequence of snapshots, drawn from ``seed``."""
    rng = random.Random(seed)
    direct = [(rng.randint(2, 30), rng.randint(1, 4)) for _ in range(rng.randint(0, 2))]
    owner_blocks = [(rng.randint(2, 30), rng.randint(1, 3)) for _ in range(rng.randint(0, 1))]
    uids = [f"u{i}" for i in range(10)]
    snapshots = []
    for _ in range(5):
        events = []
        for uid in rng.sample(uids, rng.randint(0, 8)):
            start = rng.randint(1, 35)
            kind = rng.choices(["reservation", "block", "cancelled"], [8, 1, 1])[0]
            events.append((uid, start, start + rng.randint(1, 5), kind))
        snapshots.append(events)
    return direct, owner_blocks, snapshots


def setup_property(direct, owner_blocks):
    prop = PropertyFactory()
    guest = GuestInput(name="Direct Guest", email="direct@example.com")
    for start, nights in direct:
        with contextlib.suppress(services.BookingError):  # a draw that overlaps itself: the same on both properties
            services.reserve(property_id=prop.pk, check_in=day(prop, start), check_out=day(prop, start + nights),
                             adults=1, guest=guest, actor=Actor.system("test"))
    for start, nights in owner_blocks:
        with contextlib.suppress(services.BookingError):
            block_services.create_block(property_id=prop.pk, start_date=day(prop, start),
                                        end_date=day(prop, start + nights))
    return prop, make_connection(prop, "airbnb")


@pytest.mark.parametrize("seed", range(8))
def test_the_set_based_fit_writes_what_the_one_stay_path_writes(seed, monkeypatch, settings):
    settings.CHANNEL_CANCEL_GUARD_MIN = 100  # the guard has its own tests; here every cancellation applies
    direct, owner_blocks, snapshots = scenario(seed)
    at = timezone.now()
    props = {flag: setup_property(direct, owner_blocks) for flag in (True, False)}
    for step, events in enumerate(snapshots):
        results = {}
        for flag, (prop, conn) in props.items():
            monkeypatch.setattr(_Reconciler, "set_based", flag)
            feed = [Ev(uid, day(prop, s), day(prop, e), kind) for uid, s, e, kind in events]
            results[flag] = sync(conn, feed, at=at + timedelta(minutes=step)).as_dict()
        assert results[True] == results[False], (seed, step)
        new, old = (state(*props[flag]) for flag in (True, False))
        for part in new:
            assert new[part] == old[part], (seed, step, part)


# --- query budgets ---------------------------------------------------------------------------------------------


def _first_import_queries(n: int) -> tuple[int, int]:
    prop = PropertyFactory()
    conn = make_connection(prop, "airbnb")
    events = [Ev(f"s{i}@airbnb.com", day(prop, 1 + 2 * i), day(prop, 2 + 2 * i)) for i in range(n)]
    events += [Ev(f"b{i}@airbnb.com", day(prop, 1 + 2 * n + i), day(prop, 2 + 2 * n + i), "block") for i in range(5)]
    with CaptureQueriesContext(connection) as queries:
        result = sync(conn, events)
    assert result.created == n
    return len(queries), Booking.objects.filter(property=prop).count()


def test_a_first_import_costs_the_same_statements_for_10_or_100_stays():
    small, small_rows = _first_import_queries(10)
    large, large_rows = _first_import_queries(100)
    assert (small_rows, large_rows) == (10, 100)
    assert small == large  # a constant per snapshot, not per event
    assert large <= 35, large  # lock, reads, one INSERT per table, the channel blocks, savepoints


# --- the outbox of a set ---------------------------------------------------------------------------------------


def test_emit_many_writes_every_event_and_queues_one_delivery_for_all(monkeypatch, django_capture_on_commit_callbacks):
    from core import outbox

    queued = []
    monkeypatch.setattr(outbox.deliver_outbox_events, "delay", lambda ids: queued.append(ids))
    with django_capture_on_commit_callbacks(execute=True):
        events = outbox.emit_many([("booking.created", "booking", n, {"n": n}) for n in range(3)])
    assert [e.payload for e in OutboxEvent.objects.filter(pk__in=[e.pk for e in events]).order_by("aggregate_id")] == [
        {"n": 0}, {"n": 1}, {"n": 2}]
    assert queued == [[str(e.pk) for e in events]]  # one task for the three
    with pytest.raises(ValueError):
        outbox.emit_many([("no.such.topic", "booking", 1, {})])


def test_the_delivery_task_of_a_set_delivers_each_event_to_each_consumer():
    from core import outbox

    seen = []
    outbox.consumer("test-set", topics=("booking.created",))(lambda event: seen.append(event.payload["n"]))
    try:
        events = outbox.emit_many([("booking.created", "booking", n, {"n": n}) for n in range(3)])
        assert outbox.deliver_outbox_events.apply(args=[[str(e.pk) for e in events]]).get() == len(events)
    finally:
        outbox.unregister("test-set")
    assert sorted(seen) == [0, 1, 2]
    assert OutboxEvent.objects.filter(pk__in=[e.pk for e in events], delivered_at__isnull=True).count() == 0
