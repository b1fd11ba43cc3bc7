"""Settings, read from the environment through django-environ.

Every variable has a default that works on a laptop with nothing installed:
a SQLite file under ``var/`` and kombu's filesystem transport as the Celery
broker (a real worker and beat still run). Set ``DATABASE_URL`` (PostgreSQL)
and ``REDIS_URL`` to use real services; production must also set
``DJANGO_SECRET_KEY`` and ``DJANGO_DEBUG=false``. Every variable is listed in
README.md and ``.env.example``.
"""

import os
from pathlib import Path

import environ
from csp.constants import NONCE, NONE, SELF, UNSAFE_INLINE

from config import queues
from core.logging import default_format as default_log_format
from core.logging import logging_config
from payments.stripe_mode import stripe_settings

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = BASE_DIR / "var"

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

DEV_SECRET_KEY = "dev-only-insecure-key-change-me-in-production-0123456789"  # noqa: S105 - refused by a check
SECRET_KEY = env.str("DJANGO_SECRET_KEY", default=DEV_SECRET_KEY)
DEBUG = env.bool("DJANGO_DEBUG", default=True)
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]", "testserver"])
CSRF_TRUSTED_ORIGINS = env.list("DJANGO_CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "config.apps.StayholdAdminConfig",  # django.contrib.admin with the back-office pages
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "csp",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_celery_beat",
    "allauth",
    "allauth.account",
    "allauth.mfa",
    "core",
    "guests",
    "properties",
    "bookings",
    "payments",
    "channels",
    "messaging",
    "reviews",
    "privacy",
    "storefront",
    "backoffice",
    "demo",
]

MIDDLEWARE = [
    "config.metrics.RequestMetricsMiddleware",  # api_request_duration_seconds: first, so it times the whole chain
    "config.health.ProbeMiddleware",  # /healthz, /readyz, /metrics answered by address, before host validation
    "core.middleware.RequestCauseMiddleware",  # X-Request-ID in and out; the cause of the audit rows written
    "django.middleware.security.SecurityMiddleware",
    "config.security.CSPMiddleware",
    "config.security.RequestTooLargeMiddleware",  # JSON 413 for oversized /api/ bodies, before anything reads them
    "config.middleware.ServiceUnavailableMiddleware",  # Redis/broker errors → JSON 503 / friendly 503 page
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    # The guest's language: the language cookie (the switch in the header), else Accept-Language, else English;
    # after sessions, before common (docs/i18n.md). The back office stays English (config.middleware).
    "django.middleware.locale.LocaleMiddleware",
    "config.middleware.BackOfficeInEnglishMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "allauth.account.middleware.AccountMiddleware",
]

