"""Stripe webhook events → payment services: one handler per event type, each returning an outcome string.

Handlers receive the event's ``data.object`` as a plain dict (parsed from the
verified payload). ``payment_intent.*`` events carry the intent, ``charge.refunded``
the charge, ``refund.*`` the refund, ``charge.dispute.created`` the dispute.
"""

from __future__ import annotations

from properties.money import CURRENCY_EXPONENTS

from . import services
from .providers.stripe import from_minor_units, intent_data, refund_data

ACTOR = "stripe webhook"


def _money(obj: dict, key: str):
    currency = (obj.get("currency") or "EUR").upper()
    if currency not in CURRENCY_EXPONENTS:
        currency = "EUR"
    return from_minor_units(obj.get(key) or 0, currency)


def _outcome(payment, what: str) -> str:
    return f"{what}: payment {payment.pk} {payment.status}" if payment else f"{what}: no matching payment"


def intent_succeeded(obj: dict) -> str:
    return _outcome(services.handle_intent_succeeded(intent_data(obj), actor_label=ACTOR), "succeeded")


def intent_failed(obj: dict) -> str:
    intent = intent_data(obj)
    if intent.status not in ("failed", "pending"):
        # The event's snapshot says otherwise (e.g. it already moved on): trust the status it carries.
        return _outcome(services.apply_intent(intent, actor_label=ACTOR), "failed event, intent " + intent.status)
    if intent.status == "pending":  # requires_payment_method without an error in the snapshot
        intent = type(intent)(**{**intent.__dict__, "status": "failed",
                                 "failure_code": intent.failure_code or "payment_failed"})
    return _outcome(services.handle_intent_failed(intent, actor_label=ACTOR), "failed")


def intent_canceled(obj: dict) -> str:
    return _outcome(services.handle_intent_canceled(intent_data(obj), actor_label=ACTOR), "canceled")


def charge_refunded(obj: dict) -> str:
    currency = obj.get("currency") or "eur"
    refunds = [refund_data({**r, "payment_intent": r.get("payment_intent") or obj.get("payment_intent")}, currency)
               for r in ((obj.get("refunds") or {}).get("data") or [])]
    payment = services.handle_charge_refunded(payment_ref=obj.get("payment_intent") or "",
                                              amount_refunded=_money(obj, "amount_refunded"), refunds=refunds,
                                              actor_label=ACTOR)
    return _outcome(payment, "charge refunded")


def refund_changed(obj: dict) -> str:
    row = services.handle_refund(refund_data(obj), actor_label=ACTOR)
    return f"refund {obj.get('id')}: {row.status}" if row else f"refund {obj.get('id')}: no matching payment"


def dispute_created(obj: dict) -> str:
    payment = services.handle_dispute(payment_ref=obj.get("payment_intent") or "", amount=_money(obj, "amount"),
                                      reason=obj.get("reason") or "", dispute_id=obj.get("id") or "",
                                      actor_label=ACTOR)
    return _outcome(payment, "dispute")


HANDLERS = {
    "payment_intent.succeeded": intent_succeeded,
    "payment_intent.payment_failed": intent_failed,
    "payment_intent.canceled": intent_canceled,
    "charge.refunded": charge_refunded,
    "refund.created": refund_changed,
    "refund.updated": refund_changed,
    "charge.refund.updated": refund_changed,
    "charge.dispute.created": dispute_created,
}
