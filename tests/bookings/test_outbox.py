"""Invariant 6: outbox events are written with the change, delivered at least once, and recorded."""

from __future__ import annotations

import threading
import time
from datetime import timedelta

import pytest
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from bookings import services
from bookings.models import Booking
from core import outbox
from core.actor import Actor
from core.models import OutboxDelivery, OutboxEvent
from guests.services import GuestInput
from tests.factories import PropertyFactory, future
from tests.own_queue import every_task_to
from tests.parallel import run_in_parallel

SYSTEM = Actor.system("outbox-test")
GUEST = GuestInput(name="Ada", email="ada@example.com")


class Recorder:
    """A test consumer: records the events it got, fails while ``failing`` is set."""

    def __init__(self, name, topics=outbox.TOPICS):
        self.name = name
        self.topics = topics
        self.seen: list = []
        self.threads: list = []
        self.failing = False

    def __call__(self, event):
        self.seen.append(event.pk)
        self.threads.append(threading.current_thread())
        if self.failing:
            raise RuntimeError(f"{self.name} is down")


@pytest.fixture
def consumers(monkeypatch):
    """Register test consumers in an otherwise empty registry; unregister them afterwards."""
    monkeypatch.setattr(outbox, "_consumers", {})
    made = []

    def make(name, topics=outbox.TOPICS):
        rec = Recorder(name, topics)
        outbox.consumer(name, topics)(rec)
        made.append(name)
        return rec

    yield make
    for name in made:
        outbox.unregister(name)
    assert outbox._consumers == {}


def reserve(prop, start=10, nights=3, **kw):
    return services.reserve(property_id=prop.pk, check_in=future(start), check_out=future(start + nights), adults=2,
                            guest=GUEST, actor=SYSTEM, **kw)


# --- Written in the same transaction --------------------------------------------------------------------


@pytest.mark.sqlite
@pytest.mark.django_db
def test_event_rolls_back_with_the_change():
    prop = PropertyFactory()
    with pytest.raises(RuntimeError), transaction.atomic():
        reserve(prop)
        assert OutboxEvent.objects.filter(topic="booking.created").count() == 1  # visible inside the transaction
        raise RuntimeError("the caller fails after the service")

    assert Booking.objects.count() == 0
    assert OutboxEvent.objects.count() == 0


@pytest.mark.sqlite
@pytest.mark.django_db
def test_each_change_writes_its_event():
    prop = PropertyFactory()
    booking = reserve(prop)
    services.confirm(booking_id=booking.pk, actor=SYSTEM)
    services.cancel(booking_id=booking.pk, actor=SYSTEM, reason="plans changed")
    held = services.hold(property_id=prop.pk, check_in=future(20), check_out=future(22), adults=1, actor=SYSTEM)
    services.release_hold(hold_id=held.pk, actor=SYSTEM)

    topics = list(OutboxEvent.objects.order_by("created_at").values_list("topic", "aggregate_id", "payload__status"))
    assert topics == [
        ("booking.created", str(booking.pk), "reserved"),
        ("booking.updated", str(booking.pk), "confirmed"),
        ("booking.cancelled", str(booking.pk), "cancelled"),
        ("booking.created", str(held.pk), "held"),
        ("booking.cancelled", str(held.pk), "released"),
    ]


@pytest.mark.django_db
def test_unknown_topics_are_refused():
    with pytest.raises(ValueError):
        outbox.emit("booking.exploded", "booking", 1, {})
    assert OutboxEvent.objects.count() == 0


# --- deliver() --------------------------------------------------------------------------------------------


@pytest.mark.sqlite
@pytest.mark.django_db
def test_deliver_calls_every_interested_consumer_and_records_it(consumers):
    a, b = consumers("email"), consumers("channels")
    only_cancel = consumers("refunds", topics=("booking.cancelled",))
    event = outbox.emit("booking.created", "booking", 7, {"booking_id": 7})

    assert outbox.deliver(event.pk) is True

    event.refresh_from_db()
    assert a.seen == [event.pk] and b.seen == [event.pk]
    assert only_cancel.seen == []
    assert event.delivered_at is not None and event.attempts == 1 and event.last_error == ""
    assert set(event.deliveries.values_list("consumer", flat=True)) == {"email", "channels"}


