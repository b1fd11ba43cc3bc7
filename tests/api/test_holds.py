"""POST /api/v1/holds and DELETE /api/v1/holds/{id}, and turning a hold into a booking."""

from datetime import timedelta

import pytest
from django.utils import timezone

from bookings.models import Booking, BookingEvent, BookingStatus
from bookings.tokens import booking_access_token
from properties.models import Property
from tests.factories import PropertyFactory, UserFactory

pytestmark = pytest.mark.django_db
S = BookingStatus


@pytest.fixture
def create_hold(api, stay):
    def _create(prop, start=10, nights=3, **extra):
        response = api.post("/api/v1/holds", stay(prop, start, nights, **extra), format="json")
        assert response.status_code == 201, response.json()
        return response.json()

    return _create


def test_create_hold(api, prop, stay):
    before = timezone.now()
    response = api.post("/api/v1/holds", stay(prop, email="Client@Example.com"), format="json")

    assert response.status_code == 201
    body = response.json()
    held = Booking.objects.get(pk=body["id"])
    assert held.status == S.HELD
    assert (body["status"], body["property_id"], body["check_in"]) == ("held", prop.pk, held.check_in.isoformat())
    assert body["reference"] == held.reference
    assert body["total"] == "300.00" and body["currency"] == "EUR"
    assert body["release_token"]
    expires = held.expires_at
    assert before + timedelta(minutes=14) < expires <= timezone.now() + timedelta(minutes=15)
    assert held.guest.email == "client@example.com"
    event = BookingEvent.objects.get(booking=held)
    assert (event.to_status, event.actor_type, event.actor_label) == ("held", "api", "Client@Example.com")


def test_a_hold_blocks_its_dates_for_others(api, prop, create_hold, booking_body, stay):
    create_hold(prop, start=10, nights=3)

    hold_again = api.post("/api/v1/holds", stay(prop, start=12, nights=2), format="json")
    booking = api.post("/api/v1/bookings", booking_body(prop, start=11, nights=1), format="json")

    for response in (hold_again, booking):
        assert response.status_code == 409
        assert response.json()["code"] == "dates_unavailable"
        assert [r["code"] for r in response.json()["reasons"]] == ["overlap"]
    assert Booking.objects.count() == 1


def test_hold_breaking_a_stay_rule_is_400_with_reasons(api, owner, stay):
    prop = PropertyFactory(owner=owner, min_stay=4, max_guests=2)
    response = api.post("/api/v1/holds", stay(prop, nights=2, adults=3), format="json")

    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "stay_rule_violation"
    assert {r["code"] for r in body["reasons"]} == {"min_stay", "too_many_guests"}
    assert not Booking.objects.exists()


@pytest.mark.parametrize("change, field", [
    ({"adults": 0}, "adults"),
    ({"adults": -2}, "adults"),
    ({"adults": 10**9}, "adults"),
    ({"adults": "two"}, "adults"),
    ({"adults": None}, "adults"),
    ({"children": -1}, "children"),
    ({"adults": 60, "children": 60}, "children"),
    ({"check_in": "2026-02-30"}, "check_in"),
    ({"check_in": 20260301}, "check_in"),
    ({"check_out": "2020-01-01"}, "check_out"),
    ({"property_id": "abc"}, "property_id"),
    ({"property_id": 123456789}, "property_id"),
    ({"property_id": [1]}, "property_id"),
    ({"email": "not-an-email"}, "email"),
    ({"email": "a" * 300 + "@example.com"}, "email"),
])
def test_hold_rejects_bad_input(api, prop, stay, change, field):
    response = api.post("/api/v1/holds", {**stay(prop), **change}, format="json")

    assert response.status_code == 400
    assert response.json()["code"] == "invalid"
    assert field in response.json()["errors"]
    assert not Booking.objects.exists()


def test_hold_on_a_draft_property_is_refused(api, owner, stay):
    draft = PropertyFactory(owner=owner, status=Property.Status.DRAFT)
    assert "property_id" in api.post("/api/v1/holds", stay(draft), format="json").json()["errors"]
    api.force_authenticate(owner)  # the owner sees it, but it does not accept bookings
    response = api.post("/api/v1/holds", stay(draft), format="json")
    assert response.status_code == 409
    assert response.json()["code"] == "property_unavailable"


# --- release -------------------------------------------------------------------------------


def test_release_with_the_token_frees_the_dates(api, prop, create_hold):
    hold = create_hold(prop)

    response = api.delete(f"/api/v1/holds/{hold['id']}?token={hold['release_token']}")

    assert response.status_code == 204
    assert Booking.objects.get(pk=hold["id"]).status == S.RELEASED
    create_hold(prop)  # the same dates again


def test_release_with_the_token_in_a_header(api, prop, create_hold):
    hold = create_hold(prop)
    assert api.delete(f"/api/v1/holds/{hold['id']}", HTTP_X_HOLD_TOKEN=hold["release_token"]).status_code == 204
    assert Booking.objects.get(pk=hold["id"]).status == S.RELEASED


def test_release_is_idempotent(api, prop, create_hold):
    hold = create_hold(prop)
    url = f"/api/v1/holds/{hold['id']}?token={hold['release_token']}"
    assert api.delete(url).status_code == 204
    assert api.delete(url).status_code == 204
    assert BookingEvent.objects.filter(booking_id=hold["id"], to_status=S.RELEASED).count() == 1


