"""The named status groups (``bookings.models``, beside ``BookingStatus``) agree with the transition table.

They are written once and used everywhere; these tests derive each one from ``TRANSITIONS`` (or from the
lifecycle) independently, so a change to the table that a group does not follow fails here."""

from __future__ import annotations

from bookings.models import (
    CALLED_OFF_STATUSES,
    CANCELLABLE_STATUSES,
    CONFIRMABLE_BY_PAYMENT_STATUSES,
    CONFIRMATION_RESEND_STATUSES,
    CONFIRMED_STATUSES,
    EXPIRING_STATUSES,
    OCCUPYING_STATUSES,
    BookingStatus,
)
from bookings.state_machine import INITIAL_STATUSES, TRANSITIONS

S = BookingStatus


def sources_of(target: str) -> set[str]:
    return {status for status, targets in TRANSITIONS.items() if target in targets}


def reachable_from(start: str, *, avoiding: set[str]) -> set[str]:
    seen, todo = {start}, [start]
    while todo:
        for nxt in TRANSITIONS[todo.pop()] - avoiding:
            if nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    return seen


def test_cancellable_means_the_table_allows_cancelled():
    assert set(CANCELLABLE_STATUSES) == sources_of(S.CANCELLED) == {S.INQUIRY, S.RESERVED, S.CONFIRMED}


def test_a_payment_confirms_exactly_the_table_sources_of_confirmed():
    assert set(CONFIRMABLE_BY_PAYMENT_STATUSES) == sources_of(S.CONFIRMED) == {S.RESERVED, S.EXPIRED}


def test_confirmed_means_confirmed_and_every_step_of_the_stay_after_it():
    assert set(CONFIRMED_STATUSES) == reachable_from(S.CONFIRMED, avoiding={S.CANCELLED})
    assert set(CONFIRMED_STATUSES) == {S.CONFIRMED, S.CHECKED_IN, S.CHECKED_OUT}
    assert set(CONFIRMED_STATUSES) <= set(OCCUPYING_STATUSES)


def test_called_off_bookings_hold_no_nights_and_end_there_bar_a_late_payment():
    assert set(CALLED_OFF_STATUSES) == {S.CANCELLED, S.EXPIRED, S.RELEASED}
    assert not set(CALLED_OFF_STATUSES) & set(OCCUPYING_STATUSES)
    for status in CALLED_OFF_STATUSES:
        assert TRANSITIONS[status] <= {S.CONFIRMED}, status
    # Every status is either occupying, called off, or an inquiry (which never holds nights).
    assert set(OCCUPYING_STATUSES) | set(CALLED_OFF_STATUSES) | {S.INQUIRY} == set(S.values)


def test_expiring_statuses_are_the_occupying_ones_that_can_expire():
    assert set(EXPIRING_STATUSES) == sources_of(S.EXPIRED) == {S.HELD, S.RESERVED}
    assert set(EXPIRING_STATUSES) <= set(OCCUPYING_STATUSES)


def test_a_confirmation_is_resent_only_for_a_confirmed_stay_not_yet_over():
    assert set(CONFIRMATION_RESEND_STATUSES) == set(CONFIRMED_STATUSES) - {S.CHECKED_OUT}


def test_groups_hold_real_statuses_and_initial_statuses_are_known():
    for group in (OCCUPYING_STATUSES, EXPIRING_STATUSES, CONFIRMED_STATUSES, CANCELLABLE_STATUSES,
                  CONFIRMABLE_BY_PAYMENT_STATUSES, CALLED_OFF_STATUSES, CONFIRMATION_RESEND_STATUSES):
        assert set(group) <= set(S.values)
        assert len(set(group)) == len(group)
    assert set(S.values) >= INITIAL_STATUSES


def test_new_booking_emails_go_for_every_initial_status_but_a_hold():
    from bookings.notifications import NEW_BOOKING_STATUSES

    assert set(NEW_BOOKING_STATUSES) == INITIAL_STATUSES - {S.HELD}