@pytest.mark.sqlite
@pytest.mark.django_db
def test_a_second_deliver_is_a_no_op(consumers):
    a = consumers("email")
    event = outbox.emit("booking.updated", "booking", 1, {})
    outbox.deliver(event.pk)
    delivered_at = OutboxEvent.objects.get(pk=event.pk).delivered_at

    assert outbox.deliver(event.pk) is True
    assert outbox.deliver(event.pk) is True

    event.refresh_from_db()
    assert a.seen == [event.pk]
    assert OutboxDelivery.objects.filter(event=event).count() == 1
    assert (event.attempts, event.delivered_at) == (1, delivered_at)


@pytest.mark.sqlite
@pytest.mark.django_db
def test_a_failing_consumer_is_retried_alone_and_the_others_are_not_called_again(consumers):
    ok, flaky = consumers("ok"), consumers("flaky")
    flaky.failing = True
    event = outbox.emit("availability.updated", "property", 3, {"property_id": 3})

    assert outbox.deliver(event.pk) is False

    event.refresh_from_db()
    assert event.delivered_at is None
    assert event.attempts == 1
    assert "flaky" in event.last_error and "is down" in event.last_error and "ok:" not in event.last_error
    assert list(event.deliveries.values_list("consumer", flat=True)) == ["ok"]

    assert outbox.deliver(event.pk) is False  # still down
    event.refresh_from_db()
    assert event.attempts == 2 and event.delivered_at is None

    flaky.failing = False
    assert outbox.deliver(event.pk) is True

    event.refresh_from_db()
    assert ok.seen == [event.pk]  # delivered once, never re-called
    assert flaky.seen == [event.pk] * 3
    assert event.delivered_at is not None and event.attempts == 3 and event.last_error == ""
    assert sorted(event.deliveries.values_list("consumer", flat=True)) == ["flaky", "ok"]


@pytest.mark.django_db
def test_a_failing_consumer_rolls_back_its_own_writes(consumers):
    from guests.models import Guest

    event = outbox.emit("booking.created", "booking", 1, {})

    def half_done(evt):
        Guest.objects.create(name="half-written by a consumer")
        raise RuntimeError("fails after writing")

    outbox.consumer("half", outbox.TOPICS)(half_done)
    try:
        outbox.deliver(event.pk)
    finally:
        outbox.unregister("half")

    assert not Guest.objects.filter(name="half-written by a consumer").exists()
    assert not OutboxDelivery.objects.filter(event=event).exists()


@pytest.mark.django_db
def test_an_event_nobody_listens_to_is_marked_delivered(consumers):
    consumers("refunds", topics=("booking.cancelled",))
    event = outbox.emit("pricing.updated", "property", 1, {})
    assert outbox.deliver(event.pk) is True
    event.refresh_from_db()
    assert event.delivered_at is not None and not event.deliveries.exists()


@pytest.mark.django_db
def test_deliver_of_an_unknown_event_is_false():
    import uuid

    assert outbox.deliver(uuid.uuid4()) is False


@pytest.mark.sqlite
@pytest.mark.django_db
def test_redeliver_pending_picks_up_only_old_undelivered_events(consumers):
    rec = consumers("email")
    grace = settings.OUTBOX_REDELIVER_AFTER_SECONDS
    old = outbox.emit("booking.created", "booking", 1, {})
    fresh = outbox.emit("booking.created", "booking", 2, {})
    done = outbox.emit("booking.created", "booking", 3, {})
    long_ago = timezone.now() - timedelta(seconds=grace + 5)
    OutboxEvent.objects.filter(pk__in=[old.pk, done.pk]).update(created_at=long_ago)
    OutboxEvent.objects.filter(pk=done.pk).update(delivered_at=timezone.now())

    assert outbox.redeliver_pending() == 1

    assert rec.seen == [old.pk]
    assert OutboxEvent.objects.get(pk=old.pk).delivered_at is not None
    assert OutboxEvent.objects.get(pk=fresh.pk).delivered_at is None  # still within the grace period
    assert outbox.redeliver_pending() == 0


