"""Fixtures of the language tests: a Lisbon property and its booking pages."""

import html
from datetime import time
from decimal import Decimal
from urllib.parse import urlencode

import pytest

from bookings import services
from bookings.models import Booking
from bookings.tokens import booking_access_token
from core.actor import Actor
from tests.factories import PropertyFactory
from tests.pages.conftest import details_data  # noqa: F401 - the page tests' fixture
from tests.pages.conftest import text as tags_removed


@pytest.fixture
def lisbon():
    return PropertyFactory(name="Alfama Loft", street="Rua da Regueira 12", city="Lisbon", country="PT",
                           timezone="Europe/Lisbon", check_in_time=time(16, 0), check_out_time=time(10, 0),
                           base_price=Decimal("1234.50"), cancellation_policy="moderate")


def text(response) -> str:
    """The visible text, entities decoded (French and Spanish have apostrophes: &#x27;)."""
    return html.unescape(tags_removed(response))


def status_page(booking) -> str:
    return f"/bookings/{booking.reference}/?{urlencode({'token': booking_access_token(booking)})}"


def confirm(booking):
    services.confirm(booking_id=booking.pk, actor=Actor.system("test"))
    Booking.objects.filter(pk=booking.pk).update(amount_paid=booking.total, payment_status="paid")
    booking.refresh_from_db()
    return booking


@pytest.fixture
def run_on_commit(django_capture_on_commit_callbacks):
    """Run what is queued for after commit (outbox deliveries: the emails) at the end of the block."""
    return lambda: django_capture_on_commit_callbacks(execute=True)
