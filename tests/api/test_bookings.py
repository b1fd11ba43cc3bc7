"""POST /api/v1/bookings, GET /api/v1/bookings/{reference}, PATCH /api/v1/bookings/{reference}/status."""

import base64
import json
from datetime import timedelta

import pytest
from django.core import signing
from django.utils import timezone

from bookings.models import Booking, BookingEvent, BookingStatus
from bookings.tokens import BOOKING_SALT, booking_access_token
from tests.factories import PropertyFactory, StaffFactory, UserFactory

pytestmark = pytest.mark.django_db
S = BookingStatus


def test_create_booking(api, prop, booking_body):
    response = api.post("/api/v1/bookings", booking_body(prop, special_requests="Late arrival"), format="json")

    assert response.status_code == 201
    body = response.json()
    booking = Booking.objects.get(reference=body["reference"])
    assert body["status"] == "reserved" == booking.status
    assert body["total"] == "300.00" and body["currency"] == "EUR"
    assert body["expires_at"] == booking.expires_at.isoformat().replace("+00:00", "Z")
    assert (body["check_in"], body["check_out"], body["property_id"]) == (
        booking.check_in.isoformat(), booking.check_out.isoformat(), prop.pk)
    assert body["quote"]["total"] == "300.00" and len(body["quote"]["nights"]) == 3
    assert body["access_token"]
    assert "Idempotent-Replayed" not in response
    assert (booking.guest.name, booking.guest.email, booking.guest.country) == ("Ada Lovelace", "ada@example.com",
                                                                                 "GB")
    assert booking.special_requests == "Late arrival"
    event = BookingEvent.objects.get(booking=booking)
    assert (event.actor_type, event.actor_label, event.to_status) == ("api", "ada@example.com", "reserved")


def test_the_request_that_created_a_booking_is_its_audit_rows_cause(api, prop, booking_body):
    response = api.post("/api/v1/bookings", booking_body(prop), format="json", HTTP_X_REQUEST_ID="req-7f3a")
    assert response.status_code == 201 and response["X-Request-ID"] == "req-7f3a"
    assert BookingEvent.objects.get(booking__reference=response.json()["reference"]).cause == "request req-7f3a"


def test_signed_in_user_is_recorded_as_the_actor(api, booking_body, prop):
    user = UserFactory(email="agent@example.com")
    api.force_authenticate(user)
    reference = api.post("/api/v1/bookings", booking_body(prop), format="json").json()["reference"]
    event = BookingEvent.objects.get(booking__reference=reference)
    assert (event.actor_type, event.actor_user) == ("user", user)


def test_optional_guest_fields_and_extra_fields(api, prop, booking_body):
    body = booking_body(prop, children=1, unknown_field="ignored")
    body["guest"] = {"name": "Grace", "email": "grace@example.com"}
    response = api.post("/api/v1/bookings", body, format="json")
    assert response.status_code == 201
    booking = Booking.objects.get(reference=response.json()["reference"])
    assert (booking.adults, booking.children, booking.guest.phone, booking.guest.country) == (2, 1, "", "")


def test_overlapping_booking_is_409_with_reasons(api, prop, create_booking, booking_body):
    create_booking(prop, start=10, nights=3)

    response = api.post("/api/v1/bookings", booking_body(prop, start=12, nights=3), format="json")

    assert response.status_code == 409
    assert response.json() == {
        "code": "dates_unavailable", "detail": "These dates are no longer available.",
        "reasons": [{"code": "overlap", "message": "These dates are already booked."}],
    }
    assert Booking.objects.count() == 1


def test_stay_rule_violation_is_400_with_reasons(api, owner, booking_body):
    prop = PropertyFactory(owner=owner, min_stay=7, min_lead_days=30)
    response = api.post("/api/v1/bookings", booking_body(prop, start=10, nights=3), format="json")
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "stay_rule_violation"
    assert {r["code"] for r in body["reasons"]} == {"min_stay", "lead_time"}
    assert {r["field"] for r in body["reasons"]} == {"check_in", "check_out"}


def test_booking_in_the_past_is_400(api, prop, booking_body):
    response = api.post("/api/v1/bookings", booking_body(prop, start=-5, nights=2), format="json")
    assert response.status_code == 400
    assert [r["code"] for r in response.json()["reasons"]] == ["in_past"]


def _set(body, path, value):
    target = body
    *parents, last = path.split(".")
    for key in parents:
        target = target[key]
    if value is KeyError:
        del target[last]
    else:
        target[last] = value


