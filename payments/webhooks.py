"""Stripe webhook events → payment services: one handler per event type, each returning an outcome string.

:func:`parse_event` reads a verified payload and checks every field the handlers use (types, a known currency,
amounts as non-negative integers in minor units); anything else raises :class:`MalformedEvent`, which the view
acknowledges as ignored (a log line, nothing recorded, never a 500). Handlers receive the event's
``data.object`` as a plain dict. ``payment_intent.*`` events carry the intent, ``charge.refunded`` the charge,
``refund.*`` the refund, ``charge.dispute.created`` the dispute. A ``payment_intent.succeeded`` whose intent id,
amount or currency does not match the payment row changes nothing but flags the payment
(``services.intent_mismatch``): outcome ``mismatch: …``.
"""

from __future__ import annotations

import json

from django.db import IntegrityError, transaction

from core.money import CURRENCY_EXPONENTS

from . import groups, services
from .models import Provider, WebhookEvent
from .providers.stripe import from_minor_units, intent_data, refund_data

ACTOR = "stripe webhook"


class MalformedEvent(ValueError):
    """A validly signed event this app cannot read: acknowledged and ignored."""


# What each handler reads from data.object: field → kind ("id": a non-empty string, "amount": an integer ≥ 0 in
# minor units, "currency": a known ISO code, "text": a string, "map": an object); a "?" suffix = may be absent/null.
_INTENT = {"id": "id", "amount": "amount", "currency": "currency", "status": "text?", "metadata": "map?",
           "client_secret": "text?", "last_payment_error": "map?"}
_REFUND = {"id": "id", "amount": "amount", "currency": "currency?", "status": "text?", "payment_intent": "text?"}
FIELDS = {
    "payment_intent.succeeded": _INTENT,
    "payment_intent.payment_failed": _INTENT,
    "payment_intent.canceled": _INTENT,
    "charge.refunded": {"payment_intent": "id", "amount_refunded": "amount", "currency": "currency",
                        "refunds": "map?"},
    "refund.created": _REFUND,
    "refund.updated": _REFUND,
    "charge.refund.updated": _REFUND,
    "charge.dispute.created": {"id": "id", "payment_intent": "id", "amount": "amount", "currency": "currency",
                               "reason": "text?"},
}
_ERROR = {"code": "text?", "decline_code": "text?", "message": "text?"}


def _fits(value, kind: str) -> bool:
    if kind == "id":
        return isinstance(value, str) and 0 < len(value) <= 255
    if kind == "amount":
        # At most 10 digits: what a Payment/Refund amount (12 digits, 2 decimals) holds in any currency.
        return isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 10**10
    if kind == "currency":
        return isinstance(value, str) and value.upper() in CURRENCY_EXPONENTS
    if kind == "text":
        return isinstance(value, str)
    return isinstance(value, dict)  # "map"


def _problem(obj: dict, fields: dict[str, str]) -> str:
    """The first field of ``obj`` that is missing or of the wrong kind, as a message ("" when all fit)."""
    for name, kind in fields.items():
        optional = kind.endswith("?")
        value = obj.get(name)
        if value is None and optional:
            continue
        if not _fits(value, kind.rstrip("?")):
            return f"{'invalid' if value is not None else 'missing'} {name}"
    return ""


def _object_problem(event_type: str, obj: dict) -> str:
    fields = FIELDS.get(event_type)
    if fields is None:
        return ""  # an event type this app does not handle: recorded as "ignored"
    problem = _problem(obj, fields)
    if not problem and isinstance(obj.get("metadata"), dict) and not all(
            isinstance(v, str) and len(v) <= 500 for v in obj["metadata"].values()):
        problem = "invalid metadata"
    if not problem and isinstance(obj.get("last_payment_error"), dict) and _problem(obj["last_payment_error"], _ERROR):
        problem = "invalid last_payment_error"
    if not problem and isinstance(obj.get("refunds"), dict):
        refunds = obj["refunds"].get("data") or []
        if not isinstance(refunds, list) or not all(isinstance(r, dict) and not _problem(r, _REFUND)
                                                    for r in refunds):
            problem = "invalid refunds"
    return problem