ROOT_URLCONF = "config.urls"
CSRF_FAILURE_VIEW = "config.views.csrf_failure"  # the site's layout and the request's reference (docs/logging.md)
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",  # LANGUAGE_CODE, LANGUAGES: the header's language switch
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# --- Database ---------------------------------------------------------------------------------------------------------
DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'db.sqlite3'}")}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # The embedded default. BEGIN IMMEDIATE takes SQLite's write lock at the start
    # of every transaction, so booking transactions are serialized exactly like
    # PostgreSQL's property row lock serializes them (there is no exclusion
    # constraint on SQLite; the service's check under this lock is the guard).
    DATABASES["default"]["OPTIONS"] = {
        "transaction_mode": "IMMEDIATE",
        "timeout": 30,
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
else:
    # Connections (docs/deployment.md "Connection pooling"): by default each process keeps its connection for
    # DATABASE_CONN_MAX_AGE seconds. DATABASE_POOL_MAX_SIZE > 0 switches to Django's psycopg pool instead (one pool
    # per process, at most that many connections; Django refuses a pool together with persistent connections).
    # Behind pgbouncer in transaction mode set DATABASE_DISABLE_SERVER_SIDE_CURSORS=true: outside a transaction
    # .iterator() declares a WITH HOLD cursor that a later fetch may not find on the server connection pgbouncer
    # hands out next.
    if env.str("DATABASE_REPLICA_URL", default=""):
        # A streaming read replica of the primary: search, the calendar display and the iCal feed read from it
        # (core.replica); every write and every read inside a transaction stays on the primary.
        DATABASES["replica"] = env.db("DATABASE_REPLICA_URL")
    _pool_max_size = env.int("DATABASE_POOL_MAX_SIZE", default=0)
    for _database in DATABASES.values():
        if _pool_max_size > 0:
            _database["CONN_MAX_AGE"] = 0
            _database.setdefault("OPTIONS", {})["pool"] = {
                "min_size": min(env.int("DATABASE_POOL_MIN_SIZE", default=1), _pool_max_size),
                "max_size": _pool_max_size,
                "timeout": env.float("DATABASE_POOL_TIMEOUT_SECONDS", default=10.0),
            }
        else:
            _database.setdefault("CONN_MAX_AGE", env.int("DATABASE_CONN_MAX_AGE", default=60))
        _database["CONN_HEALTH_CHECKS"] = True
        _database["DISABLE_SERVER_SIDE_CURSORS"] = env.bool("DATABASE_DISABLE_SERVER_SIDE_CURSORS", default=False)
DATABASE_ROUTERS = ["core.replica.ReplicaRouter"]
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "guests.User"

# --- Redis, cache, Celery ---------------------------------------------------------------------------------------------
REDIS_URL = env.str("REDIS_URL", default="")
# Redis down must not fail a booking or a login (the database is the source of truth): a call that gets no
# connection within REDIS_TIMEOUT_SECONDS fails fast; the cache then serves from each process's memory for
# REDIS_RETRY_SECONDS before trying Redis again (config.cache), and a task that cannot be published after commit
# is logged and left to the outbox sweeper (core.outbox). README "When Redis is down".
REDIS_TIMEOUT_SECONDS = env.float("REDIS_TIMEOUT_SECONDS", default=1.0)
REDIS_RETRY_SECONDS = env.float("REDIS_RETRY_SECONDS", default=5.0)
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "config.cache.ResilientRedisCache",
            "LOCATION": REDIS_URL,
            "RETRY_AFTER": REDIS_RETRY_SECONDS,
            "OPTIONS": {"socket_connect_timeout": REDIS_TIMEOUT_SECONDS, "socket_timeout": REDIS_TIMEOUT_SECONDS},
        }
    }
    CELERY_BROKER_URL = REDIS_URL
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "socket_connect_timeout": REDIS_TIMEOUT_SECONDS,
        # A command (a publish on a connection that stopped answering) gives up too; above the worker's 1 s BRPOP.
        "socket_timeout": max(3.0, REDIS_TIMEOUT_SECONDS),
    }
else:
    # File cache: shared by the web, worker and beat processes of `make run`.
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": str(VAR_DIR / "cache"),
        }
    }
    CELERY_BROKER_URL = "filesystem://localhost//"  # a hostname, or kombu warns on every connection
    _queue_dir = VAR_DIR / "celery" / "queue"
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_queue_dir),
        "data_folder_out": str(_queue_dir),
        "control_folder": str(VAR_DIR / "celery" / "control"),
        "store_processed": False,
        "polling_interval": 0.1,  # seconds; the default 1 s lets a burst of outbox events queue up
    }
    # kombu's filesystem transport does not create its folders; every process (web, worker, beat) may be first.
    for _folder in (_queue_dir, VAR_DIR / "celery" / "control"):
        _folder.mkdir(parents=True, exist_ok=True)
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=False)
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_IGNORE_RESULT = True
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_TIMEZONE = "UTC"
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# Publishing (``.delay()`` after a commit, in a web request): one immediate retry (a pooled connection gone stale
# after a Redis restart), then give up; callers log it and the sweepers deliver from the database.
CELERY_BROKER_CONNECTION_TIMEOUT = REDIS_TIMEOUT_SECONDS
CELERY_TASK_PUBLISH_RETRY_POLICY = {"max_retries": 1, "interval_start": 0, "interval_step": 0, "interval_max": 0}
# Queues by kind (channel pushes, imports, emails, default) so that one kind cannot starve another; the table of
# which task goes where is config/queues.py. A worker without -Q consumes them all (make run, the Procfile).
CELERY_TASK_QUEUES = queues.TASK_QUEUES
CELERY_TASK_DEFAULT_QUEUE = queues.DEFAULT_QUEUE
CELERY_TASK_ROUTES = queues.TASK_ROUTES

