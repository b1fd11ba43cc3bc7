"""Emails: decided from outbox events, sent once per event by Celery tasks (eager here), locmem backend."""

import re
from datetime import datetime, time, timedelta
from decimal import Decimal
from urllib.parse import unquote

import pytest
from django.core import mail
from django.core.mail import EmailMultiAlternatives
from django.utils import timezone
from icalendar import Calendar

from bookings import notifications, services
from bookings.models import Booking, BookingStatus, SentEmail
from bookings.notifications import Kind
from bookings.tokens import check_booking_access_token
from core import outbox
from core.actor import Actor
from core.models import OutboxDelivery, OutboxEvent
from guests.services import GuestInput
from payments import services as payment_services
from tests.factories import PropertyFactory, future
from tests.payments.conftest import DECLINED

pytestmark = pytest.mark.django_db
GUEST = Actor.guest("ada@example.com")
OWNER = "owner@example.com"


def kinds(to=None):
    return sorted(m.extra_headers["X-Stayhold-Email"] for m in mail.outbox if to is None or m.to == [to])


def only(kind) -> EmailMultiAlternatives:
    found = [m for m in mail.outbox if m.extra_headers["X-Stayhold-Email"] == kind]
    assert len(found) == 1, kinds()
    return found[0]


def html_of(message) -> str:
    (html, mimetype), = message.alternatives
    assert mimetype == "text/html"
    return html


def assert_portal_link(message, booking):
    """Text and HTML both carry an absolute magic link that opens exactly this booking."""
    booking.refresh_from_db()
    url = f"http://testserver/bookings/{booking.reference}/?token="
    assert url in message.body and url in html_of(message)
    token = re.search(re.escape(url) + r"([^\s\"<&]+)", message.body).group(1)
    assert check_booking_access_token(unquote(token), booking)


@pytest.fixture(autouse=True)
def site(settings):
    settings.SITE_URL = "http://testserver"
    settings.PRE_ARRIVAL_REMINDER_DAYS = 3


def test_a_reservation_tells_the_guest_how_to_pay_and_the_owner_of_the_new_booking(prop, book, run_on_commit):
    with run_on_commit():
        booking = book(prop, start=20)

    assert kinds() == [Kind.OWNER_NEW_BOOKING, Kind.RESERVATION_RECEIVED]
    guest_mail = only(Kind.RESERVATION_RECEIVED)
    assert guest_mail.to == ["ada@example.com"]
    assert booking.reference in guest_mail.subject
    assert f"http://testserver/payments/{booking.reference}/pay/?token=" in guest_mail.body
    assert f"/payments/{booking.reference}/pay/?token=" in html_of(guest_mail)
    assert_portal_link(guest_mail, booking)
    owner_mail = only(Kind.OWNER_NEW_BOOKING)
    assert owner_mail.to == [OWNER] and "Ada Lovelace" in owner_mail.body
    assert "?token=" not in owner_mail.body  # the guest's magic link is not the owner's business
    assert SentEmail.objects.filter(booking=booking, sent_at__isnull=False).count() == 2


def test_confirmation_is_sent_once_with_the_stay_as_ics(paid, run_on_commit):
    with run_on_commit():
        booking = paid("moderate", start=30)

    # confirm + payment update: two events say "confirmed", one confirmation
    assert kinds("ada@example.com") == [Kind.CONFIRMATION, Kind.RESERVATION_RECEIVED]
    confirmation = only(Kind.CONFIRMATION)
    assert_portal_link(confirmation, booking)
    assert "Paid: " in confirmation.body and str(booking.total) in confirmation.body.replace(",", "")
    (name, content, mimetype), = confirmation.attachments
    assert name == f"{booking.reference}.ics" and mimetype == "text/calendar"
    event, = Calendar.from_ical(content).walk("VEVENT")
    assert event.decoded("dtstart") == booking.check_in and event.decoded("dtend") == booking.check_out
    assert str(event["status"]) == "CONFIRMED"
    assert booking.reference in str(event["summary"])


def test_a_declined_card_sends_payment_failed_with_the_retry_link(prop, book, card, run_on_commit):
    booking = book(prop, start=25)
    with run_on_commit():
        result = payment_services.start_card_payment(booking_id=booking.pk, payment_method_id=card(booking, DECLINED),
                                                     actor=GUEST)
    assert result.status == "failed"
    message = only(Kind.PAYMENT_FAILED)
    assert message.to == ["ada@example.com"]
    assert f"/payments/{booking.reference}/pay/?token=" in message.body
    assert_portal_link(message, booking)


def test_an_expired_reservation_tells_guest_and_owner(prop, book, run_on_commit):
    booking = book(prop, start=12)
    with run_on_commit():
        services.expire(booking_id=booking.pk, at=booking.expires_at + timedelta(seconds=1))
    assert kinds() == [Kind.OWNER_CANCELLATION, Kind.RESERVATION_EXPIRED]
    message = only(Kind.RESERVATION_EXPIRED)
    assert "not paid in time" in message.body
    assert_portal_link(message, booking)
    assert "expired" in only(Kind.OWNER_CANCELLATION).body


