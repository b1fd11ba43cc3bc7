"""The cached fragments of the guest pages (storefront.fragments): a cached page is byte for byte the page rendered
without the cache; what a fragment shows is never stale, whichever way it was changed (plain ORM updates here, which
emit no event and no signal); prices and availability are never taken from it; a failing or unreachable cache
does not break a page. Plus the query budgets of both pages and the guest forms' renderer."""

import re
from decimal import Decimal

import pytest
from django.core.cache import cache
from django.forms.renderers import get_default_renderer

from bookings.search import SearchQuery, search
from properties.forms import GUEST_FORM_RENDERER, SearchForm, StayForm
from properties.models import Amenity, Property, PropertyPhoto
from storefront import fragments
from tests.factories import AmenityFactory, PricingRuleFactory, PropertyFactory, future
from tests.limits.test_redis_down import dead_redis_url, redis_down  # noqa: F401 - fixtures
from tests.pages.conftest import text

pytestmark = pytest.mark.django_db

CSRF = re.compile(r'name="csrfmiddlewaretoken" value="[^"]+"')


def body(response) -> str:
    assert response.status_code == 200
    return CSRF.sub('name="csrfmiddlewaretoken" value=""', response.content.decode())


def stay(start=10, nights=3, **extra):
    return {"check_in": future(start).isoformat(), "check_out": future(start + nights).isoformat(), **extra}


def property_url(prop, **params):
    from urllib.parse import urlencode

    return f"/properties/{prop.slug}/" + (f"?{urlencode(params)}" if params else "")


@pytest.fixture
def listed(photo):
    """Three properties with photos and amenities, one with a pricing rule."""
    props = []
    for i in range(3):
        prop = PropertyFactory(name=f"House {i}", city="Porto", base_price=Decimal(100 + i),
                               description=f"Line one of {i}.\n\nLine two.", house_rules="No parties.")
        photo(prop, alt=f"Photo of {i}")
        prop.amenities.add(AmenityFactory(code=f"a{i}", name=f"Amenity {i}"))
        props.append(prop)
    PricingRuleFactory(property=props[0])
    return props


@pytest.fixture
def no_cache(monkeypatch):
    """The fragments rendered every time: what the pages were before the cache."""
    monkeypatch.setattr(fragments, "cached_fragments", lambda keys, render: [render(i) for i in range(len(keys))])


@pytest.mark.parametrize("language", ["en", "de", "fr"])
def test_cached_pages_are_byte_for_byte_the_uncached_ones(client, listed, monkeypatch, language):
    client.cookies["stayhold_language"] = language
    urls = ["/?q=Porto", "/?" + "&".join(f"{k}={v}" for k, v in stay(guests=2).items()),
            property_url(listed[0]), property_url(listed[0], adults=2, **stay(start=20))]
    cache.delete_many(_card_keys(language))
    cold = [body(client.get(u)) for u in urls]  # fills the cache
    assert len(cache.get_many(_card_keys(language))) == 3  # the fragments really are cached
    warm = [body(client.get(u)) for u in urls]  # from the cache
    monkeypatch.setattr(fragments, "cached_fragments", lambda keys, render: [render(i) for i in range(len(keys))])
    uncached = [body(client.get(u)) for u in urls]
    assert cold == warm == uncached
    assert 'lang="' + language in warm[0]


def _card_keys(language):
    """The cache keys of the cards of a search for Porto, as the page computes them."""
    from django.utils import translation

    from storefront.selectors import result_cards

    with translation.override(language):
        cards = result_cards(search(SearchQuery(text="Porto", guests=1)), 1)
        for card in cards:
            card.property.review_summary = None  # no reviews
        return [fragments.content_key("card", fragments._card_content(card)) for card in cards]


def test_what_a_card_and_the_property_page_show_is_never_stale(client, listed, photo):
    prop = listed[0]
    client.get("/", {"q": "Porto"})
    client.get(property_url(prop))  # both cached now

    # changed without any event or signal (a queryset update): the next page shows it
    Property.objects.filter(pk=prop.pk).update(name="Renamed House", description="A brand new text.",
                                               bedrooms=5, cancellation_policy="strict")
    PropertyPhoto.objects.filter(property=prop).update(alt_text="A new alt text")
    prop.amenities.add(Amenity.objects.create(code="sauna", name="Sauna"))

    search_page, property_page = client.get("/", {"q": "Porto"}), client.get(property_url(prop))
    for response in (search_page, property_page):
        visible, html = text(response), response.content.decode()
        assert "Renamed House" in visible and "House 0" not in visible
        assert "5 bedrooms" in visible
        assert 'alt="A new alt text"' in html
        assert "Strict" in visible
    assert "A brand new text." in text(property_page) and "Line one of 0" not in text(property_page)
    assert "Sauna" in text(property_page)