# --- Auth -------------------------------------------------------------------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
# Every login goes through django-allauth (/accounts/login/): the admin's login page redirects there, so
# the back office gets its rate limits, mandatory email verification and MFA. Email is the identifier.
LOGIN_URL = "account_login"
AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",  # permissions (has_perm); logins go through allauth
    "allauth.account.auth_backends.AuthenticationBackend",  # the /accounts/ login
]
ACCOUNT_ADAPTER = "guests.adapter.AccountAdapter"  # after login: the back office for staff, else the bookings
ACCOUNT_LOGIN_METHODS = {"email"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "password1*", "password2*"]
ACCOUNT_USER_MODEL_USERNAME_FIELD = None
ACCOUNT_EMAIL_VERIFICATION = "mandatory"  # owners, staff and guests alike verify their address before signing in
ACCOUNT_UNIQUE_EMAIL = True
ACCOUNT_EMAIL_SUBJECT_PREFIX = "[Stayhold] "
LOGIN_REDIRECT_URL = "/account/bookings/"
ACCOUNT_LOGOUT_REDIRECT_URL = "/"
# Login throttling (allauth's rate limits, counted in the cache): failed logins per client IP and per
# account ("key" = the email typed), then "Too many failed login attempts". Other limits keep allauth's defaults.
ACCOUNT_RATE_LIMITS = {
    "login_failed": env.str("LOGIN_FAILED_RATE_LIMIT", default="10/m/ip,5/5m/key"),
    "reset_password": env.str("PASSWORD_RESET_RATE_LIMIT", default="20/m/ip,5/m/key"),
}
# Two-factor authentication (allauth.mfa): TOTP apps plus recovery codes, at /accounts/2fa/. Any back-office
# user may turn it on; superusers must, and with MFA_REQUIRED_FOR_STAFF every back-office account must. Such an
# account's session may use staff authority (admin, API, proof files) only once it has used its second factor
# (guests.authority: the one gate every privileged path asks).
MFA_SUPPORTED_TYPES = ["totp", "recovery_codes"]
MFA_TOTP_ISSUER = "Stayhold"
MFA_REQUIRED_FOR_SUPERUSERS = env.bool("MFA_REQUIRED_FOR_SUPERUSERS", default=True)
MFA_REQUIRED_FOR_STAFF = env.bool("MFA_REQUIRED_FOR_STAFF", default=False)

# --- I18n / time ------------------------------------------------------------------------------------------------------
# Guest pages and guest emails in four languages (docs/i18n.md). English when nothing else is asked. The choice lives
# in the language cookie (Django's set_language view, the switch in the site header), not in the URL: links in
# emails, iCal feeds and the API keep working whatever the language. A guest email is written in the booking's
# language (Booking.language), whatever the language of the request or task that sends it.
LANGUAGE_CODE = "en"
LANGUAGES = [
    ("en", "English"),
    ("de", "Deutsch"),
    ("fr", "Français"),
    ("es", "Español"),
]
LOCALE_PATHS = [BASE_DIR / "locale"]
LANGUAGE_COOKIE_NAME = "stayhold_language"
LANGUAGE_COOKIE_AGE = 365 * 24 * 3600  # a year: a guest who chose German once keeps it on their next visit
LANGUAGE_COOKIE_SAMESITE = "Lax"
TIME_ZONE = env.str("TIME_ZONE", default="UTC")
USE_I18N = True
USE_TZ = True

