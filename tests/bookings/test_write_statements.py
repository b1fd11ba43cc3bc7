"""``reserve()`` on PostgreSQL in three statements (``bookings.statements``, docs/performance-writes.md): the same
rows as the ORM path, the same guest rules, the same errors, and the statement budget (issue 16: at most 6 per
booking, counting the transaction's BEGIN and COMMIT)."""

from __future__ import annotations

import types
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.forms.models import model_to_dict
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from bookings import services, statements
from bookings.errors import DatesUnavailable, PropertyUnavailable, StayRuleViolation
from bookings.models import Booking, BookingEvent, BookingStatus
from bookings.state_machine import booking_payload
from core.actor import Actor
from core.models import OutboxEvent
from guests.models import Guest
from guests.services import GUEST_ATTNAMES, GuestInput
from tests.factories import DateOverrideFactory, PricingRuleFactory, PropertyFactory, UserFactory, future

pytestmark = [pytest.mark.django_db,
              pytest.mark.skipif("connection.vendor != 'postgresql'", reason="the statements are PostgreSQL's")]
SYSTEM = Actor.system("test")
ADA = GuestInput(name="Ada Lovelace", email="ada@example.com", phone="+44 20 7946 0000", country="GB")


def reserve(prop, start=10, nights=3, **kwargs):
    kwargs.setdefault("adults", 2)
    kwargs.setdefault("guest", ADA)
    kwargs.setdefault("actor", SYSTEM)
    return services.reserve(property_id=prop.pk, check_in=future(start), check_out=future(start + nights), **kwargs)


@pytest.fixture
def orm_path(monkeypatch):
    """Run reserve() through the ORM path (the one SQLite and hold conversions take)."""
    monkeypatch.setattr(services, "connection", types.SimpleNamespace(vendor="orm-path"))


def test_reserve_sends_at_most_six_statements_counting_begin_and_commit():
    prop = PropertyFactory()
    PricingRuleFactory(property=prop)
    DateOverrideFactory(property=prop, start_date=future(40), end_date=future(50), nightly_price=Decimal("150"))
    reserve(prop, start=10)
    with CaptureQueriesContext(connection) as ctx:
        reserve(prop, start=20)
    sql = [q["sql"] for q in ctx.captured_queries]
    # In a test the transaction is the test's: reserve()'s own is a SAVEPOINT … RELEASE in place of BEGIN … COMMIT.
    assert sql[0].startswith("SAVEPOINT") and sql[-1].startswith("RELEASE SAVEPOINT")
    assert len(sql) <= 6, "\n".join(sql)
    assert len(sql) == 5
    assert sql[1].endswith("FOR UPDATE")
    assert sum("INSERT INTO" in s for s in sql) == 1  # guest, booking, audit row and outbox event: one statement


def test_the_rows_written_are_the_ones_the_orm_path_writes(monkeypatch):
    prop = PropertyFactory(cleaning_fee=Decimal("40.00"), tax_rate=Decimal("7.5"))
    PricingRuleFactory(property=prop, kind="weekend", value=Decimal("20"))
    user = UserFactory()
    # the same weekdays two weeks apart: the same price
    fast = reserve(prop, start=10, nights=4, actor=Actor.for_user(user), special_requests="Late arrival",
                   referral="", language="de")
    monkeypatch.setattr(services, "connection", types.SimpleNamespace(vendor="orm-path"))
    slow = reserve(prop, start=24, nights=4, actor=Actor.for_user(user), special_requests="Late arrival",
                   referral="", language="de")

    volatile = {"id", "reference", "check_in", "check_out", "quote", "expires_at", "reserved_at", "guest"}

    def row(b):
        return {k: v for k, v in model_to_dict(Booking.objects.get(pk=b.pk)).items() if k not in volatile}

    assert row(fast) == row(slow)
    stored = Booking.objects.get(pk=fast.pk)
    assert stored.quote == fast.quote and stored.total == fast.total and stored.expires_at == fast.expires_at
    assert stored.guest_id == slow.guest_id == fast.guest.pk  # the same returning guest
    events = {b.pk: BookingEvent.objects.get(booking=b) for b in (fast, slow)}
    assert [(e.from_status, e.to_status, e.actor_type, e.actor_user_id, e.actor_label, e.reason)
            for e in events.values()] == [("", BookingStatus.RESERVED, "user", user.pk, user.email,
                                           "Reservation created.")] * 2
    outbox = OutboxEvent.objects.get(topic="booking.created", aggregate_id=str(fast.pk))
    assert outbox.aggregate_type == "booking"
    assert outbox.payload == booking_payload(stored)
    assert outbox.delivered_at is None and outbox.attempts == 0


def test_the_instance_returned_is_the_stored_booking():
    prop = PropertyFactory()
    booking = reserve(prop)
    assert booking.pk is not None and not booking._state.adding
    assert isinstance(booking.guest, Guest) and booking.guest.email == "ada@example.com"
    stored = Booking.objects.get(pk=booking.pk)
    for field in Booking._meta.concrete_fields:
        assert getattr(stored, field.attname) == getattr(booking, field.attname), field.name


