"""channels.services: the connection writes the admin calls (pause/resume, rotate the export URL, form bookkeeping)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from channels import services
from channels.models import ChannelConnection, ConnectionStatus
from tests.factories import PropertyFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def conn():
    return ChannelConnection.objects.create(property=PropertyFactory(), platform="airbnb",
                                            import_url="https://example.com/a.ics", etag='"v1"')


def test_pausing_stops_polling_and_resuming_makes_it_due_at_once(conn):
    now = timezone.now()
    services.set_paused(conn, paused=True, now=now)
    conn.refresh_from_db()
    assert (conn.sync_enabled, conn.status, conn.next_poll_at) == (False, ConnectionStatus.PAUSED, None)
    services.set_paused(conn, paused=False, now=now)
    conn.refresh_from_db()
    assert (conn.sync_enabled, conn.status, conn.next_poll_at) == (True, ConnectionStatus.OK, now)


def test_rotating_the_export_url_changes_token_and_digest(conn):
    token, digest = conn.export_token, conn.export_token_digest
    services.rotate_export_url(conn)
    conn.refresh_from_db()
    assert conn.export_token != token and conn.export_token_digest != digest


def test_a_new_import_address_forgets_the_old_etag_and_is_due_now(conn):
    now = timezone.now() + timedelta(minutes=3)
    services.prepare_connection_save(conn, changed={"import_url"}, now=now)
    assert (conn.etag, conn.last_modified, conn.next_poll_at) == ("", "", now)
    kept = ChannelConnection.objects.get(pk=conn.pk)
    services.prepare_connection_save(kept, changed={"name"}, now=now)
    assert kept.etag == '"v1"'  # nothing about the address changed


def test_deleting_a_connection_frees_its_nights_through_the_booking_service(conn):
    """``services.delete_connection``: the channel blocks go through ``bookings.blocks`` (one availability.updated
    event for the other platforms' feeds), then the connection with its runs."""
    from bookings.blocks import replace_channel_blocks
    from bookings.models import AvailabilityBlock
    from core.models import OutboxEvent
    from tests.factories import future

    replace_channel_blocks(connection=conn, blocks=[(future(5), future(8), False, "Not available")])
    events = OutboxEvent.objects.filter(topic="availability.updated").count()

    services.delete_connection(conn)

    assert not ChannelConnection.objects.filter(pk=conn.pk).exists()
    assert not AvailabilityBlock.objects.filter(property=conn.property).exists()
    assert OutboxEvent.objects.filter(topic="availability.updated").count() == events + 1
