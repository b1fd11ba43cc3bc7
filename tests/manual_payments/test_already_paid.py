"""A manual payment and a card payment refuse the same "already paid" booking.

``payments.services.check_payable`` (card) refused a reservation with any captured payment (succeeded,
partially refunded or refunded), and the payment page shows such a booking as "processing", not payable;
``payments.manual.choose_method`` looked only for a *succeeded* one, so a reservation whose card payment had been
refunded (in part or in full) still accepted a manual payment. Both now use ``CAPTURED_STATUSES``: money was
received for this reservation, and what happens to it is staff's call, not a second payment's."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from core.actor import Actor
from payments import manual
from payments.errors import PaymentNotAllowed
from payments.models import CAPTURED_STATUSES, ManualPayment, Payment
from payments.selectors import PageState, payment_page
from payments.services import check_payable

pytestmark = pytest.mark.django_db
GUEST = Actor.guest("ada@example.com")


@pytest.mark.parametrize("status", CAPTURED_STATUSES)
def test_a_reservation_with_money_received_takes_no_manual_payment(reserved, zelle, status):
    Payment.objects.create(booking=reserved, attempt=1, amount=Decimal("10"), currency=reserved.currency,
                           status=status, amount_refunded=Decimal("10") if status == "refunded" else Decimal("0"),
                           provider_ref="pi_test", idempotency_key="idem-test")  # test setup only

    with pytest.raises(PaymentNotAllowed, match="already paid"):
        manual.choose_method(booking_id=reserved.pk, method_id=zelle.pk, actor=GUEST)
    with pytest.raises(PaymentNotAllowed, match="already paid"):
        check_payable(reserved, timezone.now())
    assert payment_page(reserved, timezone.now()).state == PageState.PROCESSING
    assert not ManualPayment.objects.exists()


def test_card_and_manual_payments_refuse_an_expired_reservation_with_the_same_words(reserved, zelle):
    """Both ask ``payments.services.amount_to_pay``. The manual copy used to say "not waiting for a payment" to a
    guest whose reservation had run out (job not yet run), where the card page told them to book again."""
    later = reserved.expires_at + timedelta(minutes=1)

    with pytest.raises(PaymentNotAllowed, match="has expired; please book again"):
        manual.choose_method(booking_id=reserved.pk, method_id=zelle.pk, actor=GUEST, at=later)
    with pytest.raises(PaymentNotAllowed, match="has expired; please book again"):
        check_payable(reserved, later)
    assert not ManualPayment.objects.exists()
