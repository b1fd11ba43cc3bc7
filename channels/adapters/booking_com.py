"""Booking.com Connectivity APIs (OTA XML), for a vacation rental: one Booking.com hotel with one room and one rate
plan (the connection's ``remote_property_id`` = hotel id, ``remote_room_type_id`` = room id, the OTA
``InvTypeCode``, ``remote_rate_plan_id`` = rate plan id, the ``RatePlanCode``).

Follows Booking.com's connectivity documentation as the project's research notes (``booking_com.md``) summarise it:
https://developers.booking.com/connectivity/docs/token-based-authentication,
https://developers.booking.com/connectivity/docs/authentication-best-practices,
https://developers.booking.com/connectivity/docs/ota-hotelavailnotif,
https://developers.booking.com/connectivity/docs/ota-rateamountnotif,
https://developers.booking.com/connectivity/docs/rates-availability-error-codes,
https://developers.booking.com/connectivity/docs/reservations-api/reservations-process-ota (and its pages on
retrieving and acknowledging new, modified and cancelled reservations), the API reference
(https://developers.booking.com/connectivity/docs/api-reference/: ota_hotelresnotifrq, hotelreservation, roomstay,
roomrate, total, guestcount, resglobalinfo, hotelreservationid, error, warning) and the older guide
(https://connect.booking.com/user_guide/site/en-US/ota-hotelavailnotif/, .../ota-rateamountnotif/). Tests run it
against ``channels.emulators.booking_com`` over real HTTP.

**Hosts** (settings): ``BOOKING_COM_AUTH_URL`` (``https://connectivity-authentication.booking.com``, the token
exchange), ``BOOKING_COM_SUPPLY_URL`` (``https://supply-xml.booking.com``, ARI) and
``BOOKING_COM_SECURE_SUPPLY_URL`` (``https://secure-supply-xml.booking.com``, reservations); every OTA path is
``/hotels/ota/<message>``.

**Authentication.** Credentials ``{"client_id", "client_secret"}`` of a machine account ("API token" type).
``POST /token-based-authentication/exchange`` turns them into a JWT, valid one hour; Booking.com allows 30 tokens
per machine account per hour. The token is kept in Django's cache (Redis: every worker shares it) under a digest of
the client id (``core.crypto.token_digest``: neither the id nor the secret is ever part of a key), reused until five
minutes before its hour is up (counted on our clock from the exchange, so clock skew cannot make us use an expired
one), and replaced once when an OTA call answers 401 (expired or revoked earlier than we thought); a second 401 is
refused credentials. One worker exchanges at a time (a short lock in the cache; the others wait a moment for its
token), and exchanges are counted in the shared limiter (``channels.limits``): at most
:data:`TOKEN_EXCHANGES_PER_HOUR` (20) per account per hour, below Booking.com's 30 even if something keeps refusing
our tokens — beyond it the call waits (a retryable ``token_limit``). The token and the secret are never logged and
never part of an error message. Calls carry ``Authorization: Bearer <jwt>`` (inferred: the header line was cut off
in the notes' copy of the page; the JWT pages describe the Bearer scheme).

**Push.** ``OTA_HotelAvailNotifRQ`` (Version 1.005, ``Accept-Version: 1.1``) and ``OTA_HotelRateAmountNotifRQ``
(Version 3.000, ``Accept-Version: 1.1``), ``Target="Production"``, ``AvailStatusMessages``/``RateAmountMessages``
with ``HotelCode`` (Booking's samples omit it; the notes recommend sending it), ``Start``/``End`` inclusive:

* availability (``AriChange`` kind 1): room-level messages (``InvTypeCode`` only) with ``BookingLimit`` 0 or 1 and
  ``RestrictionStatus Status="Close"|"Open"`` (a room-level close: "the room type is not available for booking");
* restrictions (kind 2): room-rate messages (``InvTypeCode`` + ``RatePlanCode``) — ``LengthsOfStay`` with
  ``SetMinLOS``/``SetMaxLOS`` and the master ``RestrictionStatus`` (stop sell, or a night without a price → Close)
  in one message, as in Booking's sample; closed to arrival and closed to departure in their own messages
  (``Restriction="Arrival"|"Departure"``: the OTA schema allows one ``RestrictionStatus`` per message) — and the
  prices as ``RateAmountMessage`` ▸ ``BaseByGuestAmt AmountAfterTax="180.00" CurrencyCode DecimalPlaces`` (standard
  pricing: no ``NumberOfGuests``, which Booking.com refuses on a standard rate, ``OBP_PRICING_PASSED_FOR_DEFAULT_RATE``;
  the currency is the property's, which Booking.com fixes). Each kind of value is compressed into its own runs of
  equal nights, so a rule that changes weekly does not split the price into weekly messages.

Booking.com asks for **deltas only, one hotel per request and one month per request** ("Each request should cover a
single month period"): a push sends only the nights the engine found changed, and one request per calendar month
it touches and per message type (a booking: usually one request; a full sync of the 365-day horizon — Booking.com
asks for at least 12 months ahead — 3 requests per month). Answers: ``<Success/>`` (possibly with ``<Warnings>``:
some messages were refused — a partial success, reported on the connection as ``PushResult.warnings`` and not
retried), ``<Errors>`` (nothing applied: non-retryable, so the breaker stops pushes until the owner fixes the
mapping, except OTA codes 448 "System error" and 187 "System currently unavailable"), HTTP 5xx and 429 (retryable,
``Retry-After`` honoured), 401 (after the one renewal) and 403 (account not linked to the hotel) → credentials.

**Limits.** Booking.com publishes no request limit for these endpoints (only the 30 tokens per hour). Ours, so that
bursts are paced rather than fired (:meth:`BookingComAdapter.limits`): 30 requests per minute per hotel and 240 per
minute per machine account. The engine counts the first request of each push; the adapter counts each further one
of the same push (the months of a long push) where the window has room — a push is never cut in the middle, since
the engine would send it again whole — so the pushes after a full sync wait for the window.

**Pull.** ``GET /hotels/ota/OTA_HotelResNotif`` (new reservations) and ``GET /hotels/ota/OTA_HotelResModifyNotif``
(modifications and cancellations) on the secure host, both with ``hotel_ids=<hotel>``: the queues are per provider,
and every connection must see, apply and acknowledge only its own hotel's messages (a message of another hotel is
left for its own connection). Booking.com asks to poll once per twenty seconds (``pull_interval_seconds``) and
calls no webhook. Each ``HotelReservation``/``HotelResModify`` becomes a :class:`RemoteReservation`: the
reservation id from ``ResGlobalInfo/HotelReservationIDs/HotelReservationID@ResID_Value``; the nights from the
``RoomRate@EffectiveDate`` of each night (check-out = the last night + 1); guests from ``GuestCount@Count`` (adults,
unless ``AgeQualifyingCode="8"`` says children); the total from ``ResGlobalInfo/Total`` (``AmountAfterTax`` or
``AmountBeforeTax``, an integer before ``DecimalPlaces`` unless written with a dot); the booker (name, e-mail,
phone) from ``ResGlobalInfo/Profiles``, else the guest's name from ``ResGuests``; the source Booking.com.
``acknowledge()`` posts ``OTA_HotelResNotifRS``/``OTA_HotelResModifyNotifRS`` (``<Success/>`` and the
reservation id) to the endpoint the message came from: the message id says which (``res:…``/``mod:…``). An
acknowledgement refused as "of the wrong type" means a newer message of that reservation has replaced this one
(it arrives at the next pull): nothing is left to acknowledge.

**Inferred** (no Booking.com page in the notes says so): the Bearer header (above); a message's identity — OTA
reservation messages carry no message id and no modification time, so ``message_id`` is
``<res|mod>:<reservation id>:<digest of the reservation's XML>``: a message delivered again (not acknowledged)
has the same content and the same id, a real change has another (a modification that restores exactly the content
of an earlier modification of the same reservation would be taken for that one again and only acknowledged);
cancellations flagged by ``HotelResModify@ResStatus="Cancel"`` (Booking's table lists no flag; the generic OTA
one), else by a reservation without rooms; the ``hotel_ids`` parameter's name; ``SetMinLOS``/``SetMaxLOS`` ("minimum
stay through", the only LOS types the pages read document) carrying our minimum and maximum stay of an arrival;
a master close without ``Restriction`` (as in Booking's sample); the amount written as a decimal string with
``DecimalPlaces``; our limits (above). ``list_properties`` cannot list anything (no listing in the OTA endpoints
used): it checks the credentials, and the owner enters the ids shown in the Booking.com extranet.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import re
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

import requests
from django.conf import settings
from django.core.cache import cache
from lxml import etree

from bookings.models import Source
from core.crypto import token_digest
from core.money import CURRENCY_EXPONENTS, round_money

from ..ari import NightAvailability, NightRestrictions, Run, runs
from .base import (
    Adapter,
    AdapterError,
    LimitScope,
    PushResult,
    RemoteProperty,
    RemoteReservation,
    http_session,
    send,
    status_error,
)

log = logging.getLogger(__name__)

NS = "http://www.opentravel.org/OTA/2003/05"
XSI = "http://www.w3.org/2001/XMLSchema-instance"
EXCHANGE_PATH = "/token-based-authentication/exchange"
OTA_PATH = "/hotels/ota/"
AVAIL, RATES = "OTA_HotelAvailNotif", "OTA_HotelRateAmountNotif"
RES_NOTIF, RES_MODIFY = "OTA_HotelResNotif", "OTA_HotelResModifyNotif"
VERSIONS = {AVAIL: "1.005", RATES: "3.000", RES_NOTIF: "2.001", RES_MODIFY: "2.001"}  # as in Booking's samples
ACCEPT_VERSION = "1.1"  # "Required" on the current AvailNotif page; better error descriptions on RateAmountNotif
TARGET = "Production"
# The two reservation queues: the message-id prefix, the endpoint, the list and item elements of both RQ and RS.
QUEUES = {"res": (RES_NOTIF, "HotelReservations", "HotelReservation"),
          "mod": (RES_MODIFY, "HotelResModifies", "HotelResModify")}

TOKEN_LIFETIME_SECONDS = 3600  # "The token expires after one hour."
TOKEN_MARGIN_SECONDS = 300  # renewed this long before
TOKEN_EXCHANGES_PER_HOUR = 20  # ours; Booking.com allows 30 per machine account per hour
EXCHANGE_LOCK_SECONDS = 15  # one exchange per account at a time; the others wait for its token ...
EXCHANGE_WAIT_SECONDS = 5.0  # ... this long at most, then exchange themselves (still within the hourly cap)
HOTEL_REQUESTS_PER_MINUTE = 30  # ours: Booking.com publishes no limit for the OTA endpoints
ACCOUNT_REQUESTS_PER_MINUTE = 240
TRANSIENT_CODES = {"448", "187"}  # OTA "System error", "System currently unavailable": try again later
WRONG_TYPE = "wrong type"  # "Hotel reservation has transaction message of the wrong type"
_DECLARATION = re.compile(rb"<!\s*(DOCTYPE|ENTITY)", re.IGNORECASE)


# --- XML ----------------------------------------------------------------------------------------------------------


class XmlError(ValueError):
    pass


def q(tag: str) -> str:
    return f"{{{NS}}}{tag}"


def parse_xml(data: bytes) -> Any:
    """The root element of an answer. A DOCTYPE or ENTITY declaration is refused before parsing; the parser resolves
    no entity and reads nothing from the network either way."""
    if not data or not data.strip():
        raise XmlError("the answer is empty")
    if _DECLARATION.search(data):
        raise XmlError("a DOCTYPE or ENTITY declaration is not accepted")
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, dtd_validation=False,
                             huge_tree=False, remove_pis=True)  # one per call: lxml parsers are not thread-safe
    try:
        root = etree.fromstring(data, parser)
    except etree.XMLSyntaxError as exc:
        raise XmlError(f"malformed XML ({exc})") from None
    if root is None or root.getroottree().docinfo.doctype:
        raise XmlError("a DOCTYPE is not accepted")
    return root


def _stamp() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S+00:00")


def _root(name: str, version: str) -> Any:
    root = etree.Element(q(name), nsmap={None: NS, "xsi": XSI})
    root.set(f"{{{XSI}}}schemaLocation", f"{NS} {name}.xsd")
    root.set("TimeStamp", _stamp())
    root.set("Target", TARGET)
    root.set("Version", version)
    return root


def _sub(parent: Any, tag: str, **attrs: Any) -> Any:
    return etree.SubElement(parent, q(tag), {k: str(v) for k, v in attrs.items() if v is not None})


def _xml(root: Any) -> bytes:
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


def _amount_text(amount: Decimal, currency: str) -> tuple[str, int]:
    """A price as Booking's rate sample writes it ("45.00"), with its ``DecimalPlaces``."""
    places = CURRENCY_EXPONENTS.get(currency, 2)
    return str(round_money(amount, currency) if currency in CURRENCY_EXPONENTS
               else amount.quantize(Decimal(1).scaleb(-places))), places


