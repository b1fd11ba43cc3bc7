"""One card payment for a group booking (payments.groups) against localstripe: one intent, one row per booking,
confirmation of every booking, idempotent webhooks and return path, declines, refunds of one share, mismatches."""

from __future__ import annotations

from decimal import Decimal

import pytest

from bookings import services as booking_services
from bookings.models import BookingStatus
from bookings.models import PaymentStatus as BP
from bookings.services import GroupStay
from core.actor import Actor
from core.money import to_minor_units
from payments import groups, services
from payments.models import Payment, PaymentStatus, Refund, RefundStatus
from payments.providers.stripe import StripeProvider
from tests.factories import PropertyFactory, future
from tests.payments.conftest import DECLINED, THREE_DS, VISA, intent_dict, let_hold_run_out

pytestmark = pytest.mark.django_db
GUEST = Actor.guest("ada@example.com")


@pytest.fixture
def group(guest_input):
    a, b = PropertyFactory(), PropertyFactory(base_price=Decimal("180.00"))
    return booking_services.reserve_group(stays=[
        GroupStay(property_id=a.pk, check_in=future(40), check_out=future(43), adults=2),
        GroupStay(property_id=b.pk, check_in=future(41), check_out=future(45), adults=3, children=1),
    ], guest=guest_input, actor=GUEST)


def pay(group, pm):
    return groups.start_group_card_payment(group_id=group.pk, payment_method_id=pm, actor=GUEST)


def pm_for(card, group, number=VISA):
    return card(group.bookings.order_by("pk").first(), number)


def test_one_intent_pays_and_confirms_every_booking(group, card):
    result = pay(group, pm_for(card, group))

    assert result.status == "succeeded"
    bookings = list(group.bookings.order_by("pk"))
    assert all(b.status == BookingStatus.CONFIRMED and b.payment_status == BP.PAID for b in bookings)
    rows = list(Payment.objects.filter(booking__group=group).order_by("booking_id"))
    assert len(rows) == 2 and len({r.group_intent for r in rows}) == 1
    assert all(r.provider_ref is None and r.status == PaymentStatus.SUCCEEDED for r in rows)
    assert [r.amount for r in rows] == [b.total for b in bookings]
    intent = intent_dict(rows[0].group_intent)
    assert intent["amount"] == sum(to_minor_units(b.total, "EUR") for b in bookings)
    assert intent["metadata"]["group"] == group.reference
    assert result.as_dict()["booking_status"] == "confirmed" and result.as_dict()["payment_status"] == "paid"


def test_webhook_and_return_path_replayed_change_nothing(group, card, post_event):
    pay(group, pm_for(card, group))
    ref = Payment.objects.filter(booking__group=group).first().group_intent
    events_before = sorted(Payment.objects.filter(booking__group=group).values_list("events__pk", flat=True))

    for _ in range(2):
        response = post_event("payment_intent.succeeded", intent_dict(ref))
        assert response.status_code == 200 and "group payments" in response.json()["outcome"]
    groups.sync_group_from_provider(group_id=group.pk)

    assert Payment.objects.filter(booking__group=group).count() == 2
    assert sorted(Payment.objects.filter(booking__group=group).values_list("events__pk", flat=True)) == events_before
    assert all(b.amount_paid == b.total for b in group.bookings.all())


def test_three_d_secure_then_webhook_confirms_all(group, card, authenticate, post_event):
    result = pay(group, pm_for(card, group, THREE_DS))
    assert result.status == "requires_action" and result.client_secret
    assert all(b.status == BookingStatus.RESERVED for b in group.bookings.all())

    authenticate(result.client_secret, success=True)
    ref = Payment.objects.filter(booking__group=group).first().group_intent
    assert post_event("payment_intent.succeeded", intent_dict(ref)).status_code == 200

    assert all(b.status == BookingStatus.CONFIRMED for b in group.bookings.all())
    assert groups.sync_group_from_provider(group_id=group.pk)  # nothing open any more: no change, no error


