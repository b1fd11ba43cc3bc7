"""Google Vacation Rentals (Hotel Center "ARI" push): availability, stay rules and prices of our properties, pushed
to Google as XML, so that Google can show a price for a stay and send the guest to our own property page (free
booking links, ``storefront.landing_views``). Guests never book on Google: there are no reservations to pull
(``pushes_reservations = False``).

Follows the issue-14 research notes (``google_vr.md``) and the emulator that models them
(``channels.emulators.google_vr``; its docstring lists Google's pages). Base URL: ``GOOGLE_VR_BASE_URL``
(``https://www.google.com``; in tests the emulator, which ``python manage.py channel_emulator google_vr`` also
serves). "Inferred" below marks what the notes could not confirm from Google's own text.

**Authentication.** Google allowlists the partner's IP addresses (Hotel Center, *Prices > Settings*); there is no
token. Every message names the partner: ``Transaction@partner`` and ``POS/Source/RequestorID@ID``. Credentials:
``{"partner_key": ...}`` (the Hotel Center partner account key). Our servers' outgoing addresses must be on the
allowlist: that is the owner's (or our operator's) set-up in Hotel Center, not something this adapter can do.

**Ids** (a vacation rental is one "room" with one "package"):

* property (``HotelCode``, ``Transaction/PropertyDataSet/Property``, the landing page's ``(PARTNER-HOTEL-ID)``):
  ``remote_property_id``, by default our property's **slug**. The slug is what the landing URL
  ``/go/google/<slug>`` carries, so the owner's one ``PointsOfSale`` template works for every property; a
  connection with another id still lands (the landing view also looks the id up among the Google connections).
  Chosen over the numeric id because it is what the property listing and the landing page already show; the cost:
  Google knows the property by it, so a renamed slug needs the old one kept as ``remote_property_id``.
* room (``RoomID`` / ``InvTypeCode``): ``remote_room_type_id``, by default the property id itself (the notes'
  recommendation for vacation rentals, inferred: Google's VR pages do not say);
* package (``PackageID`` / ``RatePlanCode``, the landing page's ``(PACKAGE-ID)``): ``remote_rate_plan_id``, by
  default ``"STD"``.

**What is pushed** (every message is a delta at Google; ``Start``/``End`` are inclusive dates; each range of nights
with equal values is one element, every aspect — rates, master status and stays, arrival, departure — compressed on
its own, so a weekly arrival pattern does not split the rates; one message per kind and push, one ``HotelCode``
per message):

* ``Transaction`` (``/travel/hotels/uploads/property_data``): the room (name, ``Capacity`` = the property's maximum
  guests) and the package, ``action="overlay"`` (we are the only source of this property's rooms and packages).
  **Rule**: it is sent first whenever a push covers the whole horizon — a full sync (a new connection, the owner's
  button, a repair) and every change of prices, fees, stay rules, status or maximum guests (``pricing.updated``
  re-pushes every night; a renamed property reaches Google with the next of these) — since Google needs rooms and
  packages defined before it accepts anything about them. And it is sent, then the refused
  message once more, whenever Google answers ``Undefined room`` / ``Undefined package`` / ``Invalid room rate
  mapping`` (a first push that was not a full sync, or data Google lost): the message texts are the notes' English
  reasons; Google's own error codes are not documented (inferred).
* ``TaxFeeInfo`` (``/travel/hotels/uploads/taxes``): the property's fees (below), right after every
  ``Transaction`` — the same rule, so every change of prices or fees reaches Google with it. Its only action is
  ``overlay`` (Google's text): each message replaces all of the property's fees, so a property without a cleaning
  fee sends an empty ``Fees``, which clears an old one.
* ``Promotions`` (``/travel/hotels/uploads/promotions``): the property's stay-level discounts (below), right after
  the ``TaxFeeInfo`` — the same rule; ``overlay``, so each message replaces all of the property's promotions.
* ``OTA_HotelInvCountNotifRQ`` (``.../ota/hotel_inv_count_notif``), the **availability** kind: inventory 1 for a
  night we can sell, 0 for a night that is booked, held, blocked, a buffer day or past (``channels.ari``).
* ``OTA_HotelRateAmountNotifRQ`` (``.../ota/hotel_rate_amount_notif``), the **rates**, and
  ``OTA_HotelAvailNotifRQ`` (``.../ota/hotel_avail_notif``), the **stay rules**, together the restrictions kind:
  per run a ``RestrictionStatus`` Master ``Open``/``Close`` (``Close`` = stop sell: property not active, or no
  price), ``Arrival`` and ``Departure`` ``Open``/``Close`` (closed to arrival: not a check-in weekday, inside the
  lead time, beyond the advance window; closed to departure: not a check-out weekday), and the minimum and maximum
  stay *of an arrival that day* as ``SetForwardMinStay`` / ``SetForwardMaxStay`` (our rules are those of the
  arrival night, ``properties.stay_rules``; the notes read ``SetMinLOS``/``SetMaxLOS`` as "any night of the stay",
  which is not our rule — that reading is inferred). Every value is sent explicitly (``Open`` as well as
  ``Close``), because each message is a delta: an old ``Close`` is lifted only by an ``Open``.

Google prices a night only when all four have been received (rate, inventory >= 1, an ``Open`` Master status).

**Prices, taxes and fees: how Google's total relates to our quote.** Google's price of a stay is the sum of its
nightly ``AmountAfterTax`` for the party's occupancy (``BaseByGuestAmt`` per ``NumberOfGuests``) plus the property's
``TaxFeeInfo`` fees. Each night is sent as:

* ``AmountBeforeTax`` = the night's price (``channels.ari``: base, date overrides, seasonal and weekend rules) plus
  the extra-guest fee for each guest above the property's "guests included" — one ``BaseByGuestAmt`` per occupancy
  from "guests included" up to the property's maximum (Google uses the smallest occupancy that holds the party, so
  smaller parties pay the included price), a single one for the maximum when there is no extra-guest fee;
* ``AmountAfterTax`` = that amount plus the property's tax rate, rounded to the currency's minor unit per night
  (for these nightly taxes ``TaxFeeInfo`` is then not needed: Google's text).

The **cleaning fee** (once per stay) is one ``TaxFeeInfo`` ``Fee``: ``Type`` amount, ``Basis`` room, ``Period``
stay, ``Amount`` = the fee plus the property's tax rate, rounded to the minor unit (our quote taxes it at that rate).
Sent tax included because the notes did not capture how Google taxes a fee ("taxable fees" is a scenario of
Google's tax page the notes do not hold): the total is then right, but Google's *displayed tax*
(``PRICE-DISPLAYED-TAX``) leaves out the fee's tax (inferred; the emulator models exactly this).

So for a stay **without stay-level discounts** (for those: below) Google's total equals our quote's total — with or
without a cleaning fee — up to rounding: we round the tax once over the stay, Google adds amounts rounded each
(every night, and the fee) — apart by at most about half a minor unit per night and half for the fee, not at all
when the taxes come out in whole minor units.

**Stay-level discounts: the ``Promotions`` message** (``/travel/hotels/uploads/promotions``, Google's
xml-reference/ari-promotions and dev-guide/ari-promotions-message), sent right after every ``TaxFeeInfo`` — the same
rule, so every change of a pricing rule reaches Google with it — as ``HotelPromotions action="overlay"`` (Google's
text: it replaces all of the property's promotions; none sent clears old ones). Our quote
(``properties.pricing.compute_quote``) applies a length-of-stay, early-bird or last-minute rule to every night of a
matching stay, before tax, and never to the fees; Google applies a promotion to the nightly ``AmountAfterTax``
(Google's text: to ``AmountBeforeTax`` only where no after-tax amount is sent), not to ``TaxFeeInfo`` fees. With the
tax a percentage of nights and fees alike, a percentage off the nights after tax is that percentage off the nights
before tax, taxed: the same amount. (The nightly rates carry no stay-level rule: ``channels.ari`` prices a night
with its night rules only, so a promotion is never taken twice.) Each rule is one ``Promotion`` (``id``
``rule-<id>``):

* length of stay (``nights >= min_nights``) → ``<LengthOfStay min="min_nights"/>``;
* early bird (``days before arrival >= days``) → ``<BookingWindow min="days"/>``;
* last minute (``days before arrival <= days``) → ``<BookingWindow max="days"/>``;
* its value → ``<Discount percentage="..."/>`` (``-10`` → ``10.00``); no ``Stacking`` (Google's default, ``base``).

Inferred: ``min``/``max`` are inclusive, and Google counts the days before arrival as we do (the property's local
date; Google's text does not say which clock); Google takes the percentage of the stay's nightly sum and rounds it
once, where we round each night's discount (a cent or so apart).

So Google's total equals our quote's (up to that rounding) also for a stay one stay-level discount reaches. **Still a
gap** (Google's total then differs from the landing page's):

* **Two kinds at once.** Our quote compounds one rule of each kind (length of stay, then early bird, then last
  minute); Google applies only the single greatest discount (a ``base`` promotion never combines with another
  ``base``; how Google would combine percentages with other ``Stacking`` types is not in the text we hold), so for a
  stay that two kinds reach, Google shows *more* than our page: the smaller discounts are missing.
* **A kind Google would pick differently is not sent at all.** Among the rules of one kind that match, our quote
  takes the highest priority, Google the greatest discount: a kind is sent only if these agree for every stay
  (:meth:`GoogleVrAdapter.promoted_rules`). Otherwise none of its rules is sent, so Google shows more for the stays
  it reaches, never less.
* **Fixed amounts and surcharges.** A kind with a fixed-amount rule, a surcharge (a positive value) or a
  percentage over 100 is not sent:
  ``Promotions`` only discount, and a fixed amount would be taken off after tax (inferred) where ours is before.
  Google shows more than our page for a stay such a discount reaches, *less* for one such a surcharge reaches.

The landing-page tests (``tests/channels/api/test_google_vr.py``) check equality with a cleaning fee, a tax rate and
a length-of-stay or a last-minute discount, and the two-kinds gap.

**Booking window.** Google takes dates up to 330 days ahead (``horizon_days``; the emulator refuses a date
beyond, Google may only ignore it) and Vacation Rentals prices stays of at most 30 nights: that is Google's rule
at search time, nothing is pushed for it (our own maximum stay is pushed as it is; a longer one simply never comes
from Google).

**Answers.** HTTP 200 with ``<Success/>`` or ``<Errors><Error Type Code ShortText/>`` (OTA 2003/05; a
``Transaction`` answers ``<Status>Success|Failure</Status>`` with ``<Issues>``): errors become an
:class:`AdapterError` — OTA ``Type`` 4/6 (authentication, authorization: e.g. a property the partner does not hold)
``forbidden``, ``Type`` 12 (processing exception) retryable, the rest ``rejected`` (the breaker opens until the
owner fixes the connection). HTTP 429/5xx and timeouts are retryable, 403 (address or partner not allowed) is
refused credentials (``base.status_error``). Responses are parsed with DOCTYPE and entity declarations refused.

**Limits.** Google documents no request rate for these uploads (third-party notes: about 400 messages per second
per account, 5 MB per message). :meth:`GoogleVrAdapter.limits` keeps a conservative local scope instead: 60 pushes
a minute per partner account (a push is a handful of messages), far below either figure, so that a burst of changes
across many properties is spread out rather than fired at once.
"""