def parse_event(payload: bytes | str) -> tuple[str, str, dict]:
    """``(event id, type, data.object)`` of a verified payload; :class:`MalformedEvent` says what is wrong."""
    try:
        event = json.loads(payload)
    except (ValueError, UnicodeDecodeError):
        raise MalformedEvent("not JSON") from None
    if not isinstance(event, dict):
        raise MalformedEvent("not a JSON object")
    event_id, event_type, data = event.get("id"), event.get("type"), event.get("data")
    if not isinstance(event_id, str) or not _fits(event_id, "id"):
        raise MalformedEvent("no event id")
    if not isinstance(event_type, str) or not 0 < len(event_type) <= 100:
        raise MalformedEvent(f"event {event_id}: no event type")
    obj = data.get("object") if isinstance(data, dict) else None
    if not isinstance(obj, dict):
        raise MalformedEvent(f"{event_type} {event_id}: no data.object")
    if problem := _object_problem(event_type, obj):
        raise MalformedEvent(f"{event_type} {event_id}: {problem}")
    return event_id, event_type, obj


def _money(obj: dict, key: str):
    currency = (obj.get("currency") or "EUR").upper()
    if currency not in CURRENCY_EXPONENTS:
        currency = "EUR"
    return from_minor_units(obj.get(key) or 0, currency)


def _outcome(payment, what: str) -> str:
    return f"{what}: payment {payment.pk} {payment.status}" if payment else f"{what}: no matching payment"


def _group_outcome(intent, what: str) -> str:
    """A group booking's shared PaymentIntent (``payments.groups``): applied to every row it pays."""
    rows = groups.apply_group_intent(intent, actor_label=ACTOR)
    if not rows:
        return f"{what}: no matching group payment"
    if any(row.mismatch for row in rows):
        return f"mismatch: group payments {', '.join(str(r.pk) for r in rows)} flagged, nothing applied"
    return f"{what}: group payments " + ", ".join(f"{r.pk} {r.status}" for r in rows)


def intent_succeeded(obj: dict) -> str:
    if groups.is_group_intent(intent_data(obj)):
        return _group_outcome(intent_data(obj), "succeeded")
    payment = services.handle_intent_succeeded(intent_data(obj), actor_label=ACTOR)
    if payment is not None and payment.mismatch:
        return f"mismatch: payment {payment.pk} flagged, nothing applied ({payment.mismatch})"
    return _outcome(payment, "succeeded")


def intent_failed(obj: dict) -> str:
    intent = intent_data(obj)
    if groups.is_group_intent(intent):
        if intent.status == "pending":
            intent = type(intent)(**{**intent.__dict__, "status": "failed",
                                     "failure_code": intent.failure_code or "payment_failed"})
        return _group_outcome(intent, "failed")
    if intent.status not in ("failed", "pending"):
        # The event's snapshot says otherwise (e.g. it already moved on): trust the status it carries.
        return _outcome(services.apply_intent(intent, actor_label=ACTOR), "failed event, intent " + intent.status)
    if intent.status == "pending":  # requires_payment_method without an error in the snapshot
        intent = type(intent)(**{**intent.__dict__, "status": "failed",
                                 "failure_code": intent.failure_code or "payment_failed"})
    return _outcome(services.handle_intent_failed(intent, actor_label=ACTOR), "failed")


def intent_canceled(obj: dict) -> str:
    if groups.is_group_intent(intent_data(obj)):
        return _group_outcome(intent_data(obj), "canceled")
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


def process_webhook_event(*, event_id: str, event_type: str, obj: dict, provider_name: str = Provider.STRIPE) -> str:
    """Apply one verified provider event at most once: its id is recorded in the same transaction as its effect.

    Returns the outcome ("duplicate", "ignored", or what the handler did)."""
    handler = HANDLERS.get(event_type)
    with transaction.atomic():
        try:
            with transaction.atomic():
                record = WebhookEvent.objects.create(provider=provider_name, event_id=event_id, type=event_type)
        except IntegrityError:
            return "duplicate"
        outcome = handler(obj) if handler else "ignored"
        record.outcome = outcome[:200]
        record.save(update_fields=["outcome"])
    return outcome
