"""Writes of the catalogue that others must hear about.

Changes of a property's prices, fees, pricing rules or date overrides announce
``pricing.updated`` in the transaction that made them (the channel feeds and
caches listen). Owner and channel blocks change occupancy: they are written by
``bookings.blocks``.

Photos: every upload gets WebP renditions (480/960/1600 px wide, never upscaled) made after its commit
(``make_photo_renditions``), which the guest pages offer in ``srcset`` (docs/accessibility.md).
"""

from __future__ import annotations

import io
import posixpath
from functools import partial
from typing import Any

from django.core.files.base import ContentFile
from django.db import transaction

from core import outbox

from . import images
from .models import PropertyPhoto


def announce_pricing(prop) -> None:
    """Call in the transaction that changed a property's prices, fees, pricing rules, date overrides, stay rules
    or status: ``pricing.updated`` tells the channels to push rates and rules again."""
    outbox.emit("pricing.updated", "property", prop.pk, {"property_id": prop.pk})


def make_photo_renditions(photo_id: int) -> bool:
    """Make the WebP renditions of a photo (``properties.images.webp_renditions``) and store them beside its
    original, in the same storage, named ``<original name without extension>-<width>w.webp``; record them in
    ``PropertyPhoto.renditions``. Called after every upload is committed (``properties.apps``) and by
    ``make_photo_renditions`` (the backfill command). Idempotent: nothing is written when the photo's renditions
    were made from its current image and their files exist; a file already stored under a rendition's name is
    reused (its name carries the original's content hash, so it holds the same pixels). Returns whether
    anything was made."""
    photo = PropertyPhoto.objects.filter(pk=photo_id).first()
    if photo is None or not photo.image:
        return False
    storage = photo.image.storage
    if photo.has_current_renditions() and all(storage.exists(r["name"]) for r in photo.renditions.get("webp", [])):
        return False
    with photo.image.open("rb") as stored:
        original, encoded = images.webp_renditions(io.BytesIO(stored.read()))
    stem = posixpath.splitext(photo.image.name)[0]
    entries = []
    for width, height, data in encoded:
        name = f"{stem}-{width}w.webp"
        if not storage.exists(name):
            name = storage.save(name, ContentFile(data))
        entries.append({"width": width, "height": height, "name": name})
    renditions: dict[str, Any] = {"source": photo.image.name, "width": original[0], "height": original[1],
                                  "webp": entries}
    # update(), not save(): no post_save again, and a concurrent replacement of the image is not overwritten
    # (the filter on the image name).
    PropertyPhoto.objects.filter(pk=photo.pk, image=photo.image.name).update(renditions=renditions)
    return True


def delete_rendition_files(renditions: dict) -> None:
    """Delete the files of ``renditions`` (a ``PropertyPhoto.renditions`` value): for a caller that deletes the
    original they were made from (``reencode_photos``). Django itself never deletes a replaced file, and neither
    does the upload path: a replaced image keeps its old renditions as it keeps its old original."""
    storage = PropertyPhoto._meta.get_field("image").storage
    for entry in (renditions or {}).get("webp", []):
        storage.delete(entry["name"])


def photo_saved(sender, instance, created=False, raw=False, **kwargs) -> None:
    """``post_save`` of ``PropertyPhoto`` (every upload: the admin's photo forms, ``seed_demo``, a shell): make
    its renditions once the upload is committed (no file written for a photo whose transaction rolls back)."""
    if raw or not instance.image or instance.has_current_renditions():
        return
    transaction.on_commit(partial(make_photo_renditions, instance.pk))
