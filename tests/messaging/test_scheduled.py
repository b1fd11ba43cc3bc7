"""Scheduled automatic messages: due or not, once per booking and kind even when the job runs twice, switched per
property, in the property's time zone, only for confirmed stays made here with a guest email."""

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.core import mail
from django_celery_beat.models import PeriodicTask

from bookings import services as booking_services
from bookings.models import Booking, BookingStatus, SentEmail, Source
from core.actor import Actor
from messaging import scheduled
from messaging.models import AutoKind, Message, MessageSettings, MessageTemplate
from messaging.tasks import send_scheduled_messages
from tests.factories import PropertyFactory

pytestmark = pytest.mark.django_db


def local(day, hour, tz="UTC", minute=0):
    return datetime.combine(day, time(hour, minute), tzinfo=ZoneInfo(tz))


def enable(prop, **fields):
    defaults = {"check_in_enabled": True, "mid_stay_enabled": True, "review_request_enabled": True,
                "door_code": "2468", "send_hour": 10}
    return MessageSettings.objects.create(property=prop, **{**defaults, **fields})


def kinds(at):
    return sorted((d.booking.reference, d.auto_kind) for d in scheduled.due_messages(at))


def test_check_in_instructions_n_days_before_from_the_send_hour(stay, prop):
    enable(prop, check_in_days_before=3, mid_stay_enabled=False, review_request_enabled=False)
    send_on = stay.check_in - timedelta(days=3)
    assert kinds(local(send_on - timedelta(days=1), 12)) == []
    assert kinds(local(send_on, 9, minute=59)) == []
    assert kinds(local(send_on, 10)) == [(stay.reference, AutoKind.CHECK_IN)]
    assert kinds(local(stay.check_in, 20)) == [(stay.reference, AutoKind.CHECK_IN)]  # late, still before arrival
    assert kinds(local(stay.check_in + timedelta(days=1), 10)) == []  # after the arrival day: too late


def test_the_job_sends_once_even_when_run_twice(stay, prop, run_on_commit):
    enable(prop, check_in_days_before=2, mid_stay_enabled=False, review_request_enabled=False)
    at = local(stay.check_in - timedelta(days=2), 11)
    mail.outbox.clear()
    with run_on_commit():
        assert scheduled.send_due_messages(at) == 1
    with run_on_commit():
        assert scheduled.send_due_messages(at) == 0
        assert scheduled.send_due_messages(at + timedelta(hours=5)) == 0
    message = Message.objects.get()
    assert message.direction == "system" and message.auto_kind == AutoKind.CHECK_IN
    assert message.dedupe_key == f"{AutoKind.CHECK_IN}:{stay.pk}"
    assert "The door code is 2468." in message.body and "Ada Lovelace" in message.body
    email, = mail.outbox
    assert email.to == ["ada@example.com"] and "The door code is 2468." in email.body
    assert f"/bookings/{stay.reference}/?token=" in email.body
    assert SentEmail.objects.filter(kind="message_to_guest").count() == 1


def test_a_service_replay_does_not_send_twice(stay, prop):
    from messaging import services

    assert services.send_automatic(booking=stay, auto_kind=AutoKind.MID_STAY, body="hi") is not None
    assert services.send_automatic(booking=stay, auto_kind=AutoKind.MID_STAY, body="hi") is None
    assert Message.objects.count() == 1


def test_disabled_per_property(stay, prop, book):
    other_prop = PropertyFactory(owner=prop.owner)
    other = booking_services.confirm(booking_id=book(other_prop, start=10).pk, actor=Actor.system("t"))
    enable(prop, check_in_enabled=False)
    enable(other_prop)
    at = local(stay.check_in - timedelta(days=2), 12)
    assert kinds(at) == [(other.reference, AutoKind.CHECK_IN)]
    MessageSettings.objects.filter(property=other_prop).update(check_in_enabled=False)
    assert kinds(at) == []
    MessageSettings.objects.filter(property=prop).delete()
    assert kinds(at) == []  # no settings: nothing automatic


