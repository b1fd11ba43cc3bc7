"""GET /api/v1/properties and /api/v1/properties/{id}: public reads, scoping, query counts."""

import io
from decimal import Decimal

import pytest
from django.core.files.base import ContentFile

from properties.models import Property, PropertyPhoto, weekday_mask
from tests.factories import AmenityFactory, PropertyFactory, UserFactory

pytestmark = pytest.mark.django_db


def _tiny_jpeg() -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (4, 4), "teal").save(buffer, format="JPEG")
    return buffer.getvalue()


def _with_media(prop, n_photos=2, amenities=("wifi", "pool")):
    prop.amenities.add(*(AmenityFactory(code=code) for code in amenities))
    for i in range(n_photos):
        photo = PropertyPhoto(property=prop, alt_text=f"Photo {i}", position=n_photos - i)
        photo.image.save(f"p{prop.pk}-{i}.jpg", ContentFile(_tiny_jpeg()), save=True)  # stored re-encoded: a real one
    return prop


def test_list_shows_active_properties_with_their_public_fields(api, prop):
    _with_media(prop)
    prop.checkin_weekdays = weekday_mask(4, 5)  # Friday, Saturday
    prop.min_stay = 2
    prop.save()
    PropertyFactory(status=Property.Status.DRAFT, name="Hidden draft")
    PropertyFactory(status=Property.Status.ARCHIVED, name="Hidden archive")

    response = api.get("/api/v1/properties")

    assert response.status_code == 200
    body = response.json()
    assert (body["total"], body["page"], body["pages"]) == (1, 1, 1)
    [item] = body["results"]
    assert item["id"] == prop.pk
    assert item["slug"] == prop.slug
    assert item["base_price"] == "100.00"
    assert item["bathrooms"] == "1.5"
    assert item["currency"] == "EUR"
    assert sorted(item["amenities"]) == ["pool", "wifi"]
    assert [p["alt_text"] for p in item["photos"]] == ["Photo 1", "Photo 0"]  # by position
    assert all(p["url"].startswith("http://testserver/media/") for p in item["photos"])
    assert item["stay_rules"]["checkin_weekdays"] == ["friday", "saturday"]
    assert item["stay_rules"]["min_stay"] == 2
    assert item["check_in_time"] == "15:00:00"
    assert item["cancellation_policy"] == "moderate"
    assert item["timezone"] == "UTC"


def test_list_is_paginated(api, owner):
    for i in range(5):
        PropertyFactory(owner=owner, name=f"House {i}")

    body = api.get("/api/v1/properties", {"page": 2, "page_size": 2}).json()

    assert [r["name"] for r in body["results"]] == ["House 2", "House 3"]
    assert (body["total"], body["page"], body["page_size"], body["pages"]) == (5, 2, 2, 3)
    assert api.get("/api/v1/properties", {"page": 9, "page_size": 2}).json()["results"] == []


@pytest.mark.parametrize("params", [{"page": 0}, {"page": "x"}, {"page_size": 51}, {"page_size": -1},
                                    {"page": "1e9999"}, {"page": 10**30}])
def test_list_rejects_bad_paging(api, params):
    response = api.get("/api/v1/properties", params)
    assert response.status_code == 400
    assert response.json()["code"] == "invalid"
    assert set(response.json()["errors"]) <= {"page", "page_size"}


def test_list_runs_a_bounded_number_of_queries(api, django_assert_max_num_queries, owner):
    for i in range(12):
        _with_media(PropertyFactory(owner=owner, name=f"House {i:02}"), n_photos=2)

    with django_assert_max_num_queries(4):  # count, page, amenities, photos — never one per property
        response = api.get("/api/v1/properties", {"page_size": 50})

    assert response.status_code == 200
    assert len(response.json()["results"]) == 12
    assert all(len(r["photos"]) == 2 and len(r["amenities"]) == 2 for r in response.json()["results"])


def test_detail_of_an_active_property(api, prop):
    prop.description = "Sea view"
    prop.bathrooms = Decimal("2.5")
    prop.save()

    response = api.get(f"/api/v1/properties/{prop.pk}")

    assert response.status_code == 200
    assert response.json()["description"] == "Sea view"
    assert response.json()["bathrooms"] == "2.5"


def test_draft_property_is_404_for_the_public_and_other_owners(api, owner):
    draft = PropertyFactory(owner=owner, status=Property.Status.DRAFT)

    assert api.get(f"/api/v1/properties/{draft.pk}").json() == {
        "code": "not_found", "detail": "There is no property with this id."}
    api.force_authenticate(UserFactory(email="other-owner@example.com"))
    assert api.get(f"/api/v1/properties/{draft.pk}").status_code == 404
    assert draft.pk not in [r["id"] for r in api.get("/api/v1/properties").json()["results"]]


@pytest.mark.parametrize("who", ["owner", "staff", "superuser"])
def test_managers_see_their_draft_property(api, owner, who):
    draft = PropertyFactory(owner=owner, status=Property.Status.DRAFT)
    user = {
        "owner": lambda: owner,
        "staff": lambda: UserFactory(email="staff@example.com"),
        "superuser": lambda: UserFactory(email="root@example.com", is_superuser=True, is_staff=True),
    }[who]()
    if who == "staff":
        draft.staff.add(user)
    api.force_authenticate(user)

    assert api.get(f"/api/v1/properties/{draft.pk}").json()["status"] == "draft"
    assert draft.pk in [r["id"] for r in api.get("/api/v1/properties").json()["results"]]


@pytest.mark.parametrize("path", ["/api/v1/properties/abc", "/api/v1/properties/-1", "/api/v1/properties/1.5",
                                  "/api/v1/properties/99999999999999999999", "/api/v1/properties/0",
                                  "/api/v1/properties/9223372036854775807"])
def test_detail_with_a_bad_or_unknown_id_is_a_json_404(api, path):
    response = api.get(path)
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


def test_paths_have_no_trailing_slash(api, prop):
    assert api.get(f"/api/v1/properties/{prop.pk}").status_code == 200
    response = api.get(f"/api/v1/properties/{prop.pk}/")
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"
