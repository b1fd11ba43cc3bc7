"""The webhook and the return path applying one succeeded group intent at the same moment, on real parallel
connections: each booking is paid and confirmed once (the property locks, ascending, serialize them)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from bookings import services as booking_services
from bookings.models import BookingEvent, BookingStatus
from bookings.services import GroupStay
from core.actor import Actor
from guests.services import GuestInput
from payments import groups
from payments.models import Payment, PaymentEvent, PaymentStatus
from tests.factories import PropertyFactory, future
from tests.parallel import run_in_parallel
from tests.payments.conftest import THREE_DS, intent_dict

pytestmark = pytest.mark.django_db(transaction=True)
GUEST = Actor.guest("ada@example.com")


def test_webhook_and_return_path_at_once_apply_the_intent_once(card, authenticate):
    a, b = PropertyFactory(), PropertyFactory(base_price=Decimal("150.00"))
    group = booking_services.reserve_group(stays=[GroupStay(b.pk, future(30), future(33), 2),
                                                  GroupStay(a.pk, future(30), future(32), 2)],
                                           guest=GuestInput(name="Ada", email="ada@example.com"), actor=GUEST)
    result = groups.start_group_card_payment(group_id=group.pk, actor=GUEST,
                                             payment_method_id=card(group.bookings.first(), THREE_DS))
    authenticate(result.client_secret, success=True)
    ref = Payment.objects.filter(booking__group=group).first().group_intent
    intent = groups.intent_data(intent_dict(ref))

    outcomes = run_in_parallel([lambda: groups.apply_group_intent(intent, actor_label="webhook"),
                                lambda: groups.sync_group_from_provider(group_id=group.pk),
                                lambda: groups.apply_group_intent(intent, actor_label="webhook again")])

    assert all(kind == "ok" for kind, _ in outcomes), outcomes
    for booking in group.bookings.all():
        assert booking.status == BookingStatus.CONFIRMED and booking.amount_paid == booking.total
        assert BookingEvent.objects.filter(booking=booking, from_status="reserved", to_status="confirmed").count() == 1
    rows = Payment.objects.filter(booking__group=group)
    assert set(rows.values_list("status", flat=True)) == {PaymentStatus.SUCCEEDED}
    assert PaymentEvent.objects.filter(payment__in=rows, to_status="succeeded").count() == 2
