"""Cancel all, paid with one card payment: each booking refunded under its own policy snapshot, against the shared
intent, and a booking already checked in is skipped and reported (payments.groups.cancel_group)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.utils import timezone

from bookings import services as booking_services
from bookings.models import Booking, BookingStatus
from bookings.services import GroupStay
from core.actor import Actor
from payments import groups
from payments.models import Refund, RefundStatus
from tests.factories import PropertyFactory, future
from tests.payments.conftest import VISA

pytestmark = pytest.mark.django_db
GUEST = Actor.guest("ada@example.com")


def test_cancel_all_refunds_each_under_its_policy_and_skips_a_checked_in_one(guest_input, card, run_on_commit):
    flexible = PropertyFactory(cancellation_policy="flexible")
    strict = PropertyFactory(cancellation_policy="strict", base_price=Decimal("200.00"))
    started = PropertyFactory()
    group = booking_services.reserve_group(stays=[
        GroupStay(flexible.pk, future(40), future(43), 2), GroupStay(strict.pk, future(40), future(43), 2),
        GroupStay(started.pk, future(40), future(43), 2)], guest=guest_input, actor=GUEST)
    first = group.bookings.order_by("pk").first()
    groups.start_group_card_payment(group_id=group.pk, payment_method_id=card(first, VISA), actor=GUEST)
    flex_b, strict_b, started_b = group.bookings.order_by("pk")
    # The third stay has begun: moved to today and checked in (as the owner would).
    Booking.objects.filter(pk=started_b.pk).update(check_in=timezone.localdate(), check_out=future(3))
    booking_services.check_in(booking_id=started_b.pk, actor=Actor.system("owner"))
    expected = {b.reference: groups.services.refund_quote(b).amount for b in (flex_b, strict_b)}

    with run_on_commit():
        result = groups.cancel_group(group_id=group.pk, actor=GUEST, reason="Trip off", expected_refunds=expected)

    assert [r.booking.pk for r in result.cancelled] == [flex_b.pk, strict_b.pk]
    assert [b.pk for b, _why in result.skipped] == [started_b.pk]
    flex_b.refresh_from_db()
    strict_b.refresh_from_db()
    started_b.refresh_from_db()
    assert flex_b.status == strict_b.status == BookingStatus.CANCELLED
    assert started_b.status == BookingStatus.CHECKED_IN
    assert flex_b.amount_refunded == expected[flex_b.reference]
    assert strict_b.amount_refunded == expected[strict_b.reference]
    assert result.refunded == sum(expected.values())
    sent = Refund.objects.filter(payment__booking__group=group)
    assert all(r.status == RefundStatus.SUCCEEDED and r.provider_ref for r in sent)
