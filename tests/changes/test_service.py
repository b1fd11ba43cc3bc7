"""``bookings.services.change_booking`` through ``payments.changes.change_with_payment``: who may change what,
availability leaving the booking's own nights out, stay rules and their override, the audit row and the event."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import IntegrityError

from bookings import changes as change_rules
from bookings import services
from bookings.errors import (
    BookingError,
    ChangeNotAllowed,
    ChangeOnChannel,
    ChangePriceChanged,
    DatesUnavailable,
    StayRuleViolation,
)
from bookings.models import Booking, BookingEvent
from core.actor import Actor
from core.models import OutboxEvent
from guests.services import GuestInput
from payments.changes import change_quote
from tests.factories import BlockFactory, PropertyFactory, future

pytestmark = pytest.mark.django_db


def events(booking):
    return list(BookingEvent.objects.filter(booking=booking).order_by("pk"))


def last_event(booking) -> OutboxEvent:
    return OutboxEvent.objects.filter(aggregate_id=str(booking.pk), topic="booking.updated").order_by("pk").last()


def test_a_move_keeps_the_length_and_price_and_says_old_and_new(prop, book, change):
    booking = book(prop, start=10, nights=3)
    result = change(booking, check_in=future(20), check_out=future(23))
    booking.refresh_from_db()
    assert (booking.check_in, booking.check_out) == (future(20), future(23))
    assert booking.status == "reserved" and booking.total == Decimal("300.00")
    assert result.change.terms.difference == 0
    audit = events(booking)[-1]
    assert audit.from_status == audit.to_status == "reserved"
    assert f"{future(10)}–{future(13)}" in audit.reason and f"{future(20)}–{future(23)}" in audit.reason
    event = last_event(booking)
    assert event.payload["previous_check_in"] == future(10).isoformat()
    assert event.payload["previous_check_out"] == future(13).isoformat()
    assert event.payload["check_in"] == future(20).isoformat()
    assert event.payload["change"]["difference"] == "0.00"


def test_extending_re_quotes_on_the_server(prop, book, change):
    booking = book(prop, start=10, nights=3)
    change(booking, check_out=future(15))
    booking.refresh_from_db()
    assert booking.nights == 5 and booking.total == Decimal("500.00") and booking.balance_due == Decimal("500.00")
    assert len(booking.quote["nights"]) == 5


def test_shortening_an_unpaid_booking_only_lowers_its_balance(prop, book, change):
    booking = book(prop, start=10, nights=5)
    result = change(booking, check_out=future(12))
    booking.refresh_from_db()
    assert booking.total == Decimal("200.00") and result.refunds == [] and result.change.terms.refund == 0


def test_a_guest_count_change_is_priced(book, change):
    prop = PropertyFactory(extra_guest_fee=Decimal("20.00"), guests_included=2)
    booking = book(prop, start=10, nights=3, adults=2)
    result = change(booking, adults=3, children=1)
    booking.refresh_from_db()
    assert (booking.adults, booking.children) == (3, 1)
    assert booking.total == Decimal("300.00") + 3 * 2 * Decimal("20.00")
    assert result.change.terms.difference == Decimal("120.00")
    assert "previous_check_in" not in last_event(booking).payload  # the nights did not move


def test_the_bookings_own_nights_do_not_block_its_move(prop, book, change):
    booking = book(prop, start=10, nights=3)
    change(booking, check_in=future(11), check_out=future(14))
    booking.refresh_from_db()
    assert (booking.check_in, booking.check_out) == (future(11), future(14))


def test_another_booking_blocks_the_move_and_nothing_changes(prop, book, change, guest_input):
    booking = book(prop, start=10, nights=3)
    book(prop, start=20, nights=3, guest=GuestInput(name="Other", email="other@example.com"))
    before = len(events(booking))
    with pytest.raises(DatesUnavailable) as info:
        change(booking, check_in=future(19), check_out=future(22))
    assert "overlap" in {r.code for r in info.value.reasons}
    booking.refresh_from_db()
    assert (booking.check_in, booking.check_out) == (future(10), future(13)) and len(events(booking)) == before


def test_an_owner_block_blocks_the_move(prop, book, change):
    booking = book(prop, start=10, nights=3)
    BlockFactory(property=prop, start_date=future(30), end_date=future(32))
    with pytest.raises(DatesUnavailable):
        change(booking, check_in=future(31), check_out=future(34), override_rules=True, override_reason="phone")


def test_buffer_days_around_another_stay_block_even_with_an_override(book, change, guest_input):
    prop = PropertyFactory(buffer_days=2)
    booking = book(prop, start=10, nights=3)
    book(prop, start=30, nights=3, guest=GuestInput(name="Other", email="other@example.com"))
    with pytest.raises(DatesUnavailable):
        change(booking, check_in=future(26), check_out=future(29), override_rules=True, override_reason="phone")


def test_stay_rules_apply_unless_the_owner_overrides_them_with_a_reason(book, change):
    prop = PropertyFactory(min_stay=3)
    booking = book(prop, start=10, nights=3)
    with pytest.raises(StayRuleViolation):
        change(booking, check_out=future(12), by_guest=True)
    with pytest.raises(StayRuleViolation):
        change(booking, check_out=future(12))
    with pytest.raises(StayRuleViolation, match="reason"):
        change(booking, check_out=future(12), override_rules=True)
    with pytest.raises(StayRuleViolation, match="Only the owner"):
        change(booking, check_out=future(12), override_rules=True, override_reason="x", by_guest=True)
    change(booking, check_out=future(12), override_rules=True, override_reason="Guest leaves early, agreed")
    booking.refresh_from_db()
    assert booking.nights == 2 and booking.rules_overridden
    assert "Stay rules overridden: Guest leaves early, agreed" in events(booking)[-1].reason


def test_the_arrival_date_rules_are_not_asked_again_when_the_arrival_stays(book, change):
    prop = PropertyFactory(min_lead_days=5)
    booking = book(prop, start=10, nights=3)
    prop.min_lead_days = 20
    prop.save()
    change(booking, check_out=future(14), by_guest=True)  # same arrival: the lead time it met when sold holds
    with pytest.raises(StayRuleViolation):
        change(booking, check_in=future(11), check_out=future(14), by_guest=True)


def test_a_new_arrival_in_the_past_is_refused_even_with_an_override(prop, confirmed, change):
    booking = confirmed(prop, start=2, nights=3)
    with pytest.raises(StayRuleViolation):
        change(booking, check_in=future(-1), override_rules=True, override_reason="typo")


def test_a_channel_booking_is_refused_naming_its_platform(prop, change):
    imported = services.import_external(property_id=prop.pk, source="airbnb", external_id="HM123",
                                        check_in=future(10), check_out=future(13),
                                        guest=GuestInput(name="Air Guest", email="")).booking
    with pytest.raises(ChangeOnChannel) as info:
        change(imported, check_out=future(14))
    assert "Airbnb" in info.value.detail and info.value.code == "change_on_channel"
    assert info.value.http_status == 409


@pytest.mark.parametrize("end", ["cancel", "expire"])
def test_a_called_off_booking_is_refused(prop, book, change, end):
    booking = book(prop, start=10, nights=3)
    if end == "cancel":
        services.cancel(booking_id=booking.pk, actor=Actor.system("t"), reason="x")
    else:
        services.expire(booking_id=booking.pk, at=booking.expires_at + timedelta(seconds=1))
    with pytest.raises(ChangeNotAllowed):
        change(booking, check_out=future(14))


def test_a_reservation_whose_time_ran_out_is_refused(prop, book, change):
    booking = book(prop, start=10, nights=3)
    with pytest.raises(ChangeNotAllowed, match="expired"):
        change(booking, check_out=future(14), at=booking.expires_at + timedelta(seconds=1))


def test_a_guest_cannot_change_from_the_arrival_day_but_the_owner_can(prop, confirmed, change):
    booking = confirmed(prop, start=0, nights=3)
    with pytest.raises(ChangeNotAllowed, match="arrival day"):
        change(booking, check_out=future(4), by_guest=True)
    change(booking, check_out=future(4))
    booking.refresh_from_db()
    assert booking.check_out == future(4)


def test_the_property_switch_stops_guests_not_owners(book, change):
    prop = PropertyFactory(guests_may_change_bookings=False)
    booking = book(prop, start=10, nights=3)
    with pytest.raises(ChangeNotAllowed, match="owner"):
        change(booking, check_out=future(14), by_guest=True)
    change(booking, check_out=future(14))


def test_nothing_to_change_is_an_error(prop, book, change):
    booking = book(prop, start=10, nights=3)
    with pytest.raises(BookingError, match="Nothing to change"):
        change(booking, check_in=future(10))


@pytest.mark.parametrize("kwargs", [{"check_out": "ci"}, {"adults": 0}, {"children": -1}])
def test_a_shape_no_booking_can_have_is_refused(prop, book, change, kwargs):
    booking = book(prop, start=10, nights=3)
    if kwargs.get("check_out") == "ci":
        kwargs = {"check_out": future(10)}
    with pytest.raises(StayRuleViolation):
        change(booking, **kwargs)


def test_a_price_that_moved_since_it_was_shown_refuses_and_changes_nothing(prop, book, change):
    booking = book(prop, start=10, nights=3)
    shown = change_quote(booking, check_out=future(15), by_guest=True)
    assert shown.possible and shown.terms.difference == Decimal("200.00")
    prop.base_price = Decimal("120.00")
    prop.save()
    before = len(events(booking))
    with pytest.raises(ChangePriceChanged) as info:
        change(booking, check_out=future(15), by_guest=True, expected_difference=shown.terms.difference)
    assert info.value.difference == Decimal("300.00") and info.value.as_dict()["code"] == "change_price_changed"
    booking.refresh_from_db()
    assert booking.check_out == future(13) and booking.total == Decimal("300.00") and len(events(booking)) == before
    change(booking, check_out=future(15), by_guest=True, expected_difference=Decimal("300.00"))


def test_the_preview_says_why_not(prop, book):
    booking = book(prop, start=10, nights=3)
    BlockFactory(property=prop, start_date=future(13), end_date=future(15))
    preview = change_quote(booking, check_out=future(15), by_guest=True)
    assert not preview.possible and "blocked" in {r.code for r in preview.reasons}
    assert preview.terms.new_total == Decimal("500.00")  # still priced, as the API's quote does


def test_the_exclusion_constraint_is_the_last_line(prop, book, change, monkeypatch):
    """A writer that got past the availability check (as if it had skipped the lock) hits the constraint."""
    booking = book(prop, start=10, nights=3)
    book(prop, start=20, nights=3, guest=GuestInput(name="Other", email="other@example.com"))
    monkeypatch.setattr(services, "check_new_stay",
                        lambda *a, **k: change_rules.AvailabilityResult(True, []))
    with pytest.raises(DatesUnavailable):
        change(booking, check_in=future(21), check_out=future(24))
    booking.refresh_from_db()
    assert booking.check_in == future(10)


def test_integrity_errors_other_than_overlap_are_not_hidden(prop, book, change, monkeypatch):
    booking = book(prop, start=10, nights=3)

    def boom(*args, **kwargs):
        raise IntegrityError("something else")

    monkeypatch.setattr(Booking, "save", boom)
    with pytest.raises(IntegrityError):
        change(booking, check_out=future(14))
