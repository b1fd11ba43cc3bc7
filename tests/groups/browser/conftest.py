"""The group checkout in Chromium: tests/browser's fixtures (browser, page, localstripe wired to the live server)."""

from tests.browser.conftest import browser, new_page, stripe_live  # noqa: F401
