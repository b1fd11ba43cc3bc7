"""Stripe card payments with PaymentIntents (works against real Stripe and localstripe).

The browser collects the card with Stripe.js's card element and
``stripe.confirmCardSetup`` on a SetupIntent from :meth:`StripeProvider.create_setup`
(the only card flow localstripe's fake Stripe.js offers); the resulting
PaymentMethod id comes to the server, which creates the PaymentIntent for the
amount of the booking and confirms it. When the card needs 3-D Secure the
intent is ``requires_action`` and the browser finishes it with
``stripe.confirmCardPayment(client_secret)``.

* amounts in the currency's minor unit, currency lower-case;
* ``payment_method_types=["card"]`` (no ``automatic_payment_methods``: localstripe lacks it);
* metadata ``booking_id``, ``reference``, ``payment_id``;
* an idempotency key per attempt on every create/confirm/refund call.
"""

from __future__ import annotations

from decimal import Decimal

import stripe
from django.conf import settings

from core.money import CURRENCY_EXPONENTS, to_minor_units

from ..errors import ProviderError
from ..stripe_mode import OFF
from .base import IntentData, RefundData

STATUS_MAP = {
    "succeeded": "succeeded",
    "requires_action": "requires_action",
    "canceled": "canceled",
    "processing": "pending",
    "requires_confirmation": "pending",
    "requires_capture": "pending",
}
REFUND_ID_KEY = "refund_id"  # the metadata key carrying our Refund row's id (payments.services.execute_refund)
REFUND_STATUS_MAP = {"succeeded": "succeeded", "pending": "pending", "requires_action": "pending",
                     "failed": "failed", "canceled": "canceled"}


def card_payments_enabled() -> bool:
    """Whether guests can pay by card: ``STRIPE_MODE`` is not ``off`` and both API keys are set (stripe_mode)."""
    return settings.STRIPE_MODE != OFF and bool(settings.STRIPE_SECRET_KEY and settings.STRIPE_PUBLISHABLE_KEY)


def webhook_secret() -> str:
    """The secret webhook signatures are checked with; empty (every event refused) in mode ``off`` or when unset."""
    return "" if settings.STRIPE_MODE == OFF else settings.STRIPE_WEBHOOK_SECRET.strip()


def client() -> stripe.StripeClient:
    """A client for the configured account; ``STRIPE_API_BASE`` points it at localstripe.

    Every request has a timeout of its own (``STRIPE_TIMEOUT_SECONDS`` for connecting
    and for reading, instead of the library's 80 s) and at most
    ``STRIPE_MAX_NETWORK_RETRIES`` retries (each POST carries an idempotency key, so a
    retry never charges or refunds twice)."""
    base = settings.STRIPE_API_BASE
    return stripe.StripeClient(
        settings.STRIPE_SECRET_KEY,
        base_addresses={"api": base} if base else None,
        max_network_retries=settings.STRIPE_MAX_NETWORK_RETRIES,
        http_client=stripe.RequestsClient(timeout=settings.STRIPE_TIMEOUT_SECONDS),
    )


def from_minor_units(amount: int, currency: str) -> Decimal:
    return Decimal(int(amount)).scaleb(-CURRENCY_EXPONENTS[currency.upper()])


def intent_data(obj) -> IntentData:
    """An ``IntentData`` from a PaymentIntent (a stripe object or the plain dict of a webhook)."""
    pi = obj if isinstance(obj, dict) else obj.to_dict()
    currency = (pi.get("currency") or "").upper()
    error = pi.get("last_payment_error") or {}
    status = pi.get("status", "")
    if status == "requires_payment_method":
        # Before the first confirmation it is waiting; after one it was declined or failed 3-D Secure.
        status = "failed" if error else "pending"
    else:
        status = STATUS_MAP.get(status, "pending")
    return IntentData(
        id=pi["id"], status=status, amount=from_minor_units(pi.get("amount") or 0, currency or "EUR"),
        currency=currency, client_secret=pi.get("client_secret") or "",
        failure_code=error.get("decline_code") or error.get("code") or "", failure_message=error.get("message") or "",
        metadata=dict(pi.get("metadata") or {}),
    )


