"""Fetching a platform's iCal export: the one place where Stayhold makes requests to a URL a user typed.

An import URL is pasted by a host, so fetching it is a server-side request to an
address chosen by a user (SSRF). Any owner can add connections, so the guard below
must not let a tenant reach — or even *map* — the server's own network:

* **One parse.** The URL is parsed once, with the parser of the HTTP client
  (urllib3's ``parse_url``), by :func:`parse_import_url`, and the request is built
  from that parse: the client is handed a host, a port, a vetted address and a
  request target, never the URL string to parse again. Before parsing, anything a
  parser could read two ways is refused (``bad_url``): backslashes, whitespace and
  control or invisible characters anywhere, user info (``user:pw@`` before the
  host), IPv4 addresses written any other way than four decimal numbers
  (``2130706433``, ``0177.0.0.1``, ``0x7f.1``, ``127.1``: libc reads them all as
  127.0.0.1), IPv6 zone ids, host names that are not plain LDH labels.
* **The address the client connects to is the address that was checked.** The host
  is resolved once per hop (:func:`resolve_host`), every address it resolves to is
  checked (:func:`refusal_reason`), and the connection is then made to that exact
  address (:class:`_PinnedConnectionMixin`) while the host name is kept for the
  ``Host`` header, TLS SNI and certificate verification. A name cannot resolve to
  a public address when checked and to a private one when connecting (DNS
  rebinding): it is not resolved a second time. The socket's peer is compared
  with the pinned address once more after ``connect()``, before a byte is sent.
* **Refused** (unless ``settings.CHANNEL_ALLOW_PRIVATE_URLS``, for tests and a
  feed on your LAN): every address that is not global unicast, including the ways
  of spelling private space inside IPv6 — IPv4-mapped (``::ffff:127.0.0.1`` =
  ``::ffff:7f00:1``), IPv4-compatible (``::7f00:1``), NAT64 (``64:ff9b::/96`` of a
  private IPv4; the local-use ``64:ff9b:1::/48`` always), 6to4 (``2002::/16`` of a
  private IPv4), Teredo (``2001::/32``) — see :data:`IPV4_REFUSED` and
  :data:`IPV6_REFUSED`; and local names that never belong to a public feed:
  single-label hosts (``db``, ``redis``), ``localhost``/``localhost.`` and
  ``*.localhost``, and the private-use suffixes of :data:`LOCAL_SUFFIXES`. No port
  is refused: platforms serve their feeds on 443, but a self-hosted calendar may
  live on any port of a *public* address.
* **One message for every refused or failed connection.** A refused address, a
  name that does not resolve, a refused or timed-out connection, a TLS error, a
  read timeout or a connection broken mid-body all raise ``FetchError`` with code
  ``unreachable`` and the same owner-visible text (:data:`UNREACHABLE`), so an
  owner cannot tell an open port from a closed one, or an internal name from a
  missing one. The precise reason is in ``FetchError.reason``/``detail``, which
  ``channels.sync`` keeps in ``SyncRun.detail`` and the log — for operators
  (superusers), never shown to owners. Since a refused address is refused before
  any connection, an open and a closed private port also take the same time.
* follows redirects itself (at most ``CHANNEL_FETCH_MAX_REDIRECTS``), with the same
  parse and the same checks at every hop (``too_many_redirects``); proxies from
  the environment are never used (the peer must be the feed's host);
* caps the time: ``CHANNEL_FETCH_TIMEOUT_SECONDS`` for the connect and for each
  read, and the same amount for the whole fetch (a watchdog shuts the socket down
  when a server dribbles bytes slowly);
* streams the body and stops at ``CHANNEL_FETCH_MAX_BYTES`` (after decompression,
  so a gzip bomb stops too) → ``too_large``;
* sends a real ``User-Agent`` (Airbnb answers 403 without one) and conditional
  headers (``If-None-Match``/``If-Modified-Since``), so an unchanged feed costs a 304;
* verifies TLS certificates against certifi's bundle (:data:`CA_BUNDLE`).

Import URLs are secrets (whoever has one reads the host's calendar, and some
platforms put the secret in the path, not only in the query): errors, details and
logs name the host only (:func:`redact_url`), never the path or query, and never
the raw text of an exception that could quote them.

Host-name resolution (``getaddrinfo``) itself has no timeout in the standard library;
the resolver's own timeouts apply.
"""

