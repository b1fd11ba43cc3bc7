"""Reads of reviews: the property page's summary (one aggregate query) and list (one query), the search cards'
averages (one grouped query), the API's page and the back office's moderation queue."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.db.models import Avg, Count, DecimalField, QuerySet

from .models import CATEGORIES, PUBLIC_STATUSES, Review, ReviewStatus

AVERAGE_STEP = Decimal("0.1")  # averages are shown to one decimal: 4.7
REVIEWS_PER_PAGE = 5


def round_average(value: Any) -> Decimal | None:
    """An average rating as a Decimal to one place, halves up (4.65 → 4.7); None for no ratings."""
    if value is None:
        return None
    return Decimal(value).quantize(AVERAGE_STEP, rounding=ROUND_HALF_UP)


def _avg(name: str) -> Avg:
    # numeric in PostgreSQL, so the average arrives as an exact Decimal (not a float) before it is rounded
    return Avg(name, output_field=DecimalField(max_digits=10, decimal_places=6))


@dataclass(frozen=True)
class CategoryAverage:
    name: str
    label: str
    average: Decimal | None


@dataclass(frozen=True)
class RatingSummary:
    count: int
    overall: Decimal | None
    categories: list[CategoryAverage] = field(default_factory=list)

    @property
    def rated_categories(self) -> list[CategoryAverage]:
        return [c for c in self.categories if c.average is not None]


def public_reviews(property_id: int | None = None) -> QuerySet[Review]:
    """Reviews the public may read (published, or flagged and not yet decided), newest first."""
    qs = Review.objects.filter(status__in=PUBLIC_STATUSES).order_by("-created_at", "-id")
    return qs if property_id is None else qs.filter(property_id=property_id)


def rating_summary(property_id: int) -> RatingSummary:
    """Count and averages (overall and per category) of a property's public reviews: one query."""
    row = public_reviews(property_id).order_by().aggregate(
        count=Count("id"), overall=_avg("overall"), **{name: _avg(name) for name, _label in CATEGORIES})
    return RatingSummary(
        count=row["count"], overall=round_average(row["overall"]),
        categories=[CategoryAverage(name, str(label), round_average(row[name])) for name, label in CATEGORIES])


def review_page(property_id: int, *, page: int, per_page: int = REVIEWS_PER_PAGE) -> list[Review]:
    """One page of a property's public reviews, newest first: one query (the count comes from the summary)."""
    page = max(1, page)
    return list(public_reviews(property_id)[(page - 1) * per_page:page * per_page])


def averages_for(property_ids: Iterable[int]) -> dict[int, tuple[Decimal, int]]:
    """{property id: (average overall rating, count)} of the properties with public reviews: one grouped query."""
    ids = list(property_ids)
    if not ids:
        return {}
    rows = (public_reviews().filter(property_id__in=ids).order_by().values("property_id")
            .annotate(count=Count("id"), overall=_avg("overall")))
    return {row["property_id"]: (round_average(row["overall"]) or Decimal(0), row["count"]) for row in rows}


def moderation_queue(reviews: QuerySet[Review]) -> QuerySet[Review]:
    """The flagged reviews of ``reviews`` (already scoped to the user), oldest flag first."""
    return reviews.filter(status=ReviewStatus.FLAGGED).order_by("flagged_at", "id")


def review_of_booking(booking_id: int) -> Review | None:
    """The stay's review, whatever its status (the guest sees their own review even when it is hidden)."""
    return Review.objects.filter(booking_id=booking_id).first()
