"""A channel block's ``connection`` stops being a foreign key to ``channel_sync.ChannelConnection`` (a layer
above): the same ``connection_id`` column, index and values, without the foreign-key constraint
(``core.fields.UpwardReference``). ``channels`` deletes a connection's blocks itself (``channels.models``)."""

from django.db import migrations

import core.fields


class Migration(migrations.Migration):
    dependencies = [
        ("properties", "0006_photo_reencoded"),
    ]

    operations = [
        migrations.AlterField(
            model_name="availabilityblock",
            name="connection",
            field=core.fields.UpwardReference(blank=True, db_index=True, null=True),
        ),
    ]
