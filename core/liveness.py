"""What the Celery processes leave in the cache for ``/readyz`` and the operations page (docs/operations.md).

* **Heartbeats.** Beat sends :func:`heartbeat` every minute (the ``core`` migration 0003 schedules it). When beat
  publishes it, :func:`record_beat_publish` (a ``before_task_publish`` handler, connected by ``config.celery_metrics``)
  stores the send time; when a worker runs it, it stores the run time. ``/readyz`` fails when either is older than
  ``HEALTH_HEARTBEAT_MAX_AGE_SECONDS``: a beat seen but no worker means the workers are gone or stuck behind a
  queue, a worker seen but no beat means nothing is scheduling the periodic jobs.
* **Task failures**, counted per task and hour (``task_failure`` signal), so that the operations page and the
  ``celery_task_failures_last_day`` gauge show the failures of the last 24 hours from any process (the
  ``celery_task_failures_total`` counter lives in the worker's own metrics).

The cache is Redis in production (shared by every process) and a file cache in ``make run``; a cache outage loses
a heartbeat or a count, never a task.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

from celery import shared_task
from django.core.cache import cache
from django.utils import timezone

HEARTBEAT_TASK = "core.tasks.heartbeat"
BEAT_KEY = "liveness:beat"
WORKER_KEY = "liveness:worker"
KEEP_SECONDS = 7 * 24 * 3600  # a heartbeat long gone still tells "last seen" on the operations page
FAILURE_KEY = "liveness:task-failures:{hour}:{task}"
FAILURE_WINDOW_HOURS = 24


def _now_stamp() -> float:
    return timezone.now().timestamp()


def record_beat_publish(sender=None, **kwargs) -> None:
    """``before_task_publish``: beat (or anyone) is sending the heartbeat now."""
    if sender == HEARTBEAT_TASK:
        cache.set(BEAT_KEY, _now_stamp(), KEEP_SECONDS)


@shared_task(name=HEARTBEAT_TASK, ignore_result=True)
def heartbeat() -> None:
    """Run by a worker: record that a worker took a task off the queue now."""
    cache.set(WORKER_KEY, _now_stamp(), KEEP_SECONDS)


def last_seen() -> dict[str, datetime | None]:
    """When beat last sent, and a worker last ran, the heartbeat (``None``: never, or the cache forgot)."""
    stamps = cache.get_many([BEAT_KEY, WORKER_KEY])
    return {name: (datetime.fromtimestamp(stamps[key], tz=UTC) if key in stamps else None)
            for name, key in (("beat", BEAT_KEY), ("worker", WORKER_KEY))}


def _hour(moment: datetime) -> str:
    return moment.strftime("%Y%m%d%H")


def record_task_failure(task_name: str) -> None:
    key = FAILURE_KEY.format(hour=_hour(timezone.now()), task=task_name)
    try:
        cache.add(key, 0, (FAILURE_WINDOW_HOURS + 1) * 3600)
        cache.incr(key)
    except ValueError:  # the key expired between add and incr (the cache's own fallback ran out): start again
        cache.set(key, 1, (FAILURE_WINDOW_HOURS + 1) * 3600)


def task_failures_last_day(task_names: Iterable[str], now: datetime | None = None) -> dict[str, int]:
    """Failures per task over the last 24 clock hours (one cache read). Tasks without a failure are left out."""
    now = now or timezone.now()
    hours = [_hour(now - timedelta(hours=h)) for h in range(FAILURE_WINDOW_HOURS)]
    keys = {FAILURE_KEY.format(hour=hour, task=name): name for name in task_names for hour in hours}
    counts: dict[str, int] = {}
    for key, value in cache.get_many(list(keys)).items():
        counts[keys[key]] = counts.get(keys[key], 0) + int(value)
    return dict(sorted(counts.items()))
