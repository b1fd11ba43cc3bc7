"""Refunds: quotes from the policy snapshot, guest and owner cancellations, partial refunds, never more than paid."""

from datetime import datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from bookings.errors import InvalidTransition
from bookings.models import BookingStatus
from bookings.models import PaymentStatus as BP
from bookings.services import check_in_datetime
from core.actor import Actor
from core.models import OutboxEvent
from payments import services
from payments.errors import RefundNotAllowed
from payments.models import Payment, PaymentStatus, Refund
from payments.providers.stripe import StripeProvider
from tests.factories import PropertyFactory
from tests.payments.conftest import VISA

pytestmark = pytest.mark.django_db
GUEST = Actor.guest("ada@example.com")


@pytest.fixture
def paid(book, card):
    """A confirmed, fully paid booking of a property with ``policy``, ``start`` days ahead."""

    def _paid(policy="moderate", start=40, nights=3, tz="UTC"):
        prop = PropertyFactory(cancellation_policy=policy, timezone=tz)
        booking = book(prop, start=start, nights=nights)
        result = services.start_card_payment(booking_id=booking.pk, payment_method_id=card(booking, VISA),
                                             actor=GUEST)
        assert result.status == "succeeded"
        booking.refresh_from_db()
        return booking

    return _paid


def stripe_refunded(payment) -> int:
    """What Stripe itself has refunded on the payment's intent, in minor units."""
    refunds = StripeProvider().client.v1.refunds.list(params={"payment_intent": payment.provider_ref})
    return sum(r.amount for r in refunds.data)


def at_days_before(booking, days, hours=0):
    return check_in_datetime(booking) - timedelta(days=days, hours=hours)


@pytest.mark.parametrize(
    ("policy", "days_before", "percent"),
    [
        ("flexible", 2, 100), ("flexible", 0.5, 0),
        ("moderate", 6, 100), ("moderate", 4, 50), ("moderate", -0.1, 0),
        ("strict", 31, 100), ("strict", 20, 50), ("strict", 13, 0),
        ("non_refundable", 60, 0),
    ],
)  # fmt: skip
def test_refund_quote_follows_the_policy_snapshot(paid, policy, days_before, percent):
    booking = paid(policy)
    quote = services.refund_quote(booking, at_days_before(booking, days_before))
    assert quote.percent == percent
    assert quote.amount == (booking.total * percent / 100).quantize(Decimal("0.01"))
    assert quote.refundable == booking.total


def test_check_in_time_is_in_the_propertys_time_zone(paid):
    booking = paid("flexible", tz="Asia/Tokyo")
    check_in_at = check_in_datetime(booking)
    assert check_in_at == datetime.combine(booking.check_in, booking.property.check_in_time,
                                           tzinfo=ZoneInfo("Asia/Tokyo"))
    # One day before 15:00 Tokyo time = 06:00 UTC the day before: a minute earlier is 100 %, later is 0 %.
    cutoff = check_in_at - timedelta(days=1)
    assert services.refund_quote(booking, cutoff - timedelta(minutes=1)).percent == 100
    assert services.refund_quote(booking, cutoff + timedelta(minutes=1)).percent == 0


def test_the_snapshot_wins_over_later_policy_edits(paid):
    booking = paid("flexible")
    prop = booking.property
    prop.cancellation_policy = "non_refundable"
    prop.save()
    booking.refresh_from_db()
    assert services.refund_quote(booking, at_days_before(booking, 10)).percent == 100


@pytest.mark.parametrize(("policy", "days_before", "percent"),
                         [("flexible", 3, 100), ("moderate", 3, 50), ("strict", 20, 50), ("non_refundable", 30, 0)])
