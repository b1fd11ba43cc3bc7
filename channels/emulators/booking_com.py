"""Booking.com Connectivity APIs (OTA XML), emulated: token authentication, availability and restrictions, rates,
and the two reservation pull queues, for vacation rentals (one hotel = one room type = one rate plan).

Follows the Booking.com connectivity documentation as summarised in the project's research notes
(``booking_com.md``): https://developers.booking.com/connectivity/docs/token-based-authentication,
.../docs/authentication-best-practices, .../docs/ota-hotelavailnotif, .../docs/ota-rateamountnotif,
.../docs/rates-availability-error-codes, .../docs/reservations-api/reservations-process-ota,
.../reservations-api/retrieving-new-reservations-ota, .../acknowledging-new-reservations-ota,
.../retrieving-modifcancel-reservations-ota, .../acknowleding-modif-cancel-reservations-ota,
.../reservations-troubleshooting, .../api-reference/ (ota_hotelresnotifrq, hotelreservation, roomstay, roomrate,
total, guestcount, resglobalinfo, hotelreservationid, error, warning), and the older
https://connect.booking.com/user_guide/site/en-US/ota-hotelavailnotif/ and .../ota-rateamountnotif/.

One emulator serves both hosts' paths (in production ``connectivity-authentication.booking.com``,
``supply-xml.booking.com`` for ARI and ``secure-supply-xml.booking.com`` for reservations):

* ``POST /token-based-authentication/exchange`` — JSON ``{"client_id", "client_secret"}`` → ``{"jwt", "ruid"}``.
  The JWT (HS256) carries the documented claims (sub, aud, iss, exp, iat, jti, test, machine_account_id,
  provider_id, client_id) and is valid for one hour of the emulator clock; at most 30 tokens per machine account
  per rolling hour. Bad credentials → 401; the 31st token → 429 with ``Retry-After`` (status inferred).
* Every OTA call needs ``Authorization: Bearer <jwt>``: missing, unknown or expired → 401, a machine account not
  linked to the hotel → 403, both as an OTA ``<Errors><Error Code="497" …/>`` body in the endpoint's RS.
* ``POST /hotels/ota/OTA_HotelAvailNotif`` — ``OTA_HotelAvailNotifRQ``: per AvailStatusMessage a
  StatusApplicationControl (Start, End inclusive, InvTypeCode, RatePlanCode), BookingLimit (0..254; 255 kept as
  "unlimited", above 255 reset to 254, as the page says), RestrictionStatus (Status Open|Close, Restriction
  Master (default)|Arrival|Departure; without RatePlanCode a Master close closes the room), LengthsOfStay/
  LengthOfStay (SetMinLOS, SetMaxLOS; SetForwardMinStay, SetForwardMaxStay (inferred); Time in nights, 0 clears
  (inferred); TimeUnit absent or Day). Each message is a delta stored per date.
* ``POST /hotels/ota/OTA_HotelRateAmountNotif`` — ``OTA_HotelRateAmountNotifRQ``: RateAmountMessage/
  StatusApplicationControl + Rates/Rate/BaseByGuestAmts/BaseByGuestAmt (AmountAfterTax, CurrencyCode,
  DecimalPlaces, NumberOfGuests). "45.00" is taken as written; an amount without a dot is scaled by DecimalPlaces
  ("4500" + DecimalPlaces="2" = 45.00) (inferred). A currency other than the hotel's is refused; NumberOfGuests on
  a standard-priced rate is ``OBP_PRICING_PASSED_FOR_DEFAULT_RATE``.
* ``GET /hotels/ota/OTA_HotelResNotif`` — the unacknowledged new reservations as ``OTA_HotelResNotifRQ``
  (HotelReservation: RoomStays/RoomStay with RoomTypes, RatePlans/Commission, one RoomRate per night with
  EffectiveDate and an integer Total + DecimalPlaces, GuestCounts/GuestCount@Count, Total, BasicPropertyInfo;
  ResGuests; ResGlobalInfo with Total, HotelReservationIDs/HotelReservationID@ResID_Value@ResID_Date and the
  booker's Profiles). Filters: ``hotel_ids`` (comma list), ``id`` (404 "Hotel reservation was not found"),
  ``last_change`` (acknowledged ones too), ``limit``. ``POST`` the same path with ``OTA_HotelResNotifRS``
  acknowledges by ``HotelReservationID@ResID_Value`` (idempotent while that message is the reservation's latest;
  unknown id → error 635 (inferred); a message that is no longer the latest, or sent to the other endpoint → 400
  "Hotel reservation has transaction message of the wrong type"). An RS holding ``<Errors>`` rejects: the
  message stays queued.
* ``GET|POST /hotels/ota/OTA_HotelResModifyNotif`` — the same for modifications and cancellations
  (``OTA_HotelResModifyNotifRQ`` ▸ HotelResModifies ▸ HotelResModify with the full current reservation;
  ``ResStatus="Modify"|"Cancel"`` (inferred: Booking's table lists no flag); a cancellation keeps its RoomStays and
  its amounts are the cancellation fee (inferred)).

Queue rules: every change is its own message with its own id. A reservation has one live message: a newer one
supersedes an unacknowledged older one (inferred from the "wrong type" error). A change made before the new
reservation was acknowledged arrives as a new reservation on ResNotif with the latest content [doc]; a
cancellation before that acknowledgement withdraws the new message and is queued on ResModifyNotif (inferred).
A message neither acknowledged nor superseded 30 minutes (emulator clock) after it was queued is marked "emailed to
the property" [doc]; it is still returned by default, or no longer with ``return_emailed: false`` (inferred).

Validation: one hotel per request (from ``HotelCode``, else from the rooms, which are global ids); unknown hotel →
400 Error 392; rooms of several hotels → 400 Error 450; per message: unknown room → 402 ``ROOM_ID_INVALID``,
unknown rate plan → 783, End before Start → 320 ``FROM_DATE_SHOULD_BE_LESS_THAN_TO_DATE``, a Start more than one
day before today (Amsterdam time, the docs say CET) → 320 ``NOT_A_VALID_DATE``, more than 31 days in one message →
450 (inferred: the docs recommend one month per request; configurable). Some messages failing → 200 ``<Success/>``
+ ``<Warnings>`` (RecordID = LocatorID or the message's position); all failing → 400 ``<Errors>``; a schema
failure (bad date or integer, missing attribute, wrong root or namespace, malformed XML, any DOCTYPE) → 400 for
the whole request. Entities are never resolved: a body with a DOCTYPE is refused before it is parsed. The Error
Type and Code numbers are the OTA lists' (inferred where the notes say so); ShortTexts quote the docs where they
give one.

Control routes, all JSON: the shared ones of ``base`` (``/_emulator/requests``, ``reset``, ``faults`` — they apply to
the OTA and token paths too — and ``clock``, which token expiry, the token cap, the 30-minute rule, the past-date
check and the optional rate limit all read), and these:

* ``POST /_emulator/accounts`` ``{"client_id", "client_secret", "hotels": [{"hotel_id", "room_id",
  "rate_plan_id", "currency", "pricing": "standard"|"obp"}]}`` — a machine account linked to those hotels →
  ``{"client_id", "machine_account_id", "hotels"}``; ``GET`` lists the accounts (no secrets).
* ``POST /_emulator/reservations`` ``{"hotel_id", "arrival", "departure", "adults", "children", "total",
  "currency", "guest": {"first_name", "last_name", "email", "phone"}}`` → ``{"reservation_id", "message_id"}``;
  ``GET`` lists reservations with their messages.
* ``POST /_emulator/reservations/<id>/modify`` (any of arrival, departure, adults, children, total, guest) and
  ``POST /_emulator/reservations/<id>/cancel`` (optional ``fee``, default 0) → ``{"reservation_id", "message_id"}``.
* ``GET /_emulator/ari?hotel_id=`` — what was stored per date (availability, restrictions, rates);
  ``POST /_emulator/ari`` ``{"hotel_id", "date", <field>: value, …}`` overwrites those fields of a date (drift).
* ``GET /_emulator/emailed`` — the messages marked "emailed to the property".
* ``POST /_emulator/settings`` ``{"return_emailed": bool, "max_days_per_message": int|null}``.
* ``POST /_emulator/limits`` ``{"requests_per_minute": N|null}`` — a test aid, not a Booking.com rule (none is
  published for these endpoints): beyond N platform requests per rolling minute → 429 with ``Retry-After``.
  Off by default.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import math
import re
import secrets
import uuid
import xml.etree.ElementTree as ET  # noqa: S405 - a DOCTYPE is refused before parsing, so no entity is ever expanded
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal, InvalidOperation
from typing import Any
from xml.parsers import expat
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from channels.emulators.base import Emulator, Request, Response

NS = "http://www.opentravel.org/OTA/2003/05"
AUTH_PATH = "/token-based-authentication/exchange"
OTA_PREFIX = "/hotels/ota/"
AVAIL, RATES = "OTA_HotelAvailNotif", "OTA_HotelRateAmountNotif"
RES_NOTIF, RES_MODIFY = "OTA_HotelResNotif", "OTA_HotelResModifyNotif"
VERSIONS = {AVAIL: "1.005", RATES: "3.000", RES_NOTIF: "2.001", RES_MODIFY: "2.001"}  # as in Booking's samples
TOKEN_TTL = timedelta(hours=1)
TOKENS_PER_HOUR = 30
EMAIL_AFTER = timedelta(minutes=30)
BOOKING_LIMIT_MAX = 254
COMMISSION = Decimal("0.15")  # what the emulator reports as Booking's commission (inferred, any value would do)
AUTH_FAILED = "Authentication failed. Please check your credentials."
LOS_FIELDS = {"SetMinLOS": "min_stay_through", "SetMaxLOS": "max_stay_through",
              "SetForwardMinStay": "min_stay_arrival", "SetForwardMaxStay": "max_stay_arrival"}
RESTRICTION_FIELDS = {"Master": "closed", "Arrival": "closed_to_arrival", "Departure": "closed_to_departure"}
DAY_DEFAULTS: dict[str, Any] = {
    "booking_limit": None, "room_closed": False, "closed": False, "closed_to_arrival": False,
    "closed_to_departure": False, "min_stay_through": None, "max_stay_through": None, "min_stay_arrival": None,
    "max_stay_arrival": None, "price": None, "prices_by_guests": {},
}
DATE_RE = re.compile(r"\d{4}-\d{2}-\d{2}")
INT_RE = re.compile(r"-?\d+")
AMOUNT_RE = re.compile(r"\d+(\.\d+)?")
try:
    BOOKING_TZ: Any = ZoneInfo("Europe/Amsterdam")  # "1 day back (CET)"
except ZoneInfoNotFoundError:  # no tz database on this machine
    BOOKING_TZ = timezone(timedelta(hours=1), "CET")


def q(tag: str) -> str:
    return f"{{{NS}}}{tag}"


def path(*tags: str) -> str:
    return "/".join(q(tag) for tag in tags)


def root_element(tag: str, **attrs: Any) -> ET.Element:
    """An answer's root: it declares the OTA namespace as the default one, so its descendants need no prefix."""
    return ET.Element(tag, {"xmlns": NS, **{k: str(v) for k, v in attrs.items() if v is not None}})


