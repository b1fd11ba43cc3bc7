"""GET /ical/<token>.ics: the live feed over HTTP, its 304s, its 404s, and no cookies."""

import itertools
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone
from django.utils.http import http_date

from bookings.models import Booking, BookingStatus
from channels import views
from channels.ical_export import build_feed
from channels.models import ChannelConnection, Platform
from tests.channels.test_export_feed import HOST, connect, imported, owner_block, read_both, stay
from tests.factories import UserFactory, future

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _site_and_cache(settings, clear_cache):
    settings.SITE_URL = f"https://{HOST}"


def feed_url(connection) -> str:
    return reverse("channels:feed", kwargs={"token": connection.export_token})


def test_the_feed_url_and_its_response(client, prop, book):
    connection = connect(prop, Platform.BOOKING_COM)
    booking = book(prop, start=10, nights=3)
    url = feed_url(connection)
    assert url == f"/ical/{connection.export_token}.ics"

    response = client.get(url)

    assert response.status_code == 200
    assert response["Content-Type"] == "text/calendar; charset=utf-8"
    assert response["Cache-Control"] == "private, max-age=0, must-revalidate"
    assert response["Content-Disposition"] == f'inline; filename="{prop.slug}-booking_com.ics"'
    assert response["ETag"].startswith('"') and response["Last-Modified"].endswith("GMT")
    assert int(response["Content-Length"]) == len(response.content)
    assert response.content == build_feed(connection)
    assert read_both(response.content) == dict([stay(booking)])


def test_the_feed_answers_without_the_ics_suffix_too(client, prop):
    connection = connect(prop)
    response = client.get(f"/ical/{connection.export_token}")
    assert response.status_code == 200 and response.content == client.get(feed_url(connection)).content


def test_if_none_match_gets_a_304_without_a_body(client, prop, book, monkeypatch):
    connection = connect(prop)
    book(prop, start=10, nights=3)
    first = client.get(feed_url(connection))

    def no_rendering(data):
        raise AssertionError("a 304 must not build the body")

    monkeypatch.setattr(views, "render", no_rendering)
    again = client.get(feed_url(connection), HTTP_IF_NONE_MATCH=first["ETag"])

    assert again.status_code == 304 and again.content == b""
    assert again["ETag"] == first["ETag"] and again["Last-Modified"] == first["Last-Modified"]


def test_if_modified_since_gets_a_304_until_something_changes(client, prop):
    connection = connect(prop)
    first = client.get(feed_url(connection))
    assert client.get(feed_url(connection), HTTP_IF_MODIFIED_SINCE=first["Last-Modified"]).status_code == 304

    owner_block(prop, 10, 2)
    changed = client.get(feed_url(connection), HTTP_IF_MODIFIED_SINCE=first["Last-Modified"])
    assert changed.status_code == 200 and b"block-" in changed.content
    assert changed["Last-Modified"] != first["Last-Modified"]


def test_a_stale_etag_gets_the_new_feed(client, prop):
    connection = connect(prop)
    first = client.get(feed_url(connection))
    imported(prop, Platform.EXPEDIA, "e1", 10, 2)
    response = client.get(feed_url(connection), HTTP_IF_NONE_MATCH=first["ETag"],
                          HTTP_IF_MODIFIED_SINCE=first["Last-Modified"])
    assert response.status_code == 200 and response["ETag"] != first["ETag"]
    assert response.content == build_feed(connection)


def test_if_none_match_wins_over_if_modified_since(client, prop):
    """RFC 9110 13.2.2: with If-None-Match present, If-Modified-Since is ignored."""
    connection = connect(prop)
    first = client.get(feed_url(connection))
    response = client.get(feed_url(connection), HTTP_IF_NONE_MATCH='"something-else"',
                          HTTP_IF_MODIFIED_SINCE=http_date((timezone.now() + timedelta(days=1)).timestamp()))
    assert first.status_code == 200 and response.status_code == 200