from __future__ import annotations

import codecs
import contextlib
import http.client
import ipaddress
import logging
import re
import socket
import threading
import time
import unicodedata
from dataclasses import dataclass
from urllib.parse import urljoin

import certifi
import urllib3.exceptions as u3
from django.conf import settings
from urllib3 import Timeout
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.util import parse_url
from urllib3.util.connection import create_connection

from .ical_parse import unfold

logger = logging.getLogger(__name__)

REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
ACCEPT = "text/calendar, */*;q=0.5"
CHUNK = 64 * 1024
MAX_URL_LENGTH = 2000
CA_BUNDLE = certifi.where()  # the CA certificates TLS connections are verified against (tests swap it)

# The owner-visible text of every refused or failed connection: the same for all, on purpose (module docstring).
UNREACHABLE = ("Could not fetch the calendar from this address. Check that the import URL is the platform's "
               "current export link; the sync is retried automatically.")
PUBLIC_ONLY = "Import URLs must be on the public internet: this address is private, local or reserved."

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


@dataclass
class FetchResult:
    status: int  # 200 or 304
    body: bytes  # b"" on 304; UTF-8 when the server declared another charset (as_utf8)
    etag: str
    last_modified: str
    duration_ms: int
    final_url: str


class FetchError(Exception):
    """A feed that could not be fetched.

    ``code`` is one of :data:`CODES` and ``message`` is what the owner may see (it names the host only).
    For ``unreachable``, ``message`` is always :data:`UNREACHABLE`; ``reason`` (``refused_address``, ``dns``,
    ``connect``, ``connect_timeout``, ``timeout``, ``tls``, ``connection``, ``peer_mismatch``) and ``detail``
    (the precise text, host only) are for operators; other codes have no more to tell them (``detail`` empty)."""

    CODES = ("bad_url", "unreachable", "too_large", "too_many_redirects", "http_error", "empty")

    def __init__(self, code: str, message: str, http_status: int | None = None, *, reason: str = "",
                 detail: str = "", retry_after: int | None = None):
        assert code in self.CODES, code
        super().__init__(message)
        self.code, self.message, self.http_status = code, message, http_status
        self.reason, self.detail = reason or code, detail
        self.retry_after = retry_after  # seconds, from a 429/503's Retry-After (None: none or unreadable)

    def __str__(self):
        return self.message


def retry_after_seconds(response) -> int | None:
    """A 429/503's ``Retry-After`` (delay-seconds or an HTTP-date) in whole seconds from now; None if absent/bad."""
    import email.utils  # local: keeps this module's import block as it is (parsing changes land there)
    import math

    value = (response.headers.get("Retry-After") or "").strip() if response.status in (429, 503) else ""
    if value.isdigit():
        return int(value)
    try:
        when = email.utils.parsedate_to_datetime(value) if value else None
    except (TypeError, ValueError):
        return None
    if when is None or when.tzinfo is None:
        return None
    return max(0, math.ceil(when.timestamp() - time.time()))


def _unreachable(reason: str, detail: str, http_status: int | None = None) -> FetchError:
    return FetchError("unreachable", UNREACHABLE, http_status, reason=reason, detail=f"{reason}: {detail}")


def _bad_url(message: str) -> FetchError:
    return FetchError("bad_url", message)


def redact_url(url: str) -> str:
    """``scheme://host[:port]/…`` — what may be shown or logged of an import URL (path and query are secret).

    The host is the one the HTTP client would connect to (urllib3's parse), not another parser's idea of it."""
    try:
        parts = parse_url(url)
    except (u3.LocationParseError, ValueError, TypeError):
        return "(invalid URL)"
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme or '?'}://{parts.host or '?'}{port}/…"


# --- which addresses a feed may live on ------------------------------------------------------------------


def _networks(*rows: tuple[str, str]) -> list[tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, str]]:
    return [(ipaddress.ip_network(net), why) for net, why in rows]


