"""The owner is alerted once when an import runs into one of their bookings (and nothing is cancelled)."""

from datetime import timedelta

import pytest
from django.core import mail
from django.db import IntegrityError, transaction
from django.utils import timezone

from bookings.models import BookingStatus, SentEmail
from channels.models import ChannelConnection, SyncConflict
from tests.channels.conftest_import import Ev, day, make_connection, sync

pytestmark = [pytest.mark.django_db, pytest.mark.sqlite]  # also proven on the embedded SQLite default


@pytest.fixture
def conn(prop):
    return make_connection(prop, "booking_com")


def test_a_new_conflict_emails_the_owner_once_with_a_link_to_resolve_it(prop, conn, book, owner,
                                                                        django_capture_on_commit_callbacks):
    direct = book(prop, start=10, nights=3)
    mail.outbox.clear()

    with django_capture_on_commit_callbacks(execute=True):
        sync(conn, [Ev("clash", day(prop, 11), day(prop, 14))])

    conflict = SyncConflict.objects.get()
    alerts = [m for m in mail.outbox if m.extra_headers.get("X-Stayhold-Email") == "owner_sync_conflict"]
    assert len(alerts) == 1
    alert = alerts[0]
    assert alert.to == [owner.email]
    assert prop.name in alert.subject and "Booking.com" in alert.subject and direct.reference in alert.subject
    assert f"/admin/channel_sync/syncconflict/{conflict.pk}/change/" in alert.body
    assert "Nothing was cancelled" in alert.body
    html = alert.alternatives[0][0]
    assert f"/admin/channel_sync/syncconflict/{conflict.pk}/change/" in html
    direct.refresh_from_db()
    assert direct.status == BookingStatus.RESERVED

    # Seen again on the next runs (even with new dates): still one email.
    with django_capture_on_commit_callbacks(execute=True):
        sync(conn, [Ev("clash", day(prop, 11), day(prop, 14))], at=timezone.now() + timedelta(minutes=10))
        sync(conn, [Ev("clash", day(prop, 11), day(prop, 15))], at=timezone.now() + timedelta(minutes=20))
    assert SentEmail.objects.filter(kind="owner_sync_conflict").count() == 1
    assert len([m for m in mail.outbox if m.extra_headers.get("X-Stayhold-Email") == "owner_sync_conflict"]) == 1


def test_no_conflict_no_alert(prop, conn):
    mail.outbox.clear()
    sync(conn, [Ev("free", day(prop, 20), day(prop, 23))])
    assert not SentEmail.objects.filter(kind="owner_sync_conflict").exists()


def test_one_connection_per_platform_and_property(prop, conn):
    """Imported stays are keyed by (property, platform, UID): a second calendar of the same platform would see the
    first one's stays as gone and cancel them, so the database refuses it."""
    with pytest.raises(IntegrityError), transaction.atomic():
        ChannelConnection.objects.create(property=prop, platform="booking_com", name="second listing")
    assert make_connection(prop, "airbnb").pk  # another platform is fine
