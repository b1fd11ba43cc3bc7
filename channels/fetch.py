"""Fetching a platform's iCal export: the one place where Stayhold makes requests to a URL a user typed.

An import URL is pasted by a host, so fetching it is a server-side request to an
address chosen by a user (SSRF). ``fetch_feed`` therefore:

* accepts only ``http``/``https`` URLs with a host (``bad_url``);
* resolves the host and refuses every address that is not public — private,
  loopback, link-local (cloud metadata at 169.254.169.254), multicast, reserved,
  unspecified, shared (100.64/10), IPv4-mapped IPv6 of any of those
  (``forbidden_address``) — unless ``settings.CHANNEL_ALLOW_PRIVATE_URLS``;
* follows redirects itself (at most ``CHANNEL_FETCH_MAX_REDIRECTS``), checking the
  scheme and the address again at every hop (``too_many_redirects``);
* **DNS rebinding**: a name can resolve to a public address when we check it and to
  a private one when the HTTP library resolves it again a moment later. So the
  check is repeated on the socket itself: the connection classes below look at the
  peer address right after ``connect()`` and close the socket before a single byte
  of the request is sent. The first check only gives a clear error early; the
  second one is the guard. Proxies from the environment are ignored
  (``trust_env = False``), since with a proxy the peer would be the proxy;
* caps the time: ``CHANNEL_FETCH_TIMEOUT_SECONDS`` for the connect and for each
  read, and the same amount for the whole fetch (a watchdog shuts the socket down
  when a server dribbles bytes slowly) → ``timeout``;
* streams the body and stops at ``CHANNEL_FETCH_MAX_BYTES`` (after decompression,
  so a gzip bomb stops too) → ``too_large``;
* sends a real ``User-Agent`` (Airbnb answers 403 without one) and conditional
  headers (``If-None-Match``/``If-Modified-Since``), so an unchanged feed costs a 304.

Import URLs are secrets (whoever has one reads the host's calendar, and some
platforms put the secret in the path, not only in the query): errors and logs name
the host only (:func:`redact_url`), never the path or query, and never the text of
a ``requests`` exception (which quotes the URL).

Host-name resolution (``getaddrinfo``) itself has no timeout in the standard library;
the resolver's own timeouts apply.
"""

from __future__ import annotations

import contextlib
import ipaddress
import logging
import re
import socket
import threading
import time
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

import requests
import urllib3.exceptions
from django.conf import settings
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

logger = logging.getLogger(__name__)

REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
ACCEPT = "text/calendar, */*;q=0.5"
CHUNK = 64 * 1024


@dataclass
class FetchResult:
    status: int  # 200 or 304
    body: bytes  # b"" on 304
    etag: str
    last_modified: str
    duration_ms: int
    final_url: str


class FetchError(Exception):
    """A feed that could not be fetched. ``code`` is one of :data:`CODES`; ``message`` names the host only."""

    CODES = ("bad_url", "forbidden_address", "timeout", "too_large", "too_many_redirects", "http_error",
             "connection", "empty")

    def __init__(self, code: str, message: str, http_status: int | None = None):
        assert code in self.CODES, code
        super().__init__(message)
        self.code, self.message, self.http_status = code, message, http_status

    def __str__(self):
        return self.message


def redact_url(url: str) -> str:
    """``scheme://host[:port]/…`` — what may be shown or logged of an import URL (path and query are secret)."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or "?"
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        return "(invalid URL)"
    if ":" in host:
        host = f"[{host}]"
    return f"{parts.scheme or '?'}://{host}{port}/…"


def is_public_address(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    """True for an address a feed may live on: globally routable unicast."""
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not (ip.is_private or ip.is_loopback or ip.is_link_local or ip.is_multicast
                                 or ip.is_reserved or ip.is_unspecified)


def _address_allowed(address: str) -> bool:
    if settings.CHANNEL_ALLOW_PRIVATE_URLS:
        return True
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])  # drop an IPv6 zone id ("fe80::1%eth0")
    except ValueError:
        return False
    return is_public_address(ip)


def resolve_host(host: str, port: int) -> list[str]:
    """Every address ``host`` resolves to (a literal resolves to itself)."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return sorted({info[4][0] for info in infos})


class _ForbiddenPeer(Exception):
    """Raised by the guarded connections; not an OSError, so urllib3 passes it through unchanged."""


