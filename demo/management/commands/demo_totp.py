"""``python manage.py demo_totp``: the current TOTP code of the seeded demo admin (``seed_demo``).

Computed from the public demo secret only (``DEMO_ADMIN_TOTP_SECRET``), never
from a stored authenticator: it tells nothing about any real account.
"""

import time

from allauth.mfa.totp.internal.auth import format_hotp_value, hotp_value
from django.conf import settings
from django.core.management.base import BaseCommand

from .seed_demo import DEMO_ADMIN_TOTP_SECRET


class Command(BaseCommand):
    help = "Print the current TOTP code of the demo admin (admin@demo.stayhold.test)."

    def handle(self, *args, **options):
        period = getattr(settings, "MFA_TOTP_PERIOD", 30)
        now = int(time.time())
        code = format_hotp_value(hotp_value(DEMO_ADMIN_TOTP_SECRET, now // period))
        self.stdout.write(f"{code}  (valid for {period - now % period} more seconds)")
