"""The group booking's magic link: a signed token for a :class:`~bookings.models.BookingGroup`, and the URLs of
the group's guest pages (the group page of the portal, ``bookings:group``; the group payment page,
``payments:group-pay``: reversed by name, never imported).

Like a booking's token (``bookings.tokens``) it is a ``django.core.signing`` token under its own salt (a booking
token never opens a group and back), bound to the group's id *and* reference. It opens the group page and the
group payment; each booking of the group keeps its own links for everything else. Decision: a group has no
``access_version`` of its own; revoking a booking's links (``revoke_guest_links``) does not revoke the group link,
but the group page only lists the group's bookings and links to each with that booking's *current* token, so a
guest holding only the group link sees what the lead guest booked, which is what the link is for.
"""

from __future__ import annotations

from urllib.parse import urlencode

from django.core import signing
from django.urls import reverse

from .models import BookingGroup
from .tokens import BOOKING_TOKEN_MAX_AGE, MAX_TOKEN_LENGTH

GROUP_SALT = "stayhold.bookings.group-access-token"


def group_access_token(group: BookingGroup) -> str:
    return signing.dumps({"g": group.pk, "r": group.reference}, salt=GROUP_SALT, compress=True)


def group_for_guest_token(reference: str, token) -> BookingGroup | None:
    """The group ``reference`` if ``token`` is its access token, else None (the caller answers 404)."""
    if not isinstance(token, str) or not token or len(token) > MAX_TOKEN_LENGTH:
        return None
    try:
        data = signing.loads(token, salt=GROUP_SALT, max_age=BOOKING_TOKEN_MAX_AGE)
    except (signing.BadSignature, ValueError, TypeError):
        return None
    if not isinstance(data, dict) or data.get("r") != reference:
        return None
    group = BookingGroup.objects.select_related("lead_guest").filter(reference=reference).first()
    return group if group is not None and data.get("g") == group.pk else None


def _with_token(url: str, group: BookingGroup) -> str:
    return f"{url}?{urlencode({'token': group_access_token(group)})}"


def group_url(group: BookingGroup, name: str = "bookings:group") -> str:
    """The group's page in the guest portal (every stay, its status, pay, cancel one or all), or another of the
    group's guest pages (``bookings:group-cancel``)."""
    return _with_token(reverse(name, args=[group.reference]), group)


def group_payment_url(group: BookingGroup) -> str:
    """Where the guest pays the whole group with one card payment."""
    return _with_token(reverse("payments:group-pay", args=[group.reference]), group)
