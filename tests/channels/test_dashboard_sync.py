"""The dashboard's channel panel: failing, warning and stale connections and open conflicts, scoped, bounded."""
# ruff: noqa: F811  (pytest fixtures imported from tests.channels.conftest_admin and requested by name)

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from backoffice.dashboard import sync_problems
from channels.health import stale_ids
from channels.models import ChannelConnection, ConnectionStatus, Platform, SyncConflict
from tests.channels.conftest_admin import SECRET_TOKEN_A, a, admin_url, b, staff_a  # noqa: F401  (fixtures)
from tests.factories import OwnerFactory, PropertyFactory, future

pytestmark = [pytest.mark.django_db, pytest.mark.sqlite]  # also proven on the embedded SQLite default
CC = ChannelConnection


def test_no_connections_and_all_in_sync_have_their_own_empty_text(client, db):
    owner = OwnerFactory()
    prop = PropertyFactory(owner=owner)
    client.force_login(owner)
    assert "No channel connections yet." in client.get(reverse("admin:index")).content.decode()
    CC.objects.create(property=prop, platform=Platform.AIRBNB, import_url="https://example.org/a.ics",
                      last_success_at=timezone.now())
    problems = sync_problems(owner)
    assert problems == [] and problems.has_connections
    assert "All channel calendars are in sync." in client.get(reverse("admin:index")).content.decode()


def test_failing_warning_stale_and_conflicts_are_listed_with_links(a, b, client):
    now = timezone.now()
    CC.objects.filter(pk=a.conn.pk).update(status=ConnectionStatus.FAILING, last_success_at=now,
                                           last_error=f"HTTP 403 for {a.conn.import_url}")
    warn = CC.objects.create(property=a.prop, platform=Platform.BOOKING_COM, import_url="https://x.example/b.ics",
                             status=ConnectionStatus.WARNING, last_success_at=now,
                             last_error="The feed would cancel 4 of 5 stays: nothing changed.")
    stale = CC.objects.create(property=a.prop, platform=Platform.FEWO_DIREKT, import_url="https://x.example/v.ics",
                              last_success_at=now - timedelta(minutes=31), poll_interval_minutes=10)
    CC.objects.create(property=a.prop, platform=Platform.EXPEDIA, import_url="https://x.example/e.ics",
                      last_success_at=now - timedelta(minutes=29), poll_interval_minutes=10)  # not stale yet
    CC.objects.create(property=a.prop, platform=Platform.GOOGLE_VR, import_url="https://x.example/g.ics",
                      sync_enabled=False, status=ConnectionStatus.PAUSED, last_success_at=now - timedelta(days=9))
    CC.objects.create(property=a.prop, platform=Platform.OTHER, import_url="",  # export only: never "stale"
                      last_success_at=None)
    CC.objects.filter(platform=Platform.OTHER).update(created_at=now - timedelta(days=3))
    CC.objects.filter(pk=b.conn.pk).update(status=ConnectionStatus.FAILING)

    problems = sync_problems(a.owner, now)
    kinds = sorted((p.kind, p.platform) for p in problems)
    assert kinds == [("conflict", "Airbnb"), ("failing", "Airbnb"), ("stale", "FeWo-direkt / Vrbo"),
                     ("warning", "Booking.com")]
    urls = {p.kind: p.url for p in problems}
    assert urls["failing"] == admin_url(CC, "change", a.conn.pk)
    assert urls["warning"] == admin_url(CC, "change", warn.pk) and urls["stale"] == admin_url(CC, "change", stale.pk)
    assert urls["conflict"] == admin_url(SyncConflict, "change", a.conflict.pk)

    client.force_login(a.owner)
    html = client.get(reverse("admin:index")).content.decode()
    panel = html.split('id="dash-sync"')[1].split("</div>")[0]
    assert admin_url(CC, "change", a.conn.pk) in panel and admin_url(CC, "change", b.conn.pk) not in panel
    assert "would cancel 4 of 5" in panel and SECRET_TOKEN_A not in html
    assert admin_url(SyncConflict, "change", a.conflict.pk) in panel
    assert admin_url(SyncConflict, "change", b.conflict.pk) not in panel


def test_staff_see_the_problems_of_their_properties(a, staff_a):
    CC.objects.filter(pk=a.conn.pk).update(status=ConnectionStatus.FAILING)
    assert {p.kind for p in sync_problems(staff_a)} == {"failing", "conflict"}


def test_the_panel_costs_a_bounded_number_of_queries(a, django_assert_max_num_queries):
    now = timezone.now()
    for i in range(25):
        prop = PropertyFactory(owner=a.owner)
        conn = CC.objects.create(property=prop, platform=Platform.AIRBNB, import_url=f"https://x.example/{i}.ics",
                                 status=ConnectionStatus.FAILING, last_error="HTTP 500")
        SyncConflict.objects.create(connection=conn, property=prop, uid=f"u{i}", check_in=future(5),
                                    check_out=future(7))
    with django_assert_max_num_queries(5):  # + the stale check's narrow read
        problems = sync_problems(a.owner, now)
        assert len(problems) == 20 and problems.more_connections == 15 and problems.more_conflicts == 16
        assert [p.kind for p in problems].count("conflict") == 10


def test_the_stale_list_agrees_with_is_stale(a):
    now = timezone.now()
    cases = [(timedelta(minutes=29), 10, True), (timedelta(minutes=31), 10, True), (timedelta(hours=2), 60, True),
             (timedelta(hours=4), 60, True), (None, 10, True), (timedelta(minutes=31), 10, False)]
    ids = []
    for i, (ago, interval, enabled) in enumerate(cases):
        conn = CC.objects.create(property=PropertyFactory(owner=a.owner), platform=Platform.OTHER, name=f"c{i}",
                                 import_url="https://x.example/s.ics", poll_interval_minutes=interval,
                                 sync_enabled=enabled, last_success_at=now - ago if ago else None)
        if ago is None:
            CC.objects.filter(pk=conn.pk).update(created_at=now - timedelta(hours=1))
        ids.append(conn.pk)
    by_sql = set(stale_ids(CC.objects.filter(pk__in=ids), now))
    by_python = {c.pk for c in CC.objects.filter(pk__in=ids) if c.is_stale(now)}
    assert by_sql == by_python and len(by_sql) == 3
