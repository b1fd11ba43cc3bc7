"""The search page (/): form, cards with the quote, filters, sort, pages, empty state, bad input, query counts."""

from datetime import timedelta
from decimal import Decimal

import pytest

from properties.models import Property
from tests.factories import AmenityFactory, BlockFactory, PropertyFactory, future
from tests.pages.conftest import text

pytestmark = pytest.mark.django_db


def stay(start=10, nights=3, **extra):
    return {"check_in": future(start).isoformat(), "check_out": future(start + nights).isoformat(), **extra}


def test_cards_show_photo_facts_price_per_night_total_and_policy(client, photo):
    prop = PropertyFactory(name="Alfama Loft", city="Lisbon", region="Lisboa", bedrooms=2, bathrooms=Decimal("1.5"),
                           max_guests=4, base_price=Decimal("100.00"), cleaning_fee=Decimal("30.00"),
                           cancellation_policy="strict")
    first = photo(prop, alt="Sunny living room", position=1)
    second = photo(prop, alt="Bedroom", position=2)

    response = client.get("/", stay(q="lisbon", guests=2))

    assert response.status_code == 200
    html, visible = response.content.decode(), text(response)
    assert first.image.url in html and 'alt="Sunny living room"' in html
    assert second.image.url not in html
    assert "Alfama Loft" in visible and "Lisbon, Lisboa" in visible
    assert "2 bedrooms · 1.5 bathrooms · sleeps 4" in visible
    assert "€100.00 / night" in visible
    assert "€330.00 total for 3 nights" in visible  # 3 × 100 + cleaning 30, from the quote
    assert "Strict cancellation" in visible
    # the card links to the property page with the stay
    assert f'href="/properties/{prop.slug}/?check_in={future(10).isoformat()}&amp;check_out=' in html


def test_without_dates_lists_every_active_property_from_its_base_price(client):
    PropertyFactory(name="Kyoto Machiya", currency="JPY", base_price=Decimal("28000"))
    PropertyFactory(name="Draft House", status=Property.Status.DRAFT)

    visible = text(client.get("/"))

    assert "1 place" in visible
    assert "From ¥28,000 / night" in visible
    assert "Draft House" not in visible


def test_taken_and_blocked_properties_are_not_listed_for_the_dates(client, book):
    PropertyFactory(name="Free Flat")
    taken = PropertyFactory(name="Taken Flat")
    blocked = PropertyFactory(name="Blocked Flat")
    book(taken, start=10, nights=3)
    BlockFactory(property=blocked, start_date=future(11), end_date=future(12))

    visible = text(client.get("/", stay()))

    assert "Free Flat" in visible
    assert "Taken Flat" not in visible and "Blocked Flat" not in visible
    assert "1 place" in visible


def test_filters_price_bedrooms_amenities_and_sort(client):
    wifi = AmenityFactory(code="wifi", name="Wi-Fi")
    pool = AmenityFactory(code="pool", name="Pool")
    cheap = PropertyFactory(name="Cheap Studio", base_price=Decimal("50"), bedrooms=1)
    mid = PropertyFactory(name="Mid House", base_price=Decimal("120"), bedrooms=3)
    dear = PropertyFactory(name="Dear Villa", base_price=Decimal("400"), bedrooms=5)
    for prop in (cheap, mid, dear):
        prop.amenities.add(wifi)
    dear.amenities.add(pool)

    visible = text(client.get("/", {"min_price": "60", "max_price": "500"}))
    assert "Mid House" in visible and "Dear Villa" in visible and "Cheap Studio" not in visible

    visible = text(client.get("/", {"bedrooms": "3"}))
    assert "Cheap Studio" not in visible and "Mid House" in visible

    visible = text(client.get("/", {"amenities": ["wifi", "pool"]}))
    assert "Dear Villa" in visible and "Mid House" not in visible

    html = client.get("/", {"sort": "-price"}).content.decode()
    assert html.index("Dear Villa") < html.index("Mid House") < html.index("Cheap Studio")
    html = client.get("/", {"sort": "price"}).content.decode()
    assert html.index("Cheap Studio") < html.index("Mid House") < html.index("Dear Villa")
    # the amenity checkboxes are labelled and keep their state
    html = client.get("/", {"amenities": ["pool"]}).content.decode()
    assert 'value="pool"' in html and "checked" in html.split('value="pool"')[1].split(">")[0]