def test_guest_cancellation_states_the_refund_and_tells_the_owner(paid, run_on_commit):
    booking = paid("moderate", start=40)
    mail.outbox.clear()
    with run_on_commit():
        result = payment_services.cancel_with_refund(booking_id=booking.pk, actor=GUEST, reason="Plans changed")
    assert result.refunded == booking.total  # moderate, 40 days ahead: 100 %
    assert kinds() == [Kind.CANCELLATION, Kind.OWNER_CANCELLATION]
    message = only(Kind.CANCELLATION)
    amount = f"€{booking.total:,.2f}"
    assert f"Amount refunded: {amount}" in message.body
    assert amount in html_of(message) and "Plans changed" in message.body
    assert_portal_link(message, booking)
    owner_mail = only(Kind.OWNER_CANCELLATION)
    assert owner_mail.to == [booking.property.owner.email] and f"Refunded: {amount}" in owner_mail.body


def test_partial_refund_amount_is_the_policy_amount(paid, run_on_commit):
    booking = paid("moderate", start=3)  # inside 5 days: 50 %
    mail.outbox.clear()
    with run_on_commit():
        payment_services.cancel_with_refund(booking_id=booking.pk, actor=GUEST, reason="Ill")
    half = (booking.total / 2).quantize(Decimal("0.01"))
    assert f"Amount refunded: €{half:,.2f}" in only(Kind.CANCELLATION).body


def test_check_out_sends_the_thank_you(prop, confirmed, run_on_commit):
    booking = confirmed(start=5, nights=2)
    arrival = timezone.make_aware(datetime.combine(booking.check_in, time(16)))
    services.check_in(booking_id=booking.pk, actor=Actor.system("test"), at=arrival)
    mail.outbox.clear()
    with run_on_commit():
        services.check_out(booking_id=booking.pk, actor=Actor.system("test"), at=arrival + timedelta(days=2))
    message = only(Kind.THANK_YOU)
    assert prop.name in message.subject
    assert_portal_link(message, booking)


def test_channel_bookings_tell_the_owner_only(prop, run_on_commit):
    with run_on_commit():
        result = services.import_external(property_id=prop.pk, source="airbnb", external_id="HM1", check_in=future(30),
                                          check_out=future(33), guest=GuestInput(name="Bo", email="bo@guest.airbnb"))
    assert kinds() == [Kind.OWNER_NEW_BOOKING]
    with run_on_commit():
        services.import_external(property_id=prop.pk, source="airbnb", external_id="HM1", check_in=future(30),
                                 check_out=future(33), guest=GuestInput(name="Bo"), cancelled=True)
    assert kinds() == [Kind.OWNER_CANCELLATION, Kind.OWNER_NEW_BOOKING]
    assert all(m.to == [OWNER] for m in mail.outbox)
    assert result.booking.reference in mail.outbox[-1].subject


def test_api_holds_send_nothing_until_they_become_reservations(prop, run_on_commit):
    with run_on_commit():
        hold = services.hold(property_id=prop.pk, check_in=future(30), check_out=future(33), adults=2,
                             actor=Actor.system("api"))
        services.release_hold(hold_id=hold.pk, actor=Actor.system("test"))
    assert mail.outbox == []


# --- never twice ---------------------------------------------------------------------------------------


def test_replaying_or_redelivering_events_sends_nothing_new(paid, run_on_commit):
    with run_on_commit():
        booking = paid("flexible", start=30)
    sent = len(mail.outbox)
    rows = SentEmail.objects.count()
    assert sent == rows == 3
    events = list(OutboxEvent.objects.filter(aggregate_id=str(booking.pk)))
    assert len(events) >= 3

    # replay: the events are delivered already
    with run_on_commit():
        for event in events:
            assert outbox.deliver(event.pk) is True
    # redelivery: the consumer's record lost (e.g. a worker died after sending) → it runs again
    OutboxDelivery.objects.filter(consumer="emails").delete()
    OutboxEvent.objects.update(delivered_at=None)
    with run_on_commit():
        for event in events:
            outbox.deliver(event.pk)
            notifications.on_booking_event(event)  # and once more, straight
    assert len(mail.outbox) == sent
    assert SentEmail.objects.count() == rows
    assert OutboxDelivery.objects.filter(consumer="emails").count() == len(events)
    # the send task itself is idempotent too (a Celery redelivery of the same task)
    assert all(notifications.send(pk) is False for pk in SentEmail.objects.values_list("pk", flat=True))
    assert len(mail.outbox) == sent


