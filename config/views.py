"""Site-wide views that belong to no app: the favicon at ``/favicon.ico`` and the 403 page.

* ``/favicon.ico`` — browsers ask for it on every page that links none (the admin's, the API's JSON, the
  Swagger UI); the pages link ``static/favicon.svg`` with this ICO as the fallback. Served from the
  static files (one small file, read once), cached for a day.
* :func:`permission_denied` (``handler403``) — a refused request gets the layout of the part of the site
  it was made in: under ``/admin/`` the back office's (header, user links, breadcrumbs), elsewhere the
  guest site's, each with a plain message; never Django's bare "403 Forbidden". The API answers its own
  JSON 403s (``api.errors``).
"""

from __future__ import annotations

from functools import cache

from django.contrib import admin
from django.contrib.staticfiles import finders
from django.http import HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.cache import cache_control
from django.views.decorators.http import require_GET

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
    context = {"message": NO_ACCESS, "reason": reason if reason != NO_ACCESS else ""}
    if request.path.startswith(reverse("admin:index")):
        context.update(admin.site.each_context(request), title="No access")
        return render(request, "admin/forbidden.html", context, status=403)
    return render(request, "403.html", context, status=403)