@pytest.mark.django_db
def test_redeliver_pending_retries_failures_until_they_succeed(consumers):
    rec = consumers("flaky")
    rec.failing = True
    event = outbox.emit("booking.created", "booking", 1, {})
    OutboxEvent.objects.filter(pk=event.pk).update(created_at=timezone.now() - timedelta(hours=1))

    assert outbox.redeliver_pending() == 1
    assert outbox.redeliver_pending() == 1
    rec.failing = False
    assert outbox.redeliver_pending() == 1
    assert outbox.redeliver_pending() == 0

    event.refresh_from_db()
    assert event.attempts == 3 and event.delivered_at is not None
    assert len(rec.seen) == 3


@pytest.mark.django_db
def test_the_celery_tasks_wrap_deliver_and_redeliver(consumers):
    from core.tasks import deliver_outbox_event, redeliver_outbox

    rec = consumers("email")
    event = outbox.emit("booking.created", "booking", 1, {})
    assert deliver_outbox_event.apply(args=[str(event.pk)]).get() is True
    assert rec.seen == [event.pk]
    assert redeliver_outbox.apply().get() == 0


# --- After commit, end to end ----------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_commit_triggers_delivery_and_rollback_does_not(consumers):
    rec = consumers("email")
    prop = PropertyFactory()

    booking = reserve(prop)  # commits: on_commit queues the (eager) Celery task

    event = OutboxEvent.objects.get(topic="booking.created")
    assert event.aggregate_id == str(booking.pk)
    assert rec.seen == [event.pk]
    assert rec.threads == [threading.main_thread()]  # eager in the tests: delivered right after the commit
    assert event.delivered_at is not None
    assert OutboxDelivery.objects.filter(event=event, consumer="email").exists()

    with pytest.raises(RuntimeError), transaction.atomic():
        services.cancel(booking_id=booking.pk, actor=SYSTEM, reason="rolled back")
        raise RuntimeError("abort")

    assert rec.seen == [event.pk]  # nothing delivered for the rolled-back change
    assert not OutboxEvent.objects.filter(topic="booking.cancelled").exists()


@pytest.mark.django_db(transaction=True)
def test_a_broker_failure_does_not_fail_the_change_and_the_sweeper_delivers(consumers, monkeypatch):
    from core import tasks

    rec = consumers("email")

    def broker_down(*args, **kwargs):
        raise ConnectionError("broker unreachable")

    monkeypatch.setattr(tasks.deliver_outbox_event, "delay", broker_down)
    booking = reserve(PropertyFactory())

    assert Booking.objects.filter(pk=booking.pk).exists()
    event = OutboxEvent.objects.get()
    assert event.delivered_at is None and rec.seen == []

    OutboxEvent.objects.update(created_at=timezone.now() - timedelta(hours=1))
    assert outbox.redeliver_pending() == 1
    assert rec.seen == [event.pk]


@pytest.mark.sqlite
@pytest.mark.django_db(transaction=True)
def test_concurrent_deliveries_of_one_event_call_each_consumer_once(consumers):
    rec = consumers("email")
    event = outbox.emit("booking.created", "booking", 1, {})  # autocommit: delivered already by the eager task
    OutboxEvent.objects.filter(pk=event.pk).update(delivered_at=None, attempts=0)
    OutboxDelivery.objects.all().delete()
    rec.seen.clear()
    results = run_in_parallel([lambda: outbox.deliver(event.pk)] * 10)

    assert [outcome for outcome, _ in results] == ["ok"] * 10
    assert rec.seen == [event.pk]
    assert OutboxDelivery.objects.filter(event=event).count() == 1
    event.refresh_from_db()
    assert event.delivered_at is not None and event.attempts == 1


