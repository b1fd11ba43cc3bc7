"""No personal data or secrets in the logs (core.redaction, docs/logging.md): the lines the configured handler really
writes, through the real flows, hold none of the guest's email or phone, the channel's feed URL or tokens, or a
client's credentials; and the redaction itself, rule by rule."""

import logging

import pytest
import structlog

from bookings.models import Booking
from channels.models import ChannelConnection, Platform
from channels.sync import sync_connection
from core.redaction import redact, redact_text
from tests.channels.feedserver import FeedServer
from tests.channels.test_sync import STAYS, airbnb_feed
from tests.factories import PropertyFactory

from .test_correlation import details

EMAIL = "margaret.hamilton@example.org"
PHONE = "+1 617 555 0142"
FEED_SECRET = "feedsecret0123456789abcdef"
BEARER = "sk_live_51Hx0cQmSeCrEtToKeN"


def assert_clean(text: str, *secrets: str) -> None:
    for secret in secrets:
        assert secret not in text, f"{secret!r} was logged:\n{text}"


@pytest.fixture
def everything_logged():
    """The root logger at DEBUG for the test: whatever any logger says reaches the handler."""
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.DEBUG)
    yield
    root.setLevel(level)


@pytest.mark.django_db(transaction=True)  # real commits: the outbox delivery and the emails run, and log
def test_a_booking_through_the_guest_pages_logs_no_email_phone_or_access_token(client, log_output,
                                                                                everything_logged, mailoutbox):
    prop = PropertyFactory()
    response = client.post(f"/book/{prop.slug}/", details(email=EMAIL, phone=PHONE))
    assert response.status_code == 302 and Booking.objects.get().guest.email == EMAIL
    page = client.get(response["Location"])  # the payment page, with the access token in its query string
    assert page.status_code == 200
    token = response["Location"].split("token=", 1)[1]
    assert any(EMAIL in mail.to for mail in mailoutbox)  # the guest was written to: the flow ran to its end
    assert len(log_output.lines()) >= 4  # request lines, the delivery, the email tasks
    assert_clean(log_output.text, EMAIL, EMAIL.split("@")[0], PHONE, PHONE.replace(" ", ""), token)


@pytest.mark.django_db
def test_a_channel_sync_logs_neither_the_feed_url_nor_its_secret_nor_the_export_token(
        client, log_output, everything_logged, settings):
    settings.CHANNEL_ALLOW_PRIVATE_URLS = True
    settings.CHANNEL_FETCH_TIMEOUT_SECONDS = 2.0
    with FeedServer() as server:
        server.route("/calendar/ical/1.ics", airbnb_feed(STAYS))
        import_url = server.url(f"/calendar/ical/1.ics?s={FEED_SECRET}")
        connection = ChannelConnection.objects.create(property=PropertyFactory(), platform=Platform.AIRBNB,
                                                      import_url=import_url)
        assert sync_connection(connection.pk).outcome == "ok"
        server.route("/calendar/ical/1.ics", b"Internal Server Error", status=500)
        sync_connection(connection.pk)
    # The feed server is gone: the fetch fails with urllib3's error, whose text names the URL.
    sync_connection(connection.pk)
    export_token = connection.export_token
    assert client.get(f"/ical/{export_token}.ics").status_code == 200
    assert client.get(f"/ical/{export_token[:-4]}zzzz.ics").status_code == 404  # Django logs "Not Found: <path>"
    [not_found] = [line for line in log_output.lines() if line["logger"] == "django.request"]
    assert not_found["event"] == "Not Found: /ical/[redacted]" and not_found["status_code"] == 404
    assert not_found["correlation_id"] == log_output.events("request")[-1]["correlation_id"]  # logged after us
    assert_clean(log_output.text, FEED_SECRET, import_url, export_token, export_token[:-4])


@pytest.mark.django_db
def test_an_api_call_with_a_bearer_token_logs_no_credential(client, log_output, everything_logged):
    response = client.post("/api/v1/holds", data={"property": "x"}, content_type="application/json",
                           HTTP_AUTHORIZATION=f"Bearer {BEARER}", HTTP_X_REQUEST_ID="api-call-1")
    assert response.status_code in (400, 401, 403, 404)
    assert response["X-Request-ID"] == "api-call-1"
    assert [line["correlation_id"] for line in log_output.events("request")] == ["api-call-1"]
    assert_clean(log_output.text, BEARER)