def sub(parent: ET.Element, tag: str, text: str | None = None, **attrs: Any) -> ET.Element:
    element = ET.SubElement(parent, tag, {k: str(v) for k, v in attrs.items() if v is not None})
    element.text = text
    return element


def xml_text(root: ET.Element) -> str:
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode")


def money(value: Decimal) -> str:
    """A decimal string with at least two places ("45.00"; "45.125" stays)."""
    exponent = value.as_tuple().exponent
    return str(value if isinstance(exponent, int) and exponent < -2 else value.quantize(Decimal("0.01")))


def minor(value: Decimal) -> int:
    return int((value * 100).to_integral_value())


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class OtaError(Exception):
    """The whole request fails: HTTP ``status`` with one OTA ``<Error>``."""

    def __init__(self, status: int, code: str, text: str, type_: str = "3", headers: dict[str, str] | None = None):
        super().__init__(text)
        self.status, self.code, self.text, self.type, self.headers = status, code, text, type_, headers or {}
        self.record_id: str | None = None


class MessageError(OtaError):
    """One message (an AvailStatusMessage, a RateAmountMessage, an acknowledged id) fails; the others apply."""

    def __init__(self, code: str, text: str, type_: str = "3", status: int = 400):
        super().__init__(status, code, text, type_)


