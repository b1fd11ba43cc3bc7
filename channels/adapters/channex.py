"""Channex (docs.channex.io, PMS API v1): the documented way for an independent product to reach Airbnb and Vrbo,
as well as Booking.com, Expedia and Google, through one JSON API.

A vacation rental is one Channex property with one room type and one rate plan (the connection's
``remote_property_id``, ``remote_room_type_id``, ``remote_rate_plan_id``). Authentication: the ``user-api-key``
header (credentials ``{"api_key": ...}``). Base URL: ``CHANNEX_BASE_URL`` (staging ``https://staging.channex.io/api/v1``,
production ``https://app.channex.io/api/v1``; the emulator in tests and ``make run``).

* **Availability**: ``POST /availability`` per room type, **restrictions and rates**: ``POST /restrictions`` per
  rate plan, both ``{"values": [...]}`` with ``date_from``/``date_to`` ranges (inclusive), every changed range of
  a push in one request. Rates are sent as integers in minor units. Invalid values come back as
  ``meta.warnings`` with a 200 (partial success): they are reported, not retried.
* **Limits** (documented): 10 availability and 10 restriction/price requests per minute per property, 20 ARI
  requests per minute in total (counted per API key here); 429 ``http_too_many_requests`` beyond.
* **Reservations**: the booking revisions feed (``GET /booking_revisions/feed``, unacknowledged revisions only,
  oldest first), each acknowledged with ``POST /booking_revisions/:id/ack`` after our commit. Webhooks
  (``booking_new``, ``booking_modification``, ``booking_cancellation``, ``non_acked_booking``) only trigger a
  pull: Channex does not guarantee their order, and documents no signature, so the webhook is registered with a
  custom header carrying the connection's secret (``X-Stayhold-Token``).
* **Read-back**: ``GET /availability`` for reconciliation.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from django.conf import settings

from bookings.models import Source
from core.crypto import token_digest
from core.money import to_minor_units

from ..ari import NightAvailability, NightRestrictions, Run
from .base import (
    WEBHOOK_TOKEN_HEADER,
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

PAGE_LIMIT = 100
WEBHOOK_EVENTS = "booking_new;booking_modification;booking_cancellation;non_acked_booking;sync_error"
# ota_name (as Channex writes it) → our booking source; anything else is "other".
OTA_SOURCES = {
    "airbnb": Source.AIRBNB, "abb": Source.AIRBNB,
    "booking.com": Source.BOOKING_COM, "bookingcom": Source.BOOKING_COM, "bdc": Source.BOOKING_COM,
    "expedia": Source.EXPEDIA, "a-expedia": Source.EXPEDIA, "exp": Source.EXPEDIA,
    "vrbo": Source.FEWO_DIREKT, "homeaway": Source.FEWO_DIREKT, "fewo-direkt": Source.FEWO_DIREKT,
    "google": Source.GOOGLE_VR, "google vacation rentals": Source.GOOGLE_VR,
}


def source_for(ota_name: str | None) -> str:
    return OTA_SOURCES.get((ota_name or "").strip().lower(), Source.OTHER)


class ChannexAdapter(Adapter):
    name = "channex"
    label = "Channex"
    horizon_days = 500  # the documented full sync: 500 days

    def __init__(self) -> None:
        self.session = http_session()

    # --- plumbing -------------------------------------------------------------------------------------------

    def _key(self, connection) -> str:
        key = connection.credential("api_key")
        if not key:
            raise AdapterError("bad_credentials", "No Channex API key is set for this connection.")
        return key

    def _call(self, connection, method: str, path: str, *, params: dict | None = None,
              json: Any = None) -> dict:
        response = send(self.session, method, settings.CHANNEX_BASE_URL.rstrip("/") + path, params=params,
                        json=json, headers={"user-api-key": self._key(connection), "Accept": "application/json"})
        try:
            body = response.json()
        except ValueError:
            body = {}
        if response.status_code >= 400 or not isinstance(body, dict):
            raise status_error(response, _error_text(body))
        return body

    def _pages(self, connection, path: str, params: dict) -> list[dict]:
        items: list[dict] = []
        page = 1
        while True:
            body = self._call(connection, "GET", path,
                              params={**params, "pagination[page]": page, "pagination[limit]": PAGE_LIMIT})
            data = body.get("data") or []
            items += data
            total = (body.get("meta") or {}).get("total")
            if not data or total is None or len(items) >= int(total):
                return items
            page += 1

    # --- set-up ---------------------------------------------------------------------------------------------

    def credential_fields(self) -> list[tuple[str, str]]:
        return [("api_key", "API key")]

    def list_properties(self, connection) -> list[RemoteProperty]:
        found = []
        for item in self._pages(connection, "/properties", {}):
            attrs = item.get("attributes") or {}
            pid = item.get("id") or attrs.get("id")
            rooms = self._pages(connection, "/room_types", {"filter[property_id]": pid})
            rates = self._pages(connection, "/rate_plans", {"filter[property_id]": pid})
            found.append(RemoteProperty(
                property_id=pid, title=attrs.get("title") or pid, currency=attrs.get("currency") or "",
                room_type_id=rooms[0]["id"] if rooms else "", rate_plan_id=rates[0]["id"] if rates else ""))
        return found

    def register_webhook(self, connection, callback_url: str, token: str) -> None:
        self._call(connection, "POST", "/webhooks", json={"webhook": {
            "property_id": connection.remote_property_id, "callback_url": callback_url,
            "event_mask": WEBHOOK_EVENTS, "request_params": {}, "headers": {WEBHOOK_TOKEN_HEADER: token},
            "is_active": True, "send_data": False}})

    # --- outbound -------------------------------------------------------------------------------------------

    def limits(self, connection, kind: int) -> list[LimitScope]:
        pid = connection.remote_property_id
        per_property = (LimitScope(f"channex:availability:{pid}", 10, 60) if kind == 1
                        else LimitScope(f"channex:restrictions:{pid}", 10, 60))
        # "20 ARI total per minute": counted per API key (its digest: the key itself never leaves the database).
        return [per_property, LimitScope(f"channex:ari:{token_digest(self._key(connection))[:16]}", 20, 60)]

    def push_availability(self, connection, runs: list[Run[NightAvailability]]) -> PushResult:
        values = [{"property_id": connection.remote_property_id, "room_type_id": connection.remote_room_type_id,
                   "date_from": run.first.isoformat(), "date_to": run.last.isoformat(),
                   "availability": run.value.available} for run in runs]
        body = self._call(connection, "POST", "/availability", json={"values": values})
        return PushResult(requests=1, warnings=_warnings(body))

    def push_restrictions(self, connection, runs: list[Run[NightRestrictions]]) -> PushResult:
        values = []
        for run in runs:
            r = run.value
            value: dict[str, Any] = {
                "property_id": connection.remote_property_id, "rate_plan_id": connection.remote_rate_plan_id,
                "date_from": run.first.isoformat(), "date_to": run.last.isoformat(),
                "min_stay_arrival": r.min_stay, "max_stay": r.max_stay,
                "closed_to_arrival": r.closed_to_arrival, "closed_to_departure": r.closed_to_departure,
                "stop_sell": r.stop_sell}
            if r.rate > 0:  # Channex refuses a rate of 0; such a night is closed by stop sell instead
                value["rate"] = to_minor_units(r.rate, r.currency)
            else:
                value["stop_sell"] = True
            values.append(value)
        body = self._call(connection, "POST", "/restrictions", json={"values": values})
        return PushResult(requests=1, warnings=_warnings(body))

    def read_availability(self, connection, start: date, end: date) -> dict[date, int] | None:
        body = self._call(connection, "GET", "/availability", params={
            "filter[property_id]": connection.remote_property_id, "filter[date][gte]": start.isoformat(),
            "filter[date][lte]": (end - timedelta(days=1)).isoformat()})
        by_date = ((body.get("data") or {}).get(connection.remote_room_type_id) or {})
        return {date.fromisoformat(day): int(value) for day, value in by_date.items()}

    # --- inbound --------------------------------------------------------------------------------------------

    def pull_reservations(self, connection) -> list[RemoteReservation]:
        items = self._pages(connection, "/booking_revisions/feed", {
            "filter[property_id]": connection.remote_property_id, "order[inserted_at]": "asc"})
        return [_reservation(item) for item in items]

    def recover_reservations(self, connection, today: date) -> list[RemoteReservation]:
        """Channex's feed serves an unacknowledged revision for 30 minutes and then only warns (some say it then
        drops out): the bookings listing (``GET /bookings``) has every booking with its latest revision, so the
        daily reconciliation finds what a long outage here let slip by."""
        items = self._pages(connection, "/bookings", {"filter[property_id]": connection.remote_property_id,
                                                       "filter[departure_date][gte]": today.isoformat()})
        out = []
        for item in items:
            attrs = item.get("attributes") or {}
            revision = {"id": attrs.get("revision_id"), "attributes": {
                **attrs, "booking_id": item.get("id") or attrs.get("id"),
                "inserted_at": attrs.get("updated_at") or attrs.get("inserted_at")}}
            out.append(_reservation(revision))
        return out

    def acknowledge(self, connection, message_id: str) -> None:
        try:
            self._call(connection, "POST", f"/booking_revisions/{message_id}/ack", json={})
        except AdapterError as exc:
            if exc.status != 404:  # already gone from the feed: nothing left to acknowledge
                raise


def _error_text(body: Any) -> str:
    errors = body.get("errors") if isinstance(body, dict) else None
    if not isinstance(errors, dict):
        return ""
    details = errors.get("details")
    if isinstance(details, dict):
        details = "; ".join(f"{k}: {', '.join(map(str, v)) if isinstance(v, list) else v}" for k, v in details.items())
    elif isinstance(details, list):
        details = "; ".join(map(str, details))
    return " — ".join(str(part) for part in (errors.get("title") or errors.get("code"), details) if part)


def _warnings(body: dict) -> list[str]:
    out = []
    for item in (body.get("meta") or {}).get("warnings") or []:
        where = item.get("date") or f"{item.get('date_from')}–{item.get('date_to')}"
        problems = item.get("warning") or {}
        out.append(f"{where}: " + "; ".join(f"{k} {', '.join(map(str, v))}" for k, v in problems.items()))
    return out


def _money(value: Any) -> Decimal | None:
    try:
        return Decimal(str(value)) if value not in (None, "") else None
    except InvalidOperation:
        return None


def _reservation(item: dict) -> RemoteReservation:
    a = item.get("attributes") or {}
    occupancy = a.get("occupancy") or {}
    customer = a.get("customer") or {}
    rooms = a.get("rooms") or []
    inserted = a.get("inserted_at")
    revision_at = datetime.fromisoformat(inserted) if inserted else None
    if revision_at is not None and revision_at.tzinfo is None:
        revision_at = revision_at.replace(tzinfo=UTC)  # Channex writes UTC without a zone
    name = " ".join(part for part in (customer.get("name"), customer.get("surname")) if part)
    return RemoteReservation(
        message_id=item.get("id") or a.get("id"), remote_booking_id=a.get("booking_id") or "",
        kind=a.get("status") or "new", source=source_for(a.get("ota_name")),
        remote_property_id=a.get("property_id") or "",
        check_in=date.fromisoformat(a["arrival_date"]), check_out=date.fromisoformat(a["departure_date"]),
        adults=int(occupancy.get("adults") or 1), children=int(occupancy.get("children") or 0),
        total=_money(a.get("amount")), currency=(a.get("currency") or "").upper(),
        guest_name=name, guest_email=customer.get("mail") or "", guest_phone=customer.get("phone") or "",
        revision_at=revision_at,
        unmapped=any(room.get("room_type_id") is None for room in rooms))
