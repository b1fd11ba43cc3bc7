"""Invariant 5 at the service level: ``run_idempotent`` runs a handler at most once in effect per key.

(The HTTP ``Idempotency-Key`` behaviour is tested in tests/api.)
"""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from django.conf import settings
from django.db import connection
from django.utils import timezone

from bookings import services
from bookings.errors import BookingError, DatesUnavailable
from bookings.idempotency import (
    IdempotencyKeyReused,
    InvalidIdempotencyKey,
    delete_expired_keys,
    fingerprint,
    run_idempotent,
)
from bookings.models import Booking, IdempotencyKey
from core.actor import Actor
from guests.models import Guest
from guests.services import GuestInput
from tests.factories import PropertyFactory, future

SCOPE = "POST /api/v1/bookings anon"
GUEST = GuestInput(name="Ada", email="ada@example.com")


def body_for(prop, start=10, nights=3):
    return {"property_id": prop.pk, "check_in": future(start).isoformat(),
            "check_out": future(start + nights).isoformat()}


def booking_handler(prop, start=10, nights=3, calls=None):
    """Reserve through the service; map domain errors to (status, body) like the API does."""

    def handler():
        if calls is not None:
            calls.append(1)
        try:
            booking = services.reserve(property_id=prop.pk, check_in=future(start), check_out=future(start + nights),
                                       adults=2, guest=GUEST, actor=Actor.system("idem"))
        except BookingError as exc:
            return exc.http_status, exc.as_dict()
        return 201, {"reference": booking.reference, "total": str(booking.total)}

    return handler


def age_key(key: str, hours: float) -> None:
    IdempotencyKey.objects.filter(key=key).update(created_at=timezone.now() - timedelta(hours=hours))


# --- Sequential ---------------------------------------------------------------------------------------


@pytest.mark.sqlite
@pytest.mark.django_db
def test_same_key_same_body_runs_once_and_replays_identically():
    prop = PropertyFactory()
    calls = []
    h = fingerprint(body_for(prop))

    first = run_idempotent(scope=SCOPE, key="k1", request_hash=h, handler=booking_handler(prop, calls=calls))
    second = run_idempotent(scope=SCOPE, key="k1", request_hash=h, handler=booking_handler(prop, calls=calls))

    assert len(calls) == 1
    assert Booking.objects.count() == 1
    assert (first.status, first.replayed) == (201, False)
    assert (second.status, second.body, second.replayed) == (201, first.body, True)
    assert first.body["reference"] == Booking.objects.get().reference
    stored = IdempotencyKey.objects.get()
    assert (stored.scope, stored.key, stored.request_hash) == (SCOPE, "k1", h)
    assert (stored.response_status, stored.response_body) == (201, first.body)


@pytest.mark.sqlite
@pytest.mark.django_db
def test_same_key_different_body_is_refused():
    prop = PropertyFactory()
    run_idempotent(scope=SCOPE, key="k1", request_hash=fingerprint(body_for(prop)), handler=booking_handler(prop))
    calls = []

    with pytest.raises(IdempotencyKeyReused) as exc:
        run_idempotent(scope=SCOPE, key="k1", request_hash=fingerprint(body_for(prop, start=20)),
                       handler=booking_handler(prop, start=20, calls=calls))

    assert exc.value.code == "idempotency_key_reused" and exc.value.http_status == 422
    assert calls == []
    assert Booking.objects.count() == 1


@pytest.mark.django_db
def test_keys_are_scoped():
    prop = PropertyFactory()
    a = run_idempotent(scope="client-a", key="same", request_hash="x", handler=booking_handler(prop, start=10))
    b = run_idempotent(scope="client-b", key="same", request_hash="y", handler=booking_handler(prop, start=20))
    assert not a.replayed and not b.replayed
    assert a.body != b.body
    assert Booking.objects.count() == 2


@pytest.mark.sqlite
@pytest.mark.django_db
def test_a_4xx_answer_is_stored_and_its_own_writes_are_rolled_back():
    prop = PropertyFactory()
    calls = []

    def handler():
        calls.append(1)
        Guest.objects.create(name="Written before the conflict")
        return 409, {"code": "dates_unavailable"}

    first = run_idempotent(scope=SCOPE, key="k409", request_hash="h", handler=handler)
    again = run_idempotent(scope=SCOPE, key="k409", request_hash="h", handler=handler)

    assert (first.status, first.body, first.replayed) == (409, {"code": "dates_unavailable"}, False)
    assert (again.status, again.body, again.replayed) == (409, first.body, True)
    assert calls == [1]
    assert not Guest.objects.filter(name="Written before the conflict").exists()
    assert IdempotencyKey.objects.get(key="k409").response_status == 409
    assert prop.pk  # the property itself (outside the handler) is untouched


