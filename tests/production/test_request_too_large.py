"""An API request body over DATA_UPLOAD_MAX_MEMORY_SIZE gets the API's JSON error 413, not an HTML 400 page."""

import json

import pytest
from django.core.exceptions import RequestDataTooBig

from api.errors import api_exception_handler
from tests.factories import future

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("path", ["/api/v1/holds", "/api/v1/bookings"])
def test_an_oversized_api_body_gets_a_json_413(client, settings, prop, path):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 2048
    body = json.dumps({"property_id": prop.pk, "check_in": future(10).isoformat(),
                       "check_out": future(12).isoformat(), "adults": 2, "children": 0,
                       "guest": {"name": "A" * 5000, "email": "a@example.com"}})

    response = client.post(path, body, content_type="application/json")

    assert response.status_code == 413
    assert response["Content-Type"] == "application/json"
    assert response.json() == {"code": "request_too_large",
                               "detail": "The request body is too large: at most 2048 bytes."}
    assert not prop.bookings.exists()


def test_a_body_within_the_limit_is_processed_as_before(client, settings, prop):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 2048

    response = client.post("/api/v1/holds", {"property_id": prop.pk, "check_in": future(10).isoformat(),
                                             "check_out": future(12).isoformat(), "adults": 2},
                           content_type="application/json")

    assert response.status_code == 201


def test_the_default_limit_applies_to_the_api(client, prop):
    response = client.post("/api/v1/holds", b"[" + b"0," * (1_400_000) + b"0]", content_type="application/json")

    assert response.status_code == 413 and response.json()["code"] == "request_too_large"


def test_too_big_while_reading_maps_to_the_same_answer():
    response = api_exception_handler(RequestDataTooBig("Request body exceeded settings.DATA_UPLOAD_MAX_MEMORY_SIZE."),
                                     {})

    assert response.status_code == 413 and response.data["code"] == "request_too_large"


def test_pages_keep_django_s_behaviour(client, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 100

    response = client.post("/accounts/login/", {"login": "a@example.com", "password": "x" * 500})

    assert response.status_code == 400  # a form page: Django's own 400, not the API's JSON
