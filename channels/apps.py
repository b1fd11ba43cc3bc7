from django.apps import AppConfig


class ChannelsConfig(AppConfig):
    # "channels" would clash with the django-channels package's label if it were
    # ever installed; the label below keeps the tables unambiguous.
    name = "channels"
    label = "channel_sync"
    verbose_name = "Channels"

    def ready(self):
        from django.db.models.signals import pre_delete

        from bookings.models import AvailabilityBlock
        from core import tenancy

        from . import api_sync  # noqa: F401  (registers the "channel_api" outbox consumer)
        from .models import ChannelConnection, delete_channel_blocks

        # Channel blocks keep their connection's id without a foreign key (bookings is below channels): this
        # layer makes ``block.connection`` return the connection, ``connection__platform`` readable, and deletes
        # a connection's blocks with it (see channels.models).
        AvailabilityBlock._meta.get_field("connection").bind(ChannelConnection, columns=("platform",))
        pre_delete.connect(delete_channel_blocks, sender=ChannelConnection, dispatch_uid="channels.channel_blocks")

        tenancy.register_paths({
            "channel_sync.channelconnection": "property",
            "channel_sync.syncrun": "connection__property",
            "channel_sync.syncconflict": "property",
            "channel_sync.arichange": "connection__property",
            "channel_sync.inboundmessage": "connection__property",
        })
