"""What every platform emulator shares: an HTTP server, a request log, injected faults, a clock tests control.

An emulator is a small in-memory model of one platform's public API (``channels.emulators.channex``,
``booking_com``, ``google_vr``), served over real HTTP on 127.0.0.1 so that the adapters are exercised exactly as
in production: the same requests, the same answers, the same failures. It imports nothing from the project (the
standard library only), so it runs alone (``python manage.py channel_emulator <name> --port N``, ``make run``) or
in a background thread of the test session (:func:`serve`).

Control routes, the same on every emulator, all under ``/_emulator/`` and all JSON:

* ``GET /_emulator/requests`` — every request received (the control routes excepted), oldest first:
  ``[{"method", "path", "query", "headers", "body", "status", "at"}]``; ``DELETE`` clears the log.
* ``POST /_emulator/reset`` — back to the state the emulator started in (accounts, data, log, faults, clock).
* ``POST /_emulator/faults`` — queue faults, each applied to the next matching request(s):
  ``{"path": "/api/v1/availability", "times": 3, "status": 503, "retry_after": 2}`` (an error answer),
  ``{"kind": "timeout", "delay": 30}`` (no answer until ``delay``), ``{"kind": "drop"}`` (the connection is
  closed without an answer), ``{"kind": "slow", "delay": 1.5}`` (the normal answer, late). ``path`` is a prefix
  (default: every path); ``times`` defaults to 1. ``DELETE`` clears them.
* ``GET|POST /_emulator/clock`` — ``{"now": "2027-01-01T12:00:00+00:00"}`` freezes the clock there,
  ``{"advance": 1800}`` moves it forward by seconds, ``{"now": null}`` returns to real time. Rate limits,
  token expiry and the 30-minute queue rules all read this clock.

Each emulator adds its own control routes (creating a reservation on the platform side, reading and
overwriting the platform's stored availability and rates, webhook behaviour) and documents them.
"""

from __future__ import annotations

import json
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

CONTROL_PREFIX = "/_emulator/"
LOGGED_BODY_LIMIT = 64 * 1024


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]  # lower-case names
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body or b"null")

    def param(self, name: str, default: str | None = None) -> str | None:
        values = self.query.get(name)
        return values[0] if values else default