@pytest.mark.parametrize("path, value, field", [
    ("check_in", "2026-02-30", "check_in"),
    ("check_in", "30/03/2030", "check_in"),
    ("check_in", "2030-03-01T10:00:00", "check_in"),
    ("check_in", None, "check_in"),
    ("check_in", KeyError, "check_in"),
    ("check_out", "2000-01-01", "check_out"),
    ("adults", 0, "adults"),
    ("adults", -1, "adults"),
    ("adults", 101, "adults"),
    ("adults", 10**40, "adults"),
    ("adults", "2 adults", "adults"),
    ("adults", 2.5, "adults"),
    ("adults", True, "adults"),
    ("adults", {"n": 2}, "adults"),
    ("children", -1, "children"),
    ("property_id", "first", "property_id"),
    ("property_id", 0, "property_id"),
    ("property_id", 10**30, "property_id"),
    ("property_id", 999_999, "property_id"),
    ("property_id", KeyError, "property_id"),
    ("guest", KeyError, "guest"),
    ("guest", "Ada", "guest"),
    ("guest", ["Ada"], "guest"),
    ("guest.name", KeyError, "guest.name"),
    ("guest.name", "x" * 201, "guest.name"),
    ("guest.name", "", "guest.name"),
    ("guest.email", "nope", "guest.email"),
    ("guest.email", KeyError, "guest.email"),
    ("guest.phone", "1" * 33, "guest.phone"),
    ("guest.country", "GBR", "guest.country"),
    ("guest.country", "G1", "guest.country"),
    ("special_requests", "x" * 2001, "special_requests"),
    ("hold_id", "abc", "hold_id"),
    ("hold_id", 999_999, "hold_token"),
    ("hold_token", "abc", "hold_id"),
])
def test_bad_input_is_400_with_field_errors(api, prop, booking_body, path, value, field):
    body = booking_body(prop)
    _set(body, path, value)

    response = api.post("/api/v1/bookings", body, format="json")

    assert response.status_code == 400, response.content
    assert response.json()["code"] == "invalid"
    assert field in response.json()["errors"]
    assert not Booking.objects.exists()


def test_nested_guest_errors_name_the_field(api, prop, booking_body):
    body = booking_body(prop)
    body["guest"]["email"] = "nope"
    response = api.post("/api/v1/bookings", body, format="json").json()
    # Flat, as the schema promises ({field: [message]}), with the same dotted name as in `detail`.
    assert response["errors"] == {"guest.email": ["Enter a valid email address."]}
    assert response["detail"] == "guest.email: Enter a valid email address."


@pytest.mark.parametrize("raw", ["{not json", '{"property_id": 1,}', "", "\xff\xfe", "[1, 2]", '"a string"',
                                 "null", "42"])
def test_malformed_or_non_object_bodies_are_400(api, raw):
    response = api.post("/api/v1/bookings", raw.encode("latin-1"), content_type="application/json")
    assert response.status_code == 400
    assert response.json()["code"] in {"parse_error", "invalid"}
    assert response.json()["detail"]


@pytest.mark.parametrize("raw", ["[" * 100_000, '{"adults": 1' + "0" * 5000 + "}", '{"adults": 1e999999}',
                                 '{"property_id": NaN}'])
def test_pathological_json_is_400_not_500(api, raw):
    response = api.post("/api/v1/bookings", raw, content_type="application/json")
    assert response.status_code == 400
    assert response.json()["code"] in {"parse_error", "invalid"}


def test_nul_characters_are_refused(api, prop, booking_body):
    body = booking_body(prop)
    body["guest"]["name"] = "Ada\x00Lovelace"
    response = api.post("/api/v1/bookings", body, format="json")
    assert response.status_code == 400
    assert "guest.name" in response.json()["errors"]
    assert api.get("/api/v1/search", {"q": "a\x00b"}).status_code == 400


def test_form_encoded_body_is_415(api, prop):
    response = api.post("/api/v1/bookings", {"property_id": prop.pk})  # multipart
    assert response.status_code == 415
    assert response.json()["code"] == "unsupported_media_type"


# --- reading a booking ------------------------------------------------------------------------


def test_guest_reads_the_booking_with_the_token(api, prop, create_booking):
    created = create_booking(prop)

    by_query = api.get(f"/api/v1/bookings/{created['reference']}", {"token": created["access_token"]})
    by_header = api.get(f"/api/v1/bookings/{created['reference']}", HTTP_X_BOOKING_TOKEN=created["access_token"])

    assert by_query.status_code == by_header.status_code == 200
    body = by_query.json()
    assert body == by_header.json()
    assert body["reference"] == created["reference"]
    assert (body["status"], body["payment_status"]) == ("reserved", "unpaid")
    assert body["guest"] == {"name": "Ada Lovelace", "email": "ada@example.com", "phone": "+44 20 7946 0000",
                             "country": "GB"}
    assert body["total"] == "300.00" and body["amount_paid"] == "0.00"
    assert body["quote"]["total"] == "300.00"
    assert "events" not in body  # the audit trail is for owners and staff


