"""The home page (the search page without a query): active properties with photo, city and nightly price,
in a bounded number of queries. The search itself is tested in tests/pages/test_search_page.py."""

import io
import re
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from properties.models import Property, PropertyPhoto
from tests.factories import AmenityFactory, PropertyFactory

pytestmark = pytest.mark.django_db


def png() -> SimpleUploadedFile:
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (4, 4), "orange").save(buffer, format="PNG")
    return SimpleUploadedFile("photo.png", buffer.getvalue())


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path


def test_home_lists_active_properties_with_city_price_and_first_photo(client):
    kyoto = PropertyFactory(name="Higashiyama Machiya", city="Kyoto", country="JP", currency="JPY",
                            base_price=Decimal("28000"))
    second = PropertyPhoto.objects.create(property=kyoto, image=png(), alt_text="Garden", position=2)
    first = PropertyPhoto.objects.create(property=kyoto, image=png(), alt_text="Tatami room", position=1)
    kyoto.amenities.add(AmenityFactory(code="wifi", name="Wi-Fi"))
    PropertyFactory(name="Alfama Loft", city="Lisbon", currency="EUR", base_price=Decimal("95.50"))
    PropertyFactory(name="Secret Draft House", status=Property.Status.DRAFT)
    PropertyFactory(name="Old Archived Barn", status=Property.Status.ARCHIVED)

    response = client.get("/")

    assert response.status_code == 200
    html = response.content.decode()
    assert "Higashiyama Machiya" in html and "Kyoto" in html
    assert "¥28,000" in html  # zero-decimal currency
    assert "€95.50" in html
    assert "Wi-Fi" in html
    assert first.image.url in html and 'alt="Tatami room"' in html
    assert second.image.url not in html  # only the first photo
    assert "Secret Draft House" not in html and "Old Archived Barn" not in html
    assert 'href="/api/docs/"' not in html  # guests are not sent to the API docs or the back office (issue 11)
    assert '<a href="/admin/">Owner sign-in</a>' in html.split("<footer")[1]  # owners find their sign-in in the footer
    assert "/static/css/site.css" in html
    # nothing loaded from elsewhere (a CDN): every address on the page is ours. Only the addresses are checked: the
    # page carries random tokens now (the language switch's CSRF field), which may spell "cdn" by chance.
    addresses = re.findall(r'(?:src|href|action)="([^"]*)"', html)
    assert addresses and not [a for a in addresses if a.startswith(("http:", "https:", "//")) or "cdn" in a.lower()]


def test_home_without_properties_explains_how_to_get_demo_data(client):
    response = client.get("/")
    assert response.status_code == 200
    assert "seed_demo" in response.content.decode()


def test_home_query_count_does_not_grow_with_the_number_of_properties(client, django_assert_max_num_queries):
    def add(n):
        for _ in range(n):
            prop = PropertyFactory()
            PropertyPhoto.objects.create(property=prop, image=png())
            prop.amenities.add(AmenityFactory())

    add(2)
    # the amenity filter's choices, the page of properties (with its total), their photos and amenities, and their
    # review averages (one grouped query, reviews.selectors.averages_for: issue 15's reviews raised this from 4)
    with django_assert_max_num_queries(5) as small:
        assert client.get("/").status_code == 200
    add(10)
    with django_assert_max_num_queries(len(small.captured_queries)):
        response = client.get("/")
    assert response.content.decode().count('class="card"') == 12