def test_head_gives_the_headers_without_the_body(client, prop, book):
    connection = connect(prop)
    book(prop, start=10, nights=3)
    get = client.get(feed_url(connection))
    head = client.head(feed_url(connection))
    assert head.status_code == 200 and head.content == b""
    assert head["Content-Length"] == str(len(get.content)) and head["ETag"] == get["ETag"]


def test_other_methods_are_refused(client, prop):
    connection = connect(prop)
    assert client.post(feed_url(connection)).status_code == 405


def test_wrong_rotated_and_malformed_tokens_get_the_same_plain_404(client, prop):
    connection = connect(prop)
    old_token = connection.export_token
    assert client.get(feed_url(connection)).status_code == 200
    connection.rotate_export_token()
    connection.save()

    answers = [
        client.get(f"/ical/{old_token}.ics"),  # rotated
        client.get("/ical/" + "A" * 43 + ".ics"),  # unknown
        client.get("/ical/short.ics"),  # cannot be a token
        client.get("/ical/"),
        client.get(f"/ical/{connection.export_token}.ics/extra"),
    ]
    for response in answers:
        assert response.status_code == 404
        assert response["Content-Type"] == "text/plain; charset=utf-8" and response.content == b"Not found\n"
    assert client.get(feed_url(connection)).status_code == 200  # the new token works


def test_no_session_or_csrf_cookie_even_for_a_signed_in_client(client, prop, book):
    connection = connect(prop)
    book(prop, start=10, nights=3)
    client.force_login(UserFactory(is_staff=True))
    client.cookies["csrftoken"] = "x" * 32
    for response in (client.get(feed_url(connection)), client.head(feed_url(connection)),
                     client.get(feed_url(connection), HTTP_IF_NONE_MATCH="*"), client.get("/ical/nope.ics")):
        assert response.status_code in (200, 304, 404)
        assert "Set-Cookie" not in response.headers and not response.cookies
        assert "Cookie" not in response.get("Vary", "")  # the session was not even read


def test_a_draft_property_still_serves_its_feed(client, db):
    from tests.factories import PropertyFactory

    prop = PropertyFactory(status="draft")
    connection = connect(prop)
    block = owner_block(prop, 5, 2)
    assert f"block-{block.pk}@{HOST}".encode() in client.get(feed_url(connection)).content


_references = itertools.count()


def many_bookings(prop, n: int) -> list[Booking]:
    """``n`` three-night stays with two free nights between them, written in bulk (test data only)."""
    now = timezone.now()
    rows = [
        Booking(property=prop, reference=f"EXP{next(_references):09d}", status=BookingStatus.CONFIRMED,
                source="direct", check_in=future(-20 + 5 * i), check_out=future(-17 + 5 * i), currency="EUR",
                confirmed_at=now)
        for i in range(n)
    ]
    return Booking.objects.bulk_create(rows)


def test_a_bounded_number_of_queries_for_500_bookings(client, prop, django_assert_max_num_queries):
    prop.buffer_days = 1
    prop.max_advance_days = 2600  # the window reaches the last of the 500 stays (~7 years ahead)
    prop.save()
    connection = connect(prop, Platform.AIRBNB)
    many_bookings(prop, 500)
    url = feed_url(connection)

    with django_assert_max_num_queries(4):  # the connection, the version digest, the stays, the blocks
        response = client.get(url)
    assert response.status_code == 200
    events = read_both(response.content)
    assert sum(uid.startswith("booking-") for uid in events) == 500
    assert sum(uid.startswith("buffer-") for uid in events) == 501  # before the first, after each

    with django_assert_max_num_queries(2):  # the connection, the version digest
        assert client.get(url, HTTP_IF_NONE_MATCH=response["ETag"]).status_code == 304


def test_the_feed_is_live(client, prop):
    """No body is cached between requests: a change shows on the very next one."""
    connection = ChannelConnection.objects.create(property=prop, platform=Platform.GOOGLE_VR)
    assert read_both(client.get(feed_url(connection)).content) == {}
    block = owner_block(prop, 10, 2)
    assert read_both(client.get(feed_url(connection)).content) == {
        f"block-{block.pk}@{HOST}": (block.start_date, block.end_date, "Blocked")}
