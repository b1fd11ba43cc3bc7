"""Invariant 4: every (from, to) pair of statuses, legal and illegal, through the one transition function."""

from __future__ import annotations

import itertools
from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone

from bookings import services
from bookings.errors import InvalidTransition, StayRuleViolation
from bookings.models import Booking, BookingEvent, BookingStatus
from bookings.state_machine import TRANSITIONS, apply_transition, can_transition
from core.actor import Actor, ActorType
from core.models import OutboxEvent
from tests.factories import GuestFactory, PropertyFactory, UserFactory, future

pytestmark = pytest.mark.django_db
S = BookingStatus
ALL = [s.value for s in S]
PAIRS = list(itertools.product(ALL, ALL))
LEGAL = [(a, b) for a, b in PAIRS if b in TRANSITIONS[a]]
ILLEGAL = [(a, b) for a, b in PAIRS if b not in TRANSITIONS[a]]

# The lifecycle of DESIGN.md, written out independently of the table it checks.
EXPECTED_LEGAL = {
    (S.INQUIRY, S.RESERVED), (S.INQUIRY, S.CANCELLED),
    (S.HELD, S.RESERVED), (S.HELD, S.RELEASED), (S.HELD, S.EXPIRED),
    (S.RESERVED, S.CONFIRMED), (S.RESERVED, S.CANCELLED), (S.RESERVED, S.EXPIRED),
    (S.CONFIRMED, S.CHECKED_IN), (S.CONFIRMED, S.CANCELLED),
    (S.CHECKED_IN, S.CHECKED_OUT),
    (S.EXPIRED, S.CONFIRMED),  # a late payment, only through services.confirm_late_payment
}  # fmt: skip
ENDING = {S.CANCELLED, S.EXPIRED, S.RELEASED}


def make_booking(status: str) -> Booking:
    """A booking row in ``status`` (test setup only: production rows come from bookings.services)."""
    prop = PropertyFactory()
    expires = timezone.now() + timedelta(minutes=30) if status in (S.HELD, S.RESERVED) else None
    return Booking.objects.create(
        reference=f"PMS-TEST-{status[:5].upper()}", property=prop, guest=GuestFactory(), check_in=future(10),
        check_out=future(13), status=status, currency="EUR", expires_at=expires,
    )


def snapshot(booking: Booking):
    row = Booking.objects.get(pk=booking.pk)
    return (row.status, row.updated_at, row.expires_at, BookingEvent.objects.count(), OutboxEvent.objects.count())


def test_the_table_is_the_documented_lifecycle():
    assert set(LEGAL) == {(str(a), str(b)) for a, b in EXPECTED_LEGAL}
    assert set(TRANSITIONS) == set(ALL)
    for status in (ENDING - {S.EXPIRED}) | {S.CHECKED_OUT}:
        assert TRANSITIONS[status] == frozenset(), f"{status} must be final"
    assert TRANSITIONS[S.EXPIRED] == frozenset({S.CONFIRMED}), "expired revives only by a late payment"
    assert not any(a == b for a, b in LEGAL), "no self transitions"


@pytest.mark.sqlite
@pytest.mark.parametrize(("from_status", "to_status"), LEGAL)
def test_legal_transition_applies_and_writes_exactly_one_audit_row(from_status, to_status):
    booking = make_booking(from_status)
    expires_before = booking.expires_at
    user = UserFactory()
    events_before = BookingEvent.objects.count()
    outbox_before = OutboxEvent.objects.count()
    at = timezone.now().replace(microsecond=0)

    with transaction.atomic():
        result = apply_transition(booking, to_status, Actor.for_user(user), "because", at=at)

    row = Booking.objects.get(pk=booking.pk)
    assert result.status == row.status == to_status
    assert getattr(row, f"{to_status}_at") == at
    assert BookingEvent.objects.count() == events_before + 1
    event = BookingEvent.objects.get(booking=booking)
    assert (event.from_status, event.to_status) == (from_status, to_status)
    assert (event.actor_type, event.actor_user_id, event.actor_label) == (ActorType.USER, user.pk, user.email)
    assert event.reason == "because" and event.created_at == at
    # Holding statuses keep their deadline (the service sets it); every other status clears it.
    if to_status in (S.HELD, S.RESERVED):
        assert row.expires_at == expires_before
    else:
        assert row.expires_at is None
    assert OutboxEvent.objects.count() == outbox_before + 1
    out = OutboxEvent.objects.get()
    assert out.topic == ("booking.cancelled" if to_status in ENDING else "booking.updated")
    assert out.payload["status"] == to_status and out.aggregate_id == str(booking.pk)


