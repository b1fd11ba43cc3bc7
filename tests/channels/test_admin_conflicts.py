"""Conflicts in the admin (both sides, open first, resolution pages with a required note) and channel blocks
(read-only for everyone: the next sync replaces them)."""
# ruff: noqa: F811  (pytest fixtures imported from tests.channels.conftest_admin and requested by name)

from __future__ import annotations

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse
from django.utils import timezone

from bookings.errors import BookingError
from bookings.models import AvailabilityBlock, Booking, BookingStatus
from channels.models import SyncConflict
from properties.models import Property
from tests.channels.conftest_admin import a, admin_url, b, root, staff_a  # noqa: F401  (fixtures)
from tests.factories import future

pytestmark = pytest.mark.django_db
SC = SyncConflict


def resolve_url(conflict, resolution):
    return reverse("admin:channel_sync_syncconflict_resolve", args=[conflict.pk, resolution])


def last_message(response) -> str:
    return [str(m) for m in get_messages(response.wsgi_request)][-1]


def test_the_conflict_page_shows_both_sides_and_the_resolutions(a, client):
    client.force_login(a.owner)
    page = client.get(admin_url(SC, "change", a.conflict.pk)).content.decode()
    assert "conflict-a@airbnb.com" in page and "Reservation URL: https://www.airbnb.com/hosting/reservations/" \
                                              "details/HMA" in page
    assert admin_url(Booking, "change", a.booking.pk) in page and a.booking.reference in page
    assert admin_url(Booking, "change", a.imported.pk) in page and a.imported.reference in page
    assert 'name="_save"' not in page
    for resolution in ("relocated", "cancelled_ours", "declined_imported", "accepted_overbooking"):
        assert resolve_url(a.conflict, resolution) in page
    assert resolve_url(a.conflict, "gone") not in page


def test_the_overbooked_stay_says_so_on_its_page_and_in_the_calendar(a, client):
    client.force_login(a.owner)
    assert a.imported.overbooking_lane == 1
    page = client.get(admin_url(Booking, "change", a.imported.pk)).content.decode()
    assert "another stay is on these nights too" in page
    assert reverse("admin:channel_sync_syncconflict_changelist") + f"?q={a.imported.reference}" in page
    listed = client.get(reverse("admin:channel_sync_syncconflict_changelist"), {"q": a.imported.reference})
    assert listed.context["cl"].result_count == 1
    ours = client.get(admin_url(Booking, "change", a.booking.pk)).content.decode()
    assert "another stay is on these nights too" not in ours
    calendar = client.get(reverse("admin:calendar"), {"start": future(0).isoformat()}).content.decode()
    assert calendar.count("bar-overbooked") == 2  # the imported stay's bar, and the legend's swatch


def test_open_conflicts_are_listed_first_and_only_ones_own(a, b, client):
    older_open = SC.objects.create(connection=a.conn, property=a.prop, uid="old-open", check_in=future(50),
                                   check_out=future(52), detected_at=timezone.now() - timezone.timedelta(days=9))
    SC.objects.filter(pk=a.conflict.pk).update(resolved_at=timezone.now(), resolution="relocated")
    client.force_login(a.owner)
    page = client.get(admin_url(SC, "changelist")).content.decode()
    assert page.index(admin_url(SC, "change", older_open.pk)) < page.index(admin_url(SC, "change", a.conflict.pk))
    assert admin_url(SC, "change", b.conflict.pk) not in page
    open_only = client.get(admin_url(SC, "changelist") + "?state=open").content.decode()
    assert admin_url(SC, "change", a.conflict.pk) not in open_only


def test_a_resolution_needs_a_note_and_goes_through_resolve_conflict(a, client):
    client.force_login(a.owner)
    url = resolve_url(a.conflict, "relocated")
    page = client.get(url)
    assert page.status_code == 200 and "conflict-a@airbnb.com" in page.content.decode()
    response = client.post(url, {"note": "   "})
    assert response.status_code == 200 and "required" in response.content.decode()
    a.conflict.refresh_from_db()
    assert a.conflict.resolved_at is None
    response = client.post(url, {"note": "Moved the Airbnb guest to Villa C."})
    assert response.status_code == 302
    a.conflict.refresh_from_db()
    assert a.conflict.resolution == "relocated" and a.conflict.resolved_by == a.owner
    assert a.conflict.resolution_note == "Moved the Airbnb guest to Villa C."
    # resolved: read-only, no more buttons, the pages refuse
    detail = client.get(admin_url(SC, "change", a.conflict.pk)).content.decode()
    assert resolve_url(a.conflict, "accepted_overbooking") not in detail
    response = client.post(resolve_url(a.conflict, "accepted_overbooking"), {"note": "again"})
    assert response.status_code == 302 and "already resolved" in last_message(response)
    a.conflict.refresh_from_db()
    assert a.conflict.resolution == "relocated"


def test_cancelling_ours_cancels_our_booking_with_the_refund_and_imports_the_stay(a, client):
    client.force_login(a.owner)
    url = resolve_url(a.conflict, "cancelled_ours")
    page = client.get(url).content.decode()
    assert "Refund to the guest" in page
    response = client.post(url, {"note": "Airbnb booked first; guest informed."})
    assert response.status_code == 302, last_message(response)
    a.booking.refresh_from_db()
    assert a.booking.status == BookingStatus.CANCELLED
    imported = Booking.objects.get(property=a.prop, source="airbnb", external_id="conflict-a@airbnb.com")
    assert (imported.check_in, imported.check_out) == (future(11), future(14))
    a.conflict.refresh_from_db()
    assert a.conflict.resolution == "cancelled_ours"