# --- splitting into requests -----------------------------------------------------------------------------------


def nights_by_month(values: Iterable[Run[Any]]) -> dict[tuple[int, int], dict[date, Any]]:
    """Runs back into nights, grouped by calendar month (in date order)."""
    out: dict[tuple[int, int], dict[date, Any]] = {}
    for run in values:
        day = run.first
        while day <= run.last:
            out.setdefault((day.year, day.month), {})[day] = run.value
            day += timedelta(days=1)
    return dict(sorted(out.items()))


class _Batch:
    """One ARI request being built: its root, its messages, and what each message says (to name a refused one:
    ``Warning@RecordID`` is the message's ``LocatorID``, else its position)."""

    def __init__(self, name: str, connection) -> None:
        self.name, self.connection = name, connection
        self.root = _root(f"{name}RQ", VERSIONS[name])
        self.box = _sub(self.root, "AvailStatusMessages" if name == AVAIL else "RateAmountMessages",
                        HotelCode=connection.remote_property_id)
        self.labels: list[str] = []

    def message(self, run: Run[Any], label: str, *, rate_plan: bool, locator: bool = True, **attrs: Any) -> Any:
        tag = "AvailStatusMessage" if self.name == AVAIL else "RateAmountMessage"
        element = _sub(self.box, tag, **attrs, LocatorID=len(self.labels) + 1 if locator else None)
        _control(element, self.connection, run, rate_plan=rate_plan)
        self.labels.append(f"{_span(run)} {label}")
        return element


