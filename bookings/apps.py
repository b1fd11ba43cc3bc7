from django.apps import AppConfig


class BookingsConfig(AppConfig):
    name = "bookings"

    def ready(self):
        from config import checks  # noqa: F401  (registers the deploy checks)

        from . import (
            notifications,  # noqa: F401  (registers the "emails" outbox consumer)
            turnover,  # noqa: F401  (registers the "turnover" outbox consumer)
        )
