"""Google Vacation Rentals: the ARI push to Hotel Center (property data, rates, availability, inventory), the price
Google would show for an itinerary, and the landing URL it would send the user to.

Follows (read through stored copies, summarised in the issue-14 research notes ``google_vr.md``):

* https://developers.google.com/hotels/hotel-prices/dev-guide/ari-overview (push on change, ``HTTP POST`` of one XML
  document, responses added 2021-02-04), .../xml-reference/ari-property and .../dev-guide/ari-transaction-message
  (``Transaction``, ``PropertyDataSet action="overlay|delta"``, ``RoomData``, ``PackageData``),
  .../xml-reference/ari-rate and .../dev-guide/ari-rate-message (``OTA_HotelRateAmountNotifRQ``, occupancy
  matching, itinerary price = sum of the nightly rates), .../xml-reference/ari-avail (``OTA_HotelAvailNotifRQ``,
  every message a delta), .../xml-reference/ari-inv (``OTA_HotelInvCountNotifRQ``, ``EchoToken`` ``[a-zA-Z0-9_-]``).
* https://developers.google.com/hotels/hotel-prices/dev-guide/pos-overview, .../pos-syntax, .../pos-urls (the
  ``PointsOfSale`` landing page file and its URL variables); support.google.com/hotelprices/answer/13857538 (child
  variables), /10864209 (``PACKAGE-ID``).
* support.google.com/hotelprices/answer/11947223 (Vacation Rentals: check-in at most 330 days ahead, stays of at
  most 30 nights) and /16352898 ("ARI Prices: Troubleshoot": the unavailability reasons).

What it models (a vacation rental: one ``RoomData`` = the property, one or a few ``PackageData``):

* ``POST /travel/hotels/uploads/property_data`` (``Transaction``) → ``TransactionResponse``: rooms and packages per
  property; ``overlay`` replaces them all, ``delta`` (the default, inferred) adds or updates the ones named.
* ``POST /travel/hotels/uploads/ota/hotel_rate_amount_notif`` (``OTA_HotelRateAmountNotifRQ``) →
  ``OTA_HotelRateAmountNotifRS``: a rate per (room, package, date): ``BaseByGuestAmt`` per ``NumberOfGuests``
  (``AmountAfterTax``/``AmountBeforeTax``, ``CurrencyCode``) and ``AdditionalGuestAmount`` (``AgeQualifyingCode`` 10
  adult, 8 child); no ``NumberOfGuests`` means the room's ``Capacity`` (inferred). ``NotifType`` ``Delta``
  (default) replaces each named date's rate, ``Overlay`` first clears every rate of the products in the message,
  ``Remove`` deletes the dates (inferred reading of the doc summary).
* ``POST .../ota/hotel_avail_notif`` (``OTA_HotelAvailNotifRQ``) → ``OTA_HotelAvailNotifRS``: per (room, package or
  ``*`` for the room level, date) a delta of restrictions: ``RestrictionStatus`` ``Status`` Open|Close,
  ``Restriction`` Master (default)|Arrival|Departure, ``Min/MaxAdvancedBookingOffset``; ``LengthOfStay``
  ``SetMinLOS``/``SetMaxLOS`` (stay-through: any night of the stay), ``SetForwardMinStay``/``SetForwardMaxStay``
  (arrival date), ``FullPatternLOS`` (``LOS_Pattern``, Y/N by length for arrivals that day) — that reading of the
  LOS types is inferred; ``BookingLimit`` without restrictions sets the room's inventory.
* ``POST .../ota/hotel_inv_count_notif`` (``OTA_HotelInvCountNotifRQ``) → ``OTA_HotelInvCountNotifRS``: inventory
  (``InvCount@Count``) per (room, date).
* ``POST /travel/hotels/uploads/taxes`` (``TaxFeeInfo``, .../xml-reference/ari-tax and .../dev-guide/ari-tax-message)
  → ``TaxFeeInfoResponse``: the **fees** of a property, for the per-stay charges (a cleaning fee) that nightly rates
  cannot carry. Documented shape (the part modelled here)::

      <TaxFeeInfo timestamp="..." id="..." partner="partner_key">
        <Property action="overlay">            <!-- overlay: the only action, replaces all of the property's -->
          <ID>P1</ID>
          <Fees>
            <Fee>
              <Type>amount</Type>              <!-- amount | percent -->
              <Basis>room</Basis>              <!-- room | person -->
              <Period>stay</Period>            <!-- stay | night -->
              <Currency>EUR</Currency>         <!-- with Type amount -->
              <Amount>42.80</Amount>
            </Fee>
          </Fees>
        </Property>
      </TaxFeeInfo>

  A fee adds, per itinerary: ``amount`` × (guests if ``person``) × (nights if ``night``); a ``percent`` fee that
  percentage of the stay's nightly amounts before tax. **Not modelled** (refused with an error, so a message the
  emulator would misprice never passes): ``<Taxes>`` with any ``<Tax>`` (this integration sends the tax in the
  nightly ``AmountAfterTax``; Google: then ``TaxFeeInfo`` is not needed for taxes), and the scoping children of a
  ``Fee`` (``RoomTypes``, ``RatePlans``, ``BookingDates``, ``CheckinDates``, ``CheckoutDates``, ``StayDates``,
  ``ApplicableNights``, ``Brackets``, ``AgeBrackets``, countries): a modelled fee applies to every itinerary of the
  property. Inferred: how Google taxes a fee (the doc's "taxable fees" scenario was not captured in the notes), so
  a fee's ``Amount`` is taken as the amount the guest pays, tax included, and is not counted in the price's
  ``tax``; the answer's shape (``<Status>`` and ``<Issues>`` as for a ``Transaction``); ``Basis``/``Period``
  defaulting to ``room``/``stay`` when absent.
* ``POST /travel/hotels/uploads/promotions`` (``Promotions``, .../xml-reference/ari-promotions and
  .../dev-guide/ari-promotions-message) → ``PromotionsResponse``: **discounts** Google applies to the nightly rates
  of an itinerary that meets their conditions. Documented shape (the part modelled here)::

      <Promotions partner="partner_key" id="..." timestamp="...">
        <HotelPromotions hotel_id="P1" action="overlay">   <!-- overlay: replaces all; absent: add or replace -->
          <Promotion id="stay-3">                          <!-- action="delete": remove this one -->
            <BookingWindow min="7" max="30"/>              <!-- days between booking and check-in -->
            <Discount percentage="10"/>
            <LengthOfStay min="3" max="14"/>               <!-- nights of the stay -->
            <Stacking type="base"/>                        <!-- the default -->
          </Promotion>
        </HotelPromotions>
      </Promotions>

  Google's text: of the eligible promotions Google applies the one (or the allowed set) that leads to the lowest
  price; by default every promotion stacks as ``base``, and a ``base`` combines only with ``second`` or ``any``,
  never with another ``base``: so with default stacking exactly one promotion applies, the greatest discount. The
  promotion is applied to ``AmountAfterTax`` (to ``AmountBeforeTax`` where only that was sent): the **nightly
  rates**, not the ``TaxFeeInfo`` fees. Modelled: ``BookingWindow`` and ``LengthOfStay`` (``min``/``max``, both
  inclusive, integer days or ``PnD`` for the window — inferred), ``Discount@percentage`` in (0, 100], ``Stacking``
  ``base``. **Not modelled** (refused with an error): any other condition (``BookingDates``, ``CheckinDates``,
  ``StayDates``, ``Devices``, ``RatePlans``, ``RoomTypes``, countries, ``MinimumAmount``, ``Ceiling``/``Floor``,
  ...), any other ``Discount`` form (``fixed_amount``, ``fixed_amount_per_night``, ``fixed_price``,
  ``applied_nights``, ``FreeNights``, ...) and any other ``Stacking``. Inferred: the percentage is taken of the
  itinerary's nightly sum and rounded once to the cent (before and after tax alike, so the price's ``tax`` shrinks
  by its share); the booking window counts days from the emulator clock's date (UTC) to check-in; a ``percent`` fee
  is taken of the discounted nightly amounts; the answer's shape (``<Status>`` and ``<Issues>`` as for a
  ``Transaction``). The price answer names the applied ``promotion`` (``id``, ``percentage``, ``discount``).
* ``Start``/``End`` are inclusive; the day flags ``Mon Tue Weds Thur Fri Sat Sun``, when any is given, keep only the
  days flagged true (inferred). Each message is atomic (inferred): every element is checked first, and one error
  means nothing is stored and the answer is ``<Errors>``; otherwise ``<Success/>``. ``EchoToken`` is echoed.

Errors (HTTP 200, ``<Errors><Error Type Code Status="NotProcessed" ShortText/>``; the shape is reconstructed from the
OTA 2003/05 standard, the codes are OTA ``ERR`` codes chosen here, Google's own are not documented — inferred):
``Undefined room X`` (Type 3, 402), ``Undefined package X`` (3, 249), ``Invalid room rate mapping`` (3, 783, a
combination ``AllowablePackageIDs``/``AllowableRoomIDs`` exclude), a date beyond the booking window (3, 15), a
property of another partner (6, 392), a required field missing (10, 321), a bad value (3, 450).
A ``Transaction`` answers ``<Status>Success|Failure</Status>`` with ``<Issues><Issue code status>`` (inner names
inferred).

HTTP-level answers: an unknown path 404, not POST 405, a ``Content-Type`` without ``xml`` 415, a body over 5 MB 413
(the 5 MB is a third-party figure), malformed XML, a ``DOCTYPE`` (refused; entities are never resolved) or the wrong
root element/namespace 400, an unknown partner 403.

Inferred behaviours, besides those marked above:

* **Auth**: Google allowlists the partner's IP addresses; on loopback that cannot be told apart, so the partner key
  in the body stands in: a ``Transaction@partner`` or ``POS/Source/RequestorID@ID`` that is not a configured partner
  → 403; a property the partner does not hold → an ``<Errors>`` answer (an ``Issue`` for a ``Transaction``).
* **Booking window on push**: a date more than 330 days after the emulator clock's date (UTC; Google uses the
  property's time zone) is **refused** with an error, not ignored with a warning: the notes give no push-side rule,
  and refusing is the strict choice (an adapter that passes here also passes if Google only ignores). So a stay that
  starts near day 330 and runs past it cannot be priced ("Missing nightly rate").
* **Pricing**: a night needs a rate for the occupancy, inventory ≥ 1 and an explicit ``Open`` Master status at the room
  or product level (and no ``Close`` at either): the doc says the four message types must all be sent before a price is
  shown. Occupancy: the smallest ``NumberOfGuests`` ≥ the guests, else the largest plus ``AdditionalGuestAmount`` per
  extra adult/child (doc), never above the room's ``Capacity``. The total is the sum of ``AmountAfterTax``
  (``AmountBeforeTax`` where no after-tax amount was sent), less the best eligible ``Promotions`` discount, plus the
  property's ``TaxFeeInfo`` fees (``fees`` in the
  answer; a fee in another currency than the nights: ``Incompatible nightly rates``); the cheapest available product
  wins. Reasons named in English in the notes: ``No vacancy``, ``Min stay``, ``Max stay``, ``Min stay through``, ``Max
  stay through``, ``Restricted stay pattern``, ``Undefined room``, ``Undefined package``, ``Invalid room rate mapping``;
  these are English renderings of the same page's other rows (seen only in its zh-Hans copy): ``Stop sell`` (a night
  closed), ``Missing nightly rate``, ``Invalid arrival`` (closed to arrival), ``Invalid departure`` (closed to
  departure), ``Invalid occupancy``, ``Min advance booking`` (a past check-in or an advance offset), ``Max advance
  booking`` (check-in over 330 days ahead), ``Incompatible nightly rates`` (currencies differ). Over 30 nights answers
  ``Max stay``.
* **Landing URL**: ``CHILD-INDEX`` counts from 0; ``PRICE-DISPLAYED-TOTAL``/``-TAX`` are two-decimal strings in the
  user's currency (``fx`` converts, required when that currency differs); values are percent-encoded; the first
  ``PointOfSale`` (file order) whose ``Match`` conditions hold is used: ``status="yes"`` attributes of one kind are
  alternatives, kinds combine with AND, a ``status="never"`` match excludes, no ``Match`` matches everyone, and a
  language matches its regional variants (``en`` matches ``en-GB``). ``(FOR-EACH-CHILD-AGE)`` repeats over
  ``child_ages``; an unknown ``(VARIABLE)`` is left as written and listed in ``unknown_variables``.
* **Rate limit**: Google documents none (third-party notes say ~400 messages/s per account); the 429 with
  ``Retry-After`` is a test aid only.

Control routes (besides the shared ``/_emulator/requests|reset|faults|clock`` of ``channels.emulators.base``):

* ``POST /_emulator/partners`` ``{"partner": "stayhold_test", "properties": ["P1", "P2"]}`` — the partner key and
  the properties it holds (replacing its list); ``GET`` lists them. None at start, unless given to the constructor:
  ``GoogleVrEmulator(partners={"stayhold_test": ["P1"]})`` (kept across ``reset``).
* ``GET /_emulator/ari?property=P[&start=YYYY-MM-DD&end=YYYY-MM-DD]`` — stored rooms, packages, ``fees`` (of the
  last ``TaxFeeInfo``), ``promotions``, and per date the rates (``rates[room][package][date]``), restrictions
  (``availability[room][package or "*"][date]``) and inventory (``inventory[room][date]``).
* ``POST /_emulator/ari`` ``{"property", "date", "end"?, "room"?, "package"?, "rate"?, "inventory"?,
  "restrictions"?}`` — overwrite stored dates (drift injection): ``rate`` in the ``GET`` shape or null (delete),
  ``inventory`` an int or null, ``restrictions`` merged (a null value deletes that key; null deletes the entry);
  ``room``/``package`` default to the property's only ones, ``package: "*"`` is the room level.
* ``GET /_emulator/price?property=P&checkin=YYYY-MM-DD&nights=N&adults=2&children=0[&room=&package=]`` —
  ``{"available", "total", "currency", "tax", "room", "package", "nightly", "fees", "promotion", "reasons",
  "details"}`` (``fees``: each fee's amount for this itinerary, already in ``total``; ``promotion``: the one applied,
  its discount already taken off ``total``, or null).
* ``POST /_emulator/points_of_sale`` (a ``PointsOfSale`` XML file) — stores the landing page file; ``GET`` shows it.
* ``GET /_emulator/landing_url?property=P&checkin=&nights=&adults=&children=[&child_ages=5,8][&template=...]
  [&currency=&fx=&language=en&country=US&device=desktop&site=localuniversal&ad_click=0&verification=0
  &date_type=selected&campaign_id=&alternate_id=&room=&package=]`` — ``{"url", "point_of_sale", "available",
  "price", "unknown_variables"}``; without ``template`` the stored ``PointsOfSale`` file is used.
* ``POST /_emulator/limits`` ``{"requests_per_minute": N}`` (null: no limit) — beyond N API requests in the last 60
  seconds of the emulator clock: 429 with ``Retry-After``.
"""

