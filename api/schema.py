"""Finishing touches on the generated OpenAPI schema (``SPECTACULAR_SETTINGS["POSTPROCESSING_HOOKS"]``).

* Example dates are relative: an example written with ``days_from_today(60)`` shows the
  date 60 days after the day the schema is served, so the documented example booking is
  always bookable and never rots into a 400 "in the past".
* Every operation lists ``414 URI Too Long``: a query string longer than the server in
  front allows is refused there, before the API sees it (gunicorn's ``--limit-request-line``,
  4094 bytes for the whole request line by default; nginx has its own limits). That answer
  is the server's short HTML page, not the API's JSON error shape.
* Every operation lists ``403`` (a back-office session that still owes its second factor gets
  ``mfa_required`` from every endpoint: ``guests.authority``), and every operation with a
  request body lists ``413`` (``request_too_large``: a body over ``DATA_UPLOAD_MAX_MEMORY_SIZE``,
  ``config.security.RequestTooLargeMiddleware``), both in the API's JSON error shape.
* An optional query parameter sent empty (``?min_price=``, as a web form sends an empty
  field) means "not given" (``views._query``): each says so with ``allowEmptyValue``.
* drf-spectacular writes a blank-allowed string with a pattern as
  ``oneOf: [{pattern}, {maxLength: 0}]``, which wrongly refuses ``""`` when the pattern
  also matches it (both branches match); ``anyOf`` says what the field accepts.
"""

from __future__ import annotations

import re
from datetime import timedelta

from django.utils import timezone

_RELATIVE_DATE = re.compile(r"<today\+(\d+)>")

URI_TOO_LONG = {
    "description": "URI Too Long: the request line (method, path and query string) is longer than the web server "
                   "in front of the API accepts (with the Procfile's gunicorn: 4094 bytes, `--limit-request-line`). "
                   "Answered by that server as a short HTML page, before the API sees the request.",
    "content": {"text/html": {"schema": {"type": "string"}}},
}


def days_from_today(days: int) -> str:
    """A placeholder for an example date ``days`` after the day the schema is served."""
    return f"<today+{days}>"


def _fill_dates(node, today):
    if isinstance(node, dict):
        return {key: _fill_dates(value, today) for key, value in node.items()}
    if isinstance(node, list):
        return [_fill_dates(value, today) for value in node]
    if isinstance(node, str) and (match := _RELATIVE_DATE.fullmatch(node)):
        return (today + timedelta(days=int(match[1]))).isoformat()
    return node


_BLANK_STRING = {"type": "string", "maxLength": 0}


def _blank_any_of(node):
    if isinstance(node, dict):
        one_of = node.get("oneOf")
        if isinstance(one_of, list) and len(one_of) == 2 and one_of[1] == _BLANK_STRING:
            node["anyOf"] = node.pop("oneOf")
        for value in node.values():
            _blank_any_of(value)
    elif isinstance(node, list):
        for value in node:
            _blank_any_of(value)


def _error_response(description: str) -> dict:
    return {"description": description,
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}


MFA_REQUIRED = _error_response("Forbidden: `mfa_required` for a back-office session that has not used its second "
                               "factor (or `permission_denied` / `not_authenticated` where the operation says so).")
REQUEST_TOO_LARGE = _error_response("Request body too large: `request_too_large` (over DATA_UPLOAD_MAX_MEMORY_SIZE).")


def postprocess(result, generator, request, public):
    """drf-spectacular postprocessing hook (see the module docstring)."""
    result = _fill_dates(result, timezone.localdate())
    _blank_any_of(result)
    for operations in result.get("paths", {}).values():
        for operation in operations.values():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            operation["responses"].setdefault("414", URI_TOO_LONG)
            operation["responses"].setdefault("403", MFA_REQUIRED)
            if "requestBody" in operation:
                operation["responses"].setdefault("413", REQUEST_TOO_LARGE)
            for parameter in operation.get("parameters", []):
                if parameter.get("in") == "query" and not parameter.get("required"):
                    parameter["allowEmptyValue"] = True
    return result