@pytest.mark.django_db
def test_a_real_conflict_through_the_service_is_replayed_as_the_same_409():
    prop = PropertyFactory()
    services.reserve(property_id=prop.pk, check_in=future(10), check_out=future(13), adults=2, guest=GUEST,
                     actor=Actor.system())
    first = run_idempotent(scope=SCOPE, key="k", request_hash="h", handler=booking_handler(prop, start=11))
    # Even when the dates free up, the key answers what it answered.
    Booking.objects.update(expires_at=timezone.now() - timedelta(minutes=1))
    again = run_idempotent(scope=SCOPE, key="k", request_hash="h", handler=booking_handler(prop, start=11))

    assert first.status == 409 and first.body["code"] == DatesUnavailable.code
    assert (again.status, again.body, again.replayed) == (409, first.body, True)
    assert Booking.objects.count() == 1


@pytest.mark.sqlite
@pytest.mark.django_db
def test_an_unexpected_exception_stores_nothing_and_the_client_may_retry():
    prop = PropertyFactory()

    def boom():
        services.reserve(property_id=prop.pk, check_in=future(10), check_out=future(13), adults=2, guest=GUEST,
                         actor=Actor.system())
        raise RuntimeError("crash after the write")

    with pytest.raises(RuntimeError):
        run_idempotent(scope=SCOPE, key="kx", request_hash="h", handler=boom)

    assert IdempotencyKey.objects.count() == 0
    assert Booking.objects.count() == 0  # the effect rolled back with the key
    retry = run_idempotent(scope=SCOPE, key="kx", request_hash="h", handler=booking_handler(prop))
    assert (retry.status, retry.replayed) == (201, False)
    assert Booking.objects.count() == 1


@pytest.mark.django_db
def test_a_key_older_than_the_ttl_counts_as_unused():
    prop = PropertyFactory()
    ttl = settings.IDEMPOTENCY_KEY_TTL_HOURS
    first = run_idempotent(scope=SCOPE, key="old", request_hash="h1", handler=booking_handler(prop, start=10))
    age_key("old", ttl + 1)

    # Different body, old key: not "reused", it is a fresh key.
    fresh = run_idempotent(scope=SCOPE, key="old", request_hash="h2", handler=booking_handler(prop, start=20))

    assert not fresh.replayed and fresh.status == 201
    assert fresh.body["reference"] != first.body["reference"]
    assert Booking.objects.count() == 2
    row = IdempotencyKey.objects.get(key="old")
    assert row.request_hash == "h2" and row.created_at > timezone.now() - timedelta(minutes=1)


@pytest.mark.django_db
def test_a_key_just_inside_the_ttl_still_replays():
    prop = PropertyFactory()
    first = run_idempotent(scope=SCOPE, key="young", request_hash="h", handler=booking_handler(prop))
    age_key("young", settings.IDEMPOTENCY_KEY_TTL_HOURS - 0.1)
    again = run_idempotent(scope=SCOPE, key="young", request_hash="h", handler=booking_handler(prop, start=30))
    assert again.replayed and again.body == first.body


@pytest.mark.sqlite
@pytest.mark.django_db
def test_delete_expired_keys_removes_only_old_keys():
    ttl = settings.IDEMPOTENCY_KEY_TTL_HOURS
    for key, hours in (("fresh", 0), ("almost", ttl - 1), ("old", ttl + 1), ("ancient", ttl * 10)):
        IdempotencyKey.objects.create(scope=SCOPE, key=key, request_hash="h", response_status=201,
                                      created_at=timezone.now() - timedelta(hours=hours))

    assert delete_expired_keys() == 2
    assert set(IdempotencyKey.objects.values_list("key", flat=True)) == {"fresh", "almost"}
    assert delete_expired_keys() == 0


@pytest.mark.django_db
@pytest.mark.parametrize("key", ["", "x" * 256, "bad\nkey", "tab\there"])
def test_invalid_keys_are_refused_before_anything_runs(key):
    calls = []
    with pytest.raises(InvalidIdempotencyKey):
        run_idempotent(scope=SCOPE, key=key, request_hash="h", handler=lambda: calls.append(1) or (201, {}))
    assert calls == [] and IdempotencyKey.objects.count() == 0


def test_fingerprint_ignores_key_order_but_not_values():
    assert fingerprint({"a": 1, "b": [1, 2]}) == fingerprint({"b": [1, 2], "a": 1})
    assert fingerprint({"a": 1}) != fingerprint({"a": "1"})
    assert fingerprint({"a": [1, 2]}) != fingerprint({"a": [2, 1]})
    assert len(fingerprint({})) == 64


