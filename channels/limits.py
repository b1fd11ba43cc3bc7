"""Platform request limits, shared by every worker: a sliding-window log per limit scope in Redis.

A push asks :func:`acquire` before each request with the adapter's scopes (``LimitScope``: at most N requests
per T seconds under a key, e.g. Channex's 10 availability requests per minute per property and 20 ARI requests
per minute in total). Either every scope has room, and the request is counted in all of them at once (one Lua
script: atomic across workers, timed by Redis's own clock), or nothing is counted and the answer is how long to
wait for the first scope to have room. The caller then re-queues itself for that long instead of sleeping, so a
burst of changes never turns into a storm of 429s and never holds a worker.

Without Redis (``REDIS_URL`` unset: the SQLite development set-up, one process) the same windows are kept in
this process's memory. When Redis is configured but cannot be reached, nothing is sent: the answer is "wait
``CHANNEL_LIMIT_UNAVAILABLE_WAIT_SECONDS``" (a delay, never an excess).
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque

import redis
from django.conf import settings

from .adapters.base import LimitScope

log = logging.getLogger(__name__)

_SCRIPT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local wait = 0
for i, key in ipairs(KEYS) do
  local limit = tonumber(ARGV[2 * i - 1])
  local window = tonumber(ARGV[2 * i])
  redis.call('ZREMRANGEBYSCORE', key, '-inf', now - window)
  if redis.call('ZCARD', key) >= limit then
    local oldest = redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')
    local w = tonumber(oldest[2]) + window - now
    if w > wait then wait = w end
  end
end
if wait > 0 then return wait end
for i, key in ipairs(KEYS) do
  local window = tonumber(ARGV[2 * i])
  local seq = redis.call('INCR', key .. ':seq')
  redis.call('ZADD', key, now, now .. ':' .. seq)
  redis.call('PEXPIRE', key, window)
  redis.call('PEXPIRE', key .. ':seq', window)
end
return 0
"""

_client: redis.Redis | None = None
_script = None
_memory: dict[str, deque] = {}
_memory_lock = threading.Lock()


def _redis():
    global _client, _script
    if _client is None:
        _client = redis.Redis.from_url(settings.REDIS_URL, socket_timeout=settings.REDIS_TIMEOUT_SECONDS,
                                       socket_connect_timeout=settings.REDIS_TIMEOUT_SECONDS)
        _script = _client.register_script(_SCRIPT)
    return _script


def acquire(scopes: list[LimitScope]) -> float:
    """Count one request in every scope and return 0, or count nothing and return the seconds to wait."""
    if not scopes:
        return 0.0
    if not settings.REDIS_URL:
        return _acquire_in_memory(scopes)
    keys = [f"stayhold:channel-limit:{scope.key}" for scope in scopes]
    args: list[int] = []
    for scope in scopes:
        args += [scope.requests, scope.seconds * 1000]
    try:
        waited_ms = _redis()(keys=keys, args=args)
    except redis.RedisError:
        log.warning("Channel limits: Redis unreachable; pushes wait", exc_info=True)
        return float(settings.CHANNEL_LIMIT_UNAVAILABLE_WAIT_SECONDS)
    return int(waited_ms) / 1000


def _acquire_in_memory(scopes: list[LimitScope]) -> float:
    now = time.monotonic()
    with _memory_lock:
        wait = 0.0
        for scope in scopes:
            log_ = _memory.setdefault(scope.key, deque())
            while log_ and log_[0] <= now - scope.seconds:
                log_.popleft()
            if len(log_) >= scope.requests:
                wait = max(wait, log_[0] + scope.seconds - now)
        if wait > 0:
            return wait
        for scope in scopes:
            _memory[scope.key].append(now)
        return 0.0


def reset(prefix: str = "") -> None:
    """Forget the windows (tests)."""
    with _memory_lock:
        _memory.clear()
    if settings.REDIS_URL:
        client = redis.Redis.from_url(settings.REDIS_URL)
        for key in client.scan_iter(f"stayhold:channel-limit:{prefix}*"):
            client.delete(key)
