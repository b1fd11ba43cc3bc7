"""The transactional outbox: how a lower layer tells the layers above it what happened, without importing them.

:func:`emit` writes an :class:`~core.models.OutboxEvent` in the caller's
transaction and, once that transaction commits, queues its delivery on Celery.
:func:`deliver` hands the event to every registered consumer interested in its
topic that has not processed it yet, recording each success in
:class:`~core.models.OutboxDelivery`; a consumer that fails is retried by the
sweeper (:func:`redeliver_pending`). Delivery is therefore at least once per
consumer, and consumers must be idempotent (they get the event's id).

Backfill (:func:`backfill`): history written after the fact (``seed_demo``'s year of
past stays and its demo bookings) goes through the same services and the same
outbox, so every consumer keeps its data in step (turnover tasks), but it has
already happened: nobody is notified of it. Events emitted inside the context are
marked ``payload["backfill"] = True``; delivering such an event, whenever and
wherever it happens (at commit, or the sweeper in a worker later), runs its
consumers inside the context again; :func:`bookings.notifications.queue`, where
every email is decided, decides nothing there (:func:`is_backfill`). Backfill
events are delivered in-process when their transaction commits instead of being
queued on the broker, so a backfill leaves no backlog in front of real work.
"""

from __future__ import annotations

import atexit
import logging
import os
import queue
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from contextlib import ExitStack, contextmanager, nullcontext
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import timedelta
from functools import partial

from celery import shared_task
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from .correlation import correlated, current_correlation_id
from .models import OutboxDelivery, OutboxEvent

log = logging.getLogger(__name__)

TOPICS = ("booking.created", "booking.updated", "booking.cancelled", "availability.updated", "pricing.updated")
BACKFILL = "backfill"  # the payload key that marks an event as written by a backfill

_backfill: ContextVar[bool] = ContextVar("outbox_backfill", default=False)


@contextmanager
def backfill():
    """Write history: what happens inside has already happened and notifies nobody (see the module doc)."""
    token = _backfill.set(True)
    try:
        yield
    finally:
        _backfill.reset(token)


def is_backfill() -> bool:
    """True inside :func:`backfill`, including while an event written by one is delivered."""
    return _backfill.get()


@dataclass(frozen=True)
class Consumer:
    name: str
    topics: frozenset[str]
    handler: Callable[[OutboxEvent], None]


_consumers: dict[str, Consumer] = {}


def consumer(name: str, topics=TOPICS):
    """Register ``handler(event)`` under a stable ``name`` for ``topics``."""

    def register(handler):
        _consumers[name] = Consumer(name, frozenset(topics), handler)
        return handler

    return register


def unregister(name: str) -> None:
    _consumers.pop(name, None)


def consumers_for(topic: str) -> list[Consumer]:
    return [c for c in _consumers.values() if topic in c.topics]


def emit(topic: str, aggregate_type: str, aggregate_id, payload: dict) -> OutboxEvent:
    event_id, payload = prepare(topic, payload)
    event = OutboxEvent.objects.create(
        id=event_id, topic=topic, aggregate_type=aggregate_type, aggregate_id=str(aggregate_id), payload=payload,
        correlation_id=current_correlation_id() or "",
    )
    written(event.pk, payload)
    return event


def table() -> str:
    """The events' table, for a caller that inserts an event in its own statement (see :func:`prepare`)."""
    return OutboxEvent._meta.db_table


def prepare(topic: str, payload: dict) -> tuple[uuid.UUID, dict]:
    """For a caller that writes the event row itself, in the statement that writes the change it describes
    (``bookings.statements``, one round trip): the new event's id and its payload as :func:`emit` would store it
    (the topic checked, the backfill mark added). Call :func:`written` once the row is inserted."""
    if topic not in TOPICS:
        raise ValueError(f"Unknown outbox topic {topic!r}")
    if is_backfill():
        payload = {**payload, BACKFILL: True}
    return uuid.uuid4(), payload


