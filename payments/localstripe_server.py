"""Run localstripe (a fake, stateful Stripe server) on 127.0.0.1, from scratch.

localstripe's own ``localstripe`` command binds every interface and reloads its
state from ``/tmp/localstripe.pickle`` (and rewrites that file on every write);
here its aiohttp ``app`` is served on 127.0.0.1 only, with persistence turned
off, so each start is clean and two servers never share a file.

* ``python -m payments.localstripe_server`` (``make run``, Procfile.dev): serves on
  ``STRIPE_LOCAL_PORT`` (8420) in ``STRIPE_MODE=local`` (the default with ``DEBUG`` on and
  no ``STRIPE_SECRET_KEY``, see ``payments/stripe_mode.py``) and registers the app's webhook
  (``http://127.0.0.1:$WEB_PORT/payments/stripe/webhook``, signed with ``STRIPE_WEBHOOK_SECRET``).
  In any other mode it only idles, so that honcho keeps the other processes running.
* :class:`LocalStripe` runs it in a background thread (the tests' session fixture).

localstripe sends only ``payment_intent.succeeded`` and ``payment_intent.payment_failed``
webhooks, one second after the change, with a real ``Stripe-Signature`` header.

Idempotency keys are honoured (:func:`_idempotent_posts`: localstripe ignores them; Stripe replays the first
answer), so a retried call with the same key never acts twice, as with Stripe.

Its fake Stripe.js is served with one change (:func:`stripe_js`): the card number is sent as
digits, the way Stripe.js sends it. A guest types the test card as the page shows it,
``4242 4242 4242 4242``; localstripe's own script sent the spaces along (and its API answered
"Bad request") and moved on to the expiry field after 16 characters, spaces included.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import socket
import sys
import threading
import warnings
from pathlib import Path

STRIPE_JS_PATH = "/js.stripe.com/v3/"
# In localstripe's card element, what it sends as the number: the input's value as typed.
_NUMBER_AS_TYPED = "number: this._inputs.number.value,"
# What Stripe.js sends: the digits alone (it drops the spaces and dashes a person types or pastes).
_NUMBER_AS_DIGITS = "number: this._inputs.number.value.replace(/[\\s-]/g, ''),"


def stripe_js() -> str:
    """localstripe's fake Stripe.js, sending the card number as digits (spaces and dashes removed) like Stripe.js.

    The same value drives its "16 digits typed: go to the expiry" step, which now counts digits only.
    Raises if the script no longer has the line this changes (a localstripe upgrade): better than a
    card form that silently refuses the number as the page shows it."""
    from localstripe import server

    source = (Path(server.__file__).parent / "localstripe-v3.js").read_text()
    if source.count(_NUMBER_AS_TYPED) != 1:
        raise RuntimeError("localstripe's Stripe.js changed: payments/localstripe_server.stripe_js() must be updated")
    return source.replace(_NUMBER_AS_TYPED, _NUMBER_AS_DIGITS)


def _serve_stripe_js():
    from aiohttp import web

    @web.middleware
    async def serve_stripe_js(request, handler):
        if request.method in ("GET", "HEAD") and request.path == STRIPE_JS_PATH:
            return web.Response(text=stripe_js(), content_type="application/javascript")
        return await handler(request)

    serve_stripe_js.stayhold = True
    return serve_stripe_js


def _idempotent_posts():
    """Stripe's idempotent requests, which localstripe lacks: a POST with an ``Idempotency-Key`` already seen
    (per API key) gets the first answer again instead of acting twice; the same key on another path or with
    other parameters is refused (400 ``idempotency_error``), as Stripe does
    (https://docs.stripe.com/api/idempotent_requests). Kept in memory for the server's life (Stripe: 24 hours).
    Lets the tests show that a retried charge after a lost answer charges once."""
    from aiohttp import web

    seen: dict[tuple[str, str], tuple[str, bytes, int, bytes, str]] = {}

    @web.middleware
    async def idempotent_posts(request, handler):
        key = request.headers.get("Idempotency-Key", "")
        if request.method != "POST" or not key:
            return await handler(request)
        body = await request.read()
        slot = (request.headers.get("Authorization", ""), key)
        if slot in seen:
            path, first_body, status, text, content_type = seen[slot]
            if path != request.path or first_body != body:
                return web.json_response({"error": {
                    "type": "idempotency_error", "message": "Keys for idempotent requests can only be used with "
                    "the same parameters they were first used with."}}, status=400)
            return web.Response(body=text, status=status, content_type=content_type,
                                headers={"Idempotent-Replayed": "true"})
        response = await handler(request)
        if isinstance(response, web.Response) and response.status < 500 and response.body is not None:
            seen[slot] = (request.path, body, response.status, bytes(response.body),
                          response.content_type or "application/json")
        return response

    idempotent_posts.stayhold = True
    return idempotent_posts


def _localstripe_app():
    """localstripe's aiohttp app, with its pickle persistence disabled, an empty store and our Stripe.js."""
    with warnings.catch_warnings():  # its sync handlers: "Bare functions are deprecated" (aiohttp)
        warnings.simplefilter("ignore", DeprecationWarning)
        from localstripe import resources

        resources.Store.dump_to_disk = lambda self: None
        resources.Store.try_load_from_disk = lambda self: None
        from localstripe import server

    resources.store.clear()
    app = server.app  # one per process (localstripe's module-level app): the middleware is added once
    if not any(getattr(m, "stayhold", False) for m in app.middlewares):
        app.middlewares.append(_serve_stripe_js())
        app.middlewares.append(_idempotent_posts())
    return app


def register_webhook(url: str, secret: str, webhook_id: str = "stayhold") -> None:
    """Have the in-process localstripe POST its events to ``url``, signed with ``secret``."""
    from localstripe.webhooks import register_webhook as _register

    _register(webhook_id, url, secret, None)


def unregister_webhook(webhook_id: str = "stayhold") -> None:
    from localstripe.webhooks import _webhooks

    _webhooks.pop(webhook_id, None)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class LocalStripe:
    """localstripe served from a daemon thread: ``start()`` returns once it accepts connections."""

    def __init__(self, port: int | None = None, host: str = "127.0.0.1"):
        self.host = host
        self.port = port or free_port()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._runner = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> LocalStripe:
        self._thread = threading.Thread(target=self._serve, name="localstripe", daemon=True)
        self._thread.start()
        if not self._ready.wait(timeout=15):
            raise RuntimeError("localstripe did not start within 15 seconds")
        if self._error is not None:
            raise RuntimeError(f"localstripe failed to start: {self._error}") from self._error
        return self

    def _serve(self) -> None:
        from aiohttp import web

        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        self._loop = loop
        try:
            self._runner = web.AppRunner(_localstripe_app(), access_log=None)
            loop.run_until_complete(self._runner.setup())
            loop.run_until_complete(web.TCPSite(self._runner, self.host, self.port).start())
        except BaseException as exc:  # reported to start()
            self._error = exc
            self._ready.set()
            return
        self._ready.set()
        loop.run_forever()
        pending = asyncio.all_tasks(loop)  # e.g. webhooks localstripe was about to send
        for task in pending:
            task.cancel()
        loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
        loop.run_until_complete(self._runner.cleanup())
        loop.close()

    def stop(self) -> None:
        if self._loop is not None and self._loop.is_running():
            self._loop.call_soon_threadsafe(self._loop.stop)
        if self._thread is not None:
            self._thread.join(timeout=10)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


def main(argv=None) -> int:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    from django.conf import settings

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--port", type=int, default=settings.STRIPE_LOCAL_PORT)
    parser.add_argument("--webhook-url", default="", help="default: http://127.0.0.1:$WEB_PORT/payments/stripe/webhook")
    args = parser.parse_args(argv)

    if not settings.STRIPE_LOCAL:
        print(f"STRIPE_MODE is {settings.STRIPE_MODE}: the local Stripe server is not started.", flush=True)
        signal.pause()  # keep honcho's other processes running
        return 0

    webhook_url = args.webhook_url or (
        f"http://127.0.0.1:{os.environ.get('WEB_PORT', '8000')}/payments/stripe/webhook"
    )
    server = LocalStripe(port=args.port).start()
    register_webhook(webhook_url, settings.STRIPE_WEBHOOK_SECRET)
    print(f"localstripe on {server.url} (Stripe.js: {server.url}/js.stripe.com/v3/); webhooks → {webhook_url}",
          flush=True)
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    stop.wait()
    server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
