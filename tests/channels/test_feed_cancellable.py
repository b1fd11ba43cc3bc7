"""Which imported stays a feed snapshot may cancel: the one cancellable rule (``CANCELLABLE_STATUSES``), plus
the feed's own conditions (the stay has not begun and still occupies its nights).

``channels.reconcile`` used to carry its own list (reserved, confirmed); it now uses the state machine's
(inquiry, reserved, confirmed). An inquiry never occupies nights, so the outcome is the same for every status:
this test pins that down status by status."""

from datetime import timedelta

import pytest
from django.utils import timezone

from bookings.models import CANCELLABLE_STATUSES, OCCUPYING_STATUSES, Booking, BookingStatus
from tests.channels.conftest_import import Ev, day, make_connection, sync

pytestmark = pytest.mark.django_db
S = BookingStatus
FEED_CANCELS = {S.RESERVED, S.CONFIRMED}


@pytest.mark.parametrize("status", list(S.values))
def test_a_stay_missing_from_the_feed_is_cancelled_only_from_a_cancellable_occupying_status(prop, status):
    conn = make_connection(prop, "airbnb")
    keep = Ev("b", day(prop, 20), day(prop, 23))  # the feed is never empty (an empty one is a safety-net case)
    sync(conn, [Ev("a", day(prop, 10), day(prop, 13)), keep])
    stay = Booking.objects.get(external_id="a")
    expires_at = timezone.now() + timedelta(hours=1) if status in (S.HELD, S.RESERVED) else None
    Booking.objects.filter(pk=stay.pk).update(status=status, expires_at=expires_at)  # test setup only

    result = sync(conn, [keep])

    stay.refresh_from_db()
    cancelled = status in FEED_CANCELS
    assert (status in CANCELLABLE_STATUSES and status in OCCUPYING_STATUSES) == cancelled
    assert result.cancelled == int(cancelled)
    assert stay.status == (S.CANCELLED if cancelled else status)
