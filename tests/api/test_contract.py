"""The API keeps its published contract (issue 11 item 10).

``test_the_api_keeps_its_published_contract`` runs schemathesis against the live schema
(``/api/schema/``, served by the app itself) with every check on: responses match their
schemas, status codes and content types are documented, schema-invalid input is refused,
and schema-valid input is accepted unless a rule the schema states in words refuses it
(``tests/api/contract.py``). The status endpoint runs as a signed-in owner (session and
CSRF cookies) on real bookings of theirs; other operations anonymously, with generated ids
and dates often swapped for a real active property and bookable dates so the success
paths answer too. The other tests pin each contract fix.
"""

from __future__ import annotations

import re

import pytest
import schemathesis
from django.conf import settings as django_settings
from django.contrib.sessions.models import Session
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from django.test import Client
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from schemathesis.checks import CHECKS
from schemathesis.specs.openapi.checks import positive_data_acceptance

from bookings import services
from bookings.models import Booking
from config.wsgi import application
from core.actor import Actor
from guests.services import GuestInput
from properties.models import Property
from tests.api.contract import documented_rejections_only, undocumented_rejection
from tests.factories import OwnerFactory, PropertyFactory, future

pytestmark = pytest.mark.django_db

STATUS = "PATCH /api/v1/bookings/{reference}/status"


# The schema as the app serves it, loaded once per test session (collection) through the WSGI app.
# (schemathesis.pytest.from_fixture would load it per test, but schemathesis 4.32.5's lazy loader uses
# pytest's removed `Node._nodeid` and fails under pytest 9.)
schema = schemathesis.openapi.from_wsgi("/api/schema/?format=json", application)

# The rows every run works on (created by `contract_data`), with keys known before any case is generated:
# schemathesis draws the schema's examples while collecting, before fixtures exist.
OWNER_EMAIL = "contract-owner@example.com"
PROPERTY_ID = 900_001  # far above any sequence value a test database reaches
REFERENCES = {"reserved": "CONTRACT-RESERVED", "confirmed": "CONTRACT-CONFIRMED", "checked_in": "CONTRACT-IN"}
SESSION_KEY = "contractowner0session000000000000"
CSRF_SECRET = "contractCsrfSecret00000000000000"  # 32 characters: an unmasked CSRF secret


@pytest.fixture
def wsgi_in_test_transaction(db):
    """Requests sent straight to the WSGI app keep the test's database connection, as Django's test client
    does: Django closes connections at the end of a request, which would close the test's transaction."""
    for signal in (request_started, request_finished):
        signal.disconnect(close_old_connections)
    yield
    for signal in (request_started, request_finished):
        signal.connect(close_old_connections)


@pytest.fixture
def contract_data(wsgi_in_test_transaction):
    """An owner with an active property open to every stay, and bookings of theirs in three states."""
    owner = OwnerFactory(email=OWNER_EMAIL)
    PropertyFactory(pk=PROPERTY_ID, owner=owner, max_guests=100, status=Property.Status.ACTIVE)
    guest = GuestInput(name="Ada Lovelace", email="ada@example.com", phone="", country="GB")
    for status, reference in REFERENCES.items():
        # Each on its own property so that all arrive today (checking in needs the arrival date).
        stays = PropertyFactory(owner=owner, status=Property.Status.ACTIVE)
        booking = services.reserve(property_id=stays.pk, check_in=future(0), check_out=future(3), adults=2,
                                   guest=guest, actor=Actor.system("test"))
        if status in ("confirmed", "checked_in"):
            services.confirm(booking_id=booking.pk, actor=Actor.system("test"))
        if status == "checked_in":
            services.check_in(booking_id=booking.pk, actor=Actor.system("test"))
        Booking.objects.filter(pk=booking.pk).update(reference=reference)  # test setup: a known reference
    client = Client()
    client.force_login(owner)
    Session.objects.filter(pk=client.session.session_key).update(session_key=SESSION_KEY)  # a known key too
    return owner


# Stays a schema-valid case may be moved to, on the real property: (days from today, nights).
BOOKABLE = [(0, 2), (7, 3), (30, 5), (90, 1), (200, 14)]
DATE_KEYS = {"/api/v1/availability": ("start", "end")}


