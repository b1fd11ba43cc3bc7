"""The channel connection admin: secrets never shown, tenant scoping, sync now, rotate, pause, staff read-only."""
# ruff: noqa: F811  (pytest fixtures imported from tests.channels.conftest_admin and requested by name)

from __future__ import annotations

import pytest
from django.contrib.messages import get_messages
from django.test import Client
from django.urls import reverse

from channels import admin as channel_admin
from channels.admin import mask_url, redact
from channels.models import ChannelConnection, ConnectionStatus, Platform, SyncRun
from properties.models import Property
from tests.channels.conftest_admin import (  # noqa: F401  (fixtures)
    SECRET_A,
    SECRET_B,
    SECRET_TOKEN_A,
    a,
    admin_url,
    b,
    root,
    staff_a,
)
from tests.channels.feedserver import FeedServer
from tests.factories import future

pytestmark = [pytest.mark.django_db, pytest.mark.sqlite]  # also proven on the embedded SQLite default
CC = ChannelConnection


def messages_of(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


def connection_post(conn, **changes):
    data = {"platform": conn.platform, "name": conn.name, "import_url": "", "sync_enabled": "on",
            "poll_interval_minutes": str(conn.poll_interval_minutes)}
    data.update(changes)
    return {k: v for k, v in data.items() if v is not None}


# --- secrets ------------------------------------------------------------------------------------------------


def test_mask_and_redact_keep_only_the_host_and_last_characters():
    assert mask_url(SECRET_A) == "https://www.airbnb.com/…8f90"
    text = ("HTTPSConnectionPool(host='www.airbnb.com', port=443): Max retries exceeded with url: "
            "/calendar/ical/111222333.ics?s=a1b2c3d4e5f60718293a4b5c6d7e8f90 (timeout); fetched " + SECRET_A)
    out = redact(text, SECRET_A)
    assert SECRET_TOKEN_A not in out and "111222333" not in out
    assert "www.airbnb.com" in out


def test_the_import_url_never_appears_in_full_on_any_admin_page(a, staff_a, root, client):
    pages = [admin_url(CC, "change", a.conn.pk), admin_url(CC, "changelist"), admin_url(CC, "history", a.conn.pk),
             admin_url(Property, "change", a.prop.pk), admin_url(SyncRun, "changelist"),
             admin_url(SyncRun, "change", a.run.pk), admin_url(CC, "rotate", a.conn.pk), reverse("admin:index")]
    seen = 0
    for user in (a.owner, staff_a, root):
        client.force_login(user)
        for page in pages:
            response = client.get(page)
            if response.status_code != 200:
                assert user == staff_a and "rotate" in page, (user, page, response.status_code)
                continue
            html = response.content.decode()
            assert SECRET_TOKEN_A not in html and "111222333" not in html, (user.email, page)
            seen += 1
    assert seen == len(pages) * 3 - 1
    client.force_login(a.owner)
    page = client.get(admin_url(CC, "change", a.conn.pk)).content.decode()
    assert "https://www.airbnb.com/…8f90" in page  # the owner can tell which URL is saved


def test_a_blank_import_url_keeps_the_saved_one_and_a_new_one_replaces_it(a, client):
    client.force_login(a.owner)
    url = admin_url(CC, "change", a.conn.pk)
    CC.objects.filter(pk=a.conn.pk).update(etag='"v7"', last_modified="Mon, 01 Jan 2024 00:00:00 GMT")
    response = client.post(url, connection_post(a.conn, poll_interval_minutes="30"))
    assert response.status_code == 302, response.content.decode()[:2000]
    conn = CC.objects.get(pk=a.conn.pk)
    assert conn.import_url == SECRET_A and conn.poll_interval_minutes == 30
    assert conn.etag == '"v7"'  # same URL: the conditional-GET state stays

    response = client.post(url, connection_post(a.conn, import_url="  webcal://calendar.example.org/feed.ics?k=new  "))
    assert response.status_code == 302
    conn.refresh_from_db()
    assert conn.import_url == "https://calendar.example.org/feed.ics?k=new"
    assert conn.etag == "" and conn.last_modified == "" and conn.next_poll_at is not None


def test_a_bad_import_url_is_refused_and_not_echoed(a, client):
    client.force_login(a.owner)
    bad = "ftp://files.example.org/secret-calendar-token-123.ics"
    response = client.post(admin_url(CC, "change", a.conn.pk), connection_post(a.conn, import_url=bad))
    assert response.status_code == 200
    html = response.content.decode()
    assert "http(s)://" in html and "secret-calendar-token-123" not in html
    assert CC.objects.get(pk=a.conn.pk).import_url == SECRET_A


def test_the_saved_import_url_can_be_removed(a, client):
    client.force_login(a.owner)
    response = client.post(admin_url(CC, "change", a.conn.pk), connection_post(a.conn, clear_import_url="on"))
    assert response.status_code == 302
    assert CC.objects.get(pk=a.conn.pk).import_url == ""


def test_an_owner_adds_a_connection_on_the_property_page(a, client):
    from tests.test_admin import property_form

    client.force_login(a.owner)
    data = property_form(a.prop, **{
        "channel_connections-TOTAL_FORMS": "1", "channel_connections-INITIAL_FORMS": "0",
        "channel_connections-0-platform": Platform.FEWO_DIREKT, "channel_connections-0-name": "",
        "channel_connections-0-import_url": "https://www.vrbo.com/icalendar/abc.ics?nonTentative",
        "channel_connections-0-sync_enabled": "on", "channel_connections-0-poll_interval_minutes": "15",
    })
    data.pop("owner")  # read-only for owners
    response = client.post(admin_url(Property, "change", a.prop.pk), data)
    assert response.status_code == 302, response.context["errors"] if response.context else response
    conn = CC.objects.get(property=a.prop, platform=Platform.FEWO_DIREKT)
    assert conn.import_url == "https://www.vrbo.com/icalendar/abc.ics?nonTentative"
    assert conn.poll_interval_minutes == 15 and conn.export_token
    page = client.get(admin_url(Property, "change", a.prop.pk)).content.decode()
    assert "abc.ics?nonTentative" not in page
    assert f"/ical/{conn.export_token}.ics" in page and 'data-copy="http' in page  # our URL, with a copy button


def test_the_connection_page_shows_our_export_url_and_the_platform_guide(a, client, settings):
    settings.SITE_URL = "https://stay.example.com"
    client.force_login(a.owner)
    page = client.get(admin_url(CC, "change", a.conn.pk)).content.decode()
    feed = f"https://stay.example.com{reverse('channels:feed', args=[a.conn.export_token])}"
    assert feed in page and f'data-copy="{feed}"' in page
    assert 'id="setup"' in page and "Export calendar" in page and "https://www.airbnb.com/help/article/99" in page
    assert "Sync now" in page and "Rotate export URL" in page and "Pause" in page
    assert "conflict-a@airbnb.com" not in page  # the conflict list shows dates and links, not a raw dump
    assert admin_url(a.conflict.__class__, "change", a.conflict.pk) in page
    assert "HTTP 500 from https://www.airbnb.com/…8f90" in page  # the run's error, redacted


def test_staff_see_connections_read_only_without_secrets(a, staff_a, client):
    client.force_login(staff_a)
    response = client.get(admin_url(CC, "change", a.conn.pk))
    html = response.content.decode()
    assert response.status_code == 200
    assert 'name="_save"' not in html
    for view in ("sync", "pause", "rotate"):
        assert admin_url(CC, view, a.conn.pk) not in html
    assert a.conn.export_token not in html and "Visible to owners" in html
    assert "https://www.airbnb.com/…8f90" in html
    for view in ("sync", "pause", "resume", "rotate"):
        assert client.post(admin_url(CC, view, a.conn.pk)).status_code == 403, view
    assert client.get(admin_url(CC, "add")).status_code == 403
    prop_page = client.get(admin_url(Property, "change", a.prop.pk)).content.decode()
    assert a.conn.export_token not in prop_page and SECRET_TOKEN_A not in prop_page


# --- scoping --------------------------------------------------------------------------------------------------


def test_another_owners_connection_is_invisible_and_untouchable(a, b, client):
    client.force_login(a.owner)
    listing = client.get(admin_url(CC, "changelist")).content.decode()
    assert admin_url(CC, "change", a.conn.pk) in listing and admin_url(CC, "change", b.conn.pk) not in listing
    response = client.get(admin_url(CC, "change", b.conn.pk))
    assert response.status_code == 302 and admin_url(CC, "change", b.conn.pk) not in response["Location"]
    token = b.conn.export_token
    for view in ("sync", "pause", "resume", "rotate"):
        assert client.post(admin_url(CC, view, b.conn.pk)).status_code == 404, view
    assert client.post(admin_url(CC, "sync", "abc")).status_code == 404
    b.conn.refresh_from_db()
    assert b.conn.export_token == token and b.conn.sync_enabled
    # the add form refuses B's property
    response = client.post(admin_url(CC, "add"), {"property": b.prop.pk, "platform": "airbnb",
                                                   "poll_interval_minutes": "10", "sync_enabled": "on"})
    assert response.status_code == 200 and "Select a valid choice" in response.content.decode()
    assert CC.objects.filter(property=b.prop).count() == 1


def test_runs_are_view_only_and_scoped(a, b, client):
    client.force_login(a.owner)
    listing = client.get(admin_url(SyncRun, "changelist")).content.decode()
    assert admin_url(SyncRun, "change", a.run.pk) in listing and admin_url(SyncRun, "change", b.run.pk) not in listing
    page = client.get(admin_url(SyncRun, "change", a.run.pk)).content.decode()
    assert 'name="_save"' not in page
    assert client.get(admin_url(SyncRun, "change", b.run.pk)).status_code == 302
    assert client.get(admin_url(SyncRun, "delete", a.run.pk)).status_code == 403


# --- buttons ----------------------------------------------------------------------------------------------------


def test_sync_now_needs_post_and_a_csrf_token(a):
    csrf_client = Client(enforce_csrf_checks=True)
    csrf_client.force_login(a.owner)
    url = admin_url(CC, "sync", a.conn.pk)
    assert csrf_client.get(url).status_code == 405
    assert csrf_client.post(url).status_code == 403  # no CSRF token
    assert SyncRun.objects.filter(connection=a.conn).count() == 1


def test_sync_now_queues_the_sync_instead_of_fetching_in_the_web_request(a, client, monkeypatch):
    queued = []

    def in_the_request(*args, **kwargs):
        pytest.fail("the feed was fetched in the web request")

    monkeypatch.setattr("channels.tasks.sync_connection_task.delay", lambda *args: queued.append(args))
    monkeypatch.setattr("channels.sync.sync_connection", in_the_request)
    monkeypatch.setattr("channels.sync.fetch_feed", in_the_request)
    client.force_login(a.owner)
    response = client.post(admin_url(CC, "sync", a.conn.pk))
    assert response.status_code == 302 and response["Location"] == admin_url(CC, "change", a.conn.pk)
    assert queued == [(a.conn.pk, "manual")]
    assert SyncRun.objects.filter(connection=a.conn).count() == 1  # nothing ran here
    assert any(m.startswith("Sync queued") for m in messages_of(response))


def test_sync_now_with_the_task_queue_down_says_so_without_a_500(a, client, monkeypatch):
    from kombu.exceptions import OperationalError

    def broker_down(*args):
        raise OperationalError("Error 111 connecting to 127.0.0.1:6399. Connection refused.")

    monkeypatch.setattr("channels.tasks.sync_connection_task.delay", broker_down)
    client.force_login(a.owner)
    response = client.post(admin_url(CC, "sync", a.conn.pk))
    assert response.status_code == 302
    assert messages_of(response) == ["The sync could not be queued (the task queue is unavailable); the scheduled "
                                     "sync runs as soon as it is back. Try again later."]


def test_sync_now_refuses_paused_or_urlless_connections_and_run_errors_show_redacted(a, client, monkeypatch):
    queued = []
    monkeypatch.setattr("channels.tasks.sync_connection_task.delay", lambda *args: queued.append(args))
    client.force_login(a.owner)
    CC.objects.filter(pk=a.conn.pk).update(sync_enabled=False)
    assert "paused" in messages_of(client.post(admin_url(CC, "sync", a.conn.pk)))[-1]
    CC.objects.filter(pk=a.conn.pk).update(sync_enabled=True, import_url="")
    assert "nothing to sync" in messages_of(client.post(admin_url(CC, "sync", a.conn.pk)))[-1]
    assert queued == []

    # The result of a queued sync is read on the connection's page, redacted like everywhere else.
    CC.objects.filter(pk=a.conn.pk).update(import_url=SECRET_A)
    SyncRun.objects.create(connection=a.conn, trigger="manual", outcome=SyncRun.Outcome.ERROR,
                           error=f"Timed out fetching {SECRET_A}")
    page = client.get(admin_url(CC, "change", a.conn.pk)).content.decode()
    assert "Timed out fetching https://www.airbnb.com/…8f90" in page and SECRET_TOKEN_A not in page


def test_sync_now_against_a_real_feed_imports_the_stay(a, client, settings):
    """End to end with the real task and channels.sync: a local feed server, one Airbnb reservation."""
    settings.CHANNEL_ALLOW_PRIVATE_URLS = True
    ics = "\r\n".join([
        "BEGIN:VCALENDAR", "PRODID:-//Airbnb Inc//Hosting Calendar 0.8.8//EN", "VERSION:2.0",
        "BEGIN:VEVENT", f"DTSTART;VALUE=DATE:{future(40):%Y%m%d}", f"DTEND;VALUE=DATE:{future(43):%Y%m%d}",
        "UID:admin-sync-1@airbnb.com", "SUMMARY:Reserved",
        "DESCRIPTION:Reservation URL: https://www.airbnb.com/hosting/reservations/details/HMX1",
        "END:VEVENT", "END:VCALENDAR", ""]).encode()
    with FeedServer() as server:
        server.route("/cal.ics", body=ics, etag='"v1"')
        CC.objects.filter(pk=a.conn.pk).update(import_url=server.url("/cal.ics?s=zz"))
        client.force_login(a.owner)
        response = client.post(admin_url(CC, "sync", a.conn.pk))
    assert response.status_code == 302
    said = messages_of(response)
    assert any(m.startswith("Sync queued") for m in said), said
    # Tests run Celery tasks eagerly: the queued task has run (in production the worker runs it).
    run = SyncRun.objects.filter(connection=a.conn).latest("started_at")
    assert run.trigger == "manual" and run.outcome == SyncRun.Outcome.OK
    assert a.prop.bookings.filter(source="airbnb", external_id="admin-sync-1@airbnb.com").exists()


def test_rotating_the_export_url_retires_the_old_one(a, client):
    client.force_login(a.owner)
    old = a.conn.export_token
    old_feed = reverse("channels:feed", args=[old])
    assert client.get(old_feed).status_code == 200
    confirm = client.get(admin_url(CC, "rotate", a.conn.pk))
    assert confirm.status_code == 200 and "stops working" in confirm.content.decode()
    assert CC.objects.get(pk=a.conn.pk).export_token == old  # GET changes nothing
    response = client.post(admin_url(CC, "rotate", a.conn.pk))
    assert response.status_code == 302
    new = CC.objects.get(pk=a.conn.pk).export_token
    assert new != old
    assert client.get(old_feed).status_code == 404
    assert client.get(reverse("channels:feed", args=[new])).status_code == 200
    assert any("old one stops working" in m for m in messages_of(response))


def test_pause_and_resume(a, client):
    client.force_login(a.owner)
    assert client.get(admin_url(CC, "pause", a.conn.pk)).status_code == 405
    client.post(admin_url(CC, "pause", a.conn.pk))
    conn = CC.objects.get(pk=a.conn.pk)
    assert not conn.sync_enabled and conn.status == ConnectionStatus.PAUSED and conn.next_poll_at is None
    page = client.get(admin_url(CC, "change", a.conn.pk)).content.decode()
    assert "Resume" in page and "Paused" in page
    client.post(admin_url(CC, "resume", a.conn.pk))
    conn.refresh_from_db()
    assert conn.sync_enabled and conn.status == ConnectionStatus.OK and conn.next_poll_at is not None


def test_unticking_sync_in_the_form_pauses_the_connection(a, client):
    client.force_login(a.owner)
    data = connection_post(a.conn)
    data.pop("sync_enabled")
    assert client.post(admin_url(CC, "change", a.conn.pk), data).status_code == 302
    conn = CC.objects.get(pk=a.conn.pk)
    assert not conn.sync_enabled and conn.status == ConnectionStatus.PAUSED


def test_the_changelist_shows_health_badges_and_filters_stale(a, client):
    from datetime import timedelta

    from django.utils import timezone

    CC.objects.filter(pk=a.conn.pk).update(status=ConnectionStatus.FAILING,
                                           last_success_at=timezone.now() - timedelta(hours=5))
    client.force_login(a.owner)
    page = client.get(admin_url(CC, "changelist")).content.decode()
    assert "ch-failing" in page and "ch-stale" in page
    stale = client.get(admin_url(CC, "changelist") + "?health=stale").content.decode()
    assert admin_url(CC, "change", a.conn.pk) in stale
    CC.objects.filter(pk=a.conn.pk).update(last_success_at=timezone.now(), status=ConnectionStatus.OK)
    stale = client.get(admin_url(CC, "changelist") + "?health=attention").content.decode()
    assert admin_url(CC, "change", a.conn.pk) not in stale


def test_deleting_a_connection_removes_its_channel_blocks_through_the_service(a, client, monkeypatch):
    calls = []
    monkeypatch.setattr("bookings.blocks.replace_channel_blocks",
                        lambda *, connection, blocks: calls.append((connection.pk, blocks)) or 0)
    client.force_login(a.owner)
    response = client.post(admin_url(CC, "delete", a.conn.pk), {"post": "yes"})
    assert response.status_code == 302
    assert calls == [(a.conn.pk, [])] and not CC.objects.filter(pk=a.conn.pk).exists()


def test_admin_module_registers_the_three_models():
    from django.contrib import admin

    from channels.models import SyncConflict

    for model, admin_class in ((CC, channel_admin.ChannelConnectionAdmin), (SyncRun, channel_admin.SyncRunAdmin),
                               (SyncConflict, channel_admin.SyncConflictAdmin)):
        assert isinstance(admin.site._registry[model], admin_class)
