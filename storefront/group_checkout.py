"""The group checkout ("book all"): a basket of stays kept in the session, and its one reservation step.

The basket holds only what the guest chose (property, dates, guests per stay), never a price: every page quotes
each stay on the server (``storefront.selectors.stay_quote``) and ``bookings.services.reserve_group`` quotes them
again under the locks. ``reserve_basket`` runs ``reserve_group`` once per form token (``bookings.idempotency``,
scope ``group-details-form``), like the single checkout: a double-submitted form replays the first outcome.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from django.utils import timezone
from django.utils.translation import gettext as _

from bookings import services
from bookings.idempotency import IdempotencyKeyReused, fingerprint, run_idempotent
from bookings.models import BookingGroup
from bookings.services import MAX_GROUP_STAYS, GroupStay
from core.actor import Actor
from core.errors import DomainError
from core.money import ZERO
from guests.services import GuestInput
from properties.models import Property

from .selectors import StayQuote, stay_quote

SESSION_KEY = "group_basket"
SCOPE = "group-details-form"


@dataclass
class BasketLine:
    index: int
    prop: Property
    stay: GroupStay
    quote: StayQuote | None  # None when the property can no longer be booked here at all

    @property
    def bookable(self) -> bool:
        return self.quote is not None and self.quote.bookable


@dataclass
class Basket:
    lines: list[BasketLine] = field(default_factory=list)

    @property
    def currencies(self) -> set[str]:
        return {line.quote.quote.currency for line in self.lines if line.quote is not None}

    @property
    def total(self) -> Decimal:
        return sum((line.quote.quote.total for line in self.lines if line.quote is not None), ZERO)

    @property
    def currency(self) -> str:
        return next(iter(self.currencies), "")

    @property
    def all_bookable(self) -> bool:
        return bool(self.lines) and all(line.bookable for line in self.lines) and len(self.currencies) == 1


def stays_in(session) -> list[GroupStay]:
    stays = []
    for raw in session.get(SESSION_KEY, [])[:MAX_GROUP_STAYS]:
        try:
            stays.append(GroupStay(property_id=int(raw["property_id"]), check_in=date.fromisoformat(raw["check_in"]),
                                   check_out=date.fromisoformat(raw["check_out"]), adults=int(raw["adults"]),
                                   children=int(raw.get("children") or 0)))
        except (KeyError, TypeError, ValueError):
            continue  # a malformed entry (an old session format): dropped
    return stays


def _store(session, stays: list[GroupStay]) -> None:
    session[SESSION_KEY] = [{"property_id": s.property_id, "check_in": s.check_in.isoformat(),
                             "check_out": s.check_out.isoformat(), "adults": s.adults, "children": s.children}
                            for s in stays]


def add_stay(session, stay: GroupStay) -> str:
    """Add ``stay`` to the basket; "" when added, else why not (full, or the same stay twice)."""
    stays = stays_in(session)
    if len(stays) >= MAX_GROUP_STAYS:
        return _("A group booking has at most %(max)d stays.") % {"max": MAX_GROUP_STAYS}
    for other in stays:
        if other.property_id == stay.property_id and other.check_in < stay.check_out and (
                stay.check_in < other.check_out):
            return _("Your group booking already has a stay at this property on some of these nights.")
    _store(session, [*stays, stay])
    return ""


def remove_stay(session, index: int) -> None:
    stays = stays_in(session)
    if 0 <= index < len(stays):
        del stays[index]
        _store(session, stays)


def clear(session) -> None:
    session.pop(SESSION_KEY, None)


def basket(session) -> Basket:
    """The basket with each stay's server-computed quote (two queries per stay)."""
    now = timezone.now()
    stays = stays_in(session)
    props = Property.objects.in_bulk({s.property_id for s in stays})
    lines = []
    for i, stay in enumerate(stays):
        prop = props.get(stay.property_id)
        if prop is None:
            continue
        quote = stay_quote(prop, stay.check_in, stay.check_out, stay.adults + stay.children, at=now)
        lines.append(BasketLine(i, prop, stay, quote))
    return Basket(lines)


@dataclass
class GroupOutcome:
    group: BookingGroup | None = None
    detail: str = ""
    stay: int | None = None  # the failing stay's position, when one failed
    replayed: bool = False
    stale: bool = False


def reserve_basket(*, stays: list[GroupStay], data: dict, referral: str = "") -> GroupOutcome:
    """Reserve the basket's stays with the guest details of a valid ``GroupDetailsForm``, once per form token."""
    body = {
        "stays": [[s.property_id, s.check_in.isoformat(), s.check_out.isoformat(), s.adults, s.children]
                  for s in stays],
        "name": data["name"], "email": data["email"].lower(), "phone": data["phone"], "country": data["country"],
        "special_requests": data["special_requests"],
    }

    def handler():
        try:
            group = services.reserve_group(
                stays=stays, special_requests=data["special_requests"], referral=referral,
                guest=GuestInput(name=data["name"], email=data["email"], phone=data["phone"],
                                 country=data["country"]),
                actor=Actor.guest(data["email"]),
            )
        except DomainError as exc:
            return exc.http_status, exc.as_dict()
        return 201, {"group_id": group.pk, "reference": group.reference}

    try:
        stored = run_idempotent(scope=SCOPE, key=str(data["form_token"]), request_hash=fingerprint(body),
                                handler=handler)
    except IdempotencyKeyReused:
        return GroupOutcome(detail=_("This form was already sent with other details. Please check them and submit "
                                     "again."), stale=True)
    if stored.status >= 400:
        return GroupOutcome(detail=stored.body.get("detail", _("This group booking could not be made.")),
                            stay=stored.body.get("stay"), replayed=stored.replayed)
    return GroupOutcome(group=BookingGroup.objects.get(pk=stored.body["group_id"]), replayed=stored.replayed)
