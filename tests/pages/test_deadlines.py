"""Deadlines a guest must meet are shown in the property's time zone, the zone named: pay page, booking page
(the portal), manual-payment instructions and the emails. A Kyoto property (UTC+9, no DST) makes the local
and the UTC clock differ by nine hours."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.core import mail
from django.utils import timezone

from bookings import notifications
from bookings.links import payment_url, status_url
from bookings.models import Booking, SentEmail
from bookings.notifications import Kind, Planned
from core.actor import Actor
from payments import manual
from payments.models import HostPaymentMethod
from properties.display import local_datetime
from tests.factories import PropertyFactory
from tests.pages.conftest import text

pytestmark = pytest.mark.django_db
TOKYO = ZoneInfo("Asia/Tokyo")


@pytest.fixture
def kyoto(owner):
    return PropertyFactory(owner=owner, name="Gion Machiya", city="Kyoto", country="JP", timezone="Asia/Tokyo",
                           currency="JPY")


@pytest.fixture
def reserved(kyoto, book):
    booking = book(kyoto, start=20)
    # A deadline whose local and UTC clocks differ in the hour and, near midnight UTC, in the day.
    expires = (timezone.now() + timedelta(minutes=25)).replace(second=0, microsecond=0)
    Booking.objects.filter(pk=booking.pk).update(expires_at=expires)
    booking.refresh_from_db()
    return booking


def clocks(moment):
    """(the local clock with the zone named, the UTC clock as the pages used to print it)."""
    local = moment.astimezone(TOKYO)
    return f"{local:%H:%M} on {local.day} {local:%B}", f"{moment.astimezone(ZoneInfo('UTC')):%H:%M} UTC"


def test_the_formatter_names_the_zone_and_the_year_only_when_it_is_not_this_one(kyoto):
    this_year = datetime.combine(timezone.localtime(timezone.now(), TOKYO).date(), time(2, 15), tzinfo=TOKYO)
    assert local_datetime(this_year.astimezone(UTC), kyoto) == (
        f"02:15 on {this_year.day} {this_year:%B} (Asia/Tokyo time)")
    assert local_datetime(datetime(2020, 3, 5, 17, 15, tzinfo=UTC), kyoto) == "02:15 on 6 March 2020 (Asia/Tokyo time)"


def test_pay_page_and_booking_page_show_the_hold_in_the_property_time_zone(client, reserved):
    local, utc = clocks(reserved.expires_at)
    for url in (payment_url(reserved), status_url(reserved)):
        page = text(client.get(url))
        # issue 15 §8: the hold's deadline names the zone's place: "(until 02:28, Tokyo time, 8 Dec)"
        moment = reserved.expires_at.astimezone(TOKYO)
        assert f"until {moment:%H:%M}, Tokyo time, {moment.day} {moment:%b}" in page, url
        assert utc not in page, url


def test_emails_state_the_hold_in_the_property_time_zone(reserved):
    local, utc = clocks(reserved.expires_at)
    planned = Planned(Kind.RESERVATION_RECEIVED, "ada@example.com", f"test:{reserved.pk}")
    row = SentEmail.objects.create(booking=reserved, kind=planned.kind, to=planned.to, dedupe_key=planned.dedupe_key)
    message = notifications.build_message(row)
    html = message.alternatives[0][0]
    for body in (message.body, html):
        assert f"until {local} (Asia/Tokyo time)" in body
        assert utc not in body


def test_manual_payment_deadline_in_the_property_time_zone_on_the_page_and_in_the_reminder(client, kyoto, reserved,
                                                                                          settings):
    method = HostPaymentMethod.objects.create(owner=kyoto.owner, kind="zelle", handle="pay@owner.example",
                                              display_name="Owner", instructions="Use Zelle.")
    mp = manual.choose_method(booking_id=reserved.pk, method_id=method.pk, actor=Actor.guest("ada@example.com"))
    local, utc = clocks(mp.deadline)

    page = text(client.get(manual.instructions_url(mp)))
    assert f"before {local} (Asia/Tokyo time)" in page
    assert utc not in page and f"{mp.deadline:%Y-%m-%d %H:%M}" not in page

    half = timedelta(hours=settings.MANUAL_PAYMENT_TIMEOUT_HOURS) / 2
    assert manual.send_reminders(at=mp.created_at + half + timedelta(minutes=1)) == 1
    notifications.send(SentEmail.objects.get(kind=Kind.MANUAL_PAYMENT_REMINDER).pk)
    (reminder,) = mail.outbox
    assert f"before {local} (Asia/Tokyo time)" in reminder.body
    assert utc not in reminder.body