class _PeerCheckMixin:
    def _new_conn(self):
        sock = super()._new_conn()
        try:
            peer = sock.getpeername()[0]
        except OSError:
            peer = ""
        if not _address_allowed(peer):
            sock.close()
            raise _ForbiddenPeer(peer)
        return sock


class _GuardedHTTPConnection(_PeerCheckMixin, HTTPConnection):
    pass


class _GuardedHTTPSConnection(_PeerCheckMixin, HTTPSConnection):
    pass


class _GuardedHTTPPool(HTTPConnectionPool):
    ConnectionCls = _GuardedHTTPConnection


class _GuardedHTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _GuardedHTTPSConnection


class _GuardedAdapter(HTTPAdapter):
    """Every connection checks its peer address before the request is sent (DNS rebinding)."""

    def init_poolmanager(self, *args, **kwargs):
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {"http": _GuardedHTTPPool, "https": _GuardedHTTPSPool}


class _RedactRequestLines(logging.Filter):
    """urllib3 logs each request line (path and query included) at DEBUG: hide them while a feed is fetched."""

    active = threading.local()
    pattern = re.compile(r'"([A-Z]+) \S+ (HTTP/[\d.]+)"')

    def filter(self, record):
        if getattr(self.active, "on", False):
            record.msg, record.args = self.pattern.sub(r'"\1 /… \2"', record.getMessage()), ()
        return True


_redact_filter = _RedactRequestLines()
logging.getLogger("urllib3.connectionpool").addFilter(_redact_filter)


def _session() -> requests.Session:
    session = requests.Session()
    session.trust_env = False  # no proxies or .netrc from the environment: the peer must be the feed's host
    adapter = _GuardedAdapter(max_retries=0)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session


def _check_url(url: str) -> tuple[str, int]:
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise FetchError("bad_url", "The import URL is not a valid URL.") from None
    if parts.scheme not in ("http", "https"):
        raise FetchError("bad_url", "The import URL must start with http:// or https://.")
    if not parts.hostname:
        raise FetchError("bad_url", "The import URL has no host name.")
    return parts.hostname, port or (443 if parts.scheme == "https" else 80)


def _check_address(url: str, host: str, port: int) -> None:
    if settings.CHANNEL_ALLOW_PRIVATE_URLS:
        return
    try:
        addresses = resolve_host(host, port)
    except (OSError, UnicodeError):
        raise FetchError("connection", f"The host of {redact_url(url)} could not be resolved.") from None
    refused = [a for a in addresses if not _address_allowed(a)]
    if refused or not addresses:
        raise FetchError("forbidden_address",
                         f"{redact_url(url)} points to a private or reserved address ({', '.join(refused)}); "
                         "import URLs must be on the public internet.")


def fetch_feed(url: str, *, etag: str = "", last_modified: str = "") -> FetchResult:
    """GET an iCal feed, safely (see the module docstring). 200 → the body, 304 → ``b""``; else ``FetchError``."""
    timeout = float(settings.CHANNEL_FETCH_TIMEOUT_SECONDS)
    max_bytes = int(settings.CHANNEL_FETCH_MAX_BYTES)
    max_redirects = int(settings.CHANNEL_FETCH_MAX_REDIRECTS)
    started = time.monotonic()
    deadline = started + timeout
    headers = {"User-Agent": settings.CHANNEL_FETCH_USER_AGENT, "Accept": ACCEPT}
    if etag:
        headers["If-None-Match"] = etag
    if last_modified:
        headers["If-Modified-Since"] = last_modified

    _redact_filter.active.on = True
    try:
        return _fetch(url, headers, started, deadline, timeout, max_bytes, max_redirects)
    finally:
        _redact_filter.active.on = False


