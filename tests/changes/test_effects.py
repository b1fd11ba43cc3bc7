"""A change reaches every consumer of ``booking.updated``: the turnover task moves to the new check-out, the guest
gets an updated confirmation with a new .ics (the owner hears of a guest's change), every channel's calendar gets
both the old and the new nights, the iCal export shows the new stay."""

from __future__ import annotations

from datetime import date

import pytest
from django.core import mail

from bookings import services
from bookings.models import TurnoverTask
from channels import api_sync
from channels.ical_export import build_feed
from channels.models import ChannelConnection
from core.actor import Actor
from core.models import OutboxEvent
from tests.factories import future

pytestmark = pytest.mark.django_db


def emails(kind):
    return [m for m in mail.outbox if m.extra_headers["X-Stayhold-Email"] == kind]


def test_the_turnover_task_moves_to_the_new_check_out(prop, confirmed, change, run_on_commit):
    with run_on_commit():
        booking = confirmed(prop, start=10, nights=3)
    task = TurnoverTask.objects.get(booking=booking)
    assert task.due_date == future(13)
    with run_on_commit():
        change(booking, check_in=future(20), check_out=future(24))
    task.refresh_from_db()
    assert task.due_date == future(24) and task.status == "open"
    assert TurnoverTask.objects.filter(booking=booking).count() == 1


def test_the_guest_gets_an_updated_confirmation_with_the_new_ics(prop, confirmed, change, run_on_commit):
    with run_on_commit():
        booking = confirmed(prop, start=10, nights=3)
    mail.outbox.clear()
    with run_on_commit():
        change(booking, check_in=future(20), check_out=future(24))
    message, = emails("booking_changed")
    assert message.to == ["ada@example.com"] and booking.reference in message.subject
    assert future(10).isoformat() in message.body  # what it was
    (name, content, mimetype), = message.attachments
    assert name == f"{booking.reference}.ics" and mimetype == "text/calendar"
    text = content.decode() if isinstance(content, bytes) else content
    assert f"DTSTART;VALUE=DATE:{future(20):%Y%m%d}" in text and f"DTEND;VALUE=DATE:{future(24):%Y%m%d}" in text
    assert emails("owner_booking_changed") == []  # the owner made it: no email to themselves


def test_a_guests_change_is_told_to_the_owner_once(prop, confirmed, change, run_on_commit):
    with run_on_commit():
        booking = confirmed(prop, start=10, nights=3)
    mail.outbox.clear()
    with run_on_commit():
        change(booking, check_out=future(14), by_guest=True)
    owner_mail, = emails("owner_booking_changed")
    assert owner_mail.to == [prop.owner.email] and "300.00 → 400.00" in owner_mail.body
    event = OutboxEvent.objects.filter(topic="booking.updated", payload__change__isnull=False).last()
    from bookings.notifications import on_booking_event

    on_booking_event(event)  # redelivered: nothing new
    assert len(emails("booking_changed")) == 1


def test_a_second_change_sends_a_second_update(prop, confirmed, change, run_on_commit):
    with run_on_commit():
        booking = confirmed(prop, start=10, nights=3)
    with run_on_commit():
        change(booking, check_out=future(14))
    with run_on_commit():
        change(booking, check_out=future(15))
    assert len(emails("booking_changed")) == 2


def test_channel_pushes_get_the_old_and_the_new_nights(prop, book, change):
    booking = book(prop, start=10, nights=3)
    change(booking, check_in=future(20), check_out=future(23))
    event = OutboxEvent.objects.filter(topic="booking.updated", payload__change__isnull=False).get()
    ranges, _kinds = api_sync._changed_nights(event)
    assert (future(20), future(23)) in ranges and (future(10), future(13)) in ranges


def test_the_ical_export_shows_the_new_stay(prop, confirmed, change):
    booking = confirmed(prop, start=10, nights=3)
    connection = ChannelConnection.objects.create(property=prop, platform="airbnb")
    assert f"DTSTART;VALUE=DATE:{future(10):%Y%m%d}" in build_feed(connection).decode()
    change(booking, check_in=future(20), check_out=future(23))
    feed = build_feed(connection).decode()
    assert f"DTSTART;VALUE=DATE:{future(20):%Y%m%d}" in feed
    assert f"DTSTART;VALUE=DATE:{future(10):%Y%m%d}" not in feed


def test_a_change_of_a_reservation_sends_no_payment_failed_email(prop, book, change, run_on_commit):
    """The change's event carries its status as ``from_status``: the email rules for a status-less payment update
    (e.g. "payment failed") do not fire on it."""
    booking = book(prop, start=10, nights=3)
    services.record_payment(booking_id=booking.pk, amount_paid=0, amount_refunded=0, payment_status="failed",
                            actor=Actor.system("t"), reason="x")
    mail.outbox.clear()
    with run_on_commit():
        change(booking, check_out=future(14))
    assert emails("payment_failed") == [] and len(emails("booking_changed")) == 1
    assert isinstance(booking.check_in, date)