def written(event_id, payload: dict) -> None:
    """Deliver an event once its transaction commits (:func:`emit`'s events, and those a caller inserted in its own
    statement, see :func:`prepare`)."""
    if payload.get(BACKFILL):  # delivered here, not queued: a failure leaves it to the sweeper
        transaction.on_commit(lambda: deliver(event_id), robust=True)
    else:
        transaction.on_commit(lambda: _queue_delivery(event_id))


def _queue_delivery(event_id) -> None:
    """After commit: hand the event to the broker. Through :data:`publisher` (a thread of this process that sends
    the events committed meanwhile as one message), except when tasks run eagerly (the tests,
    ``CELERY_TASK_ALWAYS_EAGER``): then it is delivered here and now, as before."""
    if not settings.CELERY_TASK_ALWAYS_EAGER:
        publisher.put(event_id)
        return
    try:
        deliver_outbox_event.delay(str(event_id))
    except Exception:  # the broker being down must not fail the request: the sweeper delivers later
        log.warning("Could not queue outbox event %s; the sweeper will deliver it", event_id, exc_info=True)


class Publisher:
    """Publishes the ids of committed events from a thread of this process, up to :data:`MAX_BATCH` per Celery
    message (``deliver_outbox_events``).

    Why: one Celery publish costs about 1.2 ms of CPU (kombu builds the message and a Redis client for it) and a
    round trip to Redis; in a booking request that was more CPU than all of its SQL (docs/performance-writes.md).
    Here the request only appends to a queue; the thread waits ``OUTBOX_PUBLISH_LINGER_MS`` after the first id so
    that what commits meanwhile (other threads, other requests) goes in the same message. An id still queued when
    the process dies (killed, not stopped: :meth:`flush` runs at exit) is delivered by the sweeper
    (``redeliver_pending``) like an event whose publish failed: the outbox row is the record, the message is only
    a wake-up call. A forked child starts its own thread (the parent's does not survive the fork)."""

    MAX_BATCH = 200

    def __init__(self) -> None:
        self._pid: int | None = None
        self._lock = threading.Lock()
        self._queue: queue.SimpleQueue[str] = queue.SimpleQueue()

    def put(self, event_id) -> None:
        if self._pid != os.getpid():
            with self._lock:
                if self._pid != os.getpid():
                    self._queue = queue.SimpleQueue()
                    threading.Thread(target=self._run, name="outbox-publisher", daemon=True).start()
                    self._pid = os.getpid()
        self._queue.put(str(event_id))

    def _take(self, block: bool) -> list[str]:
        ids: list[str] = []
        try:
            if block:
                ids.append(self._queue.get())
                time.sleep(settings.OUTBOX_PUBLISH_LINGER_MS / 1000)
            while len(ids) < self.MAX_BATCH:
                ids.append(self._queue.get_nowait())
        except queue.Empty:
            pass
        return ids

    def _run(self) -> None:
        while True:
            self._publish(self._take(block=True))

    def flush(self) -> None:
        """Publish what is queued now, in this thread (at exit)."""
        if self._pid != os.getpid():
            return
        while ids := self._take(block=False):
            self._publish(ids)

    @staticmethod
    def _publish(ids: list[str]) -> None:
        try:
            deliver_outbox_events.delay(ids)
        except Exception:  # the broker being down must not fail anything: the sweeper delivers later
            log.warning("Could not queue outbox events %s; the sweeper will deliver them", ids, exc_info=True)


publisher = Publisher()
atexit.register(publisher.flush)


def deliver(event_id) -> bool:
    """Deliver one event to its pending consumers. Returns True when it is fully delivered.

    The consumers run under the event's correlation id (the request that wrote it), whoever delivers it and when,
    and so do the tasks they queue after this transaction commits (the id is reset only after the commit)."""
    with ExitStack() as event_context, transaction.atomic():
        event = OutboxEvent.objects.select_for_update(skip_locked=True).filter(pk=event_id).first()
        if event is None or event.delivered_at is not None:
            return event is not None  # delivered, or another worker is delivering it now
        event_context.enter_context(correlated(event.correlation_id or None))
        return _deliver_locked(event)