from __future__ import annotations

import re
import uuid
import xml.etree.ElementTree as ET  # noqa: S405 - answers are parsed by _parse, which refuses DOCTYPE and entities
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings

from core.crypto import token_digest
from core.money import round_money
from properties.pricing import RuleSpec, pricing_spec

from ..ari import NightAvailability, NightRestrictions, Run
from ..ari import runs as ari_runs
from .base import (
    Adapter,
    AdapterError,
    LimitScope,
    PushResult,
    RemoteProperty,
    http_session,
    send,
    status_error,
)

OTA_NS = "http://www.opentravel.org/OTA/2003/05"
PROPERTY_DATA = "/travel/hotels/uploads/property_data"
RATES = "/travel/hotels/uploads/ota/hotel_rate_amount_notif"
AVAILABILITY = "/travel/hotels/uploads/ota/hotel_avail_notif"
INVENTORY = "/travel/hotels/uploads/ota/hotel_inv_count_notif"
TAXES = "/travel/hotels/uploads/taxes"
PROMOTIONS = "/travel/hotels/uploads/promotions"
DEFAULT_PACKAGE_ID = "STD"
BOOKING_WINDOW_DAYS = 330  # Vacation Rentals: check-in at most 330 days ahead (support.google.com/hotelprices 11947223)
MAX_STAY_NIGHTS = 30  # ... and stays of at most 30 nights (Google's search-time rule: nothing to push)
# Undefined room / package, a combination the property data excludes: the property data is sent again (inferred
# from the notes' reasons; Google's codes are not documented).
HEAL_TEXTS = ("undefined room", "undefined package", "invalid room rate mapping")
PUSHES_PER_MINUTE = 60  # our own conservative scope: Google documents none
STAY_KINDS = ("length_of_stay", "early_bird", "last_minute")  # properties.pricing: rules that match the whole stay


