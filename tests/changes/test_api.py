"""``PATCH /api/v1/bookings/{reference}``: the guest's access token or a manager with ``manage_booking``; every
answer ``{"code", "detail"}`` on error; Idempotency-Key replays."""

from __future__ import annotations

from decimal import Decimal

import pytest
from rest_framework.test import APIClient

from bookings import services
from bookings.models import Booking, BookingEvent
from bookings.tokens import booking_access_token
from guests.services import GuestInput
from tests.factories import BlockFactory, OwnerFactory, PropertyFactory, StaffFactory, future

pytestmark = pytest.mark.django_db


@pytest.fixture
def api():
    return APIClient()


def url(booking, token=None):
    return f"/api/v1/bookings/{booking.reference}" + (f"?token={token}" if token else "")


def patch(api, booking, body, token=None, **headers):
    return api.patch(url(booking, token), body, format="json", **headers)


def test_the_guest_moves_their_booking_with_the_access_token(api, prop, book):
    booking = book(prop, start=10, nights=3)
    response = patch(api, booking, {"check_in": future(20).isoformat(), "check_out": future(24).isoformat(),
                                    "expected_difference": "100.00"}, token=booking_access_token(booking))
    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["check_in"] == future(20).isoformat() and body["nights"] == 4 and body["total"] == "400.00"
    assert body["change"]["difference"] == "100.00" and "events" not in body  # the guest's view
    assert Booking.objects.get(pk=booking.pk).check_out == future(24)


def test_the_token_can_come_as_a_header(api, prop, book):
    booking = book(prop, start=10, nights=3)
    response = patch(api, booking, {"adults": 3}, HTTP_X_BOOKING_TOKEN=booking_access_token(booking))
    assert response.status_code == 200 and response.json()["adults"] == 3


def test_the_owner_changes_with_an_override_and_sees_the_audit_trail(api, book):
    owner = OwnerFactory()
    prop = PropertyFactory(owner=owner, min_stay=3)
    booking = book(prop, start=10, nights=3)
    api.force_login(owner)
    refused = patch(api, booking, {"check_out": future(12).isoformat()})
    assert refused.status_code == 400 and refused.json()["code"] == "stay_rule_violation"
    assert refused.json()["reasons"]
    done = patch(api, booking, {"check_out": future(12).isoformat(), "override_rules": True,
                                "override_reason": "Agreed on the phone"})
    assert done.status_code == 200, done.json()
    assert done.json()["rules_overridden"] and "Agreed on the phone" in done.json()["events"][-1]["reason"]


def test_an_override_needs_a_reason(api, book):
    owner = OwnerFactory()
    booking = book(PropertyFactory(owner=owner), start=10, nights=3)
    api.force_login(owner)
    response = patch(api, booking, {"check_out": future(12).isoformat(), "override_rules": True})
    assert response.status_code == 400 and response.json()["errors"] == {
        "override_reason": ["Required with override_rules."]}


def test_a_guest_may_not_override_or_refund_in_full(api, prop, book):
    booking = book(prop, start=10, nights=3)
    token = booking_access_token(booking)
    for extra in ({"override_rules": True, "override_reason": "x"}, {"full_refund": True}):
        response = patch(api, booking, {"check_out": future(12).isoformat(), **extra}, token=token)
        assert response.status_code == 403 and response.json()["code"] == "permission_denied"


def test_staff_without_manage_booking_get_403(api, prop, book):
    booking = book(prop, start=10, nights=3)
    api.force_login(StaffFactory(properties=[prop]))
    response = patch(api, booking, {"check_out": future(14).isoformat()})
    assert response.status_code == 403 and response.json()["code"] == "permission_denied"
    assert Booking.objects.get(pk=booking.pk).check_out == future(13)


def test_anyone_else_gets_404_as_for_an_unknown_reference(api, prop, book):
    booking = book(prop, start=10, nights=3)
    assert patch(api, booking, {"adults": 1}).status_code == 404
    assert patch(api, booking, {"adults": 1}, token="forged").json()["code"] == "not_found"
    api.force_login(OwnerFactory())  # another tenant
    assert patch(api, booking, {"adults": 1}).status_code == 404


