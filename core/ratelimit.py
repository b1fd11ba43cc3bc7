"""A fixed-window rate limit kept in the cache (Redis in production), for the HTML and JSON
endpoints that DRF's throttles do not cover (reservation form, card and manual payments).

Callers name the client with ``core.client_address.client_key`` (the one client-address function; it reads
``X-Forwarded-For`` only from ``TRUSTED_PROXIES``). While Redis is unreachable the cache backend
(``config.cache``) counts in each process's memory, so the limits still hold per process."""

from django.core.cache import cache

PERIOD_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_rate(rate: str) -> tuple[int, int]:
    """``"60/min"`` → (60, 60): the number allowed and the window in seconds."""
    number, _, period = rate.partition("/")
    return int(number), PERIOD_SECONDS.get(period[:1], 60)


def hit(key: str, rate: str) -> int:
    """Count one hit on ``key`` against ``rate``. Returns 0 when allowed, else the window's seconds to wait."""
    limit, seconds = parse_rate(rate)
    key = f"ratelimit:{key}"
    cache.add(key, 0, timeout=seconds)
    try:
        count = cache.incr(key)
    except ValueError:  # the window expired between add and incr
        cache.set(key, 1, timeout=seconds)
        count = 1
    return 0 if count <= limit else seconds
