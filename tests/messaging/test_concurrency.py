"""Two schedulers (or a retried task beside a fresh one) racing over the same due messages: each automatic message is
stored and emailed once; guests posting at once all land in one thread. Real parallel connections."""

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from bookings import services as booking_services
from bookings.models import SentEmail
from core.actor import Actor
from guests.services import GuestInput
from messaging import scheduled, services
from messaging.models import Message, MessageSettings, Thread
from tests.factories import OwnerFactory, PropertyFactory, future
from tests.parallel import run_in_parallel

pytestmark = pytest.mark.django_db(transaction=True)


def _stay():
    prop = PropertyFactory(owner=OwnerFactory(email="owner@example.com"))
    MessageSettings.objects.create(property=prop, check_in_enabled=True, check_in_days_before=2)
    booking = booking_services.reserve(property_id=prop.pk, check_in=future(10), check_out=future(13), adults=2,
                                       guest=GuestInput("Ada Lovelace", "ada@example.com"),
                                       actor=Actor.system("test"))
    return booking_services.confirm(booking_id=booking.pk, actor=Actor.system("test"))


def test_racing_schedulers_send_each_message_once():
    stay = _stay()
    at = datetime.combine(stay.check_in - timedelta(days=2), time(12), tzinfo=ZoneInfo("UTC"))
    results = run_in_parallel([lambda: scheduled.send_due_messages(at) for _ in range(6)])
    assert all(kind == "ok" for kind, _ in results), results
    assert sum(value for _, value in results) == 1
    assert Message.objects.filter(auto_kind="check_in_instructions").count() == 1
    assert SentEmail.objects.filter(kind="message_to_guest").count() == 1


def test_guests_posting_at_once_share_one_thread():
    stay = _stay()
    results = run_in_parallel([lambda i=i: services.post_from_guest(booking_id=stay.pk, body=f"hello {i}")
                               for i in range(6)])
    assert all(kind == "ok" for kind, _ in results), results
    assert Thread.objects.count() == 1 and Message.objects.count() == 6
    assert SentEmail.objects.filter(kind="owner_message").count() == 6