# --- A real Celery worker -----------------------------------------------------------------------------------

def _redis_broker() -> str:
    """The broker the app is configured with (settings.REDIS_URL); the worker must use the same one,
    since the app's producer pool is bound to it."""
    from config.celery import app

    return app.conf.broker_url or ""


def _redis_up() -> bool:
    if not _redis_broker().startswith("redis://"):
        return False
    try:
        import redis

        redis.Redis.from_url(_redis_broker(), socket_connect_timeout=0.5).ping()
        return True
    except Exception:
        return False


@pytest.mark.skipif(not _redis_up(), reason="needs the Redis broker (REDIS_URL)")
@pytest.mark.django_db(transaction=True)
def test_a_real_worker_delivers_the_event_after_commit(consumers):
    from celery.contrib.testing.worker import start_worker

    from config.celery import app

    rec = consumers("email")
    queue = f"outbox-test-{time.time_ns()}"  # a queue of our own: nothing else is consumed, nothing left behind
    try:
        with every_task_to(queue), start_worker(app, pool="solo", perform_ping_check=False, loglevel="WARNING",
                                                shutdown_timeout=10, queues=[queue]):
            booking = reserve(PropertyFactory())
            event = OutboxEvent.objects.get(topic="booking.created")
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline:
                event.refresh_from_db()
                if event.delivered_at is not None:
                    break
                time.sleep(0.05)
    finally:
        with app.connection_for_write() as conn:
            conn.default_channel.queue_delete(queue)

    assert event.delivered_at is not None, "the worker did not deliver the event"
    assert event.aggregate_id == str(booking.pk)
    assert rec.seen == [event.pk]
    assert rec.threads[0] is not threading.main_thread()  # the worker ran it, not an eager call in the test
    assert OutboxDelivery.objects.filter(event=event, consumer="email").count() == 1


# --- backfill: history notifies nobody --------------------------------------------------------------------


@pytest.mark.django_db
def test_backfilled_history_notifies_nobody_while_the_consumers_keep_their_data_in_step(
        django_capture_on_commit_callbacks, mailoutbox):
    """What a backfill writes (seed_demo's history) goes through the real consumers: the turnover task is
    there, every event is delivered, but no email is decided or sent. The same story told live emails."""
    from bookings.models import SentEmail, TurnoverTask

    def stay(prop):
        booking = reserve(prop, start=5)
        services.confirm(booking_id=booking.pk, actor=SYSTEM)
        return booking

    with django_capture_on_commit_callbacks(execute=True), outbox.backfill():
        history = stay(PropertyFactory())
    assert OutboxEvent.objects.count() == 2
    assert not OutboxEvent.objects.filter(delivered_at__isnull=True).exists()
    assert all(e.payload["backfill"] is True for e in OutboxEvent.objects.all())
    assert set(OutboxDelivery.objects.values_list("consumer", flat=True)) == {"emails", "turnover", "channel_api"}
    assert TurnoverTask.objects.filter(booking=history).exists()
    assert SentEmail.objects.count() == 0 and mailoutbox == []

    with django_capture_on_commit_callbacks(execute=True):  # the control: the same, live
        live = stay(PropertyFactory())
    assert set(SentEmail.objects.values_list("booking", flat=True)) == {live.pk}
    assert {m.to[0] for m in mailoutbox} == {"ada@example.com", live.property.owner.email}
    assert "backfill" not in OutboxEvent.objects.filter(aggregate_id=str(live.pk)).first().payload