def test_release_without_a_valid_token_is_404_and_changes_nothing(api, prop, create_hold, create_booking):
    hold = create_hold(prop, start=10)
    other = create_hold(prop, start=20)
    booking = create_booking(prop, start=30)
    forged = hold["release_token"][:-4] + ("AAAA" if not hold["release_token"].endswith("AAAA") else "BBBB")
    cases = [
        "",  # no token
        "?token=",  # empty token
        f"?token={other['release_token']}",  # the token of another hold
        f"?token={forged}",  # a tampered signature
        f"?token={booking['access_token']}",  # a booking access token (other salt)
        "?token=" + "x" * 5000,  # absurdly long
    ]
    for query in cases:
        response = api.delete(f"/api/v1/holds/{hold['id']}{query}")
        assert response.status_code == 404, query
        assert response.json()["code"] == "not_found"
    assert Booking.objects.get(pk=hold["id"]).status == S.HELD


def test_release_of_an_unknown_hold_is_404(api):
    assert api.delete("/api/v1/holds/987654?token=abc").status_code == 404
    assert api.delete("/api/v1/holds/abc").status_code == 404


def test_the_owner_may_release_without_a_token_but_another_owner_may_not(api, owner, prop, create_hold):
    hold = create_hold(prop)
    api.force_authenticate(UserFactory(email="other@example.com"))
    assert api.delete(f"/api/v1/holds/{hold['id']}").status_code == 404
    api.force_authenticate(owner)
    assert api.delete(f"/api/v1/holds/{hold['id']}").status_code == 204
    event = BookingEvent.objects.get(booking_id=hold["id"], to_status=S.RELEASED)
    assert event.actor_user == owner


def test_a_hold_that_became_a_booking_cannot_be_released(api, prop, create_hold, booking_body):
    hold = create_hold(prop)
    body = booking_body(prop, hold_id=hold["id"], hold_token=hold["release_token"])
    assert api.post("/api/v1/bookings", body, format="json").status_code == 201

    response = api.delete(f"/api/v1/holds/{hold['id']}?token={hold['release_token']}")

    assert response.status_code == 409
    assert response.json()["code"] == "hold_mismatch"
    assert Booking.objects.get(pk=hold["id"]).status == S.RESERVED


# --- expiry -----------------------------------------------------------------------------------


def _let_run_out(hold):
    # Test setup only: move the hold's deadline into the past (as if 15 minutes went by).
    Booking.objects.filter(pk=hold["id"]).update(expires_at=timezone.now() - timedelta(seconds=1))


def test_an_expired_hold_never_blocks_even_before_the_job_runs(api, prop, create_hold, booking_body, stay):
    hold = create_hold(prop)
    _let_run_out(hold)

    quote = api.get("/api/v1/quote", {"property_id": prop.pk, "check_in": hold["check_in"],
                                      "check_out": hold["check_out"]}).json()
    response = api.post("/api/v1/bookings", booking_body(prop), format="json")

    assert quote["available"] is True
    assert response.status_code == 201
    assert Booking.objects.get(pk=hold["id"]).status == S.EXPIRED  # expired by the booking path, under the lock


def test_releasing_an_expired_hold_answers_204_and_marks_it_expired(api, prop, create_hold):
    hold = create_hold(prop)
    _let_run_out(hold)

    assert api.delete(f"/api/v1/holds/{hold['id']}?token={hold['release_token']}").status_code == 204
    assert Booking.objects.get(pk=hold["id"]).status == S.EXPIRED


def test_an_expired_hold_cannot_become_a_booking(api, prop, create_hold, booking_body):
    hold = create_hold(prop)
    _let_run_out(hold)

    response = api.post("/api/v1/bookings", booking_body(prop, hold_id=hold["id"], hold_token=hold["release_token"]),
                        format="json")

    assert response.status_code == 409
    assert response.json()["code"] == "hold_expired"


# --- hold → booking --------------------------------------------------------------------------


def test_a_hold_becomes_the_booking_with_its_token(api, prop, create_hold, booking_body):
    hold = create_hold(prop)

    response = api.post("/api/v1/bookings", booking_body(prop, hold_id=hold["id"], hold_token=hold["release_token"]),
                        format="json")

    assert response.status_code == 201
    assert response.json()["reference"] == hold["reference"]
    assert response.json()["status"] == "reserved"
    assert Booking.objects.count() == 1


@pytest.mark.parametrize("token_of", ["missing", "other_hold", "booking"])
def test_a_hold_cannot_be_taken_over_without_its_token(api, prop, create_hold, create_booking, booking_body,
                                                       token_of):
    hold = create_hold(prop, start=10)
    other = create_hold(prop, start=20)
    booking = create_booking(prop, start=30)
    extra = {"hold_id": hold["id"]}
    if token_of == "other_hold":
        extra["hold_token"] = other["release_token"]
    elif token_of == "booking":
        extra["hold_token"] = booking["access_token"]

    response = api.post("/api/v1/bookings", booking_body(prop, **extra), format="json")

    assert response.status_code == 400
    assert "hold_token" in response.json()["errors"]
    assert Booking.objects.get(pk=hold["id"]).status == S.HELD


def test_a_hold_with_other_dates_does_not_match(api, prop, create_hold, booking_body):
    hold = create_hold(prop, start=10, nights=3)
    body = booking_body(prop, start=10, nights=4, hold_id=hold["id"], hold_token=hold["release_token"])
    response = api.post("/api/v1/bookings", body, format="json")
    assert response.status_code == 409
    assert response.json()["code"] == "hold_mismatch"


def test_booking_access_token_is_not_a_hold_token_even_for_the_same_row(api, prop, create_hold):
    hold = create_hold(prop)
    token = booking_access_token(Booking.objects.get(pk=hold["id"]))
    assert api.delete(f"/api/v1/holds/{hold['id']}?token={token}").status_code == 404
