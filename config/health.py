"""``/healthz`` and ``/readyz``: the container health checks (docs/operations.md, "Health checks").

* ``/healthz``: the process is up and answers. No database, no Redis: a load balancer or an orchestrator restarts
  a process that fails it, and restarting a web process does not mend a database.
* ``/readyz``: this process can do its work now. Each part is checked and named in the JSON body; any failure is
  a 503 (send no traffic here; with ``depends_on: condition: service_healthy`` the next container waits):

  ``database``  a connection answers ``SELECT 1`` (within ``HEALTH_DATABASE_TIMEOUT_SECONDS``)
  ``migrations`` no migration of the code is unapplied (checked until it passes once per process: code does not
                change under a running process, so after that it is remembered)
  ``redis``     ``PING`` answers (when ``REDIS_URL`` is set; ``make run`` has no Redis and reports "not used")
  ``worker``    a worker ran the heartbeat task within ``HEALTH_HEARTBEAT_MAX_AGE_SECONDS``
  ``beat``      beat sent it within the same time (``core.liveness``)
  ``outbox``    fewer than ``HEALTH_OUTBOX_BACKLOG_MAX`` undelivered outbox events

Both answer without a session, a CSRF cookie or a redirect, and are never cached.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import timedelta

import redis
from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connections
from django.db.migrations.executor import MigrationExecutor
from django.http import JsonResponse
from django.urls import resolve
from django.utils import timezone
from django.views.decorators.cache import never_cache

from backoffice import operations
from core import liveness

from .metrics import metrics_view

log = logging.getLogger(__name__)

_migrated: set[str] = set()  # aliases found fully migrated by this process


class NotReady(Exception):
    """A readiness check failed; the message says why (no secrets, no addresses)."""


def check_database() -> str:
    connection = connections[DEFAULT_DB_ALIAS]
    try:
        with connection.cursor() as cursor:
            if connection.vendor == "postgresql":
                timeout_ms = int(settings.HEALTH_DATABASE_TIMEOUT_SECONDS * 1000)
                cursor.execute("SET statement_timeout = %s", [timeout_ms])
                cursor.execute("SELECT 1")
                cursor.execute("RESET statement_timeout")
            else:
                cursor.execute("SELECT 1")
    except Exception as exc:
        connection.close_if_unusable_or_obsolete()
        raise NotReady(f"the database does not answer ({type(exc).__name__})") from exc
    return "ok"


def check_migrations() -> str:
    if DEFAULT_DB_ALIAS in _migrated:
        return "ok"
    connection = connections[DEFAULT_DB_ALIAS]
    try:
        executor = MigrationExecutor(connection)
        plan = executor.migration_plan(executor.loader.graph.leaf_nodes())
    except Exception as exc:
        raise NotReady(f"the migrations could not be read ({type(exc).__name__})") from exc
    if plan:
        names = ", ".join(f"{migration.app_label}.{migration.name}" for migration, _backwards in plan[:5])
        raise NotReady(f"{len(plan)} unapplied migration(s): {names}{' …' if len(plan) > 5 else ''}")
    _migrated.add(DEFAULT_DB_ALIAS)
    return "ok"


def check_redis() -> str:
    if not settings.REDIS_URL:
        return "not used (no REDIS_URL)"
    client = redis.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=settings.REDIS_TIMEOUT_SECONDS,
                                  socket_timeout=settings.REDIS_TIMEOUT_SECONDS)
    try:
        client.ping()
    except Exception as exc:
        raise NotReady(f"Redis does not answer ({type(exc).__name__})") from exc
    finally:
        client.close()
    return "ok"


def _heartbeat(part: str) -> Callable[[], str]:
    def check() -> str:
        seen = liveness.last_seen()[part]
        limit = timedelta(seconds=settings.HEALTH_HEARTBEAT_MAX_AGE_SECONDS)
        if seen is None:
            raise NotReady(f"no {part} heartbeat recorded (is the {part} running?)")
        age = timezone.now() - seen
        if age > limit:
            raise NotReady(f"last {part} heartbeat {int(age.total_seconds())} s ago (limit "
                           f"{settings.HEALTH_HEARTBEAT_MAX_AGE_SECONDS} s)")
        return f"ok ({int(age.total_seconds())} s ago)"

    return check


def check_outbox() -> str:
    try:
        backlog = operations.outbox_backlog()
    except Exception as exc:
        raise NotReady(f"the outbox could not be read ({type(exc).__name__})") from exc
    if backlog >= settings.HEALTH_OUTBOX_BACKLOG_MAX:
        raise NotReady(f"{backlog} undelivered outbox events (limit {settings.HEALTH_OUTBOX_BACKLOG_MAX})")
    return f"ok ({backlog} undelivered)"


CHECKS: dict[str, Callable[[], str]] = {
    "database": check_database,
    "migrations": check_migrations,
    "redis": check_redis,
    "worker": _heartbeat("worker"),
    "beat": _heartbeat("beat"),
    "outbox": check_outbox,
}
# A check that needs a part already found failing is not run, and says so (no second timeout on a dead database).
NEEDS = {"migrations": "database", "outbox": "database"}


def readiness() -> tuple[bool, dict[str, dict[str, object]]]:
    results: dict[str, dict[str, object]] = {}
    for name, check in CHECKS.items():
        needed = NEEDS.get(name)
        if needed and not results[needed]["ok"]:
            results[name] = {"ok": False, "detail": f"not checked: the {needed} check failed"}
            continue
        try:
            results[name] = {"ok": True, "detail": check()}
        except NotReady as exc:
            results[name] = {"ok": False, "detail": str(exc)}
        except Exception as exc:  # a bug in a check is a failed check, never a 500
            log.exception("Readiness check %s crashed", name)
            results[name] = {"ok": False, "detail": f"the check failed ({type(exc).__name__})"}
    return all(r["ok"] for r in results.values()), results


@never_cache
def healthz(request):
    return JsonResponse({"status": "ok"})


@never_cache
def readyz(request):
    ready, results = readiness()
    failing = [name for name, result in results.items() if not result["ok"]]
    body = {"status": "ok" if ready else "unavailable", "failing": failing, "checks": results}
    if failing:
        log.warning("Not ready: %s", ", ".join(f"{name} ({results[name]['detail']})" for name in failing))
    return JsonResponse(body, status=200 if ready else 503)


PROBES = {"/healthz": healthz, "/readyz": readyz, "/metrics": metrics_view}


class ProbeMiddleware:
    """Answer ``/healthz``, ``/readyz`` and ``/metrics`` before the rest of the chain (second in ``MIDDLEWARE``,
    after the request timer).

    A container health check or Prometheus calls the process by its address (``http://10.0.3.7:8000/readyz``),
    which is not one of ``ALLOWED_HOSTS``: through the whole chain that is a 400. These three answers never build
    a URL from the Host header, need no session, CSRF, language or HTTPS redirect, so they skip all of it (and
    ``/metrics`` keeps its own token/network rule)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        view = PROBES.get(request.path_info)
        if view is None:
            return self.get_response(request)
        request.resolver_match = resolve(request.path_info)  # the route label of api_request_duration_seconds
        return view(request)
