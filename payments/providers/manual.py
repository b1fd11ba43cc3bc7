"""The provider of manual payments (Cash App, Zelle, Venmo, bank transfer).

Money paid this way never passes through us, so it cannot be sent back by an
API call either: a refund is recorded as ``pending`` — the amount the host owes
the guest, to be returned by the same method — and shows on the booking and in
the admin. Payments themselves are claimed by the guest and verified by staff
(``payments.manual``), never created through a provider call.
"""

from __future__ import annotations

from decimal import Decimal

from ..errors import ProviderError
from .base import IntentData, RefundData

PENDING = "pending"  # payments.models.RefundStatus.PENDING (models are not imported by providers)


class ManualProvider:
    name = "manual"

    def create_payment(self, payment, payment_method_id: str) -> IntentData:
        raise ProviderError("Manual payments are claimed by the guest and verified by staff.")

    def retrieve(self, provider_ref: str, currency: str) -> IntentData:
        raise ProviderError("A manual payment has nothing to retrieve.")

    def cancel(self, provider_ref: str, currency: str) -> IntentData:
        raise ProviderError("A manual payment cannot be cancelled at a provider.")

    def refund(self, payment, amount: Decimal, *, idempotency_key: str, request_id: str = "") -> RefundData:
        return RefundData(id=f"manual-{idempotency_key}"[:255], status=PENDING, amount=amount,
                          currency=payment.currency, request_id=request_id)

    def find_refund(self, payment, *, request_id: str) -> RefundData | None:
        return None  # nothing was sent anywhere: recording it again is safe