# IANA's special-purpose registries: everything here is not globally reachable unicast (or is multicast).
IPV4_REFUSED = _networks(
    ("0.0.0.0/8", "unspecified / this network"),
    ("10.0.0.0/8", "private"),
    ("100.64.0.0/10", "shared address space (carrier-grade NAT)"),
    ("127.0.0.0/8", "loopback"),
    ("169.254.0.0/16", "link-local (cloud metadata)"),
    ("172.16.0.0/12", "private"),
    ("192.0.0.0/24", "IETF protocol assignments"),
    ("192.0.2.0/24", "documentation"),
    ("192.88.99.0/24", "6to4 relay anycast (deprecated)"),
    ("192.168.0.0/16", "private"),
    ("198.18.0.0/15", "benchmarking"),
    ("198.51.100.0/24", "documentation"),
    ("203.0.113.0/24", "documentation"),
    ("224.0.0.0/4", "multicast"),
    ("240.0.0.0/4", "reserved / broadcast"),
)
IPV6_REFUSED = _networks(
    ("::/128", "unspecified"),
    ("::1/128", "loopback"),
    ("::/96", "IPv4-compatible (deprecated)"),
    ("64:ff9b:1::/48", "local-use NAT64"),
    ("100::/64", "discard-only"),
    ("2001::/32", "Teredo"),
    ("2001::/23", "IETF protocol assignments"),
    ("2001:db8::/32", "documentation"),
    ("3fff::/20", "documentation"),
    ("5f00::/16", "SRv6 segment identifiers"),
    ("fc00::/7", "unique local"),
    ("fe80::/10", "link-local"),
    ("fec0::/10", "site-local (deprecated)"),
    ("ff00::/8", "multicast"),
)
IPV6_GLOBAL_UNICAST = ipaddress.ip_network("2000::/3")
IPV4_MAPPED = ipaddress.ip_network("::ffff:0:0/96")
NAT64 = ipaddress.ip_network("64:ff9b::/96")
SIX_TO_FOUR = ipaddress.ip_network("2002::/16")

# Host names that are never a public feed: single labels (``db``, ``redis``) are refused as well.
LOCAL_SUFFIXES = ("localhost", "local", "localdomain", "internal", "intranet", "lan", "home", "corp", "private",
                  "arpa", "test", "example", "invalid", "onion", "alt")


def refusal_reason(ip: IPAddress) -> str | None:
    """Why ``ip`` must not be fetched from (``"loopback (127.0.0.0/8)"``), or ``None`` for global unicast.

    IPv6 forms that carry an IPv4 address (mapped, NAT64 well-known prefix, 6to4) are judged by that address."""
    if ip.version == 4:
        return next((f"{why} ({net})" for net, why in IPV4_REFUSED if ip in net), None)
    if ip.scope_id:
        return "IPv6 address with a zone"
    ip = ipaddress.IPv6Address(int(ip))
    embedded = None
    if ip in IPV4_MAPPED:
        embedded = "IPv4-mapped", ip.ipv4_mapped
    elif ip in NAT64:
        embedded = "NAT64", ipaddress.IPv4Address(int(ip) & 0xFFFF_FFFF)
    elif ip in SIX_TO_FOUR:
        embedded = "6to4", ip.sixtofour
    if embedded:
        kind, inner = embedded
        why = refusal_reason(inner)
        return f"{kind} form of {inner}: {why}" if why else None
    for net, why in IPV6_REFUSED:
        if ip in net:
            return f"{why} ({net})"
    if ip not in IPV6_GLOBAL_UNICAST:
        return f"not global unicast (outside {IPV6_GLOBAL_UNICAST})"
    return None


def local_name_reason(host: str) -> str | None:
    """Why the host *name* is local (``localhost.``, ``db``, ``printer.local``), or ``None``."""
    name = host.lower().removesuffix(".")
    if "." not in name:
        return "a single-label (local) host name"
    for suffix in LOCAL_SUFFIXES:
        if name == suffix or name.endswith("." + suffix):
            return f"a local or reserved name (.{suffix})"
    return None


# --- the one parse of an import URL ------------------------------------------------------------------------


