"""Issue 11 item 4: with Redis unreachable, holds, bookings, the details form and login still work (the database
is the source of truth) or answer a clean 503; never a bare 500.

Redis here is a real address where nothing listens (a port just bound and released), for the cache and for
Celery's broker, with eager mode off: no mock. The booking tests run in real transactions so that the after-commit
hooks (outbox → Celery) run inside the request as in production.
"""

import contextlib
import logging
import socket

import pytest
from django.conf import settings as django_settings
from django.core.cache import cache
from django.test import Client
from redis.exceptions import ConnectionError as RedisConnectionError

from bookings.models import Booking, BookingStatus
from config.celery import app as celery_app
from core import outbox
from core.models import OutboxEvent
from tests.factories import PropertyFactory, future
from tests.limits.conftest import login, too_many_logins


def _reset_publisher_pools():
    """Celery keeps its producer pool for the broker URL it first used; forget it."""
    celery_app._pool = None
    celery_app.amqp._producer_pool = None


@pytest.fixture
def dead_redis_url():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"redis://127.0.0.1:{port}/0"  # closed again: connections are refused


def needs_the_redis_configuration():
    if "redis" not in django_settings.CACHES["default"]["BACKEND"].lower():
        pytest.skip("needs the Redis cache configuration (REDIS_URL)")


@pytest.fixture
def redis_down(settings, dead_redis_url):
    """The configured cache backend and Celery broker, pointed at the dead address; tasks really published."""
    needs_the_redis_configuration()
    settings.CACHES = {"default": {**django_settings.CACHES["default"], "LOCATION": dead_redis_url}}
    saved = {key: celery_app.conf[key] for key in ("broker_url", "task_always_eager")}
    celery_app.conf.update(broker_url=dead_redis_url, task_always_eager=False)
    _reset_publisher_pools()
    with contextlib.suppress(RedisConnectionError):  # (a cache without the fallback raises here)
        cache.clear()  # the fallback memory of this process, from an earlier test
    yield dead_redis_url
    celery_app.conf.update(saved)
    _reset_publisher_pools()


def hold_body(prop, start, nights=2):
    return {"property_id": prop.pk, "check_in": future(start).isoformat(),
            "check_out": future(start + nights).isoformat(), "adults": 2, "children": 0}


def booking_body(prop, start, nights=2):
    return {**hold_body(prop, start, nights),
            "guest": {"name": "Ada Lovelace", "email": "ada@example.com", "phone": "+44 20 7946 0000",
                      "country": "GB"}}


@pytest.mark.django_db(transaction=True)
def test_api_holds_and_bookings_are_taken_and_their_events_delivered_by_the_sweeper(redis_down, settings, caplog):
    prop = PropertyFactory()
    client = Client()

    with caplog.at_level(logging.WARNING):
        hold = client.post("/api/v1/holds", hold_body(prop, 10), content_type="application/json")
        booking = client.post("/api/v1/bookings", booking_body(prop, 20), content_type="application/json",
                              HTTP_IDEMPOTENCY_KEY="redis-down-1")

    assert hold.status_code == 201, hold.content
    assert booking.status_code == 201, booking.content
    assert Booking.objects.get(pk=hold.json()["id"]).status == BookingStatus.HELD
    assert Booking.objects.get(reference=booking.json()["reference"]).status == BookingStatus.RESERVED
    assert "Could not queue outbox event" in caplog.text  # the broker was down after commit: left to the sweeper
    pending = OutboxEvent.objects.filter(delivered_at__isnull=True)
    assert pending.count() == 2

    settings.OUTBOX_REDELIVER_AFTER_SECONDS = 0
    outbox.redeliver_pending()

    assert not OutboxEvent.objects.filter(delivered_at__isnull=True).exists()


@pytest.mark.django_db(transaction=True)
def test_the_details_form_reserves_with_redis_down(redis_down, details_data):
    prop = PropertyFactory()

    response = Client().post(f"/book/{prop.slug}/", details_data(start=10, nights=2))

    assert response.status_code == 302 and "/payments/" in response["Location"]
    assert Booking.objects.get().status == BookingStatus.RESERVED


