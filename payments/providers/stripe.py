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

    def create_customer(self, booking) -> str:
        """A Stripe customer for the booking's saved card (one per booking: the idempotency key says so)."""
        guest = booking.guest
        params = {"metadata": {"booking_id": str(booking.pk), "reference": booking.reference}}
        if guest is not None:
            params.update(email=guest.email or "", name=guest.name or "")
        try:
            customer = self.client.v1.customers.create(
                params=params, options={"idempotency_key": f"stayhold-customer-{booking.reference}"})
        except stripe.StripeError as exc:
            raise ProviderError() from exc
        return customer.id

    def create_setup(self, booking, customer_id: str = "") -> tuple[str, str]:
        """A SetupIntent for the browser's ``confirmCardSetup``: (id, client_secret). With a customer it is made
        for ``off_session`` use: the card is then charged later without the guest (balance, security deposit)."""
        params = {"payment_method_types": ["card"], "usage": "off_session" if customer_id else "on_session",
                  "metadata": {"booking_id": str(booking.pk), "reference": booking.reference}}
        if customer_id:
            params["customer"] = customer_id
        try:
            setup = self.client.v1.setup_intents.create(params=params)
        except stripe.StripeError as exc:
            raise ProviderError() from exc
        return setup.id, setup.client_secret

    def create_payment(self, payment, payment_method_id: str, customer_id: str = "") -> IntentData:
        booking = payment.booking
        params = {
            "amount": to_minor_units(payment.amount, payment.currency),
            "currency": payment.currency.lower(),
            "payment_method": payment_method_id,
            "payment_method_types": ["card"],
            "metadata": {"booking_id": str(booking.pk), "reference": booking.reference,
                         "payment_id": str(payment.pk), "attempt": str(payment.attempt)},
        }
        if customer_id:
            params["customer"] = customer_id
        try:
            intent = self.client.v1.payment_intents.create(
                params=params,
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

    def attach_payment_method(self, payment_method_id: str, customer_id: str) -> dict:
        """Attach the PaymentMethod to the customer (Stripe already did when the off-session SetupIntent had the
        customer; localstripe does not) and return what Stripe says about the card: brand, last4, expiry."""
        try:
            pm = self.client.v1.payment_methods.retrieve(payment_method_id).to_dict()
            if not pm.get("customer"):
                pm = self.client.v1.payment_methods.attach(
                    payment_method_id, params={"customer": customer_id},
                    options={"idempotency_key": f"stayhold-attach-{payment_method_id}"}).to_dict()
        except stripe.StripeError as exc:
            raise ProviderError() from exc
        card = pm.get("card") or {}
        return {"brand": str(card.get("brand") or ""), "last4": str(card.get("last4") or ""),
                "exp_month": card.get("exp_month"), "exp_year": card.get("exp_year")}

    def charge_off_session(self, payment, *, customer_id: str, payment_method_id: str,
                           capture_method: str = "automatic", metadata: dict | None = None,
                           idempotency_key: str = "") -> dict:
        """Create and confirm an intent on the saved card without the guest (``off_session=True,
        confirm=True``); ``capture_method="manual"`` for a security deposit's hold. Returns the intent as a dict:
        a decline or "authentication_required" is an intent with ``last_payment_error``, not an exception."""
        booking = payment.booking
        key = idempotency_key or payment.idempotency_key
        params = {
            "amount": to_minor_units(payment.amount, payment.currency), "currency": payment.currency.lower(),
            "customer": customer_id, "payment_method": payment_method_id, "payment_method_types": ["card"],
            "off_session": True, "confirm": True,
            "metadata": {"booking_id": str(booking.pk), "reference": booking.reference, **(metadata or {})},
        }
        if capture_method == "manual":
            params["capture_method"] = "manual"
        try:
            return self.client.v1.payment_intents.create(params=params, options={"idempotency_key": key}).to_dict()
        except stripe.CardError as exc:
            # Stripe answers a declined or authentication_required off-session charge with 402 and the intent.
            error = exc.error.to_dict() if exc.error is not None else {}
            intent = error.get("payment_intent")
            if intent:
                return intent
            # localstripe answers 402 without the intent: the refusal alone (no intent id to record).
            return {"id": None, "status": "requires_payment_method", "last_payment_error": {
                "code": exc.code or "card_declined", "decline_code": error.get("decline_code"),
                "message": exc.user_message or "The card was declined."}}
        except stripe.InvalidRequestError as exc:
            raise ProviderError(exc.user_message or "This card cannot be used.", retryable=False) from exc
        except stripe.StripeError as exc:
            raise ProviderError() from exc

    def retrieve_raw(self, provider_ref: str) -> dict:
        try:
            return self.client.v1.payment_intents.retrieve(provider_ref).to_dict()
        except stripe.StripeError as exc:
            raise ProviderError() from exc

    def cancel_raw(self, provider_ref: str) -> dict:
        """Cancel an intent (a security deposit's hold: releases it); reports what it is when it can no longer be."""
        try:
            return self.client.v1.payment_intents.cancel(provider_ref).to_dict()
        except stripe.InvalidRequestError:
            return self.retrieve_raw(provider_ref)
        except stripe.StripeError as exc:
            raise ProviderError() from exc

    def capture(self, provider_ref: str, amount: Decimal, currency: str, *, idempotency_key: str) -> dict:
        """Capture ``amount`` (at most the authorised amount) of a held intent; the rest is released."""
        try:
            return self.client.v1.payment_intents.capture(
                provider_ref, params={"amount_to_capture": to_minor_units(amount, currency)},
                options={"idempotency_key": idempotency_key}).to_dict()
        except stripe.InvalidRequestError as exc:
            raise ProviderError(exc.user_message or "The hold can no longer be captured.", retryable=False) from exc
        except stripe.StripeError as exc:
            raise ProviderError() from exc

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
