"""Uploaded photos are decoded and stored as freshly encoded images, whatever path they come in by.

:class:`PhotoField` (``PropertyPhoto.image``) re-encodes in :meth:`PhotoFieldFile.save`, the one call every upload
goes through: an admin form (the property's photo inline, the photo admin), ``seed_demo``, a shell. So a stored photo

* holds only the decoded pixels: no EXIF (camera, GPS position of the owner's home), no XMP/IPTC, no comments, no
  ICC profile (colours are converted to sRGB first, then the profile is dropped);
* cannot be a polyglot: bytes appended to or hidden in the upload (an HTML page, a ZIP, a script) are not pixels
  and are not written back;
* is at most ``PHOTO_MAX_DIMENSION`` pixels on its longer side (the camera's orientation applied first);
* is a JPEG (quality 85), or a PNG when the image has transparency; an animation keeps its first frame;
* is named ``<name>-<hash of its bytes>.<ext>``: a new photo never reuses an old URL, so caches may keep it long.

Anything Pillow cannot decode, larger than ``PHOTO_MAX_BYTES``, or a decompression bomb (more than Pillow's
``MAX_IMAGE_PIXELS``) is refused with a ``ValidationError`` (shown on the admin form, by :func:`validate_photo`).
"""

from __future__ import annotations

import hashlib
import io
import posixpath
import warnings

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.db import models
from django.db.models.fields.files import ImageFieldFile
from django.utils.text import slugify

JPEG_QUALITY = 85


def _has_alpha(img) -> bool:
    return img.mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in img.info


def _to_srgb(img, mode: str, icc: bytes | None):
    """``img`` in ``mode`` (RGB or RGBA), converted through the upload's ICC profile when it had one."""
    from PIL import ImageCms

    if icc:
        try:
            source = ImageCms.ImageCmsProfile(io.BytesIO(icc))
            return ImageCms.profileToProfile(img, source, ImageCms.createProfile("sRGB"), outputMode=mode)
        except (ImageCms.PyCMSError, OSError, ValueError, TypeError):
            pass  # a broken or unusual profile: plain conversion below
    return img.convert(mode)


def reencode_image(content, *, max_dimension: int | None = None) -> tuple[bytes, str]:
    """Decode ``content`` (a file object) and encode its pixels again: ``(bytes, ".jpg" | ".png")``.

    Raises ``ValidationError`` when it is not an image Pillow decodes, or is too large."""
    from PIL import Image, ImageOps, UnidentifiedImageError

    max_bytes = settings.PHOTO_MAX_BYTES
    size = getattr(content, "size", None)
    if size is not None and size > max_bytes:
        raise ValidationError(f"The image is too large: at most {max_bytes // (1024 * 1024)} MB.", code="too_large")
    max_dimension = max_dimension or settings.PHOTO_MAX_DIMENSION
    if hasattr(content, "seek"):
        content.seek(0)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)  # a bomb is refused, not just logged
            with Image.open(content) as upload:
                upload.draft(upload.mode, (max_dimension, max_dimension))  # JPEG: decode at a smaller scale
                upload.seek(0)  # the first frame of an animation
                upload.load()
                mode = "RGBA" if _has_alpha(upload) else "RGB"
                icc = upload.info.get("icc_profile")
                img = ImageOps.exif_transpose(upload)  # the camera's orientation, before EXIF is dropped
                img = _to_srgb(img, mode, icc)
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError, Image.DecompressionBombError,
            Image.DecompressionBombWarning):
        raise ValidationError("This file is not an image we can read (JPEG, PNG, WebP or GIF).",
                              code="invalid_image") from None
    img.thumbnail((max_dimension, max_dimension), Image.Resampling.LANCZOS)
    # A new image from the raw pixels alone: nothing of the upload's metadata (info, EXIF, text chunks) is kept.
    clean = Image.frombytes(img.mode, img.size, img.tobytes())
    out = io.BytesIO()
    if mode == "RGBA":
        clean.save(out, format="PNG", optimize=True)
        return out.getvalue(), ".png"
    clean.save(out, format="JPEG", quality=JPEG_QUALITY, optimize=True, progressive=True)
    return out.getvalue(), ".jpg"


def validate_photo(value) -> None:
    """Model-field validator: refuse (as a form error) what :meth:`PhotoFieldFile.save` could not store."""
    file = getattr(value, "_file", None)  # only a new, not yet stored upload
    if file is not None and not getattr(value, "_committed", True):
        reencode_image(file)


class PhotoFieldFile(ImageFieldFile):
    def save(self, name, content, save=True):
        data, ext = reencode_image(content)
        stem = slugify(posixpath.splitext(posixpath.basename(name or ""))[0])[:40] or "photo"
        digest = hashlib.sha256(data).hexdigest()[:12]
        super().save(f"{stem}-{digest}{ext}", ContentFile(data), save=save)

    save.alters_data = True


class PhotoField(models.ImageField):
    """An ``ImageField`` whose uploads are stored re-encoded (see the module docstring)."""

    attr_class = PhotoFieldFile
    default_validators = [validate_photo]


WEBP_QUALITY = 80
RENDITION_WIDTHS = (480, 960, 1600)  # the widths the pages ask for (sizes: a search card, half/full page width)


def webp_renditions(content, widths=RENDITION_WIDTHS) -> tuple[tuple[int, int], list[tuple[int, int, bytes]]]:
    """WebP encodings of a stored photo (already re-encoded, so already clean) at each of ``widths`` narrower
    than it, and at its own width when that is under the widest: ``((width, height), [(w, h, bytes), ...])``,
    narrowest first. Never upscaled."""
    from PIL import Image

    if hasattr(content, "seek"):
        content.seek(0)
    with Image.open(content) as source:
        source.load()
        original = source.size
        mode = "RGBA" if _has_alpha(source) else "RGB"
        img = source.convert(mode)
    width, height = original
    targets = sorted({w for w in widths if w < width} | ({width} if width <= max(widths) else set()))
    out = []
    for target in targets:
        scaled = img if target == width else img.resize(
            (target, max(1, round(height * target / width))), Image.Resampling.LANCZOS)
        buffer = io.BytesIO()
        scaled.save(buffer, format="WEBP", quality=WEBP_QUALITY, method=6)
        out.append((scaled.width, scaled.height, buffer.getvalue()))
    return original, out