def test_the_property_time_zone_decides_the_day_and_the_hour(book, owner):
    auckland = PropertyFactory(owner=owner, timezone="Pacific/Auckland")
    la = PropertyFactory(owner=owner, timezone="America/Los_Angeles")
    stays = {}
    for prop in (auckland, la):
        enable(prop, check_in_days_before=1, mid_stay_enabled=False, review_request_enabled=False)
        stays[prop.pk] = booking_services.confirm(booking_id=book(prop, start=10).pk, actor=Actor.system("t"))
    day = stays[auckland.pk].check_in - timedelta(days=1)
    # 10:30 in Auckland that day is the evening before in UTC and the early morning of the day before in LA.
    at = local(day, 10, "Pacific/Auckland", minute=30)
    assert kinds(at) == [(stays[auckland.pk].reference, AutoKind.CHECK_IN)]
    at_la = local(day, 10, "America/Los_Angeles", minute=30)
    assert (stays[la.pk].reference, AutoKind.CHECK_IN) in kinds(at_la)
    assert (stays[la.pk].reference, AutoKind.CHECK_IN) not in kinds(local(day, 9, "America/Los_Angeles"))


def test_mid_stay_on_the_middle_day_of_stays_of_three_nights_or_more(book, prop):
    enable(prop, check_in_enabled=False, review_request_enabled=False)
    long = booking_services.confirm(booking_id=book(prop, start=10, nights=4).pk, actor=Actor.system("t"))
    short = booking_services.confirm(booking_id=book(prop, start=20, nights=2).pk, actor=Actor.system("t"))
    middle = long.check_in + timedelta(days=2)
    assert kinds(local(middle - timedelta(days=1), 12)) == []
    assert kinds(local(middle, 12)) == [(long.reference, AutoKind.MID_STAY)]
    assert kinds(local(long.check_out, 12)) == []  # the stay is over
    for day in range(3):
        assert kinds(local(short.check_in + timedelta(days=day), 12)) == []


def test_review_request_after_check_out_with_the_template_and_registered_link(stay, prop, owner, monkeypatch,
                                                                              run_on_commit):
    from messaging import placeholders

    template = MessageTemplate.objects.create(owner=owner, name="Review", body="Rate us: {{review_link}}")
    enable(prop, check_in_enabled=False, mid_stay_enabled=False, review_days_after=2, review_template=template)
    monkeypatch.setattr(placeholders, "_registered", {})
    placeholders.register("review_link", lambda b, s: f"http://testserver/reviews/{b.reference}/")
    send_on = stay.check_out + timedelta(days=2)
    assert kinds(local(send_on - timedelta(days=1), 12)) == []
    assert kinds(local(send_on + scheduled.REVIEW_REQUEST_WINDOW + timedelta(days=1), 12)) == []  # too old
    with run_on_commit():
        assert scheduled.send_due_messages(local(send_on, 10)) == 1
    message = Message.objects.get()
    assert message.body == f"Rate us: http://testserver/reviews/{stay.reference}/" and message.template == template


@pytest.mark.parametrize("change", ["reserved", "cancelled", "channel", "no_email"])
def test_only_confirmed_stays_made_here_with_a_guest_email(stay, prop, book, change):
    enable(prop, check_in_days_before=2)
    at = local(stay.check_in - timedelta(days=2), 12)
    assert kinds(at) == [(stay.reference, AutoKind.CHECK_IN)]
    if change == "reserved":
        Booking.objects.filter(pk=stay.pk).update(status=BookingStatus.RESERVED)
    elif change == "cancelled":
        Booking.objects.filter(pk=stay.pk).update(status=BookingStatus.CANCELLED)
    elif change == "channel":
        Booking.objects.filter(pk=stay.pk).update(source=Source.AIRBNB)
    else:
        stay.guest.email = ""
        stay.guest.save()
    assert kinds(at) == []


def test_the_beat_job_is_scheduled_and_runs_the_task():
    job = PeriodicTask.objects.get(task="messaging.tasks.send_scheduled_messages")
    assert job.enabled and job.interval.every == 15 and job.interval.period == "minutes"
    assert send_scheduled_messages.delay().get() == 0