@pytest.mark.parametrize("path", ["statements", "orm"])
@pytest.mark.parametrize("second, same_guest, name, phone, country", [
    (ADA, True, "Ada Lovelace", "+44 20 7946 0000", "GB"),
    (GuestInput(name=" Ada Lovelace ", email=" ADA@example.com ", phone="+351 21 000", country="pt"), True,
     "Ada Lovelace", "+351 21 000", "PT"),
    (GuestInput(name="Ada Lovelace", email="ada@example.com"), True, "Ada Lovelace", "+44 20 7946 0000", "GB"),
    (GuestInput(name="Someone Else", email="ada@example.com"), False, "Someone Else", "", ""),
    (GuestInput(name="", email="ada@example.com"), False, "ada@example.com", "", ""),
    (GuestInput(name="Ada Lovelace", email=""), False, "Ada Lovelace", "", ""),
])
def test_the_guest_is_found_or_created_as_find_or_create_guest_does(path, second, same_guest, name, phone, country,
                                                                     request):
    """The same expectations hold for both paths: the statements' guest CTE is find_or_create_guest."""
    if path == "orm":
        request.getfixturevalue("orm_path")
    prop = PropertyFactory()
    first = reserve(prop, start=10)
    booking = reserve(prop, start=20, guest=second)
    guest = Guest.objects.get(pk=booking.guest_id)
    assert (guest.pk == first.guest_id, guest.name, guest.phone, guest.country) == (same_guest, name, phone,
                                                                                    country)
    assert booking.guest.pk == guest.pk and booking.guest.phone == guest.phone


def test_the_statements_stay_within_psycopgs_parse_cache():
    """psycopg parses a statement once per process when it is at most 4 KB (MAX_CACHED_STATEMENT_LENGTH)."""
    from psycopg._queries import MAX_CACHED_STATEMENT_LENGTH

    for sql in (statements._insert_sql("default")[0], statements._read_sql("default")[0]):
        assert len(sql.encode()) <= MAX_CACHED_STATEMENT_LENGTH


def test_guest_columns_are_the_models():
    assert tuple(f.attname for f in Guest._meta.concrete_fields) == GUEST_ATTNAMES


def test_stale_holds_are_expired_under_the_lock_before_the_check():
    prop = PropertyFactory()
    held = services.hold(property_id=prop.pk, check_in=future(10), check_out=future(13), adults=2, actor=SYSTEM)
    later = timezone.now() + timedelta(minutes=20)
    booking = reserve(prop, start=10, at=later)
    held.refresh_from_db()
    assert held.status == BookingStatus.EXPIRED
    assert BookingEvent.objects.filter(booking=held, to_status=BookingStatus.EXPIRED).count() == 1
    assert booking.status == BookingStatus.RESERVED


def test_a_taken_reference_is_drawn_again_without_a_second_guest(monkeypatch):
    prop = PropertyFactory()
    taken = reserve(prop, start=10)
    codes = iter([taken.reference, "PMS-2099-FRESH"])
    monkeypatch.setattr(services, "new_reference", lambda year=None: next(codes))
    guests_before = Guest.objects.count()
    booking = reserve(prop, start=20, guest=GuestInput(name="New Person", email="new@example.com"))
    assert booking.reference == "PMS-2099-FRESH"
    assert Guest.objects.count() == guests_before + 1
    assert BookingEvent.objects.filter(booking=booking).count() == 1


def test_the_exclusion_constraint_is_still_the_last_line(monkeypatch):
    """A check that let an overlap through (here: told there is nothing nearby) meets the constraint:
    DatesUnavailable, and nothing of the statement is left (no guest, no audit row, no event)."""
    prop = PropertyFactory()
    reserve(prop, start=10)
    real = statements.lock_and_read

    def blind(*args, **kwargs):
        read = real(*args, **kwargs)
        read.nearby = []
        return read

    monkeypatch.setattr(statements, "lock_and_read", blind)
    before = (Booking.objects.count(), Guest.objects.count(), BookingEvent.objects.count(),
              OutboxEvent.objects.count())
    with pytest.raises(DatesUnavailable):
        reserve(prop, start=11, guest=GuestInput(name="Someone", email="someone@example.com"))
    assert (Booking.objects.count(), Guest.objects.count(), BookingEvent.objects.count(),
            OutboxEvent.objects.count()) == before


def test_rules_blocks_and_missing_properties_answer_as_before():
    prop = PropertyFactory(min_stay=3)
    with pytest.raises(StayRuleViolation):
        reserve(prop, start=10, nights=2)
    DateOverrideFactory(property=prop, start_date=future(30), end_date=future(40), min_stay=5)
    with pytest.raises(StayRuleViolation):
        reserve(prop, start=31, nights=4)  # the override read in the same statement applies
    with pytest.raises(PropertyUnavailable):
        services.reserve(property_id=10**9, check_in=future(10), check_out=future(13), adults=2, guest=ADA,
                         actor=SYSTEM)
