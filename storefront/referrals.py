"""What brought a guest to our site, kept in the session between a landing link and the checkout.

A landing view (``storefront.landing_views``: Google's free booking links) calls :func:`remember`; the details
step reads :func:`referral_of` and passes it to ``bookings.services.reserve``, which records it on the booking
(``Booking.referral``, counted by the reports). Last click wins, for ``REFERRAL_MAX_AGE`` (30 days, a common
attribution window; our choice) and as long as the session lives. The session holds only the referral's code and
when it was set: nothing about the guest.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.utils import timezone

from bookings.models import Referral

SESSION_KEY = "stayhold_referral"
REFERRAL_MAX_AGE = timedelta(days=30)


def remember(request, referral: str) -> None:
    request.session[SESSION_KEY] = {"referral": referral, "at": timezone.now().isoformat()}


def referral_of(request) -> str:
    """The referral this session remembers, or "" (none, too old, or a value this version does not know)."""
    stored = getattr(request, "session", {}).get(SESSION_KEY)
    if not isinstance(stored, dict) or stored.get("referral") not in Referral.values:
        return ""
    try:
        at = datetime.fromisoformat(str(stored.get("at")))
    except ValueError:
        return ""
    if at.tzinfo is None or timezone.now() - at > REFERRAL_MAX_AGE:
        return ""
    return str(stored["referral"])