@dataclass
class Response:
    status: int = 200
    body: bytes = b""
    content_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)

    @classmethod
    def json(cls, data: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
        return cls(status, json.dumps(data).encode(), "application/json", headers or {})

    @classmethod
    def xml(cls, text: str, status: int = 200, headers: dict[str, str] | None = None) -> Response:
        return cls(status, text.encode(), "application/xml; charset=utf-8", headers or {})


@dataclass
class Fault:
    kind: str = "status"  # status | timeout | drop | slow
    path: str = ""
    times: int = 1
    status: int = 503
    retry_after: float | None = None
    delay: float = 0.0
    body: str = ""


class Drop(Exception):
    """Close the connection without answering (an injected fault)."""


class Emulator:
    """Subclasses implement :meth:`handle` (the platform's API) and may add control routes
    (:meth:`handle_control`) and state (:meth:`reset_state`, called at start and on reset)."""

    name = "emulator"

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.requests: list[dict[str, Any]] = []
        self.faults: list[Fault] = []
        self._frozen: datetime | None = None
        self._offset = timedelta(0)
        self.base_url = ""  # set by serve()
        self.reset_state()

    # --- to implement --------------------------------------------------------------------------------------

    def reset_state(self) -> None:
        """(Re)create the platform's data."""

    def handle(self, request: Request) -> Response:
        return Response.json({"error": "not found"}, 404)

    def handle_control(self, request: Request, name: str) -> Response | None:
        """An emulator's own control route ``/_emulator/<name>``; None when it has none of that name."""
        return None

    # --- shared ---------------------------------------------------------------------------------------------

    def now(self) -> datetime:
        with self.lock:
            return (self._frozen or datetime.now(UTC)) + self._offset

    def reset(self) -> None:
        with self.lock:
            self.requests.clear()
            self.faults.clear()
            self._frozen, self._offset = None, timedelta(0)
            self.reset_state()

    def dispatch(self, request: Request) -> Response:
        if request.path.startswith(CONTROL_PREFIX):
            return self._control(request)
        fault = self._take_fault(request.path)
        if fault is not None and fault.kind in ("timeout", "slow"):
            time.sleep(fault.delay)
            if fault.kind == "timeout":
                raise Drop()
        if fault is not None and fault.kind == "drop":
            raise Drop()
        if fault is not None and fault.kind == "status":
            headers = {"Retry-After": str(int(fault.retry_after))} if fault.retry_after is not None else {}
            response = Response(fault.status, fault.body.encode() or json.dumps(
                {"errors": {"code": "injected_fault", "title": f"Injected {fault.status}"}}).encode(),
                "application/json", headers)
        else:
            try:
                with self.lock:
                    response = self.handle(request)
            except Drop:
                raise
            except Exception as exc:  # an emulator bug must show as a 500 with the reason, not hang the client
                response = Response.json({"error": f"emulator error: {exc!r}"}, 500)
        self._log(request, response.status)
        return response

    def _take_fault(self, path: str) -> Fault | None:
        with self.lock:
            for fault in self.faults:
                if path.startswith(fault.path):
                    fault.times -= 1
                    if fault.times <= 0:
                        self.faults.remove(fault)
                    return fault
        return None

    def _log(self, request: Request, status: int) -> None:
        with self.lock:
            self.requests.append({
                "method": request.method, "path": request.path, "query": request.query,
                "headers": request.headers, "body": request.body[:LOGGED_BODY_LIMIT].decode("utf-8", "replace"),
                "status": status, "at": self.now().isoformat(),
            })

    def _control(self, request: Request) -> Response:
        name = request.path[len(CONTROL_PREFIX):].strip("/")
        if name == "requests":
            with self.lock:
                if request.method == "DELETE":
                    self.requests.clear()
                    return Response.json({"cleared": True})
                return Response.json(list(self.requests))
        if name == "reset" and request.method == "POST":
            self.reset()
            return Response.json({"reset": True})
        if name == "faults":
            with self.lock:
                if request.method == "DELETE":
                    self.faults.clear()
                else:
                    data = request.json()
                    for item in data if isinstance(data, list) else [data]:
                        self.faults.append(Fault(**item))
                return Response.json({"faults": len(self.faults)})
        if name == "clock":
            if request.method == "POST":
                data = request.json() or {}
                with self.lock:
                    if "now" in data:
                        self._frozen = datetime.fromisoformat(data["now"]) if data["now"] else None
                        self._offset = timedelta(0)
                    if "advance" in data:
                        self._offset += timedelta(seconds=float(data["advance"]))
            return Response.json({"now": self.now().isoformat()})
        with self.lock:
            response = self.handle_control(request, name)
        return response if response is not None else Response.json({"error": f"no control route {name!r}"}, 404)


class _Handler(BaseHTTPRequestHandler):
    emulator: Emulator
    protocol_version = "HTTP/1.1"

    def _serve(self) -> None:
        parts = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        request = Request(self.command, parts.path, parse_qs(parts.query, keep_blank_values=True),
                          {k.lower(): v for k, v in self.headers.items()}, body)
        try:
            response = self.emulator.dispatch(request)
        except Drop:
            self.close_connection = True
            return
        self.send_response(response.status)
        self.send_header("Content-Type", response.content_type)
        self.send_header("Content-Length", str(len(response.body)))
        for name, value in response.headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(response.body)

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _serve

    def log_message(self, format, *args):  # the request log replaces the access log
        pass


def serve(emulator: Emulator, host: str = "127.0.0.1", port: int = 0) -> ThreadingHTTPServer:
    """Serve ``emulator`` in a daemon thread; ``emulator.base_url`` says where. Stop with ``server.shutdown()``."""
    handler = type(f"{type(emulator).__name__}Handler", (_Handler,), {"emulator": emulator})
    server = ThreadingHTTPServer((host, port), handler)
    server.daemon_threads = True
    emulator.base_url = f"http://{host}:{server.server_address[1]}"
    threading.Thread(target=server.serve_forever, name=f"emulator-{emulator.name}", daemon=True).start()
    return server


@contextmanager
def running(emulator: Emulator):
    """``emulator`` served (:func:`serve`) for the duration of the block, then shut down (the tests' fixtures)."""
    server = serve(emulator)
    try:
        yield emulator
    finally:
        server.shutdown()
        server.server_close()