def _on_real_rows(case, stay):
    """``case`` (schema-valid) aimed at the real rows: the contract property on bookable dates, no hold to
    convert, at most 100 guests; it stays schema-valid, and now reaches the success path too."""
    start, end = DATE_KEYS.get(case.operation.path, ("check_in", "check_out"))
    offset, nights = stay
    for name in ("query", "body"):
        values = getattr(case, name, None)
        if not isinstance(values, dict):
            continue
        values = {key: value for key, value in values.items() if key not in ("hold_id", "hold_token")}
        if "property_id" in values:
            values["property_id"] = PROPERTY_ID
        if start in values and end in values:
            values[start], values[end] = future(offset).isoformat(), future(offset + nights).isoformat()
        if isinstance(values.get("adults"), int) and isinstance(values.get("children"), int):
            values["children"] = min(values["children"], 100 - values["adults"])
        setattr(case, name, values)
    return case


# (reference, new status) pairs the state machine allows from each contract booking's state.
LEGAL_MOVES = [(REFERENCES["reserved"], "confirmed"), (REFERENCES["confirmed"], "checked_in"),
               (REFERENCES["checked_in"], "checked_out")]


def _legal_move(case, reference, status=None):
    """``case`` on the booking ``reference``; with ``status``, asking for that (legal) move."""
    if status is not None:
        case.body = {**case.body, "status": status}
    return _with_path(case, reference=reference)


def _with_path(case, **values):
    case.path_parameters = {**case.path_parameters, **values}
    return case


@schema.hook("flatmap_case")
def on_real_rows(context, case):
    """Generated ids name nothing and random dates are mostly in the past, so most schema-valid cases
    are moved onto the real rows, and the booking endpoints (read and status change, as the owner) act on the
    owner's real bookings. Cases meant to be invalid are left alone."""
    if case.meta is None or not case.meta.generation.mode.is_positive:
        return st.just(case)
    if f"{case.operation.method.upper()} {case.operation.path}" == STATUS and isinstance(case.body, dict):
        # Half of the status changes are moves the booking's state allows, so the success path answers in every
        # run (random pairs allow one in three; a run of 30 examples once reached none); the rest stay random.
        random_moves = [(reference, None) for reference in sorted(REFERENCES.values())]
        return st.sampled_from([*LEGAL_MOVES, *random_moves]).map(lambda move: _legal_move(case, *move))
    if "reference" in case.path_parameters:
        return st.sampled_from(sorted(REFERENCES.values())).map(lambda ref: _with_path(case, reference=ref))
    if case.operation.path == "/api/v1/properties/{id}":
        return st.sampled_from([None, PROPERTY_ID]).map(lambda pk: _with_path(case, id=pk) if pk else case)
    # Five in seven on the real rows: the success paths answer in every run, the documented rules still get hit.
    return st.sampled_from([None, None, *BOOKABLE]).map(lambda stay: _on_real_rows(case, stay) if stay else case)


@schema.auth(refresh_interval=None).apply_to(path_regex="^/api/v1/bookings/")
class OwnerSession:
    """The owner signed in: the session cookie (the schema's `cookieAuth`) and the X-CSRFToken header. The
    session row is made by `contract_data`; cases are generated before it exists, so the key is a constant.
    The CSRF cookie goes with the call: a cookie the schema does not declare would make the case "negative"."""

    def get(self, case, ctx):
        return {django_settings.SESSION_COOKIE_NAME: SESSION_KEY}

    def set(self, case, data, ctx):
        case.cookies = {**(case.cookies or {}), **data}
        case.headers = {**(case.headers or {}), "X-CSRFToken": CSRF_SECRET}


# Operations whose success must be reached in the run: proof that the contract is checked on real work.
MUST_SUCCEED = {STATUS: 200, "POST /api/v1/bookings": 201, "POST /api/v1/holds": 201,
                "GET /api/v1/bookings/{reference}": 200, "GET /api/v1/properties/{id}": 200,
                "PATCH /api/v1/bookings/{reference}": 200}


@pytest.fixture
def answered(request):
    """The statuses answered during one operation's run; at the end, its success path must be among them."""
    statuses = set()
    yield statuses
    label = re.search(r"\[(.*)\]$", request.node.name)
    expected = MUST_SUCCEED.get(label[1] if label else "")
    if expected is not None:
        assert expected in statuses, f"{label[1]} never answered {expected}, only {sorted(statuses)}"


