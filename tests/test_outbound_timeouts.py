"""Every outbound call has a timeout of its own (README, "Architecture rules").

Stripe: ``STRIPE_TIMEOUT_SECONDS`` on every request (the library's default is 80 s) and at most
``STRIPE_MAX_NETWORK_RETRIES`` retries; SMTP: ``EMAIL_TIMEOUT`` (Django's default is none). Channel
feeds have ``CHANNEL_FETCH_TIMEOUT_SECONDS`` (tests/channels/test_fetch.py).
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests

from payments.errors import ProviderError
from payments.providers.stripe import StripeProvider


@pytest.fixture
def stripe_at(settings):
    def _at(url: str):
        settings.STRIPE_SECRET_KEY = "sk_test_local"
        settings.STRIPE_API_BASE = url
        return settings

    return _at


def test_every_stripe_request_carries_the_configured_timeout(localstripe, stripe_at, monkeypatch):
    settings = stripe_at(localstripe.url)
    settings.STRIPE_TIMEOUT_SECONDS = 7.5
    timeouts = []
    original = requests.Session.request

    def spy(self, method, url, *args, **kwargs):
        timeouts.append(kwargs.get("timeout"))
        return original(self, method, url, *args, **kwargs)

    monkeypatch.setattr(requests.Session, "request", spy)
    with pytest.raises(ProviderError):
        StripeProvider().retrieve("pi_does_not_exist")  # a 404: answered, not retried
    assert timeouts == [7.5]


class AlwaysFailing(BaseHTTPRequestHandler):
    """A Stripe that answers every request with a retryable 500 and counts them."""

    hits = 0

    def do_GET(self):  # noqa: N802
        type(self).hits += 1
        body = json.dumps({"error": {"type": "api_error", "message": "Something went wrong."}}).encode()
        self.send_response(500)
        self.send_header("Content-Type", "application/json")
        self.send_header("Stripe-Should-Retry", "true")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def test_stripe_retries_are_bounded_by_the_setting_and_end_in_a_retryable_error(stripe_at):
    server = ThreadingHTTPServer(("127.0.0.1", 0), AlwaysFailing)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        settings = stripe_at(f"http://127.0.0.1:{server.server_address[1]}")
        settings.STRIPE_MAX_NETWORK_RETRIES = 2
        AlwaysFailing.hits = 0
        with pytest.raises(ProviderError) as failed:
            StripeProvider().retrieve("pi_anything")
    finally:
        server.shutdown()
        server.server_close()
    assert AlwaysFailing.hits == 3  # the call and two retries, then the error
    assert failed.value.retryable


def test_smtp_has_a_timeout(settings):
    from django.core.mail import get_connection

    smtp = get_connection("django.core.mail.backends.smtp.EmailBackend")
    assert smtp.timeout is not None, "SMTP would wait for ever"
    assert smtp.timeout == settings.EMAIL_TIMEOUT and 0 < smtp.timeout <= 60
