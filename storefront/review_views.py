"""The guest's review page: ``/bookings/<reference>/review/?token=<review token>`` (``reviews.links``).

Thin: the review token is checked like the portal's magic link (a forged, expired, revoked or another booking's
token is a 404, exactly as for an unknown reference), ``reviews.forms`` parses, ``reviews.services`` decides and
writes. A stay not checked out yet gets no form; a stay already reviewed shows its review."""

from __future__ import annotations

from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from core.actor import Actor
from guests.countries import country_name
from reviews.errors import AlreadyReviewed, InvalidReviewInput, NotReviewable
from reviews.forms import ReviewForm
from reviews.links import booking_for_review_token
from reviews.selectors import review_of_booking
from reviews.services import REVIEWABLE_STATUSES, submit_review


@never_cache
@require_http_methods(["GET", "POST"])
def review(request, reference):
    booking = booking_for_review_token(reference, request.GET.get("token", ""))
    if booking is None:
        raise Http404("There is no booking with this reference.")
    existing = review_of_booking(booking.pk)
    reviewable = existing is None and booking.status in REVIEWABLE_STATUSES
    form = None
    status = 200
    if reviewable:
        form = ReviewForm(request.POST if request.method == "POST" else None)
        if request.method == "POST" and form.is_valid():
            data = form.cleaned_data
            try:
                submit_review(booking_id=booking.pk, ratings=form.ratings(), title=data["title"], body=data["body"],
                              actor=Actor.guest_of(booking))
            except InvalidReviewInput as exc:
                form.add_error(None, exc.detail)
            except (AlreadyReviewed, NotReviewable):
                pass  # decided meanwhile: the page below shows the review or why not
            else:
                messages.success(request, _("Thank you: your review is published on the property's page."))
            return redirect(request.get_full_path()) if not form.errors else _page(request, booking, form, 400)
        if request.method == "POST":
            status = 400
    elif request.method == "POST":
        status = 409
    return _page(request, booking, form, status, existing=existing)


def _page(request, booking, form, status, *, existing=None):
    prop = booking.property
    return render(request, "reviews/review.html", {
        "booking": booking, "prop": prop, "form": form, "review": existing, "country_name": country_name(prop.country),
        "checked_out": booking.status in REVIEWABLE_STATUSES,
    }, status=status)
