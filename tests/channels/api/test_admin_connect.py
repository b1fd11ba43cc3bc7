"""The owner connects a property to Channex in the admin (against the emulator), reads its health, queues a full
sync; credentials never come back in a page; an iCal connection of the same platform refuses the API one."""

from __future__ import annotations

import pytest
from django.urls import reverse

from bookings.models import Booking
from channels.models import AriChange, ChannelConnection, InboundMessage, Transport
from tests.factories import OwnerFactory, PropertyFactory, StaffFactory, future

pytestmark = pytest.mark.django_db
CONNECT = "admin:channel_sync_channelconnection_connect"


@pytest.fixture
def owner_prop(db):
    owner = OwnerFactory(email="owner@example.com")
    return owner, PropertyFactory(owner=owner, name="Villa Connect")


def test_the_owner_connects_channex_by_picking_what_the_key_sees(channex, owner_prop, client,
                                                                 django_capture_on_commit_callbacks):
    owner, prop = owner_prop
    made = channex("bookings", {"property_id": channex.ids["id"], "arrival_date": future(20).isoformat(),
                                "departure_date": future(22).isoformat(), "adults": 2, "ota_name": "Booking.com",
                                "customer": {"name": "Grace", "surname": "Hopper"}})
    client.force_login(owner)
    page = client.get(reverse(CONNECT) + "?transport=channex")
    assert page.status_code == 200 and b"API key" in page.content

    found = client.post(reverse(CONNECT), {"transport": "channex", "property": prop.pk, "step": "find",
                                           "credential_api_key": channex.api_key})
    assert found.status_code == 200 and b"Villa Emulator (EUR)" in found.content
    assert channex.api_key.encode() not in found.content  # the key waits in the session, encrypted

    with django_capture_on_commit_callbacks(execute=True):
        done = client.post(reverse(CONNECT), {
            "transport": "channex", "property": prop.pk, "step": "connect",
            "remote": f"{channex.ids['id']}|{channex.ids['room_type_id']}|{channex.ids['rate_plan_id']}"})
    connection = ChannelConnection.objects.get(property=prop, transport=Transport.CHANNEX)
    assert done.status_code == 302 and done.url.endswith(f"/{connection.pk}/change/")
    assert (connection.platform, connection.remote_property_id, connection.credential("api_key")) == (
        "channex", channex.ids["id"], channex.api_key)
    # activated after the commit: webhook registered with the connection's secret, full sync sent, pulled
    hooks = channex.requests("/api/v1/webhooks")
    assert len(hooks) == 1 and connection.inbound_token in hooks[0]["body"]
    assert "/channels/webhooks/channex" in hooks[0]["body"]
    # the full sync (availability, then rates and rules), then the pulled reservation's nights
    assert len(channex.requests("/api/v1/availability")) == 2 and len(channex.requests("/api/v1/restrictions")) == 1
    assert not AriChange.objects.filter(connection=connection).exists()
    assert Booking.objects.filter(property=prop, external_id=made["booking_id"]).exists()
    assert InboundMessage.objects.filter(connection=connection, acknowledged_at__isnull=False).count() == 1

    page = client.get(reverse("admin:channel_sync_channelconnection_change", args=[connection.pk]))
    assert page.status_code == 200
    assert b"Everything is sent" in page.content and b"Full sync" in page.content
    assert channex.api_key.encode() not in page.content and b"\xe2\x80\xa2\xe2\x80\xa2" in page.content  # masked


def test_a_wrong_key_is_said_in_plain_words_and_nothing_is_saved(channex, owner_prop, client):
    owner, prop = owner_prop
    client.force_login(owner)
    page = client.post(reverse(CONNECT), {"transport": "channex", "property": prop.pk, "step": "find",
                                          "credential_api_key": "not-a-key"})
    assert page.status_code == 200 and b"Channex answered" in page.content
    assert not ChannelConnection.objects.exists()


def test_an_ical_connection_of_the_platform_refuses_the_api_one(channex, owner_prop, client):
    owner, prop = owner_prop
    ChannelConnection.objects.create(property=prop, platform="booking_com")
    from channels import services
    from channels.services import ConnectionRefused

    with pytest.raises(ConnectionRefused, match="already has an iCal connection"):
        services.connect_api(property_id=prop.pk, transport=Transport.BOOKING_COM,
                             credentials={"client_id": "x", "client_secret": "y"}, remote_property_id="123")


