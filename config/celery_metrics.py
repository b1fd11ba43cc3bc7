"""Celery's part of the metrics and of the readiness check: signal handlers (docs/operations.md).

* ``celery_task_runtime_seconds`` / ``celery_task_failures_total`` / ``celery_task_retries_total`` per task name
  (``task_prerun``/``task_postrun``/``task_failure``/``task_retry``), recorded in the process that runs the task:
  a prefork child writes them to ``PROMETHEUS_MULTIPROC_DIR``. Failures are also counted per hour in the cache
  (``core.liveness``) for the operations page.
* The heartbeat's beat side (``before_task_publish``: ``core.liveness.record_beat_publish``).
* A worker's metrics: with ``METRICS_WORKER_PORT`` set, the worker's main process serves what its children wrote
  on that port (``/metrics``, the same bearer token and allowed networks as the web's); Prometheus scrapes each
  worker there. The web's ``/metrics`` serves the web processes and the database gauges.
* The directory: a worker's main process empties it when it starts (``worker_init``, before the pool forks; the
  files of earlier runs would otherwise be added up again), and a child that exits is marked dead
  (``worker_process_shutdown``). Web processes and workers must not share one directory: each kind of process
  has its own, cleaned by itself (gunicorn: ``config.gunicorn_hooks``).

Connected once, from ``config.apps`` (the project's ``ready``). The logging helpers connect their own handlers in
their own module.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from celery import signals
from django.conf import settings

from core import liveness
from core.metrics import TASK_FAILURES, TASK_RETRIES, TASK_RUNTIME

log = logging.getLogger(__name__)

_started: dict[str, float] = {}  # task id → perf_counter at prerun (one process, one task at a time per id)


def _name(sender=None, task=None) -> str:
    task = task or sender
    return getattr(task, "name", None) or str(task or "unknown")


@signals.task_prerun.connect(weak=False, dispatch_uid="stayhold_metrics_prerun")
def _task_started(sender=None, task_id=None, task=None, **kwargs):
    if task_id:
        _started[task_id] = time.perf_counter()


@signals.task_postrun.connect(weak=False, dispatch_uid="stayhold_metrics_postrun")
def _task_finished(sender=None, task_id=None, task=None, **kwargs):
    started = _started.pop(task_id, None) if task_id else None
    if started is not None:
        TASK_RUNTIME.labels(task=_name(sender, task)).observe(time.perf_counter() - started)


@signals.task_failure.connect(weak=False, dispatch_uid="stayhold_metrics_failure")
def _task_failed(sender=None, **kwargs):
    name = _name(sender)
    TASK_FAILURES.labels(task=name).inc()
    try:
        liveness.record_task_failure(name)
    except Exception:  # the cache being down must not hide the task's own error
        log.warning("Could not count the failure of %s in the cache", name, exc_info=True)


@signals.task_retry.connect(weak=False, dispatch_uid="stayhold_metrics_retry")
def _task_retried(sender=None, **kwargs):
    TASK_RETRIES.labels(task=_name(sender)).inc()


signals.before_task_publish.connect(liveness.record_beat_publish, weak=False, dispatch_uid="stayhold_beat_heartbeat")


# --- the worker's own /metrics ----------------------------------------------------------------------------------


def clean_multiprocess_dir(directory: str, keep_pid: int | None = None) -> int:
    """Remove the value files of earlier processes (``*.db``), except ``keep_pid``'s. Returns how many."""
    removed = 0
    if not directory or not os.path.isdir(directory):
        return 0
    for name in os.listdir(directory):
        if not name.endswith(".db") or (keep_pid is not None and name.endswith(f"_{keep_pid}.db")):
            continue
        os.remove(os.path.join(directory, name))
        removed += 1
    return removed


@signals.worker_init.connect(weak=False, dispatch_uid="stayhold_metrics_worker_init")
def _worker_starting(**kwargs):
    directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR", "")
    if directory:
        os.makedirs(directory, exist_ok=True)
        clean_multiprocess_dir(directory, keep_pid=os.getpid())


@signals.worker_process_shutdown.connect(weak=False, dispatch_uid="stayhold_metrics_child_exit")
def _worker_child_exiting(pid=None, **kwargs):
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(pid or os.getpid())


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format, *args):  # noqa: A002 - the standard library's signature
        pass  # one line per scrape would drown the worker's log


def metrics_wsgi_app(environ, start_response):
    """The worker's ``/metrics``: the same access rule as the web's, the values of this machine's worker processes
    (no database gauges: the web answers those once)."""
    from django.http import HttpRequest

    from .metrics import CONTENT_TYPE_LATEST, generate_latest, registry_for_scrape, scrape_allowed

    request = HttpRequest()  # only what the access rule reads: the peer's address and the Authorization header
    request.META = {"REMOTE_ADDR": environ.get("REMOTE_ADDR", ""),
                    "HTTP_AUTHORIZATION": environ.get("HTTP_AUTHORIZATION", "")}
    if environ.get("PATH_INFO", "/") not in ("/", "/metrics"):
        start_response("404 Not Found", [("Content-Type", "text/plain")])
        return [b"not found\n"]
    if not scrape_allowed(request):
        start_response("403 Forbidden", [("Content-Type", "text/plain")])
        return [b"a bearer token (METRICS_TOKEN) or an allowed network (METRICS_ALLOWED_NETWORKS) is required\n"]
    start_response("200 OK", [("Content-Type", CONTENT_TYPE_LATEST)])
    return [generate_latest(registry_for_scrape(with_operations=False))]


def serve_worker_metrics(port: int, address: str = "0.0.0.0") -> WSGIServer:  # noqa: S104 - a container's port
    server = make_server(address, port, metrics_wsgi_app, handler_class=_QuietHandler)
    threading.Thread(target=server.serve_forever, name="metrics", daemon=True).start()
    return server


@signals.worker_ready.connect(weak=False, dispatch_uid="stayhold_metrics_worker_ready")
def _worker_ready(**kwargs):
    port = settings.METRICS_WORKER_PORT
    if port:
        serve_worker_metrics(port)
        log.info("Worker metrics on port %s (/metrics)", port)