def test_a_failed_send_stays_queued_and_the_sweeper_sends_it_once(prop, book, monkeypatch, run_on_commit):
    booking = book(prop, start=20)  # on-commit callbacks not run: events undelivered
    event = OutboxEvent.objects.get(aggregate_id=str(booking.pk), topic="booking.created")
    notifications.on_booking_event(event)
    row = SentEmail.objects.get(kind=Kind.RESERVATION_RECEIVED)

    def broken(self, fail_silently=False):
        raise ConnectionRefusedError("smtp down")

    monkeypatch.setattr(EmailMultiAlternatives, "send", broken)
    with pytest.raises(ConnectionRefusedError):
        notifications.send(row.pk)
    row.refresh_from_db()
    assert row.sent_at is None and row.attempts == 1 and "smtp down" in row.last_error
    monkeypatch.undo()

    later = timezone.now() + timedelta(minutes=2)
    assert notifications.send_pending(at=later) == 2  # the guest's and the owner's
    assert notifications.send_pending(at=later) == 0
    assert kinds() == [Kind.OWNER_NEW_BOOKING, Kind.RESERVATION_RECEIVED]
    row.refresh_from_db()
    assert row.sent_at is not None and row.attempts == 2


# --- pre-arrival reminders ----------------------------------------------------------------------------------


def test_the_reminder_job_picks_exactly_the_right_bookings(prop, book, confirmed, run_on_commit):
    other = PropertyFactory(owner=prop.owner)
    due = confirmed(start=10)  # 3 days ahead of "today" below
    caught_up = services.confirm(booking_id=book(other, start=9).pk, actor=Actor.system("t"))  # 2 ahead: missed run
    too_early = confirmed(start=14)  # 4 days ahead
    third = PropertyFactory(owner=prop.owner)
    reserved_only = book(third, start=10)  # not confirmed
    cancelled = services.cancel(booking_id=confirmed(start=20).pk, actor=Actor.system("t"), reason="x")
    channel = services.import_external(property_id=third.pk, source="airbnb", external_id="A1", check_in=future(14),
                                       check_out=future(15), guest=GuestInput(name="Bo", email="bo@x.test")).booking
    late_booker = confirmed(start=1, nights=1)  # booked inside its window (confirmed "today"): confirmation suffices
    assert cancelled.status == BookingStatus.CANCELLED and reserved_only.status == BookingStatus.RESERVED

    seven_days_later = timezone.now() + timedelta(days=7)
    picked = {b.pk for b in notifications.reminder_candidates(at=seven_days_later)}
    assert picked == {due.pk, caught_up.pk}
    assert too_early.pk not in picked and channel.pk not in picked

    picked_today = {b.pk for b in notifications.reminder_candidates(at=timezone.now())}
    assert late_booker.pk not in picked_today

    with run_on_commit():
        assert notifications.send_pre_arrival_reminders(at=seven_days_later) == 2
    assert kinds() == [Kind.PRE_ARRIVAL, Kind.PRE_ARRIVAL]
    message = next(m for m in mail.outbox if due.reference in m.extra_headers["X-Stayhold-Booking"])
    assert_portal_link(message, due)
    # not yet reminded: a second run (next hour) sends nothing
    with run_on_commit():
        assert notifications.send_pre_arrival_reminders(at=seven_days_later + timedelta(hours=1)) == 0
    assert len(mail.outbox) == 2


def test_the_reminder_job_is_scheduled_by_beat():
    from django_celery_beat.models import PeriodicTask

    task = PeriodicTask.objects.get(task="bookings.tasks.send_pre_arrival_reminders")
    assert task.enabled and task.interval.every == 1 and task.interval.period == "hours"
    assert PeriodicTask.objects.filter(task="bookings.tasks.send_pending_emails", enabled=True).exists()


def test_every_guest_template_renders_the_portal_link(prop, book):
    booking = book(prop, start=20)
    Booking.objects.filter(pk=booking.pk)  # read only
    for kind in (Kind.RESERVATION_RECEIVED, Kind.CONFIRMATION, Kind.PAYMENT_FAILED, Kind.RESERVATION_EXPIRED,
                 Kind.LATE_PAYMENT_REFUNDED, Kind.CANCELLATION, Kind.PRE_ARRIVAL, Kind.THANK_YOU):
        row = SentEmail(booking=booking, kind=kind, dedupe_key=f"t-{kind}", to="ada@example.com")
        message = notifications.build_message(row)
        assert_portal_link(message, booking)
        assert "&amp;" not in message.body and "&#x27;" not in message.body  # text bodies are not HTML-escaped


def test_a_hold_turned_into_a_reservation_is_a_new_booking(prop, guest_input, run_on_commit):
    with run_on_commit():
        hold = services.hold(property_id=prop.pk, check_in=future(30), check_out=future(33), adults=2,
                             actor=Actor.system("api"))
    assert mail.outbox == []
    with run_on_commit():
        booking = services.reserve(property_id=prop.pk, check_in=future(30), check_out=future(33), adults=2,
                                   guest=guest_input, actor=Actor.system("api"), hold_id=hold.pk)
    assert booking.pk == hold.pk
    assert kinds() == [Kind.OWNER_NEW_BOOKING, Kind.RESERVATION_RECEIVED]
