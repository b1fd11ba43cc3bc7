"""The error shape, throttling, and the OpenAPI schema and docs."""

from io import StringIO

import pytest
from django.core.cache import cache
from django.core.management import call_command
from django.test import override_settings

from api.errors import api_exception_handler, validation_body
from api.throttles import CreateRateThrottle
from bookings.availability import Reason
from bookings.errors import DatesUnavailable
from bookings.models import Booking

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("method, path, status, code", [
    ("get", "/api/v1/", 404, "not_found"),
    ("get", "/api/v1/nothing-here", 404, "not_found"),
    ("post", "/api/v1/properties/1/photos", 404, "not_found"),
    ("get", "/api/v1/holds", 405, "method_not_allowed"),
    ("put", "/api/v1/bookings", 405, "method_not_allowed"),
    ("post", "/api/v1/quote", 405, "method_not_allowed"),
    ("delete", "/api/v1/properties", 405, "method_not_allowed"),
])
def test_every_error_is_json_with_code_and_detail(api, method, path, status, code):
    response = getattr(api, method)(path)
    assert response.status_code == status
    assert response["Content-Type"] == "application/json"
    body = response.json()
    assert body["code"] == code
    assert isinstance(body["detail"], str) and body["detail"]


def test_domain_errors_map_to_their_status_and_body():
    exc = DatesUnavailable(reasons=[Reason("overlap", "These dates are already booked.")])
    response = api_exception_handler(exc, {})
    assert response.status_code == 409
    assert response.data == {"code": "dates_unavailable", "detail": "These dates are no longer available.",
                             "reasons": [{"code": "overlap", "message": "These dates are already booked."}]}


def test_validation_body_summarises_field_errors():
    body = validation_body({"check_in": ["Bad date."], "guest": {"email": ["Bad email."]},
                            "non_field_errors": ["Broken."]})
    assert body["code"] == "invalid"
    assert body["detail"] == "check_in: Bad date. guest.email: Bad email. Broken."
    assert validation_body(["Invalid data."])["errors"] == {"non_field_errors": ["Invalid data."]}


def test_field_errors_are_flat_with_dotted_names_as_the_schema_promises():
    body = validation_body({"check_in": ["Bad date."], "non_field_errors": ["Broken."],
                            "guest": {"email": ["Bad email."], "non_field_errors": ["Expected a dictionary."]},
                            "nights": [{}, {"date": ["Bad date."]}], "codes": {0: ["Too long."]}})

    # ErrorSerializer: errors is {field: [string]}, one level, every value a list of strings.
    assert body["errors"] == {"check_in": ["Bad date."], "non_field_errors": ["Broken."],
                              "guest.email": ["Bad email."], "guest": ["Expected a dictionary."],
                              "nights.1.date": ["Bad date."], "codes.0": ["Too long."]}
    assert body["detail"].startswith("check_in: Bad date. Broken. guest.email: Bad email.")


def test_creating_is_throttled_per_client(api, prop, stay, booking_body):
    # Only this client's counter (the test client's address), not the whole shared cache.
    key = CreateRateThrottle.cache_format % {"scope": "create", "ident": "127.0.0.1"}
    cache.delete(key)
    with override_settings(API_THROTTLE_CREATE="2/min"):
        statuses = [api.post("/api/v1/holds", stay(prop, start=10 + 5 * i), format="json").status_code
                    for i in range(2)]
        throttled = api.post("/api/v1/bookings", booking_body(prop, start=40), format="json")
        reads = [api.get("/api/v1/properties").status_code for _ in range(5)]  # reads are not throttled
    cache.delete(key)

    assert statuses == [201, 201]
    assert throttled.status_code == 429
    assert throttled.json()["code"] == "throttled"
    assert throttled.json()["retry_after"] >= 1
    assert int(throttled["Retry-After"]) >= 1
    assert reads == [200] * 5
    assert Booking.objects.count() == 2


def test_schema_and_docs_are_served(api):
    schema = api.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    docs = api.get("/api/docs/")

    assert schema.status_code == 200
    paths = schema.json()["paths"]
    for path in ("/api/v1/properties", "/api/v1/properties/{id}", "/api/v1/search", "/api/v1/availability",
                 "/api/v1/quote", "/api/v1/holds", "/api/v1/holds/{id}", "/api/v1/bookings",
                 "/api/v1/bookings/{reference}", "/api/v1/bookings/{reference}/status"):
        assert path in paths
    assert docs.status_code == 200
    assert b"swagger" in docs.content.lower()


def test_schema_generates_without_warnings():
    out = StringIO()
    call_command("spectacular", "--validate", "--fail-on-warn", stdout=out)  # raises on any warning or error
    assert "openapi" in out.getvalue()


def test_every_operation_documents_the_mfa_403_and_body_operations_the_413(api):
    """The MFA gate (guests.authority) can answer 403 mfa_required anywhere; an oversized body gets a JSON 413."""
    schema = api.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    assert "Error" in schema["components"]["schemas"]
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            assert "403" in operation["responses"], (method, path)
            assert ("413" in operation["responses"]) == ("requestBody" in operation), (method, path)