@dataclass(frozen=True)
class FeedURL:
    """An import URL as the HTTP client will use it: all the fetch ever hands to the client."""

    scheme: str  # "http" | "https"
    host: str  # lower case, IDNA-encoded; an IPv6 literal in brackets
    port: int  # explicit or the scheme's default
    target: str  # path + query, percent-encoded: the request line's target (the fragment is never sent)
    ip: IPAddress | None  # when the host is an IP literal

    @property
    def url(self) -> str:
        default = 443 if self.scheme == "https" else 80
        return f"{self.scheme}://{self.host}{'' if self.port == default else f':{self.port}'}{self.target}"


# What urllib3 calls the authority: up to the first "/", "?" or "#" (a backslash is refused before this is used).
_AUTHORITY = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*://([^/?#]*)")
_LABEL = re.compile(r"^[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?$")
_DOTTED_QUAD = re.compile(r"^(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)$")
_NUMBER = re.compile(r"^(?:\d+|0[xX][0-9a-fA-F]*)$")


def _ambiguous_character(url: str) -> bool:
    """A backslash, whitespace, or a control/format/private/unassigned character (Unicode categories C*, Z*)."""
    return any(c == "\\" or unicodedata.category(c)[0] in "CZ" for c in url)


def _ends_in_number(host: str) -> bool:
    """The WHATWG URL rule: a host whose last label is a number (decimal, or 0x hex) is an IPv4 address."""
    labels = host.split(".")
    if labels[-1] == "" and len(labels) > 1:
        labels.pop()
    return bool(_NUMBER.match(labels[-1]))


def parse_import_url(url: str) -> FeedURL:
    """Parse ``url`` once, the way the HTTP client does, refusing everything ambiguous (``FetchError("bad_url")``).

    Syntax only: no DNS, and no judgement of the address (:func:`check_destination`). The messages never quote
    the URL."""
    if not isinstance(url, str) or not url:
        raise _bad_url("Paste the calendar's http(s):// address (an .ics link).")
    if len(url) > MAX_URL_LENGTH:
        raise _bad_url(f"The import URL is too long (at most {MAX_URL_LENGTH:,} characters).")
    if _ambiguous_character(url):
        raise _bad_url("The import URL contains characters a web address cannot have (spaces, backslashes or "
                       "control characters).")
    try:
        parts = parse_url(url)
    except (u3.LocationParseError, ValueError):
        raise _bad_url("The import URL is not a valid URL.") from None
    scheme = (parts.scheme or "").lower()
    if scheme not in ("http", "https"):
        raise _bad_url("Paste the calendar's http(s):// address (an .ics link).")
    authority = _AUTHORITY.match(url)
    if parts.auth is not None or (authority and "@" in authority.group(1)):
        raise _bad_url("The import URL must not contain a user name or password (\"…@\" before the host).")
    host = parts.host or ""
    if not host:
        raise _bad_url("The import URL has no host name.")
    port = parts.port if parts.port is not None else (443 if scheme == "https" else 80)
    if not 0 < port < 65536:
        raise _bad_url("The import URL's port is not valid.")
    ip: IPAddress | None = None
    if host.startswith("["):
        inner = host[1:-1]
        if "%" in inner:
            raise _bad_url("The import URL's IPv6 address must not carry a zone (\"%…\").")
        try:
            ip = ipaddress.IPv6Address(inner)
        except ValueError:
            raise _bad_url("The import URL's IPv6 address is not valid.") from None
    elif _ends_in_number(host):
        if not _DOTTED_QUAD.match(host):
            raise _bad_url("Write an IP address in the import URL as four decimal numbers (like 203.0.113.7), "
                           "or use the host name.")
        ip = ipaddress.IPv4Address(host)
    else:
        name = host.removesuffix(".")
        if len(name) > 253 or not all(_LABEL.match(label) for label in name.split(".")):
            raise _bad_url("The import URL's host name is not valid.")
    return FeedURL(scheme=scheme, host=host, port=port, target=parts.request_uri, ip=ip)


def check_destination(feed: FeedURL) -> None:
    """Refuse a literal address or a local name that is not public (syntax only, no DNS; ``unreachable``)."""
    if settings.CHANNEL_ALLOW_PRIVATE_URLS:
        return
    why = refusal_reason(feed.ip) if feed.ip is not None else local_name_reason(feed.host)
    if why:
        raise _unreachable("refused_address", f"{_where(feed)} is {why}")


