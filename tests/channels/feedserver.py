"""A real local HTTP server for the channel import tests (and ``bench/channel_import.py``).

``FeedServer`` serves feeds by path on 127.0.0.1 (a free port) from a
``ThreadingHTTPServer`` and behaves like the platforms do when asked to:
conditional GET with ``ETag``/``Last-Modified`` (304), 403 without a
``User-Agent`` (Airbnb), errors, slow answers, bodies dribbled byte by byte,
redirects, chunked or gzip-compressed bodies. Every request is recorded
(``requests``: path and headers) so tests can assert what was sent — or that
nothing reached the server at all.

    with FeedServer() as server:
        server.route("/airbnb.ics", body=ICS, etag='"v1"')
        fetch_feed(server.url("/airbnb.ics?s=secret"))

``FeedServer(port=…)`` listens on that port (default: a free one); ``FeedServer(ssl_context=…)``
serves HTTPS (``url()`` then starts with ``https://``).
"""

from __future__ import annotations

import gzip
import ssl
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit


@dataclass
class Route:
    body: bytes = b""
    status: int = 200
    content_type: str = "text/calendar; charset=utf-8"
    etag: str = ""  # answer 304 when If-None-Match equals it
    last_modified: str = ""  # answer 304 when If-Modified-Since equals it
    require_user_agent: bool = False  # 403 without one, as Airbnb does
    delay: float = 0.0  # seconds before the status line (a server that does not answer)
    dribble: float = 0.0  # seconds between single bytes of the body (a server that answers slowly)
    redirect_to: str = ""  # Location of a 302
    chunked: bool = False  # Transfer-Encoding: chunked, no Content-Length
    gzip: bool = False  # Content-Encoding: gzip
    declared_length: int | None = None  # a Content-Length header that differs from the body
    headers: dict = field(default_factory=dict)


@dataclass
class SeenRequest:
    path: str
    headers: dict


class FeedServer:
    def __init__(self, port: int = 0, ssl_context: ssl.SSLContext | None = None):
        self._port, self._ssl_context = port, ssl_context
        self.routes: dict[str, Route] = {}
        self.requests: list[SeenRequest] = []
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # --- set-up -----------------------------------------------------------------------------

    def route(self, path: str, body: bytes | str = b"", **options) -> Route:
        route = Route(body=body.encode() if isinstance(body, str) else body, **options)
        self.routes[path] = route
        return route

    @property
    def port(self) -> int:
        return self._server.server_address[1]

    def url(self, path: str, host: str = "127.0.0.1") -> str:
        return f"{'https' if self._ssl_context else 'http'}://{host}:{self.port}{path}"

    def paths(self) -> list[str]:
        with self._lock:
            return [r.path for r in self.requests]

    # --- life cycle -------------------------------------------------------------------------

    def start(self) -> FeedServer:
        server = ThreadingHTTPServer(("127.0.0.1", self._port), _handler_for(self))
        if self._ssl_context is not None:  # the handshake happens in accept(); a failed one drops that client
            server.socket = self._ssl_context.wrap_socket(server.socket, server_side=True)
        server.daemon_threads = True
        server.block_on_close = False  # do not wait for a handler that is still sleeping (timeout tests)
        server.request_queue_size = 128
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> FeedServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def _handler_for(feed_server: FeedServer):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format, *args):  # noqa: A002 - the base class's signature
            pass

        def do_GET(self):  # noqa: N802 - the base class's name
            path = urlsplit(self.path).path
            with feed_server._lock:
                feed_server.requests.append(SeenRequest(self.path, {k.lower(): v for k, v in self.headers.items()}))
            route = feed_server.routes.get(path)
            if route is None:
                return self._send(404, b"not found", {"Content-Type": "text/plain"})
            if route.delay:
                time.sleep(route.delay)
            if route.require_user_agent and not self.headers.get("User-Agent", "").strip():
                return self._send(403, b"Forbidden", {"Content-Type": "text/plain"})
            if route.redirect_to:
                return self._send(302, b"", {"Location": route.redirect_to})
            validators = {}
            if route.etag:
                validators["ETag"] = route.etag
            if route.last_modified:
                validators["Last-Modified"] = route.last_modified
            if (route.etag and self.headers.get("If-None-Match") == route.etag) or (
                    route.last_modified and not route.etag
                    and self.headers.get("If-Modified-Since") == route.last_modified):
                return self._send(304, b"", validators)
            headers = {"Content-Type": route.content_type, **validators, **route.headers}
            body = route.body
            if route.gzip:
                body = gzip.compress(body)
                headers["Content-Encoding"] = "gzip"
            if route.status >= 400:
                headers["Content-Type"] = "text/plain"
            return self._send(route.status, body, headers, chunked=route.chunked, dribble=route.dribble,
                              declared_length=route.declared_length)

        def _send(self, status, body, headers, *, chunked=False, dribble=0.0, declared_length=None):
            try:
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                if chunked:
                    self.send_header("Transfer-Encoding", "chunked")
                else:
                    self.send_header("Content-Length", str(len(body) if declared_length is None
                                                           else declared_length))
                self.send_header("Connection", "close")
                self.end_headers()
                if chunked:
                    for i in range(0, len(body), 16 * 1024):
                        piece = body[i:i + 16 * 1024]
                        self.wfile.write(f"{len(piece):x}\r\n".encode() + piece + b"\r\n")
                    self.wfile.write(b"0\r\n\r\n")
                elif dribble:
                    for i in range(len(body)):
                        self.wfile.write(body[i:i + 1])
                        self.wfile.flush()
                        time.sleep(dribble)
                else:
                    self.wfile.write(body)
                self.close_connection = True
            except (BrokenPipeError, ConnectionResetError):
                self.close_connection = True  # the client gave up (size limit, timeout): expected

    return Handler
