"""The guest pages' booking step: a submitted details form becomes a reservation, once.

``reserve_from_details`` runs ``bookings.services.reserve`` under the form's one-time token
(``bookings.idempotency``, scope ``details-form``): a double-submitted form replays
the first outcome (the same booking, or the same domain error) instead of
creating a second booking. Only the stay and the guest's details are read from the
form; the property comes from the URL and the price from ``reserve``'s own quote.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.conf import settings
from django.utils import translation
from django.utils.translation import gettext as _

from bookings import services
from bookings.idempotency import IdempotencyKeyReused, fingerprint, run_idempotent
from bookings.models import Booking, Source
from core import ratelimit
from core.actor import Actor
from core.client_address import client_key
from core.errors import DomainError
from guests.services import GuestInput

SCOPE = "details-form"


@dataclass
class DetailsOutcome:
    booking: Booking | None = None
    detail: str = ""
    messages: list[str] = field(default_factory=list)
    replayed: bool = False
    stale: bool = False  # the form token was already used for different input


def reserve_from_details(*, property_id: int, data: dict, referral: str = "") -> DetailsOutcome:
    """Reserve the stay of a valid ``GuestDetailsForm`` (its ``cleaned_data``), once per form token. ``referral``: what
    brought the guest (``storefront.referrals.referral_of``), recorded on the booking; not part of the form's
    fingerprint (it is not the guest's input)."""
    body = {
        "property_id": property_id,
        "check_in": data["check_in"].isoformat(), "check_out": data["check_out"].isoformat(),
        "adults": data["adults"], "children": data["children"], "name": data["name"], "email": data["email"].lower(),
        "phone": data["phone"], "country": data["country"], "special_requests": data["special_requests"],
    }

    def handler():
        try:
            booking = services.reserve(
                property_id=property_id, check_in=data["check_in"], check_out=data["check_out"],
                adults=data["adults"], children=data["children"], special_requests=data["special_requests"],
                guest=GuestInput(name=data["name"], email=data["email"], phone=data["phone"],
                                 country=data["country"]),
                actor=Actor.guest(data["email"]), source=Source.DIRECT, referral=referral,
                language=translation.get_language() or "",  # the page's language: the guest's emails speak it
            )
        except DomainError as exc:
            return exc.http_status, exc.as_dict()
        return 201, {"booking_id": booking.pk, "reference": booking.reference}

    try:
        stored = run_idempotent(scope=SCOPE, key=str(data["form_token"]), request_hash=fingerprint(body),
                                handler=handler)
    except IdempotencyKeyReused:
        return DetailsOutcome(detail=_("This form was already sent with other details. Please check them and "
                                       "submit again."), stale=True)
    if stored.status >= 400:
        reasons = [r.get("message", "") for r in stored.body.get("reasons", [])]
        detail = stored.body.get("detail", _("This stay could not be reserved."))
        return DetailsOutcome(detail=detail, messages=[m for m in reasons if m and m != detail],
                              replayed=stored.replayed)
    booking = Booking.objects.select_related("property").get(pk=stored.body["booking_id"])
    return DetailsOutcome(booking=booking, replayed=stored.replayed)


# --- throttling -------------------------------------------------------------------------------


def _client_ident(request) -> str:
    if getattr(request, "user", None) is not None and request.user.is_authenticated:
        return f"user-{request.user.pk}"
    return client_key(request)


def throttle_reservation(request) -> int:
    """Count one reservation attempt of this client against ``API_THROTTLE_CREATE`` (shared with the API's
    limit in spirit: "60/min" = 60 per minute). Returns 0 when allowed, else the seconds to wait."""
    return ratelimit.hit(f"pages-reserve:{_client_ident(request)}", settings.API_THROTTLE_CREATE)
