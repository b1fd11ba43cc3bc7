"""GET /api/v1/search, /api/v1/availability and /api/v1/quote: good and bad input."""

from decimal import Decimal

import pytest

from properties.models import PricingRule, Property, weekday_mask
from tests.factories import AmenityFactory, BlockFactory, PricingRuleFactory, PropertyFactory, future

pytestmark = pytest.mark.django_db


def dates(start, nights):
    return {"check_in": future(start).isoformat(), "check_out": future(start + nights).isoformat()}


# --- search ---------------------------------------------------------------------------------


@pytest.fixture
def three(owner):
    wifi = AmenityFactory(code="wifi")
    cheap = PropertyFactory(owner=owner, name="Cheap Flat", city="Porto", base_price=Decimal("50"), bedrooms=1)
    mid = PropertyFactory(owner=owner, name="Mid House", city="Lisbon", base_price=Decimal("100"), bedrooms=2)
    lux = PropertyFactory(owner=owner, name="Lux Villa", city="Lisbon", base_price=Decimal("300"), bedrooms=4,
                          max_guests=8)
    mid.amenities.add(wifi)
    lux.amenities.add(wifi)
    PropertyFactory(owner=owner, name="Draft Lisbon", city="Lisbon", status=Property.Status.DRAFT)
    return cheap, mid, lux


def test_search_without_dates_lists_active_properties_sorted_by_price_without_quotes(api, three):
    body = api.get("/api/v1/search").json()

    assert [r["property"]["name"] for r in body["results"]] == ["Cheap Flat", "Mid House", "Lux Villa"]
    assert all(r["quote"] is None for r in body["results"])
    assert (body["total"], body["page"], body["pages"]) == (3, 1, 1)


def test_search_with_dates_excludes_taken_properties_and_quotes_the_rest(api, three, book):
    cheap, mid, lux = three
    book(mid, start=20, nights=3)
    BlockFactory(property=lux, start_date=future(21), end_date=future(22))

    body = api.get("/api/v1/search", {**dates(20, 3), "guests": 2}).json()

    assert [r["property"]["id"] for r in body["results"]] == [cheap.pk]
    quote = body["results"][0]["quote"]
    assert quote["check_in"] == future(20).isoformat()
    assert quote["total"] == "150.00"
    assert [n["price"] for n in quote["nights"]] == ["50.00"] * 3
    assert body["total"] == 1


def test_search_filters_and_sorting(api, three):
    cheap, mid, lux = three

    def names(**params):
        return [r["property"]["name"] for r in api.get("/api/v1/search", params).json()["results"]]

    assert names(q="lisbon") == ["Mid House", "Lux Villa"]
    assert names(q="villa") == ["Lux Villa"]
    assert names(min_price="60", max_price="200") == ["Mid House"]
    assert names(bedrooms=2, sort="-price") == ["Lux Villa", "Mid House"]
    assert names(amenities="wifi") == ["Mid House", "Lux Villa"]
    assert names(amenities="wifi,pool") == []
    assert names(guests=6) == ["Lux Villa"]
    assert names(sort="name") == ["Cheap Flat", "Lux Villa", "Mid House"]
    page2 = api.get("/api/v1/search", {"page": 2, "page_size": 2}).json()
    assert [r["property"]["name"] for r in page2["results"]] == ["Lux Villa"]
    assert (page2["total"], page2["pages"]) == (3, 2)