# --- Concurrent --------------------------------------------------------------------------------------


@pytest.mark.sqlite
@pytest.mark.django_db(transaction=True)
def test_concurrent_requests_with_the_same_key_make_one_booking_and_get_the_same_answer():
    prop = PropertyFactory()
    threads_n = 12
    calls = []
    barrier = threading.Barrier(threads_n)
    outcomes: list = [None] * threads_n
    h = fingerprint(body_for(prop))

    def worker(i):
        try:
            connection.ensure_connection()
            barrier.wait(timeout=30)
            outcomes[i] = run_idempotent(scope=SCOPE, key="race", request_hash=h,
                                         handler=booking_handler(prop, calls=calls))
        except BaseException as exc:  # noqa: BLE001
            outcomes[i] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(threads_n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)

    errors = [o for o in outcomes if isinstance(o, BaseException)]
    assert errors == []
    assert len(calls) == 1
    assert Booking.objects.count() == 1
    assert {o.status for o in outcomes} == {201}
    assert all(o.body == outcomes[0].body for o in outcomes)
    assert sum(1 for o in outcomes if not o.replayed) == 1
    assert outcomes[0].body["reference"] == Booking.objects.get().reference


@pytest.mark.django_db(transaction=True)
def test_concurrent_requests_with_different_keys_for_the_same_dates_one_wins_each_answer_is_kept():
    prop = PropertyFactory()
    threads_n = 8
    barrier = threading.Barrier(threads_n)
    outcomes: list = [None] * threads_n

    def worker(i):
        try:
            connection.ensure_connection()
            barrier.wait(timeout=30)
            outcomes[i] = run_idempotent(scope=SCOPE, key=f"key-{i}", request_hash="h", handler=booking_handler(prop))
        except BaseException as exc:  # noqa: BLE001
            outcomes[i] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(threads_n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)

    assert sorted(o.status for o in outcomes) == [201] + [409] * (threads_n - 1)
    assert Booking.objects.count() == 1
    stored = dict(IdempotencyKey.objects.values_list("key", "response_status"))
    assert stored == {f"key-{i}": outcomes[i].status for i in range(threads_n)}


@pytest.mark.django_db(transaction=True)
def test_a_request_waiting_on_a_key_whose_first_request_crashes_runs_its_own_handler():
    """The second request blocks on the key until the first rolls back, then runs as a fresh request."""
    import time

    prop = PropertyFactory()
    inside = threading.Event()
    outcomes: dict = {}

    def crashing():
        services.reserve(property_id=prop.pk, check_in=future(10), check_out=future(13), adults=2, guest=GUEST,
                         actor=Actor.system())
        inside.set()
        time.sleep(0.3)  # the second request is now waiting on the key's unique index
        raise RuntimeError("worker died")

    def first():
        try:
            run_idempotent(scope=SCOPE, key="crash", request_hash="h", handler=crashing)
        except BaseException as exc:  # noqa: BLE001
            outcomes["first"] = exc
        finally:
            connection.close()

    def second():
        try:
            inside.wait(timeout=10)
            outcomes["second"] = run_idempotent(scope=SCOPE, key="crash", request_hash="h",
                                                handler=booking_handler(prop))
        finally:
            connection.close()

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)

    assert isinstance(outcomes["first"], RuntimeError)
    assert (outcomes["second"].status, outcomes["second"].replayed) == (201, False)
    assert Booking.objects.count() == 1
    assert IdempotencyKey.objects.get(key="crash").response_status == 201


@pytest.mark.django_db(transaction=True)
def test_a_4xx_answer_discards_the_outbox_events_of_its_rolled_back_writes(monkeypatch):
    from core import outbox
    from core.models import OutboxEvent

    monkeypatch.setattr(outbox, "_consumers", {})
    seen = []
    outbox.consumer("spy", outbox.TOPICS)(lambda event: seen.append(event.topic))
    prop = PropertyFactory()

    def handler():
        services.reserve(property_id=prop.pk, check_in=future(10), check_out=future(13), adults=2, guest=GUEST,
                         actor=Actor.system())
        return 409, {"code": "changed_my_mind"}

    result = run_idempotent(scope=SCOPE, key="k", request_hash="h", handler=handler)

    assert result.status == 409
    assert Booking.objects.count() == 0
    assert OutboxEvent.objects.count() == 0
    assert seen == []  # the on-commit delivery of the rolled-back event was discarded with it