# --- Static and media -------------------------------------------------------------------------------------------------
STATIC_URL = "/static/"
# Where collectstatic writes (ops/build-assets.sh; the image collects at build time); empty = var/staticfiles.
STATIC_ROOT = Path(env.str("STATIC_ROOT", default="") or VAR_DIR / "staticfiles")
STATICFILES_DIRS = [BASE_DIR / "static"]
MEDIA_URL = "/media/"
MEDIA_ROOT = Path(env.str("MEDIA_ROOT", default="") or VAR_DIR / "media")  # empty (as in .env.example) = default
# Where uploads (property photos) live, see README "Running in production": "local" = files under MEDIA_ROOT, served
# by the app itself at MEDIA_URL (config.media.serve_public_media, behind the Procfile's gunicorn); "s3" = any
# S3-compatible bucket through django-storages (AWS S3, Cloudflare R2, Backblaze B2, MinIO, …; `pip install
# -e '.[s3]'` adds boto3), whose public URLs the browsers load directly.
MEDIA_STORAGE = env.str("MEDIA_STORAGE", default="local").lower()
MEDIA_CACHE_SECONDS = env.int("MEDIA_CACHE_SECONDS", default=7 * 24 * 3600)  # Cache-Control max-age of photos
# Uploaded photos are decoded and re-encoded (properties.images): no metadata, no trailing payload, at most this
# many pixels on the longer side; larger uploads are refused.
PHOTO_MAX_DIMENSION = env.int("PHOTO_MAX_DIMENSION", default=2560)
PHOTO_MAX_BYTES = env.int("PHOTO_MAX_BYTES", default=20 * 1024 * 1024)
if MEDIA_STORAGE == "s3":
    _media_backend = {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": env.str("AWS_STORAGE_BUCKET_NAME", default=""),
            "access_key": env.str("AWS_ACCESS_KEY_ID", default="") or None,  # None: boto3's own lookup (IAM role)
            "secret_key": env.str("AWS_SECRET_ACCESS_KEY", default="") or None,
            "region_name": env.str("AWS_S3_REGION_NAME", default="") or None,
            "endpoint_url": env.str("AWS_S3_ENDPOINT_URL", default="") or None,  # R2, B2, MinIO, …
            "custom_domain": env.str("AWS_S3_CUSTOM_DOMAIN", default="") or None,  # a CDN in front of the bucket
            "location": env.str("AWS_LOCATION", default=""),  # a key prefix inside the bucket
            # Photos are public: plain, cacheable URLs (no signatures that expire inside cached pages).
            "querystring_auth": False,
            "file_overwrite": False,
            "object_parameters": {"CacheControl": f"public, max-age={MEDIA_CACHE_SECONDS}"},
        },
    }
else:
    _media_backend = {"BACKEND": "django.core.files.storage.FileSystemStorage"}
STORAGES = {
    "default": _media_backend,
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}

# --- Client addresses -------------------------------------------------------------------------------------------------
# The proxies in front of the app (IPs or CIDR networks; "unix" for a proxy on gunicorn's Unix socket). Only
# requests from them have their X-Forwarded-For read; the client is its right-most address that is not one of
# them (core.client_address). Default none: a directly exposed gunicorn uses REMOTE_ADDR. Every rate limit
# and audit row uses it. README "Client addresses behind a proxy".
TRUSTED_PROXIES = env.list("TRUSTED_PROXIES", default=[])

# --- Security (production) --------------------------------------------------------------------------------------------
# Production runs behind TLS (README "Running in production"): plain HTTP is redirected, browsers are told to use
# HTTPS only (HSTS), and cookies are sent over HTTPS only. A TLS-terminating proxy in front must set
# X-Forwarded-Proto (overwriting whatever the client sent), or every request looks insecure and is redirected.
# These settings are read only when DEBUG is off (`make run` serves plain HTTP).
if not DEBUG:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = env.bool("DJANGO_SECURE_SSL_REDIRECT", default=True)
    SECURE_HSTS_SECONDS = env.int("DJANGO_HSTS_SECONDS", default=365 * 24 * 3600)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("DJANGO_HSTS_INCLUDE_SUBDOMAINS", default=True)
    SECURE_HSTS_PRELOAD = env.bool("DJANGO_HSTS_PRELOAD", default=True)
    SESSION_COOKIE_SECURE = env.bool("DJANGO_SECURE_COOKIES", default=True)
    CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
# Content-Security-Policy (django-csp; config.security.CSPMiddleware adds the Stripe.js and media origins derived
# from the settings at request time). No inline script anywhere: every script is a file under static/. Style
# attributes are allowed (the back-office timeline places its bars with them); <style> elements are not.
# (No CSP_* setting names: django-csp 4 refuses its old settings.)
_csp_report_only = env.bool("CSP_REPORT_ONLY", default=False)  # report violations instead of blocking (rollouts)
_csp = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF, NONCE],
        "style-src": [SELF, NONCE],
        "style-src-attr": [UNSAFE_INLINE],
        "img-src": [SELF, "data:"],  # data: = the TOTP QR code of allauth.mfa and Swagger UI's icons
        "connect-src": [SELF],
        "object-src": [NONE],
        "base-uri": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
        "report-uri": env.list("CSP_REPORT_URI", default=[]) or None,
    },
}
CONTENT_SECURITY_POLICY_REPORT_ONLY = _csp if _csp_report_only else None
CONTENT_SECURITY_POLICY = None if _csp_report_only else _csp

