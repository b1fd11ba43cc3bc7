"""Test settings: PostgreSQL and Redis on localhost unless DATABASE_URL / REDIS_URL say otherwise.

``make test`` also runs the tests marked ``sqlite`` against the embedded SQLite
default (``DATABASE_URL=sqlite:///...``) to prove it is correct too.
"""

import os

os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/stayhold")
os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/15")
os.environ.setdefault("CELERY_TASK_ALWAYS_EAGER", "true")
# The production log format, so tests/observability read the JSON lines the configured handler writes.
os.environ.setdefault("LOG_FORMAT", "json")
# No error reports from a test run, whatever a developer's .env says (tests/observability sets its own DSN).
os.environ.setdefault("SENTRY_DSN", "")
os.environ.setdefault("API_THROTTLE_CREATE", "100000/min")
# Tests sign users in with force_login; the MFA requirement for superusers has its own tests (tests/accounts),
# which switch it on with the `settings` fixture.
os.environ.setdefault("MFA_REQUIRED_FOR_SUPERUSERS", "false")
os.environ.setdefault("MFA_REQUIRED_FOR_STAFF", "false")
# Card payments against localstripe (each payments test session starts one on a free port, tests/conftest.py),
# whatever DJANGO_DEBUG says; the production modes have their own tests (tests/payments/test_stripe_mode.py).
os.environ.setdefault("STRIPE_MODE", "local")
# Channel platforms: nothing in the tests reaches the internet. A test that talks to a platform points the base URL
# at its emulator (tests/channels/api/conftest.py); anything else finds a closed local port (connection refused).
os.environ.setdefault("CHANNEX_BASE_URL", "http://127.0.0.1:9/api/v1")
os.environ.setdefault("GOOGLE_VR_BASE_URL", "http://127.0.0.1:9")
for _name in ("BOOKING_COM_AUTH_URL", "BOOKING_COM_SUPPLY_URL", "BOOKING_COM_SECURE_SUPPLY_URL"):
    os.environ.setdefault(_name, "http://127.0.0.1:9")

from .settings import *  # noqa: E402,F403
from .settings import DATABASES, STATIC_ROOT, VAR_DIR  # noqa: E402

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
MEDIA_ROOT = VAR_DIR / "test-media"
PRIVATE_MEDIA_ROOT = VAR_DIR / "test-private"
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # test-<name of the configured file>: var/db.sqlite3 → var/test-db.sqlite3; a run with its own
    # DATABASE_URL file gets its own test database (parallel runs do not share one file).
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / f"test-{os.path.basename(DATABASES['default']['NAME'])}")}
STATIC_ROOT.mkdir(parents=True, exist_ok=True)  # whitenoise warns on every request otherwise