def validate_import_url(url: str) -> FeedURL:
    """What the connection form accepts: :func:`parse_import_url` and :func:`check_destination`.

    Raises ``FetchError``; its ``message`` may be shown (it never quotes the URL). The form knows no more than
    what was typed (no DNS), so a refused literal or local name gets the clearer :data:`PUBLIC_ONLY`."""
    feed = parse_import_url(url)
    try:
        check_destination(feed)
    except FetchError:
        raise FetchError("bad_url", PUBLIC_ONLY) from None
    return feed


def _where(feed: FeedURL) -> str:
    return redact_url(feed.url)


def resolve_host(host: str, port: int) -> list[IPAddress]:
    """Every address ``host`` resolves to, in the resolver's order (a literal resolves to itself)."""
    found: list[IPAddress] = []
    for info in socket.getaddrinfo(host.strip("[]"), port, type=socket.SOCK_STREAM):
        ip = ipaddress.ip_address(info[4][0])
        if ip not in found:
            found.append(ip)
    return found


def vetted_addresses(feed: FeedURL) -> list[IPAddress]:
    """The addresses to connect to for ``feed``: resolved once, every one checked (``unreachable`` otherwise)."""
    check_destination(feed)
    if feed.ip is not None:
        return [feed.ip]
    try:
        addresses = resolve_host(feed.host, feed.port)
    except (OSError, UnicodeError, ValueError) as exc:
        raise _unreachable("dns", f"{_where(feed)}: the host name could not be resolved "
                                  f"({getattr(exc, 'strerror', None) or type(exc).__name__})") from None
    if not addresses:
        raise _unreachable("dns", f"{_where(feed)}: the host name resolved to no address")
    if not settings.CHANNEL_ALLOW_PRIVATE_URLS:
        refused = [f"{ip} is {why}" for ip in addresses if (why := refusal_reason(ip))]
        if refused:  # one private address among public ones is enough: the resolver may pick it any time
            raise _unreachable("refused_address", f"{_where(feed)} resolves to {'; '.join(refused)}")
    return addresses


# --- connections pinned to the vetted address ------------------------------------------------------------


class _PeerMismatch(Exception):
    """Raised by the pinned connections; not an OSError, so urllib3 passes it through unchanged."""


class _PinnedConnectionMixin:
    """Connects to the vetted address (``pinned``), never to what the host name resolves to now; ``host`` stays
    the name, so the Host header, TLS SNI and the certificate check use the name."""

    def __init__(self, *args, pinned: str, **kwargs):
        self.pinned = pinned
        super().__init__(*args, **kwargs)

    def _new_conn(self) -> socket.socket:
        try:
            sock = create_connection((self.pinned, self.port), self.timeout, source_address=self.source_address,
                                     socket_options=self.socket_options)
        except TimeoutError as exc:
            raise u3.ConnectTimeoutError(self, f"Connecting to {self.pinned} timed out.") from exc
        except OSError as exc:
            raise u3.NewConnectionError(self, f"Could not connect to {self.pinned}: "
                                              f"{exc.strerror or type(exc).__name__}") from exc
        try:
            peer = ipaddress.ip_address(sock.getpeername()[0])
        except (OSError, ValueError):
            peer = None
        if peer != ipaddress.ip_address(self.pinned):  # cannot happen; checked so that it never does
            sock.close()
            raise _PeerMismatch(f"connected to {peer}, not to the vetted {self.pinned}")
        return sock


class _PinnedHTTPConnection(_PinnedConnectionMixin, HTTPConnection):
    pass


class _PinnedHTTPSConnection(_PinnedConnectionMixin, HTTPSConnection):
    pass


class _PinnedHTTPPool(HTTPConnectionPool):
    ConnectionCls = _PinnedHTTPConnection


class _PinnedHTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _PinnedHTTPSConnection


def _pool(feed: FeedURL, ip: IPAddress, timeout: Timeout) -> HTTPConnectionPool:
    if feed.scheme == "https":
        return _PinnedHTTPSPool(feed.host, feed.port, timeout=timeout, maxsize=1, retries=False,
                                cert_reqs="CERT_REQUIRED", ca_certs=CA_BUNDLE, pinned=str(ip))
    return _PinnedHTTPPool(feed.host, feed.port, timeout=timeout, maxsize=1, retries=False, pinned=str(ip))


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