def schema_error(text: str, code: str = "320") -> OtaError:
    return OtaError(400, code, text, "10" if code == "321" else "3")


def attr(element: ET.Element, name: str) -> str:
    value = (element.get(name) or "").strip()
    if not value:
        raise schema_error(f"{element.tag.rpartition('}')[2]}@{name} is required", "321")
    return value


def parse_date(value: str, where: str) -> date:
    try:
        if DATE_RE.fullmatch(value):
            return date.fromisoformat(value)
    except ValueError:
        pass
    raise schema_error(f"NOT_A_VALID_DATE: {where}='{value}'")


def parse_int(value: str, where: str, minimum: int = 0) -> int:
    if not INT_RE.fullmatch(value.strip()) or int(value) < minimum:
        raise schema_error(f"Invalid value: {where}='{value}' (an integer of at least {minimum})")
    return int(value)


@dataclass
class Hotel:
    hotel_id: str
    room_id: str
    rate_plan_id: str
    currency: str = "EUR"
    pricing: str = "standard"  # standard | obp (occupancy-based pricing)


@dataclass
class Account:
    client_id: str
    client_secret: str
    machine_account_id: int
    hotels: set[str] = field(default_factory=set)
    exchanges: list[datetime] = field(default_factory=list)  # token exchanges of the rolling hour


@dataclass
class Reservation:
    id: str
    hotel_id: str
    arrival: date
    departure: date
    adults: int
    children: int
    total: Decimal
    currency: str
    guest: dict[str, str]
    booked_at: datetime
    status: str = "new"  # new | modified | cancelled
    fee: Decimal = Decimal("0")


@dataclass
class Message:
    id: str
    reservation_id: str
    hotel_id: str
    endpoint: str  # RES_NOTIF | RES_MODIFY
    kind: str  # new | modify | cancel
    created_at: datetime
    acked_at: datetime | None = None
    emailed_at: datetime | None = None
    superseded: bool = False
    rejected: str | None = None

    def as_json(self) -> dict[str, Any]:
        return {"message_id": self.id, "reservation_id": self.reservation_id, "hotel_id": self.hotel_id,
                "endpoint": self.endpoint, "kind": self.kind, "created_at": self.created_at.isoformat(),
                "acked_at": self.acked_at and self.acked_at.isoformat(), "superseded": self.superseded,
                "emailed_at": self.emailed_at and self.emailed_at.isoformat(), "rejected": self.rejected}


@dataclass
class Change:
    """One parsed AvailStatusMessage / RateAmountMessage: what it sets on which dates, or why it cannot."""

    record_id: str
    start: date
    end: date
    room: str
    rate: str | None
    fields: dict[str, Any] = field(default_factory=dict)
    currencies: set[str] = field(default_factory=set)
    problem: MessageError | None = None