def refund_data(obj, currency: str = "") -> RefundData:
    r = obj if isinstance(obj, dict) else obj.to_dict()
    currency = (r.get("currency") or currency or "EUR").upper()
    return RefundData(id=r["id"], status=REFUND_STATUS_MAP.get(r.get("status", ""), "pending"),
                      amount=from_minor_units(r.get("amount") or 0, currency), currency=currency,
                      payment_ref=r.get("payment_intent") or "",
                      request_id=str((r.get("metadata") or {}).get(REFUND_ID_KEY) or ""))


class StripeProvider:
    name = "stripe"

    def __init__(self):
        self.client = client()

    def create_setup(self, booking) -> tuple[str, str]:
        """A SetupIntent for the browser's ``confirmCardSetup``: (id, client_secret)."""
        try:
            setup = self.client.v1.setup_intents.create(
                params={"payment_method_types": ["card"], "usage": "on_session",
                        "metadata": {"booking_id": str(booking.pk), "reference": booking.reference}},
            )
        except stripe.StripeError as exc:
            raise ProviderError() from exc
        return setup.id, setup.client_secret

    def create_payment(self, payment, payment_method_id: str) -> IntentData:
        booking = payment.booking
        try:
            intent = self.client.v1.payment_intents.create(
                params={
                    "amount": to_minor_units(payment.amount, payment.currency),
                    "currency": payment.currency.lower(),
                    "payment_method": payment_method_id,
                    "payment_method_types": ["card"],
                    "metadata": {"booking_id": str(booking.pk), "reference": booking.reference,
                                 "payment_id": str(payment.pk), "attempt": str(payment.attempt)},
                },
                options={"idempotency_key": payment.idempotency_key},
            )
        except stripe.InvalidRequestError as exc:
            # e.g. an unknown or unusable payment method id: a failed attempt, not an outage.
            raise ProviderError(exc.user_message or "This card cannot be used.") from exc
        except stripe.StripeError as exc:
            raise ProviderError() from exc
        try:
            intent = self.client.v1.payment_intents.confirm(
                intent.id, options={"idempotency_key": f"{payment.idempotency_key}-confirm"}
            )
        except stripe.CardError:
            return self.retrieve(intent.id, payment.currency)  # declined: the intent says why
        except stripe.StripeError as exc:
            raise ProviderError() from exc
        return intent_data(intent)

    def retrieve(self, provider_ref: str, currency: str = "") -> IntentData:
        try:
            return intent_data(self.client.v1.payment_intents.retrieve(provider_ref))
        except stripe.StripeError as exc:
            raise ProviderError() from exc

    def cancel(self, provider_ref: str, currency: str = "") -> IntentData:
        try:
            return intent_data(self.client.v1.payment_intents.cancel(provider_ref))
        except stripe.InvalidRequestError:
            return self.retrieve(provider_ref)  # already succeeded or canceled: report what it is
        except stripe.StripeError as exc:
            raise ProviderError() from exc

    def refund(self, payment, amount: Decimal, *, idempotency_key: str, request_id: str = "") -> RefundData:
        metadata = {"booking_id": str(payment.booking_id), "payment_id": str(payment.pk)}
        if request_id:
            metadata[REFUND_ID_KEY] = request_id
        try:
            refund = self.client.v1.refunds.create(
                params={"payment_intent": payment.intent_ref, "amount": to_minor_units(amount, payment.currency),
                        "metadata": metadata},
                options={"idempotency_key": idempotency_key},
            )
        except (stripe.InvalidRequestError, stripe.CardError, stripe.IdempotencyError) as exc:
            # Stripe refused the request itself (e.g. the charge is already refunded): asking again will not help.
            raise ProviderError(f"Stripe refused the refund: {exc.user_message or exc.code or 'invalid request'}",
                                retryable=False) from exc
        except stripe.StripeError as exc:
            raise ProviderError("The refund could not be made; please try again.") from exc
        return refund_data(refund, payment.currency)

    def find_refund(self, payment, *, request_id: str) -> RefundData | None:
        """The refund an earlier attempt made for our Refund row ``request_id``, if Stripe has one."""
        try:
            page = self.client.v1.refunds.list(params={"payment_intent": payment.intent_ref, "limit": 100})
        except stripe.StripeError as exc:
            raise ProviderError("The refund could not be looked up; please try again.") from exc
        for refund in page.data:
            data = refund_data(refund, payment.currency)
            if data.request_id == request_id:
                return data
        return None