# --- REST API ---------------------------------------------------------------------------------------------------------
API_THROTTLE_CREATE = env.str("API_THROTTLE_CREATE", default="60/min")
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        # Session only: the login (allauth) is where throttling, email verification and MFA apply, and HTTP Basic
        # would bypass all three. Machine clients (API keys) are not offered: no API client needs one yet.
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.AllowAny"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "api.errors.api_exception_handler",
    "DEFAULT_THROTTLE_RATES": {"create": API_THROTTLE_CREATE},
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Stayhold API",
    "DESCRIPTION": "Properties, availability, quotes, holds and bookings.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # Three choice sets share the field name "status"; name their enums explicitly.
    "ENUM_NAME_OVERRIDES": {
        "PropertyStatusEnum": "properties.models.Property.Status",
        "BookingStatusEnum": "bookings.models.BookingStatus",
        "StatusChangeEnum": "api.serializers.STATUS_CHANGE_CHOICES",
    },
    # PATCH /bookings/{reference}/status requires "status": no "Patched…" copy with every field optional.
    "COMPONENT_SPLIT_PATCH": False,
    # Relative example dates and the 414 of the server in front (api/schema.py).
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "api.schema.postprocess",
    ],
}

# --- Booking rules ----------------------------------------------------------------------------------------------------
# How long a direct reservation holds its dates while the guest pays by card.
BOOKING_HOLD_MINUTES = env.int("BOOKING_HOLD_MINUTES", default=30)
# How long a hold created through POST /api/v1/holds lasts.
API_HOLD_MINUTES = env.int("API_HOLD_MINUTES", default=15)
# How long an Idempotency-Key and its stored response are kept.
IDEMPOTENCY_KEY_TTL_HOURS = env.int("IDEMPOTENCY_KEY_TTL_HOURS", default=24)
# Outbox events older than this and still undelivered are picked up by the sweeper.
OUTBOX_REDELIVER_AFTER_SECONDS = env.int("OUTBOX_REDELIVER_AFTER_SECONDS", default=30)
# After an event commits, how long the process's outbox publisher waits for more before it sends them as one
# message (core.outbox.Publisher): a few milliseconds of delivery latency for far less CPU per booking.
OUTBOX_PUBLISH_LINGER_MS = env.int("OUTBOX_PUBLISH_LINGER_MS", default=10)

# --- Operations: metrics, health checks (docs/operations.md) -----------------------------------------------------
# /metrics answers a request with "Authorization: Bearer <METRICS_TOKEN>" or from an address in
# METRICS_ALLOWED_NETWORKS (comma-separated IPs/CIDRs, e.g. 10.0.0.0/8). With neither set, only DEBUG serves it:
# production refuses every scrape (403) until one is configured.
METRICS_TOKEN = env.str("METRICS_TOKEN", default="")
METRICS_ALLOWED_NETWORKS = env.list("METRICS_ALLOWED_NETWORKS", default=[])
# A Celery worker serves its own processes' metrics on this port (0: not served). Gunicorn workers and Celery
# prefork children share their values through PROMETHEUS_MULTIPROC_DIR, an environment variable read by the client
# library itself (one directory per kind of process; emptied at start: config.gunicorn_hooks, config.celery_metrics).
METRICS_WORKER_PORT = env.int("METRICS_WORKER_PORT", default=0)
# Card payments still pending or requiring action this long after they started count as stuck (operations page,
# card_payments_stuck).
OPS_PAYMENT_STUCK_AFTER_MINUTES = env.int("OPS_PAYMENT_STUCK_AFTER_MINUTES", default=30)
# /readyz: beat sends a heartbeat every minute and a worker runs it; older than this, beat or the worker is "gone".
HEALTH_HEARTBEAT_MAX_AGE_SECONDS = env.int("HEALTH_HEARTBEAT_MAX_AGE_SECONDS", default=180)
# /readyz fails from this many undelivered outbox events (a stuck worker or consumer; the sweeper is every minute).
HEALTH_OUTBOX_BACKLOG_MAX = env.int("HEALTH_OUTBOX_BACKLOG_MAX", default=1000)
# /readyz gives the database this long to answer SELECT 1.
HEALTH_DATABASE_TIMEOUT_SECONDS = env.float("HEALTH_DATABASE_TIMEOUT_SECONDS", default=2.0)

