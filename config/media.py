"""Public uploads (property photos) served by the app itself when they live on the local disk.

``MEDIA_STORAGE=local`` (the default) keeps uploads under ``MEDIA_ROOT``; the Procfile's gunicorn serves them at
``MEDIA_URL`` through :func:`serve_public_media`, so a one-machine host needs nothing else (whitenoise cannot: it
indexes the files once at start-up, and photos are uploaded while the app runs). A busy site puts a caching proxy
or CDN in front of ``/media/``, or moves photos to a bucket (``MEDIA_STORAGE=s3``: the browsers then load them from
the bucket and this view is not routed).

What is served, and how:

* only regular files inside ``MEDIA_ROOT`` (after resolving ``..`` and symlinks), never anything under
  ``PRIVATE_MEDIA_ROOT`` (manual-payment proofs: their own permission-checked view), never a directory listing;
* only image types (by extension; the files themselves were re-encoded on upload, see ``properties.images``),
  with ``X-Content-Type-Options: nosniff``, so nothing in ``MEDIA_ROOT`` is ever served as a page or a script;
* ``Cache-Control: public, max-age=MEDIA_CACHE_SECONDS`` and ``Last-Modified`` (a conditional request gets 304).
"""

from __future__ import annotations

import posixpath
from pathlib import Path

from django.conf import settings
from django.http import FileResponse, Http404, HttpResponseNotModified
from django.urls import re_path
from django.utils.http import http_date
from django.views.decorators.http import require_safe
from django.views.static import was_modified_since

PUBLIC_TYPES = {
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".png": "image/png",
    ".webp": "image/webp",
    ".gif": "image/gif",
}


def public_media_file(path: str) -> Path | None:
    """The file under ``MEDIA_ROOT`` that ``path`` (the URL path after ``MEDIA_URL``) names, if it may be served."""
    if "\\" in path or "\x00" in path:
        return None
    normalized = posixpath.normpath(path).lstrip("/")
    if normalized.startswith("..") or any(part.startswith(".") for part in normalized.split("/")):
        return None  # ../escape, hidden files
    if posixpath.splitext(normalized)[1].lower() not in PUBLIC_TYPES:
        return None
    root = Path(settings.MEDIA_ROOT).resolve()
    private = Path(settings.PRIVATE_MEDIA_ROOT).resolve()
    candidate = (root / normalized).resolve()  # follows symlinks: the target must be inside MEDIA_ROOT too
    if not candidate.is_relative_to(root) or candidate.is_relative_to(private) or not candidate.is_file():
        return None
    return candidate


@require_safe
def serve_public_media(request, path):
    file = public_media_file(path)
    if file is None:
        raise Http404("No such file.")
    stat = file.stat()
    if not was_modified_since(request.META.get("HTTP_IF_MODIFIED_SINCE"), stat.st_mtime):
        response = HttpResponseNotModified()
    else:
        response = FileResponse(file.open("rb"), content_type=PUBLIC_TYPES[file.suffix.lower()])
        response["Content-Length"] = str(stat.st_size)
    response["Last-Modified"] = http_date(stat.st_mtime)
    response["Cache-Control"] = f"public, max-age={settings.MEDIA_CACHE_SECONDS}"
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"  # an image is all it may ever be
    return response


def media_urlpatterns() -> list:
    """The route of :func:`serve_public_media` when uploads are on the local disk under a local ``MEDIA_URL``."""
    if settings.MEDIA_STORAGE != "local" or not settings.MEDIA_URL.startswith("/"):
        return []
    prefix = settings.MEDIA_URL.strip("/")
    return [re_path(rf"^{prefix}/(?P<path>.+)$", serve_public_media, name="media")]
