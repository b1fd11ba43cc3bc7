"""The Prometheus metrics every layer records (docs/operations.md, "Metrics").

Defined once, here at the bottom of the layers, so that a booking service, a channel push or a webhook view can
record a value without importing anything above it; ``config.metrics`` serves them on ``/metrics`` together with
the gauges computed at scrape time from the database (``backoffice.operations``).

Rules:

* **Bounded labels only**: a platform, a provider, a source, a status, an outcome, a task name, a URL pattern
  name: never a property, booking, guest, connection id, an email or a path. A label value outside its known set is
  recorded as ``other`` (:func:`bounded`).
* **Committed facts only**: a counter of something written to the database is incremented after the commit
  (:func:`count_after_commit`), so a rolled-back booking is never counted.
* **Several processes**: with ``PROMETHEUS_MULTIPROC_DIR`` set (gunicorn workers, Celery prefork children) the
  client library keeps each process's values in files of that directory and ``/metrics`` adds them up; the
  variable must be set before the first import of ``prometheus_client`` (the process environment). Histograms and
  counters only here: they add up across processes; the gauges are computed at scrape time from the database.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from contextlib import contextmanager
from functools import wraps

from django.db import DEFAULT_DB_ALIAS, transaction
from prometheus_client import Counter, Histogram

OTHER = "other"


def bounded(value: object, allowed: Iterable[str]) -> str:
    """``value`` as a label if it is one of ``allowed``, else ``other``: a label never takes an unbounded value."""
    text = str(value)
    return text if text in allowed else OTHER


# --- the seed's four (seed 001 §9.1) ----------------------------------------------------------------------------
# Latency buckets in seconds. Each alert threshold (30 s, 0.5 s, 60 s, 5 s) is a bucket boundary, so
# ``histogram_quantile`` is exact at the threshold.
SYNC_LATENCY = Histogram(
    "sync_latency_seconds",
    "From the domain event (outbox event written) to the channel platform accepting the change, per platform.",
    ["platform"], buckets=(0.5, 1, 2, 5, 10, 30, 60, 120, 300, 600, 1800, 3600, 4 * 3600))
API_REQUEST_DURATION = Histogram(
    "api_request_duration_seconds",
    "HTTP request handling time by URL pattern name (route), method and status code.",
    ["route", "method", "status"], buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10))
CALENDAR_LOCK_DURATION = Histogram(
    "calendar_lock_duration_seconds",
    "How long a property row lock (bookings.services.lock_property) is held: from the lock to the commit.",
    ["outcome"], buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5, 30, 60, 120))
WEBHOOK_PROCESSING = Histogram(
    "webhook_processing_seconds",
    "Time to handle one incoming webhook request, per provider (stripe, channex, booking_com, google_vr).",
    ["provider"], buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30))

# --- bookings and payments (counted once committed) ----------------------------------------------------------
BOOKINGS_CREATED = Counter("bookings_created_total", "Bookings and holds created, by source.", ["source"])
BOOKINGS_CANCELLED = Counter("bookings_cancelled_total", "Bookings moved to cancelled, by source.", ["source"])
BOOKINGS_EXPIRED = Counter("bookings_expired_total", "Holds and reservations whose time ran out, by source.",
                           ["source"])
PAYMENTS = Counter("payments_total",
                   "Payments reaching an outcome: method card (succeeded, failed, canceled) or a manual method "
                   "(cashapp, zelle, venmo, bank_transfer: confirmed, rejected, expired).", ["method", "outcome"])

# --- channels ----------------------------------------------------------------------------------------------
ICAL_FETCHES = Counter("ical_fetches_total", "iCal import runs by platform and outcome (ok, not_modified, "
                       "warning, error).", ["platform", "outcome"])
CHANNEL_PUSHES = Counter("channel_pushes_total", "API pushes by platform and outcome (pushed, failed, "
                         "breaker_open, ...).", ["platform", "outcome"])

# --- Celery (signals: config.celery_metrics) ----------------------------------------------------------------
TASK_RUNTIME = Histogram("celery_task_runtime_seconds", "Celery task run time, per task.", ["task"],
                         buckets=(0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300, 900))
TASK_FAILURES = Counter("celery_task_failures_total", "Celery tasks that raised, per task.", ["task"])
TASK_RETRIES = Counter("celery_task_retries_total", "Celery task retries, per task.", ["task"])


def count_after_commit(counter: Counter, using: str = DEFAULT_DB_ALIAS, amount: int = 1, **labels: str) -> None:
    """Increment ``counter`` by ``amount`` once the current transaction commits (at once outside one)."""
    transaction.on_commit(lambda: counter.labels(**labels).inc(amount), using=using)


# --- the property lock ---------------------------------------------------------------------------------------


class _LockClock:
    """The start of the first property lock of one transaction; observed once, when the transaction commits."""

    __slots__ = ("started",)

    def __init__(self) -> None:
        self.started = time.perf_counter()

    def __call__(self) -> None:
        CALENDAR_LOCK_DURATION.labels(outcome="commit").observe(time.perf_counter() - self.started)


_CLOCK_ATTRIBUTE = "_stayhold_lock_clock"


def start_lock_clock(using: str = DEFAULT_DB_ALIAS) -> None:
    """Called right after a property row is locked: start the clock of the transaction's lock, unless one runs.

    A transaction holds its row locks until it ends, so the first lock's start to the commit is how long the
    calendar was held. The clock is kept on the connection; it belongs to the current transaction as long as its
    commit callback is still queued there (a rolled-back transaction drops its callbacks, and the next transaction
    then starts a new clock). Rolled-back holds are not observed: Django has no rollback hook (docs/operations.md).
    """
    connection = transaction.get_connection(using)
    if not connection.in_atomic_block:
        return  # autocommit: the lock ended with its statement
    clock = getattr(connection, _CLOCK_ATTRIBUTE, None)
    if clock is not None and any(entry[1] is clock for entry in connection.run_on_commit):
        return  # a lock of this transaction is already timed (several properties, or a second lock of one)
    clock = _LockClock()
    setattr(connection, _CLOCK_ATTRIBUTE, clock)
    transaction.on_commit(clock, using=using)


# --- webhooks ---------------------------------------------------------------------------------------------------


@contextmanager
def time_webhook(provider: str):
    started = time.perf_counter()
    try:
        yield
    finally:
        WEBHOOK_PROCESSING.labels(provider=provider).observe(time.perf_counter() - started)


def timed_webhook(provider: str | Callable[..., str]):
    """Decorator of a webhook view: its handling time under ``provider`` (a name, or a function of the view's
    arguments that returns a bounded name)."""

    def decorate(view):
        @wraps(view)
        def timed(request, *args, **kwargs):
            name = provider(request, *args, **kwargs) if callable(provider) else provider
            with time_webhook(name):
                return view(request, *args, **kwargs)

        return timed

    return decorate