def test_whatever_a_call_logs_goes_through_the_redaction(log_output):
    """A careless call (the guard the tests above rely on): every rule, through the configured handler."""
    logging.getLogger("stayhold.careless").warning(
        "guest %s (%s) paid with key %s; feed %s; header Authorization: Bearer %s", EMAIL, PHONE,
        "sk_test_4eC39HqLyjWDarjtT1zdp7dc", f"https://www.airbnb.com/calendar/ical/1.ics?s={FEED_SECRET}", BEARER)
    structlog.get_logger("stayhold.careless").info("booked", email=EMAIL, guest={"phone": PHONE, "name_id": 7},
                                                   url=f"http://feeds.example/calendar/{FEED_SECRET}.ics",
                                                   headers={"Authorization": f"Bearer {BEARER}", "Accept": "*/*"})
    try:
        raise ValueError(f"refused {EMAIL} at https://admin.booking.com/hotel/ical.html?t={FEED_SECRET}")
    except ValueError:
        logging.getLogger("stayhold.careless").exception("failed")
    first, second, third = log_output.lines()
    assert first["event"].startswith("guest [email] ([phone]) paid with key [redacted]; feed https://www.airbnb.com/")
    assert second["email"] == "[redacted]" and second["guest"] == {"phone": "[redacted]", "name_id": 7}
    assert second["headers"] == {"Authorization": "[redacted]", "Accept": "*/*"}
    assert "ValueError: refused [email] at https://admin.booking.com/[redacted]?[redacted]" in third["exception"]
    assert_clean(log_output.text, EMAIL, PHONE, FEED_SECRET, BEARER, "sk_test_4eC39HqLyjWDarjtT1zdp7dc")


@pytest.mark.parametrize("text, expected", [
    ("write to ana.lopez+stays@mail.example.es", "write to [email]"),
    ("call +49 30 1234 5678 now", "call [phone] now"),
    ("call (415) 555-2671", "call [phone]"),
    ("Authorization: Basic dXNlcjpwYXNz", "Authorization: Basic [redacted]"),
    ("secret whsec_abcdef123 and rk_live_xyz", "secret [redacted] and [redacted]"),
    ("https://user:pass@example.com/path?q=1#frag", "https://example.com/path?[redacted]#[redacted]"),
    ("https://www.vrbo.com/icalendar/0123abcd.ics", "https://www.vrbo.com/[redacted]"),
    ("Not Found: /ical/AbCdEf0123456789xyz.ics", "Not Found: /ical/[redacted]"),
    ("GET /bookings/SH-1234?token=abc.def", "GET /bookings/SH-1234?[redacted]"),
    ("token=abc123 password: hunter2", "token=[redacted] password: [redacted]"),
    ("jwt eyJhbGciOi.eyJzdWIiOi.c2lnbmF0dXJl", "jwt [redacted]"),
    # Kept: what operators need and no pattern should eat.
    ("2026-12-07T10:00:00Z booking 42 total 1234.50 EUR", "2026-12-07T10:00:00Z booking 42 total 1234.50 EUR"),
    ('File "/srv/app/channels/ical_parse.py", line 12', 'File "/srv/app/channels/ical_parse.py", line 12'),
    ("request 9f1c2b7e4d5a4c3b8a7f6e5d4c3b2a19 from 127.0.0.1",
     "request 9f1c2b7e4d5a4c3b8a7f6e5d4c3b2a19 from 127.0.0.1"),
])
def test_redact_text(text, expected):
    assert redact_text(text) == expected


def test_redact_by_key_keeps_the_structure():
    assert redact({"user": {"email": "a@b.co", "id": 3}, "Cookie": "sessionid=x", "correlation_id": "abc",
                   "items": [{"import_url": "https://x.example/a.ics"}, "tel +33 1 23 45 67 89"]}) == {
        "user": {"email": "[redacted]", "id": 3}, "Cookie": "[redacted]", "correlation_id": "abc",
        "items": [{"import_url": "[redacted]"}, "tel [phone]"]}


def test_djangos_own_handlers_are_gone_so_every_line_goes_through_the_redaction():
    """Django's DEFAULT_LOGGING prints "django" (with DEBUG on) and "django.server" (runserver, no propagation) in
    plain text with the full path: settings.LOGGING empties both, so their lines reach the one handler."""
    for name in ("django", "django.server", "django.request"):
        logger = logging.getLogger(name)
        assert logger.handlers == [] and logger.propagate, name
    assert [handler.name for handler in logging.getLogger().handlers if handler.name] == ["console"]