@pytest.mark.django_db
def test_a_backfill_event_delivered_later_by_the_sweeper_outside_the_context_still_notifies_nobody():
    """The mark travels with the event: a worker's sweeper, in another process and long after, decides no email."""
    from bookings.models import SentEmail

    with outbox.backfill():
        booking = reserve(PropertyFactory())
        services.confirm(booking_id=booking.pk, actor=SYSTEM)
        assert outbox.is_backfill()
    assert not outbox.is_backfill()  # the context ends with the block (on_commit never ran: no commit here)
    assert OutboxEvent.objects.filter(delivered_at__isnull=True).count() == 2

    for event in OutboxEvent.objects.order_by("created_at"):
        assert outbox.deliver(event.pk) is True

    assert SentEmail.objects.count() == 0
    assert OutboxDelivery.objects.filter(consumer="emails").count() == 2
    assert not outbox.is_backfill()


# --- Publishing with a broker: many events per message (core.outbox.Publisher) ------------------------------


@pytest.fixture
def quiet_publisher(monkeypatch, settings):
    """Tasks not eager (as with a broker), and a publisher whose thread is not started: the test flushes it."""
    import os

    settings.CELERY_TASK_ALWAYS_EAGER = False
    publisher = outbox.Publisher()
    publisher._pid = os.getpid()  # as if its thread ran already: nothing is published until flush()
    monkeypatch.setattr(outbox, "publisher", publisher)
    sent: list[list[str]] = []
    monkeypatch.setattr(outbox.deliver_outbox_events, "delay", lambda ids: sent.append(list(ids)))
    return publisher, sent


@pytest.mark.sqlite
@pytest.mark.django_db(transaction=True)
def test_events_committed_meanwhile_go_in_one_message_and_each_is_delivered(consumers, quiet_publisher):
    publisher, sent = quiet_publisher
    rec = consumers("email")
    prop = PropertyFactory()
    first, second = reserve(prop, start=10), reserve(prop, start=20)
    with pytest.raises(RuntimeError), transaction.atomic():
        reserve(prop, start=30)
        raise RuntimeError("rolled back: its event is never published")
    assert sent == [] and rec.seen == []  # committed, queued, not yet sent

    publisher.flush()

    events = list(OutboxEvent.objects.order_by("created_at"))
    assert [e.aggregate_id for e in events] == [str(first.pk), str(second.pk)]
    assert sent == [[str(e.pk) for e in events]]
    assert outbox.deliver_outbox_events.run(sent[0]) == 2  # what the worker runs for that message
    assert rec.seen == [e.pk for e in events]
    assert outbox.deliver_outbox_events.run(sent[0]) == 2 and len(rec.seen) == 2  # a redelivery changes nothing


@pytest.mark.sqlite
def test_a_batch_is_at_most_max_batch_ids(quiet_publisher):
    publisher, sent = quiet_publisher
    for i in range(outbox.Publisher.MAX_BATCH + 3):
        publisher.put(f"id-{i}")
    publisher.flush()
    assert [len(batch) for batch in sent] == [outbox.Publisher.MAX_BATCH, 3]
    assert [i for batch in sent for i in batch] == [f"id-{i}" for i in range(outbox.Publisher.MAX_BATCH + 3)]


@pytest.mark.sqlite
def test_the_publisher_thread_sends_what_is_put(monkeypatch, settings):
    settings.OUTBOX_PUBLISH_LINGER_MS = 0
    publisher = outbox.Publisher()
    got = threading.Event()
    sent = []
    monkeypatch.setattr(outbox.deliver_outbox_events, "delay", lambda ids: (sent.extend(ids), got.set()))
    publisher.put("event-1")
    assert got.wait(30)  # a wait for the thread, not a measure of speed
    assert sent == ["event-1"]


@pytest.mark.sqlite
def test_a_broker_failure_in_the_publisher_leaves_the_events_to_the_sweeper(quiet_publisher, monkeypatch, caplog):
    publisher, _sent = quiet_publisher

    def broker_down(ids):
        raise ConnectionError("broker unreachable")

    monkeypatch.setattr(outbox.deliver_outbox_events, "delay", broker_down)
    publisher.put("event-1")
    publisher.flush()  # does not raise
    assert "the sweeper will deliver them" in caplog.text