def test_the_full_sync_button_queues_and_staff_cannot_connect(channex, channex_connection, owner_prop, client,
                                                              monkeypatch, django_capture_on_commit_callbacks):
    owner, prop = owner_prop
    connection = channex_connection(prop)
    from channels import api_sync

    queued = []
    monkeypatch.setattr(api_sync, "queue_push", lambda pk, countdown=None: queued.append(pk))
    client.force_login(owner)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("admin:channel_sync_channelconnection_full_sync", args=[connection.pk]))
    assert response.status_code == 302 and queued == [connection.pk]
    assert AriChange.objects.filter(connection=connection, kinds=AriChange.ALL).count() == 1

    staff = StaffFactory(email="staff@example.com", employer=owner, properties=[prop])
    client.force_login(staff)
    assert client.get(reverse(CONNECT)).status_code == 403
    assert client.post(reverse("admin:channel_sync_channelconnection_full_sync",
                               args=[connection.pk])).status_code == 403


def test_booking_com_checks_the_credentials_then_takes_the_typed_ids(booking_com, owner_prop, client,
                                                                    django_capture_on_commit_callbacks):
    owner, prop = owner_prop
    client.force_login(owner)
    checked = client.post(reverse(CONNECT), {"transport": "booking_com", "property": prop.pk, "step": "find",
                                             "credential_client_id": booking_com.client_id,
                                             "credential_client_secret": booking_com.client_secret})
    assert checked.status_code == 200 and b"accepted the credentials" in checked.content
    assert booking_com.client_secret.encode() not in checked.content and b'value="connect"' in checked.content

    with django_capture_on_commit_callbacks(execute=True):
        done = client.post(reverse(CONNECT), {
            "transport": "booking_com", "property": prop.pk, "step": "connect",
            "remote_property_id": booking_com.hotel["hotel_id"], "remote_room_type_id": booking_com.hotel["room_id"],
            "remote_rate_plan_id": booking_com.hotel["rate_plan_id"]})
    connection = ChannelConnection.objects.get(property=prop, transport=Transport.BOOKING_COM)
    assert done.status_code == 302 and connection.credential("client_secret") == booking_com.client_secret
    assert not AriChange.objects.filter(connection=connection).exists()  # the full sync went through


def test_wrong_booking_com_credentials_are_refused_in_plain_words(booking_com, owner_prop, client):
    owner, prop = owner_prop
    client.force_login(owner)
    page = client.post(reverse(CONNECT), {"transport": "booking_com", "property": prop.pk, "step": "find",
                                          "credential_client_id": booking_com.client_id,
                                          "credential_client_secret": "wrong"})
    assert page.status_code == 200 and b"Booking.com answered" in page.content
    assert not ChannelConnection.objects.exists()


def test_google_offers_the_property_itself_and_shows_the_landing_template(google, owner_prop, client,
                                                                         django_capture_on_commit_callbacks):
    owner, prop = owner_prop
    google("partners", {"partner": google.partner, "properties": [prop.slug]})
    client.force_login(owner)
    found = client.post(reverse(CONNECT), {"transport": "google_vr", "property": prop.pk, "step": "find",
                                           "credential_partner_key": google.partner})
    assert found.status_code == 200 and prop.name.encode() in found.content
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse(CONNECT), {"transport": "google_vr", "property": prop.pk, "step": "connect",
                                       "remote": f"{prop.slug}|{prop.pk}|STD"})
    connection = ChannelConnection.objects.get(property=prop, transport=Transport.GOOGLE_VR)
    page = client.get(reverse("admin:channel_sync_channelconnection_change", args=[connection.pk]))
    assert b"/go/google/(PARTNER-HOTEL-ID)?checkin=" in page.content


def test_the_service_refuses_a_connection_without_its_credentials(owner_prop):
    from channels import services
    from channels.services import ConnectionRefused

    _owner, prop = owner_prop
    with pytest.raises(ConnectionRefused, match="Client secret"):
        services.connect_api(property_id=prop.pk, transport=Transport.BOOKING_COM,
                             credentials={"client_id": "x", "client_secret": " "}, remote_property_id="123")
    assert not ChannelConnection.objects.exists()