# --- Logs, traces, error reports (docs/logging.md) --------------------------------------------------------------------
# One line per event on standard error, through structlog for every logger (Django's, Celery's, the libraries'):
# LOG_FORMAT "json" (production: one JSON object per line with timestamp, level, logger, event, correlation_id) or
# "console" (readable columns for `make run`); default console with DEBUG on, else json. Personal data and secrets are
# redacted on the way out (core.redaction). The worker and beat use the same configuration (config.celery).
LOG_FORMAT = env.str("LOG_FORMAT", default="") or default_log_format(DEBUG)
LOG_LEVEL = env.str("LOG_LEVEL", default="INFO")
LOGGING = logging_config(LOG_FORMAT, LOG_LEVEL)
# Error reports to Sentry (core.telemetry): on when SENTRY_DSN is set; no personal data is collected or sent.
SENTRY_DSN = env.str("SENTRY_DSN", default="")
SENTRY_ENVIRONMENT = env.str("SENTRY_ENVIRONMENT", default="")
SENTRY_RELEASE = env.str("SENTRY_RELEASE", default="")
# Tracing (OpenTelemetry) has no setting of its own: the standard OTEL_* variables turn it on (core.telemetry).

# --- Payments ---------------------------------------------------------------------------------------------------------
# STRIPE_MODE (payments/stripe_mode.py): "local" = localstripe, the fake Stripe server that `make run` starts on
# 127.0.0.1:STRIPE_LOCAL_PORT (payments/localstripe_server.py) with keys published in this repository, so booking
# and paying work offline; "live" = real Stripe with STRIPE_SECRET_KEY, STRIPE_PUBLISHABLE_KEY and
# STRIPE_WEBHOOK_SECRET; "off" = no card payment, the webhook refuses every event. Unset: live with a secret key,
# else local with DEBUG on, else off: production never falls back to a known secret.
_stripe = stripe_settings(os.environ, debug=DEBUG)
STRIPE_MODE = _stripe["STRIPE_MODE"]
STRIPE_MODE_EXPLICIT = _stripe["STRIPE_MODE_EXPLICIT"]  # STRIPE_MODE=off set on purpose (manual payments only)
STRIPE_LOCAL = _stripe["STRIPE_LOCAL"]  # STRIPE_MODE == "local"
STRIPE_LOCAL_PORT = _stripe["STRIPE_LOCAL_PORT"]
STRIPE_SECRET_KEY = _stripe["STRIPE_SECRET_KEY"]
STRIPE_PUBLISHABLE_KEY = _stripe["STRIPE_PUBLISHABLE_KEY"]
STRIPE_WEBHOOK_SECRET = _stripe["STRIPE_WEBHOOK_SECRET"]
STRIPE_API_BASE = _stripe["STRIPE_API_BASE"]  # empty = the real https://api.stripe.com
STRIPE_JS_URL = _stripe["STRIPE_JS_URL"]
# Card attempts per reservation; after the last failure the reservation is released.
PAYMENT_MAX_ATTEMPTS = env.int("PAYMENT_MAX_ATTEMPTS", default=3)
# Payment attempts per client (IP) and booking page: a django-ratelimit-style "N/period".
PAYMENT_THROTTLE = env.str("PAYMENT_THROTTLE", default="10/min")
# Every call to Stripe: seconds to connect and to read (the library's own default is 80), and how many times the
# library retries a failed call (every POST carries an idempotency key). No Stripe call runs under a database lock.
STRIPE_TIMEOUT_SECONDS = env.float("STRIPE_TIMEOUT_SECONDS", default=10.0)
STRIPE_MAX_NETWORK_RETRIES = env.int("STRIPE_MAX_NETWORK_RETRIES", default=1)
# Manual payments (Cash App, Zelle, Venmo, bank transfer): how long the reservation is held for one,
# where proof uploads are stored (private: never under MEDIA_ROOT/MEDIA_URL), and the claim/upload rate per client.
MANUAL_PAYMENT_TIMEOUT_HOURS = env.int("MANUAL_PAYMENT_TIMEOUT_HOURS", default=24)
PRIVATE_MEDIA_ROOT = env.path("PRIVATE_MEDIA_ROOT", default=str(VAR_DIR / "private"))
MANUAL_PAYMENT_PROOF_MAX_BYTES = env.int("MANUAL_PAYMENT_PROOF_MAX_BYTES", default=5 * 1024 * 1024)
MANUAL_PAYMENT_THROTTLE = env.str("MANUAL_PAYMENT_THROTTLE", default="10/h")

