"""Payment providers. ``get_provider(name)`` returns the implementation for a ``Payment.provider``."""

from .base import IntentData, PaymentProvider, RefundData


def get_provider(name: str = "stripe") -> PaymentProvider:
    if name == "stripe":
        from .stripe import StripeProvider

        return StripeProvider()
    if name in ("manual", "offline"):  # offline: money the owner received outside the system, refunded by hand
        from .manual import ManualProvider

        return ManualProvider()
    raise LookupError(f"No payment provider '{name}'.")


__all__ = ["IntentData", "PaymentProvider", "RefundData", "get_provider"]
