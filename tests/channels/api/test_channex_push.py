"""Outbound: what we sell or change here reaches Channex (its emulator over HTTP) as compressed ARI messages,
within its limits, through failures, without losing a change."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.utils import timezone

from bookings import blocks
from bookings.models import SentEmail
from channels import api_sync
from channels.models import AriChange, BreakerState, ChannelConnection, ConnectionStatus
from tests.factories import PropertyFactory, future

pytestmark = pytest.mark.django_db


def stored_availability(channex, first, last):
    stored = channex(f"ari?property_id={channex.ids['id']}")["availability"]
    day, out = first, {}
    while day <= last:
        out[(day - timezone.localdate()).days] = stored.get(day.isoformat())
        day += timedelta(days=1)
    return out


def pushed_values(channex, path):
    return [v for r in channex.requests(path) for v in json.loads(r["body"])["values"]]


def test_a_booking_made_here_closes_its_nights_on_channex(channex, channex_connection, book,
                                                         django_capture_on_commit_callbacks):
    connection = channex_connection(PropertyFactory(buffer_days=1))
    with django_capture_on_commit_callbacks(execute=True):
        book(connection.property, start=10, nights=3)

    assert stored_availability(channex, future(8), future(14)) == {8: None, 9: 0, 10: 0, 11: 0, 12: 0, 13: 0, 14: None}
    values = pushed_values(channex, "/api/v1/availability")
    assert values == [{"property_id": channex.ids["id"], "room_type_id": channex.ids["room_type_id"],
                       "date_from": future(9).isoformat(), "date_to": future(13).isoformat(), "availability": 0}]
    assert not AriChange.objects.filter(connection=connection).exists()
    connection.refresh_from_db()
    assert connection.last_push_at is not None and connection.status == ConnectionStatus.OK


def test_a_full_sync_is_two_requests_with_the_horizon_compressed_into_ranges(channex, channex_connection):
    connection = channex_connection()
    api_sync.request_full_sync(connection)  # queued; run it here
    outcome = api_sync.push_connection(connection.pk)

    assert (outcome.status, outcome.requests, outcome.nights) == ("pushed", 2, 2 * 500)
    connection.refresh_from_db()
    assert connection.last_full_sync_at is not None
    availability = pushed_values(channex, "/api/v1/availability")
    restrictions = pushed_values(channex, "/api/v1/restrictions")
    assert availability == [{"property_id": channex.ids["id"], "room_type_id": channex.ids["room_type_id"],
                             "date_from": future(0).isoformat(), "date_to": future(499).isoformat(),
                             "availability": 1}]
    assert len(restrictions) <= 3  # the lead-time night(s) closed to arrival, then one range to the horizon
    assert restrictions[-1]["rate"] == 10000 and restrictions[-1]["date_to"] == future(499).isoformat()
    assert len(channex.requests()) == 2


def test_fifty_single_night_changes_become_one_message(channex, channex_connection, monkeypatch,
                                                          django_capture_on_commit_callbacks):
    connection = channex_connection()
    monkeypatch.setattr(api_sync, "queue_push", lambda *a, **k: None)  # the coalescing window: nothing sent yet
    with django_capture_on_commit_callbacks(execute=True):
        for offset in range(20, 120, 2):  # 50 one-night blocks, every other night
            blocks.create_block(property_id=connection.property_id, start_date=future(offset),
                                end_date=future(offset + 1))
    assert AriChange.objects.filter(connection=connection).count() == 50

    outcome = api_sync.push_connection(connection.pk)

    assert (outcome.status, outcome.requests) == ("pushed", 1)
    values = pushed_values(channex, "/api/v1/availability")
    assert len(values) == 50 and {v["availability"] for v in values} == {0}  # only the changed nights
    assert stored_availability(channex, future(20), future(22)) == {20: 0, 21: None, 22: 0}


def test_pushes_wait_for_room_in_the_documented_limit_instead_of_drawing_429s(channex, channex_connection):
    connection = channex_connection()
    outcomes = []
    for offset in range(12):
        AriChange.objects.create(connection=connection, start=future(offset), end=future(offset + 1),
                                 kinds=AriChange.AVAILABILITY)
        outcomes.append(api_sync.push_connection(connection.pk))

    assert [o.status for o in outcomes] == ["pushed"] * 10 + ["waiting"] * 2
    assert 0 < outcomes[-1].retry_in <= 60
    assert [r["status"] for r in channex.requests()] == [200] * 10  # the 11th never left
    assert AriChange.objects.filter(connection=connection).count() == 2  # kept for the next push


def test_a_429_from_the_platform_backs_off_and_keeps_the_change(channex, channex_connection):
    connection = channex_connection()
    channex("limits", {"availability_per_minute": 1})  # tighter than documented: our limiter lets the 2nd go
    AriChange.objects.create(connection=connection, start=future(1), end=future(2), kinds=AriChange.AVAILABILITY)
    assert api_sync.push_connection(connection.pk).status == "pushed"
    AriChange.objects.create(connection=connection, start=future(3), end=future(5), kinds=AriChange.AVAILABILITY)

    outcome = api_sync.push_connection(connection.pk)

    connection.refresh_from_db()
    assert outcome.status == "failed" and outcome.retry_in >= 60  # no Retry-After from Channex: a minute
    assert connection.push_failures == 1 and connection.push_retry_at > timezone.now() + timedelta(seconds=59)
    assert connection.breaker_state == BreakerState.CLOSED
    assert AriChange.objects.filter(connection=connection).count() == 1
    assert api_sync.push_connection(connection.pk).status == "waiting"  # not before its time


def test_a_platform_down_opens_the_breaker_alerts_once_and_everything_goes_through_when_it_is_back(
        channex, channex_connection, settings, django_capture_on_commit_callbacks):
    settings.CHANNEL_BREAKER_THRESHOLD = 3
    connection = channex_connection()
    channex("faults", {"path": "/api/v1/", "times": 50, "status": 503})
    AriChange.objects.create(connection=connection, start=future(3), end=future(6), kinds=AriChange.AVAILABILITY)
    now = timezone.now()

    with django_capture_on_commit_callbacks(execute=True):
        statuses = []
        for attempt in range(4):
            statuses.append(api_sync.push_connection(connection.pk, at=now).status)
            ChannelConnection.objects.filter(pk=connection.pk).update(push_retry_at=None)  # skip the backoff
    assert statuses == ["failed", "failed", "breaker_open", "breaker_open"]
    connection.refresh_from_db()
    assert connection.breaker_state == BreakerState.OPEN and connection.status == ConnectionStatus.FAILING
    assert SentEmail.objects.filter(kind="owner_channel_paused").count() == 1

    channex("faults", method="DELETE")
    later = now + timedelta(seconds=settings.CHANNEL_BREAKER_COOLDOWN_SECONDS + 1)
    assert api_sync.push_connection(connection.pk, at=later).status == "pushed"  # the probe
    connection.refresh_from_db()
    assert (connection.breaker_state, connection.push_failures, connection.status) == (
        BreakerState.CLOSED, 0, ConnectionStatus.OK)
    assert not AriChange.objects.filter(connection=connection).exists()
    assert stored_availability(channex, future(3), future(5)) == {3: 1, 4: 1, 5: 1}


def test_refused_credentials_open_the_breaker_at_once(channex, channex_connection):
    connection = channex_connection()
    connection.set_credentials({"api_key": "wrong"})
    connection.save()
    AriChange.objects.create(connection=connection, start=future(3), end=future(4))

    assert api_sync.push_connection(connection.pk).status == "breaker_open"
    connection.refresh_from_db()
    assert connection.breaker_state == BreakerState.OPEN and "bad_credentials" in connection.last_error


def test_a_worker_that_dies_mid_push_loses_nothing(channex, channex_connection, monkeypatch, settings):
    connection = channex_connection()
    AriChange.objects.create(connection=connection, start=future(3), end=future(4), kinds=AriChange.AVAILABILITY)
    adapter = api_sync.adapter_for(connection)

    def killed(*args, **kwargs):
        raise SystemExit("worker killed")  # not an AdapterError: nothing of ours runs after it

    monkeypatch.setattr(type(adapter), "push_availability", killed)
    with pytest.raises(SystemExit):
        api_sync.push_connection(connection.pk)
    monkeypatch.undo()

    assert AriChange.objects.filter(connection=connection).count() == 1
    assert api_sync.push_connection(connection.pk).status == "busy"  # the dead worker's lease
    after_lease = timezone.now() + timedelta(seconds=settings.CHANNEL_PUSH_LEASE_SECONDS + 1)
    assert api_sync.push_connection(connection.pk, at=after_lease).status == "pushed"
    assert not AriChange.objects.filter(connection=connection).exists()


def test_a_price_change_pushes_rates_and_rules_for_the_whole_horizon(channex, channex_connection,
                                                                    django_capture_on_commit_callbacks):
    from properties.services import announce_pricing

    connection = channex_connection()
    prop = connection.property
    prop.base_price = 180
    prop.save()
    with django_capture_on_commit_callbacks(execute=True):
        announce_pricing(prop)

    restrictions = pushed_values(channex, "/api/v1/restrictions")
    assert restrictions and all(v["rate"] == 18000 for v in restrictions)
    assert restrictions[-1]["date_to"] == future(499).isoformat()


def test_reconciliation_repairs_drift_toward_the_more_restrictive_side(channex, channex_connection, book,
                                                                      django_capture_on_commit_callbacks):
    """Night 5 closed inside Channex only: closed here too (a channel block). Night 9 opened inside Channex though
    we sold it: pushed closed again. Everything else agrees: untouched."""
    connection = channex_connection()
    with django_capture_on_commit_callbacks(execute=True):
        book(connection.property, start=8, nights=2)  # nights 8 and 9, pushed closed
        api_sync.request_full_sync(connection)
    channex("ari", {"property_id": channex.ids["id"], "date": future(5).isoformat(), "availability": 0})
    channex("ari", {"property_id": channex.ids["id"], "date": future(9).isoformat(), "availability": 1})

    with django_capture_on_commit_callbacks(execute=True):
        outcome = api_sync.reconcile_connection(connection.pk)

    assert (outcome.status, outcome.closed_there, outcome.open_there) == ("compared", 1, 1)
    connection.refresh_from_db()  # each mismatch reported to the owner, on the connection's page
    from channels.health import api_health

    said = " ".join(api_health(connection).sentences(timezone.now()))
    assert f"closed on the platform only ({future(5)})" in said and f"open there only ({future(9)})" in said
    block = connection.channel_blocks.get()
    assert (block.start_date, block.end_date) == (future(5), future(6))
    assert stored_availability(channex, future(5), future(9))[9] == 0  # pushed again
    # a second comparison finds nothing new, and keeps the block while the platform keeps the night closed
    assert api_sync.reconcile_connection(connection.pk).closed_there == 0
    assert connection.channel_blocks.count() == 1
    channex("ari", {"property_id": channex.ids["id"], "date": future(5).isoformat(), "availability": 1})
    with django_capture_on_commit_callbacks(execute=True):
        api_sync.reconcile_connection(connection.pk)
    assert not connection.channel_blocks.exists()  # opened there again: the block goes
