"""Idempotency-Key on POST /api/v1/bookings and /api/v1/holds: sequential, different body, concurrent."""

import threading
import uuid

import pytest
from django.db import connection
from rest_framework.test import APIClient

from bookings.models import Booking, BookingStatus, IdempotencyKey
from bookings.services import cancel
from core.actor import Actor
from tests.factories import UserFactory

S = BookingStatus


def _post(api, path, body, key):
    return api.post(path, body, format="json", HTTP_IDEMPOTENCY_KEY=key)


@pytest.mark.django_db
def test_same_key_and_body_replays_the_first_response_without_a_second_booking(api, prop, booking_body):
    body = booking_body(prop)

    first = _post(api, "/api/v1/bookings", body, "key-1")
    second = _post(api, "/api/v1/bookings", body, "key-1")

    assert first.status_code == second.status_code == 201
    assert first.json() == second.json()
    assert "Idempotent-Replayed" not in first
    assert second["Idempotent-Replayed"] == "true"
    assert Booking.objects.count() == 1
    assert IdempotencyKey.objects.get(key="key-1").scope == "POST /api/v1/bookings anon"


@pytest.mark.django_db
def test_same_key_with_a_different_body_is_422(api, prop, booking_body):
    _post(api, "/api/v1/bookings", booking_body(prop, start=10), "key-2")

    response = _post(api, "/api/v1/bookings", booking_body(prop, start=20), "key-2")

    assert response.status_code == 422
    assert response.json()["code"] == "idempotency_key_reused"
    assert Booking.objects.count() == 1


@pytest.mark.django_db
def test_a_domain_error_is_stored_and_replayed_with_the_key(api, prop, booking_body, create_booking):
    blocking = create_booking(prop, start=10)
    body = booking_body(prop, start=11)

    first = _post(api, "/api/v1/bookings", body, "key-3")
    cancel(booking_id=Booking.objects.get(reference=blocking["reference"]).pk, actor=Actor.system("t"), reason="x")
    retry = _post(api, "/api/v1/bookings", body, "key-3")
    fresh = _post(api, "/api/v1/bookings", body, "key-4")

    assert first.status_code == retry.status_code == 409
    assert retry.json() == first.json() and retry.json()["code"] == "dates_unavailable"
    assert retry["Idempotent-Replayed"] == "true"
    assert fresh.status_code == 201  # a new key is a new attempt


@pytest.mark.django_db
def test_a_validation_error_does_not_use_up_the_key(api, prop, booking_body):
    bad = booking_body(prop, adults=0)
    assert _post(api, "/api/v1/bookings", bad, "key-5").status_code == 400
    assert _post(api, "/api/v1/bookings", booking_body(prop), "key-5").status_code == 201


@pytest.mark.django_db
@pytest.mark.parametrize("key", ["", "k" * 256, "bad\nkey"])
def test_invalid_keys_are_400(api, prop, booking_body, key):
    response = _post(api, "/api/v1/bookings", booking_body(prop), key)
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_idempotency_key"
    assert not Booking.objects.exists()


@pytest.mark.django_db
def test_keys_are_scoped_to_the_client(api, prop, booking_body):
    assert _post(api, "/api/v1/bookings", booking_body(prop, start=10), "shared").status_code == 201
    api.force_authenticate(UserFactory(email="someone@example.com"))
    response = _post(api, "/api/v1/bookings", booking_body(prop, start=20), "shared")
    assert response.status_code == 201  # not a reuse: another client's key space
    assert Booking.objects.count() == 2


@pytest.mark.django_db
def test_holds_accept_an_idempotency_key(api, prop, stay):
    first = _post(api, "/api/v1/holds", stay(prop), "hold-key")
    second = _post(api, "/api/v1/holds", stay(prop), "hold-key")
    other_body = _post(api, "/api/v1/holds", stay(prop, start=30), "hold-key")

    assert first.status_code == second.status_code == 201
    assert second.json() == first.json()  # the same id and release_token
    assert second["Idempotent-Replayed"] == "true"
    assert other_body.status_code == 422
    assert Booking.objects.filter(status=S.HELD).count() == 1


def _in_parallel(n, request):
    """Run ``request(client)`` in ``n`` threads released together; return their responses."""
    barrier = threading.Barrier(n)
    responses = [None] * n
    errors = []

    def run(i):
        try:
            client = APIClient()
            barrier.wait(timeout=30)
            responses[i] = request(client)
        except Exception as exc:  # surfaced below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors, errors
    return responses


@pytest.mark.django_db(transaction=True)
def test_concurrent_requests_with_the_same_key_create_one_booking(prop, booking_body):
    body = booking_body(prop)
    key = str(uuid.uuid4())

    responses = _in_parallel(8, lambda c: c.post("/api/v1/bookings", body, format="json", HTTP_IDEMPOTENCY_KEY=key))

    assert [r.status_code for r in responses] == [201] * 8
    assert len({r.json()["reference"] for r in responses}) == 1
    assert len({r.json()["access_token"] for r in responses}) == 1
    assert sum(r.get("Idempotent-Replayed") == "true" for r in responses) == 7
    assert Booking.objects.count() == 1
    assert IdempotencyKey.objects.filter(key=key).count() == 1


@pytest.mark.django_db(transaction=True)
def test_concurrent_bookings_of_the_same_dates_with_different_keys_one_wins(prop, booking_body):
    body = booking_body(prop)

    responses = _in_parallel(
        8, lambda c: c.post("/api/v1/bookings", body, format="json", HTTP_IDEMPOTENCY_KEY=str(uuid.uuid4()))
    )

    codes = sorted(r.status_code for r in responses)
    assert codes == [201] + [409] * 7
    assert {r.json()["code"] for r in responses if r.status_code == 409} == {"dates_unavailable"}
    assert Booking.objects.filter(status=S.RESERVED).count() == 1
