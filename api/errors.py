"""One error shape for the whole API (docs/architecture.md, Rule 3).

Every error body is a JSON object with a machine-readable ``code`` and a human
``detail``; some add more:

* bad input (serializer validation) → 400 ``{"code": "invalid", "detail": …, "errors": {field: [messages]}}``;
  ``errors`` is flat: nested fields are named with dots (``"guest.email"``), as in ``detail``
* a domain error of ``bookings.errors`` → its ``http_status`` and ``as_dict()``
  (``dates_unavailable`` 409 with ``reasons``, ``stay_rule_violation`` 400 with
  ``reasons``, ``invalid_transition`` 409, ``idempotency_key_reused`` 422, …)
* 401/403 ``not_authenticated`` / ``permission_denied`` / ``mfa_required`` (a session that has not proved its
  second factor, ``guests.authority``), 404 ``not_found``,
  405 ``method_not_allowed``, 415 ``unsupported_media_type``, 400 ``parse_error``
  (malformed JSON), 429 ``throttled`` (with ``retry_after`` seconds), 413 ``request_too_large`` (a body over
  ``DATA_UPLOAD_MAX_MEMORY_SIZE``; usually answered earlier by ``config.security.RequestTooLargeMiddleware``).
"""

from __future__ import annotations

import math

from django.conf import settings
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig
from django.http import Http404
from rest_framework import exceptions, serializers
from rest_framework.response import Response
from rest_framework.views import set_rollback

from core.errors import DomainError


class ErrorSerializer(serializers.Serializer):
    """The shape of every error response (for the OpenAPI schema)."""

    code = serializers.CharField(help_text="Machine-readable error code, e.g. invalid, dates_unavailable.")
    detail = serializers.CharField(help_text="Human-readable explanation.")
    errors = serializers.DictField(
        child=serializers.ListField(child=serializers.CharField()), required=False,
        help_text="Per-field messages (code 'invalid' only). Flat: a nested field is named with dots "
                  "(`guest.email`), errors about the whole body are under `non_field_errors`.",
    )
    reasons = serializers.ListField(
        child=serializers.DictField(), required=False,
        help_text="Every rule that failed: [{code, message, field?}] (availability errors).",
    )


def _flatten(detail, prefix: str = "", out: dict | None = None) -> dict[str, list[str]]:
    """DRF error details → ``{field: [messages]}``, one level deep as the schema promises.

    Nested fields get dotted names (``guest.name``), list items their index
    (``nights.0.date``); a nested serializer's own ``non_field_errors`` (e.g. "expected
    a dictionary") belong to its field (``guest``). Top-level ones stay ``non_field_errors``.
    """
    out = {} if out is None else out
    if isinstance(detail, dict):
        for key, value in detail.items():
            key = str(key)
            name = (prefix or key) if key == "non_field_errors" else f"{prefix}.{key}" if prefix else key
            _flatten(value, name, out)
    elif isinstance(detail, list) and any(isinstance(item, dict | list) for item in detail):
        for index, item in enumerate(detail):
            if item:  # DRF reports a valid list item as an empty dict
                _flatten(item, f"{prefix}.{index}" if prefix else str(index), out)
    else:
        messages = detail if isinstance(detail, list) else [detail]
        out.setdefault(prefix or "non_field_errors", []).extend(str(m) for m in messages)
    return out


def validation_body(detail) -> dict:
    errors = _flatten(detail)
    messages = [message if field == "non_field_errors" else f"{field}: {message}"
                for field, field_messages in errors.items() for message in field_messages]
    summary = " ".join(messages[:3]) + (" …" if len(messages) > 3 else "")
    return {"code": "invalid", "detail": summary or "Invalid input.", "errors": errors}


CODES = {
    exceptions.ParseError: "parse_error",
    exceptions.NotAuthenticated: "not_authenticated",
    exceptions.AuthenticationFailed: "authentication_failed",
    exceptions.PermissionDenied: "permission_denied",
    exceptions.NotFound: "not_found",
    exceptions.MethodNotAllowed: "method_not_allowed",
    exceptions.NotAcceptable: "not_acceptable",
    exceptions.UnsupportedMediaType: "unsupported_media_type",
    exceptions.Throttled: "throttled",
}


def api_exception_handler(exc, context):
    """DRF's ``EXCEPTION_HANDLER``: map every known error to ``{"code", "detail", …}``."""
    if isinstance(exc, DomainError):
        set_rollback()
        return Response(exc.as_dict(), status=exc.http_status)
    if isinstance(exc, RequestDataTooBig):
        return Response(request_too_large_body(), status=413)
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()
    if not isinstance(exc, exceptions.APIException):
        return None  # a bug: let Django answer 500 and log it

    headers = {}
    if getattr(exc, "auth_header", None):
        headers["WWW-Authenticate"] = exc.auth_header
    set_rollback()
    if isinstance(exc, exceptions.ValidationError):
        return Response(validation_body(exc.detail), status=exc.status_code, headers=headers)

    own = exc.get_codes() if isinstance(exc.detail, str) else exc.default_code
    code = next((c for cls, c in CODES.items() if isinstance(exc, cls)), None)
    if code is None or own != exc.default_code:  # a code given when raising wins (403 mfa_required: guests.authority)
        code = own
    detail = exc.detail if isinstance(exc.detail, str) else str(exc.default_detail)
    body = {"code": str(code), "detail": str(detail)}
    if isinstance(exc, exceptions.Throttled):
        wait = math.ceil(exc.wait) if exc.wait is not None else None
        body["retry_after"] = wait
        if wait is not None:
            headers["Retry-After"] = str(wait)
    return Response(body, status=exc.status_code, headers=headers)


def request_too_large_body() -> dict:
    """The API's answer to a body over ``DATA_UPLOAD_MAX_MEMORY_SIZE`` (also sent by
    ``config.security.RequestTooLargeMiddleware`` before the body is read)."""
    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    detail = f"The request body is too large: at most {limit} bytes." if limit else "The request body is too large."
    return {"code": "request_too_large", "detail": detail}
