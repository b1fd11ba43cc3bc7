"""HTTP hardening that depends on the settings at request time.

* :class:`CSPMiddleware`: django-csp's middleware plus the origins the pages really load from, derived from the
  settings — Stripe.js and its frames and API (``STRIPE_JS_URL``: the real https://js.stripe.com, or localstripe's
  fake Stripe.js in development and tests) and the public media host when photos live in an S3 bucket.
  The fixed part of the policy is ``CONTENT_SECURITY_POLICY`` in ``config/settings.py``.
* :class:`RequestTooLargeMiddleware`: an API request whose body is larger than ``DATA_UPLOAD_MAX_MEMORY_SIZE`` gets
  the API's JSON error (``413 request_too_large``) instead of Django's HTML "Bad Request" page.
"""

from __future__ import annotations

import functools
import json
from urllib.parse import urlsplit

from csp.middleware import CSPMiddleware as BaseCSPMiddleware
from django.conf import settings
from django.http import JsonResponse

from api.errors import request_too_large_body

# What Stripe.js needs (Stripe's CSP guide): the script and its helper frames from js.stripe.com, 3-D Secure
# frames from hooks.stripe.com, API calls to api.stripe.com.
STRIPE_JS_ORIGIN = "https://js.stripe.com"
REAL_STRIPE_SOURCES = {
    "script-src": [STRIPE_JS_ORIGIN, "https://*.js.stripe.com"],
    "frame-src": [STRIPE_JS_ORIGIN, "https://*.js.stripe.com", "https://hooks.stripe.com"],
    "connect-src": ["https://api.stripe.com"],
}


def origin(url: str) -> str | None:
    """``scheme://host[:port]`` of an absolute http(s) URL, else None (a relative URL is same-origin)."""
    parts = urlsplit(url or "")
    if parts.scheme in ("http", "https") and parts.netloc:
        return f"{parts.scheme}://{parts.netloc}"
    return None


@functools.lru_cache(maxsize=16)
def _sources(stripe_js_url: str, media_origin: str | None) -> dict[str, list[str]]:
    sources: dict[str, list[str]] = {}
    stripe = origin(stripe_js_url)
    if stripe == STRIPE_JS_ORIGIN:
        sources.update({directive: list(values) for directive, values in REAL_STRIPE_SOURCES.items()})
    elif stripe:
        # localstripe: its fake Stripe.js is served by the fake API server and calls it from the page.
        sources.update({"script-src": [stripe], "frame-src": [stripe], "connect-src": [stripe]})
    if sources.get("frame-src"):
        sources["frame-src"].insert(0, "'self'")  # frame-src replaces default-src 'self' for frames
    if media_origin:
        sources["img-src"] = [media_origin]
    return sources


def dynamic_sources() -> dict[str, list[str]]:
    """The origins added to the fixed policy, per directive (cached per distinct settings)."""
    storage = json.dumps(settings.STORAGES["default"], sort_keys=True, default=str)
    return _sources(settings.STRIPE_JS_URL or "", _media_origin(storage, settings.MEDIA_URL))


@functools.lru_cache(maxsize=16)
def _media_origin(storage: str, media_url: str) -> str | None:
    """The host the photos are loaded from when it is not this site (an S3 bucket, or a CDN in front of one).
    ``storage`` (the default storage's settings) and ``media_url`` are the cache key."""
    if origin(media_url):
        return origin(media_url)
    if settings.STORAGES["default"]["BACKEND"] == "django.core.files.storage.FileSystemStorage":
        return None
    from django.core.files.storage import default_storage

    return origin(default_storage.url("csp-probe.jpg"))


class CSPMiddleware(BaseCSPMiddleware):
    """django-csp's middleware; the policy also names the Stripe and media origins of the current settings."""

    def get_policy_parts(self, request, response, report_only=False):
        parts = super().get_policy_parts(request, response, report_only=report_only)
        extra = dynamic_sources()
        if extra:
            update = {directive: list(values) for directive, values in (parts.update or {}).items()}
            for directive, values in extra.items():
                update[directive] = [*update.get(directive, []), *values]
            parts.update = update
        return parts


def api_request(request) -> bool:
    return request.path_info.startswith("/api/")


class RequestTooLargeMiddleware:
    """``413 {"code": "request_too_large", …}`` for an ``/api/`` request whose declared body exceeds
    ``DATA_UPLOAD_MAX_MEMORY_SIZE``, answered before any code reads the body. (A body that turns out too large
    while being read raises ``RequestDataTooBig``, which the API's exception handler maps to the same answer.)"""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        if limit is not None and api_request(request):
            try:
                length = int(request.META.get("CONTENT_LENGTH") or 0)
            except ValueError:
                length = 0
            if length > limit:
                return JsonResponse(request_too_large_body(), status=413)
        return self.get_response(request)
