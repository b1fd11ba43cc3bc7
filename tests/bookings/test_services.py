"""The booking services: the one path that changes bookings. The tests marked
``sqlite`` also run against the embedded SQLite default (``make test``)."""

from datetime import timedelta

import pytest
from django.utils import timezone

from bookings import services
from bookings.availability import check_availability
from bookings.errors import DatesUnavailable, HoldExpired, InvalidTransition, PropertyUnavailable, StayRuleViolation
from bookings.models import Booking, BookingEvent, BookingStatus
from core.actor import Actor
from core.models import OutboxEvent
from tests.factories import BlockFactory, future

pytestmark = pytest.mark.django_db
S = BookingStatus
SYSTEM = Actor.system("test")


@pytest.mark.sqlite
def test_reserve_writes_booking_audit_row_and_outbox_event_together(prop, book):
    booking = book(prop, start=10, nights=3)

    assert booking.status == S.RESERVED
    assert booking.reference.startswith(f"PMS-{timezone.now().year}-")
    assert booking.total == booking.subtotal - booking.discounts + booking.fees + booking.taxes
    assert booking.quote["total"] == str(booking.total)
    assert booking.expires_at > timezone.now() + timedelta(minutes=29)
    event = BookingEvent.objects.get(booking=booking)
    assert (event.from_status, event.to_status, event.actor_type) == ("", S.RESERVED, "system")
    assert OutboxEvent.objects.filter(topic="booking.created", aggregate_id=str(booking.pk)).count() == 1


@pytest.mark.sqlite
def test_overlapping_reservation_is_refused_and_changes_nothing(prop, book):
    book(prop, start=10, nights=3)
    before = (Booking.objects.count(), BookingEvent.objects.count(), OutboxEvent.objects.count())

    with pytest.raises(DatesUnavailable) as exc:
        book(prop, start=12, nights=3)

    assert exc.value.code == "dates_unavailable"
    assert [r.code for r in exc.value.reasons] == ["overlap"]
    assert (Booking.objects.count(), BookingEvent.objects.count(), OutboxEvent.objects.count()) == before


@pytest.mark.sqlite
def test_check_out_day_can_be_the_next_check_in_day(prop, book):
    first = book(prop, start=10, nights=3)
    second = book(prop, start=13, nights=2)
    assert first.check_out == second.check_in


@pytest.mark.sqlite
def test_expired_hold_does_not_block_even_before_the_job_runs(prop, book):
    held = services.hold(property_id=prop.pk, check_in=future(10), check_out=future(13), adults=2, actor=SYSTEM)
    later = timezone.now() + timedelta(minutes=16)

    booking = book(prop, start=11, nights=2, at=later)

    held.refresh_from_db()
    assert booking.status == S.RESERVED
    assert held.status == S.EXPIRED  # expired inside the booking's own transaction, audited
    assert held.events.last().reason == "Hold time ran out."


@pytest.mark.sqlite
def test_live_hold_blocks_and_converts_into_the_reservation(prop, guest_input):
    held = services.hold(property_id=prop.pk, check_in=future(10), check_out=future(13), adults=2, actor=SYSTEM)
    with pytest.raises(DatesUnavailable):
        services.reserve(property_id=prop.pk, check_in=future(10), check_out=future(12), adults=2, guest=guest_input,
                         actor=SYSTEM)

    booking = services.reserve(property_id=prop.pk, check_in=future(10), check_out=future(13), adults=2,
                               guest=guest_input, actor=SYSTEM, hold_id=held.pk)

    assert booking.pk == held.pk and booking.status == S.RESERVED
    assert booking.guest.email == "ada@example.com"
    assert list(booking.events.values_list("from_status", "to_status")) == [("", S.HELD), (S.HELD, S.RESERVED)]


def test_converting_an_expired_hold_is_refused(prop, guest_input):
    held = services.hold(property_id=prop.pk, check_in=future(10), check_out=future(13), adults=2, actor=SYSTEM)
    with pytest.raises(HoldExpired):
        services.reserve(property_id=prop.pk, check_in=future(10), check_out=future(13), adults=2, guest=guest_input,
                         actor=SYSTEM, hold_id=held.pk, at=timezone.now() + timedelta(minutes=20))
    held.refresh_from_db()
    # The refusal changes nothing; the hold no longer occupies and the job will mark it.
    assert held.status == S.HELD
    assert not held.is_occupying(timezone.now() + timedelta(minutes=20))