@pytest.mark.django_db
def test_rate_limits_still_count_in_memory_with_redis_down(redis_down, settings, details_data):
    """The fallback is a per-process memory limiter, not "no limit": an outage must not open the door."""
    settings.API_THROTTLE_CREATE = "2/min"
    prop = PropertyFactory()
    api, pages = Client(REMOTE_ADDR="203.0.113.1"), Client(REMOTE_ADDR="203.0.113.2")

    api_statuses = [api.post("/api/v1/holds", hold_body(prop, 10 + 3 * i), content_type="application/json").status_code
                    for i in range(3)]
    page_statuses = [pages.post(f"/book/{prop.slug}/", details_data(start=40 + 3 * i, nights=2)).status_code
                     for i in range(3)]

    assert api_statuses == [201, 201, 429]
    assert page_statuses == [302, 302, 429]
    assert Booking.objects.count() == 4


@pytest.mark.django_db
def test_login_works_and_failed_logins_are_still_limited_with_redis_down(redis_down, verified_owner):
    client = Client()
    response = login(client, verified_owner.email)
    assert response.status_code == 302 and "_auth_user_id" in client.session

    attacker = Client(REMOTE_ADDR="203.0.113.66")
    for _ in range(5):  # "5/5m/key": five failures for one address
        assert not too_many_logins(login(attacker, verified_owner.email, "wrong"))
    response = login(attacker, verified_owner.email)  # the right password, too late

    assert too_many_logins(response) and "_auth_user_id" not in attacker.session


def test_an_outage_is_logged_once_per_process_and_without_the_password(settings, dead_redis_url, caplog):
    needs_the_redis_configuration()
    secret_url = dead_redis_url.replace("redis://", "redis://:s3cret-pw@")
    settings.CACHES = {"default": {**django_settings.CACHES["default"], "LOCATION": secret_url}}

    with caplog.at_level(logging.WARNING, logger="config.cache"):
        cache.set("k", "v")
        cache.add("n", 1)
        cache.incr("n")

    assert cache.get("k") == "v" and cache.get("n") == 2  # answered from this process's memory
    warnings = [r.getMessage() for r in caplog.records if r.name == "config.cache"]
    assert len(warnings) == 1
    assert dead_redis_url.removesuffix("/0") in warnings[0] and "s3cret-pw" not in caplog.text


# --- where a request really cannot be served --------------------------------------------------------------


@pytest.fixture
def redis_down_without_fallback(redis_down, settings):
    """A cache configured with Django's plain RedisCache (no fallback): Redis errors reach the views."""
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": redis_down}}


@pytest.mark.django_db
def test_the_api_answers_json_503_and_writes_nothing(redis_down_without_fallback):
    prop = PropertyFactory()
    client = Client(raise_request_exception=False)

    for url, body in (("/api/v1/holds", hold_body(prop, 10)), ("/api/v1/bookings", booking_body(prop, 20))):
        response = client.post(url, body, content_type="application/json")
        assert response.status_code == 503
        assert response["Content-Type"] == "application/json"
        assert response.json()["code"] == "service_unavailable" and response.json()["detail"]
        assert int(response["Retry-After"]) > 0
    assert not Booking.objects.exists() and not OutboxEvent.objects.exists()


@pytest.mark.django_db
def test_pages_show_a_friendly_503(redis_down_without_fallback, details_data, verified_owner):
    prop = PropertyFactory()
    client = Client(raise_request_exception=False)

    for response in (client.post(f"/book/{prop.slug}/", details_data(start=10, nights=2)),
                     login(client, verified_owner.email)):
        assert response.status_code == 503
        assert response["Content-Type"].startswith("text/html")
        assert "briefly unavailable" in response.content.decode()
        assert "Nothing was booked" in response.content.decode()
    assert not Booking.objects.exists()
    assert "_auth_user_id" not in client.session
