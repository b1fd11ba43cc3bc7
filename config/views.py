"""Site-wide views that belong to no app: the favicon at ``/favicon.ico`` and the 403 page.

* ``/favicon.ico`` — browsers ask for it on every page that links none (the admin's, the API's JSON, the
  Swagger UI); the pages link ``static/favicon.svg`` with this ICO as the fallback. Served from the
  static files (one small file, read once), cached for a day.
* :func:`permission_denied` (``handler403``) — a refused request gets the layout of the part of the site
  it was made in: under ``/admin/`` the back office's (header, user links, breadcrumbs), elsewhere the
  guest site's, each with a plain message; never Django's bare "403 Forbidden". The API answers its own
  JSON 403s (``api.errors``).
* the error pages (``handler400``/``handler404``/``handler500``, ``CSRF_FAILURE_VIEW``): the guest site's layout
  and a plain message, each with the request's correlation id as the reference to quote (``core.correlation``,
  docs/logging.md), like the 403 page. The 500 page is rendered without the request, so it needs no session, user
  or database (they may be what failed).
"""

from __future__ import annotations

from functools import cache

from django.contrib import admin
from django.contrib.staticfiles import finders
from django.http import HttpResponse, HttpResponseServerError
from django.shortcuts import render
from django.template.loader import render_to_string
from django.urls import reverse
from django.views.decorators.cache import cache_control
from django.views.decorators.csrf import requires_csrf_token
from django.views.decorators.http import require_GET

from core.correlation import current_correlation_id

NO_ACCESS = "You do not have permission to open this page."


@cache
def _favicon_bytes() -> bytes:
    with open(finders.find("favicon.ico"), "rb") as icon:
        return icon.read()


@require_GET
@cache_control(public=True, max_age=86400)
def favicon(request):
    return HttpResponse(_favicon_bytes(), content_type="image/x-icon")


def permission_denied(request, exception=None):
    """The 403 page. The reason given with ``PermissionDenied("…")`` (written for people, e.g. "You may not
    view reports.") is shown under the plain message."""
    reason = str(exception or "").strip()
    context = {"message": NO_ACCESS, "reason": reason if reason != NO_ACCESS else "", "reference": reference(request)}
    if request.path.startswith(reverse("admin:index")):
        context.update(admin.site.each_context(request), title="No access")
        return render(request, "admin/forbidden.html", context, status=403)
    return render(request, "403.html", context, status=403)


def reference(request=None) -> str:
    """The id a visitor quotes when they report an error: the request's correlation id."""
    return current_correlation_id() or getattr(request, "request_id", "") or ""


@requires_csrf_token
def page_not_found(request, exception=None):
    return render(request, "404.html", {"reference": reference(request)}, status=404)


@requires_csrf_token
def bad_request(request, exception=None):
    return render(request, "400.html", {"reference": reference(request)}, status=400)


def csrf_failure(request, reason=""):
    """``CSRF_FAILURE_VIEW``: the form expired (or cookies are blocked); Django's reason goes to the log only."""
    return render(request, "403_csrf.html", {"reference": reference(request)}, status=403)


def server_error(request):
    """``handler500``. No request context: the page must render when the database or the session store is what
    failed. Should even that fail, a bare page that still names the reference."""
    ref = reference(request)
    try:
        return HttpResponseServerError(render_to_string("500.html", {"reference": ref}))
    except Exception:
        return HttpResponseServerError(f"<!doctype html><title>Server error</title><h1>Server error</h1>"
                                       f"<p>Reference: <code>{ref}</code></p>")
