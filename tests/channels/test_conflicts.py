"""channels.services.resolve_conflict: the owner's ways out of a SyncConflict, each audited."""

import pytest
from django.utils import timezone

from bookings import blocks as block_services
from bookings.errors import BookingError
from bookings.models import Booking, BookingStatus
from channels.models import SyncConflict
from channels.services import resolve_conflict
from tests.channels.conftest_import import Ev, day, make_connection, stays, sync

pytestmark = pytest.mark.django_db
R = SyncConflict.Resolution


@pytest.fixture
def conn(prop):
    return make_connection(prop, "fewo_direkt")


@pytest.fixture
def clash(prop, conn, book):
    """A direct reservation on days 10–13 and a Vrbo stay on days 11–14: one open conflict."""
    direct = book(prop, start=10, nights=3)
    sync(conn, [Ev("vrbo-1", day(prop, 11), day(prop, 14), name="Jane Doe")])
    return SyncConflict.objects.get(connection=conn), direct


@pytest.mark.parametrize("resolution", [R.RELOCATED, R.ACCEPTED_OVERBOOKING, R.DECLINED_IMPORTED])
def test_resolutions_that_keep_our_booking_are_recorded_with_who_when_and_why(prop, conn, clash, owner, resolution):
    conflict, direct = clash
    at = timezone.now()
    resolved = resolve_conflict(conflict_id=conflict.pk, resolution=resolution, user=owner, note="Called both.",
                                at=at)
    conflict.refresh_from_db()
    assert (conflict.resolution, conflict.resolved_by, conflict.resolved_at, conflict.resolution_note) == (
        resolution, owner, at, "Called both.")
    assert resolved.pk == conflict.pk
    direct.refresh_from_db()
    assert direct.status == BookingStatus.RESERVED
    # The next sync does not reopen a settled conflict while the event keeps its dates …
    result = sync(conn, [Ev("vrbo-1", day(prop, 11), day(prop, 14), name="Jane Doe")])
    assert (result.conflicts, result.unchanged) == (0, 1)
    assert SyncConflict.objects.filter(connection=conn, resolved_at__isnull=True).count() == 0
    # … but new dates that still overlap are a new conflict.
    assert sync(conn, [Ev("vrbo-1", day(prop, 12), day(prop, 14))]).conflicts == 1
    assert SyncConflict.objects.filter(connection=conn, resolved_at__isnull=True).count() == 1


def test_the_clash_is_an_overbooking_recorded_on_both_sides(prop, conn, clash):
    conflict, direct = clash
    assert stays(conn) == [("vrbo-1", day(prop, 11), day(prop, 14))]
    assert conflict.imported_booking.overbooking_lane == 1 and conflict.other_booking == direct


def test_cancelling_ours_cancels_through_payments_and_the_stay_returns_to_lane_0(prop, conn, clash, owner):
    conflict, direct = clash
    resolve_conflict(conflict_id=conflict.pk, resolution=R.CANCELLED_OURS, user=owner, note="Guest agreed.")
    direct.refresh_from_db()
    assert direct.status == BookingStatus.CANCELLED
    last = direct.events.order_by("-pk").first()
    assert last.to_status == BookingStatus.CANCELLED and last.actor_user == owner
    assert "Guest agreed." in direct.cancellation_reason
    assert stays(conn) == [("vrbo-1", day(prop, 11), day(prop, 14))]
    imported = Booking.objects.get(external_id="vrbo-1")
    assert imported.guest.name == "Jane Doe" and imported.status == BookingStatus.CONFIRMED
    assert imported.overbooking_lane == 0
    conflict.refresh_from_db()
    assert conflict.resolution == R.CANCELLED_OURS and conflict.resolved_by == owner
    # The next sync finds the stay in place.
    result = sync(conn, [Ev("vrbo-1", day(prop, 11), day(prop, 14), name="Jane Doe")])
    assert (result.unchanged, result.conflicts, result.created) == (1, 0, 0)


def test_cancelling_ours_is_refused_when_it_would_not_free_the_dates(prop, conn, clash, owner):
    conflict, direct = clash
    third = sync(make_connection(prop, "booking_com"), [Ev("bdc-1", day(prop, 13), day(prop, 15), name="Ann")])
    assert third.created == 1  # on the Vrbo stay's last night: another overbooking
    with pytest.raises(BookingError) as exc:
        resolve_conflict(conflict_id=conflict.pk, resolution=R.CANCELLED_OURS, user=owner)
    assert "would not free these dates" in exc.value.detail and "Booking.com" in exc.value.detail
    direct.refresh_from_db()
    conflict.refresh_from_db()
    assert direct.status == BookingStatus.RESERVED and conflict.resolved_at is None
    assert stays(conn) == [("vrbo-1", day(prop, 11), day(prop, 14))]
    assert conflict.imported_booking.overbooking_lane == 1  # the rollback took everything back


def test_cancelling_ours_needs_a_booking_of_ours(prop, conn, owner):
    block_services.create_block(property_id=prop.pk, start_date=day(prop, 10), end_date=day(prop, 12))
    sync(conn, [Ev("v", day(prop, 10), day(prop, 12))])
    conflict = SyncConflict.objects.get()
    with pytest.raises(BookingError, match="not with one of our bookings"):
        resolve_conflict(conflict_id=conflict.pk, resolution=R.CANCELLED_OURS, user=owner)


def test_a_conflict_cannot_be_resolved_twice(clash, owner):
    conflict, _ = clash
    resolve_conflict(conflict_id=conflict.pk, resolution=R.RELOCATED, user=owner)
    with pytest.raises(BookingError, match="already resolved"):
        resolve_conflict(conflict_id=conflict.pk, resolution=R.ACCEPTED_OVERBOOKING, user=owner)
    conflict.refresh_from_db()
    assert conflict.resolution == R.RELOCATED


@pytest.mark.parametrize("resolution", [R.GONE, "delete_everything"])
def test_only_the_owner_resolutions_are_accepted(clash, owner, resolution):
    conflict, _ = clash
    with pytest.raises(BookingError):
        resolve_conflict(conflict_id=conflict.pk, resolution=resolution, user=owner)
    conflict.refresh_from_db()
    assert conflict.resolved_at is None


def test_an_unknown_conflict_is_a_clear_error(db, owner):
    with pytest.raises(BookingError, match="does not exist"):
        resolve_conflict(conflict_id=987654, resolution=R.RELOCATED, user=owner)