def test_guest_cancellation_refunds_the_policy_amount(paid, policy, days_before, percent, run_on_commit):
    booking = paid(policy)
    at = at_days_before(booking, days_before)
    expected = (booking.total * percent / 100).quantize(Decimal("0.01"))

    with run_on_commit():  # the refund goes to Stripe after commit
        result = services.cancel_with_refund(booking_id=booking.pk, actor=GUEST, reason="Plans changed", at=at)

    booking.refresh_from_db()
    assert booking.status == BookingStatus.CANCELLED and booking.cancellation_reason == "Plans changed"
    assert result.refunded == expected == booking.amount_refunded
    payment = Payment.objects.get(booking=booking)
    assert stripe_refunded(payment) == int(expected * 100)
    if percent == 100:
        assert booking.payment_status == BP.REFUNDED and payment.status == PaymentStatus.REFUNDED
    elif percent:
        assert booking.payment_status == BP.PARTIALLY_REFUNDED
        assert payment.status == PaymentStatus.PARTIALLY_REFUNDED
    else:
        assert booking.payment_status == BP.PAID and not Refund.objects.exists()
    assert OutboxEvent.objects.filter(aggregate_id=str(booking.pk), topic="booking.cancelled").count() == 1


def test_owner_cancellation_refunds_everything_by_default(paid, run_on_commit):
    booking = paid("non_refundable")
    owner = booking.property.owner
    with run_on_commit():
        result = services.cancel_with_refund(booking_id=booking.pk, actor=Actor.for_user(owner), by_owner=True,
                                             reason="Burst pipe")
    booking.refresh_from_db()
    assert result.refunded == booking.total == booking.amount_refunded
    assert booking.payment_status == BP.REFUNDED
    refund = Refund.objects.get()
    assert refund.created_by == owner and "owner" in refund.reason and refund.provider_ref.startswith("re_")


def test_owner_can_refund_a_custom_amount_but_never_more_than_paid(paid):
    booking = paid("strict")
    owner = Actor.for_user(booking.property.owner)
    with pytest.raises(RefundNotAllowed):
        services.cancel_with_refund(booking_id=booking.pk, actor=owner, by_owner=True, reason="x",
                                    refund_amount=booking.total + Decimal("0.01"))
    booking.refresh_from_db()
    assert booking.status == BookingStatus.CONFIRMED and not Refund.objects.exists()

    services.cancel_with_refund(booking_id=booking.pk, actor=owner, by_owner=True, reason="Partial goodwill",
                                refund_amount=Decimal("42.50"))
    booking.refresh_from_db()
    assert (booking.status, booking.amount_refunded, booking.payment_status) == (
        BookingStatus.CANCELLED, Decimal("42.50"), BP.PARTIALLY_REFUNDED)


def test_a_guest_cannot_choose_the_amount(paid):
    booking = paid("flexible")
    with pytest.raises(RefundNotAllowed):
        services.cancel_with_refund(booking_id=booking.pk, actor=GUEST, reason="x", refund_amount=booking.total)
    booking.refresh_from_db()
    assert booking.status == BookingStatus.CONFIRMED


def test_partial_then_full_refunds_never_exceed_what_was_paid(paid, run_on_commit):
    booking = paid("moderate")
    owner = Actor.for_user(booking.property.owner)
    with run_on_commit():
        services.refund_booking(booking_id=booking.pk, amount=Decimal("30"), actor=owner, reason="Broken heater")
    booking.refresh_from_db()
    assert booking.amount_refunded == Decimal("30.00") and booking.payment_status == BP.PARTIALLY_REFUNDED
    assert booking.status == BookingStatus.CONFIRMED

    rest = booking.total - Decimal("30")
    with pytest.raises(RefundNotAllowed):
        services.refund_booking(booking_id=booking.pk, amount=rest + Decimal("0.01"), actor=owner, reason="x")
    # A 100 % policy cancellation now refunds only what is left.
    with run_on_commit():
        result = services.cancel_with_refund(booking_id=booking.pk, actor=GUEST, reason="Plans changed",
                                             at=at_days_before(booking, 10))
    booking.refresh_from_db()
    assert result.refunded == rest and booking.amount_refunded == booking.total == booking.amount_paid
    assert booking.payment_status == BP.REFUNDED
    assert stripe_refunded(Payment.objects.get(booking=booking)) == int(booking.total * 100)


def test_a_policy_quote_is_capped_at_what_is_left(paid):
    booking = paid("flexible")
    services.refund_booking(booking_id=booking.pk, amount=booking.total - Decimal("10"),
                            actor=Actor.for_user(booking.property.owner), reason="Most of it back")
    booking.refresh_from_db()
    quote = services.refund_quote(booking, at_days_before(booking, 10))
    assert quote.percent == 100 and quote.amount == quote.refundable == Decimal("10.00")


