"""The cache backend: Redis, and each process's own memory while Redis cannot be reached.

Decision (issue 11): the database is the source of truth; the cache holds only rate-limit counters (DRF's
create throttle, ``core.ratelimit``, allauth's login limits and used TOTP codes) and short-lived caches
(the iCal feeds' Last-Modified). None of that is worth failing a booking or a login for, so when a Redis call
fails with a connection error or a timeout, :class:`ResilientRedisCache`

* logs one warning (the address without its password) and answers that call, and every call of this process
  for the next ``RETRY_AFTER`` seconds (``REDIS_RETRY_SECONDS``, default 5), from a per-process memory cache
  (Django's ``LocMemCache``), without trying Redis again in between;
* then tries Redis again, and logs when it is back.

Rate limits therefore keep counting while Redis is down, per process: with ``WEB_CONCURRENCY`` gunicorn workers
a client may get up to that many times the limit, and counts start from zero on each switch. This is a
deliberate choice over failing open (no limit at all, which an attacker could provoke) and over failing closed
(no booking and no login while a cache is down). Short socket timeouts (``REDIS_TIMEOUT_SECONDS``, in the
backend's ``OPTIONS``) bound what one call can cost when Redis does not answer at all.
"""

from __future__ import annotations

import logging
import threading
import time
from urllib.parse import urlsplit

from django.core.cache.backends.locmem import LocMemCache
from django.core.cache.backends.redis import RedisCache, RedisCacheClient
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

log = logging.getLogger(__name__)

UNREACHABLE = (RedisConnectionError, RedisTimeoutError)
DEFAULT_RETRY_AFTER = 5.0

# Per process (Django builds one backend object per thread): location → monotonic time to try Redis again.
_down_until: dict[str, float] = {}
_state_lock = threading.Lock()


def redacted(location: str) -> str:
    """``redis://:secret@host:6379/0`` → ``redis://host:6379/0``: an address fit for a log line."""
    parts = urlsplit(location)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    netloc = f"{host}:{parts.port}" if parts.port else host
    return f"{parts.scheme}://{netloc}{parts.path}"


def _guarded(name: str):
    def method(self, *args, **kwargs):
        return self._call(name, args, kwargs)

    method.__name__ = name
    method.__doc__ = f"``{name}`` on Redis, or on this process's memory cache while Redis is unreachable."
    return method


class ReusedClientRedisCacheClient(RedisCacheClient):
    """Django's Redis cache client with one ``redis.Redis`` object per connection pool.

    Django's builds a new ``redis.Redis`` (and its table of about 170 response callbacks) on every cache call: two
    per API booking for its throttle, about 0.3 ms of CPU each (docs/performance-writes.md). A ``redis.Redis``
    is safe to share between threads: it takes a connection from its pool for each command."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._clients: dict[int, object] = {}

    def get_client(self, key=None, *, write=False):
        pool = self._get_connection_pool(write)
        client = self._clients.get(id(pool))
        if client is None:
            client = self._clients[id(pool)] = self._client(connection_pool=pool)
        return client


class ResilientRedisCache(RedisCache):
    """Django's ``RedisCache`` that falls back to a per-process ``LocMemCache`` (see the module docstring).

    ``CACHES["default"]["RETRY_AFTER"]``: seconds to stay on the fallback after a failure (default 5)."""

    def __init__(self, server, params):
        super().__init__(server, params)
        self._class = ReusedClientRedisCacheClient
        self._location = ",".join(self._servers)
        self._retry_after = float(params.get("RETRY_AFTER", DEFAULT_RETRY_AFTER))
        fallback_params = {key: params[key] for key in ("TIMEOUT", "KEY_PREFIX", "VERSION") if key in params}
        # One LocMemCache storage per name and process, shared by every thread's backend object.
        self._fallback = LocMemCache(f"redis-fallback:{self._location}", fallback_params)

    @property
    def redis_down(self) -> bool:
        """True while this process answers from memory instead of Redis."""
        return _down_until.get(self._location, 0.0) > time.monotonic()

    def _call(self, name: str, args, kwargs):
        if self.redis_down:
            return getattr(self._fallback, name)(*args, **kwargs)
        try:
            result = getattr(RedisCache, name)(self, *args, **kwargs)
        except UNREACHABLE as exc:
            with _state_lock:
                first = self._location not in _down_until
                _down_until[self._location] = time.monotonic() + self._retry_after
            if first:
                log.warning("Redis cache at %s is unreachable (%s: %s): rate limits and caches use this process's "
                            "memory, Redis is tried again every %g s", redacted(self._location),
                            type(exc).__name__, exc, self._retry_after)
            return getattr(self._fallback, name)(*args, **kwargs)
        if self._location in _down_until:
            with _state_lock:
                was_down = _down_until.pop(self._location, None) is not None
            if was_down:
                log.warning("Redis cache at %s is reachable again", redacted(self._location))
        return result

    add = _guarded("add")
    get = _guarded("get")
    set = _guarded("set")
    touch = _guarded("touch")
    delete = _guarded("delete")
    get_many = _guarded("get_many")
    has_key = _guarded("has_key")
    incr = _guarded("incr")
    set_many = _guarded("set_many")
    delete_many = _guarded("delete_many")
    clear = _guarded("clear")
