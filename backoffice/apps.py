from django.apps import AppConfig


class BackofficeConfig(AppConfig):
    """The back office inside the admin: its site (``admin_site``), the booking's page (``admin``), the dashboard,
    the calendar timeline and the reports. The top layer with the demo: it composes every domain app and none
    imports it (docs/architecture.md)."""

    name = "backoffice"
    verbose_name = "Back office"