from __future__ import annotations

import math
import re
import xml.etree.ElementTree as ET
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any
from urllib.parse import quote

from channels.emulators.base import Emulator, Request, Response

OTA_NS = "http://www.opentravel.org/OTA/2003/05"
NS = {"ota": OTA_NS}
BOOKING_WINDOW_DAYS = 330
MAX_NIGHTS = 30
MAX_BODY = 5 * 1024 * 1024
WEEKDAY_ATTRS = ("Mon", "Tue", "Weds", "Thur", "Fri", "Sat", "Sun")
ROOM_LEVEL = "*"
CENT = Decimal("0.01")

PROPERTY_DATA = "/travel/hotels/uploads/property_data"
RATES = "/travel/hotels/uploads/ota/hotel_rate_amount_notif"
AVAIL = "/travel/hotels/uploads/ota/hotel_avail_notif"
INVENTORY = "/travel/hotels/uploads/ota/hotel_inv_count_notif"
TAXES = "/travel/hotels/uploads/taxes"
PROMOTIONS = "/travel/hotels/uploads/promotions"
ROUTES = {  # path → (root element in, root element out)
    PROPERTY_DATA: ("Transaction", "TransactionResponse"),
    RATES: ("OTA_HotelRateAmountNotifRQ", "OTA_HotelRateAmountNotifRS"),
    AVAIL: ("OTA_HotelAvailNotifRQ", "OTA_HotelAvailNotifRS"),
    INVENTORY: ("OTA_HotelInvCountNotifRQ", "OTA_HotelInvCountNotifRS"),
    TAXES: ("TaxFeeInfo", "TaxFeeInfoResponse"),
    PROMOTIONS: ("Promotions", "PromotionsResponse"),
}
PLAIN_ROOTS = ("Transaction", "TaxFeeInfo", "Promotions")  # roots without the OTA namespace
# The modelled children of a Promotion: conditions on the stay's length and on the days between booking and
# check-in, a percentage discount, the default stacking. Any other child is refused (not modelled).
PROMOTION_CHILDREN = {"BookingWindow", "LengthOfStay", "Discount", "Stacking"}
FEE_FIELDS = {"Type", "Basis", "Period", "Currency", "Amount"}  # the modelled children of a TaxFeeInfo Fee
LOS_TYPES = {"SetMinLOS": "min_los", "SetMaxLOS": "max_los",
             "SetForwardMinStay": "forward_min", "SetForwardMaxStay": "forward_max"}
