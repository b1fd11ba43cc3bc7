"""The correlation id (core.correlation, docs/logging.md): from the request's X-Request-ID (or a new one) to every log
line of the request, into the Celery tasks and outbox deliveries it causes, and onto the error pages."""

import time
import uuid

import pytest
from django.http import HttpResponse
from django.urls import path

from bookings.models import Booking
from config.urls import urlpatterns as site_urlpatterns
from core.correlation import current_correlation_id
from core.models import OutboxEvent
from tests.factories import PropertyFactory, future

from .conftest import LogCapture


def details(start=10, nights=3, email="ada.lovelace@example.com", phone="+44 20 7946 0123"):
    return {"check_in": future(start).isoformat(), "check_out": future(start + nights).isoformat(),
            "adults": "2", "children": "0", "name": "Ada Lovelace", "email": email, "phone": phone,
            "country": "GB", "special_requests": "", "accept": "on", "form_token": str(uuid.uuid4())}


# --- The request ------------------------------------------------------------------------------------------------------

@pytest.mark.django_db
def test_the_request_line_carries_the_clients_id_and_the_route_not_the_path(client, log_output):
    prop = PropertyFactory()
    response = client.get(f"/properties/{prop.slug}/?token=abc", HTTP_X_REQUEST_ID="req-42.a_b")
    assert response.status_code == 200 and response["X-Request-ID"] == "req-42.a_b"
    [line] = log_output.events("request")
    assert line["correlation_id"] == "req-42.a_b" and line["level"] == "info" and line["logger"] == "core.request"
    assert (line["method"], line["route"], line["status"]) == ("GET", "properties/<slug:slug>/", 200)
    assert "duration_ms" in line and "timestamp" in line
    assert prop.slug not in log_output.text and "abc" not in log_output.text
    assert current_correlation_id() is None  # nothing leaks past the request


@pytest.mark.django_db
@pytest.mark.parametrize("header", ["x" * 65, "<script>", "a b", "é", ""])
def test_an_unusable_request_id_is_replaced_by_a_new_one(client, log_output, header):
    response = client.get("/", HTTP_X_REQUEST_ID=header)
    new = response["X-Request-ID"]
    assert new != header and len(new) == 32 and int(new, 16) >= 0
    assert log_output.events("request")[0]["correlation_id"] == new


# --- Outbox and eager tasks ------------------------------------------------------------------------------------------

@pytest.mark.django_db(transaction=True)  # real commits: the eager tasks run at the commit, inside the request
def test_a_booking_request_stamps_its_outbox_event_and_the_delivery_logs_its_id(client, log_output):
    prop = PropertyFactory()
    response = client.post(f"/book/{prop.slug}/", details(), HTTP_X_REQUEST_ID="booking-req-1")
    assert response.status_code == 302
    booking = Booking.objects.get()
    event = OutboxEvent.objects.get(topic="booking.created", aggregate_id=str(booking.pk))
    assert event.correlation_id == "booking-req-1" and event.delivered_at is not None
    [delivered] = [line for line in log_output.events("outbox_delivered") if line["event_id"] == str(event.pk)]
    assert delivered["correlation_id"] == "booking-req-1" and delivered["topic"] == "booking.created"
    # Every line written while the request ran carries its id: the eager tasks' (delivery, emails) included.
    assert {line["correlation_id"] for line in log_output.lines()} == {"booking-req-1"}
    assert {line["data"]["name"] for line in log_output.lines() if line["logger"] == "celery.app.trace"} == {
        "core.tasks.deliver_outbox_event", "bookings.tasks.send_email"}


@pytest.mark.django_db
def test_a_redelivery_much_later_logs_the_originating_id_not_the_sweepers(log_output, settings):
    settings.OUTBOX_REDELIVER_AFTER_SECONDS = 0
    event = OutboxEvent.objects.create(topic="pricing.updated", aggregate_type="property", aggregate_id="1",
                                       payload={}, correlation_id="original-request")
    from core.tasks import redeliver_outbox

    result = redeliver_outbox.apply()  # the beat's sweeper, in a task of its own (its own id)
    assert result.successful()
    [line] = [line for line in log_output.events("outbox_delivered") if line["event_id"] == str(event.pk)]
    assert line["correlation_id"] == "original-request"
    sweeper_lines = [line for line in log_output.lines() if line["event"] != "outbox_delivered"]
    assert all(line["correlation_id"] not in (None, "original-request") for line in sweeper_lines)
    assert current_correlation_id() is None


def test_an_eager_task_inside_a_request_keeps_the_requests_id_and_gives_it_back():
    from core.correlation import correlated, task_ended, task_started

    class Task:
        class request:  # noqa: N801 - the shape of celery.app.task.Context
            headers = None

    with correlated("outer"):
        task_started(task_id="t1", task=Task())
        assert current_correlation_id() == "outer"
        task_ended(task_id="t1")
        assert current_correlation_id() == "outer"
    task_started(task_id="t2", task=Task())  # a beat run, no caller: an id of its own
    own = current_correlation_id()
    assert own and len(own) == 32
    task_ended(task_id="t2")
    assert current_correlation_id() is None


# --- A real worker: the id travels in the message --------------------------------------------------------------------

def all_queues(app) -> list[str]:
    """Every queue a task may be routed to (the default one, the declared ones, the routes'), so the one embedded
    worker runs the delivery and the emails however the tasks are split across queues."""
    names = {app.conf.task_default_queue}
    names |= {queue.name for queue in (app.conf.task_queues or ())}
    routes = app.conf.task_routes or {}
    if isinstance(routes, dict):
        names |= {route["queue"] for route in routes.values() if isinstance(route, dict) and route.get("queue")}
    return sorted(names)


