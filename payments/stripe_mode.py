"""How the app reaches Stripe: ``STRIPE_MODE`` = ``local`` | ``live`` | ``off``, decided once when settings load.

* ``local``: localstripe, the fake Stripe server that ``make run`` starts (``payments/localstripe_server.py``),
  with the keys ``sk_test_local`` / ``pk_test_local`` / ``whsec_local``. These keys are published in this
  repository, so anyone can sign a webhook event for it: a development tool, never for a public site.
* ``live``: the real Stripe API (test or live keys) with ``STRIPE_SECRET_KEY``, ``STRIPE_PUBLISHABLE_KEY`` and
  ``STRIPE_WEBHOOK_SECRET``; nothing is filled in for a missing one.
* ``off``: no card payment. The payment page offers the owner's manual methods (Cash App, Zelle, Venmo, bank
  transfer) or says that card payment is not set up; the webhook endpoint refuses every event.

Unset (the default): ``live`` when ``STRIPE_SECRET_KEY`` is set, else ``local`` with ``DEBUG`` on (``make run``,
the tests), else ``off``. So a production server (``DEBUG`` off) never falls back to a known secret; it uses the
local keys only when told to with ``STRIPE_MODE=local``. ``manage.py check --deploy`` reports what is missing
(``config/checks.py``).
"""

from __future__ import annotations

from collections.abc import Mapping

from django.core.exceptions import ImproperlyConfigured

LOCAL, LIVE, OFF = "local", "live", "off"
MODES = (LOCAL, LIVE, OFF)

# localstripe accepts any sk_/pk_ key; the webhook secret is the one payments.localstripe_server registers.
LOCAL_SECRET_KEY = "sk_test_local"  # noqa: S105 - public on purpose: the fake Stripe of development
LOCAL_PUBLISHABLE_KEY = "pk_test_local"
LOCAL_WEBHOOK_SECRET = "whsec_local"  # noqa: S105 - public on purpose; refused without DEBUG (config.checks)
STRIPE_JS_URL = "https://js.stripe.com/v3/"


def stripe_mode_from_env(requested: str, *, debug: bool, secret_key: str) -> str:
    """The mode: ``requested`` (``STRIPE_MODE``) when set, else live with a secret key, else local only with DEBUG."""
    mode = (requested or "").strip().lower()
    if mode:
        if mode not in MODES:
            raise ImproperlyConfigured(f"STRIPE_MODE must be one of {', '.join(MODES)}, not {requested!r}.")
        return mode
    if secret_key:
        return LIVE
    return LOCAL if debug else OFF


def stripe_settings(environ: Mapping[str, str], *, debug: bool) -> dict:
    """Every ``STRIPE_*`` setting from the environment (``environ``: ``os.environ`` or a plain dict in tests).

    Only the local mode fills in keys (localstripe's, above) and points the API and Stripe.js at localstripe;
    an explicit ``STRIPE_*`` variable always wins."""

    def get(name: str, default: str = "") -> str:
        return (environ.get(name) or "").strip() or default

    requested = get("STRIPE_MODE")
    mode = stripe_mode_from_env(requested, debug=debug, secret_key=get("STRIPE_SECRET_KEY"))
    local = mode == LOCAL
    port = int(get("STRIPE_LOCAL_PORT", "8420"))
    local_base = f"http://127.0.0.1:{port}" if local else ""
    return {
        "STRIPE_MODE": mode,
        "STRIPE_MODE_EXPLICIT": bool(requested),  # STRIPE_MODE=off on purpose: no deploy-check error for it
        "STRIPE_LOCAL": local,
        "STRIPE_LOCAL_PORT": port,
        "STRIPE_SECRET_KEY": get("STRIPE_SECRET_KEY", LOCAL_SECRET_KEY if local else ""),
        "STRIPE_PUBLISHABLE_KEY": get("STRIPE_PUBLISHABLE_KEY", LOCAL_PUBLISHABLE_KEY if local else ""),
        "STRIPE_WEBHOOK_SECRET": get("STRIPE_WEBHOOK_SECRET", LOCAL_WEBHOOK_SECRET if local else ""),
        # Empty = the real https://api.stripe.com.
        "STRIPE_API_BASE": get("STRIPE_API_BASE", local_base),
        "STRIPE_JS_URL": get("STRIPE_JS_URL", f"{local_base}/js.stripe.com/v3/" if local else STRIPE_JS_URL),
    }