@pytest.mark.sqlite
def test_owner_block_and_buffer_days_are_checked_under_the_lock(prop, book):
    BlockFactory(property=prop, start_date=future(20), end_date=future(22))
    prop.buffer_days = 2
    prop.save()
    book(prop, start=10, nights=3)  # occupies 10..13, buffer until 15

    with pytest.raises(DatesUnavailable) as blocked:
        book(prop, start=21, nights=3)
    with pytest.raises(DatesUnavailable) as buffered:
        book(prop, start=14, nights=2)

    assert "blocked" in {r.code for r in blocked.value.reasons}
    assert {r.code for r in buffered.value.reasons} == {"buffer"}
    assert book(prop, start=15, nights=2).status == S.RESERVED


def test_stay_rule_violation_lists_every_reason(prop, book):
    prop.min_stay = 3
    prop.checkin_weekdays = 1 << 5  # Saturdays
    prop.save()
    day = future(10)
    while day.weekday() == 5:
        day += timedelta(days=1)

    result = check_availability(prop, day, day + timedelta(days=1), guests=9)

    assert not result.available
    assert {"min_stay", "checkin_day", "too_many_guests"} <= result.codes
    messages = {r.code: r.message for r in result.reasons}
    assert messages["min_stay"] == "Minimum stay is 3 nights."
    assert messages["checkin_day"] == "Check-in on Saturdays only."
    with pytest.raises(StayRuleViolation):
        book(prop, start=(day - timezone.localdate()).days, nights=1)


def test_owner_override_skips_rules_but_never_overlaps(prop, book):
    prop.min_stay = 5
    prop.save()
    with pytest.raises(StayRuleViolation):
        book(prop, start=10, nights=2)
    booking = book(prop, start=10, nights=2, override_rules=True, override_reason="Phone booking, agreed")
    assert booking.rules_overridden
    assert "Phone booking" in booking.events.get().reason
    with pytest.raises(DatesUnavailable):
        book(prop, start=11, nights=2, override_rules=True, override_reason="again")


def test_inactive_property_refuses_bookings(prop, book):
    prop.status = prop.Status.DRAFT
    prop.save()
    with pytest.raises(PropertyUnavailable):
        book(prop)


@pytest.mark.sqlite
def test_full_lifecycle_transitions_are_audited(prop, book):
    booking = book(prop, start=0, nights=2)
    services.confirm(booking_id=booking.pk, actor=SYSTEM, reason="paid")
    services.check_in(booking_id=booking.pk, actor=SYSTEM)
    booking = services.check_out(booking_id=booking.pk, actor=SYSTEM)

    assert booking.status == S.CHECKED_OUT
    assert booking.confirmed_at and booking.checked_in_at and booking.checked_out_at
    assert list(booking.events.values_list("to_status", flat=True)) == [
        S.RESERVED, S.CONFIRMED, S.CHECKED_IN, S.CHECKED_OUT
    ]
    with pytest.raises(InvalidTransition):
        services.cancel(booking_id=booking.pk, actor=SYSTEM, reason="too late")


def test_cancel_frees_the_dates(prop, book):
    booking = book(prop, start=10, nights=3)
    services.cancel(booking_id=booking.pk, actor=SYSTEM, reason="guest changed plans")
    assert book(prop, start=10, nights=3).status == S.RESERVED
    assert OutboxEvent.objects.filter(topic="booking.cancelled", aggregate_id=str(booking.pk)).exists()


def test_expiry_job_expires_only_stale_rows(prop, book):
    from tests.factories import PropertyFactory

    stale = book(prop, start=10, nights=2, at=timezone.now() - timedelta(hours=1))
    fresh = book(PropertyFactory(), start=10, nights=2)

    assert services.expire_stale_bookings() == 1
    assert services.expire_stale_bookings() == 0

    stale.refresh_from_db()
    fresh.refresh_from_db()
    assert (stale.status, fresh.status) == (S.EXPIRED, S.RESERVED)