def test_webhook_before_the_intent_id_is_stored_finds_the_rows_by_metadata(group, card):
    pay(group, pm_for(card, group))
    rows = list(Payment.objects.filter(booking__group=group))
    ref = rows[0].group_intent
    # As if the webhook had come first: rows without the id, re-applied from the intent's metadata.
    data = groups.intent_data(intent_dict(ref))
    Payment.objects.filter(pk__in=[r.pk for r in rows]).update(group_intent=None)
    applied = groups.apply_group_intent(data)
    assert sorted(r.pk for r in applied) == sorted(r.pk for r in rows)
    assert set(Payment.objects.filter(pk__in=[r.pk for r in rows]).values_list("group_intent", flat=True)) == {ref}


def test_a_declined_card_fails_every_share_and_keeps_the_reservations(group, card, run_on_commit):
    with run_on_commit():
        result = pay(group, pm_for(card, group, DECLINED))
    assert result.status == "failed" and result.error
    assert result.attempts_left == 2
    assert set(Payment.objects.filter(booking__group=group).values_list("status", flat=True)) == {"failed"}
    assert all(b.status == BookingStatus.RESERVED for b in group.bookings.all())

    result = pay(group, pm_for(card, group, VISA))  # the next card pays
    assert result.status == "succeeded"
    assert all(b.status == BookingStatus.CONFIRMED for b in group.bookings.all())


def test_late_payment_confirms_the_free_stay_and_refunds_the_taken_one(group, card, authenticate, run_on_commit,
                                                                     guest_input):
    result = pay(group, pm_for(card, group, THREE_DS))
    first, second = group.bookings.order_by("pk")
    for booking in (first, second):
        let_hold_run_out(booking)  # the guest took too long at the bank's page
    booking_services.reserve(property_id=second.property_id, check_in=second.check_in, check_out=second.check_out,
                             adults=2, guest=guest_input, actor=Actor.system("other guest"))  # expires `second`
    authenticate(result.client_secret, success=True)
    with run_on_commit():
        groups.sync_group_from_provider(group_id=group.pk)

    first.refresh_from_db()
    second.refresh_from_db()
    assert first.status == BookingStatus.CONFIRMED  # its nights were still free: the late payment is honoured
    assert second.status == BookingStatus.EXPIRED
    refund = Refund.objects.get(payment__booking=second)
    assert refund.amount == second.total and refund.status == RefundStatus.SUCCEEDED and refund.provider_ref
    assert not Refund.objects.filter(payment__booking=first).exists()


def test_cancelling_one_booking_refunds_only_its_share_of_the_shared_intent(group, card, run_on_commit):
    pay(group, pm_for(card, group))
    first, second = group.bookings.order_by("pk")
    with run_on_commit():
        result = services.cancel_with_refund(booking_id=first.pk, actor=Actor.system("owner"), reason="Change",
                                             by_owner=True)
    assert result.refunded == first.total
    refund = Refund.objects.get(payment__booking=first)
    assert refund.status == RefundStatus.SUCCEEDED and refund.provider_ref.startswith("re_")
    at_stripe = StripeProvider().client.v1.refunds.retrieve(refund.provider_ref).to_dict()
    assert at_stripe["payment_intent"] == Payment.objects.get(booking=first).group_intent
    assert at_stripe["amount"] == to_minor_units(first.total, "EUR")
    second.refresh_from_db()
    assert second.status == BookingStatus.CONFIRMED and second.amount_refunded == 0


def test_an_intent_that_is_not_the_sum_is_flagged_not_applied(group, card):
    result = pay(group, pm_for(card, group, THREE_DS))
    rows = list(Payment.objects.filter(booking__group=group))
    wrong = groups.IntentData(id=rows[0].group_intent, status="succeeded", amount=Decimal("1.00"), currency="EUR",
                              metadata={"group_id": str(group.pk)})
    applied = groups.apply_group_intent(wrong)
    assert all(r.mismatch and r.flagged for r in applied)
    assert all(b.status == BookingStatus.RESERVED for b in group.bookings.all())
    assert result.status == "requires_action"


def test_nothing_to_pay_is_refused(group, card):
    pay(group, pm_for(card, group))
    with pytest.raises(services.PaymentNotAllowed):
        pay(group, pm_for(card, group))