def test_refunds_require_a_reason_and_a_positive_amount(paid):
    booking = paid()
    owner = Actor.for_user(booking.property.owner)
    for amount, reason in ((Decimal("10"), " "), (Decimal("0"), "x"), (Decimal("-5"), "x")):
        with pytest.raises(RefundNotAllowed):
            services.refund_booking(booking_id=booking.pk, amount=amount, actor=owner, reason=reason)
    with pytest.raises(RefundNotAllowed):
        services.cancel_with_refund(booking_id=booking.pk, actor=GUEST, reason="")
    assert not Refund.objects.exists()


def test_cancelling_an_unpaid_reservation_refunds_nothing_and_cancels_open_attempts(book, prop, card,
                                                                                     run_on_commit):
    from tests.payments.conftest import THREE_DS

    booking = book(prop, start=40)
    payment = services.start_card_payment(booking_id=booking.pk, payment_method_id=card(booking, THREE_DS),
                                          actor=GUEST).payment
    with run_on_commit():  # the open attempt is cancelled at Stripe after commit
        result = services.cancel_with_refund(booking_id=booking.pk, actor=GUEST, reason="Changed my mind")
    booking.refresh_from_db()
    payment.refresh_from_db()
    assert booking.status == BookingStatus.CANCELLED and result.refunds == []
    assert payment.status == PaymentStatus.CANCELED
    assert StripeProvider().retrieve(payment.provider_ref).status == "canceled"


def test_a_cancelled_booking_cannot_be_cancelled_again(paid):
    booking = paid("flexible")
    services.cancel_with_refund(booking_id=booking.pk, actor=GUEST, reason="x", at=at_days_before(booking, 5))
    with pytest.raises(InvalidTransition):
        services.cancel_with_refund(booking_id=booking.pk, actor=GUEST, reason="again")
    assert Refund.objects.count() == 1


def test_a_refund_stripe_cannot_make_now_stays_pending_and_the_sweeper_sends_it_once(paid, monkeypatch,
                                                                                      run_on_commit):
    """The cancellation commits; the refund waits, counted, until Stripe answers (retried with a back-off)."""
    from payments.errors import ProviderError

    booking = paid("flexible")

    def down(self, payment, amount, *, idempotency_key, request_id=""):
        raise ProviderError("Stripe is down")

    monkeypatch.setattr(StripeProvider, "refund", down)
    with run_on_commit():
        result = services.cancel_with_refund(booking_id=booking.pk, actor=GUEST, reason="x",
                                             at=at_days_before(booking, 5))
    booking.refresh_from_db()
    refund = Refund.objects.get()
    assert booking.status == BookingStatus.CANCELLED and result.refunds == [refund]
    assert (refund.status, refund.provider_ref, refund.attempts, refund.last_error) == (
        "pending", None, 1, "Stripe is down")
    assert booking.amount_refunded == booking.total  # requested: never offered twice
    payment = Payment.objects.get(booking=booking)
    assert stripe_refunded(payment) == 0
    assert services.execute_due_refunds(at=refund.next_attempt_at - timedelta(seconds=1)) == 0  # not due yet

    monkeypatch.undo()
    assert services.execute_due_refunds(at=refund.next_attempt_at) == 1
    refund.refresh_from_db()
    assert refund.status == "succeeded" and refund.provider_ref.startswith("re_") and refund.attempts == 2
    assert stripe_refunded(payment) == int(booking.total * 100)
    assert services.execute_due_refunds(at=refund.next_attempt_at + timedelta(hours=2)) == 0
    assert stripe_refunded(payment) == int(booking.total * 100)


