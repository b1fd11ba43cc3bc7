"""API connections against the platform emulators, over real HTTP (channels.emulators)."""

from __future__ import annotations

import json
import time
import urllib.request

import pytest

from channels import limits
from channels.emulators.base import running
from channels.emulators.booking_com import BookingComEmulator
from channels.emulators.channex import ChannexEmulator
from channels.emulators.google_vr import GoogleVrEmulator
from channels.models import ChannelConnection, Transport


class Control:
    """The emulator's control routes, as a test calls them."""

    def __init__(self, emulator):
        self.emulator = emulator

    def __call__(self, path: str, data=None, method: str | None = None):
        body = json.dumps(data).encode() if data is not None else None
        request = urllib.request.Request(self.emulator.base_url + "/_emulator/" + path, data=body,
                                         method=method or ("POST" if data is not None else "GET"),
                                         headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - the local emulator
            return json.loads(response.read() or b"null")

    def requests(self, path_prefix: str = "/api/v1/") -> list[dict]:
        return [r for r in self("requests") if r["path"].startswith(path_prefix)]


def wait_for(predicate, timeout: float = 10.0):
    """Poll ``predicate`` until it returns something true (returned) or ``timeout`` seconds pass (None): for what
    another thread or process does (a worker, a webhook through a live server)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    return None


@pytest.fixture(scope="session")
def channex_server():
    with running(ChannexEmulator()) as emulator:
        yield emulator


@pytest.fixture
def channex(channex_server, settings):
    """The Channex emulator, reset, with one account holding one vacation rental; the adapter pointed at it."""
    settings.CHANNEX_BASE_URL = channex_server.base_url + "/api/v1"
    control = Control(channex_server)
    control("reset", {})
    limits.reset()
    account = control("accounts", {"api_key": "test-key", "properties": [
        {"title": "Villa Emulator", "currency": "EUR", "timezone": "UTC"}]})
    control.api_key = account["api_key"]
    control.ids = account["properties"][0]
    yield control
    limits.reset()


@pytest.fixture
def channex_connection(channex):
    """A Channex connection of a new property, mapped to the emulator's property (no webhook registered)."""
    from tests.factories import PropertyFactory

    def make(prop=None, **fields):
        connection = ChannelConnection(
            property=prop or PropertyFactory(), platform="channex", transport=Transport.CHANNEX,
            remote_property_id=channex.ids["id"], remote_room_type_id=channex.ids["room_type_id"],
            remote_rate_plan_id=channex.ids["rate_plan_id"], **fields)
        connection.set_credentials({"api_key": channex.api_key})
        connection.save()
        return connection

    return make


GOOGLE_PARTNER = "stayhold_test"


@pytest.fixture(scope="session")
def google_server():
    with running(GoogleVrEmulator()) as emulator:
        yield emulator


@pytest.fixture
def google(google_server, settings):
    """The Google Vacation Rentals emulator, reset, with one partner account (``google.partner``) that holds the
    properties of the connections made by ``google_connection``; the adapter pointed at it."""
    settings.GOOGLE_VR_BASE_URL = google_server.base_url
    control = Control(google_server)
    control("reset", {})
    limits.reset()
    control.partner = GOOGLE_PARTNER
    control.properties = []
    control("partners", {"partner": GOOGLE_PARTNER, "properties": []})
    yield control
    limits.reset()


@pytest.fixture
def google_connection(google):
    """A Google connection of a new property (Google's property id: the property's slug, the default), the property
    held by the emulator's partner."""
    from tests.factories import PropertyFactory

    def make(prop=None, partner=GOOGLE_PARTNER, **fields):
        connection = ChannelConnection(property=prop or PropertyFactory(), platform="google_vr",
                                       transport=Transport.GOOGLE_VR, **fields)
        connection.set_credentials({"partner_key": partner})
        connection.save()
        google.properties.append(connection.remote_property_id or connection.property.slug)
        google("partners", {"partner": GOOGLE_PARTNER, "properties": google.properties})
        return connection

    return make


# --- Booking.com ------------------------------------------------------------------------------------------------

BOOKING_COM_HOTEL = {"hotel_id": "367456", "room_id": "36745601", "rate_plan_id": "1278606", "currency": "EUR"}


@pytest.fixture(scope="session")
def booking_com_server():
    with running(BookingComEmulator()) as emulator:
        yield emulator


@pytest.fixture
def booking_com(booking_com_server, settings):
    """The Booking.com emulator, reset, with one machine account linked to one hotel (one room, one rate plan);
    the adapter's three hosts pointed at it, no token cached, the limit windows empty."""
    from django.core.cache import cache

    from channels.adapters.booking_com import BookingComAdapter

    base = booking_com_server.base_url
    settings.BOOKING_COM_AUTH_URL = settings.BOOKING_COM_SUPPLY_URL = settings.BOOKING_COM_SECURE_SUPPLY_URL = base
    control = Control(booking_com_server)
    control("reset", {})
    control.client_id, control.client_secret = "a1b2c3d4-5fc0-11ef-a860-0123456789ab", "s3cret-of-the-machine-account"
    token_key = BookingComAdapter.token_key(control.client_id)
    cache.delete(token_key)
    limits.reset()
    control("accounts", {"client_id": control.client_id, "client_secret": control.client_secret,
                         "hotels": [BOOKING_COM_HOTEL]})
    control.hotel = dict(BOOKING_COM_HOTEL)
    yield control
    cache.delete(token_key)
    limits.reset()


@pytest.fixture
def booking_com_connection(booking_com):
    """A Booking.com connection of a new property, mapped to the emulator's hotel, room and rate plan."""
    from tests.factories import PropertyFactory

    def make(prop=None, **fields):
        mapping = {"remote_property_id": booking_com.hotel["hotel_id"],
                   "remote_room_type_id": booking_com.hotel["room_id"],
                   "remote_rate_plan_id": booking_com.hotel["rate_plan_id"]}
        connection = ChannelConnection(property=prop or PropertyFactory(), platform="booking_com",
                                       transport=Transport.BOOKING_COM, **{**mapping, **fields})
        connection.set_credentials({"client_id": booking_com.client_id, "client_secret": booking_com.client_secret})
        connection.save()
        return connection

    return make