@dataclass(frozen=True)
class Stay:
    """What one room-rate message with lengths of stay and the master status sets."""

    min_stay: int
    max_stay: int
    closed: bool


# --- the adapter ----------------------------------------------------------------------------------------------


class BookingComAdapter(Adapter):
    name = "booking_com"
    label = "Booking.com"
    horizon_days = 365  # "Load availability at least 12 months ahead"
    pull_interval_seconds = 20  # "call GET OTA_HotelResNotif once per twenty seconds"

    def __init__(self) -> None:
        self.session = http_session()

    # --- the token ------------------------------------------------------------------------------------------

    def _credentials(self, connection) -> tuple[str, str]:
        client_id, secret = connection.credential("client_id"), connection.credential("client_secret")
        if not client_id or not secret:
            raise AdapterError("bad_credentials", "No Booking.com client id and client secret are set for this "
                                                  "connection.")
        return client_id, secret

    @staticmethod
    def token_key(client_id: str) -> str:
        """The cache key of an account's token: a digest of the client id, never the id or the secret."""
        return f"channels:booking_com:jwt:{token_digest(client_id)[:32]}"

    @staticmethod
    def _cached(key: str, refused: str | None) -> str | None:
        value = cache.get(key)
        if isinstance(value, dict) and value.get("jwt") and value["jwt"] != refused \
                and float(value.get("refresh_at", 0)) > time.time():
            return str(value["jwt"])
        return None

    def token(self, connection, *, refused: str | None = None) -> str:
        """The account's JWT: the shared one while it has more than five minutes left, else a new one. ``refused``:
        a token Booking.com has just answered 401 to (replaced unless another worker replaced it already)."""
        client_id, secret = self._credentials(connection)
        key = self.token_key(client_id)
        jwt = self._cached(key, refused)
        if jwt:
            return jwt
        lock = key + ":lock"
        owned = cache.add(lock, 1, timeout=EXCHANGE_LOCK_SECONDS)
        if not owned:  # another worker is exchanging: its token will do
            deadline = time.monotonic() + EXCHANGE_WAIT_SECONDS
            while time.monotonic() < deadline:
                time.sleep(0.2)
                jwt = self._cached(key, refused)
                if jwt:
                    return jwt
        try:
            return self._cached(key, refused) or self._exchange(client_id, secret, key)
        finally:
            if owned:
                cache.delete(lock)

    def _exchange(self, client_id: str, secret: str, key: str) -> str:
        from .. import limits  # here, not at the top: channels.limits imports this package

        scope = LimitScope(f"booking_com:token:{token_digest(client_id)[:16]}", TOKEN_EXCHANGES_PER_HOUR, 3600)
        wait = limits.acquire([scope])
        if wait > 0:
            raise AdapterError("token_limit", f"{TOKEN_EXCHANGES_PER_HOUR} Booking.com tokens were requested for this "
                                              "account in the last hour (Booking.com allows 30); waiting.",
                               retryable=True, retry_after=wait)
        started = time.time()
        response = send(self.session, "POST", settings.BOOKING_COM_AUTH_URL.rstrip("/") + EXCHANGE_PATH,
                        json={"client_id": client_id, "client_secret": secret},
                        headers={"Accept": "application/json"})
        try:
            body = response.json()
        except ValueError:
            body = None
        if response.status_code != 200:
            detail = _auth_error_text(body) or f"HTTP {response.status_code}"
            raise status_error(response, f"Token exchange: {detail}")
        jwt = body.get("jwt") if isinstance(body, dict) else None
        if not isinstance(jwt, str) or not jwt:
            raise AdapterError("bad_answer", "Booking.com's token exchange answered without a token.", retryable=True,
                               status=response.status_code)
        refresh_at = started + _lifetime(jwt) - TOKEN_MARGIN_SECONDS
        cache.set(key, {"jwt": jwt, "refresh_at": refresh_at}, timeout=max(1, int(refresh_at - time.time())))
        log.info("Booking.com token renewed for account %s", token_digest(client_id)[:8])
        return jwt

    # --- plumbing -------------------------------------------------------------------------------------------

    @staticmethod
    def _url(secure: bool, name: str) -> str:
        base = settings.BOOKING_COM_SECURE_SUPPLY_URL if secure else settings.BOOKING_COM_SUPPLY_URL
        return base.rstrip("/") + OTA_PATH + name

    def _call(self, connection, method: str, url: str, *, body: bytes | None = None,
              params: dict[str, str] | None = None, ari: bool = False) -> Any:
        """One OTA call with the account's token (renewed once on a 401); the answer's root element."""
        headers = {"Accept": "application/xml"}
        if body is not None:
            headers["Content-Type"] = "application/xml"
        if ari:
            headers["Accept-Version"] = ACCEPT_VERSION

        def attempt(token: str) -> requests.Response:
            return send(self.session, method, url, data=body, params=params,
                        headers={**headers, "Authorization": f"Bearer {token}"})

        token = self.token(connection)
        response = attempt(token)
        if response.status_code == 401:  # expired or revoked sooner than we counted: one new token, once
            response = attempt(self.token(connection, refused=token))
        return _answer(response)

    def _count_request(self, connection, kind: int) -> None:
        """Count a further request of the same push in our limit windows (where they have room; see the module
        docstring: a push is never cut in the middle)."""
        from .. import limits

        limits.acquire(self.limits(connection, kind))

    # --- set-up ---------------------------------------------------------------------------------------------

    def credential_fields(self) -> list[tuple[str, str]]:
        return [("client_id", "Client ID (machine account)"), ("client_secret", "Client secret")]

    def list_properties(self, connection) -> list[RemoteProperty]:
        """Checks the credentials (a token exchange). The OTA endpoints list no properties: the hotel, room and
        rate plan ids are entered from the Booking.com extranet."""
        self.token(connection)
        return []

    # --- outbound -------------------------------------------------------------------------------------------

    def limits(self, connection, kind: int) -> list[LimitScope]:
        scopes = [LimitScope(f"booking_com:hotel:{connection.remote_property_id}", HOTEL_REQUESTS_PER_MINUTE, 60)]
        client_id = connection.credential("client_id")
        if client_id:
            scopes.append(LimitScope(f"booking_com:account:{token_digest(client_id)[:16]}",
                                     ACCOUNT_REQUESTS_PER_MINUTE, 60))
        return scopes

    def push_availability(self, connection, values: list[Run[NightAvailability]]) -> PushResult:
        result = PushResult()
        for nights in nights_by_month(values).values():
            batch = _Batch(AVAIL, connection)
            for run in runs({day: value.available for day, value in nights.items()}):
                message = batch.message(run, f"availability {run.value}", rate_plan=False, BookingLimit=run.value)
                _sub(message, "RestrictionStatus", Status="Open" if run.value > 0 else "Close")
            self._send(connection, 1, result, batch)
        return result

    def push_restrictions(self, connection, values: list[Run[NightRestrictions]]) -> PushResult:
        result = PushResult()
        for nights in nights_by_month(values).values():
            batch = _Batch(AVAIL, connection)
            stays = {day: Stay(r.min_stay, r.max_stay, r.stop_sell or r.rate <= 0) for day, r in nights.items()}
            for stay_run in runs(stays):
                stay = stay_run.value
                message = batch.message(stay_run, f"stay {stay.min_stay}–{stay.max_stay} nights"
                                             f"{', closed' if stay.closed else ''}", rate_plan=True)
                lengths = _sub(message, "LengthsOfStay")
                _sub(lengths, "LengthOfStay", Time=stay.min_stay, MinMaxMessageType="SetMinLOS")
                _sub(lengths, "LengthOfStay", Time=stay.max_stay, MinMaxMessageType="SetMaxLOS")
                _sub(message, "RestrictionStatus", Status="Close" if stay.closed else "Open")
            for restriction, attribute in (("Arrival", "closed_to_arrival"), ("Departure", "closed_to_departure")):
                for closed_run in runs({day: bool(getattr(r, attribute)) for day, r in nights.items()}):
                    closed = closed_run.value
                    message = batch.message(closed_run, f"{'closed' if closed else 'open'} to {restriction.lower()}",
                                            rate_plan=True)
                    _sub(message, "RestrictionStatus", Status="Close" if closed else "Open", Restriction=restriction)
            self._send(connection, 2, result, batch)

            batch = _Batch(RATES, connection)
            for price_run in runs({day: (r.rate, r.currency) for day, r in nights.items() if r.rate > 0}):  # 0: closed
                amount, currency = price_run.value
                text, places = _amount_text(amount, currency)
                message = batch.message(price_run, f"price {text} {currency}", rate_plan=True, locator=False)
                _sub(_sub(_sub(_sub(message, "Rates"), "Rate"), "BaseByGuestAmts"), "BaseByGuestAmt",
                     AmountAfterTax=text, CurrencyCode=currency, DecimalPlaces=places)
            self._send(connection, 2, result, batch)
        return result

    def _send(self, connection, kind: int, result: PushResult, batch: _Batch) -> None:
        if not batch.labels:
            return
        if result.requests:  # the engine counted the push's first request
            self._count_request(connection, kind)
        answer = self._call(connection, "POST", self._url(False, batch.name), body=_xml(batch.root), ari=True)
        result.requests += 1
        result.warnings += [_warning_text(batch, *warning) for warning in _problems(answer, "Warnings", "Warning")]

    # --- inbound --------------------------------------------------------------------------------------------

    def pull_reservations(self, connection) -> list[RemoteReservation]:
        hotel = connection.remote_property_id
        found = []
        for prefix, (name, list_tag, item_tag) in QUEUES.items():
            answer = self._call(connection, "GET", self._url(True, name), params={"hotel_ids": hotel})
            if answer.tag != q(f"{name}RQ"):
                raise AdapterError("bad_answer", f"Booking.com answered {etree.QName(answer).localname} to GET {name}.",
                                   retryable=True)
            for item in answer.iterfind(f"{q(list_tag)}/{q(item_tag)}"):
                try:
                    message = _reservation(item, prefix, connection)
                except (XmlError, ValueError, InvalidOperation) as exc:  # left queued (e-mailed to the property)
                    log.warning("Booking.com %s message for hotel %s could not be read (%s); not acknowledged",
                                name, hotel, exc)
                    continue
                if message.remote_property_id and message.remote_property_id != hotel:
                    continue  # another hotel's: its own connection applies and acknowledges it
                found.append(message)
        return found

    def acknowledge(self, connection, message_id: str) -> None:
        prefix, _, rest = message_id.partition(":")
        reservation_id = rest.rpartition(":")[0]
        if prefix not in QUEUES or not reservation_id:
            raise AdapterError("bad_message_id", f"Not a Booking.com message id: {message_id!r}.")
        name, list_tag, item_tag = QUEUES[prefix]
        root = _root(f"{name}RS", VERSIONS[name])
        _sub(root, "Success")
        item = _sub(_sub(root, list_tag), item_tag)
        _sub(_sub(_sub(item, "ResGlobalInfo"), "HotelReservationIDs"), "HotelReservationID",
             ResID_Value=reservation_id)
        try:
            self._call(connection, "POST", self._url(True, name), body=_xml(root))
        except AdapterError as exc:
            if exc.status == 400 and WRONG_TYPE in exc.detail.lower():
                return  # a newer message of this reservation replaced it (it comes with the next pull)
            raise


