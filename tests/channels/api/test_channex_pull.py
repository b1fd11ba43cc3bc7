"""Inbound: a reservation made on a platform reaches us through Channex (its emulator over HTTP), once, in the
platform's order, and closes the nights everywhere; webhooks only trigger the pull."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from bookings.models import Booking, BookingStatus, Source
from channels import api_sync
from channels.adapters.base import RemoteReservation
from channels.models import ChannelConnection, InboundMessage, SyncConflict, Transport
from tests.factories import PropertyFactory, future

pytestmark = pytest.mark.django_db


def platform_booking(channex, start=10, nights=3, **fields):
    return channex("bookings", {"property_id": channex.ids["id"], "arrival_date": future(start).isoformat(),
                                "departure_date": future(start + nights).isoformat(), "adults": 2, "children": 1,
                                "amount": "450.00", "currency": "EUR", "ota_name": "Airbnb",
                                "customer": {"name": "Ada", "surname": "Lovelace", "mail": "ada@example.com",
                                             "phone": "+44 20 7946 0000"}, **fields})


def test_a_platform_reservation_becomes_a_booking_here_and_is_acknowledged(channex, channex_connection):
    connection = channex_connection()
    made = platform_booking(channex)

    outcome = api_sync.pull_connection(connection.pk)

    assert (outcome.status, outcome.received, outcome.applied) == ("pulled", 1, 1)
    booking = Booking.objects.get(property=connection.property, external_id=made["booking_id"])
    assert (booking.source, booking.status, booking.check_in, booking.check_out, booking.adults,
            booking.children, booking.guest.name) == (Source.AIRBNB, BookingStatus.CONFIRMED, future(10), future(13),
                                                      2, 1, "Ada Lovelace")
    assert booking.platform_total == Decimal("450.00")  # what Airbnb charged; ``total`` is our quote
    message = InboundMessage.objects.get(connection=connection)
    assert (message.message_id, message.outcome, message.booking) == (made["revision_id"], "created", booking)
    assert message.acknowledged_at is not None
    acks = [r for r in channex.requests("/api/v1/booking_revisions/") if r["path"].endswith("/ack")]
    assert [r["path"] for r in acks] == [f"/api/v1/booking_revisions/{made['revision_id']}/ack"]
    assert api_sync.pull_connection(connection.pk).received == 0  # the feed is empty once acknowledged


def test_modifications_and_cancellations_follow_the_platform(channex, channex_connection):
    connection = channex_connection()
    made = platform_booking(channex)
    api_sync.pull_connection(connection.pk)

    channex(f"bookings/{made['booking_id']}/modify", {"arrival_date": future(12).isoformat(),
                                                      "departure_date": future(16).isoformat()})
    api_sync.pull_connection(connection.pk)
    booking = Booking.objects.get(external_id=made["booking_id"])
    assert (booking.check_in, booking.check_out, booking.status) == (future(12), future(16), BookingStatus.CONFIRMED)

    channex(f"bookings/{made['booking_id']}/modify", {"amount": "610.00"})  # the price alone
    api_sync.pull_connection(connection.pk)
    booking.refresh_from_db()
    assert booking.platform_total == Decimal("610.00") and booking.check_in == future(12)
    assert booking.events.filter(reason__startswith="Price changed on the channel").exists()

    channex(f"bookings/{made['booking_id']}/cancel", {})
    api_sync.pull_connection(connection.pk)
    booking.refresh_from_db()
    assert booking.status == BookingStatus.CANCELLED
    assert list(InboundMessage.objects.filter(connection=connection).order_by("received_at", "pk")
                .values_list("kind", "outcome")) == [("new", "created"), ("modified", "changed"),
                                                     ("modified", "changed"), ("cancelled", "cancelled")]


def reservation(connection, message_id, kind, minute, start=10, nights=2):
    return RemoteReservation(
        message_id=message_id, remote_booking_id="bk-1", kind=kind, source=Source.BOOKING_COM,
        remote_property_id=connection.remote_property_id, check_in=future(start), check_out=future(start + nights),
        adults=2, revision_at=timezone.now().replace(microsecond=0) + timedelta(minutes=minute))


def test_a_message_seen_twice_is_applied_once(channex, channex_connection):
    connection = channex_connection()
    first = reservation(connection, "rev-1", "new", 0)
    assert api_sync.apply_reservation(connection, first) == "created"
    assert api_sync.apply_reservation(connection, first) == "duplicate"
    assert Booking.objects.filter(external_id="bk-1").count() == 1


def test_messages_apply_in_the_platforms_order_even_when_they_arrive_out_of_it(channex, channex_connection):
    connection = channex_connection()
    api_sync.apply_reservation(connection, reservation(connection, "rev-1", "new", 0))
    api_sync.apply_reservation(connection, reservation(connection, "rev-3", "cancelled", 2))
    late = api_sync.apply_reservation(connection, reservation(connection, "rev-2", "modified", 1, start=20))

    assert late == "superseded"
    booking = Booking.objects.get(external_id="bk-1")
    assert (booking.status, booking.check_in) == (BookingStatus.CANCELLED, future(10))


def test_a_colliding_platform_sale_is_recorded_as_an_overbooking_and_alerts_the_owner(
        channex, channex_connection, book, django_capture_on_commit_callbacks):
    connection = channex_connection()
    ours = book(connection.property, start=10, nights=3)
    made = platform_booking(channex, start=11, nights=2)

    with django_capture_on_commit_callbacks(execute=True):
        api_sync.pull_connection(connection.pk)

    theirs = Booking.objects.get(external_id=made["booking_id"])
    assert theirs.overbooking_lane == 1 and theirs.status == BookingStatus.CONFIRMED
    conflict = SyncConflict.objects.get(connection=connection)
    assert (conflict.imported_booking, conflict.other_booking, conflict.uid) == (theirs, ours, made["booking_id"])
    from bookings.models import SentEmail
    assert SentEmail.objects.filter(kind="owner_sync_conflict").count() == 1


def test_a_platform_sale_closes_the_nights_on_the_other_connections(channex, channex_connection,
                                                                   django_capture_on_commit_callbacks):
    from channels.ical_export import build_feed

    connection = channex_connection()
    ical = ChannelConnection.objects.create(property=connection.property, platform="booking_com")
    made = platform_booking(channex, start=30, nights=4)

    with django_capture_on_commit_callbacks(execute=True):
        api_sync.pull_connection(connection.pk)

    feed = build_feed(ical).decode()
    assert f"DTSTART;VALUE=DATE:{future(30):%Y%m%d}" in feed and f"DTEND;VALUE=DATE:{future(34):%Y%m%d}" in feed
    # and the Channex connection itself is told (its availability drops on the platform's own sale, too)
    stored = channex(f"ari?property_id={channex.ids['id']}")["availability"]
    assert [stored.get((future(30) + timedelta(days=i)).isoformat()) for i in range(4)] == [0, 0, 0, 0]
    assert made["booking_id"]


def test_a_cancellation_of_a_reservation_never_seen_changes_nothing(channex, channex_connection):
    connection = channex_connection()
    assert api_sync.apply_reservation(connection, reservation(connection, "rev-9", "cancelled", 0)) == "not_found"
    assert not Booking.objects.exists()


def test_a_webhook_with_the_connection_secret_pulls_at_once_and_a_forged_one_does_nothing(
        channex, channex_connection, client):
    connection = channex_connection()
    token = connection.rotate_inbound_token()
    connection.save()
    made = platform_booking(channex)

    forged = client.post("/channels/webhooks/channex", {"event": "booking_new"}, content_type="application/json",
                         headers={"X-Stayhold-Token": "guess"})
    assert forged.status_code == 404 and forged.json()["code"] == "unknown_connection"
    assert not Booking.objects.exists()

    response = client.post("/channels/webhooks/channex", {"event": "booking_new"}, content_type="application/json",
                           headers={"X-Stayhold-Token": token})
    assert response.status_code == 200 and response.json() == {"received": True}
    assert Booking.objects.filter(external_id=made["booking_id"]).exists()  # eager Celery: pulled already
    assert client.get("/channels/webhooks/channex").status_code == 405


def test_an_ical_connection_is_never_pushed_or_pulled(channex):
    connection = ChannelConnection.objects.create(property=PropertyFactory(), platform="airbnb",
                                                  transport=Transport.ICAL)
    assert api_sync.pull_connection(connection.pk).status == "skipped"
    assert api_sync.push_connection(connection.pk).status == "busy"


def test_the_beat_pulls_each_connection_at_its_adapters_pace(channex, channex_connection, monkeypatch):
    connection = channex_connection()
    queued = []
    monkeypatch.setattr(api_sync, "queue_pull", queued.append)
    now = timezone.now()
    assert api_sync.pull_due(at=now) == 1 and queued == [connection.pk]
    ChannelConnection.objects.filter(pk=connection.pk).update(last_pull_at=now)
    assert api_sync.pull_due(at=now + timedelta(seconds=30)) == 0  # Channex: webhooks, a pull a minute
    assert api_sync.pull_due(at=now + timedelta(seconds=60)) == 1


def test_a_reservation_that_left_the_feed_unacknowledged_is_recovered_from_the_listing(channex, channex_connection):
    """Our side was down for an hour: the revision was never acknowledged and (per the emulator's setting) left
    the feed after 30 minutes. The daily reconciliation finds it in Channex's bookings list."""
    connection = channex_connection()
    channex("settings", {"unacked_leave_feed_after_minutes": 30})
    made = platform_booking(channex, start=15, nights=2)
    channex("clock", {"advance": 3600})
    assert api_sync.pull_connection(connection.pk).received == 0  # gone from the feed
    assert not Booking.objects.filter(external_id=made["booking_id"]).exists()

    outcome = api_sync.reconcile_connection(connection.pk)

    assert outcome.recovered == 1
    booking = Booking.objects.get(external_id=made["booking_id"])
    assert (booking.check_in, booking.status) == (future(15), BookingStatus.CONFIRMED)
    assert api_sync.reconcile_connection(connection.pk).recovered == 0  # the same version again: nothing


def test_a_sync_error_webhook_is_shown_to_the_owner_and_pulls_nothing(channex, channex_connection, client):
    connection = channex_connection()
    token = connection.rotate_inbound_token()
    connection.save()
    response = client.post("/channels/webhooks/channex", {
        "event": "sync_error", "property_id": channex.ids["id"], "user_id": None,
        "payload": {"channel": "BookingCom", "channel_name": "Booking.com", "error_type": "general_error",
                    "property_name": "Villa Emulator"}}, content_type="application/json",
        headers={"X-Stayhold-Token": token})
    assert response.status_code == 200
    connection.refresh_from_db()
    assert connection.status == "warning" and "could not update Booking.com (general_error)" in connection.last_error
    assert not channex.requests("/api/v1/booking_revisions")  # not a trigger: nothing pulled
