"""The rules the API's OpenAPI schema states in words, as a schemathesis check (issue 11 item 10).

OpenAPI cannot express a rule that compares two fields (``check_out`` after ``check_in``),
refers to a row (``property_id`` of an active property), or depends on the property's own
booking rules; the schema names them in descriptions instead. Schemathesis' built-in
``positive_data_acceptance`` fails every 400 answered to schema-valid input, so it is
replaced by ``documented_rejections_only``: the same check, except that a 400 naming one
of those documented rules, a 422 for a reused ``Idempotency-Key`` and the documented 414 of
the server in front are accepted. Any other rejection of schema-valid input (say
``?min_price=`` → "A valid number is required") fails: fix the API or the schema.

Used by tests/api/test_contract.py, and by the schemathesis CLI::

    SCHEMATHESIS_HOOKS=tests.api.contract schemathesis run http://127.0.0.1:8000/api/schema/?format=json \\
        --checks all --exclude-checks positive_data_acceptance
"""

from __future__ import annotations

import json
import re

import schemathesis

# Operations whose stays the property's own rules judge (400 stay_rule_violation, documented on their bodies).
STAY_OPERATIONS = {"POST /api/v1/holds", "POST /api/v1/bookings", "PATCH /api/v1/bookings/{reference}"}

_AFTER = r"Must be after {}\.|The range may span at most \d+ days\."
_BOTH = r"Give both check_in and check_out, or neither\."
_PROPERTY = r"There is no property with this id\."
_GUESTS = r"At most \d+ guests in total\."

# For each operation, the fields whose documented cross-field or reference rules may answer 400 `invalid` to
# schema-valid input, each with the messages of those rules (and nothing else).
DOCUMENTED_RULES = {
    "GET /api/v1/search": {"check_in": _BOTH, "check_out": f"{_BOTH}|{_AFTER.format('check_in')}",
                           "max_price": r"Must not be below min_price\."},
    "GET /api/v1/quote": {"property_id": _PROPERTY, "check_out": _AFTER.format("check_in")},
    "GET /api/v1/availability": {"property_id": _PROPERTY, "end": _AFTER.format("start")},
    "POST /api/v1/holds": {"property_id": _PROPERTY, "check_out": _AFTER.format("check_in"), "children": _GUESTS},
    "POST /api/v1/bookings": {"property_id": _PROPERTY, "check_out": _AFTER.format("check_in"), "children": _GUESTS,
                              "hold_id": r"Required with hold_token\.",
                              "hold_token": r"This is not the release token of that hold\."},
    "PATCH /api/v1/bookings/{reference}": {"check_out": _AFTER.format("check_in"), "children": _GUESTS,
                                           "override_reason": r"Required with override_rules\."},
}

# Answers the built-in check already accepts for schema-valid input (5xx are not_a_server_error's business).
ACCEPTED_STATUSES = {401, 403, 404, 409, 429}


def undocumented_rejection(operation: str, status: int, body) -> str | None:
    """Why answering ``status``/``body`` to schema-valid input breaks the contract, or None when it does not."""
    if status < 400 or status >= 500 or status in ACCEPTED_STATUSES:
        return None
    if status == 414:
        return None  # documented on every operation: the server in front refuses an over-long request line
    body = body if isinstance(body, dict) else {}
    code = body.get("code")
    if status == 422 and code == "idempotency_key_reused":
        return None  # documented on the Idempotency-Key header: the same key with another body
    if status == 400 and code == "stay_rule_violation" and operation in STAY_OPERATIONS:
        return None
    if status == 400 and code == "invalid":
        rules = DOCUMENTED_RULES.get(operation, {})
        errors = body.get("errors") or {}
        undocumented = {
            field: messages for field, messages in errors.items()
            if field not in rules or not all(re.fullmatch(rules[field], m) for m in messages)
        }
        if errors and not undocumented:
            return None
        return f"400 `invalid` for a rule the schema does not state: {json.dumps(undocumented or body)}"
    return f"{status} `{code}` is not a documented answer to schema-valid input: {json.dumps(body)[:500]}"


class UndocumentedRejection(AssertionError):
    pass


@schemathesis.check
def documented_rejections_only(ctx, response, case):
    """positive_data_acceptance that knows the rules the schema states in words (see the module docstring)."""
    if case.meta is None or not case.meta.generation.mode.is_positive:
        return None
    try:
        body = response.json()
    except ValueError:
        body = None
    problem = undocumented_rejection(case.operation.label, response.status_code, body)
    if problem is not None:
        raise UndocumentedRejection(f"Schema-valid request rejected: {problem}")
    return None