# --- answers ----------------------------------------------------------------------------------------------------


def _auth_error_text(body: Any) -> str:
    errors = body.get("errors") if isinstance(body, dict) else None
    if not isinstance(errors, list):
        return ""
    return "; ".join(str(e.get("message") or e.get("code")) for e in errors if isinstance(e, dict))


def _lifetime(jwt: str) -> int:
    """The token's lifetime in seconds: its ``exp - iat`` claims (read, not verified: only Booking.com checks
    them), at most the documented hour."""
    try:
        payload = jwt.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        lifetime = int(claims["exp"]) - int(claims["iat"])
    except (IndexError, ValueError, KeyError, TypeError):
        return TOKEN_LIFETIME_SECONDS
    return max(0, min(lifetime, TOKEN_LIFETIME_SECONDS))


def _problems(root: Any, list_tag: str, item_tag: str) -> list[tuple[str, str, str]]:
    """``(code, text, record id)`` of each ``<Errors>/<Error>`` or ``<Warnings>/<Warning>``."""
    return [(e.get("Code") or "", (e.get("ShortText") or e.text or "").strip(), e.get("RecordID") or "")
            for e in root.iterfind(f"{q(list_tag)}/{q(item_tag)}")]


def _error_text(problems: list[tuple[str, str, str]]) -> str:
    return "; ".join(f"{code} {text}".strip() + (f" (message {record})" if record else "")
                     for code, text, record in problems)