def test_audit_rows_are_immutable(prop, book):
    from core.models import ImmutableRowError

    event = book(prop).events.get()
    event.reason = "rewritten"
    with pytest.raises(ImmutableRowError):
        event.save()
    with pytest.raises(ImmutableRowError):
        event.delete()
    # Nor in bulk: a queryset cannot update or delete them either.
    with pytest.raises(ImmutableRowError):
        BookingEvent.objects.filter(pk=event.pk).update(reason="rewritten")
    with pytest.raises(ImmutableRowError):
        BookingEvent.objects.filter(pk=event.pk).delete()
    assert BookingEvent.objects.get(pk=event.pk).reason != "rewritten"


def test_exclusion_constraint_is_the_last_line(prop, book):
    """Even a write that skips the service's check cannot double-book on PostgreSQL."""
    from django.db import IntegrityError, transaction

    first = book(prop, start=10, nights=3)
    with pytest.raises(IntegrityError), transaction.atomic():
        Booking.objects.create(property=prop, reference="PMS-TEST-XXXXX", check_in=first.check_in,
                               check_out=first.check_out, status=S.CONFIRMED, currency="EUR")


def test_the_exclusion_constraint_forbids_overlaps_within_a_lane_and_keeps_our_sales_in_lane_0(prop, book):
    """An overbooked channel stay may share nights with lane 0, never with another stay of its own lane; and
    nothing of ours can be written outside lane 0 (booking_lane_channel_only), so our sales keep the guarantee."""
    from django.db import IntegrityError, transaction

    first = book(prop, start=10, nights=3)
    dates = {"property": prop, "check_in": first.check_in, "check_out": first.check_out, "status": S.CONFIRMED,
             "currency": "EUR", "source": "airbnb"}
    Booking.objects.create(reference="LANE-1-A", external_id="A", overbooking_lane=1, **dates)
    with pytest.raises(IntegrityError), transaction.atomic():
        Booking.objects.create(reference="LANE-1-B", external_id="B", overbooking_lane=1, **dates)
    with pytest.raises(IntegrityError), transaction.atomic():
        Booking.objects.create(reference="DIRECT-2", overbooking_lane=2, **{**dates, "source": "direct"})
    Booking.objects.create(reference="LANE-2-C", external_id="C", overbooking_lane=2, **dates)


def test_every_audit_row_has_one_format_with_its_cause(prop, book, client):
    """Bookings, card payments and manual payments share core.models.AuditRow: who (kind, user, label), when,
    from, to, why, and the request or task that caused it."""
    from core.context import caused_by
    from core.models import AuditRow
    from payments.models import ManualPaymentEvent, PaymentEvent

    for model in (BookingEvent, PaymentEvent, ManualPaymentEvent):
        assert issubclass(model, AuditRow)
        names = {f.name for f in model._meta.get_fields()}
        assert {"from_status", "to_status", "actor_type", "actor_user", "actor_label", "reason", "cause",
                "created_at"} <= names
    with caused_by("task bookings.tasks.expire_stale_bookings 42"):
        booking = book(prop)
    assert booking.events.get().cause == "task bookings.tasks.expire_stale_bookings 42"
    assert book(prop, start=30).events.get().cause == ""  # outside a request or task: no cause


def test_a_request_id_comes_back_and_its_cause_ends_with_it(prop, client):
    from core.context import current_cause

    response = client.get("/", HTTP_X_REQUEST_ID="abc-123")
    assert response["X-Request-ID"] == "abc-123"
    forged = client.get("/", HTTP_X_REQUEST_ID="<script>")
    assert forged["X-Request-ID"] != "<script>" and len(forged["X-Request-ID"]) == 32  # a new id instead
    assert current_cause() == ""  # the request's cause does not leak past it


def test_a_celery_task_is_the_cause_of_what_it_writes(prop):
    from bookings.tasks import expire_stale_bookings
    from core.context import current_cause

    stale = services.hold(property_id=prop.pk, check_in=future(10), check_out=future(13), adults=2,
                          actor=Actor.system("test"), at=timezone.now() - timedelta(hours=2))
    result = expire_stale_bookings.apply()  # runs in this process, with Celery's task signals
    assert result.get() == 1
    expired = stale.events.get(to_status=S.EXPIRED)
    assert expired.cause.startswith("task bookings.tasks.expire_stale_bookings ") and result.id in expired.cause
    assert current_cause() == ""  # the worker's next task starts without it
