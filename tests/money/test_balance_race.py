"""Two workers collecting the same balance at once (real parallel connections): one charge, never two."""

import pytest

from payments import balances
from payments.models import Payment, PaymentPurpose
from tests.money.conftest import due_today
from tests.parallel import run_in_parallel

pytestmark = pytest.mark.django_db(transaction=True)


def test_two_workers_charge_the_balance_once(paid_deposit):
    booking = paid_deposit()
    due_today(booking)

    results = run_in_parallel([lambda: balances.collect_balance(booking.pk),
                               lambda: balances.collect_balance(booking.pk),
                               lambda: balances.charge_saved_card(booking.pk, None, "balance", key="balance")])

    assert all(kind == "ok" for kind, _ in results), results
    charged = [value for _kind, value in results if value is not None]
    assert len(charged) == 1  # the property lock and the unique idempotency key let one through
    rows = Payment.objects.filter(booking=booking, off_session=True)
    assert rows.count() == 1 and rows.get().purpose in (PaymentPurpose.BALANCE, PaymentPurpose.OTHER)
    assert rows.get().idempotency_key == f"stayhold-{booking.reference}-balance"  # whoever won, one key
    booking.refresh_from_db()
    assert booking.amount_paid == booking.total
