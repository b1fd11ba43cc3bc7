from django.apps import AppConfig


class CoreConfig(AppConfig):
    """The bottom layer: building blocks every domain app uses and that know no domain (docs/architecture.md)."""

    name = "core"
