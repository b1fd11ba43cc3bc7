"""The automatic review request (messaging.scheduled) carries the reviews app's link (registered in reviews.apps),
and that link opens the review form of the checked-out stay."""

import re
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from messaging import scheduled
from messaging.models import Message, MessageSettings

pytestmark = pytest.mark.django_db


def test_the_review_request_after_check_out_links_to_a_working_review_form(client, settings, prop, stayed,
                                                                          django_capture_on_commit_callbacks):
    settings.SITE_URL = "http://testserver"
    booking = stayed(prop, start=10)
    MessageSettings.objects.create(property=prop, check_in_enabled=False, mid_stay_enabled=False,
                                   review_request_enabled=True, review_days_after=1)
    send_on = booking.check_out + timedelta(days=1)
    at = datetime.combine(send_on, time(12, 0), tzinfo=ZoneInfo(prop.timezone))
    with django_capture_on_commit_callbacks(execute=True):
        assert scheduled.send_due_messages(at) == 1
    body = Message.objects.get(thread__booking=booking).body
    link = re.search(r"http://testserver(/bookings/[^\s]+/review/?\?token=\S+)", body)
    assert link, body
    response = client.get(link.group(1))
    assert response.status_code == 200
    assert 'name="overall"' in response.content.decode()


def test_the_thank_you_email_after_check_out_offers_the_review_form(client, settings, prop, stayed,
                                                                    django_capture_on_commit_callbacks):
    from django.core import mail

    settings.SITE_URL = "http://testserver"
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        booking = stayed(prop, start=10)
    [thanks] = [m for m in mail.outbox if m.extra_headers.get("X-Stayhold-Email") == "thank_you"]
    link = re.search(r"http://testserver(/bookings/[^\s]+/review/?\?token=\S+)", thanks.body)
    assert link, thanks.body
    assert client.get(link.group(1)).status_code == 200
    assert booking.reference in link.group(1)
