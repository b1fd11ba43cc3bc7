"""``/metrics`` for Prometheus: what the processes recorded (``core.metrics``) and the gauges read at scrape time.

* **Who may scrape** (:func:`scrape_allowed`): a request with ``Authorization: Bearer <METRICS_TOKEN>``, or from an
  address in ``METRICS_ALLOWED_NETWORKS``. With neither setting, only a development server (``DEBUG``) answers;
  production refuses (403) until one is set, so the numbers of a business are never public by accident.
* **Several processes**: with ``PROMETHEUS_MULTIPROC_DIR`` set, the answer adds up the files every process of
  this machine wrote there (gunicorn workers); without it (``runserver``, the tests) the process's own registry.
* **Gauges read at scrape time** (:class:`OperationsCollector`): the numbers of the operations page
  (``backoffice.operations.snapshot``: a handful of aggregate queries), computed when Prometheus asks, never kept
  in a process. A database that does not answer makes them absent (and ``stayhold_operations_up`` 0), not a 500.
* **Request durations** (:class:`RequestMetricsMiddleware`): ``api_request_duration_seconds`` by URL pattern name,
  method and status; a request that matched no pattern is ``route="unmatched"``.
"""

from __future__ import annotations

import hmac
import ipaddress
import logging
import os
import time

from django.conf import settings
from django.http import HttpResponse, JsonResponse
from django.views.decorators.cache import never_cache
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector

from backoffice import operations
from core.client_address import client_address
from core.metrics import API_REQUEST_DURATION

log = logging.getLogger(__name__)

HTTP_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
UNMATCHED = "unmatched"


# --- who may scrape ------------------------------------------------------------------------------------------


def allowed_networks() -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    return [ipaddress.ip_network(entry, strict=False) for entry in settings.METRICS_ALLOWED_NETWORKS]


def scrape_allowed(request) -> bool:
    token = settings.METRICS_TOKEN
    if token:
        header = request.headers.get("Authorization", "")
        scheme, _, given = header.partition(" ")
        if scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), token.encode()):
            return True
    networks = allowed_networks()
    if networks:
        address = client_address(request)
        if address is not None and any(address in network for network in networks):
            return True
    return not token and not networks and settings.DEBUG


# --- the gauges read at scrape time ----------------------------------------------------------------------------


class OperationsCollector:
    """The operations numbers (``backoffice.operations.snapshot``) as gauges, read when Prometheus scrapes."""

    def describe(self):
        return []  # nothing is read at registration (no query while the registry is built)

    def collect(self):
        up = GaugeMetricFamily("stayhold_operations_up", "1 when the operations gauges below could be read.")
        try:
            snap = operations.snapshot()
        except Exception:  # a database outage: the gauges are absent, /metrics still answers (and /readyz fails)
            log.warning("The operations gauges could not be read", exc_info=True)
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        yield _gauge("outbox_backlog", "Outbox events not yet delivered to every consumer.", snap.outbox_backlog)
        yield _gauge("outbox_oldest_undelivered_age_seconds", "Age of the oldest undelivered outbox event (0: none).",
                     snap.outbox_oldest_age or 0)
        holds = GaugeMetricFamily("live_holds", "Holds and reservations still holding their nights, by status.",
                                  labels=["status"])
        for status in ("held", "reserved"):
            holds.add_metric([status], snap.live_holds.get(status, 0))
        yield holds
        yield _gauge("manual_payments_awaiting_verification", "Manual payments claimed (or flagged) and not yet "
                     "confirmed or rejected by the owner.", snap.manual_awaiting)
        yield _gauge("manual_payments_oldest_awaiting_age_seconds", "Age of the oldest manual payment awaiting "
                     "verification, since the guest's claim (0: none).", snap.manual_oldest_age or 0)
        yield _gauge("card_payments_stuck", "Card payments still pending or requiring action "
                     f"{settings.OPS_PAYMENT_STUCK_AFTER_MINUTES} minutes after they started.",
                     snap.stuck_card_payments)
        connections = GaugeMetricFamily("channel_connections", "Channel connections by platform and health "
                                        "(ok, warning, failing, paused).", labels=["platform", "health"])
        for (platform, status), n in sorted(snap.connections.items()):
            connections.add_metric([platform, status], n)
        yield connections
        breakers = GaugeMetricFamily("channel_circuit_breakers_open", "API connections whose circuit breaker is "
                                     "open (pushes paused after repeated failures), by platform.", labels=["platform"])
        for platform, n in sorted(snap.open_breakers.items()):
            breakers.add_metric([platform], n)
        yield breakers
        lag = GaugeMetricFamily("channel_sync_lag_seconds", "The worst lag per platform: iCal, time since the last "
                                "successful import; API, age of the oldest change not yet pushed.",
                                labels=["platform", "transport"])
        for (platform, kind), seconds in sorted(snap.sync_lag.items()):
            lag.add_metric([platform, kind], seconds)
        yield lag
        failures = GaugeMetricFamily("celery_task_failures_last_day", "Celery task failures over the last 24 "
                                     "hours, per task (from every worker, through the cache).", labels=["task"])
        for task, n in snap.task_failures.items():
            failures.add_metric([task], n)
        yield failures


def _gauge(name: str, documentation: str, value: float) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, documentation, value=value)


_operations_collector = OperationsCollector()


def multiprocess_dir() -> str:
    return os.environ.get("PROMETHEUS_MULTIPROC_DIR", "")


def registry_for_scrape(*, with_operations: bool = True) -> CollectorRegistry:
    """What one scrape answers: every process's recorded values, plus the gauges read now."""
    if multiprocess_dir():
        registry = CollectorRegistry()
        MultiProcessCollector(registry)
    else:
        registry = CollectorRegistry()
        registry.register(_DefaultRegistry())
    if with_operations:
        registry.register(_operations_collector)
    return registry


class _DefaultRegistry:
    """The process's own registry (single process: runserver, the tests) inside a per-scrape registry."""

    def collect(self):
        return REGISTRY.collect()


@never_cache
def metrics_view(request):
    if not scrape_allowed(request):
        status = 401 if settings.METRICS_TOKEN else 403
        response = JsonResponse({"code": "metrics_refused", "detail": "A bearer token (METRICS_TOKEN) or an "
                                 "allowed network (METRICS_ALLOWED_NETWORKS) is required."}, status=status)
        if status == 401:
            response["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    return HttpResponse(generate_latest(registry_for_scrape()), content_type=CONTENT_TYPE_LATEST)


# --- request durations -----------------------------------------------------------------------------------------


class RequestMetricsMiddleware:
    """``api_request_duration_seconds``: first in the chain, so it times everything the app does for a request."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        started = time.perf_counter()
        response = self.get_response(request)
        match = getattr(request, "resolver_match", None)
        route = (match.view_name or UNMATCHED) if match is not None else UNMATCHED
        method = request.method if request.method in HTTP_METHODS else "other"
        API_REQUEST_DURATION.labels(route=route, method=method, status=str(response.status_code)).observe(
            time.perf_counter() - started)
        return response