def _q(tag: str) -> str:
    return f"{{{OTA_NS}}}{tag}"


def _timestamp() -> str:
    return datetime.now(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def _token(prefix: str) -> str:
    """An ``EchoToken`` / message id: Google allows ``[a-zA-Z0-9_-]``."""
    return f"{prefix}-{uuid.uuid4().hex[:20]}"


def _amount(value: Decimal) -> str:
    return f"{value:f}"


class _Refused(Exception):
    """The answer declares a DOCTYPE or an entity."""


def _parse(body: bytes) -> ET.Element:
    """Parse an answer; a DOCTYPE or entity declaration is refused first, so no entity can be declared, expanded
    or fetched (the XML of these answers never needs one)."""
    if re.search(rb"<!DOCTYPE|<!ENTITY", body, re.IGNORECASE):
        raise _Refused()
    return ET.fromstring(body)  # noqa: S314 - no DOCTYPE, hence no entity declaration, reaches the parser


class GoogleVrAdapter(Adapter):
    name = "google_vr"
    label = "Google Vacation Rentals"
    horizon_days = BOOKING_WINDOW_DAYS
    pushes_reservations = False  # guests book on our own site (the landing page), never on Google
    kinds = 3

    def __init__(self) -> None:
        self.session = http_session()

    # --- ids and credentials ----------------------------------------------------------------------------------

    def _partner(self, connection) -> str:
        key = connection.credential("partner_key")
        if not key:
            raise AdapterError("bad_credentials", "No Google partner key is set for this connection.")
        return key

    @staticmethod
    def property_id(connection) -> str:
        return connection.remote_property_id or connection.property.slug

    def room_id(self, connection) -> str:
        return connection.remote_room_type_id or self.property_id(connection)

    @staticmethod
    def package_id(connection) -> str:
        return connection.remote_rate_plan_id or DEFAULT_PACKAGE_ID

    # --- set-up -----------------------------------------------------------------------------------------------

    def credential_fields(self) -> list[tuple[str, str]]:
        return [("partner_key", "Hotel Center partner key")]

    def list_properties(self, connection) -> list[RemoteProperty]:
        """Google has no API to list properties for ARI partners: the property is what we tell it (no request)."""
        prop = connection.property
        return [RemoteProperty(property_id=self.property_id(connection), title=prop.name, currency=prop.currency,
                               room_type_id=self.room_id(connection), rate_plan_id=self.package_id(connection))]

    # --- outbound ---------------------------------------------------------------------------------------------

    def limits(self, connection, kind: int) -> list[LimitScope]:
        # Per partner account (its digest: the key itself stays in the database).
        return [LimitScope(f"google_vr:{token_digest(self._partner(connection))[:16]}", PUSHES_PER_MINUTE, 60)]

    def push_availability(self, connection, runs: list[Run[NightAvailability]]) -> PushResult:
        result = PushResult()
        if not runs:
            return result
        if self._whole_horizon(runs):
            self._send_property_data(connection, result)
        self._send(connection, result, INVENTORY, lambda: self._inventory_message(connection, runs))
        return result

    def push_restrictions(self, connection, runs: list[Run[NightRestrictions]]) -> PushResult:
        result = PushResult()
        if not runs:
            return result
        nights = {run.first + timedelta(days=n): run.value for run in runs
                  for n in range((run.last - run.first).days + 1)}
        # Each aspect compressed on its own: a weekly arrival pattern does not split the rates' ranges, nor weekend
        # rates the stay rules' (a 330-night push stays a few hundred elements).
        rates = ari_runs({day: (v.rate, v.currency) for day, v in nights.items() if self._open(v)})
        if rates:
            self._send(connection, result, RATES, lambda: self._rate_message(connection, rates))
        master = ari_runs({day: (self._open(v), v.min_stay, v.max_stay) for day, v in nights.items()})
        arrival = ari_runs({day: v.closed_to_arrival for day, v in nights.items()})
        departure = ari_runs({day: v.closed_to_departure for day, v in nights.items()})
        self._send(connection, result, AVAILABILITY,
                   lambda: self._availability_message(connection, master, arrival, departure))
        return result

    @staticmethod
    def _open(value: NightRestrictions) -> bool:
        return value.rate > 0 and not value.stop_sell

    def _whole_horizon(self, runs: list[Run[Any]]) -> bool:
        return sum((run.last - run.first).days + 1 for run in runs) >= self.horizon_days

    # --- messages ---------------------------------------------------------------------------------------------

    def _ota_root(self, connection, name: str, prefix: str) -> ET.Element:
        # Built with plain names and the OTA namespace declared on the root (``default_namespace`` of ElementTree
        # would refuse the unqualified attributes).
        root = ET.Element(name, {"xmlns": OTA_NS, "EchoToken": _token(prefix), "TimeStamp": _timestamp(),
                                 "Version": "3.0"})
        ET.SubElement(ET.SubElement(ET.SubElement(root, "POS"), "Source"), "RequestorID",
                      {"ID": self._partner(connection)})
        return root

    def _control(self, parent: ET.Element, connection, run: Run[Any], *, package: bool = True) -> None:
        attrs = {"Start": run.first.isoformat(), "End": run.last.isoformat(), "InvTypeCode": self.room_id(connection)}
        if package:
            attrs["RatePlanCode"] = self.package_id(connection)
        ET.SubElement(parent, "StatusApplicationControl", attrs)

    def property_data_message(self, connection) -> bytes:
        prop = connection.property
        root = ET.Element("Transaction", {"timestamp": _timestamp(), "id": _token("t"),
                                          "partner": self._partner(connection)})
        data_set = ET.SubElement(root, "PropertyDataSet", {"action": "overlay"})
        ET.SubElement(data_set, "Property").text = self.property_id(connection)
        room = ET.SubElement(data_set, "RoomData")
        ET.SubElement(room, "RoomID").text = self.room_id(connection)
        ET.SubElement(ET.SubElement(room, "Name"), "Text", {"text": prop.name, "language": "en"})
        ET.SubElement(room, "Capacity").text = str(max(1, prop.max_guests or 1))
        package = ET.SubElement(data_set, "PackageData")
        ET.SubElement(package, "PackageID").text = self.package_id(connection)
        ET.SubElement(ET.SubElement(package, "Name"), "Text", {"text": "Standard rate", "language": "en"})
        return ET.tostring(root, encoding="UTF-8", xml_declaration=True)

    def cleaning_fee_after_tax(self, connection) -> Decimal:
        """The property's cleaning fee with its tax (the property's tax rate), rounded to the currency's minor unit:
        what the guest pays for it once per stay (``properties.pricing.compute_quote``)."""
        prop = connection.property
        fee = round_money(Decimal(prop.cleaning_fee or 0), prop.currency)
        return round_money(fee + fee * Decimal(prop.tax_rate or 0) / 100, prop.currency)

    def tax_fee_message(self, connection) -> bytes:
        """``TaxFeeInfo`` (``overlay``: it replaces every fee Google holds for the property): the cleaning fee, tax
        included, once per stay; no ``Fee`` without a cleaning fee, which clears an old one."""
        prop = connection.property
        root = ET.Element("TaxFeeInfo", {"timestamp": _timestamp(), "id": _token("f"),
                                         "partner": self._partner(connection)})
        node = ET.SubElement(root, "Property", {"action": "overlay"})
        ET.SubElement(node, "ID").text = self.property_id(connection)
        fees = ET.SubElement(node, "Fees")
        amount = self.cleaning_fee_after_tax(connection)
        if amount > 0:
            fee = ET.SubElement(fees, "Fee")
            for tag, value in (("Type", "amount"), ("Basis", "room"), ("Period", "stay"),
                               ("Currency", prop.currency), ("Amount", _amount(amount))):
                ET.SubElement(fee, tag).text = value
        return ET.tostring(root, encoding="UTF-8", xml_declaration=True)

    @staticmethod
    def promoted_rules(connection) -> tuple[list[RuleSpec], list[str]]:
        """``(rules sent as promotions, kinds that stay a gap)``: the property's active stay-level rules that a
        ``Promotions`` message expresses faithfully (see the module docstring). A kind is sent only whole: every one of
        its rules a percentage discount, and, for every stay, the rule our quote picks (highest priority) also the
        greatest discount among those that match — what Google picks."""
        rules = [r for r in pricing_spec(connection.property).rules if r.kind in STAY_KINDS]
        sent: list[RuleSpec] = []
        gaps: list[str] = []
        for kind in STAY_KINDS:
            of_kind = [r for r in rules if r.kind == kind]
            if not of_kind:
                continue
            if any(r.adjustment != "percent" or not -100 <= r.value < 0 for r in of_kind):
                gaps.append(kind)
                continue
            usable = [r for r in of_kind if (r.min_nights if kind == "length_of_stay" else r.days) is not None]
            if all(_picks_greatest(usable, r) for r in usable):
                sent += usable
            else:
                gaps.append(kind)
        return sent, gaps

    def promotions_message(self, connection) -> bytes:
        """``Promotions`` (``HotelPromotions action="overlay"``: it replaces every promotion Google holds for the
        property, so a property without one sends none, which clears old ones): one ``Promotion`` per rule of
        :meth:`promoted_rules`, its condition and its percentage."""
        root = ET.Element("Promotions", {"partner": self._partner(connection), "id": _token("p"),
                                         "timestamp": _timestamp()})
        hotel = ET.SubElement(root, "HotelPromotions", {"hotel_id": self.property_id(connection),
                                                        "action": "overlay"})
        for rule in self.promoted_rules(connection)[0]:
            promotion = ET.SubElement(hotel, "Promotion", {"id": f"rule-{rule.id}"})
            if rule.kind == "early_bird":
                ET.SubElement(promotion, "BookingWindow", {"min": str(rule.days)})
            elif rule.kind == "last_minute":
                ET.SubElement(promotion, "BookingWindow", {"max": str(rule.days)})
            ET.SubElement(promotion, "Discount", {"percentage": _amount(-rule.value)})
            if rule.kind == "length_of_stay":
                ET.SubElement(promotion, "LengthOfStay", {"min": str(rule.min_nights)})
        return ET.tostring(root, encoding="UTF-8", xml_declaration=True)

    def _inventory_message(self, connection, runs: list[Run[NightAvailability]]) -> bytes:
        root = self._ota_root(connection, "OTA_HotelInvCountNotifRQ", "i")
        inventories = ET.SubElement(root, "Inventories", {"HotelCode": self.property_id(connection)})
        for run in runs:
            inventory = ET.SubElement(inventories, "Inventory")
            self._control(inventory, connection, run, package=False)
            ET.SubElement(ET.SubElement(inventory, "InvCounts"), "InvCount",
                          {"Count": str(max(0, run.value.available)), "CountType": "2"})
        return ET.tostring(root, encoding="UTF-8", xml_declaration=True)

    def occupancy_amounts(self, connection, rate: Decimal, currency: str) -> list[tuple[int, Decimal, Decimal]]:
        """``[(number of guests, amount before tax, amount after tax)]`` of one night priced ``rate`` (see the module
        docstring: extra-guest fees per occupancy, the tax rate included after tax, rounded per night)."""
        prop = connection.property
        capacity = max(1, prop.max_guests or 1)
        included = max(1, min(prop.guests_included or 1, capacity))
        fee = Decimal(prop.extra_guest_fee or 0)
        tax = Decimal(prop.tax_rate or 0)
        occupancies = range(included, capacity + 1) if fee > 0 else [capacity]
        out = []
        for guests in occupancies:
            before = round_money(rate + fee * max(0, guests - included), currency)
            after = round_money(before + before * tax / 100, currency)
            out.append((guests, before, after))
        return out

    def _rate_message(self, connection, runs: list[Run[tuple[Decimal, str]]]) -> bytes:
        root = self._ota_root(connection, "OTA_HotelRateAmountNotifRQ", "r")
        root.set("NotifType", "Delta")
        messages = ET.SubElement(root, "RateAmountMessages", {"HotelCode": self.property_id(connection)})
        for run in runs:
            rate, currency = run.value
            message = ET.SubElement(messages, "RateAmountMessage")
            self._control(message, connection, run)
            amounts = ET.SubElement(ET.SubElement(ET.SubElement(message, "Rates"), "Rate"), "BaseByGuestAmts")
            for guests, before, after in self.occupancy_amounts(connection, rate, currency):
                ET.SubElement(amounts, "BaseByGuestAmt", {
                    "AmountBeforeTax": _amount(before), "AmountAfterTax": _amount(after), "CurrencyCode": currency,
                    "NumberOfGuests": str(guests)})
        return ET.tostring(root, encoding="UTF-8", xml_declaration=True)

    def _availability_message(self, connection, master: list[Run[tuple[bool, int, int]]],
                              arrival: list[Run[bool]], departure: list[Run[bool]]) -> bytes:
        root = self._ota_root(connection, "OTA_HotelAvailNotifRQ", "a")
        messages = ET.SubElement(root, "AvailStatusMessages", {"HotelCode": self.property_id(connection)})
        for run in master:
            open_, min_stay, max_stay = run.value
            message = ET.SubElement(messages, "AvailStatusMessage")
            self._control(message, connection, run)
            stays = ET.SubElement(message, "LengthsOfStay")
            for kind, nights in (("SetForwardMinStay", min_stay), ("SetForwardMaxStay", max_stay)):
                ET.SubElement(stays, "LengthOfStay", {"Time": str(nights), "TimeUnit": "Day",
                                                      "MinMaxMessageType": kind})
            ET.SubElement(message, "RestrictionStatus", {"Status": "Open" if open_ else "Close",
                                                         "Restriction": "Master"})
        for restriction, closed_runs in (("Arrival", arrival), ("Departure", departure)):
            for closed_run in closed_runs:
                message = ET.SubElement(messages, "AvailStatusMessage")
                self._control(message, connection, closed_run)
                ET.SubElement(message, "RestrictionStatus", {"Status": "Close" if closed_run.value else "Open",
                                                             "Restriction": restriction})
        return ET.tostring(root, encoding="UTF-8", xml_declaration=True)

    # --- sending ----------------------------------------------------------------------------------------------

    def _send_property_data(self, connection, result: PushResult) -> None:
        """The ``Transaction``, then the ``TaxFeeInfo`` and the ``Promotions`` (the fees and the stay-level discounts
        follow the same rule: see the module docstring)."""
        self._post(connection, PROPERTY_DATA, self.property_data_message(connection))
        result.requests += 1
        self._post(connection, TAXES, self.tax_fee_message(connection))
        result.requests += 1
        self._post(connection, PROMOTIONS, self.promotions_message(connection))
        result.requests += 1

    def _send(self, connection, result: PushResult, path: str, build: Callable[[], bytes]) -> None:
        """Send one OTA message; when Google does not know the room or package, the property data, then the
        message once more."""
        try:
            self._post(connection, path, build())
        except _Undefined:
            result.requests += 1
            self._send_property_data(connection, result)
            try:
                self._post(connection, path, build())
            except _Undefined as exc:
                raise AdapterError("rejected", exc.detail) from None
        result.requests += 1

    def _post(self, connection, path: str, body: bytes) -> None:
        response = send(self.session, "POST", settings.GOOGLE_VR_BASE_URL.rstrip("/") + path, data=body,
                        headers={"Content-Type": "application/xml; charset=utf-8", "Accept": "application/xml"})
        root = None
        try:
            root = _parse(response.content) if response.content.lstrip().startswith(b"<") else None
        except (ET.ParseError, _Refused):
            root = None
        if response.status_code >= 400:
            raise status_error(response, "; ".join(text for _type, text in _errors(root)) if root is not None else "")
        if root is None:
            raise AdapterError("bad_response", f"Google answered {response.status_code} without a readable XML "
                                               "document.", retryable=True, status=response.status_code)
        if root.tag in ("TransactionResponse", "TaxFeeInfoResponse", "PromotionsResponse"):
            _check_transaction(root)
        else:
            _check_ota(root)


class _Undefined(AdapterError):
    """Google does not know the room or the package (or their combination) yet."""

    def __init__(self, detail: str):
        super().__init__("undefined", detail)


def _picks_greatest(rules: list[RuleSpec], anchor: RuleSpec) -> bool:
    """At the stay where ``anchor``'s threshold is reached (its nights, or its days before arrival), does the rule our
    quote picks among those that match give the greatest discount — the one Google picks? The rules that match change
    only at these thresholds, so checking every rule's covers every stay."""
    if anchor.kind == "length_of_stay":
        matching = [r for r in rules if r.matches_stay(anchor.min_nights or 0, 0)]
    else:
        matching = [r for r in rules if r.matches_stay(1, anchor.days or 0)]
    ours = max(matching, key=lambda r: (r.priority, -r.id))  # properties.pricing._best
    return ours.value == min(r.value for r in matching)


def _errors(root: ET.Element) -> list[tuple[str, str]]:
    """``[(OTA Type, text)]`` of an OTA ``<Errors>`` or a Transaction's ``<Issues>``."""
    found = [(e.get("Type", ""), e.get("ShortText") or (e.text or "").strip() or f"error {e.get('Code', '')}")
             for e in root.iter(_q("Error"))]
    found += [("", (issue.text or "").strip() or f"issue {issue.get('code', '')}") for issue in root.iter("Issue")]
    return found


def _raise(errors: list[tuple[str, str]]) -> None:
    detail = "; ".join(text for _type, text in errors)[:1000]
    if any(text.lower().startswith(HEAL_TEXTS) for _type, text in errors):
        raise _Undefined(detail)
    types = {kind for kind, _text in errors}
    if types & {"4", "6"}:
        raise AdapterError("forbidden", detail)
    if types and types <= {"12"}:
        raise AdapterError("platform_error", detail, retryable=True)
    raise AdapterError("rejected", detail)


def _check_ota(root: ET.Element) -> None:
    if root.find(_q("Success")) is not None and root.find(_q("Errors")) is None:
        return
    errors = _errors(root)
    if not errors:
        raise AdapterError("bad_response", f"Google answered {root.tag} with neither Success nor Errors.",
                           retryable=True)
    _raise(errors)


def _check_transaction(root: ET.Element) -> None:
    status = (root.findtext("Status") or "").strip()
    if status == "Success":
        return
    _raise(_errors(root) or [("", f"property data not accepted (status {status or 'missing'})")])


# --- the landing page Google sends guests to (served by storefront.landing_views) ----------------------------
# The owner uploads the file of :func:`points_of_sale_xml` in Hotel Center; its one URL template leads to our
# property page with the stay Google showed. Defined here, with the rest of the Google integration, so that the
# connection's admin page (channels) and the landing view (storefront, above) read the same template.

GOOGLE_URL_TEMPLATE = (
    "{site}/go/google/(PARTNER-HOTEL-ID)?checkin=(CHECKINYEAR)-(CHECKINMONTH)-(CHECKINDAY)&nights=(LENGTH)"
    "&adults=(NUM-ADULTS)&children=(NUM-CHILDREN)&currency=(USER-CURRENCY)&price=(PRICE-DISPLAYED-TOTAL)"
)


def google_url_template(site_url: str | None = None) -> str:
    return GOOGLE_URL_TEMPLATE.format(site=(site_url or settings.SITE_URL).rstrip("/"))


def points_of_sale_xml(site_url: str | None = None) -> str:
    """The landing-page file to upload in Hotel Center: one ``PointOfSale`` for every user (no ``Match``)."""
    root = ET.Element("PointsOfSale")
    point = ET.SubElement(root, "PointOfSale", {"id": "stayhold"})
    ET.SubElement(point, "URL").text = google_url_template(site_url)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode")