@settings(max_examples=30, deadline=None, database=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@schema.parametrize()
def test_the_api_keeps_its_published_contract(case, contract_data, answered):
    response = case.call_and_validate(cookies={django_settings.CSRF_COOKIE_NAME: CSRF_SECRET},
                                      excluded_checks=[positive_data_acceptance])
    if case.method.upper() == case.operation.method.upper():  # not a probe with another method
        answered.add(response.status_code)


def test_the_contract_check_replaces_positive_data_acceptance():
    assert documented_rejections_only in CHECKS.get_all()
    # A documented cross-field rule is an acceptable answer to schema-valid input …
    assert undocumented_rejection("GET /api/v1/quote", 400, {
        "code": "invalid", "detail": "…", "errors": {"check_out": ["Must be after check_in."]}}) is None
    assert undocumented_rejection("POST /api/v1/bookings", 400, {"code": "stay_rule_violation"}) is None
    assert undocumented_rejection("GET /api/v1/search", 414, None) is None
    # … a rule the schema does not state is not, nor a documented rule's field with another message.
    assert undocumented_rejection("GET /api/v1/search", 400, {
        "code": "invalid", "errors": {"min_price": ["A valid number is required."]}})
    assert undocumented_rejection("GET /api/v1/quote", 400, {
        "code": "invalid", "errors": {"check_out": ["Dates must be between 2000-01-01 and 2200-12-31."]}})
    assert undocumented_rejection("GET /api/v1/quote", 400, {"code": "stay_rule_violation"})
    assert undocumented_rejection("PATCH /api/v1/bookings/{reference}/status", 400, {"code": "booking_error"})


# --- each contract fix, pinned -----------------------------------------------------------------


@pytest.fixture
def live_schema(api):
    return api.get("/api/schema/?format=json").json()


def _operation(live_schema, label):
    method, path = label.split(" ", 1)
    return live_schema["paths"][path][method.lower()]


def _parameter(live_schema, label, name):
    return next(p for p in _operation(live_schema, label).get("parameters", []) if p["name"] == name)


def _body_property(live_schema, label, name):
    ref = _operation(live_schema, label)["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    return live_schema["components"]["schemas"][ref.rsplit("/", 1)[1]]["properties"][name]


def test_check_in_and_out_times_are_the_propertys_wall_clock_as_the_schema_says(api, prop, live_schema):
    body = api.get(f"/api/v1/properties/{prop.pk}").json()

    for field, value in (("check_in_time", "15:00:00"), ("check_out_time", "11:00:00")):
        declared = live_schema["components"]["schemas"]["Property"]["properties"][field]
        assert body[field] == value
        assert "format" not in declared  # RFC 3339 `time` needs an offset; a property's wall clock has none
        assert re.search(declared["pattern"], value)
        assert "`timezone`" in declared["description"]


def test_the_schemas_example_booking_is_bookable_whatever_the_date(api, live_schema):
    operation = _operation(live_schema, "POST /api/v1/bookings")
    example = operation["requestBody"]["content"]["application/json"]["examples"]["DirectBooking"]["value"]
    prop = PropertyFactory(max_guests=4)

    response = api.post("/api/v1/bookings", {**example, "property_id": prop.pk}, format="json")

    assert example["check_in"] >= future(30).isoformat()  # relative to today, never in the past
    assert response.status_code == 201, response.json()


@pytest.mark.parametrize("label, field, rule", [
    ("GET /api/v1/search", "check_in", "Give both dates or neither"),
    ("GET /api/v1/search", "check_out", "Must be after check_in, at most 731 days later"),
    ("GET /api/v1/search", "max_price", "not below min_price"),
    ("GET /api/v1/quote", "check_out", "Must be after check_in"),
    ("GET /api/v1/quote", "property_id", "another id is 400"),
    ("GET /api/v1/availability", "end", "Must be after start, at most 366 days later"),
    ("POST /api/v1/holds", "check_in", "not in the past"),
    ("POST /api/v1/holds", "check_out", "Must be after check_in"),
    ("POST /api/v1/holds", "children", "adults + children is at most 100"),
    ("POST /api/v1/bookings", "hold_id", "required with hold_token"),
    ("POST /api/v1/bookings", "hold_token", "required with hold_id"),
])
def test_rules_a_schema_cannot_express_are_stated_in_it(live_schema, label, field, rule):
    operation = _operation(live_schema, label)
    if "requestBody" in operation:
        description = _body_property(live_schema, label, field)["description"]
    else:
        description = _parameter(live_schema, label, field)["description"]
    assert rule in description


def test_an_empty_query_parameter_means_not_given(api, prop, live_schema):
    empty = dict.fromkeys(["check_in", "check_out", "q", "min_price", "max_price", "bedrooms", "amenities", "sort",
                           "page", "page_size", "guests"], "")

    response = api.get("/api/v1/search", empty)

    assert response.status_code == 200, response.json()
    assert response.json()["total"] == 1
    optional = [p for p in _operation(live_schema, "GET /api/v1/search")["parameters"] if not p.get("required")]
    assert optional and all(p["allowEmptyValue"] is True for p in optional)


def test_every_operation_documents_the_414_of_the_server_in_front(live_schema):
    from gunicorn.config import Config

    limit = Config().settings["limit_request_line"].get()  # what the Procfile's gunicorn runs with
    for path, operations in live_schema["paths"].items():
        for method, operation in operations.items():
            response = operation["responses"]["414"]
            assert set(response["content"]) == {"text/html"}, (method, path)  # gunicorn's page, not JSON
            assert f"{limit} bytes" in response["description"]


def test_the_status_change_body_requires_status_as_the_api_does(live_schema):
    body = _operation(live_schema, "PATCH /api/v1/bookings/{reference}/status")["requestBody"]
    ref = body["content"]["application/json"]["schema"]["$ref"]
    assert live_schema["components"]["schemas"][ref.rsplit("/", 1)[1]]["required"] == ["status"]


@pytest.mark.parametrize("key, status", [("a1-B2_c3.~", 201), ("with inner spaces", 201), ("k" * 255, 201),
                                         ("clé", 400), (" leading", 400), ("trailing ", 400), ("k" * 256, 400)])
def test_idempotency_keys_follow_the_documented_pattern(api, prop, booking_body, live_schema, key, status):
    declared = _parameter(live_schema, "POST /api/v1/bookings", "Idempotency-Key")["schema"]

    response = api.post("/api/v1/bookings", booking_body(prop), format="json", HTTP_IDEMPOTENCY_KEY=key)

    assert response.status_code == status, response.json()
    assert (re.search(declared["pattern"], key) is not None and len(key) <= declared["maxLength"]) is (status == 201)


def test_dates_are_exactly_yyyy_mm_dd_as_the_schema_says(api, prop):
    year = future(0).year + 1
    params = {"property_id": prop.pk, "check_out": f"{year}-01-09"}

    good = api.get("/api/v1/quote", {**params, "check_in": f"{year}-01-05"})

    assert good.status_code == 200
    # Python's date parsing takes all of these; RFC 3339 full-date (the schema's `format: date`) none.
    for other in (f"{year}0105", f"{year}-1-5", f"{year}-W01-1", f" {year}-01-05"):
        response = api.get("/api/v1/quote", {**params, "check_in": other})
        assert response.status_code == 400, other
        assert set(response.json()["errors"]) == {"check_in"}


@pytest.mark.parametrize("path, value", [("name", 12345), ("phone", 123456), ("name", "x" * 200 + " "),
                                         ("name", " \u3000\ufeff"), ("country", " GB")])
def test_guest_text_is_a_json_string_judged_as_sent(api, prop, booking_body, path, value):
    body = booking_body(prop)
    body["guest"][path] = value

    response = api.post("/api/v1/bookings", body, format="json")

    assert response.status_code == 400, response.json()
    assert set(response.json()["errors"]) == {f"guest.{path}"}


@pytest.mark.parametrize("params, status", [({"amenities": "wifi, pool"}, 200),
                                            ({"amenities": "," * 25 + "wifi"}, 400),
                                            ({"min_price": "99.50"}, 200), ({"min_price": "1e3"}, 400),
                                            ({"max_price": " 5"}, 400), ({"max_price": "5."}, 400)])
def test_search_filters_follow_their_patterns(api, prop, live_schema, params, status):
    (name, value), = params.items()
    pattern = _parameter(live_schema, "GET /api/v1/search", name)["schema"]
    pattern = pattern.get("pattern") or pattern["anyOf"][0]["pattern"]

    response = api.get("/api/v1/search", params)

    assert response.status_code == status
    assert bool(re.search(pattern, value)) is (status == 200)