class BookingComEmulator(Emulator):
    name = "booking_com"

    def reset_state(self) -> None:
        self.signing_key = secrets.token_bytes(32)
        self.accounts: dict[str, Account] = {}
        self.hotels: dict[str, Hotel] = {}
        self.rooms: dict[str, str] = {}  # room id → hotel id (Booking room ids are global)
        self.tokens: dict[str, str] = {}  # jti → client id, the tokens this emulator issued
        self.ari: dict[str, dict[str, dict[str, Any]]] = {}  # hotel id → ISO date → the day's values
        self.reservations: dict[str, Reservation] = {}
        self.messages: list[Message] = []
        self.next_reservation = 4_000_000_001
        self.next_message = 1
        self.return_emailed = True
        self.max_days_per_message: int | None = 31
        self.requests_per_minute: int | None = None
        self.hits: list[datetime] = []

    # --- the platform ----------------------------------------------------------------------------------------

    def handle(self, request: Request) -> Response:
        self._sweep()
        retry_after = self._throttle()
        if request.path == AUTH_PATH:
            if retry_after:
                return self._auth_error(429, "TOO_MANY_REQUESTS", "Too many requests", retry_after)
            if request.method != "POST":
                return self._auth_error(405, "METHOD_NOT_ALLOWED", "Use POST")
            return self._exchange(request)
        if not request.path.startswith(OTA_PREFIX):
            return Response.json({"error": "not found"}, 404)
        name = request.path[len(OTA_PREFIX):].strip("/")
        routes = {
            ("POST", AVAIL): self._avail_notif, ("POST", RATES): self._rate_amount_notif,
            ("GET", RES_NOTIF): self._pull, ("POST", RES_NOTIF): self._acknowledge,
            ("GET", RES_MODIFY): self._pull, ("POST", RES_MODIFY): self._acknowledge,
        }
        root_name = f"{name}RS" if name in VERSIONS else "OTA_ErrorRS"
        try:
            if retry_after:
                raise OtaError(429, "450", "Too many requests (emulator test limit)", "12",
                               {"Retry-After": str(retry_after)})
            if name not in VERSIONS:
                raise OtaError(404, "450", f"Unknown endpoint {request.path}", "7")
            route = routes.get((request.method, name))
            if route is None:
                raise OtaError(405, "450", f"{request.method} is not supported on {request.path}", "7")
            account = self._authenticate(request)
            version = request.headers.get("accept-version")
            if name in (AVAIL, RATES) and version not in (None, "1.0", "1.1"):
                raise OtaError(400, "450", f"Unsupported Accept-Version '{version}' (1.0 or 1.1)", "7")
            return route(request, account, name)
        except OtaError as error:
            return self._rs(root_name, VERSIONS.get(name, "1.0"), errors=[error], status=error.status,
                            headers=error.headers)

    # --- authentication ---------------------------------------------------------------------------------------

    def _auth_error(self, status: int, code: str, message: str, retry_after: int | None = None) -> Response:
        headers = {"Retry-After": str(retry_after)} if retry_after else {}
        return Response.json({"errors": [{"code": code, "message": message}]}, status, headers)  # body inferred

    def _exchange(self, request: Request) -> Response:
        try:
            data = json.loads(request.body)
            client_id, client_secret = str(data["client_id"]), str(data["client_secret"])
        except (ValueError, TypeError, KeyError):
            return self._auth_error(400, "BAD_REQUEST", 'Send JSON {"client_id": …, "client_secret": …}')
        account = self.accounts.get(client_id)
        if account is None or not hmac.compare_digest(account.client_secret.encode(), client_secret.encode()):
            return self._auth_error(401, "UNAUTHORIZED", AUTH_FAILED)
        now = self.now()
        account.exchanges = [t for t in account.exchanges if t > now - TOKEN_TTL]
        if len(account.exchanges) >= TOKENS_PER_HOUR:
            wait = math.ceil((account.exchanges[0] + TOKEN_TTL - now).total_seconds())
            return self._auth_error(429, "TOO_MANY_REQUESTS",
                                    f"You can create up to {TOKENS_PER_HOUR} tokens per hour.", max(wait, 1))
        account.exchanges.append(now)
        issued = int(now.timestamp())
        claims = {"sub": "connectivity-auth-proxy", "aud": "connectivity-apis",
                  "iss": "urn://connectivity-modern-auth/v1", "iat": issued,
                  "exp": issued + int(TOKEN_TTL.total_seconds()), "jti": str(uuid.uuid4()), "test": False,
                  "machine_account_id": account.machine_account_id, "provider_id": 1,
                  "client_id": account.client_id}
        self.tokens[claims["jti"]] = account.client_id
        return Response.json({"jwt": self._sign(claims), "ruid": str(uuid.uuid4())})

    def _sign(self, claims: dict[str, Any]) -> str:
        head = b64url(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
        body = b64url(json.dumps(claims).encode())
        signature = hmac.new(self.signing_key, f"{head}.{body}".encode(), hashlib.sha256).digest()
        return f"{head}.{body}.{b64url(signature)}"

    def _authenticate(self, request: Request) -> Account:
        denied = OtaError(401, "497", AUTH_FAILED, "4", {"WWW-Authenticate": "Bearer"})
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        parts = token.strip().split(".")
        if scheme.lower() != "bearer" or len(parts) != 3:
            raise denied
        expected = hmac.new(self.signing_key, f"{parts[0]}.{parts[1]}".encode(), hashlib.sha256).digest()
        try:
            valid = hmac.compare_digest(b64url(expected), parts[2])
            claims = json.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4))) if valid else {}
        except ValueError:
            raise denied from None
        if not isinstance(claims, dict):
            raise denied
        account = self.accounts.get(self.tokens.get(claims.get("jti", ""), ""))
        if not valid or account is None:
            raise denied
        if self.now().timestamp() >= claims["exp"]:
            raise OtaError(401, "497", "Access denied: the token has expired", "5", {"WWW-Authenticate": "Bearer"})
        return account

    # --- XML in and out ---------------------------------------------------------------------------------------

    def _parse(self, body: bytes, root_name: str) -> ET.Element:
        """The request's root element, after refusing any DOCTYPE (so no entity is ever declared or expanded)."""

        def refuse(*_: Any) -> None:
            raise OtaError(400, "450", "DOCTYPE and ENTITY declarations are not allowed", "7")

        scanner = expat.ParserCreate()
        scanner.StartDoctypeDeclHandler = refuse
        scanner.EntityDeclHandler = refuse
        try:
            scanner.Parse(body, True)
            root = ET.fromstring(body)  # noqa: S314 - the scan above refused any DOCTYPE
        except (expat.ExpatError, ET.ParseError) as exc:
            raise OtaError(400, "450", f"Malformed XML: {exc}", "7") from None
        if root.tag != q(root_name):
            raise OtaError(400, "450", f"Expected {root_name} in namespace {NS}, got {root.tag}", "7")
        return root

    def _rs(self, name: str, version: str, *, errors: list[OtaError] | None = None,
            warnings: list[OtaError] | None = None, status: int = 200, target: str | None = None,
            headers: dict[str, str] | None = None) -> Response:
        root = root_element(name, TimeStamp=self._stamp(), Target=target, Version=version)
        if errors:
            box = sub(root, "Errors")
            for error in errors:
                sub(box, "Error", Type=error.type, Code=error.code, RecordID=error.record_id, Status="NotProcessed",
                    ShortText=error.text)
        else:
            sub(root, "Success")
            if warnings:
                box = sub(root, "Warnings")
                for warning in warnings:
                    sub(box, "Warning", Type=warning.type, Code=warning.code, RecordID=warning.record_id,
                        Status="NotProcessed", ShortText=warning.text)
        return Response.xml(xml_text(root), status, headers)

    def _stamp(self) -> str:
        return self.now().replace(microsecond=0).isoformat()

    # --- availability, restrictions and rates ----------------------------------------------------------------

    def _avail_notif(self, request: Request, account: Account, name: str) -> Response:
        return self._ari(request, account, name, "AvailStatusMessages", "AvailStatusMessage", self._parse_avail)

    def _rate_amount_notif(self, request: Request, account: Account, name: str) -> Response:
        return self._ari(request, account, name, "RateAmountMessages", "RateAmountMessage", self._parse_rate)

    def _ari(self, request: Request, account: Account, name: str, list_tag: str, item_tag: str, parse) -> Response:
        root = self._parse(request.body, f"{name}RQ")
        container = root.find(q(list_tag))
        items = container.findall(q(item_tag)) if container is not None else []
        if container is None or not items:
            raise schema_error(f"{list_tag}/{item_tag} is required", "321")
        changes = [parse(item, str(item.get("LocatorID") or n)) for n, item in enumerate(items, 1)]
        hotel = self._request_hotel(container.get("HotelCode"), changes, account)
        problems = []
        for change in changes:
            try:
                self._check(change, hotel)
            except MessageError as problem:
                problem.record_id = change.record_id
                problems.append(problem)
                continue
            days = self.ari.setdefault(hotel.hotel_id, {})
            for offset in range((change.end - change.start).days + 1):
                day = days.setdefault((change.start + timedelta(days=offset)).isoformat(), self._blank_day())
                for key, value in change.fields.items():
                    day[key] = {**day[key], **value} if key == "prices_by_guests" else value
        version = root.get("Version") or VERSIONS[name]
        if len(problems) == len(changes):
            return self._rs(f"{name}RS", version, errors=problems, status=400)
        return self._rs(f"{name}RS", version, warnings=problems)

    @staticmethod
    def _blank_day() -> dict[str, Any]:
        return {**DAY_DEFAULTS, "prices_by_guests": {}}

    def _control_of(self, item: ET.Element, record_id: str, rate_required: bool) -> Change:
        control = item.find(q("StatusApplicationControl"))
        if control is None:
            raise schema_error(f"{item.tag.rpartition('}')[2]}/StatusApplicationControl is required", "321")
        rate = attr(control, "RatePlanCode") if rate_required else (control.get("RatePlanCode") or None)
        return Change(record_id, parse_date(attr(control, "Start"), "Start"), parse_date(attr(control, "End"), "End"),
                      attr(control, "InvTypeCode"), rate)

    def _parse_avail(self, item: ET.Element, record_id: str) -> Change:
        change = self._control_of(item, record_id, rate_required=False)
        if item.get("BookingLimit") is not None:
            limit = parse_int(item.get("BookingLimit", ""), "BookingLimit")
            change.fields["booking_limit"] = BOOKING_LIMIT_MAX if limit > 255 else limit  # 255 = unlimited [doc]
        status_element = item.find(q("RestrictionStatus"))
        if status_element is not None:
            status, restriction = attr(status_element, "Status"), status_element.get("Restriction") or "Master"
            if status not in ("Open", "Close") or restriction not in RESTRICTION_FIELDS:
                raise schema_error(f"Invalid value: RestrictionStatus Status='{status}' Restriction='{restriction}'")
            if change.rate is None and restriction != "Master":
                change.problem = MessageError("321", f"RatePlanCode is required for a {restriction} restriction", "10")
            key = "room_closed" if change.rate is None else RESTRICTION_FIELDS[restriction]
            change.fields[key] = status == "Close"
        for los in item.findall(path("LengthsOfStay", "LengthOfStay")):
            kind = attr(los, "MinMaxMessageType")
            if kind not in LOS_FIELDS or los.get("TimeUnit") not in (None, "Day"):
                raise schema_error(f"Invalid value: LengthOfStay MinMaxMessageType='{kind}' "
                                   f"TimeUnit='{los.get('TimeUnit')}'")
            if change.rate is None:
                change.problem = MessageError("321", "RatePlanCode is required for LengthsOfStay", "10")
            change.fields[LOS_FIELDS[kind]] = parse_int(attr(los, "Time"), "LengthOfStay@Time") or None
        if not change.fields:
            change.problem = MessageError("321", "Nothing to update: no BookingLimit, RestrictionStatus or "
                                                 "LengthsOfStay", "10")
        return change

    def _parse_rate(self, item: ET.Element, record_id: str) -> Change:
        change = self._control_of(item, record_id, rate_required=True)
        amounts = item.findall(path("Rates", "Rate", "BaseByGuestAmts", "BaseByGuestAmt"))
        if not amounts:
            raise schema_error("RateAmountMessage needs Rates/Rate/BaseByGuestAmts/BaseByGuestAmt", "321")
        by_guests: dict[str, str] = {}
        for amount in amounts:
            raw = attr(amount, "AmountAfterTax")
            places = amount.get("DecimalPlaces")
            if not AMOUNT_RE.fullmatch(raw):
                raise schema_error(f"Invalid value: AmountAfterTax='{raw}'")
            value = Decimal(raw)
            if "." not in raw and places is not None:  # the integer encoding of the reservation messages
                value = value.scaleb(-parse_int(places, "DecimalPlaces"))
            if value <= 0:
                change.problem = MessageError("320", f"Invalid value: AmountAfterTax='{raw}' must be more than 0")
            if amount.get("CurrencyCode"):
                change.currencies.add(amount.get("CurrencyCode", ""))
            guests = amount.get("NumberOfGuests")
            if guests is None:
                change.fields["price"] = money(value)
            else:
                by_guests[str(parse_int(guests, "NumberOfGuests", minimum=1))] = money(value)
        if by_guests:
            change.fields["prices_by_guests"] = by_guests
        return change

    def _request_hotel(self, code: str | None, changes: list[Change], account: Account) -> Hotel:
        if code:
            hotel = self.hotels.get(code)
            if hotel is None:
                raise OtaError(400, "392", f"Hotel not found for HotelCode={code}")
        else:
            found = sorted({self.rooms[c.room] for c in changes if c.room in self.rooms})
            if not found:
                raise OtaError(400, "392", "Hotel not found: no HotelCode and no known InvTypeCode")
            if len(found) > 1:
                raise OtaError(400, "450", f"One hotel per request; this one holds rooms of {', '.join(found)}")
            hotel = self.hotels[found[0]]
        if hotel.hotel_id not in account.hotels:
            raise OtaError(403, "497", f"You do not have access to hotel:{hotel.hotel_id}", "6")
        return hotel

    def _check(self, change: Change, hotel: Hotel) -> None:
        if change.room != hotel.room_id:
            raise MessageError("402", f"ROOM_ID_INVALID: Room ID '{change.room}' is not valid")
        if change.rate is not None and change.rate != hotel.rate_plan_id:
            raise MessageError("783", f"Rate plan '{change.rate}' is not valid for room '{change.room}'")
        if change.end < change.start:
            raise MessageError("320", f"FROM_DATE_SHOULD_BE_LESS_THAN_TO_DATE: {change.start} > {change.end}")
        earliest = self.now().astimezone(BOOKING_TZ).date() - timedelta(days=1)
        if change.start < earliest:
            raise MessageError("320", f"NOT_A_VALID_DATE: {change.start} is more than one day in the past")
        days = (change.end - change.start).days + 1
        if self.max_days_per_message and days > self.max_days_per_message:
            raise MessageError("450", f"{days} days in one message; at most {self.max_days_per_message} "
                                      "(one month per request)")
        if change.problem is not None:
            raise change.problem
        other = sorted(change.currencies - {hotel.currency})
        if other:
            raise MessageError("320", f"CurrencyCode '{other[0]}' is not the property currency '{hotel.currency}'")
        if hotel.pricing == "standard" and "prices_by_guests" in change.fields:
            raise MessageError("320", "OBP_PRICING_PASSED_FOR_DEFAULT_RATE")
        if hotel.pricing == "obp" and "price" in change.fields:
            raise MessageError("320", "NumberOfGuests is required for an occupancy-based rate")

    # --- reservations -----------------------------------------------------------------------------------------

    def _pull(self, request: Request, account: Account, name: str) -> Response:
        hotel_ids = {h.strip() for h in (request.param("hotel_ids") or "").split(",") if h.strip()}
        if hotel_ids - account.hotels:
            raise OtaError(403, "497", "Access denied for hotel", "6")
        visible = hotel_ids or account.hotels
        messages = [m for m in self.messages if m.endpoint == name and m.hotel_id in visible and not m.superseded]
        if request.param("id"):
            messages = [m for m in messages if m.reservation_id == request.param("id")]
            if not messages:
                raise OtaError(404, "635", "Hotel reservation was not found")
        elif request.param("last_change"):
            try:
                since = datetime.fromisoformat(request.param("last_change") or "")
            except ValueError:
                raise schema_error(f"Invalid value: last_change='{request.param('last_change')}'") from None
            since = since if since.tzinfo else since.replace(tzinfo=UTC)
            messages = [m for m in messages if m.created_at >= since]
        else:
            messages = [m for m in messages
                        if m.acked_at is None and (self.return_emailed or m.emailed_at is None)]
        latest = list({m.reservation_id: m for m in messages}.values())  # one per reservation, the newest
        if request.param("limit"):
            latest = latest[:parse_int(request.param("limit") or "", "limit", minimum=1)]
        root = root_element(f"{name}RQ", TimeStamp=self._stamp(), Target="Production", Version=VERSIONS[name])
        box = sub(root, "HotelReservations" if name == RES_NOTIF else "HotelResModifies")
        for message in latest:
            self._render(box, message)
        return Response.xml(xml_text(root))

    def _render(self, box: ET.Element, message: Message) -> None:
        res = self.reservations[message.reservation_id]
        hotel = self.hotels[res.hotel_id]
        if message.endpoint == RES_NOTIF:
            item = sub(box, "HotelReservation")
        else:
            item = sub(box, "HotelResModify", ResStatus="Cancel" if message.kind == "cancel" else "Modify")
        charged = res.fee if res.status == "cancelled" else res.total
        nights = max((res.departure - res.arrival).days, 1)
        cents = minor(charged)
        nightly = [cents // nights + (cents % nights if n == 0 else 0) for n in range(nights)]
        amount = {"CurrencyCode": res.currency, "DecimalPlaces": 2}

        stay = sub(sub(item, "RoomStays"), "RoomStay", IndexNumber=1)
        sub(sub(stay, "RoomTypes"), "RoomType", RoomTypeCode=hotel.room_id)
        commission = sub(sub(sub(stay, "RatePlans"), "RatePlan"), "Commission")
        sub(commission, "CommissionPayableAmount", Amount=minor(charged * COMMISSION), **amount)
        rates = sub(stay, "RoomRates")
        for n, price in enumerate(nightly):
            room_rate = sub(rates, "RoomRate", EffectiveDate=(res.arrival + timedelta(days=n)).isoformat(),
                            RatePlanCode=hotel.rate_plan_id)
            sub(sub(sub(room_rate, "Rates"), "Rate"), "Total", AmountAfterTax=price, **amount)
        sub(sub(stay, "GuestCounts"), "GuestCount", Count=res.adults + res.children)
        sub(stay, "Total", AmountAfterTax=cents, **amount)
        sub(stay, "BasicPropertyInfo", HotelCode=hotel.hotel_id)

        guest = sub(sub(item, "ResGuests"), "ResGuest", ResGuestRPH=1)
        self._customer(guest, res.guest, contact=False)
        info = sub(item, "ResGlobalInfo")
        sub(info, "Total", AmountAfterTax=cents, **amount)
        sub(sub(info, "HotelReservationIDs"), "HotelReservationID", ResID_Value=res.id,
            ResID_Date=res.booked_at.strftime("%Y-%m-%dT%H:%M:%S"))
        self._customer(info, res.guest, contact=True)

    @staticmethod
    def _customer(parent: ET.Element, guest: dict[str, str], contact: bool) -> None:
        customer = sub(sub(sub(sub(parent, "Profiles"), "ProfileInfo"), "Profile"), "Customer")
        person = sub(customer, "PersonName")
        sub(person, "GivenName", guest.get("first_name", ""))
        sub(person, "Surname", guest.get("last_name", ""))
        if contact and guest.get("phone"):
            sub(customer, "Telephone", PhoneNumber=guest["phone"])
        if contact and guest.get("email"):
            sub(customer, "Email", guest["email"])

    def _acknowledge(self, request: Request, account: Account, name: str) -> Response:
        root = self._parse(request.body, f"{name}RS")
        list_tag, item_tag = ("HotelReservations", "HotelReservation") if name == RES_NOTIF else \
            ("HotelResModifies", "HotelResModify")
        ids = [e.get("ResID_Value", "").strip() for e in root.findall(
            path(list_tag, item_tag, "ResGlobalInfo", "HotelReservationIDs", "HotelReservationID"))]
        if not ids:
            raise schema_error(f"{list_tag}/{item_tag}/ResGlobalInfo/HotelReservationIDs/"
                               "HotelReservationID@ResID_Value is required", "321")
        errors = root.find(path("Errors", "Error"))
        problems = []
        for reservation_id in ids:
            try:
                self._acknowledge_one(reservation_id, account, name, errors)
            except MessageError as problem:
                problem.record_id = reservation_id
                problems.append(problem)
        if len(problems) == len(ids):
            status = 403 if all(p.status == 403 for p in problems) else 400
            return self._rs(f"{name}RS", VERSIONS[name], errors=problems, status=status, target="Production")
        return self._rs(f"{name}RS", VERSIONS[name], warnings=problems, target="Production")

    def _acknowledge_one(self, reservation_id: str, account: Account, name: str, errors: ET.Element | None) -> None:
        res = self.reservations.get(reservation_id)
        if res is None:
            raise MessageError("635", f"Hotel reservation '{reservation_id}' was not found")
        if res.hotel_id not in account.hotels:
            raise MessageError("497", "Access denied for hotel", "6", status=403)
        latest = self._latest(reservation_id)
        if latest is None or latest.endpoint != name:
            raise MessageError("450", "Hotel reservation has transaction message of the wrong type")
        if errors is not None:  # the property refused the message: it stays queued [doc]
            latest.rejected = errors.get("ShortText") or errors.get("Code") or "rejected"
        elif latest.acked_at is None:
            latest.acked_at = self.now()

    def _latest(self, reservation_id: str) -> Message | None:
        mine = [m for m in self.messages if m.reservation_id == reservation_id and not m.superseded]
        return mine[-1] if mine else None

    def _queue(self, res: Reservation, kind: str) -> Message:
        latest = self._latest(res.id)
        endpoint = RES_MODIFY
        if latest is not None and latest.acked_at is None:
            latest.superseded = True
            if latest.endpoint == RES_NOTIF and kind == "modify":
                endpoint, kind = RES_NOTIF, "new"  # changed before the ack: a new reservation, latest content [doc]
        if kind == "new":
            endpoint = RES_NOTIF
        message = Message(f"msg-{self.next_message}", res.id, res.hotel_id, endpoint, kind, self.now())
        self.next_message += 1
        self.messages.append(message)
        return message

    def _sweep(self) -> None:
        now = self.now()
        for message in self.messages:
            if message.acked_at is None and message.emailed_at is None and not message.superseded \
                    and now - message.created_at >= EMAIL_AFTER:
                message.emailed_at = message.created_at + EMAIL_AFTER

    def _throttle(self) -> int | None:
        """Seconds to wait when the optional test limit is exceeded, else None (the request is counted)."""
        if not self.requests_per_minute:
            return None
        now = self.now()
        self.hits = [t for t in self.hits if t > now - timedelta(minutes=1)]
        if len(self.hits) >= self.requests_per_minute:
            return max(math.ceil((self.hits[0] + timedelta(minutes=1) - now).total_seconds()), 1)
        self.hits.append(now)
        return None

    # --- control routes ---------------------------------------------------------------------------------------

    def handle_control(self, request: Request, name: str) -> Response | None:
        self._sweep()
        try:
            data = request.json() if request.method == "POST" else None
        except ValueError:
            return Response.json({"error": "the body is not JSON"}, 400)
        data = data if isinstance(data, dict) else {}
        try:
            if name == "accounts":
                return self._control_accounts(request, data)
            if name == "reservations":
                if request.method == "GET":
                    return Response.json([self._reservation_json(r) for r in self.reservations.values()])
                return self._control_new_reservation(data)
            match = re.fullmatch(r"reservations/([^/]+)/(modify|cancel)", name)
            if match and request.method == "POST":
                return self._control_change(match.group(1), match.group(2), data)
            if name == "ari":
                return self._control_ari(request, data)
            if name == "emailed":
                return Response.json([m.as_json() for m in self.messages if m.emailed_at is not None])
            if name == "settings":
                for key in ("return_emailed", "max_days_per_message"):
                    if key in data:
                        setattr(self, key, data[key])
                return Response.json({"return_emailed": self.return_emailed,
                                      "max_days_per_message": self.max_days_per_message})
            if name == "limits":
                if "requests_per_minute" in data:
                    self.requests_per_minute = data["requests_per_minute"] or None
                    self.hits = []
                return Response.json({"requests_per_minute": self.requests_per_minute})
        except (KeyError, ValueError, TypeError, InvalidOperation) as exc:
            return Response.json({"error": f"bad control request: {exc!r}"}, 400)
        return None

    def _control_accounts(self, request: Request, data: dict[str, Any]) -> Response:
        if request.method == "GET":
            return Response.json([{"client_id": a.client_id, "machine_account_id": a.machine_account_id,
                                   "hotels": sorted(a.hotels)} for a in self.accounts.values()])
        client_id = str(data["client_id"])
        account = self.accounts.get(client_id) or Account(client_id, "", len(self.accounts) + 1)
        account.client_secret = str(data["client_secret"])
        for item in data.get("hotels", []):
            hotel = Hotel(str(item["hotel_id"]), str(item["room_id"]), str(item["rate_plan_id"]),
                          str(item.get("currency", "EUR")), str(item.get("pricing", "standard")))
            if hotel.pricing not in ("standard", "obp"):
                raise ValueError(f"pricing must be standard or obp, not {hotel.pricing!r}")
            self.hotels[hotel.hotel_id] = hotel
            self.rooms[hotel.room_id] = hotel.hotel_id
            account.hotels.add(hotel.hotel_id)
        self.accounts[client_id] = account
        return Response.json({"client_id": client_id, "machine_account_id": account.machine_account_id,
                              "hotels": sorted(account.hotels)})

    def _control_new_reservation(self, data: dict[str, Any]) -> Response:
        hotel = self.hotels.get(str(data["hotel_id"]))
        if hotel is None:
            return Response.json({"error": f"unknown hotel {data['hotel_id']!r}"}, 404)
        reservation_id = str(data.get("reservation_id") or self.next_reservation)
        if reservation_id in self.reservations:
            return Response.json({"error": f"reservation {reservation_id} exists"}, 409)
        self.next_reservation += 1
        res = Reservation(reservation_id, hotel.hotel_id, date.fromisoformat(data["arrival"]),
                          date.fromisoformat(data["departure"]), int(data.get("adults", 2)),
                          int(data.get("children", 0)), Decimal(str(data["total"])),
                          str(data.get("currency") or hotel.currency), dict(data.get("guest") or {}), self.now())
        problem = self._invalid(res, hotel)
        if problem:
            return Response.json({"error": problem}, 400)
        self.reservations[res.id] = res
        return Response.json({"reservation_id": res.id, "message_id": self._queue(res, "new").id})

    def _control_change(self, reservation_id: str, action: str, data: dict[str, Any]) -> Response:
        res = self.reservations.get(reservation_id)
        if res is None:
            return Response.json({"error": f"unknown reservation {reservation_id!r}"}, 404)
        if res.status == "cancelled":
            return Response.json({"error": f"reservation {reservation_id} is cancelled"}, 409)
        if action == "cancel":
            res.status, res.fee = "cancelled", Decimal(str(data.get("fee", "0")))
            return Response.json({"reservation_id": res.id, "message_id": self._queue(res, "cancel").id})
        before = dict(vars(res))
        for key in ("arrival", "departure"):
            if key in data:
                setattr(res, key, date.fromisoformat(data[key]))
        for key in ("adults", "children"):
            if key in data:
                setattr(res, key, int(data[key]))
        if "total" in data:
            res.total = Decimal(str(data["total"]))
        res.guest = {**res.guest, **(data.get("guest") or {})}
        problem = self._invalid(res, self.hotels[res.hotel_id])
        if problem:
            vars(res).update(before)
            return Response.json({"error": problem}, 400)
        res.status = "modified"
        return Response.json({"reservation_id": res.id, "message_id": self._queue(res, "modify").id})

    @staticmethod
    def _invalid(res: Reservation, hotel: Hotel) -> str | None:
        if res.departure <= res.arrival:
            return "departure must be after arrival"
        if res.adults < 1 or res.children < 0 or res.total < 0:
            return "adults ≥ 1, children ≥ 0 and total ≥ 0"
        if res.currency != hotel.currency:
            return f"reservations are in the property currency {hotel.currency}"
        return None

    def _reservation_json(self, res: Reservation) -> dict[str, Any]:
        return {"reservation_id": res.id, "hotel_id": res.hotel_id, "arrival": res.arrival.isoformat(),
                "departure": res.departure.isoformat(), "adults": res.adults, "children": res.children,
                "total": money(res.total), "currency": res.currency, "guest": res.guest, "status": res.status,
                "fee": money(res.fee), "messages": [m.as_json() for m in self.messages if m.reservation_id == res.id]}

    def _control_ari(self, request: Request, data: dict[str, Any]) -> Response:
        hotel_id = str(data["hotel_id"] if request.method == "POST" else request.param("hotel_id"))
        hotel = self.hotels.get(hotel_id)
        if hotel is None:
            return Response.json({"error": f"unknown hotel {hotel_id!r}"}, 404)
        days = self.ari.setdefault(hotel_id, {})
        if request.method == "POST":
            day_key = date.fromisoformat(data["date"]).isoformat()
            unknown = set(data) - set(DAY_DEFAULTS) - {"hotel_id", "date"}
            if unknown:
                return Response.json({"error": f"unknown fields {sorted(unknown)}; known: {sorted(DAY_DEFAULTS)}"}, 400)
            day = days.setdefault(day_key, self._blank_day())
            day.update({k: v for k, v in data.items() if k in DAY_DEFAULTS})
            return Response.json({"date": day_key, **day})
        return Response.json({"hotel_id": hotel.hotel_id, "room_id": hotel.room_id,
                              "rate_plan_id": hotel.rate_plan_id, "currency": hotel.currency,
                              "pricing": hotel.pricing, "dates": dict(sorted(days.items()))})