def _warning_text(batch: _Batch, code: str, text: str, record: str) -> str:
    """A refused message, in words: which request, which nights and values, and Booking.com's reason."""
    labels = batch.labels
    where = labels[int(record) - 1] if record.isdigit() and 0 < int(record) <= len(labels) else f"message {record}"
    return f"{batch.name} {where}: {code} {text}".strip()


def _answer(response: requests.Response) -> Any:
    """The answer's root element, or the AdapterError its status and ``<Errors>`` say."""
    try:
        root = parse_xml(response.content)
    except XmlError as exc:
        if response.status_code >= 400:
            raise status_error(response, "") from None
        raise AdapterError("bad_answer", f"Booking.com's answer could not be read: {exc}.", retryable=True,
                           status=response.status_code) from None
    errors = _problems(root, "Errors", "Error")
    transient = any(code in TRANSIENT_CODES for code, _t, _r in errors)
    if response.status_code >= 400:
        error = status_error(response, _error_text(errors))
        if transient and not error.retryable:
            error = AdapterError("platform_error", error.detail, retryable=True, status=response.status_code)
        raise error
    if errors:
        raise AdapterError("platform_error" if transient else "rejected", _error_text(errors), retryable=transient,
                           status=response.status_code)
    return root


# --- building ---------------------------------------------------------------------------------------------------