def _deliver_locked(event: OutboxEvent) -> bool:
    done = set(event.deliveries.values_list("consumer", flat=True))
    errors = []
    delivered = []
    context = backfill if event.payload.get(BACKFILL) else nullcontext
    for c in consumers_for(event.topic):
        if c.name in done:
            continue
        try:
            with transaction.atomic(), context():
                c.handler(event)
                OutboxDelivery.objects.create(event=event, consumer=c.name)
            delivered.append(c.name)
        except Exception as exc:  # one consumer failing must not stop the others
            log.exception("Outbox consumer %s failed on event %s", c.name, event.pk)
            errors.append(f"{c.name}: {exc!r}")
    event.attempts += 1
    event.last_error = "\n".join(errors)
    if not errors:
        event.delivered_at = timezone.now()
    event.save(update_fields=["attempts", "last_error", "delivered_at"])
    log.info("outbox_delivered", extra={"event_id": str(event.pk), "topic": event.topic, "attempt": event.attempts,
                                        "consumers": delivered, "failed": len(errors)})
    return not errors


# Queued by :func:`emit` after commit. It is defined here, beside what it runs, so that this module never
# imports ``core.tasks`` (which holds the sweeper and imports this module); the name is the one queued messages carry.
@shared_task(name="core.tasks.deliver_outbox_event", acks_late=True, autoretry_for=(Exception,), retry_backoff=True,
             max_retries=5)
def deliver_outbox_event(event_id: str) -> bool:
    return deliver(event_id)


# Queued by :data:`publisher` (the events committed within a few milliseconds of each other in one process) and by
# :func:`emit_many` (the events of one transaction, e.g. a feed import).
@shared_task(name="core.tasks.deliver_outbox_events", acks_late=True, autoretry_for=(Exception,), retry_backoff=True,
             max_retries=5)
def deliver_outbox_events(event_ids: list[str]) -> int:
    """Deliver each event (:func:`deliver`, idempotent: a retry of the batch skips what is delivered). Returns how
    many are fully delivered."""
    return sum(1 for event_id in event_ids if deliver(event_id))


def redeliver_pending(limit: int = 500) -> int:
    """The sweeper: deliver events still undelivered after a grace period. Returns how many it tried."""
    cutoff = timezone.now() - timedelta(seconds=settings.OUTBOX_REDELIVER_AFTER_SECONDS)
    ids = list(
        OutboxEvent.objects.filter(delivered_at__isnull=True, created_at__lte=cutoff)
        .order_by("created_at")
        .values_list("pk", flat=True)[:limit]
    )
    for event_id in ids:
        deliver(event_id)
    return len(ids)


def emit_many(events: Sequence[tuple[str, str, object, dict]]) -> list[OutboxEvent]:
    """:func:`emit` for many events of one transaction, given as ``(topic, aggregate_type, aggregate_id, payload)``:
    one INSERT, and one delivery task queued after commit for all of them (:func:`deliver_outbox_events`; a feed
    import writes thousands: queued one by one, the broker round trips cost more than the import). Each event is
    still delivered on its own (:func:`deliver`), so consumers see no difference."""
    if not events:
        return []
    correlation_id = current_correlation_id() or ""
    rows = []
    for topic, aggregate_type, aggregate_id, payload in events:
        event_id, stored = prepare(topic, payload)
        rows.append(OutboxEvent(id=event_id, topic=topic, aggregate_type=aggregate_type,
                                aggregate_id=str(aggregate_id), payload=stored, correlation_id=correlation_id))
    created = OutboxEvent.objects.bulk_create(rows)
    ids = [str(event.pk) for event in created]
    if is_backfill():
        for delivered_id in ids:
            transaction.on_commit(partial(deliver, delivered_id), robust=True)
    else:
        transaction.on_commit(lambda: _queue_deliveries(ids))
    return created


def _queue_deliveries(event_ids: list[str]) -> None:
    try:
        deliver_outbox_events.delay(event_ids)
    except Exception:  # the broker being down must not fail the request: the sweeper delivers later
        log.warning("Could not queue %d outbox events; the sweeper will deliver them", len(event_ids), exc_info=True)