@pytest.mark.sqlite
@pytest.mark.parametrize(("from_status", "to_status"), ILLEGAL)
def test_illegal_transition_raises_and_changes_nothing(from_status, to_status):
    booking = make_booking(from_status)
    before = snapshot(booking)

    with pytest.raises(InvalidTransition) as exc, transaction.atomic():
        apply_transition(booking, to_status, Actor.system("test"), "nope")

    assert exc.value.code == "invalid_transition" and exc.value.http_status == 409
    assert (exc.value.from_status, exc.value.to_status) == (from_status, to_status)
    assert from_status in exc.value.detail and to_status in exc.value.detail
    assert booking.status == from_status  # not even the in-memory object changed
    assert snapshot(booking) == before


def test_can_transition_agrees_with_the_table():
    for a, b in PAIRS:
        assert can_transition(a, b) == ((a, b) in set(LEGAL))
    assert not can_transition("nonsense", S.CONFIRMED)
    assert not can_transition(S.RESERVED, "nonsense")


@pytest.mark.parametrize(
    ("actor", "expected"),
    [
        (Actor.system("expiry"), (ActorType.SYSTEM, "expiry")),
        (Actor.guest("g@example.com"), (ActorType.GUEST, "g@example.com")),
        (Actor.channel("airbnb"), (ActorType.CHANNEL, "airbnb")),
        (Actor.api(None, "client-1"), (ActorType.API, "client-1")),
    ],
)
def test_every_kind_of_actor_is_recorded(actor, expected):
    booking = make_booking(S.RESERVED)
    with transaction.atomic():
        apply_transition(booking, S.CONFIRMED, actor)
    event = booking.events.get()
    assert (event.actor_type, event.actor_label) == expected
    assert event.actor_user_id is None


# --- The services refuse illegal moves without side effects ------------------------------------------------


@pytest.mark.parametrize("status", [S.CANCELLED, S.EXPIRED, S.RELEASED, S.CHECKED_OUT, S.CHECKED_IN])
def test_confirm_and_cancel_refuse_final_or_late_statuses(status):
    booking = make_booking(status)
    before = snapshot(booking)
    for call in (
        lambda: services.confirm(booking_id=booking.pk, actor=Actor.system()),
        lambda: services.cancel(booking_id=booking.pk, actor=Actor.system(), reason="x"),
    ):
        with pytest.raises(InvalidTransition):
            call()
    row = Booking.objects.get(pk=booking.pk)
    assert row.cancellation_reason == ""  # the reason set before the refused transition was not saved
    assert snapshot(booking) == before


def test_check_out_before_check_in_is_refused():
    booking = make_booking(S.CONFIRMED)
    before = snapshot(booking)
    with pytest.raises(InvalidTransition):
        services.check_out(booking_id=booking.pk, actor=Actor.system())
    assert snapshot(booking) == before


def test_expire_is_a_no_op_for_live_or_final_bookings():
    live = make_booking(S.RESERVED)
    confirmed = make_booking(S.CONFIRMED)
    before = snapshot(live), snapshot(confirmed)

    services.expire(booking_id=live.pk)
    services.expire(booking_id=confirmed.pk, at=timezone.now() + timedelta(days=1))

    assert (snapshot(live), snapshot(confirmed)) == before


def test_a_sequence_leaves_one_audit_row_per_change_in_order():
    booking = make_booking(S.HELD)
    with transaction.atomic():
        for to in (S.RESERVED, S.CONFIRMED, S.CHECKED_IN, S.CHECKED_OUT):
            apply_transition(booking, to, Actor.system())
    assert list(booking.events.values_list("from_status", "to_status")) == [
        (S.HELD, S.RESERVED), (S.RESERVED, S.CONFIRMED), (S.CONFIRMED, S.CHECKED_IN), (S.CHECKED_IN, S.CHECKED_OUT),
    ]
    with pytest.raises(InvalidTransition):
        apply_transition(booking, S.CANCELLED, Actor.system())
    assert booking.events.count() == 4


# --- Through the services --------------------------------------------------------------------------------------