def _span(run: Run[Any]) -> str:
    return run.first.isoformat() if run.first == run.last else f"{run.first.isoformat()}–{run.last.isoformat()}"


def _control(parent: Any, connection, run: Run[Any], *, rate_plan: bool) -> Any:
    return _sub(parent, "StatusApplicationControl", Start=run.first.isoformat(), End=run.last.isoformat(),
                InvTypeCode=connection.remote_room_type_id,
                RatePlanCode=connection.remote_rate_plan_id if rate_plan else None)


# --- reading reservations ---------------------------------------------------------------------------------------


def _find(element: Any, *tags: str) -> Any:
    return element.find("/".join(q(tag) for tag in tags))


def _findall(element: Any, *tags: str) -> list[Any]:
    return element.findall("/".join(q(tag) for tag in tags))


def _amount(element: Any) -> tuple[Decimal | None, str]:
    """An OTA amount: ``AmountAfterTax`` (else ``AmountBeforeTax``) as an integer before ``DecimalPlaces`` (the
    reservation encoding: ``13350`` + ``DecimalPlaces="2"`` = 133.50), or as written when it has a dot."""
    if element is None:
        return None, ""
    raw = (element.get("AmountAfterTax") or element.get("AmountBeforeTax") or "").strip()
    currency = (element.get("CurrencyCode") or "").upper()
    if not raw:
        return None, currency
    value = Decimal(raw)
    places = element.get("DecimalPlaces")
    if "." not in raw and places:
        value = value.scaleb(-int(places))
    return value, currency