# --- Privacy (GDPR, docs/privacy.md) ----------------------------------------------------------------------------------
# The retention job (privacy.tasks.erase_expired_guests, daily) anonymises the guests whose last stay ended more than
# this many years ago and who have nothing pending. The accounting records themselves (bookings, payments, refunds)
# are kept, with the person replaced by a pseudonym, for as long as the law requires (10 years: docs/privacy.md).
GUEST_RETENTION_YEARS = env.int("GUEST_RETENTION_YEARS", default=3)

# --- Email ------------------------------------------------------------------------------------------------------------
# EMAIL_URL (django-environ's email_url): empty = print emails on the console (development);
# e.g. smtp+tls://user:password@smtp.example.com:587 or smtp+ssl://…:465 for SMTP.
vars().update(environ.Env.email_url_config(env.str("EMAIL_URL", default="") or "consolemail://"))
# Seconds every SMTP socket operation (connect, each command, the data) may take before the send fails:
# a slow mail server must not hold a worker forever (Django's default is no timeout at all).
EMAIL_TIMEOUT = env.float("EMAIL_TIMEOUT", default=10.0)
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="Stayhold <bookings@stayhold.localhost>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL
# The site's public address: the guest portal links in emails are absolute URLs under it. By default the
# address `make run` serves (honcho gives every process WEB_PORT), so the worker's emails link to the right port.
SITE_URL = env.str("SITE_URL", default=f"http://127.0.0.1:{env.str('WEB_PORT', default='8000')}").rstrip("/")
# The pre-arrival reminder goes out this many days before arrival (property-local dates).
PRE_ARRIVAL_REMINDER_DAYS = env.int("PRE_ARRIVAL_REMINDER_DAYS", default=3)
# Messages a guest may send the owner from the portal, per booking and hour.
GUEST_MESSAGES_PER_HOUR = env.int("GUEST_MESSAGES_PER_HOUR", default=10)
# Message attachments (messaging): images or PDF, private, the same rule as payment proofs (core.uploads).
MESSAGE_ATTACHMENT_MAX_BYTES = env.int("MESSAGE_ATTACHMENT_MAX_BYTES", default=MANUAL_PAYMENT_PROOF_MAX_BYTES)

# --- Channels (iCal sync) ---------------------------------------------------------------------------------------------
# Fernet key(s) for secrets at rest (channel import URLs, export tokens): comma-separated, the first encrypts,
# all decrypt (rotation). Empty = a key derived from DJANGO_SECRET_KEY (changing that then loses the secrets).
FIELD_ENCRYPTION_KEY = env.str("FIELD_ENCRYPTION_KEY", default="")
# Import (channels.fetch / channels.sync): every connection is polled every poll_interval_minutes (default 10),
# plus up to this much random jitter so that a thousand feeds are not fetched in the same second.
CHANNEL_POLL_JITTER_SECONDS = env.int("CHANNEL_POLL_JITTER_SECONDS", default=120)
CHANNEL_FETCH_TIMEOUT_SECONDS = env.float("CHANNEL_FETCH_TIMEOUT_SECONDS", default=15.0)
CHANNEL_FETCH_MAX_BYTES = env.int("CHANNEL_FETCH_MAX_BYTES", default=5 * 1024 * 1024)
CHANNEL_FETCH_MAX_REDIRECTS = env.int("CHANNEL_FETCH_MAX_REDIRECTS", default=3)
# Airbnb answers 403 to requests without a User-Agent.
CHANNEL_FETCH_USER_AGENT = env.str("CHANNEL_FETCH_USER_AGENT",
                                   default="Stayhold-CalendarSync/1.0 (+https://stayhold.example/ical)")
# SSRF guard: import URLs must be http(s) on public addresses unless this is on (tests, a LAN feed).
CHANNEL_ALLOW_PRIVATE_URLS = env.bool("CHANNEL_ALLOW_PRIVATE_URLS", default=False)
# A snapshot that would cancel more than this share of a connection's future imported stays at once (and at
# least CHANNEL_CANCEL_GUARD_MIN of them) holds those cancellations back (new and moved stays still apply) and
# raises a warning: a feed that lost its events. So does an empty calendar from a connection with future stays.
CHANNEL_CANCEL_GUARD_SHARE = env.float("CHANNEL_CANCEL_GUARD_SHARE", default=0.5)
CHANNEL_CANCEL_GUARD_MIN = env.int("CHANNEL_CANCEL_GUARD_MIN", default=3)
# A held-back cancellation is applied only when this many further consecutive fetches still leave the stay out.
CHANNEL_CANCEL_CONFIRM_FETCHES = env.int("CHANNEL_CANCEL_CONFIRM_FETCHES", default=3)
# A 429/503 with Retry-After delays the connection's next poll by that long, capped at this (absurd values).
CHANNEL_RETRY_AFTER_MAX_SECONDS = env.int("CHANNEL_RETRY_AFTER_MAX_SECONDS", default=6 * 3600)
CHANNEL_SYNC_RUN_RETENTION_DAYS = env.int("CHANNEL_SYNC_RUN_RETENTION_DAYS", default=30)

