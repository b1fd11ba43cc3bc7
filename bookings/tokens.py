"""Signed tokens that let an anonymous API client act on what it created.

* The **booking access token** (returned by ``POST /api/v1/bookings``) lets the
  guest read the booking back without an account.
* The **hold release token** (returned by ``POST /api/v1/holds``) lets the client
  that created a hold release it or turn it into a booking; hold ids are
  sequential integers, so knowing an id alone must not be enough.

Both are ``django.core.signing`` tokens (HMAC with ``SECRET_KEY``), each under its
own salt so that one kind can never be used as the other, and each bound to the
row it was issued for (id *and* reference), so the token of booking A never
opens booking B. They carry a timestamp and expire after ``*_MAX_AGE``. A
booking token also carries the booking's ``access_version``, so bumping that
number revokes every link issued for the booking before.
Rotating ``SECRET_KEY`` invalidates all of them.

Every page or endpoint that opens a booking by its guest token does it through
:func:`booking_for_guest_token`; each reads the token from its own place.
"""

from __future__ import annotations

from django.core import signing

from .models import Booking

BOOKING_SALT = "stayhold.bookings.access-token"
HOLD_SALT = "stayhold.bookings.hold-release-token"
BOOKING_TOKEN_MAX_AGE = 60 * 60 * 24 * 800  # long enough to outlive any stay booked up to two years ahead
HOLD_TOKEN_MAX_AGE = 60 * 60 * 24  # holds live minutes; a day is ample
MAX_TOKEN_LENGTH = 500


def _load(token, salt: str, max_age: int):
    if not isinstance(token, str) or not token or len(token) > MAX_TOKEN_LENGTH:
        return None
    try:
        return signing.loads(token, salt=salt, max_age=max_age)
    except (signing.BadSignature, ValueError, TypeError):
        return None


def booking_access_token(booking) -> str:
    """The guest's magic link token (API access token and guest portal link alike).

    It embeds the booking's ``access_version``: ``bookings.services.revoke_guest_links``
    bumps it, and every token issued before stops working."""
    data = {"b": booking.pk, "r": booking.reference}
    version = getattr(booking, "access_version", 0) or 0
    if version:
        data["v"] = version  # version 0 is implied, so tokens issued before versions existed stay valid
    return signing.dumps(data, salt=BOOKING_SALT, compress=True)


def check_booking_access_token(token, booking) -> bool:
    """Whether ``token`` was issued for ``booking``, has not expired and has not been revoked."""
    return _grants(_load(token, BOOKING_SALT, BOOKING_TOKEN_MAX_AGE), booking)


def _grants(data, booking) -> bool:
    return (
        isinstance(data, dict)
        and data.get("b") == booking.pk
        and data.get("r") == booking.reference
        and data.get("v", 0) == (getattr(booking, "access_version", 0) or 0)
    )


def booking_for_guest_token(reference: str, token, queryset=None):
    """The booking ``reference`` if ``token`` is its guest access token (valid, unexpired, not revoked), else None.

    The one guest-token lookup: the status page and portal (``?token=``), the payment pages (query string, JSON
    body or ``X-Booking-Token``), the manual-payment pages (query string or form) and the API read each take the
    token from their own place and ask here. A caller answers None with a 404, exactly as for an unknown
    reference, so references cannot be probed. A token that is missing, malformed, forged, expired or issued
    for another reference costs no query. ``queryset`` (default: bookings with their property and guest)
    lets a caller choose what comes with the booking."""
    data = _load(token, BOOKING_SALT, BOOKING_TOKEN_MAX_AGE)
    if not isinstance(data, dict) or data.get("r") != reference:
        return None
    if queryset is None:
        queryset = Booking.objects.select_related("property", "guest")
    booking = queryset.filter(reference=reference).first()
    return booking if booking is not None and _grants(data, booking) else None


def hold_release_token(hold) -> str:
    return signing.dumps({"h": hold.pk, "r": hold.reference}, salt=HOLD_SALT, compress=True)


def check_hold_release_token(token, hold) -> bool:
    data = _load(token, HOLD_SALT, HOLD_TOKEN_MAX_AGE)
    return isinstance(data, dict) and data.get("h") == hold.pk and data.get("r") == hold.reference