@pytest.mark.parametrize("params, field", [
    ({"check_in": "2026-02-30", "check_out": "2026-03-02"}, "check_in"),
    ({"check_in": "tomorrow", "check_out": "2026-03-02"}, "check_in"),
    ({"check_in": "2030-01-10"}, "check_out"),
    ({"check_out": "2030-01-10"}, "check_in"),
    ({"check_in": "2030-01-10", "check_out": "2030-01-10"}, "check_out"),
    ({"check_in": "2030-01-10", "check_out": "2030-01-05"}, "check_out"),
    ({"check_in": "2030-01-10", "check_out": "2035-01-05"}, "check_out"),
    ({"check_in": "0001-01-01", "check_out": "0001-01-05"}, "check_in"),
    ({"check_in": "9999-12-30", "check_out": "9999-12-31"}, "check_in"),
    ({"guests": 0}, "guests"),
    ({"guests": -3}, "guests"),
    ({"guests": 10**12}, "guests"),
    ({"guests": "two"}, "guests"),
    ({"min_price": "abc"}, "min_price"),
    ({"min_price": "-5"}, "min_price"),
    ({"min_price": "NaN"}, "min_price"),
    ({"max_price": "1e400"}, "max_price"),
    ({"min_price": "200", "max_price": "100"}, "max_price"),
    ({"bedrooms": "many"}, "bedrooms"),
    ({"sort": "random"}, "sort"),
    ({"page": 0}, "page"),
    ({"page_size": 500}, "page_size"),
    ({"q": "x" * 101}, "q"),
    ({"amenities": ",".join(f"a{i}" for i in range(21))}, "amenities"),
])
def test_search_rejects_bad_input_with_field_errors(api, params, field):
    response = api.get("/api/v1/search", params)

    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "invalid"
    assert field in body["errors"]
    assert body["detail"]


def test_search_runs_a_bounded_number_of_queries(api, owner, django_assert_max_num_queries):
    wifi = AmenityFactory(code="wifi")
    for i in range(15):
        p = PropertyFactory(owner=owner, name=f"House {i:02}")
        p.amenities.add(wifi)
        PricingRuleFactory(property=p, kind=PricingRule.Kind.WEEKEND, value=Decimal("10"))

    with django_assert_max_num_queries(8):
        response = api.get("/api/v1/search", {**dates(30, 7), "guests": 2, "page_size": 50})

    assert response.status_code == 200
    assert len(response.json()["results"]) == 15
    assert all(r["quote"]["nights"] for r in response.json()["results"])


# --- availability -------------------------------------------------------------------------------


def test_availability_gives_the_calendar_and_says_whether_the_range_is_bookable(api, prop, book):
    book(prop, start=12, nights=2)

    free = api.get("/api/v1/availability", {"property_id": prop.pk, "start": future(5).isoformat(),
                                            "end": future(10).isoformat(), "guests": 2}).json()
    taken = api.get("/api/v1/availability", {"property_id": prop.pk, "start": future(10).isoformat(),
                                             "end": future(15).isoformat()}).json()

    assert free["bookable"] is True and free["reasons"] == []
    assert [d["date"] for d in free["days"]] == [future(d).isoformat() for d in range(5, 10)]
    assert taken["bookable"] is False
    assert [r["code"] for r in taken["reasons"]] == ["overlap"]
    states = {d["date"]: d["state"] for d in taken["days"]}
    assert states[future(12).isoformat()] == "check_out_only"
    assert states[future(13).isoformat()] == "booked"
    assert states[future(14).isoformat()] == "available"
    assert taken["guests"] == 1


def test_availability_lists_every_broken_rule(api, owner):
    prop = PropertyFactory(owner=owner, max_guests=2, min_stay=5)
    response = api.get("/api/v1/availability", {"property_id": prop.pk, "start": future(5).isoformat(),
                                                "end": future(7).isoformat(), "guests": 3})
    assert response.status_code == 200
    assert {r["code"] for r in response.json()["reasons"]} == {"too_many_guests", "min_stay"}


@pytest.mark.parametrize("params, field", [
    ({"start": "2030-01-01", "end": "2031-01-03"}, "end"),  # 367 days: over the cap
    ({"start": "2030-01-05", "end": "2030-01-01"}, "end"),
    ({"start": "2030-02-30", "end": "2030-03-05"}, "start"),
    ({"start": "2030-01-01"}, "end"),
    ({"start": "2030-01-01", "end": "2030-01-05", "property_id": "abc"}, "property_id"),
    ({"start": "2030-01-01", "end": "2030-01-05", "property_id": 0}, "property_id"),
    ({"start": "2030-01-01", "end": "2030-01-05", "property_id": 987654}, "property_id"),
    ({"start": "2030-01-01", "end": "2030-01-05", "property_id": 10**25}, "property_id"),
    ({"start": "2030-01-01", "end": "2030-01-05", "guests": 0}, "guests"),
])
def test_availability_rejects_bad_input(api, prop, params, field):
    params = {"property_id": prop.pk, **params}
    response = api.get("/api/v1/availability", params)
    assert response.status_code == 400
    assert field in response.json()["errors"]


