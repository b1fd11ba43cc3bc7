from django.apps import AppConfig


class ChannelsConfig(AppConfig):
    # "channels" would clash with the django-channels package's label if it were
    # ever installed; the label below keeps the tables unambiguous.
    name = "channels"
    label = "channel_sync"
    verbose_name = "Channels"

    def ready(self):
        from core import tenancy

        tenancy.register_paths({
            "channel_sync.channelconnection": "property",
            "channel_sync.syncrun": "connection__property",
            "channel_sync.syncconflict": "property",
        })
