import pytest
from rest_framework.test import APIClient

from tests.factories import future


@pytest.fixture
def api():
    return APIClient()


@pytest.fixture
def stay():
    """A JSON body for a stay of ``prop`` from ``future(start)`` for ``nights`` nights."""

    def _stay(prop, start=10, nights=3, **extra):
        body = {
            "property_id": prop.pk,
            "check_in": future(start).isoformat(),
            "check_out": future(start + nights).isoformat(),
            "adults": 2,
            "children": 0,
        }
        body.update(extra)
        return body

    return _stay


@pytest.fixture
def booking_body(stay):
    def _body(prop, start=10, nights=3, **extra):
        body = stay(prop, start, nights)
        body["guest"] = {"name": "Ada Lovelace", "email": "ada@example.com", "phone": "+44 20 7946 0000",
                         "country": "GB"}
        body.update(extra)
        return body

    return _body


@pytest.fixture
def create_booking(api, booking_body):
    """POST a booking through the API and return the 201 body."""

    def _create(prop, start=10, nights=3, **extra):
        response = api.post("/api/v1/bookings", booking_body(prop, start, nights, **extra), format="json")
        assert response.status_code == 201, response.json()
        return response.json()

    return _create
