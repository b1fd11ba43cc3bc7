"""The guest's magic links: a guest page's URL with the booking's access token (``bookings.tokens``).

Used by the pages, the payment pages and the emails (``bookings.notifications``), so they live here, below all
of them, not with the pages. The URL names are the guest pages' (``storefront.urls``) and the payment page's
(``payments.urls``): reversed by name, never imported.
"""

from __future__ import annotations

from urllib.parse import urlencode

from django.urls import reverse

from .models import Booking
from .tokens import booking_access_token


def payment_url(booking: Booking) -> str:
    """Where the guest pays: ``/payments/<reference>/pay/?token=<booking access token>`` (``payments:pay``)."""
    return f"{reverse('payments:pay', args=[booking.reference])}?{urlencode({'token': booking_access_token(booking)})}"


def status_url(booking: Booking, name: str = "bookings:status") -> str:
    return f"{reverse(name, args=[booking.reference])}?{urlencode({'token': booking_access_token(booking)})}"
