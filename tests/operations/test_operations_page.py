"""The operations page: superusers only; its figures are the /metrics gauges (one selector module)."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.utils import timezone

from bookings.models import Booking, BookingStatus
from channels.models import BreakerState, ChannelConnection, Platform, Transport
from core import liveness
from core.models import OutboxEvent
from tests.factories import OwnerFactory, PropertyFactory, StaffFactory, SuperuserFactory

from .conftest import scraped_value

pytestmark = pytest.mark.django_db

URL = "/admin/operations/"


def figure(html: str, row_id: str) -> str:
    match = re.search(rf'<tr id="{row_id}"><th scope="row">[^<]*</th><td>([^<]*)</td>', html)
    assert match, row_id
    return match.group(1).strip()


def test_anonymous_visitors_are_sent_to_the_login(client):
    response = client.get(URL)
    assert response.status_code == 302 and "/login" in response["Location"]


@pytest.mark.parametrize("make_user", [OwnerFactory, lambda: StaffFactory(employer=OwnerFactory())],
                         ids=["owner", "property-staff"])
def test_owners_and_their_staff_are_refused(client, make_user):
    user = make_user()
    client.force_login(user)
    assert client.get(URL).status_code == 403
    assert client.get("/admin/").content.count(b'id="nav-operations"') == 0


def test_a_superuser_sees_the_same_numbers_as_the_metrics(client, scrape, clear_cache, settings):
    settings.OPS_PAYMENT_STUCK_AFTER_MINUTES = 30
    now = timezone.now()
    for n in range(3):
        OutboxEvent.objects.create(topic="booking.updated", aggregate_type="booking", aggregate_id=str(n), payload={},
                                   created_at=now - timedelta(minutes=7))
    prop = PropertyFactory()
    failing = ChannelConnection.objects.create(property=prop, platform=Platform.AIRBNB, status="failing",
                                               name="Airbnb loft", last_error="unreachable")
    ChannelConnection.objects.create(property=PropertyFactory(), platform="channex", transport=Transport.CHANNEX,
                                     breaker_state=BreakerState.OPEN, breaker_opened_at=now)
    liveness.record_task_failure("channels.tasks.sync_connection_task")
    liveness.record_task_failure("channels.tasks.sync_connection_task")
    expired = Booking.objects.filter(status=BookingStatus.EXPIRED, expired_at__gte=now - timedelta(days=1)).count()

    client.force_login(SuperuserFactory())
    response = client.get(URL)
    assert response.status_code == 200
    html = response.content.decode()
    metrics = scrape()

    backlog = scraped_value(metrics, "outbox_backlog")
    assert backlog == OutboxEvent.objects.filter(delivered_at__isnull=True).count() >= 3
    assert figure(html, "ops-outbox-backlog") == str(int(backlog))
    assert figure(html, "ops-outbox-age").endswith("min")
    assert figure(html, "ops-failing-connections") == str(int(scraped_value(
        metrics, "channel_connections", platform="airbnb", health="failing")))
    assert figure(html, "ops-open-breakers") == str(int(scraped_value(
        metrics, "channel_circuit_breakers_open", platform="channex")))
    assert figure(html, "ops-task-failures") == "2" == str(int(scraped_value(
        metrics, "celery_task_failures_last_day", task="channels.tasks.sync_connection_task")))
    assert figure(html, "ops-expired-day") == str(expired)
    assert failing.name in html and 'id="ops-failing"' in html
    assert 'id="nav-operations"' in html


def test_the_page_reads_a_bounded_number_of_queries(client, django_assert_max_num_queries, clear_cache):
    for _ in range(5):
        ChannelConnection.objects.create(property=PropertyFactory(), platform=Platform.AIRBNB, status="failing")
    client.force_login(SuperuserFactory())
    client.get(URL)  # the session and the user, once
    with django_assert_max_num_queries(16):
        assert client.get(URL).status_code == 200