def test_a_refused_resolution_is_a_message_and_changes_nothing(a, client, monkeypatch):
    def refuse(**kwargs):
        raise BookingError("Cancelling it would not free these dates.")

    monkeypatch.setattr("channels.services.resolve_conflict", refuse)
    client.force_login(a.owner)
    response = client.post(resolve_url(a.conflict, "cancelled_ours"), {"note": "try"})
    assert response.status_code == 200
    assert last_message(response) == "Not resolved: Cancelling it would not free these dates."
    a.conflict.refresh_from_db()
    a.booking.refresh_from_db()
    assert a.conflict.resolved_at is None and a.booking.status != BookingStatus.CANCELLED


def test_staff_view_conflicts_but_cannot_resolve(a, staff_a, client):
    client.force_login(staff_a)
    page = client.get(admin_url(SC, "change", a.conflict.pk))
    assert page.status_code == 200 and resolve_url(a.conflict, "relocated") not in page.content.decode()
    assert client.post(resolve_url(a.conflict, "relocated"), {"note": "x"}).status_code == 403
    a.conflict.refresh_from_db()
    assert a.conflict.resolved_at is None


def test_another_owners_conflict_cannot_be_seen_or_resolved(a, b, client):
    client.force_login(a.owner)
    assert client.get(admin_url(SC, "change", b.conflict.pk)).status_code == 302
    assert client.get(resolve_url(b.conflict, "relocated")).status_code == 404
    assert client.post(resolve_url(b.conflict, "accepted_overbooking"), {"note": "x"}).status_code == 404
    assert client.get(resolve_url(a.conflict, "gone")).status_code == 404
    b.conflict.refresh_from_db()
    assert b.conflict.resolved_at is None


def test_cancel_ours_is_not_offered_without_a_booking_on_our_side(a, client):
    SC.objects.filter(pk=a.conflict.pk).update(other_booking=None)
    client.force_login(a.owner)
    page = client.get(admin_url(SC, "change", a.conflict.pk)).content.decode()
    assert resolve_url(a.conflict, "cancelled_ours") not in page and resolve_url(a.conflict, "relocated") in page
    assert client.post(resolve_url(a.conflict, "cancelled_ours"), {"note": "x"}).status_code == 403


# --- channel blocks -------------------------------------------------------------------------------------------


@pytest.fixture
def channel_block(a):
    return AvailabilityBlock.objects.create(property=a.prop, start_date=future(60), end_date=future(63),
                                            reason=AvailabilityBlock.Reason.CHANNEL, connection=a.conn,
                                            external_summary="Airbnb (Not available)")


@pytest.mark.parametrize("who", ["owner", "staff", "root"])
def test_channel_blocks_are_read_only_for_everyone(a, staff_a, root, channel_block, client, who):
    client.force_login({"owner": a.owner, "staff": staff_a, "root": root}[who])
    page = client.get(admin_url(AvailabilityBlock, "change", channel_block.pk))
    assert page.status_code == 200
    html = page.content.decode()
    assert 'name="_save"' not in html and "Airbnb (Not available)" in html
    assert client.get(admin_url(AvailabilityBlock, "delete", channel_block.pk)).status_code == 403
    client.post(admin_url(AvailabilityBlock, "delete", channel_block.pk), {"post": "yes"})
    client.post(admin_url(AvailabilityBlock, "changelist"),
                {"action": "delete_selected", "_selected_action": [channel_block.pk], "post": "yes"})
    assert AvailabilityBlock.objects.filter(pk=channel_block.pk, start_date=future(60)).exists()


def test_the_property_page_shows_channel_blocks_read_only_and_never_edits_them(a, channel_block, client):
    from tests.test_admin import property_form

    client.force_login(a.owner)
    page = client.get(admin_url(Property, "change", a.prop.pk)).content.decode()
    assert "Channel blocks" in page and 'name="blocks-0-id"' not in page  # not in the editable block inline
    editable_inline = page.split('id="blocks-group"')[1].split("</fieldset>")[0]
    assert f'name="blocks-0-id" value="{channel_block.pk}"' not in editable_inline
    assert f'id="id_blocks-0-id" value="{channel_block.pk}"' not in editable_inline
    assert 'name="blocks-INITIAL_FORMS" value="0"' in page  # the owner-block inline holds no existing rows
    # a tampered post that names the channel block in the editable inline changes nothing
    data = property_form(a.prop, **{
        "blocks-TOTAL_FORMS": "1", "blocks-INITIAL_FORMS": "1", "blocks-0-id": str(channel_block.pk),
        "blocks-0-start_date": future(80).isoformat(), "blocks-0-end_date": future(81).isoformat(),
        "blocks-0-reason": "owner_use", "blocks-0-note": "mine now", "blocks-0-DELETE": "on"})
    data.pop("owner")
    client.post(admin_url(Property, "change", a.prop.pk), data)
    channel_block.refresh_from_db()
    assert (channel_block.start_date, channel_block.connection_id) == (future(60), a.conn.pk)