def test_pagination_links_keep_the_query(client):
    for n in range(25):
        PropertyFactory(name=f"House {n:02d}", base_price=Decimal(100 + n))

    first = client.get("/", {"q": "House", "sort": "price"})
    second = client.get("/", {"q": "House", "sort": "price", "page": "2"})

    assert "Page 1 of 2" in text(first)
    assert 'href="?q=House&amp;sort=price&amp;page=2"' in first.content.decode()
    assert first.content.decode().count('class="card"') == 20
    assert second.content.decode().count('class="card"') == 5
    assert 'aria-current="page"' in second.content.decode()
    assert "There is no page 9" in text(client.get("/", {"q": "House", "page": "9"}))


def test_empty_state_offers_the_same_place_without_dates_and_the_nearest_free_dates(client, book):
    prop = PropertyFactory(name="Only Cottage", city="Porto")
    book(prop, start=10, nights=3)  # nights 10, 11, 12 are taken

    response = client.get("/", stay(start=10, nights=2, q="Porto"))

    visible = text(response)
    assert response.status_code == 200
    assert "Nothing is free for these dates" in visible
    assert "Only Cottage" in visible
    # the nearest 2-night stay around day 10: arriving day 13 (the check-out day of the booking) or before day 10
    nearest = response.context["empty"].nearest
    assert nearest is not None and nearest.property == prop
    assert nearest.check_out - nearest.check_in == timedelta(days=2)
    assert nearest.check_in in (future(8), future(13))
    assert f"check_in={nearest.check_in.isoformat()}" in response.content.decode()


def test_empty_state_when_no_place_matches_the_text(client):
    PropertyFactory(city="Lisbon")
    visible = text(client.get("/", stay(q="Atlantis")))
    assert "No place matches “Atlantis”" in visible


@pytest.mark.parametrize(
    ("params", "field", "message"),
    [
        (lambda: {"check_in": future(-5).isoformat(), "check_out": future(2).isoformat()}, "check_in",
         "Check-in cannot be in the past."),
        (lambda: {"check_in": future(10).isoformat(), "check_out": future(10).isoformat()}, "check_out",
         "Check-out must be after check-in."),
        (lambda: {"check_in": future(10).isoformat(), "check_out": future(7).isoformat()}, "check_out",
         "Check-out must be after check-in."),
        (lambda: {"check_in": "2026-13-45", "check_out": future(7).isoformat()}, "check_in",
         "Enter a date as YYYY-MM-DD."),
        (lambda: {"check_in": future(10).isoformat()}, "check_out", "Choose a departure date too."),
        (lambda: {"guests": "0"}, "guests", "At least 1 guest."),
        (lambda: {"guests": "abc"}, "guests", "Enter a whole number."),
        (lambda: {"min_price": "300", "max_price": "100"}, "max_price", "The maximum must not be below the minimum."),
        (lambda: {"page": "-1"}, "page", ""),
        (lambda: {"sort": "drop table"}, "sort", ""),
    ],
)
def test_bad_input_rerenders_the_form_with_field_messages(client, params, field, message):
    PropertyFactory(name="Some House")
    data = params()

    response = client.get("/", data)

    assert response.status_code == 200
    form = response.context["form"]
    assert field in form.errors
    if message:
        assert message in form.errors[field]
        assert message in text(response)
    assert "Some House" not in text(response)  # no results for a broken search
    for name, value in data.items():  # the input is kept
        if name not in ("page", "sort") and value:
            assert f'value="{value}"' in response.content.decode()
    if field in ("check_in", "check_out", "guests"):
        assert f'aria-describedby="id_{field}_error"' in response.content.decode()


def test_search_query_count_does_not_grow_with_properties_or_bookings(client, book, photo,
                                                                      django_assert_max_num_queries):
    def add(n):
        for i in range(n):
            prop = PropertyFactory(base_price=Decimal(80 + i))
            photo(prop)
            prop.amenities.add(AmenityFactory(code="wifi", name="Wi-Fi"))
            if i % 3 == 0:
                book(prop, start=30, nights=2)

    add(5)
    with django_assert_max_num_queries(12) as small:
        assert client.get("/", stay(start=10, guests=2)).status_code == 200
    add(95)  # 100 properties, 34 bookings
    with django_assert_max_num_queries(len(small.captured_queries)):
        response = client.get("/", stay(start=10, guests=2))
    assert response.content.decode().count('class="card"') == 20
    with django_assert_max_num_queries(len(small.captured_queries)):
        assert client.get("/", {"sort": "newest", "page": "3"}).status_code == 200
    # the empty state is bounded too (one undated search + one calendar + a few checks)
    with django_assert_max_num_queries(25):
        assert client.get("/", stay(start=10, q="Nowhere-at-all")).status_code == 200
