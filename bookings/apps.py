from django.apps import AppConfig


class BookingsConfig(AppConfig):
    name = "bookings"

    def ready(self):
        from core import tenancy

        from . import (
            notifications,  # noqa: F401  (registers the "emails" outbox consumer)
            turnover,  # noqa: F401  (registers the "turnover" outbox consumer)
        )

        tenancy.register_paths({
            "bookings.booking": "property",
            "bookings.bookingevent": "booking__property",
            "bookings.guestmessage": "booking__property",
            "bookings.sentemail": "booking__property",
            "bookings.availabilityblock": "property",
            "bookings.turnovertask": "property",
        })
