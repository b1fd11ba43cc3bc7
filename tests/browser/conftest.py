"""Browser tests: Playwright driving Debian's Chromium (``/usr/bin/chromium``, headless; never a downloaded
browser), against pytest-django's ``live_server`` and the session's localstripe (its fake Stripe.js renders the
card element; its webhooks are sent to the live server).

Run them alone with ``.venv/bin/pytest -m browser``; screenshots of every step go to ``test-artifacts/``.
Skipped with a reason when Chromium or Playwright is missing.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from payments.localstripe_server import register_webhook, unregister_webhook
from tests.payments.conftest import WEBHOOK_SECRET

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


@pytest.fixture(scope="module")
def browser():
    if not os.access(CHROMIUM, os.X_OK):
        pytest.skip(f"{CHROMIUM} is missing: apt-get install -y chromium (.ci/run installs it)")
    sync_api = pytest.importorskip("playwright.sync_api", reason="the playwright package is not installed")
    # Playwright's sync API keeps an asyncio loop running on this thread while the test runs; Django would then
    # refuse ORM calls from the test (SynchronousOnlyOperation). The test code is plain synchronous code.
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_api.sync_playwright() as playwright:
            chromium = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
            yield chromium
            chromium.close()
    finally:
        if previous is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


@pytest.fixture
def stripe_live(settings, localstripe, live_server):
    """The app (served by ``live_server``) talks to localstripe, and localstripe's webhooks reach the app."""
    settings.STRIPE_SECRET_KEY = "sk_test_local"
    settings.STRIPE_PUBLISHABLE_KEY = "pk_test_local"
    settings.STRIPE_API_BASE = localstripe.url
    settings.STRIPE_JS_URL = f"{localstripe.url}/js.stripe.com/v3/"
    settings.STRIPE_WEBHOOK_SECRET = WEBHOOK_SECRET
    settings.PAYMENT_MAX_ATTEMPTS = 3
    settings.PAYMENT_THROTTLE = "1000/min"
    register_webhook(f"{live_server.url}/payments/stripe/webhook", WEBHOOK_SECRET, webhook_id="browser")
    yield localstripe
    unregister_webhook("browser")


class Steps:
    """Full-page screenshots named ``NN-step.png`` in ``test-artifacts/<flow>/``."""

    def __init__(self, page, flow: str):
        self.page = page
        self.folder = ARTIFACTS / flow
        self.folder.mkdir(parents=True, exist_ok=True)
        for old in self.folder.glob("*.png"):
            old.unlink()
        self.number = 0

    def shot(self, name: str) -> Path:
        self.number += 1
        path = self.folder / f"{self.number:02d}-{name}.png"
        self.page.screenshot(path=str(path), full_page=True)
        return path


def csp_violation(message) -> bool:
    """Chromium reports every blocked script, style, frame, image or connection on the console."""
    return "Content Security Policy" in message.text


@pytest.fixture
def new_page(browser):
    """A fresh browser context (desktop size) and page. JavaScript errors on the page fail the test, and so does
    anything the Content-Security-Policy (enforced, as in production) blocked."""
    contexts = []
    errors: list[str] = []
    violations: list[str] = []

    def _new_page(**options):
        options.setdefault("viewport", {"width": 1280, "height": 900})
        context = browser.new_context(**options)
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(15_000)
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.on("console", lambda message: violations.append(f"{page.url}: {message.text}")
                if csp_violation(message) else None)
        return page

    yield _new_page
    for context in contexts:
        context.close()
    assert not errors, f"JavaScript errors on the page: {errors}"
    assert not violations, f"Content-Security-Policy violations: {violations}"


def wait_for(predicate, timeout: float = 8.0, interval: float = 0.1):
    """Poll ``predicate`` until it is truthy (e.g. a webhook that localstripe sends a second after the event)."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(interval)
