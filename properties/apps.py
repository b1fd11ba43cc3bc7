from django.apps import AppConfig


class PropertiesConfig(AppConfig):
    name = "properties"

    def ready(self):
        from . import turnover  # noqa: F401  (registers the "turnover" outbox consumer)
