"""The property page's reviews: average, count, category averages, the latest reviews with the owner's replies,
"show more" pages, hidden reviews left out; two queries for all of it. The search cards' averages: one query."""

import re
from decimal import Decimal

import pytest

from reviews.models import Review, ReviewStatus
from reviews.selectors import REVIEWS_PER_PAGE
from tests.factories import PropertyFactory

pytestmark = pytest.mark.django_db


def text(response) -> str:
    return " ".join(re.sub(r"<[^>]+>", " ", response.content.decode()).split())


def test_page_shows_average_count_categories_reviews_and_replies_not_hidden_ones(client, prop, reviewed):
    reviewed(prop, 5, start=10, title="Perfect week", body="Spotless and calm, we loved it.", cleanliness=5)
    replied = reviewed(prop, 4, start=20, body="Good place, a noisy street at night.", cleanliness=4)
    hidden = reviewed(prop, 1, start=30, body="HIDDEN-REVIEW-TEXT abusive words here.")
    Review.objects.filter(pk=replied.pk).update(reply="Thank you! We added double glazing.")
    Review.objects.filter(pk=hidden.pk).update(status=ReviewStatus.HIDDEN)

    response = client.get(f"/properties/{prop.slug}/")

    visible = text(response)
    assert "Guest reviews" in visible
    assert "4.5 out of 5 from 2 reviews" in visible and "★ 4.5 · 2 reviews" in visible
    assert "Cleanliness 4.5" in visible
    assert "Perfect week" in visible and "Spotless and calm" in visible and "Ada L." in visible
    assert "Response from the host" in visible and "double glazing" in visible
    assert "HIDDEN-REVIEW-TEXT" not in visible
    assert "ada@example.com" not in response.content.decode()  # never the guest's email
    assert 'class="visually-hidden">Rated 5 out of 5<' in response.content.decode()


def test_a_property_without_reviews_says_so(client, prop):
    visible = text(client.get(f"/properties/{prop.slug}/"))
    assert "No reviews yet." in visible and "out of 5" not in visible


def test_show_more_pages_through_the_reviews_newest_first(client, prop, reviewed):
    reviews = [reviewed(prop, 5, start=10 + 4 * i, body=f"Review number {i:02d} of this house.")
               for i in range(REVIEWS_PER_PAGE + 2)]

    first = text(client.get(f"/properties/{prop.slug}/"))
    assert "Review number 06" in first and "Review number 02" in first and "Review number 01" not in first
    assert "Show more reviews" in first and "Page 1 of 2" in first

    second = client.get(f"/properties/{prop.slug}/", {"reviews_page": "2"})
    assert "Review number 01" in text(second) and "Review number 00" in text(second)
    assert "Review number 06" not in text(second) and "Newer reviews" in text(second)
    for bad in ("0", "-1", "abc", "99", "9" * 30, ""):
        assert client.get(f"/properties/{prop.slug}/", {"reviews_page": bad}).status_code == 200
    assert len(reviews) == REVIEWS_PER_PAGE + 2


def test_reviews_cost_two_queries_whatever_their_number(client, prop, reviewed):
    """The page without reviews costs N queries (one aggregate: the list is skipped); with reviews N + 1 (one
    list query), however many there are: category averages, names and replies come from the same two."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    def count():
        with CaptureQueriesContext(connection) as ctx:
            assert client.get(f"/properties/{prop.slug}/").status_code == 200
        return [q["sql"] for q in ctx.captured_queries]

    before = count()
    assert sum('"reviews_review"' in q for q in before) == 1  # the aggregate
    reviewed(prop, 5, start=10)
    with_one = count()
    for i in range(12):
        review = reviewed(prop, 4, start=20 + 4 * i, cleanliness=3)
        Review.objects.filter(pk=review.pk).update(reply="Thanks!")
    with_many = count()
    assert len(with_one) == len(before) + 1 == len(with_many)
    assert sum('"reviews_review"' in q for q in with_many) == 2


def test_search_cards_show_the_average_for_one_grouped_query(client, reviewed):
    rated = PropertyFactory(name="Rated House", base_price=Decimal("90"))
    PropertyFactory(name="Unrated House", base_price=Decimal("95"))
    reviewed(rated, 5, start=10)
    reviewed(rated, 4, start=20)

    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as ctx:
        response = client.get("/")
    html = response.content.decode()
    assert "★ 4.5 · 2 reviews" in html
    assert html.count('class="card-rating"') == 1
    assert sum('"reviews_review"' in q["sql"] for q in ctx.captured_queries) == 1
