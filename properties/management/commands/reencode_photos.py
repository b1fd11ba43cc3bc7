"""``python manage.py reencode_photos``: rewrite photos stored before uploads were re-encoded.

Every upload is stored re-encoded (``properties.images``); photos saved by an older version may still carry EXIF
(GPS), other metadata or trailing bytes. This command re-encodes each photo whose file name lacks the content hash
that re-encoded files get (``<name>-<12 hex>.jpg|png``), or every photo with ``--all``, saves the new file and
deletes the old one. Idempotent: a second run finds nothing to do. A file that cannot be read is reported and left.
"""

from __future__ import annotations

import re

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand
from django.db import transaction

from properties import services
from properties.models import PropertyPhoto

REENCODED_NAME = re.compile(r"-[0-9a-f]{12}\.(jpg|png)$")


class Command(BaseCommand):
    help = "Re-encode property photos stored before uploads were re-encoded (strips EXIF/GPS and payloads)."

    def add_arguments(self, parser):
        parser.add_argument("--all", action="store_true", help="Re-encode every photo, not only the old ones.")

    def handle(self, *args, **options):
        done = failed = 0
        for photo in PropertyPhoto.objects.order_by("pk").iterator():
            if not photo.image or (not options["all"] and REENCODED_NAME.search(photo.image.name)):
                continue
            old, old_renditions = photo.image.name, photo.renditions
            try:
                with photo.image.open("rb") as file, transaction.atomic():
                    photo.image.save(old.rsplit("/", 1)[-1], file, save=True)
            except (ValidationError, OSError) as exc:
                failed += 1
                self.stderr.write(f"Photo {photo.pk} ({old}): not re-encoded: {exc}")
                continue
            if photo.image.name != old:
                photo.image.storage.delete(old)
                services.delete_rendition_files(old_renditions)  # the new image gets its own after commit
            done += 1
        self.stdout.write(f"Re-encoded {done} photo(s); {failed} could not be read.")