@pytest.fixture
def celery_worker(transactional_db):
    """An embedded Celery worker (one thread, the solo pool) on the test broker (REDIS_URL), eager mode off."""
    from celery.contrib.testing.worker import start_worker

    from config.celery import app

    eager = app.conf.task_always_eager
    app.conf.task_always_eager = False
    try:
        with start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=20, queues=all_queues(app)):
            yield app
    finally:
        app.conf.task_always_eager = eager


def wait_for(condition, seconds=30.0):
    """Poll until ``condition()`` is true (the worker runs in another thread); bounded, not a timing assertion."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return condition()


@pytest.mark.real_clock
def test_the_id_goes_from_the_request_through_the_broker_to_the_workers_log_lines(client, celery_worker):
    capture = LogCapture()
    capture.attach()  # after the worker re-applied settings.LOGGING
    try:
        prop = PropertyFactory()
        response = client.post(f"/book/{prop.slug}/", details(), HTTP_X_REQUEST_ID="through-the-broker")
        assert response.status_code == 302
        event = OutboxEvent.objects.get(topic="booking.created")
        assert event.correlation_id == "through-the-broker"

        def delivered():
            return [line for line in capture.lines() if line["event"] == "outbox_delivered"
                    and line.get("event_id") == str(event.pk)]

        assert wait_for(delivered), capture.text
        [line] = delivered()
        # Logged in the worker's thread (a context of its own): the id came in the message header.
        assert line["correlation_id"] == "through-the-broker" and line["consumers"]
        # Celery's own line about the task, written inside it, too; and the email tasks the delivery queued.
        def finished():
            return {(line["data"]["name"], line["correlation_id"]) for line in capture.lines()
                    if line["logger"] == "celery.app.trace" and "succeeded" in line["event"]}

        assert wait_for(lambda: any(name == "bookings.tasks.send_email" for name, _ in finished())), capture.text
        assert finished() == {("core.tasks.deliver_outbox_event", "through-the-broker"),
                              ("bookings.tasks.send_email", "through-the-broker")}
        # The worker's "task received" lines carry it too (Celery's own, written before any hook, is replaced).
        received = {(line["task"], line["correlation_id"]) for line in capture.lines()
                    if line["event"] == "task_received"}
        assert ("core.tasks.deliver_outbox_event", "through-the-broker") in received
        assert ("bookings.tasks.send_email", "through-the-broker") in received
        assert not [line for line in capture.lines() if line["logger"] == "celery.worker.strategy"]
    finally:
        import logging

        logging.getLogger().removeHandler(capture.handler)


# --- Error pages -----------------------------------------------------------------------------------------------------

def boom(request):
    raise RuntimeError("the view failed for ada.lovelace@example.com")


def fine(request):
    return HttpResponse("ok")


urlpatterns = [path("boom/", boom), path("fine/", fine), *site_urlpatterns]
handler500 = "config.views.server_error"
handler404 = "config.views.page_not_found"


@pytest.mark.urls(__name__)
def test_the_500_page_names_the_reference_and_needs_no_database(client, log_output, django_db_blocker):
    client.raise_request_exception = False
    with django_db_blocker.block():  # any query would raise: the page must render without the database
        response = client.get("/boom/", HTTP_X_REQUEST_ID="ref-500-page")
    assert response.status_code == 500 and response["X-Request-ID"] == "ref-500-page"
    html = response.content.decode()
    assert "Something went wrong" in html and "<code>ref-500-page</code>" in html
    [error] = [line for line in log_output.lines() if line["logger"] == "django.request"]
    assert error["level"] == "error" and error["correlation_id"] == "ref-500-page"
    assert "RuntimeError" in error["exception"] and "ada.lovelace@example.com" not in log_output.text


@pytest.mark.django_db
def test_the_404_page_names_the_reference(client, log_output):
    response = client.get("/no-such-page/", HTTP_X_REQUEST_ID="ref-404")
    assert response.status_code == 404 and "<code>ref-404</code>" in response.content.decode()
    assert "Page not found" in response.content.decode()
    assert log_output.events("request")[0]["path"] == "/no-such-page/"


@pytest.mark.django_db
def test_the_csrf_failure_page_names_the_reference(log_output):
    from django.test import Client

    prop = PropertyFactory()
    response = Client(enforce_csrf_checks=True).post(f"/book/{prop.slug}/", details(), HTTP_X_REQUEST_ID="ref-csrf")
    assert response.status_code == 403
    html = response.content.decode()
    assert "This form has expired" in html and "<code>ref-csrf</code>" in html
    assert not Booking.objects.exists()


@pytest.mark.django_db
def test_the_403_page_names_the_reference(owner):
    from django.core.exceptions import PermissionDenied
    from django.test import RequestFactory

    from config.views import permission_denied
    from core.correlation import correlated

    request = RequestFactory().get("/somewhere/")
    request.user = owner
    with correlated("ref-403"):
        page = permission_denied(request, PermissionDenied("You may not."))
    assert page.status_code == 403 and "<code>ref-403</code>" in page.content.decode()


def test_the_503_page_names_the_reference():
    from django.test import RequestFactory

    from config.middleware import service_unavailable
    from core.correlation import correlated

    with correlated("ref-503"):
        page = service_unavailable(RequestFactory().get("/"))
    assert page.status_code == 503 and "<code>ref-503</code>" in page.content.decode()

