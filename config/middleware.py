"""A request that really cannot be served answers 503, never a bare 500 page.

The cache falls back to memory when Redis is unreachable (``config.cache``) and Celery publishing after commit
is logged and left to the sweeper (``core.outbox``), so Redis being down should not reach a view. Should a
Redis or broker connection error still escape a view (a cache configured without the fallback, a new direct
use of Redis), :class:`ServiceUnavailableMiddleware` turns it into

* ``503 {"code": "service_unavailable", "detail": …}`` for the API (``/api/``) and JSON callers, and
* the friendly ``503.html`` page for everyone else,

both with ``Retry-After``, and logs the error. The view's transactions were rolled back by the exception, so
nothing is half-written.
"""

from __future__ import annotations

import logging

from django.http import HttpResponse, JsonResponse
from django.template.loader import render_to_string
from django.utils import translation
from kombu.exceptions import OperationalError as BrokerUnavailable
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from core.correlation import current_correlation_id

log = logging.getLogger(__name__)

SERVICE_DOWN = (RedisConnectionError, RedisTimeoutError, BrokerUnavailable)
RETRY_AFTER_SECONDS = 30
CODE = "service_unavailable"
DETAIL = "The service is briefly unavailable; nothing was changed. Please try again shortly."


def wants_json(request) -> bool:
    return (request.path.startswith("/api/") or request.content_type == "application/json"
            or "application/json" in request.headers.get("Accept", ""))


def service_unavailable(request) -> HttpResponse:
    """The 503 answer: JSON ``{"code", "detail"}`` for API/JSON callers, else the friendly page."""
    if wants_json(request):
        response = JsonResponse({"code": CODE, "detail": DETAIL}, status=503)
    else:
        # Rendered without the request: the page must not need the session or the user (they may be what failed).
        response = HttpResponse(render_to_string("503.html", {"reference": current_correlation_id() or ""}),
                                status=503)
    response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response


class ServiceUnavailableMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        if not isinstance(exception, SERVICE_DOWN):
            return None
        log.error("%s %s: a backing service is unavailable (%s); answered 503", request.method, request.path,
                  type(exception).__name__, exc_info=exception)
        return service_unavailable(request)


class BackOfficeInEnglishMiddleware:
    """The back office (``/admin/``) in English whatever the browser asks: owners and staff work in English and
    its own strings are not translated, so Django's translated admin chrome around them would read half German.
    After ``LocaleMiddleware``, which activated the guest's language for every path."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.path.startswith("/admin/"):
            translation.activate("en")
            request.LANGUAGE_CODE = "en"
        return self.get_response(request)
