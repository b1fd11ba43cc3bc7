from django.apps import AppConfig


class DemoConfig(AppConfig):
    """The demo: ``manage.py seed_demo`` (users, properties, a year of bookings, through the services) and
    ``manage.py demo_totp``. The top layer with the back office; nothing imports it (docs/architecture.md)."""

    name = "demo"
    verbose_name = "Demo data"
