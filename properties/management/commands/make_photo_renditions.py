"""``python manage.py make_photo_renditions``: make the WebP renditions of photos stored before uploads got them.

Every upload gets its renditions after commit (``properties.services.make_photo_renditions``); this backfills the
photos that have none, or whose renditions were made from another image or lost their files. Idempotent: a second
run makes nothing. A file that cannot be read is reported and left (the pages then show the original).
"""

from __future__ import annotations

from django.core.management.base import BaseCommand

from properties import services
from properties.models import PropertyPhoto


class Command(BaseCommand):
    help = "Make the WebP renditions (srcset) of property photos that lack them."

    def handle(self, *args, **options):
        made = kept = failed = 0
        for photo_id in PropertyPhoto.objects.order_by("pk").values_list("pk", flat=True).iterator():
            try:
                changed = services.make_photo_renditions(photo_id)
            except (OSError, ValueError, SyntaxError) as exc:  # a missing or unreadable file
                failed += 1
                self.stderr.write(f"photo {photo_id}: {exc}")
                continue
            made, kept = (made + 1, kept) if changed else (made, kept + 1)
        self.stdout.write(f"Renditions made for {made} photo(s); {kept} already had them; {failed} failed.")