RESTRICTIONS = {"Master": "master", "Arrival": "arrival", "Departure": "departure"}
VARIABLE = re.compile(r"\(([A-Z][A-Z0-9-]*)\)")
CONDITION = re.compile(r"\(IF-([A-Z][A-Z-]*)\)(.*?)(?:\(ELSE\)(.*?))?\(ENDIF\)", re.S)
CHILD_LOOP = re.compile(r"\(FOR-EACH-CHILD-AGE\)(.*?)\(END-FOR-EACH\)", re.S)
ECHO_TOKEN = re.compile(r"[A-Za-z0-9_-]+")


class BadRequest(Exception):
    """A query or control body the emulator cannot read (400)."""


@dataclass
class Err:
    type: int
    code: int
    text: str


@dataclass
class Property:
    rooms: dict[str, dict[str, Any]] = field(default_factory=dict)
    packages: dict[str, dict[str, Any]] = field(default_factory=dict)
    rates: dict[tuple[str, str], dict[date, dict[str, Any]]] = field(default_factory=dict)
    avail: dict[tuple[str, str], dict[date, dict[str, Any]]] = field(default_factory=dict)
    inventory: dict[str, dict[date, int]] = field(default_factory=dict)
    fees: list[dict[str, str | None]] = field(default_factory=list)
    promotions: dict[str, dict[str, Any]] = field(default_factory=dict)


def _text(element: ET.Element | None, path: str) -> str | None:
    found = element.find(path) if element is not None else None
    return found.text.strip() if found is not None and found.text and found.text.strip() else None


