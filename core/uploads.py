"""Private uploads: the one rule for files a guest or an owner sends us (payment proofs, message attachments).

* **What is accepted** (:func:`validate_upload`): recognised by *content*, never by name or declared type:
  PNG, JPEG or WebP images (opened and verified with Pillow) and, where the caller allows it, PDF documents
  (``%PDF-`` header and an ``%%EOF`` trailer); at most ``max_bytes`` (read at most one byte more, so a lying
  ``size`` cannot make us read a huge body).
* **Where it is stored**: :class:`PrivateStorage`, under ``PRIVATE_MEDIA_ROOT``, with no URL (never under
  ``MEDIA_URL``), under a random name chosen by the caller.
* **How it is served** (:func:`private_file_response`): only by a view that checked the permission (staff of the
  property, or the guest's signed token), ``nosniff``, ``private, no-store``; images inline, PDFs as a download
  (a PDF opened inline would run in our origin's viewer).
"""

from __future__ import annotations

import io
import os

from django.conf import settings
from django.core.files.storage import FileSystemStorage
from django.http import FileResponse
from django.utils.translation import gettext as _

from .errors import DomainError

IMAGE_TYPES = {"PNG": ("image/png", "png"), "JPEG": ("image/jpeg", "jpg"), "WEBP": ("image/webp", "webp")}
PDF_TYPE = ("application/pdf", "pdf")


class InvalidUpload(DomainError):
    code = "invalid_upload"
    http_status = 400
    default_detail = "This file cannot be accepted."


class PrivateStorage(FileSystemStorage):
    """Files under ``PRIVATE_MEDIA_ROOT`` (read at each use), with no URL: never under ``MEDIA_URL``."""

    @property
    def base_location(self):
        return str(settings.PRIVATE_MEDIA_ROOT)

    @property
    def location(self):
        return os.path.abspath(self.base_location)

    @property
    def base_url(self):
        return None


def private_storage() -> PrivateStorage:
    """The storage of private uploads (a callable, so that migrations do not freeze the path)."""
    return PrivateStorage()


def _too_large(limit: int, allow_pdf: bool) -> InvalidUpload:
    megabytes = limit // (1024 * 1024)
    if allow_pdf:
        return InvalidUpload(_("The file is too large: at most %(mb)s MB.") % {"mb": megabytes})
    return InvalidUpload(_("The image is too large: at most %(mb)s MB.") % {"mb": megabytes})


def _wrong_type(allow_pdf: bool) -> InvalidUpload:
    if allow_pdf:
        return InvalidUpload(_("This file is not a PNG, JPEG or WebP image or a PDF document."))
    return InvalidUpload(_("This file is not a PNG, JPEG or WebP image."))


def _is_pdf(data: bytes) -> bool:
    return data.startswith(b"%PDF-") and b"%%EOF" in data[-2048:]


def validate_upload(upload, *, max_bytes: int, allow_pdf: bool = False) -> tuple[bytes, str, str]:
    """The upload's bytes, content type and file extension, or :class:`InvalidUpload` (too large, or not one
    of the accepted kinds by content)."""
    if upload.size is not None and upload.size > max_bytes:
        raise _too_large(max_bytes, allow_pdf)
    data = upload.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise _too_large(max_bytes, allow_pdf)
    if allow_pdf and _is_pdf(data):
        return data, *PDF_TYPE
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(data)) as img:
            kind = img.format
            img.verify()
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError):
        raise _wrong_type(allow_pdf) from None
    if kind not in IMAGE_TYPES:
        raise _wrong_type(allow_pdf)
    content_type, ext = IMAGE_TYPES[kind]
    return data, content_type, ext


def private_file_response(fieldfile, *, content_type: str, filename: str) -> FileResponse:
    """Serve a private upload to a caller already allowed to see it: never cached, never sniffed; PDFs as a
    download."""
    content_type = content_type or "application/octet-stream"
    disposition = "inline" if content_type.startswith("image/") else "attachment"
    safe_name = "".join(c for c in filename if c.isalnum() or c in "-_.")[:100] or "file"
    response = FileResponse(fieldfile.open("rb"), content_type=content_type)
    response["Content-Disposition"] = f'{disposition}; filename="{safe_name}"'
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "private, no-store"
    return response
