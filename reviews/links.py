"""The guest's review link: ``/bookings/<reference>/review/?token=<review token>``.

The same magic-link scheme as the guest portal (``bookings.tokens``): a ``django.core.signing`` token (HMAC with
``SECRET_KEY``) bound to the booking's id *and* reference and to its ``access_version`` (so
``bookings.services.revoke_guest_links`` revokes review links too), but under its own salt and with a shorter life:
a review link opens only the review page, never the portal (cancel, pay), and a portal link is not a review link.

:func:`review_url` is what the scheduled "review request after check-out" message puts in its ``{review_link}``
placeholder; the URL name is the review page's (``storefront.urls``): reversed by name, never imported.
"""

from __future__ import annotations

from urllib.parse import urlencode

from django.core import signing
from django.urls import reverse

from bookings.models import Booking, BookingStatus
from bookings.tokens import MAX_TOKEN_LENGTH

REVIEW_SALT = "stayhold.reviews.review-token"
# Counted from when the link is made (the review request, sent after check-out): three months to write a review.
REVIEW_TOKEN_MAX_AGE = 60 * 60 * 24 * 90


def review_token(booking: Booking) -> str:
    data = {"b": booking.pk, "r": booking.reference}
    if booking.access_version:
        data["v"] = booking.access_version
    return signing.dumps(data, salt=REVIEW_SALT, compress=True)


def review_url(booking: Booking) -> str:
    """The review page's path with the booking's review token (make it absolute for an email)."""
    return f"{reverse('bookings:review', args=[booking.reference])}?{urlencode({'token': review_token(booking)})}"


def booking_for_review_token(reference: str, token) -> Booking | None:
    """The booking ``reference`` if ``token`` is its review token (valid, unexpired, not revoked), else None.

    A missing, malformed, forged or expired token, or one issued for another booking, costs no query beyond the
    one lookup by reference (and none at all when the reference does not match the token's)."""
    if not isinstance(token, str) or not token or len(token) > MAX_TOKEN_LENGTH:
        return None
    try:
        data = signing.loads(token, salt=REVIEW_SALT, max_age=REVIEW_TOKEN_MAX_AGE)
    except (signing.BadSignature, ValueError, TypeError):
        return None
    if not isinstance(data, dict) or data.get("r") != reference:
        return None
    booking = Booking.objects.select_related("property", "guest").filter(reference=reference).first()
    if booking is None or data.get("b") != booking.pk or data.get("v", 0) != (booking.access_version or 0):
        return None
    return booking


def pending_review_url(booking: Booking) -> str:
    """The review form's path for a checked-out stay not reviewed yet, else "": the one rule of when a guest is
    offered the form (the booking page, the thank-you email). ``reviews.services.submit_review`` enforces the same
    conditions again when the review is written."""
    from .models import Review

    if booking.status != BookingStatus.CHECKED_OUT or Review.objects.filter(booking_id=booking.pk).exists():
        return ""
    return review_url(booking)
