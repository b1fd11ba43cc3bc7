"""GET /api/v1/properties/{id}/reviews: public, published only, paginated, documented in the schema."""

from decimal import Decimal

import pytest
from rest_framework.test import APIClient

from properties.models import Property
from reviews.models import Review, ReviewStatus
from tests.factories import PropertyFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def api():
    return APIClient()


def test_public_reviews_newest_first_with_average_and_pages(api, prop, reviewed):
    old = reviewed(prop, 5, start=10, title="First", cleanliness=5)
    new = reviewed(prop, 4, start=20, title="Second")
    hidden = reviewed(prop, 1, start=30, title="Hidden")
    Review.objects.filter(pk=hidden.pk).update(status=ReviewStatus.HIDDEN)
    Review.objects.filter(pk=old.pk).update(reply="Thanks!")

    body = api.get(f"/api/v1/properties/{prop.pk}/reviews").json()

    assert body["total"] == 2 and body["pages"] == 1 and body["average"] == "4.5"
    assert [r["id"] for r in body["results"]] == [new.pk, old.pk]
    first = body["results"][1]
    assert first["categories"] == {"cleanliness": 5} and first["reply"] == "Thanks!"
    assert first["guest_name"] == "Ada L." and "email" not in first and "booking" not in first

    page2 = api.get(f"/api/v1/properties/{prop.pk}/reviews", {"page": 2, "page_size": 1}).json()
    assert [r["id"] for r in page2["results"]] == [old.pk] and page2["pages"] == 2
    assert Decimal(page2["average"]) == Decimal("4.5")


def test_no_reviews_unknown_draft_and_bad_pages(api, prop):
    assert api.get(f"/api/v1/properties/{prop.pk}/reviews").json() == {
        "results": [], "average": None, "total": 0, "page": 1, "page_size": 20, "pages": 1}
    draft = PropertyFactory(status=Property.Status.DRAFT)
    for pk in (draft.pk, 999999):
        response = api.get(f"/api/v1/properties/{pk}/reviews")
        assert response.status_code == 404 and response.json()["code"] == "not_found"
    for bad in ({"page": 0}, {"page": "x"}, {"page_size": 1000}):
        response = api.get(f"/api/v1/properties/{prop.pk}/reviews", bad)
        assert response.status_code == 400 and set(response.json()) >= {"code", "detail"}


def test_the_endpoint_is_in_the_schema(api):
    schema = api.get("/api/schema/", {"format": "json"}).json()
    operation = schema["paths"]["/api/v1/properties/{id}/reviews"]["get"]
    assert operation["operationId"] == "properties_reviews"
    assert {"200", "400", "404"} <= set(operation["responses"])