def _customer(element: Any) -> tuple[str, str, str]:
    """(name, e-mail, phone) of the first ``Profiles/ProfileInfo/Profile/Customer`` under ``element``."""
    customer = _find(element, "Profiles", "ProfileInfo", "Profile", "Customer") if element is not None else None
    if customer is None:
        return "", "", ""
    parts = [_find(customer, "PersonName", tag) for tag in ("GivenName", "Surname")]
    name = " ".join(text for text in ((p.text or "").strip() for p in parts if p is not None) if text)
    email, phone = _find(customer, "Email"), _find(customer, "Telephone")
    return (name, (email.text or "").strip() if email is not None else "",
            (phone.get("PhoneNumber") or "").strip() if phone is not None else "")


def _reservation(item: Any, prefix: str, connection) -> RemoteReservation:
    info = _find(item, "ResGlobalInfo")
    reservation_id_element = _find(item, "ResGlobalInfo", "HotelReservationIDs", "HotelReservationID")
    reservation_id = (reservation_id_element.get("ResID_Value") or "").strip() \
        if reservation_id_element is not None else ""
    if not reservation_id:
        raise XmlError("no HotelReservationID@ResID_Value")
    stays = _findall(item, "RoomStays", "RoomStay")
    status = (item.get("ResStatus") or "").strip().lower()
    if prefix == "res":
        kind = "new"
    elif status.startswith("cancel") or (not status and not stays):
        kind = "cancelled"
    else:
        kind = "modified"

    nights = sorted({date.fromisoformat(effective[:10]) for stay in stays
                     for rate in _findall(stay, "RoomRates", "RoomRate") if (effective := rate.get("EffectiveDate"))})
    if nights:
        check_in, check_out = nights[0], nights[-1] + timedelta(days=1)
    else:  # generic OTA partners send a TimeSpan instead
        span = _find(stays[0], "TimeSpan") if stays else None
        if span is not None and span.get("Start") and span.get("End"):
            check_in, check_out = date.fromisoformat(span.get("Start")[:10]), date.fromisoformat(span.get("End")[:10])
        elif kind == "cancelled":  # a cancellation without its rooms: the dates do not matter
            booked = (reservation_id_element.get("ResID_Date") or "")[:10]
            check_in = date.fromisoformat(booked) if booked else datetime.now(UTC).date()
            check_out = check_in + timedelta(days=1)
        else:
            raise XmlError(f"reservation {reservation_id} has no nights")

    adults = children = 0
    for stay in stays:
        for count in _findall(stay, "GuestCounts", "GuestCount"):
            number = int(count.get("Count") or 0)
            if count.get("AgeQualifyingCode") == "8":  # the OTA code of a child
                children += number
            else:
                adults += number
    hotels = {info_.get("HotelCode") for info_ in (_find(stay, "BasicPropertyInfo") for stay in stays)
              if info_ is not None and info_.get("HotelCode")}
    rooms = {room.get("RoomTypeCode") for stay in stays for room in _findall(stay, "RoomTypes", "RoomType")}

    total, currency = _amount(_find(item, "ResGlobalInfo", "Total"))
    if total is None and stays:
        totals = [_amount(_find(stay, "Total")) for stay in stays]
        if all(value is not None for value, _c in totals):
            total, currency = sum((value for value, _c in totals if value is not None), Decimal(0)), totals[0][1]
    name, email, phone = _customer(info)
    if not name:
        name = _customer(_find(item, "ResGuests", "ResGuest"))[0]
    digest = hashlib.sha256(etree.tostring(item, method="c14n")).hexdigest()[:20]
    return RemoteReservation(
        message_id=f"{prefix}:{reservation_id}:{digest}", remote_booking_id=reservation_id, kind=kind,
        source=Source.BOOKING_COM,
        remote_property_id=connection.remote_property_id if connection.remote_property_id in hotels else min(
            hotels, default=""),
        check_in=check_in, check_out=check_out, adults=max(1, adults), children=children, total=total,
        currency=currency, guest_name=name, guest_email=email, guest_phone=phone, revision_at=None,
        unmapped=bool(rooms) and rooms != {connection.remote_room_type_id})