def test_owner_staff_and_superuser_read_the_booking_with_its_audit_trail(api, owner, prop, create_booking):
    created = create_booking(prop)
    staff = UserFactory(email="staff@example.com")
    prop.staff.add(staff)
    root = UserFactory(email="root@example.com", is_superuser=True, is_staff=True)

    for user in (owner, staff, root):
        api.force_authenticate(user)
        response = api.get(f"/api/v1/bookings/{created['reference']}")
        assert response.status_code == 200
        events = response.json()["events"]
        assert [(e["from_status"], e["to_status"], e["actor_type"]) for e in events] == [("", "reserved", "api")]


def test_basic_auth_is_refused_even_with_the_right_password(api, owner, prop, create_booking):
    """HTTP Basic would skip the login's throttling, email verification and MFA: the API takes sessions only."""
    created = create_booking(prop)
    credentials = base64.b64encode(b"owner@example.com:pw-for-tests-1").decode()
    response = api.get(f"/api/v1/bookings/{created['reference']}", HTTP_AUTHORIZATION=f"Basic {credentials}")
    assert response.status_code in (401, 403, 404)
    assert "events" not in response.json()
    assert response.json()["code"]


def test_nobody_else_can_read_a_booking_and_it_looks_like_it_does_not_exist(api, owner, prop, create_booking):
    a = create_booking(prop, start=10)
    b = create_booking(prop, start=20)
    other_owner = UserFactory(email="other@example.com")
    PropertyFactory(owner=other_owner)
    forged = signing.dumps({"b": Booking.objects.get(reference=a["reference"]).pk, "r": a["reference"]},
                           salt=BOOKING_SALT, key="not-the-secret-key")
    wrong_salt = signing.dumps({"b": Booking.objects.get(reference=a["reference"]).pk, "r": a["reference"]},
                               salt="something-else")
    unknown = api.get("/api/v1/bookings/PMS-2026-ZZZZZ").json()

    attempts = [
        {},  # anonymous, no token
        {"token": ""},
        {"token": b["access_token"]},  # booking B's token does not open booking A
        {"token": forged},
        {"token": wrong_salt},
        {"token": a["access_token"][:-2]},
        {"token": "y" * 5000},
    ]
    for params in attempts:
        response = api.get(f"/api/v1/bookings/{a['reference']}", params)
        assert response.status_code == 404
        assert response.json() == unknown
    api.force_authenticate(other_owner)
    assert api.get(f"/api/v1/bookings/{a['reference']}").json() == unknown
    assert unknown == {"code": "not_found", "detail": "There is no booking with this reference."}


def test_an_expired_access_token_is_refused(api, prop, create_booking, monkeypatch):
    created = create_booking(prop)
    monkeypatch.setattr("bookings.tokens.BOOKING_TOKEN_MAX_AGE", -1)
    assert api.get(f"/api/v1/bookings/{created['reference']}", {"token": created["access_token"]}).status_code == 404


@pytest.mark.parametrize("reference", ["x" * 41, "PMS 2026", "%00", "PMS-2026-AAAAA/extra"])
def test_odd_references_are_404(api, reference):
    response = api.get(f"/api/v1/bookings/{reference}")
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


# --- status changes ---------------------------------------------------------------------------


def _patch(api, reference, **body):
    return api.patch(f"/api/v1/bookings/{reference}/status", body, format="json")


def test_owner_confirms_then_cancels(api, owner, prop, create_booking):
    ref = create_booking(prop)["reference"]
    api.force_authenticate(owner)

    confirmed = _patch(api, ref, status="confirmed")
    cancelled = _patch(api, ref, status="cancelled", reason="Guest asked")

    assert confirmed.status_code == 200 and confirmed.json()["status"] == "confirmed"
    assert cancelled.status_code == 200
    body = cancelled.json()
    assert (body["status"], body["cancellation_reason"]) == ("cancelled", "Guest asked")
    assert [(e["to_status"], e["actor"]) for e in body["events"]] == [
        ("reserved", "ada@example.com"), ("confirmed", "owner@example.com"), ("cancelled", "owner@example.com")]
    assert BookingEvent.objects.filter(booking__reference=ref, actor_user=owner).count() == 2