def test_prices_are_rendered_from_this_request_not_from_the_cache(client, listed):
    prop = listed[1]
    first = text(client.get("/", stay(q="Porto", guests=2)))
    assert "€101.00 / night" in first
    Property.objects.filter(pk=prop.pk).update(base_price=Decimal("250.00"))
    # every column is in the card's key, so the card body is new anyway; the price is outside it in any case
    second = text(client.get("/", stay(q="Porto", guests=2)))
    assert "€250.00 / night" in second and "€101.00 / night" not in second
    page = text(client.get(property_url(prop, adults=2, **stay(start=20))))
    assert "€250.00" in page


def test_availability_is_rendered_from_this_request(client, listed, book):
    prop = listed[2]
    params = {"adults": 2, **stay(start=20)}
    assert "Reserve" in text(client.get(property_url(prop, **params)))
    book(prop, start=20, nights=3)
    page = client.get(property_url(prop, **params))
    assert "Reserve" not in text(page)
    assert "These dates can't be booked" in text(page)


def test_a_failing_cache_renders_the_pages_all_the_same(client, listed, monkeypatch, no_cache):
    urls = ["/?" + "&".join(f"{k}={v}" for k, v in stay(guests=2).items()), property_url(listed[0])]
    expected = [body(client.get(u)) for u in urls]
    monkeypatch.undo()

    def broken(*args, **kwargs):
        raise RuntimeError("cache on fire")

    monkeypatch.setattr(fragments.cache, "get_many", broken)
    monkeypatch.setattr(fragments.cache, "set_many", broken)
    assert [body(client.get(u)) for u in urls] == expected


def test_pages_render_while_redis_is_unreachable(client, listed, redis_down):  # noqa: F811 - the fixture
    response = client.get("/", stay(q="Porto", guests=2))
    assert response.status_code == 200 and "House 0" in text(response)
    response = client.get(property_url(listed[0], adults=2, **stay(start=20)))
    assert response.status_code == 200 and "Reserve" in text(response)


def test_the_language_is_part_of_the_key(client, listed):
    assert "bedroom" in text(client.get(property_url(listed[0])))
    client.cookies["stayhold_language"] = "de"
    german = text(client.get(property_url(listed[0])))
    assert "Schlafzimmer" in german and " bedroom" not in german


# --- query budgets --------------------------------------------------------------------------------------------


def count_queries(django_assert_max_num_queries, fn) -> int:
    with django_assert_max_num_queries(100) as captured:
        fn()
    return len(captured.captured_queries)


def test_search_page_query_budget_is_search_plus_two(client, listed, django_assert_max_num_queries):
    """The page adds two queries to search(): the amenities of the form and the cards' ratings (one grouped
    query); everything else the cards show comes from what search() read."""
    params = stay(guests=2)
    client.get("/", params)
    page = count_queries(django_assert_max_num_queries, lambda: client.get("/", params))
    own = count_queries(django_assert_max_num_queries, lambda: search(SearchQuery(
        check_in=future(10), check_out=future(13), guests=2)))
    assert page == own + 2


@pytest.mark.parametrize(("params", "budget"), [
    # property; photos, amenities, pricing rules, overrides in one round trip; calendar (overrides, bookings,
    # blocks); rating
    ({}, 6),
    ({"adults": 2, **stay(start=20)}, 8),  # + the stay's availability (bookings, blocks; its quote reads nothing)
])
def test_property_page_query_budget(client, listed, django_assert_max_num_queries, params, budget):
    client.get(property_url(listed[0], **params))  # cold cache: the same queries (the key is built from them)
    with django_assert_max_num_queries(budget) as captured:
        assert client.get(property_url(listed[0], **params)).status_code == 200
    assert len(captured.captured_queries) == budget


# --- the guest forms' renderer ----------------------------------------------------------------------------------


@pytest.mark.parametrize("data", [
    None, {}, {"q": "Porto <b>&\"", "check_in": "2030-01-01", "check_out": "2029-01-01", "guests": "999",
               "min_price": "-1", "max_price": "x", "bedrooms": "2", "amenities": ["a1"], "sort": "newest",
               "page": "3"},
    {"q": "Lisbon", "guests": "2", "min_price": "10.5"},
])
def test_guest_form_renderer_writes_what_django_writes(data):
    choices = [("a1", "Pool"), ("a2", "Wi-Fi & more")]
    fast, slow = SearchForm(data, amenity_choices=choices), SearchForm(data, amenity_choices=choices,
                                                                      renderer=get_default_renderer())
    assert fast.renderer is GUEST_FORM_RENDERER
    if data is not None:
        fast.is_valid(), slow.is_valid()
    for name in fast.fields:
        assert str(fast[name]) == str(slow[name])
        assert fast[name].as_widget(attrs={"aria-describedby": "x_error"}) == slow[name].as_widget(
            attrs={"aria-describedby": "x_error"})
    prop = PropertyFactory(max_guests=4)
    for stay_data in (None, {"check_in": "bad", "adults": "9", "children": "-1"}, {"adults": "2"}):
        fast_stay, slow_stay = StayForm(stay_data, prop=prop), StayForm(stay_data, prop=prop,
                                                                        renderer=get_default_renderer())
        if stay_data is not None:
            fast_stay.is_valid(), slow_stay.is_valid()
        for name in fast_stay.fields:
            assert str(fast_stay[name]) == str(slow_stay[name])
