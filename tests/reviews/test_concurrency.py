"""Two submissions of the same stay at once (a double click, two tabs): exactly one review, one audit row."""

import pytest

from core.actor import Actor
from reviews import services
from reviews.errors import AlreadyReviewed
from reviews.models import Review, ReviewEvent
from tests.factories import PropertyFactory
from tests.parallel import run_in_parallel

pytestmark = pytest.mark.django_db(transaction=True)


def test_parallel_submissions_of_one_stay_make_one_review(stayed):
    booking = stayed(PropertyFactory())

    def submit(n):
        return lambda: services.submit_review(booking_id=booking.pk, ratings={"overall": 1 + n % 5},
                                              title="", body=f"Submission number {n} of the stay.",
                                              actor=Actor.guest_of(booking))

    results = run_in_parallel([submit(n) for n in range(8)])

    wins = [value for kind, value in results if kind == "ok"]
    losses = [value for kind, value in results if kind == "error"]
    assert len(wins) == 1 and len(losses) == 7
    assert all(type(exc) is AlreadyReviewed for exc in losses), {type(e).__name__ for e in losses}
    assert Review.objects.filter(booking=booking).count() == 1
    assert ReviewEvent.objects.count() == 1
