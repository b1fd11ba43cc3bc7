"""Each request gets an id (the client's ``X-Request-ID`` when usable, else a new one), returned in the response's
``X-Request-ID``, recorded as the cause of every audit row it writes (``core.context``) and, as the correlation id,
written on every log line, carried into every task and outbox event it causes and shown on the error pages
(``core.correlation``). The request ends with one log line: ``request`` with the method, the route (the URL
pattern, never the path or the query: they hold booking references and tokens), the status and the duration."""

from __future__ import annotations

import time

import structlog

from .context import caused_by, request_id_from
from .correlation import RESPONSE_HEADER, correlated
from .redaction import redact_text

log = structlog.get_logger("core.request")


class RequestCauseMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request.request_id = request_id_from(request.headers.get(RESPONSE_HEADER))
        started = time.perf_counter()
        with caused_by(f"request {request.request_id}"), correlated(request.request_id):
            response = self.get_response(request)
            match = getattr(request, "resolver_match", None)
            fields = {"route": match.route} if match is not None else {"path": redact_text(request.path)}
            log.info("request", method=request.method, **fields, status=response.status_code,
                     duration_ms=round((time.perf_counter() - started) * 1000, 1))
        response[RESPONSE_HEADER] = request.request_id
        return response
