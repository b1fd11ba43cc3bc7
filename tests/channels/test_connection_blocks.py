"""A channel block keeps its connection's id without a foreign key (bookings is below channels, issue 13):
channels provides what the foreign key gave — the cascade, the reverse accessor, ``block.connection``,
the ``connection__platform`` lookup — and every page that showed the platform still does."""

from __future__ import annotations

import pytest
from django.db.models import F
from django.urls import reverse

from backoffice.timeline import timeline_rows
from bookings.blocks import create_block, replace_channel_blocks
from bookings.models import AvailabilityBlock
from channels.models import ChannelConnection, Platform, SyncConflict
from tests.factories import PropertyFactory, SuperuserFactory, future

pytestmark = pytest.mark.django_db


def connect(prop, platform=Platform.AIRBNB) -> ChannelConnection:
    return ChannelConnection.objects.create(property=prop, platform=platform, import_url=f"https://example.com/{platform}")


@pytest.fixture
def scene():
    prop = PropertyFactory()
    airbnb, vrbo = connect(prop), connect(prop, Platform.FEWO_DIREKT)
    replace_channel_blocks(connection=airbnb, blocks=[(future(10), future(12), False, "Airbnb (Not available)")])
    replace_channel_blocks(connection=vrbo, blocks=[(future(20), future(23), True, "Provisoire")])
    own = create_block(property_id=prop.pk, start_date=future(30), end_date=future(32), reason="owner_use")
    return prop, airbnb, vrbo, own


def test_deleting_a_connection_deletes_only_its_channel_blocks(scene):
    prop, airbnb, vrbo, own = scene
    airbnb_block = AvailabilityBlock.objects.get(connection=airbnb)
    conflict = SyncConflict.objects.create(connection=vrbo, property=prop, uid="x@vrbo", check_in=future(10),
                                           check_out=future(12), other_block=airbnb_block)

    airbnb.delete()

    assert set(AvailabilityBlock.objects.values_list("connection_id", flat=True)) == {vrbo.pk, None}
    assert AvailabilityBlock.objects.filter(pk=own.pk).exists()
    conflict.refresh_from_db()
    assert conflict.other_block_id is None  # the conflict's own foreign key still sets null


def test_bulk_deletes_and_deleting_the_property_take_the_blocks_too(scene):
    prop, airbnb, vrbo, own = scene
    ChannelConnection.objects.filter(pk=vrbo.pk).delete()
    assert not AvailabilityBlock.objects.filter(connection_id=vrbo.pk).exists()
    assert AvailabilityBlock.objects.filter(connection=airbnb).count() == 1

    prop.delete()
    assert not AvailabilityBlock.objects.exists()


def test_the_block_reads_like_the_foreign_key_it_was(scene):
    prop, airbnb, vrbo, own = scene
    block = AvailabilityBlock.objects.get(connection=airbnb)

    assert block.connection == airbnb and block.connection_id == airbnb.pk
    assert list(airbnb.channel_blocks) == [block]
    assert own.connection is None and own.connection_id is None
    assert list(AvailabilityBlock.objects.filter(connection__platform=Platform.FEWO_DIREKT)
                .values_list("tentative", flat=True)) == [True]
    platforms = dict(AvailabilityBlock.objects.annotate(platform=F("connection__platform"))
                     .values_list("pk", "platform"))
    assert sorted(platforms.values(), key=str) == sorted([Platform.AIRBNB, Platform.FEWO_DIREKT, None], key=str)

    block.connection = vrbo  # assigning a row stores its id
    assert block.connection_id == vrbo.pk and block.connection == vrbo


def test_the_admin_pages_still_show_the_connection_and_the_platform(scene, client):
    prop, airbnb, vrbo, own = scene
    client.force_login(SuperuserFactory())
    block = AvailabilityBlock.objects.get(connection=airbnb)

    block_page = client.get(reverse("admin:bookings_availabilityblock_change", args=[block.pk])).content.decode()
    assert str(airbnb) in block_page  # the read-only "connection" of a channel block

    property_page = client.get(reverse("admin:properties_property_change", args=[prop.pk])).content.decode()
    assert str(airbnb) in property_page and str(vrbo) in property_page  # the channel blocks inline

    rows = timeline_rows(SuperuserFactory(), future(0), 60).rows
    titles = [bar.title for row in rows for bar in row.bars]
    assert any("Airbnb: not available" in t for t in titles)
    assert any("FeWo-direkt / Vrbo: not available (tentative)" in t for t in titles)