def test_cancel_without_a_reason_records_who_cancelled(api, owner, prop, create_booking):
    ref = create_booking(prop)["reference"]
    api.force_authenticate(owner)
    assert _patch(api, ref, status="cancelled").json()["cancellation_reason"] == "Cancelled by owner@example.com."


def test_staff_check_guests_in_and_out_but_cannot_confirm_or_cancel(api, owner, prop, booking_body):
    staff = StaffFactory(email="staff@example.com", employer=owner, properties=[prop])
    ref = api.post("/api/v1/bookings", booking_body(prop, start=0, nights=2), format="json").json()["reference"]
    api.force_authenticate(staff)

    for status in ("confirmed", "cancelled"):
        refused = _patch(api, ref, status=status, reason="x")
        assert refused.status_code == 403
        assert refused.json()["code"] == "permission_denied"
        assert "manage_booking" in refused.json()["detail"]
    assert Booking.objects.get(reference=ref).status == S.RESERVED

    api.force_authenticate(owner)
    assert _patch(api, ref, status="confirmed").status_code == 200
    api.force_authenticate(staff)
    statuses = [_patch(api, ref, status=st).json()["status"] for st in ("checked_in", "checked_out")]

    assert statuses == ["checked_in", "checked_out"]
    assert Booking.objects.get(reference=ref).checked_out_at is not None


def test_a_manager_without_a_role_cannot_change_the_status(api, prop, create_booking):
    """Assigned to the property but in no group: reads the booking, changes nothing."""
    helper = UserFactory(email="helper@example.com")
    prop.staff.add(helper)
    ref = create_booking(prop)["reference"]
    api.force_authenticate(helper)
    assert api.get(f"/api/v1/bookings/{ref}").status_code == 200
    assert _patch(api, ref, status="confirmed").status_code == 403
    assert Booking.objects.get(reference=ref).status == S.RESERVED


def test_the_api_and_the_admin_ask_one_table_which_role_moves_a_booking_where(db):
    """``bookings.models.HAND_MOVE_PERMISSIONS`` is the one rule: the API's accepted statuses, its permission check
    and the admin's buttons all read it (they were three copies)."""
    from api.serializers import StatusChangeSerializer
    from api.views import STATUS_SERVICES
    from backoffice.admin_views import OBJECT_ACTIONS
    from bookings.models import HAND_MOVE_PERMISSIONS

    assert set(StatusChangeSerializer().fields["status"].choices) == set(HAND_MOVE_PERMISSIONS) == set(STATUS_SERVICES)
    by_button = {"confirm": S.CONFIRMED, "cancel": S.CANCELLED, "check_in": S.CHECKED_IN, "check_out": S.CHECKED_OUT}
    assert {name: OBJECT_ACTIONS[name].permission for name in by_button} == {
        name: HAND_MOVE_PERMISSIONS[status] for name, status in by_button.items()}


def test_illegal_transition_is_409_and_changes_nothing(api, owner, prop, create_booking):
    ref = create_booking(prop)["reference"]
    api.force_authenticate(owner)
    _patch(api, ref, status="cancelled", reason="x")

    response = _patch(api, ref, status="confirmed")

    assert response.status_code == 409
    assert response.json() == {"code": "invalid_transition",
                               "detail": "A booking cannot go from 'cancelled' to 'confirmed'."}
    assert Booking.objects.get(reference=ref).status == S.CANCELLED
    assert _patch(api, ref, status="checked_out").status_code == 409


def test_check_in_before_arrival_is_refused(api, owner, prop, create_booking):
    ref = create_booking(prop, start=10)["reference"]
    api.force_authenticate(owner)
    _patch(api, ref, status="confirmed")
    response = _patch(api, ref, status="checked_in")
    # A well-formed request the booking's state refuses (yet): a conflict, like an invalid transition.
    assert response.status_code == 409
    assert response.json()["code"] == "check_in_too_early"
    assert Booking.objects.get(reference=ref).status == S.CONFIRMED


@pytest.mark.parametrize("body", [{"status": "expired"}, {"status": "held"}, {"status": ""}, {},
                                  {"status": ["confirmed"]}, {"status": "confirmed", "reason": "x" * 1001}])
def test_bad_status_bodies_are_400(api, owner, prop, create_booking, body):
    ref = create_booking(prop)["reference"]
    api.force_authenticate(owner)
    response = api.patch(f"/api/v1/bookings/{ref}/status", body, format="json")
    assert response.status_code == 400
    assert response.json()["code"] == "invalid"
    assert Booking.objects.get(reference=ref).status == S.RESERVED


