"""The metrics appear and move when a booking is made and a sync runs; /metrics is protected; labels stay bounded."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone
from prometheus_client import CollectorRegistry
from prometheus_client.multiprocess import MultiProcessCollector

from backoffice import operations
from bookings import services
from bookings.models import Booking, BookingStatus
from channels import api_sync
from channels.models import ChannelConnection, Platform, SyncRun
from channels.sync import sync_connection
from config import celery_metrics, gunicorn_hooks
from core import liveness
from core.actor import Actor
from core.models import OutboxEvent
from tests.factories import PropertyFactory, future

from .conftest import sample, scraped_value

pytestmark = pytest.mark.django_db


# --- a booking -----------------------------------------------------------------------------------------------


def test_a_booking_moves_the_booking_counter_the_lock_histogram_and_the_gauges(
        prop, book, scrape, django_capture_on_commit_callbacks):
    created = sample("bookings_created_total", source="direct")
    locks = sample("calendar_lock_duration_seconds_count", outcome="commit")
    before = scrape()

    with django_capture_on_commit_callbacks(execute=True):
        booking = book(prop)

    assert sample("bookings_created_total", source="direct") == created + 1
    assert sample("calendar_lock_duration_seconds_count", outcome="commit") == locks + 1
    after = scrape()
    assert scraped_value(after, "bookings_created_total", source="direct") == created + 1
    assert booking.status == BookingStatus.RESERVED  # a reservation holds its nights until it is paid
    assert scraped_value(after, "live_holds", status="reserved") == scraped_value(before, "live_holds",
                                                                                  status="reserved") + 1
    # No booking reference, guest address or property id in any label
    assert booking.reference not in after and "ada@example.com" not in after
    assert f'property="{prop.pk}"' not in after


def test_a_rolled_back_booking_counts_nothing(prop, book, django_capture_on_commit_callbacks):
    from django.db import transaction

    created = sample("bookings_created_total", source="direct")
    locks = sample("calendar_lock_duration_seconds_count", outcome="commit")
    with django_capture_on_commit_callbacks(execute=True), pytest.raises(RuntimeError), transaction.atomic():
        book(prop)
        raise RuntimeError("the caller gives up after the insert")
    assert sample("bookings_created_total", source="direct") == created
    assert sample("calendar_lock_duration_seconds_count", outcome="commit") == locks


def test_cancel_and_expiry_count_under_the_booking_source(prop, book, django_capture_on_commit_callbacks):
    cancelled = sample("bookings_cancelled_total", source="direct")
    expired = sample("bookings_expired_total", source="direct")
    with django_capture_on_commit_callbacks(execute=True):
        first = book(prop, start=10)
        second = book(prop, start=20)
    assert first.status in (BookingStatus.RESERVED, BookingStatus.HELD, BookingStatus.CONFIRMED)
    with django_capture_on_commit_callbacks(execute=True):
        services.cancel(booking_id=first.pk, actor=Actor.system("test"), reason="test")
    assert sample("bookings_cancelled_total", source="direct") == cancelled + 1
    Booking.objects.filter(pk=second.pk).update(expires_at=timezone.now() - timedelta(minutes=1))
    with django_capture_on_commit_callbacks(execute=True):
        assert services.expire_stale_bookings() == 1
    assert sample("bookings_expired_total", source="direct") == expired + 1


# --- a sync ----------------------------------------------------------------------------------------------------


def test_an_ical_sync_counts_its_outcome(server, settings):
    server.route("/feed.ics", b"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//t//EN\r\nEND:VCALENDAR\r\n")
    conn = ChannelConnection.objects.create(property=PropertyFactory(), platform=Platform.AIRBNB,
                                            import_url=server.url("/feed.ics"))
    ok = sample("ical_fetches_total", platform="airbnb", outcome="ok")
    errors = sample("ical_fetches_total", platform="airbnb", outcome="error")
    assert sync_connection(conn.pk).outcome == SyncRun.Outcome.OK
    assert sample("ical_fetches_total", platform="airbnb", outcome="ok") == ok + 1

    server.route("/feed.ics", b"gone", status=500)
    sync_connection(conn.pk, trigger="manual")
    assert sample("ical_fetches_total", platform="airbnb", outcome="error") == errors + 1


def test_stays_a_feed_imports_as_a_set_count_as_created_under_the_platform(
        server, settings, django_capture_on_commit_callbacks):
    """The set-based import (bookings.external) inserts its stays in bulk: they are counted all the same."""
    events = "".join(
        f"BEGIN:VEVENT\r\nUID:m{n}@airbnb.com\r\nDTSTART;VALUE=DATE:{future(30 + 5 * n):%Y%m%d}\r\n"
        f"DTEND;VALUE=DATE:{future(32 + 5 * n):%Y%m%d}\r\nSUMMARY:Reserved\r\nEND:VEVENT\r\n" for n in range(2))
    server.route("/stays.ics", f"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//t//EN\r\n{events}END:VCALENDAR\r\n"
                 .encode())
    conn = ChannelConnection.objects.create(property=PropertyFactory(), platform=Platform.AIRBNB,
                                            import_url=server.url("/stays.ics"))
    created = sample("bookings_created_total", source="airbnb")
    with django_capture_on_commit_callbacks(execute=True):
        assert sync_connection(conn.pk).outcome == SyncRun.Outcome.OK
    assert Booking.objects.filter(property_id=conn.property_id, source="airbnb").count() == 2
    assert sample("bookings_created_total", source="airbnb") == created + 2


def test_a_push_to_a_platform_observes_the_sync_latency_from_the_event(
        channex, channex_connection, book, django_capture_on_commit_callbacks, monkeypatch, scrape):
    connection = channex_connection()
    monkeypatch.setattr(api_sync, "queue_push", lambda *a, **k: None)  # pushed below, by hand
    latencies = sample("sync_latency_seconds_count", platform="channex")
    pushed = sample("channel_pushes_total", platform="channex", outcome="pushed")
    with django_capture_on_commit_callbacks(execute=True):
        booking = book(connection.property, start=10, nights=3)
    event = OutboxEvent.objects.filter(aggregate_id=str(booking.pk), topic="booking.created").get()
    change = connection.ari_changes.get()
    assert change.created_at == event.created_at  # the latency starts at the event, not at its delivery
    backlog = scrape()
    assert scraped_value(backlog, "channel_sync_lag_seconds", platform="channex", transport="api") is not None

    assert api_sync.push_connection(connection.pk).status == "pushed"

    assert sample("sync_latency_seconds_count", platform="channex") == latencies + 1
    assert sample("channel_pushes_total", platform="channex", outcome="pushed") == pushed + 1
    assert scraped_value(scrape(), "sync_latency_seconds_count", platform="channex") == latencies + 1


# --- requests, webhooks ----------------------------------------------------------------------------------------


def test_request_durations_are_labelled_by_route_name_not_path(client, prop, scrape):
    other = sample("api_request_duration_seconds_count", route="unmatched", method="GET", status="404")
    before = scrape()
    assert client.get(f"/api/v1/properties/{prop.pk}").status_code == 200
    client.get("/no/such/page/12345")
    text = scrape()
    assert sample("api_request_duration_seconds_count", route="unmatched", method="GET", status="404") == other + 1
    detail = [s for s in _samples(text, "api_request_duration_seconds_count")
              if s.labels["route"].endswith("property-detail") and s.labels["status"] == "200"
              and s.labels["method"] == "GET"]  # (other tests of this process may have asked with OPTIONS)
    assert len(detail) == 1
    assert detail[0].value == (scraped_value(before, "api_request_duration_seconds_count",
                                             **detail[0].labels) or 0) + 1
    assert "/no/such/page/12345" not in text and f"/properties/{prop.pk}" not in text
    routes = {s.labels["route"] for s in _samples(text, "api_request_duration_seconds_count")}
    assert all("/" not in route for route in routes), routes


def _samples(text, name):
    from prometheus_client.parser import text_string_to_metric_families

    return [s for family in text_string_to_metric_families(text) for s in family.samples if s.name == name]


def test_webhooks_are_timed_per_provider_with_unknown_ones_as_other(client):
    channex = sample("webhook_processing_seconds_count", provider="channex")
    other = sample("webhook_processing_seconds_count", provider="other")
    assert client.post("/channels/webhooks/channex", b"{}", content_type="application/json").status_code == 404
    assert client.post("/channels/webhooks/x-unknown-9", b"{}", content_type="application/json").status_code == 404
    assert sample("webhook_processing_seconds_count", provider="channex") == channex + 1
    assert sample("webhook_processing_seconds_count", provider="other") == other + 1
    stripe = sample("webhook_processing_seconds_count", provider="stripe")
    client.post("/payments/stripe/webhook", b"{}", content_type="application/json")
    assert sample("webhook_processing_seconds_count", provider="stripe") == stripe + 1


# --- Celery ------------------------------------------------------------------------------------------------------


def test_celery_signals_count_runtime_and_failures_per_task(clear_cache):
    from celery import shared_task

    @shared_task(name="tests.operations.explode")
    def explode():
        raise ValueError("boom")

    runs = sample("celery_task_runtime_seconds_count", task="core.tasks.heartbeat")
    liveness.heartbeat.delay()
    assert sample("celery_task_runtime_seconds_count", task="core.tasks.heartbeat") == runs + 1

    failures = sample("celery_task_failures_total", task="tests.operations.explode")
    result = explode.apply(throw=False)  # as a worker runs it: the error is recorded, not raised to the caller
    assert isinstance(result.result, ValueError)
    assert sample("celery_task_failures_total", task="tests.operations.explode") == failures + 1
    assert liveness.task_failures_last_day(["tests.operations.explode"]) == {"tests.operations.explode": 1}


# --- the scrape-time gauges -------------------------------------------------------------------------------------


def test_the_scrape_time_gauges_cost_six_queries(django_assert_num_queries, clear_cache):
    with django_assert_num_queries(6):
        snap = operations.snapshot()
    assert snap.outbox_backlog >= 0


def test_the_gauges_say_what_the_database_holds(scrape, settings):
    settings.OPS_PAYMENT_STUCK_AFTER_MINUTES = 30
    OutboxEvent.objects.create(topic="booking.updated", aggregate_type="booking", aggregate_id="1", payload={},
                               created_at=timezone.now() - timedelta(minutes=10))
    ChannelConnection.objects.create(property=PropertyFactory(), platform=Platform.AIRBNB, status="failing")
    text = scrape()
    assert scraped_value(text, "outbox_backlog") == OutboxEvent.objects.filter(delivered_at__isnull=True).count()
    assert scraped_value(text, "outbox_oldest_undelivered_age_seconds") >= 600
    assert scraped_value(text, "channel_connections", platform="airbnb", health="failing") == 1
    assert scraped_value(text, "stayhold_operations_up") == 1


# --- who may scrape -------------------------------------------------------------------------------------------------


@pytest.fixture
def production(settings):
    settings.DEBUG = False
    settings.METRICS_TOKEN = ""
    settings.METRICS_ALLOWED_NETWORKS = []
    return settings


def test_production_without_a_token_or_network_refuses_every_scrape(client, production):
    assert client.get("/metrics").status_code == 403
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer anything").status_code == 403


def test_the_token_is_required_and_checked(client, production):
    production.METRICS_TOKEN = "s3cret-token"
    refused = client.get("/metrics")
    assert refused.status_code == 401 and refused["WWW-Authenticate"].startswith("Bearer")
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer wrong").status_code == 401
    assert client.get("/metrics", HTTP_AUTHORIZATION="Basic s3cret-token").status_code == 401
    answer = client.get("/metrics", HTTP_AUTHORIZATION="Bearer s3cret-token")
    assert answer.status_code == 200 and b"api_request_duration_seconds" in answer.content


def test_an_allowed_network_may_scrape_without_the_token(production):
    production.METRICS_ALLOWED_NETWORKS = ["10.1.0.0/16"]
    assert Client(REMOTE_ADDR="10.1.2.3").get("/metrics").status_code == 200
    assert Client(REMOTE_ADDR="10.2.0.1").get("/metrics").status_code == 403


def test_a_development_server_answers_without_configuration(client, settings):
    settings.DEBUG = True
    settings.METRICS_TOKEN = ""
    settings.METRICS_ALLOWED_NETWORKS = []
    assert client.get("/metrics").status_code == 200


# --- several processes ----------------------------------------------------------------------------------------------


CHILD = """
import django, os
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings_test")
django.setup()
from core import metrics
metrics.BOOKINGS_CREATED.labels(source="airbnb").inc(3)
metrics.SYNC_LATENCY.labels(platform="airbnb").observe(2.0)
"""


@pytest.mark.real_clock
def test_values_written_by_other_processes_are_added_up(tmp_path, monkeypatch):
    """Two processes (as two gunicorn workers or Celery children) write to PROMETHEUS_MULTIPROC_DIR; a scrape of the
    directory adds them up; the start hooks empty it."""
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path)}
    for _ in range(2):
        subprocess.run([sys.executable, "-c", CHILD], env=env, check=True, cwd=os.getcwd(), timeout=120)
    registry = CollectorRegistry()
    MultiProcessCollector(registry, path=str(tmp_path))
    assert registry.get_sample_value("bookings_created_total", {"source": "airbnb"}) == 6
    assert registry.get_sample_value("sync_latency_seconds_count", {"platform": "airbnb"}) == 2
    assert len(list(tmp_path.glob("*.db"))) >= 2

    kept = tmp_path / f"counter_{os.getpid()}.db"
    kept.write_bytes(b"")
    assert celery_metrics.clean_multiprocess_dir(str(tmp_path), keep_pid=os.getpid()) >= 2
    assert [p.name for p in tmp_path.glob("*.db")] == [kept.name]

    web_dir = tmp_path / "web"  # gunicorn's master empties its directory before forking the workers
    web_dir.mkdir()
    (web_dir / "histogram_1234.db").write_bytes(b"")
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(web_dir))
    gunicorn_hooks.on_starting(None)
    assert list(web_dir.glob("*.db")) == []


@pytest.mark.real_clock
def test_a_worker_serves_its_own_metrics_behind_the_same_rule(settings):
    import urllib.error
    import urllib.request

    from .test_health import free_port

    settings.METRICS_TOKEN = "worker-token"
    settings.METRICS_ALLOWED_NETWORKS = []
    port = free_port()
    server = celery_metrics.serve_worker_metrics(port, "127.0.0.1")
    try:
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10)  # noqa: S310
        assert refused.value.code == 403
        request = urllib.request.Request(f"http://127.0.0.1:{port}/metrics",
                                         headers={"Authorization": "Bearer worker-token"})
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
            text = response.read().decode()
        assert "celery_task_runtime_seconds" in text
        assert "outbox_backlog" not in text  # the database gauges are the web's to answer
    finally:
        server.shutdown()
        server.server_close()


def test_a_bad_allowed_network_is_refused_at_start(settings):
    from config.checks import metrics_networks_are_networks

    settings.METRICS_ALLOWED_NETWORKS = ["10.0.0.0/8", "prometheus.internal", "0.0.0.0/0"]
    assert [e.id for e in metrics_networks_are_networks(None)] == ["stayhold.E171", "stayhold.E172"]
    settings.METRICS_ALLOWED_NETWORKS = ["10.0.0.0/8", "::1"]
    assert metrics_networks_are_networks(None) == []


def test_prometheus_may_scrape_by_address(client, settings, metrics_open):
    settings.ALLOWED_HOSTS = ["book.example.com"]
    settings.DEBUG = False
    response = client.get("/metrics", HTTP_HOST="10.0.3.7:8000", HTTP_AUTHORIZATION=f"Bearer {metrics_open}")
    assert response.status_code == 200
    assert client.get("/metrics", HTTP_HOST="10.0.3.7:8000").status_code == 401
    assert client.get("/", HTTP_HOST="10.0.3.7:8000").status_code == 400  # everything else keeps the host check
