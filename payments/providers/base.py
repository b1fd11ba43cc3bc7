"""The provider interface: what ``payments.services`` needs from a card processor.

Implementations turn provider objects into the plain dataclasses below (amounts
as ``Decimal`` in the booking's currency) and raise ``payments.errors.ProviderError``
for anything that is not a decline. A decline is not an exception: it comes
back as an intent in status ``failed`` with a failure code and message.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Protocol


@dataclass(frozen=True)
class IntentData:
    id: str
    # One of payments.models.PaymentStatus: pending, requires_action, succeeded, failed, canceled.
    status: str
    amount: Decimal
    currency: str
    client_secret: str = ""
    failure_code: str = ""
    failure_message: str = ""
    metadata: dict = field(default_factory=dict)


@dataclass(frozen=True)
class RefundData:
    id: str
    status: str  # payments.models.RefundStatus
    amount: Decimal
    currency: str
    payment_ref: str = ""
    request_id: str = ""  # our Refund row's id, when the refund was made by this app (provider metadata)


class PaymentProvider(Protocol):
    name: str

    def create_payment(self, payment, payment_method_id: str) -> IntentData:
        """Create and confirm a payment of ``payment.amount`` for ``payment.booking`` (idempotent per attempt)."""

    def retrieve(self, provider_ref: str, currency: str) -> IntentData: ...

    def cancel(self, provider_ref: str, currency: str) -> IntentData: ...

    def refund(self, payment, amount: Decimal, *, idempotency_key: str, request_id: str = "") -> RefundData:
        """Refund ``amount`` of a captured payment; ``request_id`` (our Refund row) is kept in the metadata."""

    def find_refund(self, payment, *, request_id: str) -> RefundData | None:
        """The refund made earlier for ``request_id``, or None (before retrying a refund whose answer was lost)."""