def _describe(exc: BaseException, feed: FeedURL) -> str:
    """An exception's text for operators, without the secret path or query."""
    text = f"{type(exc).__name__}: {exc}"
    for secret in {feed.target, feed.target.split("?", 1)[0], feed.target.partition("?")[2]} - {"", "/"}:
        text = text.replace(secret, "/…")
    return text[:300]


# --- the fetch ---------------------------------------------------------------------------------------------


def fetch_feed(url: str, *, etag: str = "", last_modified: str = "") -> FetchResult:
    """GET an iCal feed, safely (see the module docstring). 200 → the body, 304 → ``b""``; else ``FetchError``."""
    timeout = float(settings.CHANNEL_FETCH_TIMEOUT_SECONDS)
    max_bytes = int(settings.CHANNEL_FETCH_MAX_BYTES)
    max_redirects = int(settings.CHANNEL_FETCH_MAX_REDIRECTS)
    started = time.monotonic()
    deadline = started + timeout
    headers = {"User-Agent": settings.CHANNEL_FETCH_USER_AGENT, "Accept": ACCEPT,
               "Accept-Encoding": "gzip, deflate"}
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
    current = parse_import_url(url)
    for hop in range(max_redirects + 1):
        addresses = vetted_addresses(current)
        with _open(current, addresses, headers, deadline, timeout) as response:
            if response.status in REDIRECT_STATUSES:
                location = response.headers.get("Location", "")
                if not location:
                    raise FetchError("http_error", f"{_where(current)} answered a redirect without a Location.",
                                     response.status)
                if hop == max_redirects:
                    raise FetchError("too_many_redirects",
                                     f"{redact_url(url)} redirected more than {max_redirects} times.",
                                     response.status)
                current = parse_import_url(urljoin(current.url, location))
                continue
            if response.status == 304:
                if "If-None-Match" not in headers and "If-Modified-Since" not in headers:
                    # "Not modified" since what? We hold no calendar to keep: a broken server.
                    raise FetchError("http_error", f"{_where(current)} answered 304 to a request that was not "
                                     "conditional.", 304)
                return _result(304, b"", response, started, current)
            if response.status >= 400 or response.status < 200:
                raise FetchError("http_error", f"{_where(current)} answered HTTP {response.status}.",
                                 response.status, retry_after=retry_after_seconds(response))
            body = _read_body(response, current, deadline, max_bytes, timeout)
            if not body.strip():
                raise FetchError("empty", f"{_where(current)} returned an empty calendar.", response.status)
            return _result(200, body, response, started, current)
    raise AssertionError("unreachable")  # pragma: no cover - the loop returns or raises


@contextlib.contextmanager
def _open(feed: FeedURL, addresses: list[IPAddress], headers: dict, deadline: float, timeout: float):
    """The response of a GET of ``feed`` from the first of ``addresses`` that accepts a connection."""
    failed: BaseException | None = None
    for ip in addresses:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            break
        per_op = min(timeout, remaining)
        pool = _pool(feed, ip, Timeout(connect=per_op, read=per_op))
        try:
            response = pool.urlopen("GET", feed.target, headers=headers, redirect=False, retries=False,
                                    assert_same_host=False, preload_content=False, decode_content=True)
        except (u3.NewConnectionError, u3.ConnectTimeoutError) as exc:  # this address: try the next one
            pool.close()
            failed = exc
            continue
        except Exception as exc:
            pool.close()
            raise _connection_error(exc, feed, timeout) from None
        try:
            yield response
        finally:
            response.close()
            pool.close()
        return
    if failed is None:
        raise _unreachable("timeout", f"{_where(feed)} did not answer within {timeout:g} s")
    reason = "connect" if isinstance(failed, u3.NewConnectionError) else "connect_timeout"
    raise _unreachable(reason, f"{_where(feed)} ({', '.join(map(str, addresses))}): {_describe(failed, feed)}")