def test_status_malformed_json_is_400(api, owner, prop, create_booking):
    ref = create_booking(prop)["reference"]
    api.force_authenticate(owner)
    response = api.patch(f"/api/v1/bookings/{ref}/status", "{oops", content_type="application/json")
    assert response.status_code == 400
    assert response.json()["code"] == "parse_error"


def test_another_owner_cannot_change_the_status(api, prop, create_booking):
    ref = create_booking(prop)["reference"]
    api.force_authenticate(UserFactory(email="other@example.com"))

    response = _patch(api, ref, status="cancelled", reason="mine now")
    unknown = _patch(api, "PMS-2026-ZZZZZ", status="cancelled")

    assert response.status_code == 403
    assert response.json()["code"] == "permission_denied"
    assert unknown.json() == response.json()  # the same answer whether or not it exists
    assert Booking.objects.get(reference=ref).status == S.RESERVED


def test_anonymous_and_token_holders_cannot_change_the_status(api, prop, create_booking):
    created = create_booking(prop)
    for url in (f"/api/v1/bookings/{created['reference']}/status",
                f"/api/v1/bookings/{created['reference']}/status?token={created['access_token']}"):
        response = api.patch(url, {"status": "cancelled"}, format="json")
        assert response.status_code in (401, 403)
        assert response.json()["code"] == "not_authenticated"
    assert Booking.objects.get(reference=created["reference"]).status == S.RESERVED


def test_superuser_gets_404_for_an_unknown_reference(api):
    api.force_authenticate(UserFactory(email="root@example.com", is_superuser=True, is_staff=True))
    assert _patch(api, "PMS-2026-ZZZZZ", status="confirmed").status_code == 404


def test_a_late_payment_confirms_a_reservation_whose_time_ran_out(api, owner, prop, create_booking):
    ref = create_booking(prop)["reference"]
    # Test setup only: the reservation's time has run out, the expiry job has not run.
    Booking.objects.filter(reference=ref).update(expires_at=timezone.now() - timedelta(minutes=1))
    api.force_authenticate(owner)
    assert _patch(api, ref, status="confirmed").json()["status"] == "confirmed"


def test_booking_detail_is_json_serializable_and_stable(api, owner, prop, create_booking):
    created = create_booking(prop)
    api.force_authenticate(owner)
    first = api.get(f"/api/v1/bookings/{created['reference']}").json()
    assert json.loads(json.dumps(first)) == api.get(f"/api/v1/bookings/{created['reference']}").json()
    assert booking_access_token(Booking.objects.get(reference=created["reference"]))


def test_create_booking_statement_budget(api, prop, booking_body):
    """Issue 16: at most 6 statements per API booking. In a test the transaction is the test's, so reserve()'s own is
    a SAVEPOINT … RELEASE where production sends BEGIN … COMMIT: the same count."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    api.post("/api/v1/bookings", booking_body(prop, start=30), format="json")  # warm: a returning guest next
    with CaptureQueriesContext(connection) as ctx:
        response = api.post("/api/v1/bookings", booking_body(prop, start=10), format="json")
    assert response.status_code == 201
    limit = 6 if connection.vendor == "postgresql" else 20
    assert len(ctx.captured_queries) <= limit, "\n".join(q["sql"][:120] for q in ctx.captured_queries)


@pytest.mark.parametrize("currency", ["EUR", "JPY"])
def test_the_created_body_is_the_serializers(api, owner, booking_body, currency):
    """api.serializers.booking_created_body (no serializer built per request) answers what BookingCreatedSerializer
    (the schema's) does, with adjustments, fees and taxes in the quote."""
    from decimal import Decimal

    from api.serializers import BookingCreatedSerializer
    from tests.factories import PricingRuleFactory

    prop = PropertyFactory(owner=owner, currency=currency, cleaning_fee=Decimal("35"), extra_guest_fee=Decimal("10"),
                           guests_included=1, tax_rate=Decimal("7.25"))
    PricingRuleFactory(property=prop, kind="weekend", value=Decimal("15"))
    PricingRuleFactory(property=prop, kind="length_of_stay", min_nights=2, value=Decimal("-10"))
    body = api.post("/api/v1/bookings", booking_body(prop, nights=9), format="json").json()
    booking = Booking.objects.get(reference=body["reference"])
    expected = json.loads(json.dumps(dict(BookingCreatedSerializer(booking).data)))
    assert body == expected
    assert list(body) == list(expected)
    assert any(n["adjustments"] for n in body["quote"]["nights"]) and len(body["quote"]["fees"]) == 2