@pytest.mark.sqlite
def test_converting_a_hold_stores_the_reservations_own_deadline():
    """held → reserved: the row must carry the reservation's deadline, not the hold's shorter one."""
    from django.conf import settings

    from guests.services import GuestInput

    prop = PropertyFactory()
    now = timezone.now()
    held = services.hold(property_id=prop.pk, check_in=future(10), check_out=future(13), adults=2,
                         actor=Actor.system(), minutes=1, at=now)
    booking = services.reserve(property_id=prop.pk, check_in=future(10), check_out=future(13), adults=2,
                               guest=GuestInput(name="Ada", email="ada@example.com"), actor=Actor.system(),
                               hold_id=held.pk, at=now)

    row = Booking.objects.get(pk=booking.pk)
    expected = now + timedelta(minutes=settings.BOOKING_HOLD_MINUTES)
    assert booking.expires_at == expected
    assert row.expires_at == expected  # saved, not only set in memory
    assert row.is_occupying(now + timedelta(minutes=2))  # the hold's own minute is long gone


def test_converting_a_hold_with_overridden_rules_is_audited():
    """An owner's override of the stay rules is recorded whether or not the booking started as a hold."""
    from guests.services import GuestInput

    prop = PropertyFactory(min_stay=1)
    held = services.hold(property_id=prop.pk, check_in=future(10), check_out=future(12), adults=1,
                         actor=Actor.system())
    prop.min_stay = 5  # the owner tightened the rules while the guest was typing
    prop.save()
    with pytest.raises(StayRuleViolation):
        services.reserve(property_id=prop.pk, check_in=future(10), check_out=future(12), adults=1,
                         guest=GuestInput(name="Ada", email="ada@example.com"), actor=Actor.system(), hold_id=held.pk)
    booking = services.reserve(property_id=prop.pk, check_in=future(10), check_out=future(12), adults=1,
                               guest=GuestInput(name="Ada", email="ada@example.com"), actor=Actor.system(),
                               hold_id=held.pk, override_rules=True, override_reason="Agreed on the phone")

    row = Booking.objects.get(pk=booking.pk)
    assert row.status == S.RESERVED
    assert row.rules_overridden is True
    assert "Agreed on the phone" in row.events.last().reason


def test_check_in_before_the_arrival_date_is_refused():
    from bookings.errors import BookingError
    from guests.services import GuestInput

    prop = PropertyFactory()
    booking = services.reserve(property_id=prop.pk, check_in=future(2), check_out=future(4), adults=1,
                               guest=GuestInput(name="A", email="a@example.com"), actor=Actor.system())
    services.confirm(booking_id=booking.pk, actor=Actor.system())
    before = snapshot(booking)
    with pytest.raises(BookingError):
        services.check_in(booking_id=booking.pk, actor=Actor.system())
    assert snapshot(booking) == before
    arrival = timezone.now() + timedelta(days=2)
    assert services.check_in(booking_id=booking.pk, actor=Actor.system(), at=arrival).status == S.CHECKED_IN


def test_a_late_payment_confirms_an_unmarked_reservation_but_not_an_expired_one():
    from guests.services import GuestInput

    prop = PropertyFactory()
    guest = GuestInput(name="A", email="a@example.com")
    late = timezone.now() - timedelta(hours=2)
    unmarked = services.reserve(property_id=prop.pk, check_in=future(10), check_out=future(12), adults=1,
                                guest=guest, actor=Actor.system(), at=late)
    marked = services.reserve(property_id=prop.pk, check_in=future(20), check_out=future(22), adults=1,
                              guest=guest, actor=Actor.system(), at=late)
    services.expire(booking_id=marked.pk)

    confirmed = services.confirm(booking_id=unmarked.pk, actor=Actor.system())
    assert confirmed.status == S.CONFIRMED and Booking.objects.get(pk=unmarked.pk).expires_at is None
    assert confirmed.is_occupying()
    with pytest.raises(InvalidTransition):
        services.confirm(booking_id=marked.pk, actor=Actor.system())
    assert Booking.objects.get(pk=marked.pk).status == S.EXPIRED


def test_releasing_a_reservation_or_a_released_hold_is_refused():
    from bookings.errors import HoldMismatch

    prop = PropertyFactory()
    held = services.hold(property_id=prop.pk, check_in=future(10), check_out=future(12), adults=1,
                         actor=Actor.system())
    services.release_hold(hold_id=held.pk, actor=Actor.system())
    before = snapshot(held)
    with pytest.raises(HoldMismatch):
        services.release_hold(hold_id=held.pk, actor=Actor.system())
    assert snapshot(held) == before