def _connection_error(exc: Exception, feed: FeedURL, timeout: float) -> Exception:
    if isinstance(exc, _PeerMismatch):
        return _unreachable("peer_mismatch", f"{_where(feed)}: {exc}")
    if isinstance(exc, u3.ReadTimeoutError | TimeoutError):
        return _unreachable("timeout", f"{_where(feed)} did not answer within {timeout:g} s")
    if isinstance(exc, u3.SSLError):
        return _unreachable("tls", f"{_where(feed)}: {_describe(exc, feed)}")
    if isinstance(exc, u3.HTTPError | OSError | http.client.HTTPException):
        return _unreachable("connection", f"{_where(feed)}: {_describe(exc, feed)}")
    return exc  # a bug: not ours to hide (channels.sync records it as an internal error)


def _read_body(response, feed: FeedURL, deadline, max_bytes, timeout) -> bytes:
    declared = response.headers.get("Content-Length", "")
    if declared.isdigit() and int(declared) > max_bytes:
        raise FetchError("too_large", f"{_where(feed)} sent {int(declared):,} bytes; the limit is "
                         f"{max_bytes:,}.", response.status)
    expired = threading.Event()

    def stop():  # the total-time cap: wakes a read blocked on a slow server
        expired.set()
        with contextlib.suppress(ValueError, RuntimeError, OSError):
            response.shutdown()

    watchdog = threading.Timer(max(0.0, deadline - time.monotonic()), stop)
    watchdog.daemon = True
    watchdog.start()
    chunks, size = [], 0
    try:
        while True:
            chunk = response.read1(CHUNK, decode_content=True)
            if not chunk:
                break
            size += len(chunk)
            if size > max_bytes:
                raise FetchError("too_large", f"{_where(feed)} sent more than {max_bytes:,} bytes.",
                                 response.status)
            chunks.append(chunk)
    except FetchError:
        raise
    except Exception as exc:  # noqa: BLE001 - urllib3/socket errors mid-body; their text may quote the URL
        if expired.is_set():
            raise _unreachable("timeout", f"{_where(feed)} did not send the calendar within {timeout:g} s",
                               response.status) from None
        if isinstance(exc, TimeoutError | u3.TimeoutError):
            raise _unreachable("timeout", f"{_where(feed)} stopped sending within {timeout:g} s",
                               response.status) from None
        raise _unreachable("connection", f"the connection to {_where(feed)} broke: {_describe(exc, feed)}",
                           response.status) from None
    finally:
        watchdog.cancel()
    if expired.is_set():  # the shutdown looks like an end of file: it is not one
        raise _unreachable("timeout", f"{_where(feed)} did not send the calendar within {timeout:g} s",
                           response.status)
    return b"".join(chunks)


_CHARSET = re.compile(r"""charset\s*=\s*["']?([A-Za-z0-9._:-]+)""", re.I)


def declared_charset(content_type: str) -> str:
    """The ``charset`` parameter of a ``Content-Type`` header, as a Python codec name ("" if none or unknown)."""
    m = _CHARSET.search(content_type or "")
    if not m:
        return ""
    try:
        name = codecs.lookup(m.group(1)).name
    except LookupError:
        return ""
    return "cp1252" if name == "iso8859-1" else name  # as browsers read "latin-1": its superset


def as_utf8(body: bytes, charset: str) -> bytes:
    """The body re-encoded as UTF-8 when the server declared another charset: the declaration is honoured before
    the parser's guessing (``channels.ical_parse`` reads UTF-8, else guesses Windows-1252). A UTF-8 byte-order mark
    wins over the header (as in browsers); a body that is not valid in its declared charset is left to the guess.
    Folded lines are joined on the bytes first when the charset is ASCII-compatible (a fold may split a
    multi-byte character)."""
    if not charset or charset == "utf-8" or body.startswith(codecs.BOM_UTF8):
        return body
    if "\r\n ".encode(charset, errors="replace") == b"\r\n ":
        body = unfold(body)
    try:
        return body.decode(charset).encode("utf-8")
    except UnicodeDecodeError:
        return body


def _result(status, body, response, started, feed: FeedURL) -> FetchResult:
    body = as_utf8(body, declared_charset(response.headers.get("Content-Type", "")))
    return FetchResult(status=status, body=body, etag=response.headers.get("ETag", "")[:255],
                       last_modified=response.headers.get("Last-Modified", "")[:64],
                       duration_ms=int((time.monotonic() - started) * 1000), final_url=feed.url)
