from django.apps import AppConfig


class BookingsConfig(AppConfig):
    name = "bookings"

    def ready(self):
        from . import notifications  # noqa: F401  (registers the "emails" outbox consumer)
