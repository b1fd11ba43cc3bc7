"""Who sent this request: the one client-address function of every rate limit and audit record.

Every limiter keys anonymous clients by :func:`client_key` (the API's create throttle, the details form, the
card and manual payment limits) and allauth's login limits by :func:`client_ip` (through
``guests.adapter.AccountAdapter.get_client_ip``); audit rows store :func:`client_ip`.

``X-Forwarded-For`` is a request header: any client can send one with any content. It is read only when the
request arrives from a proxy named in ``TRUSTED_PROXIES`` (IP addresses or CIDR networks, and ``unix`` for a
proxy talking to gunicorn over a Unix socket, where ``REMOTE_ADDR`` is empty); the default is none, so a
directly exposed server uses ``REMOTE_ADDR`` and ignores the header. Behind trusted proxies the client is the
right-most address in ``X-Forwarded-For`` that is not itself a trusted proxy: each proxy appends the address it
received the request from, so everything left of that (which the client could have written) is ignored. An
entry that is not an IP address stops the walk at the nearest known hop (fail closed: one shared bucket rather
than one a client can choose).

IPv6 clients usually own a whole /64 network and may pick any address in it, so :func:`client_key` counts a
/64 as one client (allauth does the same for its login limits); IPv4-mapped IPv6 addresses count as IPv4.
"""

from __future__ import annotations

import ipaddress
from functools import lru_cache

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPV6_CLIENT_PREFIX = 64
UNIX_SOCKET = "unix"  # the TRUSTED_PROXIES entry for a peer on a Unix socket (REMOTE_ADDR "")


def parse_ip(value: str) -> IPAddress | None:
    """An IP address from ``REMOTE_ADDR`` or one ``X-Forwarded-For`` entry (``1.2.3.4:80``, ``[::1]:80`` too);
    None when it is not one. IPv4-mapped IPv6 (``::ffff:1.2.3.4``) becomes the IPv4 address."""
    value = (value or "").strip()
    if value.startswith("["):  # [v6] or [v6]:port
        value = value[1:].partition("]")[0]
    elif value.count(":") == 1:  # v4:port
        value = value.partition(":")[0]
    try:
        address = ipaddress.ip_address(value)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


@lru_cache(maxsize=8)
def _trusted(entries: tuple[str, ...]) -> tuple[tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...], bool]:
    networks, unix = [], False
    for entry in entries:
        entry = entry.strip()
        if entry.lower() == UNIX_SOCKET:
            unix = True
            continue
        try:
            networks.append(ipaddress.ip_network(entry, strict=False))
        except ValueError as exc:
            raise ImproperlyConfigured(
                f"TRUSTED_PROXIES: {entry!r} is not an IP address, a CIDR network or {UNIX_SOCKET!r}.") from exc
    return tuple(networks), unix


def trusted_proxies() -> tuple[tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...], bool]:
    """``TRUSTED_PROXIES`` parsed: (networks, whether a Unix-socket peer is trusted). Raises on a bad entry."""
    return _trusted(tuple(getattr(settings, "TRUSTED_PROXIES", ()) or ()))


def _is_proxy(address: IPAddress | None, networks, unix: bool) -> bool:
    if address is None:
        return unix
    return any(address in network for network in networks)


def client_address(request) -> IPAddress | None:
    """The client's IP address (see the module docstring), or None when it cannot be known."""
    remote_raw = request.META.get("REMOTE_ADDR", "") or ""
    remote = parse_ip(remote_raw)
    networks, unix = trusted_proxies()
    if remote is None and remote_raw.strip():
        return None  # something else than an address, and not a Unix-socket peer
    if not _is_proxy(remote, networks, unix):
        return remote
    address = remote
    for entry in reversed(request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")):
        hop = parse_ip(entry)
        if hop is None:
            break  # a trusted proxy would have written an address: stop at the nearest known hop
        address = hop
        if not _is_proxy(hop, networks, False):
            break
    return address


def client_ip(request) -> str:
    """The client's IP address as text (normalised), or ``""`` when unknown. For audit rows and allauth."""
    address = client_address(request)
    return str(address) if address is not None else ""


def client_key(request) -> str:
    """The name a per-client rate limit counts under: the IPv4 address, the IPv6 /64 network, or ``unknown``."""
    address = client_address(request)
    if address is None:
        return "unknown"
    if isinstance(address, ipaddress.IPv6Address):
        return str(ipaddress.IPv6Network((address, IPV6_CLIENT_PREFIX), strict=False))
    return str(address)