def _int(value: str | None, what: str, errors: list[Err], minimum: int = 0) -> int | None:
    try:
        number = int(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        errors.append(Err(3, 450, f"{what} must be an integer, not {value!r}"))
        return None
    if number < minimum:
        errors.append(Err(3, 450, f"{what} must be at least {minimum}, not {number}"))
        return None
    return number


def _money(value: str | None, what: str, errors: list[Err]) -> str | None:
    if value is None:
        return None
    try:
        amount = Decimal(value)
    except InvalidOperation:
        amount = Decimal(-1)
    if not amount.is_finite() or amount < 0:
        errors.append(Err(3, 450, f"{what} must be a non-negative amount, not {value!r}"))
        return None
    return str(amount)


def _offset_days(value: str | None) -> int | None:
    """``Min/MaxAdvancedBookingOffset``: integer days or an ISO duration in days (``P3D``)."""
    if value is None:
        return None
    match = re.fullmatch(r"P?(\d+)D?", value.strip())
    if not match:
        raise ValueError(value)
    return int(match.group(1))


def _parse_xml(body: bytes) -> ET.Element:
    if re.search(rb"<!DOCTYPE|<!ENTITY", body, re.I):
        raise ET.ParseError("a DOCTYPE or ENTITY declaration is not accepted")
    return ET.fromstring(body)  # noqa: S314 — DOCTYPE refused above, so no entity can be declared


def _iso(value: str | None, what: str) -> date:
    try:
        return date.fromisoformat(value or "")
    except ValueError:
        raise BadRequest(f"{what} must be a date YYYY-MM-DD, not {value!r}") from None


def _number(request: Request, name: str, default: int | None = None, minimum: int = 0) -> int:
    raw = request.param(name)
    if not raw:
        if default is None:
            raise BadRequest(f"{name} is required")
        return default
    try:
        value = int(raw)
    except ValueError:
        raise BadRequest(f"{name} must be an integer, not {raw!r}") from None
    if value < minimum:
        raise BadRequest(f"{name} must be at least {minimum}")
    return value


class GoogleVrEmulator(Emulator):
    name = "google_vr"

    def __init__(self, partners: dict[str, list[str]] | None = None) -> None:
        self._initial_partners = {key: list(props) for key, props in (partners or {}).items()}
        super().__init__()

    def reset_state(self) -> None:
        self.partners: dict[str, set[str]] = {}
        self.properties: dict[str, Property] = {}
        self.points_of_sale: list[dict[str, Any]] = []
        self.requests_per_minute: int | None = None
        self._recent: list[datetime] = []
        for partner, props in getattr(self, "_initial_partners", {}).items():
            self._set_partner(partner, props)

    def _set_partner(self, partner: str, props: list[str]) -> None:
        self.partners[partner] = set(props)
        for prop in props:
            self.properties.setdefault(prop, Property())

    def _today(self) -> date:
        return self.now().date()

    # --- the platform API -------------------------------------------------------------------------------------

    def handle(self, request: Request) -> Response:
        limited = self._rate_limited()
        if limited is not None:
            return limited
        if request.path not in ROUTES:
            return Response.json({"error": f"no route {request.path}"}, 404)
        if request.method != "POST":
            return Response.json({"error": "method not allowed"}, 405, {"Allow": "POST"})
        root_in, root_out = ROUTES[request.path]
        if "xml" not in request.headers.get("content-type", ""):
            return self._refuse(root_out, 415, "Content-Type must be application/xml")
        if len(request.body) > MAX_BODY:
            return self._refuse(root_out, 413, "A message may not exceed 5 MB")
        try:
            root = _parse_xml(request.body)
        except ET.ParseError as exc:
            return self._refuse(root_out, 400, f"Malformed XML: {exc}")
        expected = root_in if root_in in PLAIN_ROOTS else f"{{{OTA_NS}}}{root_in}"
        if root.tag != expected:
            return self._refuse(root_out, 400, f"Expected root element {expected}, got {root.tag}")
        if root_in == "Transaction":
            return self._transaction(root)
        if root_in == "TaxFeeInfo":
            return self._tax_fee_info(root)
        if root_in == "Promotions":
            return self._promotions(root)
        echo = root.get("EchoToken")
        partner = root.find("ota:POS/ota:Source/ota:RequestorID", NS)
        partner_key = partner.get("ID") if partner is not None else None
        if partner_key not in self.partners:
            return self._ota_answer(root_out, echo, [Err(4, 497, f"Unknown partner {partner_key!r}")], 403)
        errors: list[Err] = []
        if echo is not None and not ECHO_TOKEN.fullmatch(echo):
            errors.append(Err(3, 450, "EchoToken may only hold [a-zA-Z0-9_-]"))
        handler = {RATES: self._rates, AVAIL: self._avail, INVENTORY: self._inventory}[request.path]
        apply = handler(root, partner_key, errors)
        if not errors:
            apply()
        return self._ota_answer(root_out, echo, errors)

    def _rate_limited(self) -> Response | None:
        if not self.requests_per_minute:
            return None
        now = self.now()
        self._recent = [at for at in self._recent if (now - at).total_seconds() < 60]
        if len(self._recent) >= self.requests_per_minute:
            wait = math.ceil(60 - (now - self._recent[0]).total_seconds())
            return Response.json({"error": "rate limit exceeded (emulator test aid)"}, 429,
                                 {"Retry-After": str(max(wait, 1))})
        self._recent.append(now)
        return None

    # --- answers ----------------------------------------------------------------------------------------------

    def _timestamp(self) -> str:
        return self.now().replace(microsecond=0).isoformat().replace("+00:00", "Z")

    def _ota_answer(self, root_out: str, echo: str | None, errors: list[Err], status: int = 200) -> Response:
        root = ET.Element(root_out, {"xmlns": OTA_NS, "TimeStamp": self._timestamp(), "Version": "3.0"})
        if echo is not None:
            root.set("EchoToken", echo)
        if errors:
            container = ET.SubElement(root, "Errors")
            for err in errors:
                ET.SubElement(container, "Error", {"Type": str(err.type), "Code": str(err.code),
                                                   "Status": "NotProcessed", "ShortText": err.text})
        else:
            ET.SubElement(root, "Success")
        return Response.xml(self._document(root), status)

    def _transaction_answer(self, message_id: str | None, errors: list[Err], status: int = 200,
                            root_out: str = "TransactionResponse") -> Response:
        root = ET.Element(root_out, {"timestamp": self._timestamp()})
        if message_id is not None:
            root.set("id", message_id)
        ET.SubElement(root, "Status").text = "Failure" if errors else "Success"
        if errors:
            issues = ET.SubElement(root, "Issues")
            for err in errors:
                ET.SubElement(issues, "Issue", {"code": str(err.code), "status": "failure"}).text = err.text
        return Response.xml(self._document(root), status)

    def _refuse(self, root_out: str, status: int, text: str) -> Response:
        err = [Err(1 if status == 400 else 12, 450, text)]
        if root_out in ("TransactionResponse", "TaxFeeInfoResponse", "PromotionsResponse"):
            return self._transaction_answer(None, err, status, root_out)
        return self._ota_answer(root_out, None, err, status)

    @staticmethod
    def _document(root: ET.Element) -> str:
        return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode")

    # --- Transaction (property data) --------------------------------------------------------------------------

    def _transaction(self, root: ET.Element) -> Response:
        message_id, partner = root.get("id"), root.get("partner")
        if partner not in self.partners:
            return self._transaction_answer(message_id, [Err(4, 497, f"Unknown partner {partner!r}")], 403)
        errors: list[Err] = []
        updates = []
        for data_set in root.findall("PropertyDataSet"):
            action = data_set.get("action", "delta")
            prop_id = _text(data_set, "Property")
            if action not in ("overlay", "delta"):
                errors.append(Err(3, 450, f"PropertyDataSet action must be overlay or delta, not {action!r}"))
            if prop_id is None:
                errors.append(Err(10, 321, "PropertyDataSet/Property is required"))
                continue
            if prop_id not in self.partners[partner]:
                errors.append(Err(6, 392, f"Property {prop_id} is not managed by partner {partner}"))
                continue
            rooms = {}
            for node in data_set.findall("RoomData"):
                room = self._room_data(node, errors)
                if room is not None:
                    rooms[room.pop("id")] = room
            packages = {}
            for node in data_set.findall("PackageData"):
                package = self._package_data(node, errors)
                if package is not None:
                    packages[package.pop("id")] = package
            updates.append((prop_id, action, rooms, packages))
        if not root.findall("PropertyDataSet"):
            errors.append(Err(10, 321, "Transaction has no PropertyDataSet"))
        if not errors:
            for prop_id, action, rooms, packages in updates:
                prop = self.properties.setdefault(prop_id, Property())
                if action == "overlay":
                    prop.rooms, prop.packages = {}, {}
                prop.rooms.update(rooms)
                prop.packages.update(packages)
        return self._transaction_answer(message_id, errors)

    # --- TaxFeeInfo (fees) ----------------------------------------------------------------------------------------

    def _tax_fee_info(self, root: ET.Element) -> Response:
        message_id, partner = root.get("id"), root.get("partner")
        if partner not in self.partners:
            return self._transaction_answer(message_id, [Err(4, 497, f"Unknown partner {partner!r}")], 403,
                                            "TaxFeeInfoResponse")
        errors: list[Err] = []
        updates = []
        for node in root.findall("Property"):
            action = node.get("action", "overlay")
            prop_id = _text(node, "ID")
            if action != "overlay":
                errors.append(Err(3, 450, f"Property action must be overlay, not {action!r}"))
            if prop_id is None:
                errors.append(Err(10, 321, "Property/ID is required"))
                continue
            if prop_id not in self.partners[partner]:
                errors.append(Err(6, 392, f"Property {prop_id} is not managed by partner {partner}"))
                continue
            if node.findall("Taxes/Tax"):
                errors.append(Err(3, 450, "Taxes are not modelled by the emulator (send AmountAfterTax in the rates)"))
            fees = [fee for fee in (self._fee(item, prop_id, errors) for item in node.findall("Fees/Fee"))
                    if fee is not None]
            updates.append((prop_id, fees))
        if not root.findall("Property"):
            errors.append(Err(10, 321, "TaxFeeInfo has no Property"))
        if not errors:
            for prop_id, fees in updates:
                self.properties.setdefault(prop_id, Property()).fees = fees
        return self._transaction_answer(message_id, errors, root_out="TaxFeeInfoResponse")

    @staticmethod
    def _fee(node: ET.Element, prop_id: str, errors: list[Err]) -> dict[str, str | None] | None:
        unknown = sorted({child.tag for child in node} - FEE_FIELDS)
        if unknown:
            errors.append(Err(3, 450, f"Fee of {prop_id}: {', '.join(unknown)} not modelled by the emulator"))
            return None
        fee = {"type": _text(node, "Type"), "basis": _text(node, "Basis") or "room",
               "period": _text(node, "Period") or "stay", "currency": _text(node, "Currency"),
               "amount": _money(_text(node, "Amount"), f"Fee of {prop_id} Amount", errors)}
        for key, allowed in (("type", ("amount", "percent")), ("basis", ("room", "person")),
                             ("period", ("stay", "night"))):
            if fee[key] not in allowed:
                errors.append(Err(3, 450, f"Fee of {prop_id} {key.title()} must be {' or '.join(allowed)}, "
                                          f"not {fee[key]!r}"))
                return None
        if fee["amount"] is None:
            errors.append(Err(10, 321, f"Fee of {prop_id}: Amount is required"))
            return None
        if fee["type"] == "amount" and not fee["currency"]:
            errors.append(Err(10, 321, f"Fee of {prop_id}: Currency is required with Type amount"))
            return None
        return fee

    # --- Promotions (discounts) ----------------------------------------------------------------------------------

    def _promotions(self, root: ET.Element) -> Response:
        message_id, partner = root.get("id"), root.get("partner")
        if partner not in self.partners:
            return self._transaction_answer(message_id, [Err(4, 497, f"Unknown partner {partner!r}")], 403,
                                            "PromotionsResponse")
        errors: list[Err] = []
        updates = []
        for node in root.findall("HotelPromotions"):
            action = node.get("action")
            prop_id = node.get("hotel_id")
            if action not in (None, "overlay"):
                errors.append(Err(3, 450, f"HotelPromotions action must be overlay or absent, not {action!r}"))
            if not prop_id:
                errors.append(Err(10, 321, "HotelPromotions@hotel_id is required"))
                continue
            if prop_id not in self.partners[partner]:
                errors.append(Err(6, 392, f"Property {prop_id} is not managed by partner {partner}"))
                continue
            changes: dict[str, dict[str, Any] | None] = {}
            for item in node.findall("Promotion"):
                promo_id = item.get("id")
                if not promo_id:
                    errors.append(Err(10, 321, "Promotion@id is required"))
                    continue
                if item.get("action") == "delete":
                    changes[promo_id] = None
                    continue
                promotion = self._promotion(item, promo_id, errors)
                if promotion is not None:
                    changes[promo_id] = promotion
            updates.append((prop_id, action == "overlay", changes))
        if not root.findall("HotelPromotions"):
            errors.append(Err(10, 321, "Promotions has no HotelPromotions"))
        if not errors:
            for prop_id, overlay, changes in updates:
                prop = self.properties.setdefault(prop_id, Property())
                if overlay:
                    prop.promotions = {}
                for promo_id, promotion in changes.items():
                    if promotion is None:
                        prop.promotions.pop(promo_id, None)
                    else:
                        prop.promotions[promo_id] = promotion
        return self._transaction_answer(message_id, errors, root_out="PromotionsResponse")

    @staticmethod
    def _promotion(node: ET.Element, promo_id: str, errors: list[Err]) -> dict[str, Any] | None:
        before = len(errors)
        unknown = sorted({child.tag for child in node} - PROMOTION_CHILDREN)
        if unknown:
            errors.append(Err(3, 450, f"Promotion {promo_id}: {', '.join(unknown)} not modelled by the emulator"))
        promotion: dict[str, Any] = {"id": promo_id}
        for tag, key in (("BookingWindow", "booking_window"), ("LengthOfStay", "length_of_stay")):
            element = node.find(tag)
            if element is None:
                continue
            bounds = {}
            for bound in ("min", "max"):
                raw = element.get(bound)
                try:
                    bounds[bound] = _offset_days(raw) if tag == "BookingWindow" else (
                        None if raw is None else _int(raw, f"{tag}@{bound}", errors))
                except ValueError:
                    errors.append(Err(3, 450, f"{tag}@{bound} must be days (an integer or PnD), not {raw!r}"))
            promotion[key] = bounds
        discount = node.find("Discount")
        if discount is None or set(discount.attrib) != {"percentage"} or len(discount):
            errors.append(Err(3, 450, f"Promotion {promo_id}: a Discount with only a percentage is modelled"))
        else:
            try:
                percentage = Decimal(discount.get("percentage", ""))
            except InvalidOperation:
                percentage = Decimal(-1)
            if not percentage.is_finite() or not 0 < percentage <= 100:
                errors.append(Err(3, 450, f"Discount@percentage must be in (0, 100], not "
                                          f"{discount.get('percentage')!r}"))
            promotion["percentage"] = str(percentage)
        stacking = node.find("Stacking")
        if stacking is not None and stacking.get("type", "base") != "base":
            errors.append(Err(3, 450, f"Promotion {promo_id}: only the default stacking (base) is modelled"))
        return promotion if len(errors) == before else None

    @staticmethod
    def _eligible(promotion: dict[str, Any], nights: int, lead: int) -> bool:
        for key, value in (("length_of_stay", nights), ("booking_window", lead)):
            bounds = promotion.get(key) or {}
            if bounds.get("min") is not None and value < bounds["min"]:
                return False
            if bounds.get("max") is not None and value > bounds["max"]:
                return False
        return True

    @staticmethod
    def _name(node: ET.Element, tag: str) -> str | None:
        text = node.find(f"{tag}/Text")
        return text.get("text") if text is not None else _text(node, tag)

    def _room_data(self, node: ET.Element, errors: list[Err]) -> dict[str, Any] | None:
        room_id = _text(node, "RoomID")
        if room_id is None:
            errors.append(Err(10, 321, "RoomData/RoomID is required"))
            return None
        room: dict[str, Any] = {"id": room_id, "name": self._name(node, "Name")}
        for tag, key in (("Capacity", "capacity"), ("AdultCapacity", "adult_capacity"),
                         ("ChildCapacity", "child_capacity")):
            value = _text(node, tag)
            room[key] = _int(value, f"RoomData {room_id} {tag}", errors, 1) if value is not None else None
        allowed = [_text(item, ".") for item in node.findall("AllowablePackageIDs/AllowablePackageID")]
        room["allowable_package_ids"] = [a for a in allowed if a] if node.find("AllowablePackageIDs") is not None \
            else None
        return room

    def _package_data(self, node: ET.Element, errors: list[Err]) -> dict[str, Any] | None:
        package_id = _text(node, "PackageID")
        if package_id is None:
            errors.append(Err(10, 321, "PackageData/PackageID is required"))
            return None
        refundable = node.find("Refundable")
        allowed = [_text(item, ".") for item in node.findall("AllowableRoomIDs/AllowableRoomID")]
        return {"id": package_id, "name": self._name(node, "Name"),
                "refundable": dict(refundable.attrib) if refundable is not None else None,
                "allowable_room_ids": [a for a in allowed if a] if node.find("AllowableRoomIDs") is not None
                else None}

    # --- OTA messages ------------------------------------------------------------------------------------------

    def _property(self, partner: str, code: str | None, errors: list[Err]) -> Property | None:
        if not code:
            errors.append(Err(10, 321, "HotelCode is required"))
            return None
        if code not in self.partners[partner]:
            errors.append(Err(6, 392, f"Property {code} is not managed by partner {partner}"))
            return None
        return self.properties.setdefault(code, Property())

    def _span(self, control: ET.Element | None, errors: list[Err]) -> list[date] | None:
        """The dates a ``StatusApplicationControl`` names: ``Start``..``End`` inclusive, filtered by day flags."""
        if control is None:
            errors.append(Err(10, 321, "StatusApplicationControl is required"))
            return None
        try:
            start, end = date.fromisoformat(control.get("Start", "")), date.fromisoformat(control.get("End", ""))
        except ValueError:
            errors.append(Err(3, 15, f"Start/End must be dates YYYY-MM-DD: {control.get('Start')!r}, "
                                     f"{control.get('End')!r}"))
            return None
        if end < start:
            errors.append(Err(3, 15, f"End {end} is before Start {start}"))
            return None
        last = self._today() + timedelta(days=BOOKING_WINDOW_DAYS)
        if end > last:
            errors.append(Err(3, 15, f"End {end} is beyond the {BOOKING_WINDOW_DAYS}-day booking window "
                                     f"(last date {last})"))
            return None
        days = [start + timedelta(days=n) for n in range((end - start).days + 1)]
        if any(control.get(flag) is not None for flag in WEEKDAY_ATTRS):
            days = [d for d in days if control.get(WEEKDAY_ATTRS[d.weekday()], "").lower() in ("true", "1")]
        return days

    def _product(self, prop: Property, room: str | None, package: str | None, errors: list[Err],
                 need_package: bool = True) -> bool:
        if not room:
            errors.append(Err(10, 321, "InvTypeCode is required"))
            return False
        if need_package and not package:
            errors.append(Err(10, 321, "RatePlanCode is required"))
            return False
        ok = True
        if room not in prop.rooms:
            errors.append(Err(3, 402, f"Undefined room {room}"))
            ok = False
        if package and package not in prop.packages:
            errors.append(Err(3, 249, f"Undefined package {package}"))
            ok = False
        if ok and package and not self._mapped(prop, room, package):
            errors.append(Err(3, 783, f"Invalid room rate mapping {room}/{package}"))
            ok = False
        return ok

    @staticmethod
    def _mapped(prop: Property, room: str, package: str) -> bool:
        allowed_packages = prop.rooms[room].get("allowable_package_ids")
        allowed_rooms = prop.packages[package].get("allowable_room_ids")
        return (allowed_packages is None or package in allowed_packages) and \
            (allowed_rooms is None or room in allowed_rooms)

    def _rates(self, root: ET.Element, partner: str, errors: list[Err]):
        notif = root.get("NotifType", "Delta")
        if notif not in ("Delta", "Overlay", "Remove"):
            errors.append(Err(3, 450, f"NotifType must be Delta, Overlay or Remove, not {notif!r}"))
        writes: list[tuple[Property, tuple[str, str], list[date], dict[str, Any] | None]] = []
        for messages in root.findall("ota:RateAmountMessages", NS):
            prop = self._property(partner, messages.get("HotelCode"), errors)
            for message in messages.findall("ota:RateAmountMessage", NS):
                control = message.find("ota:StatusApplicationControl", NS)
                days = self._span(control, errors)
                if prop is None or days is None or control is None:
                    continue
                room, package = control.get("InvTypeCode", ""), control.get("RatePlanCode", "")
                if not self._product(prop, room, package, errors):
                    continue
                entry = None if notif == "Remove" else self._rate_entry(message, prop.rooms[room], errors)
                if notif != "Remove" and entry is None:
                    continue
                writes.append((prop, (room, package), days, entry))

        def apply() -> None:
            if notif == "Overlay":
                for prop, key, _, _ in writes:
                    prop.rates[key] = {}
            for prop, key, days, entry in writes:
                stored = prop.rates.setdefault(key, {})
                for day in days:
                    if entry is None:
                        stored.pop(day, None)
                    else:
                        stored[day] = entry
        return apply

    def _rate_entry(self, message: ET.Element, room: dict[str, Any], errors: list[Err]) -> dict[str, Any] | None:
        occupancies: dict[str, dict[str, str | None]] = {}
        for amount in message.findall("ota:Rates/ota:Rate/ota:BaseByGuestAmts/ota:BaseByGuestAmt", NS):
            after = _money(amount.get("AmountAfterTax"), "AmountAfterTax", errors)
            before = _money(amount.get("AmountBeforeTax"), "AmountBeforeTax", errors)
            currency = amount.get("CurrencyCode")
            if after is None and before is None:
                errors.append(Err(10, 321, "BaseByGuestAmt needs AmountAfterTax or AmountBeforeTax"))
                continue
            if not currency:
                errors.append(Err(10, 321, "BaseByGuestAmt/CurrencyCode is required"))
                continue
            guests_attr = amount.get("NumberOfGuests")
            guests = _int(guests_attr, "NumberOfGuests", errors, 1) if guests_attr is not None \
                else room.get("capacity") or 99  # no NumberOfGuests: the room's whole capacity (inferred)
            if guests is not None:
                occupancies[str(guests)] = {"after_tax": after, "before_tax": before, "currency": currency}
        if not occupancies:
            errors.append(Err(10, 321, "RateAmountMessage has no Rates/Rate/BaseByGuestAmts/BaseByGuestAmt"))
            return None
        additional: dict[str, str] = {}
        for extra in message.findall("ota:Rates/ota:Rate/ota:AdditionalGuestAmounts/ota:AdditionalGuestAmount", NS):
            kind = {"10": "adult", "8": "child"}.get(extra.get("AgeQualifyingCode", ""))
            amount_value = _money(extra.get("Amount"), "AdditionalGuestAmount/Amount", errors)
            if kind is None or amount_value is None:
                errors.append(Err(3, 450, "AdditionalGuestAmount needs AgeQualifyingCode 10 or 8 and an Amount"))
                continue
            additional[kind] = amount_value
        return {"occupancies": occupancies, "additional_guests": additional}

    def _avail(self, root: ET.Element, partner: str, errors: list[Err]):
        writes: list[tuple[Property, str, str, list[date], dict[str, Any], int | None]] = []
        for messages in root.findall("ota:AvailStatusMessages", NS):
            prop = self._property(partner, messages.get("HotelCode"), errors)
            for message in messages.findall("ota:AvailStatusMessage", NS):
                control = message.find("ota:StatusApplicationControl", NS)
                days = self._span(control, errors)
                if prop is None or days is None or control is None:
                    continue
                room, package = control.get("InvTypeCode", ""), control.get("RatePlanCode", "")
                if not self._product(prop, room, package, errors, need_package=False):
                    continue
                changes = self._restriction_changes(message, errors)
                limit = message.get("BookingLimit")
                count = _int(limit, "BookingLimit", errors) if limit is not None else None
                writes.append((prop, room, package or ROOM_LEVEL, days, changes, count))

        def apply() -> None:
            for prop, room, package, days, changes, count in writes:
                stored = prop.avail.setdefault((room, package), {})
                for day in days:
                    if changes:
                        stored.setdefault(day, {}).update(changes)
                    if count is not None:
                        prop.inventory.setdefault(room, {})[day] = count
        return apply

    @staticmethod
    def _restriction_changes(message: ET.Element, errors: list[Err]) -> dict[str, Any]:
        changes: dict[str, Any] = {}
        status = message.find("ota:RestrictionStatus", NS)
        if status is not None:
            value, kind = status.get("Status"), status.get("Restriction", "Master")
            if value is not None:
                if value not in ("Open", "Close") or kind not in RESTRICTIONS:
                    errors.append(Err(3, 450, f"RestrictionStatus Status={value!r} Restriction={kind!r} is not "
                                              "Open|Close with Master|Arrival|Departure"))
                else:
                    changes[RESTRICTIONS[kind]] = value
            for attr, key in (("MinAdvancedBookingOffset", "min_advance"), ("MaxAdvancedBookingOffset", "max_advance")):
                try:
                    days = _offset_days(status.get(attr))
                except ValueError:
                    errors.append(Err(3, 450, f"{attr} must be days or an ISO duration in days"))
                    continue
                if days is not None:
                    changes[key] = days
        for los in message.findall("ota:LengthsOfStay/ota:LengthOfStay", NS):
            kind = los.get("MinMaxMessageType", "")
            if kind == "FullPatternLOS":
                pattern = los.find("ota:LOS_Pattern", NS)
                value = pattern.get("FullPatternLOS", "") if pattern is not None else ""
                if not re.fullmatch(r"[YN]+", value):
                    errors.append(Err(3, 450, "FullPatternLOS needs LOS_Pattern@FullPatternLOS of Y/N"))
                else:
                    changes["pattern"] = value
            elif kind in LOS_TYPES:
                time = _int(los.get("Time"), f"LengthOfStay {kind} Time", errors)
                if time is not None:
                    changes[LOS_TYPES[kind]] = time
            else:
                errors.append(Err(3, 450, f"Unknown MinMaxMessageType {kind!r}"))
        return changes

    def _inventory(self, root: ET.Element, partner: str, errors: list[Err]):
        writes: list[tuple[Property, str, list[date], int]] = []
        for inventories in root.findall("ota:Inventories", NS):
            prop = self._property(partner, inventories.get("HotelCode"), errors)
            for inventory in inventories.findall("ota:Inventory", NS):
                control = inventory.find("ota:StatusApplicationControl", NS)
                days = self._span(control, errors)
                count_node = inventory.find("ota:InvCounts/ota:InvCount", NS)
                if count_node is None:
                    errors.append(Err(10, 321, "Inventory/InvCounts/InvCount is required"))
                    continue
                count = _int(count_node.get("Count"), "InvCount Count", errors)
                if prop is None or days is None or control is None or count is None:
                    continue
                room = control.get("InvTypeCode", "")
                if self._product(prop, room, None, errors, need_package=False):
                    writes.append((prop, room, days, count))

        def apply() -> None:
            for prop, room, days, count in writes:
                stored = prop.inventory.setdefault(room, {})
                for day in days:
                    stored[day] = count
        return apply

    # --- the price Google would show ----------------------------------------------------------------------------

    def price(self, prop_id: str, checkin: date, nights: int, adults: int, children: int,
              room: str | None = None, package: str | None = None) -> dict[str, Any]:
        answer: dict[str, Any] = {
            "property": prop_id, "checkin": checkin.isoformat(), "checkout": (checkin + timedelta(nights)).isoformat(),
            "nights": nights, "adults": adults, "children": children, "available": False, "total": None,
            "currency": None, "tax": None, "room": None, "package": None, "nightly": [], "fees": [], "promotion": None,
            "reasons": [], "details": []}
        lead = (checkin - self._today()).days
        window = []
        if nights > MAX_NIGHTS:
            window.append(("Max stay", f"{nights} nights: Vacation Rentals prices stays of at most {MAX_NIGHTS}"))
        if lead < 0:
            window.append(("Min advance booking", f"check-in {checkin} is in the past"))
        if lead > BOOKING_WINDOW_DAYS:
            window.append(("Max advance booking", f"check-in {lead} days ahead, at most {BOOKING_WINDOW_DAYS}"))
        if window:
            answer["reasons"], answer["details"] = [r for r, _ in window], [d for _, d in window]
            return answer
        prop = self.properties.get(prop_id) or Property()
        products = sorted({(r, p) for r in prop.rooms for p in prop.packages if self._mapped(prop, r, p)}
                          | set(prop.rates))
        products = [(r, p) for r, p in products if room in (None, r) and package in (None, p)]
        if not products:
            reason = "Undefined room" if not prop.rooms or room else \
                "Undefined package" if not prop.packages or package else "Invalid room rate mapping"
            answer["reasons"], answer["details"] = [reason], [f"no room/package of property {prop_id} to price"]
            return answer
        results = [self._price_product(prop, r, p, checkin, nights, adults, children) for r, p in products]
        priced = [result for result in results if result["available"]]
        if priced:
            answer.update(min(priced, key=lambda result: Decimal(result["total"])))
            return answer
        for result in results:
            answer["reasons"] += [r for r in result["reasons"] if r not in answer["reasons"]]
            answer["details"] += result["details"]
        return answer

    def _price_product(self, prop: Property, room_id: str, package_id: str, checkin: date, nights: int,
                       adults: int, children: int) -> dict[str, Any]:
        reasons: list[str] = []
        details: list[str] = []

        def fail(reason: str, detail: str) -> None:
            if reason not in reasons:
                reasons.append(reason)
            details.append(f"{room_id}/{package_id}: {detail}")

        def done(**extra: Any) -> dict[str, Any]:
            return {"available": not reasons, "room": room_id, "package": package_id, "reasons": reasons,
                    "details": details, **extra}

        room, package = prop.rooms.get(room_id), prop.packages.get(package_id)
        if room is None:
            fail("Undefined room", f"room {room_id} is not defined by a Transaction")
        if package is None:
            fail("Undefined package", f"package {package_id} is not defined by a Transaction")
        if room is None or package is None:
            return done()
        if not self._mapped(prop, room_id, package_id):
            fail("Invalid room rate mapping", "the Transaction does not allow this combination")
            return done()
        for limit, guests in (("capacity", adults + children), ("adult_capacity", adults),
                              ("child_capacity", children)):
            if room.get(limit) is not None and guests > room[limit]:
                fail("Invalid occupancy", f"{guests} guests over the room's {limit} {room[limit]}")
        rates = prop.rates.get((room_id, package_id), {})
        inventory = prop.inventory.get(room_id, {})
        levels = [prop.avail.get((room_id, ROOM_LEVEL), {}), prop.avail.get((room_id, package_id), {})]
        total, tax, currencies, nightly = Decimal(0), Decimal(0), set(), []
        before_total = Decimal(0)
        for n in range(nights):
            day = checkin + timedelta(days=n)
            count = inventory.get(day)
            if count is None or count < 1:
                fail("No vacancy", f"{day}: inventory {count}")
            statuses = [level[day] for level in levels if day in level]
            masters = [status.get("master") for status in statuses if status.get("master")]
            if "Close" in masters:
                fail("Stop sell", f"{day}: closed")
            elif not masters:
                fail("No vacancy", f"{day}: no open availability was pushed")
            for status in statuses:
                if status.get("min_los") and nights < status["min_los"]:
                    fail("Min stay through", f"{day}: min LOS {status['min_los']}")
                if status.get("max_los") and nights > status["max_los"]:
                    fail("Max stay through", f"{day}: max LOS {status['max_los']}")
            entry = rates.get(day)
            amounts = self._night_amount(entry, adults, children) if entry else None
            if entry is None:
                fail("Missing nightly rate", f"{day}: no rate")
            elif amounts is None:
                fail("Invalid occupancy", f"{day}: no rate for {adults} adults and {children} children")
            else:
                paid, before, currency = amounts
                total += paid
                tax += paid - before if before is not None else Decimal(0)
                before_total += before if before is not None else paid
                currencies.add(currency)
                nightly.append({"date": day.isoformat(), "amount": str(paid.quantize(CENT)), "currency": currency})
        self._check_arrival_departure(levels, checkin, nights, fail)
        lead = (checkin - self._today()).days
        eligible = [p for p in prop.promotions.values() if self._eligible(p, nights, lead)]
        promotion = max(eligible, key=lambda p: Decimal(p["percentage"]), default=None)
        discount = Decimal(0)
        if promotion is not None:
            # The itinerary's nightly amounts (AmountAfterTax, else AmountBeforeTax), not the fees; rounded once.
            share = Decimal(promotion["percentage"]) / 100
            discount = (total * share).quantize(CENT, ROUND_HALF_UP)
            before_discount = (before_total * share).quantize(CENT, ROUND_HALF_UP)
            tax -= discount - before_discount
            total -= discount
            before_total -= before_discount
        fees = []
        for fee in prop.fees:
            amount = Decimal(fee["amount"] or 0)
            if fee["type"] == "percent":
                amount = (before_total * amount / 100).quantize(CENT, ROUND_HALF_UP)
            else:
                currencies.add(fee["currency"])
            amount *= (adults + children if fee["basis"] == "person" else 1) * (nights if fee["period"] == "night"
                                                                                 else 1)
            total += amount
            fees.append({**fee, "charged": str(amount.quantize(CENT, ROUND_HALF_UP))})
        if len(currencies) > 1:
            fail("Incompatible nightly rates", f"currencies {sorted(currencies)}")
        if reasons:
            return done()
        return done(total=str(total.quantize(CENT, ROUND_HALF_UP)), tax=str(tax.quantize(CENT, ROUND_HALF_UP)),
                    currency=currencies.pop(), nightly=nightly, fees=fees,
                    promotion=promotion and {"id": promotion["id"], "percentage": promotion["percentage"],
                                             "discount": str(discount)})

    def _check_arrival_departure(self, levels: list[dict[date, dict[str, Any]]], checkin: date, nights: int,
                                 fail: Callable[[str, str], None]) -> None:
        lead = (checkin - self._today()).days
        checkout = checkin + timedelta(days=nights)
        for status in (level[checkin] for level in levels if checkin in level):
            if status.get("arrival") == "Close":
                fail("Invalid arrival", f"{checkin}: closed to arrival")
            if status.get("forward_min") and nights < status["forward_min"]:
                fail("Min stay", f"{checkin}: min stay {status['forward_min']} for arrivals")
            if status.get("forward_max") and nights > status["forward_max"]:
                fail("Max stay", f"{checkin}: max stay {status['forward_max']} for arrivals")
            pattern = status.get("pattern")
            if pattern and len(pattern) >= nights and pattern[nights - 1] == "N":
                fail("Restricted stay pattern", f"{checkin}: pattern {pattern} forbids {nights} nights")
            if status.get("min_advance") is not None and lead < status["min_advance"]:
                fail("Min advance booking", f"{checkin}: book at least {status['min_advance']} days ahead")
            if status.get("max_advance") is not None and lead > status["max_advance"]:
                fail("Max advance booking", f"{checkin}: book at most {status['max_advance']} days ahead")
        for status in (level[checkout] for level in levels if checkout in level):
            if status.get("departure") == "Close":
                fail("Invalid departure", f"{checkout}: closed to departure")

    @staticmethod
    def _night_amount(entry: dict[str, Any], adults: int, children: int) -> tuple[Decimal, Decimal | None, str] | None:
        """(paid, before tax, currency) for one night: the smallest defined occupancy that holds the guests, else the
        largest plus ``AdditionalGuestAmount`` per extra adult and child."""
        occupancies = {int(k): v for k, v in entry.get("occupancies", {}).items()}
        if not occupancies:
            return None
        guests = adults + children
        fitting = [n for n in occupancies if n >= guests]
        base = occupancies[min(fitting) if fitting else max(occupancies)]
        extra = Decimal(0)
        if not fitting:
            top = max(occupancies)
            extra_adults = max(0, adults - top)
            extra_children = guests - top - extra_adults
            additional = entry.get("additional_guests", {})
            if (extra_adults and "adult" not in additional) or (extra_children and "child" not in additional):
                return None
            extra = extra_adults * Decimal(additional.get("adult", 0)) + \
                extra_children * Decimal(additional.get("child", 0))
        before = Decimal(base["before_tax"]) + extra if base.get("before_tax") is not None else None
        paid = Decimal(base["after_tax"]) + extra if base.get("after_tax") is not None else before
        if paid is None:
            return None
        return paid, before, base["currency"]

    # --- control routes ------------------------------------------------------------------------------------------

    def handle_control(self, request: Request, name: str) -> Response | None:
        routes = {"partners": self._control_partners, "ari": self._control_ari, "price": self._control_price,
                  "points_of_sale": self._control_points_of_sale, "landing_url": self._control_landing_url,
                  "limits": self._control_limits}
        if name not in routes:
            return None
        try:
            return routes[name](request)
        except BadRequest as exc:
            return Response.json({"error": str(exc)}, 400)
        except (ValueError, TypeError, AttributeError, KeyError) as exc:  # a control body of the wrong shape
            return Response.json({"error": f"bad request: {exc!r}"}, 400)

    def _body(self, request: Request) -> dict[str, Any]:
        try:
            data = request.json()
        except ValueError:
            raise BadRequest("the body must be JSON") from None
        if not isinstance(data, dict):
            raise BadRequest("the body must be a JSON object")
        return data

    def _control_partners(self, request: Request) -> Response:
        if request.method == "POST":
            data = self._body(request)
            if not isinstance(data.get("partner"), str) or not isinstance(data.get("properties", []), list):
                raise BadRequest('give {"partner": "key", "properties": ["P1", ...]}')
            self._set_partner(data["partner"], [str(p) for p in data.get("properties", [])])
        return Response.json({partner: sorted(props) for partner, props in self.partners.items()})

    def _control_limits(self, request: Request) -> Response:
        if request.method == "POST":
            value = self._body(request).get("requests_per_minute")
            if value is not None and (not isinstance(value, int) or value < 1):
                raise BadRequest("requests_per_minute must be a positive integer or null")
            self.requests_per_minute, self._recent = value, []
        return Response.json({"requests_per_minute": self.requests_per_minute})

    def _control_ari(self, request: Request) -> Response:
        if request.method == "POST":
            return self._overwrite_ari(self._body(request))
        prop_id = request.param("property")
        if prop_id not in self.properties:
            return Response.json({"error": f"unknown property {prop_id!r}"}, 404)
        start = _iso(request.param("start"), "start") if request.param("start") else date.min
        end = _iso(request.param("end"), "end") if request.param("end") else date.max
        prop = self.properties[prop_id]

        def dated(values: dict[date, Any]) -> dict[str, Any]:
            return {day.isoformat(): value for day, value in sorted(values.items()) if start <= day <= end}

        def nested(store: dict[tuple[str, str], dict[date, Any]]) -> dict[str, dict[str, Any]]:
            out: dict[str, dict[str, Any]] = {}
            for (room, package), values in sorted(store.items()):
                out.setdefault(room, {})[package] = dated(values)
            return out

        return Response.json({
            "property": prop_id, "partners": sorted(p for p, props in self.partners.items() if prop_id in props),
            "rooms": prop.rooms, "packages": prop.packages, "fees": prop.fees,
            "promotions": sorted(prop.promotions.values(), key=lambda p: p["id"]), "rates": nested(prop.rates),
            "availability": nested(prop.avail),
            "inventory": {room: dated(values) for room, values in sorted(prop.inventory.items())}})

    def _overwrite_ari(self, data: dict[str, Any]) -> Response:
        prop = self.properties.get(str(data.get("property")))
        if prop is None:
            raise BadRequest(f"unknown property {data.get('property')!r}")
        first = _iso(data.get("date"), "date")
        last = _iso(data["end"], "end") if data.get("end") else first
        room = str(data.get("room") or (next(iter(prop.rooms)) if len(prop.rooms) == 1 else data["property"]))
        package = str(data.get("package") or (next(iter(prop.packages)) if len(prop.packages) == 1 else ""))
        if not package and ("rate" in data or "restrictions" in data):
            raise BadRequest("package is required: the property has no single package")
        days = [first + timedelta(days=n) for n in range((last - first).days + 1)]
        for day in days:
            if "rate" in data:
                rates = prop.rates.setdefault((room, package), {})
                if data["rate"] is None:
                    rates.pop(day, None)
                else:
                    rates[day] = {"occupancies": data["rate"].get("occupancies", {}),
                                  "additional_guests": data["rate"].get("additional_guests", {})}
            if "inventory" in data:
                inventory = prop.inventory.setdefault(room, {})
                if data["inventory"] is None:
                    inventory.pop(day, None)
                else:
                    inventory[day] = int(data["inventory"])
            if "restrictions" in data:
                avail = prop.avail.setdefault((room, package), {})
                if data["restrictions"] is None:
                    avail.pop(day, None)
                    continue
                entry = avail.setdefault(day, {})
                for key, value in data["restrictions"].items():
                    if value is None:
                        entry.pop(key, None)
                    else:
                        entry[key] = value
        return Response.json({"updated": [day.isoformat() for day in days], "room": room, "package": package or None})

    def _itinerary(self, request: Request) -> tuple[str, date, int, int, int]:
        prop_id = request.param("property")
        if not prop_id:
            raise BadRequest("property is required")
        return (prop_id, _iso(request.param("checkin"), "checkin"), _number(request, "nights", minimum=1),
                _number(request, "adults", 2, minimum=1), _number(request, "children", 0))

    def _control_price(self, request: Request) -> Response:
        prop_id, checkin, nights, adults, children = self._itinerary(request)
        return Response.json(self.price(prop_id, checkin, nights, adults, children,
                                        request.param("room") or None, request.param("package") or None))

    def _control_points_of_sale(self, request: Request) -> Response:
        if request.method == "POST":
            try:
                root = _parse_xml(request.body)
            except ET.ParseError as exc:
                raise BadRequest(f"Malformed XML: {exc}") from None
            if root.tag != "PointsOfSale":
                raise BadRequest(f"the root element must be PointsOfSale, not {root.tag}")
            points = []
            for node in root.findall("PointOfSale"):
                url = _text(node, "URL")
                if not node.get("id") or not url:
                    raise BadRequest("every PointOfSale needs an id and a URL")
                matches = [{"status": m.get("status", "yes"),
                            **{k: v for k, v in m.attrib.items() if k != "status"}} for m in node.findall("Match")]
                points.append({"id": node.get("id"), "url": url, "matches": matches})
            if not points:
                raise BadRequest("PointsOfSale holds no PointOfSale")
            self.points_of_sale = points
        return Response.json({"points_of_sale": self.points_of_sale})

    @staticmethod
    def _pos_matches(point: dict[str, Any], user: dict[str, str]) -> bool:
        def same(kind: str, value: str) -> bool:
            mine = user.get(kind, "").lower()
            return value.lower() == mine or (kind == "language" and mine.split("-")[0] == value.lower())

        wanted: dict[str, list[str]] = {}
        for match in point["matches"]:
            conditions = {k: v for k, v in match.items() if k != "status"}
            if match["status"] == "never":
                if conditions and all(same(k, v) for k, v in conditions.items()):
                    return False
                continue
            for kind, value in conditions.items():
                wanted.setdefault(kind, []).append(value)
        return all(any(same(kind, value) for value in values) for kind, values in wanted.items())

    def _control_landing_url(self, request: Request) -> Response:
        prop_id, checkin, nights, adults, children = self._itinerary(request)
        quote_ = self.price(prop_id, checkin, nights, adults, children,
                            request.param("room") or None, request.param("package") or None)
        partner_currency = quote_["currency"]
        currency = request.param("currency") or partner_currency or ""
        fx = Decimal(1)
        if partner_currency and currency != partner_currency:
            if not request.param("fx"):
                raise BadRequest(f"currency {currency} differs from the price's {partner_currency}: give fx")
            try:
                fx = Decimal(request.param("fx") or "")
            except InvalidOperation:
                raise BadRequest("fx must be a number") from None
        user = {"currency": currency, "language": request.param("language") or "en",
                "country": request.param("country") or "US", "device": request.param("device") or "desktop",
                "sitetype": request.param("site") or "localuniversal"}
        template, point_id = request.param("template"), None
        if not template:
            point = next((p for p in self.points_of_sale if self._pos_matches(p, user)), None)
            if point is None:
                return Response.json({"error": "no template given and no PointOfSale matches" if self.points_of_sale
                                      else "no template given and no PointsOfSale file was posted"}, 422)
            template, point_id = point["url"], point["id"]
        ages = [a for a in (request.param("child_ages") or "").split(",") if a.strip()]
        checkout = checkin + timedelta(days=nights)

        def shown(amount: str | None) -> str:
            return str((Decimal(amount) * fx).quantize(CENT, ROUND_HALF_UP)) if amount is not None else ""

        values = {
            "PARTNER-HOTEL-ID": prop_id, "ALTERNATE-HOTEL-ID": request.param("alternate_id") or "",
            "CHECKINYEAR": f"{checkin.year:04d}", "CHECKINMONTH": f"{checkin.month:02d}",
            "CHECKINDAY": f"{checkin.day:02d}", "CHECKINDAY-OF-WEEK": checkin.strftime("%A"),
            "CHECKOUTYEAR": f"{checkout.year:04d}", "CHECKOUTMONTH": f"{checkout.month:02d}",
            "CHECKOUTDAY": f"{checkout.day:02d}", "LENGTH": str(nights),
            "ADVANCE-BOOKING-WINDOW": str((checkin - self._today()).days),
            "CAMPAIGN-ID": request.param("campaign_id") or "", "NUM-ADULTS": str(adults),
            "NUM-CHILDREN": str(children), "PACKAGE-ID": quote_["package"] or "",
            "PARTNER-ROOM-ID": quote_["room"] or "", "USER-CURRENCY": currency, "USER-LANGUAGE": user["language"],
            "USER-COUNTRY": user["country"], "USER-DEVICE": user["device"], "GOOGLE-SITE": user["sitetype"],
            "PRICE-DISPLAYED-TOTAL": shown(quote_["total"]), "PRICE-DISPLAYED-TAX": shown(quote_["tax"]),
            "PARTNER-CURRENCY": partner_currency or "", "DATE-TYPE": request.param("date_type") or "selected",
            "VERIFICATION": "true" if request.param("verification") in ("1", "true") else "false",
            "CLICK-TYPE": request.param("click_type") or "hotel",
        }
        flags = {"AD-CLICK": request.param("ad_click") in ("1", "true"),
                 "VERIFICATION": values["VERIFICATION"] == "true"}
        url, unknown = self.render(template, values, flags, ages)
        return Response.json({"url": url, "point_of_sale": point_id, "available": quote_["available"],
                              "price": quote_, "unknown_variables": unknown})

    @staticmethod
    def render(template: str, values: dict[str, str], flags: dict[str, bool], child_ages: list[str]
               ) -> tuple[str, list[str]]:
        """Expand a landing-page URL template: conditions, the child-age loop, then the variables (unknown ones are
        left as written and reported)."""
        unknown: list[str] = []

        def condition(match: re.Match[str]) -> str:
            name = match.group(1)
            if name not in flags:
                unknown.append(f"IF-{name}")
            return match.group(2) if flags.get(name) else (match.group(3) or "")

        def loop(match: re.Match[str]) -> str:
            return "".join(match.group(1).replace("(CHILD-INDEX)", str(index))
                           .replace("(CHILD-AGE)", quote(age.strip(), safe=""))
                           for index, age in enumerate(child_ages))

        def variable(match: re.Match[str]) -> str:
            name = match.group(1)
            if name in values:
                return quote(values[name], safe="-._~")
            unknown.append(name)
            return match.group(0)

        expanded = VARIABLE.sub(variable, CHILD_LOOP.sub(loop, CONDITION.sub(condition, template)))
        return expanded, sorted(set(unknown))