def _fetch(url, headers, started, deadline, timeout, max_bytes, max_redirects) -> FetchResult:
    current = url
    with _session() as session:
        for hop in range(max_redirects + 1):
            host, port = _check_url(current)
            _check_address(current, host, port)
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise FetchError("timeout", f"{redact_url(url)} did not answer within {timeout:g} s.")
            response = _get(session, current, headers, remaining, timeout)
            try:
                if response.status_code in REDIRECT_STATUSES:
                    location = response.headers.get("Location", "")
                    if not location:
                        raise FetchError("http_error", f"{redact_url(current)} answered a redirect without a "
                                         "Location.", response.status_code)
                    if hop == max_redirects:
                        raise FetchError("too_many_redirects",
                                         f"{redact_url(url)} redirected more than {max_redirects} times.",
                                         response.status_code)
                    current = urljoin(current, location)
                    continue
                if response.status_code == 304:
                    if "If-None-Match" not in headers and "If-Modified-Since" not in headers:
                        # "Not modified" since what? We hold no calendar to keep: a broken server.
                        raise FetchError("http_error", f"{redact_url(current)} answered 304 to a request that "
                                         "was not conditional.", 304)
                    return _result(304, b"", response, started, current)
                if response.status_code >= 400 or response.status_code < 200:
                    raise FetchError("http_error", f"{redact_url(current)} answered HTTP {response.status_code}.",
                                     response.status_code)
                body = _read_body(response, current, deadline, max_bytes, timeout)
                if not body.strip():
                    raise FetchError("empty", f"{redact_url(current)} returned an empty calendar.",
                                     response.status_code)
                return _result(200, body, response, started, current)
            finally:
                response.close()
    raise AssertionError("unreachable")  # pragma: no cover - the loop returns or raises


def _get(session, url, headers, remaining, timeout) -> requests.Response:
    per_op = min(timeout, remaining)
    try:
        return session.get(url, headers=headers, timeout=(per_op, per_op), allow_redirects=False, stream=True)
    except _ForbiddenPeer as exc:
        raise FetchError("forbidden_address", f"{redact_url(url)} connected to a private or reserved address "
                         f"({exc}); import URLs must be on the public internet.") from None
    except requests.Timeout:
        raise FetchError("timeout", f"{redact_url(url)} did not answer within {timeout:g} s.") from None
    except requests.exceptions.InvalidURL:
        raise FetchError("bad_url", "The import URL is not a valid URL.") from None
    except requests.RequestException as exc:
        # Never the exception's text: it quotes the URL (path and query are secret).
        logger.info("Feed fetch from %s failed: %s", redact_url(url), type(exc).__name__)
        raise FetchError("connection", f"Could not connect to {redact_url(url)} ({type(exc).__name__}).") from None


def _read_body(response, url, deadline, max_bytes, timeout) -> bytes:
    declared = response.headers.get("Content-Length", "")
    if declared.isdigit() and int(declared) > max_bytes:
        raise FetchError("too_large", f"{redact_url(url)} sent {int(declared):,} bytes; the limit is "
                         f"{max_bytes:,}.", response.status_code)
    expired = threading.Event()

    def stop():  # the total-time cap: wakes a read blocked on a slow server
        expired.set()
        with contextlib.suppress(ValueError, RuntimeError, OSError):
            response.raw.shutdown()

    watchdog = threading.Timer(max(0.0, deadline - time.monotonic()), stop)
    watchdog.daemon = True
    watchdog.start()
    chunks, size = [], 0
    try:
        while True:
            chunk = response.raw.read1(CHUNK, decode_content=True)
            if not chunk:
                break
            size += len(chunk)
            if size > max_bytes:
                raise FetchError("too_large", f"{redact_url(url)} sent more than {max_bytes:,} bytes.",
                                 response.status_code)
            chunks.append(chunk)
    except FetchError:
        raise
    except Exception as exc:  # noqa: BLE001 - urllib3/socket errors mid-body; their text may quote the URL
        if expired.is_set():
            raise FetchError("timeout", f"{redact_url(url)} did not send the calendar within {timeout:g} s.",
                             response.status_code) from None
        if isinstance(exc, (TimeoutError, urllib3.exceptions.TimeoutError, requests.Timeout)):
            raise FetchError("timeout", f"{redact_url(url)} stopped sending within {timeout:g} s.",
                             response.status_code) from None
        raise FetchError("connection", f"The connection to {redact_url(url)} broke ({type(exc).__name__}).",
                         response.status_code) from None
    finally:
        watchdog.cancel()
    if expired.is_set():  # the shutdown looks like an end of file: it is not one
        raise FetchError("timeout", f"{redact_url(url)} did not send the calendar within {timeout:g} s.",
                         response.status_code)
    return b"".join(chunks)


def _result(status, body, response, started, url) -> FetchResult:
    return FetchResult(status=status, body=body, etag=response.headers.get("ETag", "")[:255],
                       last_modified=response.headers.get("Last-Modified", "")[:64],
                       duration_ms=int((time.monotonic() - started) * 1000), final_url=url)