# --- Channels (API connections: channels.adapters, channels.api_sync) -------------------------------------------------
# Base URLs of the platforms' APIs. With DEBUG on (`make run`) they default to the local emulators that
# Procfile.dev starts (channels.emulators), so that nothing reaches the internet; the tests point them at theirs.
CHANNEX_BASE_URL = env.str("CHANNEX_BASE_URL", default="http://127.0.0.1:8431/api/v1" if DEBUG
                           else "https://app.channex.io/api/v1")  # staging: https://staging.channex.io/api/v1
# Booking.com connectivity (channels.adapters.booking_com): the token exchange, ARI (OTA_HotelAvailNotif,
# OTA_HotelRateAmountNotif) and reservations (OTA_HotelResNotif, OTA_HotelResModifyNotif), each a host without a path;
# with DEBUG on, all three are the local emulator (one server models them all).
BOOKING_COM_AUTH_URL = env.str("BOOKING_COM_AUTH_URL", default="http://127.0.0.1:8432" if DEBUG
                               else "https://connectivity-authentication.booking.com")
BOOKING_COM_SUPPLY_URL = env.str("BOOKING_COM_SUPPLY_URL", default="http://127.0.0.1:8432" if DEBUG
                                 else "https://supply-xml.booking.com")
BOOKING_COM_SECURE_SUPPLY_URL = env.str("BOOKING_COM_SECURE_SUPPLY_URL", default="http://127.0.0.1:8432" if DEBUG
                                        else "https://secure-supply-xml.booking.com")
# Google Vacation Rentals (Hotel Center ARI push, channels.adapters.google_vr): the XML uploads go to
# <base>/travel/hotels/uploads/...; Google allowlists the sending servers' IP addresses (Hotel Center, Prices >
# Settings) instead of a token.
GOOGLE_VR_BASE_URL = env.str("GOOGLE_VR_BASE_URL", default="http://127.0.0.1:8433" if DEBUG
                             else "https://www.google.com")
CHANNEL_API_CONNECT_TIMEOUT_SECONDS = env.float("CHANNEL_API_CONNECT_TIMEOUT_SECONDS", default=5.0)
CHANNEL_API_TIMEOUT_SECONDS = env.float("CHANNEL_API_TIMEOUT_SECONDS", default=20.0)
# A change is pushed this long after its event, so that a burst for one property becomes one push.
CHANNEL_ARI_COALESCE_SECONDS = env.float("CHANNEL_ARI_COALESCE_SECONDS", default=0.5)
# One worker pushes a connection at a time; a worker that dies frees it after this long.
CHANNEL_PUSH_LEASE_SECONDS = env.int("CHANNEL_PUSH_LEASE_SECONDS", default=120)
# Retries: exponential backoff with jitter from 2 s, capped; a platform's Retry-After wins when it says more.
CHANNEL_PUSH_BACKOFF_MAX_SECONDS = env.int("CHANNEL_PUSH_BACKOFF_MAX_SECONDS", default=600)
# The circuit breaker opens after this many consecutive failed pushes (at once for refused credentials), and lets
# one probe through after the cool-down.
CHANNEL_BREAKER_THRESHOLD = env.int("CHANNEL_BREAKER_THRESHOLD", default=5)
CHANNEL_BREAKER_COOLDOWN_SECONDS = env.int("CHANNEL_BREAKER_COOLDOWN_SECONDS", default=300)
# Redis configured but unreachable: the shared rate limits cannot be counted, so pushes wait this long.
CHANNEL_LIMIT_UNAVAILABLE_WAIT_SECONDS = env.int("CHANNEL_LIMIT_UNAVAILABLE_WAIT_SECONDS", default=5)