def test_availability_allows_a_full_year_and_hides_draft_properties(api, prop, owner):
    year = api.get("/api/v1/availability", {"property_id": prop.pk, "start": future(1).isoformat(),
                                            "end": future(367).isoformat()})
    assert year.status_code == 200
    assert len(year.json()["days"]) == 366

    draft = PropertyFactory(owner=owner, status=Property.Status.DRAFT)
    params = {"property_id": draft.pk, "start": future(1).isoformat(), "end": future(3).isoformat()}
    assert api.get("/api/v1/availability", params).json()["errors"] == {
        "property_id": ["There is no property with this id."]}
    api.force_authenticate(owner)
    managed = api.get("/api/v1/availability", params).json()
    assert managed["bookable"] is False
    assert [r["code"] for r in managed["reasons"]] == ["property_inactive"]


# --- quote -----------------------------------------------------------------------------------


def test_quote_for_bookable_dates(api, owner):
    prop = PropertyFactory(owner=owner, base_price=Decimal("80"), cleaning_fee=Decimal("40"),
                           tax_rate=Decimal("10"))

    response = api.get("/api/v1/quote", {"property_id": prop.pk, **dates(10, 2), "guests": 2})

    assert response.status_code == 200
    body = response.json()
    assert body["available"] is True and body["reasons"] == []
    assert body["property_id"] == prop.pk
    assert body["nightly_subtotal"] == "160.00"
    assert body["fees"] == [{"code": "cleaning", "label": "Cleaning fee", "amount": "40.00"}]
    assert body["taxes"] == "20.00"
    assert body["total"] == "220.00"
    assert body["currency"] == "EUR"
    assert len(body["nights"]) == 2


def test_quote_for_impossible_dates_still_prices_them_and_says_why(api, owner, book):
    prop = PropertyFactory(owner=owner, checkin_weekdays=weekday_mask(5))  # Saturdays only
    start = next(d for d in range(10, 17) if future(d).weekday() != 5)
    book(prop, start=start, nights=1, adults=1, override_rules=True, override_reason="owner said so")

    body = api.get("/api/v1/quote", {"property_id": prop.pk, **dates(start, 2), "guests": 9}).json()

    assert body["available"] is False
    assert {r["code"] for r in body["reasons"]} == {"overlap", "checkin_day", "too_many_guests"}
    assert body["total"] == "200.00"


def test_quote_in_the_past_is_priced_but_not_available(api, prop):
    body = api.get("/api/v1/quote", {"property_id": prop.pk, **dates(-5, 2)}).json()
    assert body["available"] is False
    assert "in_past" in {r["code"] for r in body["reasons"]}


@pytest.mark.parametrize("params, field", [
    ({"check_in": "2026-02-30", "check_out": "2026-03-03"}, "check_in"),
    ({"check_in": "2026-13-01", "check_out": "2027-01-03"}, "check_in"),
    ({"check_in": "2030-03-05", "check_out": "2030-03-01"}, "check_out"),
    ({"check_in": "2030-03-05", "check_out": "2033-03-05"}, "check_out"),
    ({"check_out": "2030-03-05"}, "check_in"),
    ({"check_in": "2030-03-01", "check_out": "2030-03-05", "guests": -1}, "guests"),
    ({"check_in": "2030-03-01", "check_out": "2030-03-05", "guests": 101}, "guests"),
    ({"check_in": "2030-03-01", "check_out": "2030-03-05", "guests": "1.5"}, "guests"),
    ({"check_in": "2030-03-01", "check_out": "2030-03-05", "property_id": ""}, "property_id"),
    ({"check_in": "2030-03-01", "check_out": "2030-03-05", "property_id": 424242}, "property_id"),
])
def test_quote_rejects_bad_input(api, prop, params, field):
    response = api.get("/api/v1/quote", {"property_id": prop.pk, **params})
    assert response.status_code == 400
    assert response.json()["code"] == "invalid"
    assert field in response.json()["errors"]


def test_quote_without_any_parameter_names_every_missing_field(api):
    body = api.get("/api/v1/quote").json()
    assert set(body["errors"]) == {"property_id", "check_in", "check_out"}
    assert all(msgs == ["This field is required."] for msgs in body["errors"].values())
