"""The booking page's money tools and the dashboard: permissions, tenant scoping, bad input, consistency."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from bookings.models import BookingStatus
from bookings.models import PaymentStatus as BP
from payments import security_deposits as sd
from payments.models import CAPTURED_STATUSES, Payment, PaymentEvent, PaymentPlan, Provider
from tests.factories import OwnerFactory, PropertyFactory, StaffFactory

pytestmark = pytest.mark.django_db


def url(name, booking, *args):
    return reverse(f"admin:bookings_booking_{name}", args=[booking.pk, *args])


def form(booking, **kw):
    return {"amount": str(booking.balance_due), "method": "cash", "reference": "Receipt 17",
            "received_on": timezone.localdate().isoformat(), "token": "t-1", **kw}


def test_the_owner_records_a_cash_payment(client, owner, paid_deposit):
    booking = paid_deposit()
    client.force_login(owner)
    page = client.get(url("change", booking))
    assert page.status_code == 200 and b'data-action="record-payment"' in page.content
    assert b'data-action="balance-request"' in page.content and b"Visa" in page.content
    assert client.get(url("record_payment", booking)).status_code == 200

    response = client.post(url("record_payment", booking), form(booking))
    assert response.status_code == 302
    response = client.post(url("record_payment", booking), form(booking))  # the same form twice: recorded once
    booking.refresh_from_db()
    offline = Payment.objects.filter(booking=booking, provider=Provider.OFFLINE)
    assert offline.count() == 1
    row = offline.get()
    assert row.reference == "cash: Receipt 17" and row.status == "succeeded"
    assert (booking.payment_status, booking.amount_paid) == (BP.PAID, booking.total)
    assert booking.amount_paid == sum(Payment.objects.filter(booking=booking, status__in=CAPTURED_STATUSES)
                                      .values_list("amount", flat=True))
    event = PaymentEvent.objects.get(payment=row)
    assert event.actor_user == owner and "Receipt 17" in event.reason


@pytest.mark.parametrize("change, message", [
    ({"amount": "99999"}, b"at most the balance due"),
    ({"amount": "-3"}, b"greater than or equal to 0.01"),
    ({"amount": "abc"}, b"Enter a number"),
    ({"reference": ""}, b"This field is required"),
    ({"received_on": "2999-01-01"}, b"cannot be received in the future"),
])
def test_bad_input_re_renders_and_records_nothing(client, owner, paid_deposit, change, message):
    booking = paid_deposit()
    client.force_login(owner)
    response = client.post(url("record_payment", booking), form(booking, **change))
    assert response.status_code == 200 and message in response.content
    assert not Payment.objects.filter(booking=booking, provider=Provider.OFFLINE).exists()


def test_other_owners_get_404_and_staff_without_manage_get_403(client, prop, paid_deposit):
    booking = paid_deposit()
    other = OwnerFactory(email="other@example.com")
    PropertyFactory(owner=other)
    client.force_login(other)
    assert client.get(url("record_payment", booking)).status_code == 404
    assert client.post(url("record_payment", booking), form(booking)).status_code == 404
    assert client.post(url("balance_request", booking)).status_code == 404
    staff = StaffFactory(email="staff@example.com", properties=[prop])
    client.force_login(staff)
    assert client.get(url("record_payment", booking)).status_code == 403
    assert client.post(url("balance_request", booking)).status_code == 403
    assert not Payment.objects.filter(booking=booking, provider=Provider.OFFLINE).exists()


def test_the_balance_request_button(client, owner, paid_deposit):
    from bookings.models import SentEmail
    from bookings.notifications import Kind

    booking = paid_deposit()
    client.force_login(owner)
    assert client.post(url("balance_request", booking)).status_code == 302
    client.post(url("balance_request", booking))  # twice the same day: one email
    assert SentEmail.objects.filter(booking=booking, kind=Kind.BALANCE_REQUEST).count() == 1
    assert client.get(url("balance_request", booking)).status_code == 404  # GET changes nothing


def test_claim_and_release_from_the_booking_page(client, owner, paid_deposit):
    booking = paid_deposit()
    deposit = sd.record_manual(booking_id=booking.pk, amount=Decimal("100"), reference="cash",
                               actor=sd.SYSTEM)
    client.force_login(owner)
    bad = client.post(url("deposit_claim", booking, deposit.pk), {"amount": "150", "reason": "Window"})
    assert bad.status_code == 200 and b"at most 100.00" in bad.content
    ok = client.post(url("deposit_claim", booking, deposit.pk), {"amount": "30", "reason": "Window"})
    assert ok.status_code == 302
    deposit.refresh_from_db()
    assert (deposit.status, deposit.captured_amount) == ("claimed", Decimal(30))
    other = OwnerFactory(email="nosy@example.com")
    client.force_login(other)
    assert client.post(url("deposit_release", booking, deposit.pk)).status_code == 404


def test_the_dashboard_lists_balances_and_deposits_in_bounded_queries(client, owner, paid_deposit,
                                                                     django_assert_max_num_queries):
    bookings = [paid_deposit(start=60 + 10 * i) for i in range(3)]
    today = timezone.localdate()
    PaymentPlan.objects.filter(booking=bookings[0]).update(balance_due_on=today + timedelta(days=3))
    PaymentPlan.objects.filter(booking=bookings[1]).update(balance_due_on=today - timedelta(days=1),
                                                           balance_charged_at=timezone.now(),
                                                           balance_failed_at=timezone.now())
    PaymentPlan.objects.filter(booking=bookings[2]).update(balance_due_on=today - timedelta(days=5),
                                                           flagged_at=timezone.now())
    sd.record_manual(booking_id=bookings[0].pk, amount=Decimal("100"), reference="cash", actor=sd.SYSTEM)
    client.force_login(owner)
    with django_assert_max_num_queries(40):
        page = client.get(reverse("admin:index"))
    board = page.context["dashboard"]
    assert [row["state"] for row in board.balances] == ["flagged", "overdue", "due soon"]
    assert board.balances_count == 3 and board.deposits_count == 1
    assert b'data-balance-state="flagged"' in page.content
    # Another owner sees none of it.
    other = OwnerFactory(email="else@example.com")
    PropertyFactory(owner=other)
    client.force_login(other)
    board = client.get(reverse("admin:index")).context["dashboard"]
    assert board.balances == [] and board.deposits == []


def test_a_balance_paid_by_a_manual_method_is_the_balance_due(client, owner, paid_deposit):
    from payments import manual
    from payments.models import HostPaymentMethod

    booking = paid_deposit()
    method = HostPaymentMethod.objects.create(owner=booking.property.owner, kind="bank_transfer",
                                              handle="DE89 3704", display_name="Owner")
    mp = manual.choose_method(booking_id=booking.pk, method_id=method.pk, actor=sd.SYSTEM)
    assert mp.amount == booking.balance_due  # the amount due now, not the total
    manual.claim(mp_id=mp.pk, guest_reference="transfer", actor=sd.SYSTEM)
    manual.verify(mp_id=mp.pk, action="confirm", user=owner, amount_received=mp.amount)
    booking.refresh_from_db()
    assert booking.status == BookingStatus.CONFIRMED and booking.payment_status == BP.PAID
    assert booking.amount_paid == booking.total


def test_a_manual_balance_for_more_than_is_still_owed_is_flagged_not_confirmed(owner, paid_deposit):
    from payments import manual
    from payments.models import HostPaymentMethod, ManualStatus
    from payments.services import record_offline_payment

    booking = paid_deposit()
    method = HostPaymentMethod.objects.create(owner=booking.property.owner, kind="zelle", handle="z@example.com",
                                              display_name="Owner")
    mp = manual.choose_method(booking_id=booking.pk, method_id=method.pk, actor=sd.SYSTEM)
    manual.claim(mp_id=mp.pk, guest_reference="zelle 1", actor=sd.SYSTEM)
    record_offline_payment(booking_id=booking.pk, amount=booking.balance_due, method="cash", reference="R1",
                           received_on=timezone.localdate(), actor=sd.SYSTEM)  # paid meanwhile in cash
    mp = manual.verify(mp_id=mp.pk, action="confirm", user=owner, amount_received=mp.amount)
    assert mp.status == ManualStatus.FLAGGED
    booking.refresh_from_db()
    assert booking.amount_paid == booking.total  # never more than the total recorded
    assert Payment.objects.filter(booking=booking, provider=Provider.MANUAL).count() == 0
