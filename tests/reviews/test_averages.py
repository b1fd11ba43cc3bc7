"""Averages: Decimal, rounded to one place halves up, over public reviews only; categories over those who rated."""

from decimal import ROUND_HALF_UP, Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reviews.models import Review, ReviewStatus
from reviews.selectors import averages_for, rating_summary, round_average
from tests.factories import PropertyFactory

pytestmark = pytest.mark.django_db


def test_summary_is_decimal_rounded_half_up_and_ignores_hidden_reviews(prop, reviewed):
    reviewed(prop, 5, start=10, cleanliness=5, location=4)
    reviewed(prop, 4, start=20, cleanliness=4)
    reviewed(prop, 4, start=30)
    flagged = reviewed(prop, 5, start=40)  # flagged, not decided: still public
    hidden = reviewed(prop, 1, start=50, cleanliness=1)
    Review.objects.filter(pk=flagged.pk).update(status=ReviewStatus.FLAGGED)
    Review.objects.filter(pk=hidden.pk).update(status=ReviewStatus.HIDDEN)

    summary = rating_summary(prop.pk)

    assert summary.count == 4
    assert summary.overall == Decimal("4.5") and isinstance(summary.overall, Decimal)  # 18 / 4
    categories = {c.name: c.average for c in summary.categories}
    assert categories["cleanliness"] == Decimal("4.5")  # (5 + 4) / 2: the hidden 1 is not counted
    assert categories["location"] == Decimal("4.0")
    assert categories["value"] is None
    assert [c.name for c in summary.rated_categories] == ["cleanliness", "location"]
    assert averages_for([prop.pk, PropertyFactory().pk]) == {prop.pk: (Decimal("4.5"), 4)}


def test_no_reviews_means_no_average(prop):
    summary = rating_summary(prop.pk)
    assert (summary.count, summary.overall, summary.rated_categories) == (0, None, [])
    assert averages_for([]) == {} and averages_for([prop.pk]) == {}


@pytest.mark.parametrize(("value", "shown"), [("4.65", "4.7"), ("4.649999", "4.6"), ("4.25", "4.3"), ("1", "1.0"),
                                              ("4.333333", "4.3"), ("4.95", "5.0")])
def test_rounding_is_half_up_to_one_place(value, shown):
    assert round_average(Decimal(value)) == Decimal(shown)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ratings=st.lists(st.tuples(st.integers(1, 5), st.booleans()), min_size=1, max_size=12))
def test_the_database_average_is_the_exact_mean_of_public_ratings_rounded(prop, ratings):
    """Any mix of ratings and hidden reviews: the aggregate equals the exact mean (Fractions → Decimal) of the
    public ones, rounded half up; it never drifts through floats."""
    Review.objects.filter(property=prop).delete()  # each example starts from no reviews (rows of this test only)
    bookings = _bookings(prop, len(ratings))
    Review.objects.bulk_create([
        Review(booking=b, property=prop, overall=overall, body="A stay worth a review.",
               status=ReviewStatus.HIDDEN if hidden else ReviewStatus.PUBLISHED)
        for b, (overall, hidden) in zip(bookings, ratings, strict=False)])
    public = [overall for overall, hidden in ratings if not hidden]

    summary = rating_summary(prop.pk)

    assert summary.count == len(public)
    if public:
        exact = (Decimal(sum(public)) / Decimal(len(public))).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)
        assert summary.overall == exact
        assert averages_for([prop.pk])[prop.pk] == (exact, len(public))
    else:
        assert summary.overall is None


_BOOKINGS: dict = {}


def _bookings(prop, n):
    """n bookings of ``prop`` (reused across hypothesis examples: reviews only need a booking to hang off)."""
    from bookings.models import Booking, BookingStatus
    from tests.factories import future

    have = list(Booking.objects.filter(property=prop).order_by("pk"))
    for i in range(len(have), n):
        have.append(Booking.objects.create(
            reference=f"T-{prop.pk}-{i}", property=prop, check_in=future(10 + 3 * i), check_out=future(11 + 3 * i),
            status=BookingStatus.CHECKED_OUT, currency=prop.currency))
    return have[:n]