def test_dates_taken_answer_409(api, prop, book):
    booking = book(prop, start=10, nights=3)
    BlockFactory(property=prop, start_date=future(13), end_date=future(14))
    response = patch(api, booking, {"check_out": future(15).isoformat()}, token=booking_access_token(booking))
    assert response.status_code == 409 and response.json()["code"] == "dates_unavailable"
    assert set(response.json()) >= {"code", "detail", "reasons"}


def test_a_channel_booking_answers_409_naming_the_platform(api, prop):
    owner = prop.owner
    imported = services.import_external(property_id=prop.pk, source="booking_com", external_id="BC1",
                                        check_in=future(10), check_out=future(13),
                                        guest=GuestInput(name="BC Guest", email="")).booking
    api.force_login(owner)
    response = patch(api, imported, {"check_out": future(14).isoformat()})
    assert response.status_code == 409
    assert response.json()["code"] == "change_on_channel" and "Booking.com" in response.json()["detail"]


def test_a_price_that_moved_answers_409_with_the_new_figures(api, prop, book):
    booking = book(prop, start=10, nights=3)
    response = patch(api, booking, {"check_out": future(14).isoformat(), "expected_difference": "50.00"},
                     token=booking_access_token(booking))
    assert response.status_code == 409
    assert response.json()["code"] == "change_price_changed" and response.json()["difference"] == "100.00"
    assert Booking.objects.get(pk=booking.pk).check_out == future(13)


@pytest.mark.parametrize("body, field", [
    ({"check_in": "2030-02-30"}, "check_in"),
    ({"adults": 0}, "adults"),
    ({"children": -1}, "children"),
    ({"check_in": future(20).isoformat(), "check_out": future(19).isoformat()}, "check_out"),
    ({"expected_difference": "abc"}, "expected_difference"),
])
def test_bad_input_answers_400_invalid(api, prop, book, body, field):
    booking = book(prop, start=10, nights=3)
    response = patch(api, booking, body, token=booking_access_token(booking))
    assert response.status_code == 400 and response.json()["code"] == "invalid"
    assert field in response.json()["errors"]


def test_nothing_to_change_answers_the_booking_unchanged(api, prop, book):
    booking = book(prop, start=10, nights=3)
    events = BookingEvent.objects.filter(booking=booking).count()
    for body in ({}, {"check_in": future(10).isoformat(), "adults": 2}):
        response = patch(api, booking, body, token=booking_access_token(booking))
        assert response.status_code == 200 and "change" not in response.json()
    assert BookingEvent.objects.filter(booking=booking).count() == events


def test_a_guest_on_the_arrival_day_gets_409(api, prop, book):
    booking = book(prop, start=0, nights=3)
    services.confirm(booking_id=booking.pk, actor=services.Actor.system("t"))
    response = patch(api, booking, {"check_out": future(4).isoformat()}, token=booking_access_token(booking))
    assert response.status_code == 409 and response.json()["code"] == "change_not_allowed"


def test_an_idempotency_key_replays_the_first_answer(api, prop, book):
    booking = book(prop, start=10, nights=3)
    token = booking_access_token(booking)
    body = {"check_out": future(14).isoformat()}
    first = patch(api, booking, body, token=token, HTTP_IDEMPOTENCY_KEY="change-1")
    again = patch(api, booking, body, token=token, HTTP_IDEMPOTENCY_KEY="change-1")
    assert first.status_code == again.status_code == 200 and again["Idempotent-Replayed"] == "true"
    assert again.json() == first.json()
    assert BookingEvent.objects.filter(booking=booking, reason__startswith="Changed").count() == 1
    other = patch(api, booking, {"check_out": future(15).isoformat()}, token=token, HTTP_IDEMPOTENCY_KEY="change-1")
    assert other.status_code == 422 and other.json()["code"] == "idempotency_key_reused"


def test_the_schema_documents_the_change(api):
    schema = api.get("/api/schema/?format=json").json()
    operation = schema["paths"]["/api/v1/bookings/{reference}"]["patch"]
    assert operation["operationId"] == "bookings_change"
    assert {"200", "400", "403", "404", "409"} <= set(operation["responses"])
    body = schema["components"]["schemas"]["BookingChange"]["properties"]
    assert {"check_in", "check_out", "adults", "children", "expected_difference", "override_rules"} <= set(body)
    assert Decimal("1")  # decimals are strings in the schema too