@pytest.mark.parametrize("retryable", [False, True])
def test_a_refund_stripe_refuses_or_that_keeps_failing_is_marked_failed_for_staff(paid, monkeypatch,
                                                                                    run_on_commit, retryable):
    from payments.errors import ProviderError

    booking = paid("flexible")

    def refused(self, payment, amount, *, idempotency_key, request_id=""):
        raise ProviderError("Stripe refused the refund: charge_already_refunded", retryable=retryable)

    monkeypatch.setattr(StripeProvider, "refund", refused)
    with run_on_commit():
        services.cancel_with_refund(booking_id=booking.pk, actor=GUEST, reason="x", at=at_days_before(booking, 5))
    refund = Refund.objects.get()
    while refund.status == "pending":  # each retry at its due time, up to the last allowed attempt
        assert refund.attempts < services.REFUND_MAX_ATTEMPTS
        services.execute_due_refunds(at=refund.next_attempt_at)
        refund.refresh_from_db()
    assert refund.status == "failed" and refund.attempts == (services.REFUND_MAX_ATTEMPTS if retryable else 1)
    assert "charge_already_refunded" in refund.last_error
    booking.refresh_from_db()
    # The booking stays cancelled; nothing counts as refunded, and the audit trail tells staff to act.
    assert booking.status == BookingStatus.CANCELLED and booking.amount_refunded == 0
    assert booking.payment_status == BP.PAID
    assert booking.events.filter(reason__contains="failed after").exists()
    assert services.execute_due_refunds(at=refund.next_attempt_at + timedelta(days=1)) == 0


def test_the_service_refuses_a_guest_cancellation_on_the_arrival_day_in_the_propertys_time_zone(paid,
                                                                                               run_on_commit):
    """The rule is the service's, under the lock: calling it directly (no portal page) changes nothing."""
    from bookings.errors import CancellationNotAllowed

    booking = paid("flexible", tz="Asia/Tokyo")
    tokyo = ZoneInfo("Asia/Tokyo")
    arrival_day_starts = datetime.combine(booking.check_in, datetime.min.time(), tzinfo=tokyo)
    # 00:30 in Tokyo on the arrival day is still the day before in UTC: the property's day is what counts.
    at = arrival_day_starts + timedelta(minutes=30)
    assert at.astimezone(ZoneInfo("UTC")).date() < booking.check_in

    with run_on_commit(), pytest.raises(CancellationNotAllowed, match="arrival day"):
        services.cancel_with_refund(booking_id=booking.pk, actor=GUEST, reason="Too late", at=at)
    booking.refresh_from_db()
    assert booking.status == BookingStatus.CONFIRMED and booking.amount_refunded == 0
    assert not Refund.objects.exists() and stripe_refunded(Payment.objects.get(booking=booking)) == 0

    # The owner still can, that day; and the guest could a minute before midnight the evening before.
    owner = Actor.for_user(booking.property.owner)
    with run_on_commit():
        services.cancel_with_refund(booking_id=booking.pk, actor=owner, by_owner=True, reason="Burst pipe", at=at)
    booking.refresh_from_db()
    assert booking.status == BookingStatus.CANCELLED and booking.amount_refunded == booking.total


def test_a_guest_cancelling_the_evening_before_arrival_is_allowed(paid):
    booking = paid("flexible", tz="Asia/Tokyo")
    evening_before = datetime.combine(booking.check_in, datetime.min.time(),
                                      tzinfo=ZoneInfo("Asia/Tokyo")) - timedelta(minutes=1)
    result = services.cancel_with_refund(booking_id=booking.pk, actor=GUEST, reason="Ill", at=evening_before)
    assert result.booking.status == BookingStatus.CANCELLED
    assert result.refunded == 0  # flexible: less than a day before the 15:00 check-in refunds nothing


def test_a_guest_never_gets_less_than_the_refund_they_were_shown(paid):
    """The amount is decided under the lock; if a tier passed since the page showed it, nothing changes."""
    from bookings.errors import RefundChanged

    booking = paid("moderate")
    shown = services.refund_quote(booking, at_days_before(booking, 5, hours=1)).amount  # 100 % still
    with pytest.raises(RefundChanged) as refused:
        services.cancel_with_refund(booking_id=booking.pk, actor=GUEST, reason="x", expected_refund=shown,
                                    at=at_days_before(booking, 4, hours=23))  # the 50 % tier now
    assert refused.value.amount == (booking.total / 2).quantize(Decimal("0.01")) < shown
    booking.refresh_from_db()
    assert booking.status == BookingStatus.CONFIRMED and not Refund.objects.exists()
