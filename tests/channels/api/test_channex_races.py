"""On real parallel database connections and a live server: a Channex reservation racing a direct checkout for
the same nights, a burst of changes inside the documented limits, webhooks duplicated and lost."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bookings import blocks, services
from bookings.errors import DatesUnavailable
from bookings.models import Booking, BookingStatus, Source
from channels import api_sync, limits
from channels.adapters.base import RemoteReservation
from channels.models import AriChange, InboundMessage, SyncConflict
from core.actor import Actor
from guests.services import GuestInput
from tests.channels.api.conftest import wait_for
from tests.factories import PropertyFactory, future
from tests.parallel import run_in_parallel

ROUNDS = 6


@pytest.mark.django_db(transaction=True)
def test_a_platform_reservation_and_a_direct_checkout_racing_never_leave_a_night_sold_twice_by_us(
        channex, channex_connection):
    connection = channex_connection(PropertyFactory())
    prop = connection.property
    outcomes = []
    for i in range(ROUNDS):
        start, end = future(10 + 10 * i), future(13 + 10 * i)
        theirs = RemoteReservation(
            message_id=f"rev-{i}", remote_booking_id=f"bk-{i}", kind="new", source=Source.AIRBNB,
            remote_property_id=connection.remote_property_id, check_in=start, check_out=end, adults=2)
        results = run_in_parallel([
            lambda theirs=theirs: api_sync.apply_reservation(connection, theirs),
            lambda i=i, start=start, end=end: services.reserve(
                property_id=prop.pk, check_in=start, check_out=end, adults=2,
                guest=GuestInput(name=f"Direct {i}", email=f"d{i}@example.com"), actor=Actor.guest("d")),
        ])
        (import_kind, import_value), (direct_kind, direct_value) = results
        assert import_kind == "ok" and import_value == "created", import_value  # the platform's sale always lands
        platform = Booking.objects.get(external_id=f"bk-{i}")
        if direct_kind == "ok":  # the checkout won the nights: both kept, the platform's in lane 1, owner told
            assert platform.overbooking_lane == 1 and direct_value.overbooking_lane == 0
            assert SyncConflict.objects.filter(connection=connection, uid=f"bk-{i}", resolved_at__isnull=True,
                                               other_booking=direct_value).exists()
            outcomes.append("both")
        else:
            assert type(direct_value) is DatesUnavailable and platform.overbooking_lane == 0
            outcomes.append("platform")
        lane0 = Booking.objects.filter(property=prop, overbooking_lane=0).occupying().overlapping(start, end)
        assert lane0.count() == 1  # exactly one stay of ours owns the nights
    assert len(outcomes) == ROUNDS


@pytest.mark.django_db
def test_a_burst_of_500_changes_in_a_minute_stays_inside_the_limit_and_loses_nothing(
        channex, channex_connection, django_capture_on_commit_callbacks):
    connection = channex_connection()
    with django_capture_on_commit_callbacks(execute=True):  # every change queues a push at once (eager Celery)
        for i in range(500):
            day = future(1 + (i * 7) % 400)
            if i % 2:
                blocks.create_block(property_id=connection.property_id, start_date=day, end_date=day + timedelta(1))
            else:
                AriChange.objects.create(connection=connection, start=day, end=day + timedelta(1))
                api_sync.queue_push(connection.pk)
    sent = channex.requests()
    assert {r["status"] for r in sent} == {200} and len(sent) <= 20  # ≤ 10 per kind per minute, no 429 storm
    assert AriChange.objects.filter(connection=connection).exists()  # the rest waits for room

    limits.reset()  # the minute has passed, for our limiter and for the platform's
    channex("clock", {"advance": 61})
    while api_sync.push_connection(connection.pk).status == "pushed":
        pass
    assert not AriChange.objects.filter(connection=connection).exists()
    stored = channex(f"ari?property_id={channex.ids['id']}")["availability"]
    closed_here = {b.start_date.isoformat() for b in connection.property.blocks.all()}
    assert closed_here and all(stored[d] == 0 for d in closed_here)  # every block reached the platform
    assert all(v == 1 for d, v in stored.items() if d not in closed_here)


@pytest.mark.django_db(transaction=True)
def test_duplicated_and_lost_webhooks_neither_double_nor_drop_a_reservation(channex, channex_connection,
                                                                            live_server, settings):
    settings.SITE_URL = live_server.url
    connection = channex_connection()
    api_sync.activate_connection(connection.pk)  # registers the webhook at the live server
    connection.refresh_from_db()

    channex("webhooks", {"duplicate": 1})
    made = channex("bookings", {"property_id": channex.ids["id"], "arrival_date": future(40).isoformat(),
                                "departure_date": future(42).isoformat(), "adults": 2, "ota_name": "Vrbo"})
    booking = wait_for(lambda: Booking.objects.filter(external_id=made["booking_id"]).first())
    assert booking is not None, [(d["outcome"], d["status"], d["error"], d["url"]) for d in channex("deliveries")]
    assert booking.source == Source.FEWO_DIREKT
    assert wait_for(lambda: len([d for d in channex("deliveries") if d["outcome"] == "delivered"]) >= 2)
    assert Booking.objects.filter(external_id=made["booking_id"]).count() == 1
    assert InboundMessage.objects.filter(connection=connection).count() == 1

    channex("webhooks", {"drop": 5})
    lost = channex("bookings", {"property_id": channex.ids["id"], "arrival_date": future(50).isoformat(),
                                "departure_date": future(53).isoformat(), "adults": 2, "ota_name": "Airbnb"})
    assert wait_for(lambda: Booking.objects.filter(external_id=lost["booking_id"]).exists(), timeout=1.5) is None
    from django.utils import timezone

    assert api_sync.pull_due(at=timezone.now() + timedelta(seconds=61)) == 1  # the beat's pull, a minute later
    assert Booking.objects.get(external_id=lost["booking_id"]).status == BookingStatus.CONFIRMED
