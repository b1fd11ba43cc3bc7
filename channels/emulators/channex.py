"""A local emulator of the Channex.io PMS API (``/api/v1``), for the Channex adapter and its tests.

It follows the public documentation at docs.channex.io, as summarised in the project's research notes:

* https://docs.channex.io/api-v.1-documentation/api-reference (envelopes, errors, pagination, filters)
* https://docs.channex.io/api-v.1-documentation/rate-limits (20 ARI per minute in total, 10 per property each)
* https://docs.channex.io/api-v.1-documentation/ari (``POST|GET /availability``, ``POST|GET /restrictions``)
* https://docs.channex.io/api-v.1-documentation/hotels-collection, …/room-types-collection, …/rate-plans-collection
* https://docs.channex.io/api-v.1-documentation/bookings-collection (revisions, feed, ack, bookings)
* https://docs.channex.io/api-v.1-documentation/webhook-collection (CRUD, events, payload envelope)
* https://docs.channex.io/guides/pms-integration-guide (the 30-minute non-acknowledgement rule)

What it models: API keys (header ``user-api-key``) owning vacation rentals, each one property with one room type
(``count_of_rooms`` 1) and one rate plan (``per_room``, ``manual``); availability per room type and date (0 until
pushed); rate and restrictions per rate plan and date (the rate plan's defaults until pushed: rate 0, min stays 1,
max stay 0, nothing closed); the documented partial success of ARI writes (bad values echoed in
``meta.warnings``, good ones applied in order, last wins, omitted fields kept); the ARI rate limits on the emulator
clock (a sliding 60-second window); bookings as revisions (new / modified / cancelled) with the feed of
unacknowledged revisions and ack; webhooks delivered from background threads with retries.

Behaviours marked *(inferred)* are not stated by the docs: a property (or booking, revision, webhook) of another
key answers 403 ``forbidden``; an unknown or foreign property / room type / rate plan inside an ARI value is a
warning for that value (``"not found"``); past dates are judged in the property's timezone, a value reaching more
than ``state_length`` (500) days ahead is a warning, a range starting in the past is refused whole; the warning
messages other than the documented ones; a request touching several properties counts once for each, and a
refused (429) request counts for none; ``unique_id`` prefixes (Airbnb ABB, Booking.com BDC, Expedia EXP,
Vrbo VRB, else the first three letters); a new booking lowers availability
(``allow_availability_autoupdate_on_confirmation`` defaults to true); ``GET /bookings`` ``inserted_at`` is the
booking's creation time (its first revision), ``updated_at`` its latest revision's; the ``booking_*`` and
``non_acked_booking`` webhook payloads are ``{booking_id, property_id, revision_id}`` and ``non_acked_booking``
counts 30 minutes from the revision's ``inserted_at``; an ``event_mask`` entry ``booking`` covers ``booking_new``,
``booking_modification`` and ``booking_cancellation``; an unmapped room also fires ``booking_unmapped_room``;
``POST /webhooks/test`` sends ``{"event": "test", ...}``; a delivery is retried 3 times, 1 s apart, on a
non-2xx answer or a network error (5 s timeout).

Control routes (besides the shared ones of :mod:`channels.emulators.base`: requests, reset, faults, clock):

* ``POST /_emulator/accounts`` ``{"api_key": "k", "properties": [{"title", "currency", "timezone", ...}]}`` — the
  key (created, or extended if it exists; generated when absent) and its properties, each with one room type and
  one rate plan → ``{"api_key", "properties": [{"id", "room_type_id", "rate_plan_id"}]}``. Optional per property:
  ``country``, ``city``, ``occ_adults`` (default 2), ``settings`` (overrides, e.g. ``min_stay_type``).
* ``POST /_emulator/bookings`` ``{"property_id", "arrival_date", "departure_date", "adults", "children",
  "amount": "450.00", "currency", "ota_name": "Airbnb", "customer": {...}, "unmapped": false, "notes"}`` — a
  booking made on an OTA: a ``new`` revision (webhooks fire) → ``{"booking_id", "revision_id", "unique_id"}``.
  ``amount`` defaults to the sum of the stored rates of the nights.
* ``POST /_emulator/bookings/<booking_id>/modify`` (any of the same fields) → a ``modified`` revision;
  ``POST /_emulator/bookings/<booking_id>/cancel`` → a ``cancelled`` revision (same dates and rooms).
* ``GET /_emulator/ari?property_id=`` — the stored availability and restrictions (dates written only);
  ``POST /_emulator/ari`` ``{"property_id", "date", "availability"?, "rate"?, "stop_sell"?, ...}`` overwrites one
  date as if changed inside Channex (drift): no rate limit, no webhook.
* ``GET|POST /_emulator/limits`` ``{"availability_per_minute": 10, "restrictions_per_minute": 10,
  "ari_total_per_minute": 20}`` (``null``: no limit).
* ``GET|POST /_emulator/settings`` ``{"unacked_leave_feed_after_minutes": 30}`` — an unacknowledged revision
  leaves the feed that long after its ``inserted_at`` (default ``null``: it stays until acknowledged).
* ``GET|POST /_emulator/webhooks`` ``{"drop": N, "duplicate": N, "delay": seconds, "reorder": true}`` — the next
  N deliveries are lost (recorded as ``dropped``, never sent, never retried); the next N are sent twice; every
  delivery waits ``delay`` real seconds first (until set back to 0); while ``reorder`` is true deliveries are held,
  and ``{"reorder": false}`` releases them newest first, one after the other. ``GET`` shows the settings and the
  number held.
* ``GET /_emulator/deliveries`` — every delivery attempt, in the order they finished: ``{"delivery_id",
  "webhook_id", "event", "url", "attempt", "outcome": "delivered"|"failed"|"dropped", "status", "error",
  "duplicate", "at", "body"}``; ``DELETE`` clears it.

``non_acked_booking`` is checked on every request (control routes included, so after a clock change).
"""

from __future__ import annotations

import json
import operator
import re
import secrets
import string
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from channels.emulators.base import Emulator, Request, Response

API = "/api/v1"
UNAUTHORIZED = (401, "unauthorized", "Unauthorized")
FORBIDDEN = (403, "forbidden", "Forbidden")  # (inferred: no example in the docs)
NOT_FOUND = (404, "not_found", "Resouce Not Found")  # sic, as documented
RESOURCE_NOT_FOUND = (404, "resource_not_found", "Resource Not Found")  # webhooks, properties
BAD_REQUEST = (400, "bad_request", "Bad Request")
VALIDATION = (422, "validation_error", "Validation Error")
TOO_MANY = (429, "http_too_many_requests", "Too Many Requests")

DEFAULT_LIMITS = {"availability_per_minute": 10, "restrictions_per_minute": 10, "ari_total_per_minute": 20}
WINDOW = timedelta(seconds=60)
NON_ACK_AFTER = timedelta(minutes=30)
STATE_LENGTH = 500
WEEKDAYS = ("mo", "tu", "we", "th", "fr", "sa", "su")
BOOL_FIELDS = ("closed_to_arrival", "closed_to_departure", "stop_sell")
INT_MINIMUM = {"min_stay_arrival": 1, "min_stay_through": 1, "min_stay": 1, "max_stay": 0}
RESTRICTIONS = ("rate", "min_stay_arrival", "min_stay_through", "min_stay", "max_stay", *BOOL_FIELDS)
READABLE = ("availability", "rate", "min_stay_arrival", "min_stay_through", "min_stay", "closed_to_arrival",
            "closed_to_departure", "stop_sell", "max_stay", "availability_offset", "max_availability")
NON_NULL = "Should be a non null value or not existed field"
OTA_PREFIXES = {"airbnb": "ABB", "booking": "BDC", "expedia": "EXP", "vrbo": "VRB"}
EVENTS = {"new": "booking_new", "modified": "booking_modification", "cancelled": "booking_cancellation"}
COMPARISONS = {"gte": operator.ge, "gt": operator.gt, "lte": operator.le, "lt": operator.lt, "eq": operator.eq}
DELIVERY_TIMEOUT = 5.0
DELIVERY_RETRIES = 3


class ApiError(Exception):
    def __init__(self, error: tuple[int, str, str], details: Any = None) -> None:
        super().__init__(error[2])
        self.status, self.code, self.title = error
        self.details = details

    def response(self) -> Response:
        body: dict[str, Any] = {"code": self.code, "title": self.title}
        if self.details is not None:
            body["details"] = self.details
        return Response.json({"errors": body}, self.status)


class ControlError(Exception):
    """A bad control request: 400 ``{"error": ...}``."""


def new_id() -> str:
    return str(uuid.uuid4())


def money(minor: int) -> str:
    sign = "-" if minor < 0 else ""
    return f"{sign}{abs(minor) // 100}.{abs(minor) % 100:02d}"


def parse_rate(raw: Any) -> int:
    """A rate as sent: a decimal string in major units ("200.00") or an integer in minor units (20000)."""
    if isinstance(raw, bool) or not isinstance(raw, int | str):
        raise ValueError("is invalid")
    if isinstance(raw, int):
        return raw
    try:
        amount = Decimal(raw.strip())
    except InvalidOperation:
        raise ValueError("is invalid") from None
    if not amount.is_finite() or amount != amount.quantize(Decimal("0.01")):
        raise ValueError("is invalid")
    return int(amount * 100)


def parse_int(raw: Any) -> int:
    if isinstance(raw, bool):
        raise ValueError("is invalid")
    if isinstance(raw, str) and re.fullmatch(r"-?\d+", raw.strip()):
        return int(raw)
    if not isinstance(raw, int):
        raise ValueError("is invalid")
    return raw


def parse_bool(raw: Any) -> bool:
    if raw in (True, 1, "1", "true"):
        return True
    if raw in (False, 0, "0", "false"):
        return False
    raise ValueError("is invalid")


def parse_date(raw: Any) -> date:
    if not isinstance(raw, str):
        raise ValueError("is invalid")
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise ValueError("is invalid") from None


def naive_utc(moment: datetime) -> str:
    """``inserted_at`` as Channex writes it: microseconds, no zone (UTC)."""
    return moment.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="microseconds")


def parse_moment(raw: str) -> datetime:
    moment = datetime.fromisoformat(raw)
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


def days_between(first: date, last: date) -> list[date]:
    return [first + timedelta(days=n) for n in range((last - first).days + 1)]


class ChannexEmulator(Emulator):
    name = "channex"
    retry_interval = 1.0  # seconds between delivery attempts

    def reset_state(self) -> None:
        self.generation = getattr(self, "generation", 0) + 1  # background deliveries of an older state stop
        self.keys: dict[str, list[str]] = {}
        self.properties: dict[str, dict[str, Any]] = {}
        self.room_types: dict[str, dict[str, Any]] = {}
        self.rate_plans: dict[str, dict[str, Any]] = {}
        self.availability: dict[str, dict[str, int]] = {}  # room type id → date → rooms
        self.restrictions: dict[str, dict[str, dict[str, Any]]] = {}  # rate plan id → date → field → value
        self.bookings: dict[str, dict[str, Any]] = {}
        self.revisions: dict[str, dict[str, Any]] = {}
        self.webhooks: dict[str, dict[str, Any]] = {}
        self.deliveries: list[dict[str, Any]] = []
        self.windows: dict[tuple[str, str], list[datetime]] = {}
        self.limits: dict[str, int | None] = dict(DEFAULT_LIMITS)
        self.settings: dict[str, Any] = {"unacked_leave_feed_after_minutes": None}
        self.hooks: dict[str, Any] = {"drop": 0, "duplicate": 0, "delay": 0.0, "reorder": False}
        self.held: list[dict[str, Any]] = []

    def dispatch(self, request: Request) -> Response:
        self._fire_non_acked()
        try:
            return super().dispatch(request)
        finally:
            self._fire_non_acked()

    # --- the API --------------------------------------------------------------------------------------------

    ROUTES = [
        ("GET", r"/properties", "list_properties"),
        ("GET", r"/properties/(?P<pid>[^/]+)", "get_property"),
        ("GET", r"/room_types", "list_room_types"),
        ("GET", r"/room_types/(?P<rid>[^/]+)", "get_room_type"),
        ("GET", r"/rate_plans", "list_rate_plans"),
        ("GET", r"/rate_plans/(?P<rid>[^/]+)", "get_rate_plan"),
        ("POST", r"/availability", "post_availability"),
        ("GET", r"/availability", "get_availability"),
        ("POST", r"/restrictions", "post_restrictions"),
        ("GET", r"/restrictions", "get_restrictions"),
        ("GET", r"/booking_revisions/feed", "feed"),
        ("GET", r"/booking_revisions", "list_revisions"),
        ("GET", r"/booking_revisions/(?P<rid>[^/]+)", "get_revision"),
        ("POST", r"/booking_revisions/(?P<rid>[^/]+)/ack", "ack"),
        ("GET", r"/bookings", "list_bookings"),
        ("GET", r"/bookings/(?P<bid>[^/]+)", "get_booking"),
        ("GET", r"/webhooks", "list_webhooks"),
        ("POST", r"/webhooks", "create_webhook"),
        ("POST", r"/webhooks/test", "test_webhook"),
        ("GET", r"/webhooks/(?P<wid>[^/]+)", "get_webhook"),
        ("PUT", r"/webhooks/(?P<wid>[^/]+)", "update_webhook"),
        ("DELETE", r"/webhooks/(?P<wid>[^/]+)", "delete_webhook"),
    ]

    def handle(self, request: Request) -> Response:
        try:
            if not request.path.startswith(API + "/"):
                raise ApiError(NOT_FOUND)
            key = request.headers.get("user-api-key")
            if not key or key not in self.keys:
                raise ApiError(UNAUTHORIZED)
            path = request.path[len(API):].rstrip("/")
            for method, pattern, handler in self.ROUTES:
                match = re.fullmatch(pattern, path)
                if match and method == request.method:
                    return getattr(self, "api_" + handler)(request, key, **match.groupdict())
            raise ApiError(NOT_FOUND)
        except ApiError as exc:
            return exc.response()

    @staticmethod
    def _body(request: Request) -> Any:
        try:
            return request.json()
        except ValueError:
            raise ApiError(BAD_REQUEST, ["body is not valid JSON"]) from None

    def _property(self, key: str, pid: str, missing: tuple[int, str, str] = RESOURCE_NOT_FOUND) -> dict[str, Any]:
        prop = self.properties.get(pid)
        if prop is None:
            raise ApiError(missing)
        if prop["key"] != key:
            raise ApiError(FORBIDDEN)
        return prop

    def _owned(self, key: str, item: dict[str, Any] | None, missing: tuple[int, str, str] = NOT_FOUND) -> Any:
        if item is None:
            raise ApiError(missing)
        if self.properties[item["property_id"]]["key"] != key:
            raise ApiError(FORBIDDEN)
        return item

    def _property_filter(self, request: Request, key: str) -> set[str]:
        """The key's property ids, narrowed by ``filter[property_id]`` (a comma list); a foreign id → 403."""
        raw = request.param("filter[property_id]")
        if not raw:
            return set(self.keys[key])
        wanted = {pid.strip() for pid in raw.split(",") if pid.strip()}
        for pid in wanted:
            if pid in self.properties and self.properties[pid]["key"] != key:
                raise ApiError(FORBIDDEN)
        return wanted & set(self.keys[key])

    @staticmethod
    def _paginate(request: Request, items: list[Any], **extra: Any) -> Response:
        def number(name: str, default: int) -> int:
            raw = request.param(f"pagination[{name}]")
            return int(raw) if raw and raw.isdigit() else default

        limit = min(max(number("limit", 10), 1), 100)
        page = max(number("page", 1), 1)
        chunk = items[(page - 1) * limit: page * limit]
        return Response.json({"data": chunk, "meta": {"limit": limit, "page": page, "total": len(items), **extra}})

    # catalogue

    def _property_json(self, prop: dict[str, Any], detail: bool = False) -> dict[str, Any]:
        attributes = dict(prop["attributes"])
        if detail:
            attributes["settings"] = dict(prop["settings"])
        group = {"id": prop["group_id"], "type": "group", "attributes": {"id": prop["group_id"], "title": "User Group"}}
        return {"type": "property", "id": prop["id"], "attributes": attributes,
                "relationships": {"groups": {"data": [group]}, "facilities": {"data": []}}}

    def api_list_properties(self, request: Request, key: str) -> Response:
        props = [self.properties[pid] for pid in self.keys[key]]
        for name in ("id", "title"):
            if request.param(f"filter[{name}]"):
                props = [p for p in props if p["attributes"][name] in request.param(f"filter[{name}]").split(",")]
        if request.param("filter[is_active]"):
            active = request.param("filter[is_active]") == "true"
            props = [p for p in props if p["attributes"]["is_active"] == active]
        props.sort(key=lambda p: p["attributes"]["title"])
        return self._paginate(request, [self._property_json(p) for p in props])

    def api_get_property(self, request: Request, key: str, pid: str) -> Response:
        return Response.json({"data": self._property_json(self._property(key, pid), detail=True)})

    def _catalogue(self, request: Request, key: str, table: dict[str, dict[str, Any]], kind: str) -> Response:
        pids = self._property_filter(request, key)
        items = sorted((item for item in table.values() if item["property_id"] in pids),
                       key=lambda item: item["attributes"]["title"])
        return self._paginate(request, [self._catalogue_json(item, kind) for item in items])

    @staticmethod
    def _catalogue_json(item: dict[str, Any], kind: str) -> dict[str, Any]:
        relationships = {"property": {"data": {"type": "property", "id": item["property_id"]}}}
        if kind == "room_type":
            relationships["facilities"] = {"data": []}
        else:
            relationships["room_type"] = {"data": {"type": "room_type", "id": item["room_type_id"]}}
        return {"type": kind, "id": item["id"], "attributes": dict(item["attributes"]), "relationships": relationships}

    def api_list_room_types(self, request: Request, key: str) -> Response:
        return self._catalogue(request, key, self.room_types, "room_type")

    def api_list_rate_plans(self, request: Request, key: str) -> Response:
        return self._catalogue(request, key, self.rate_plans, "rate_plan")

    def api_get_room_type(self, request: Request, key: str, rid: str) -> Response:
        return Response.json({"data": self._catalogue_json(self._owned(key, self.room_types.get(rid)), "room_type")})

    def api_get_rate_plan(self, request: Request, key: str, rid: str) -> Response:
        return Response.json({"data": self._catalogue_json(self._owned(key, self.rate_plans.get(rid)), "rate_plan")})

    # ARI writes

    def _values(self, request: Request) -> list[Any]:
        body = self._body(request)
        values = body.get("values") if isinstance(body, dict) else None
        if not isinstance(values, list) or not values:
            raise ApiError(VALIDATION, {"values": ["can't be blank"]})
        return values

    def _today(self, prop: dict[str, Any]) -> date:
        try:
            zone = ZoneInfo(prop["attributes"]["timezone"])
        except (ZoneInfoNotFoundError, ValueError):
            zone = ZoneInfo("UTC")
        return self.now().astimezone(zone).date()

    def _check_dates(self, value: dict[str, Any], prop: dict[str, Any] | None, errors: dict[str, list[str]],
                     with_days: bool) -> list[date]:
        try:
            if value.get("date") is not None:
                first = last = parse_date(value["date"])
                field_first = field_last = "date"
            elif value.get("date_from") is not None and value.get("date_to") is not None:
                first, last = parse_date(value["date_from"]), parse_date(value["date_to"])
                field_first, field_last = "date_from", "date_to"
            else:
                errors["date"] = ["can't be blank"]
                return []
        except ValueError as exc:
            errors["date"] = [str(exc)]
            return []
        if last < first:
            errors["date_to"] = ["must be greater than or equal to date_from"]
            return []
        if prop is not None:
            today = self._today(prop)
            if first < today:
                errors[field_first] = ["can't be in the past"]
            elif last > (horizon := today + timedelta(days=prop["settings"]["state_length"])):
                errors[field_last] = [f"must be less than or equal to {horizon}"]
        dates = days_between(first, last)
        if with_days and "days" in value:
            days = value["days"]
            if not isinstance(days, list) or not days or any(day not in WEEKDAYS for day in days):
                errors["days"] = ["is invalid"]
                return []
            dates = [day for day in dates if WEEKDAYS[day.weekday()] in days]
        return dates

    def _target(self, key: str, value: dict[str, Any], table: dict[str, dict[str, Any]], field: str,
                errors: dict[str, list[str]]) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
        """The value's property (if the key's) and its room type or rate plan; problems go to ``errors``."""
        prop = self.properties.get(value.get("property_id")) if isinstance(value.get("property_id"), str) else None
        if not value.get("property_id"):
            errors["property_id"] = ["can't be blank"]
        elif prop is None or prop["key"] != key:
            errors["property_id"] = ["not found"]
            prop = None
        item = table.get(value.get(field)) if isinstance(value.get(field), str) else None
        if not value.get(field):
            errors[field] = ["can't be blank"]
        elif prop is not None and (item is None or item["property_id"] != prop["id"]):
            errors[field] = ["not found"]
        return prop, item

    def _check_availability(self, key: str, value: Any) -> tuple[dict[str, list[str]], Any]:
        errors: dict[str, list[str]] = {}
        if not isinstance(value, dict):
            return {"value": ["is invalid"]}, None
        prop, room_type = self._target(key, value, self.room_types, "room_type_id", errors)
        dates = self._check_dates(value, prop, errors, with_days=False)
        count = value.get("availability")
        if count is None:
            errors["availability"] = ["can't be blank"]
        else:
            try:
                count = parse_int(count)
                if count < 0:
                    errors["availability"] = ["must be greater than or equal to 0"]
            except ValueError as exc:
                errors["availability"] = [str(exc)]
        return errors, (prop, room_type and room_type["id"], dates, count)

    def _check_restriction(self, key: str, value: Any) -> tuple[dict[str, list[str]], Any]:
        errors: dict[str, list[str]] = {}
        if not isinstance(value, dict):
            return {"value": ["is invalid"]}, None
        prop, plan = self._target(key, value, self.rate_plans, "rate_plan_id", errors)
        dates = self._check_dates(value, prop, errors, with_days=True)
        changes: dict[str, Any] = {}
        for name in RESTRICTIONS:
            if name not in value:
                continue
            raw = value[name]
            try:
                if raw is None:
                    raise ValueError(NON_NULL)
                if name == "rate":
                    changes[name] = parse_rate(raw)
                    if changes[name] <= 0:
                        raise ValueError("must be greater than 0")
                elif name in BOOL_FIELDS:
                    changes[name] = parse_bool(raw)
                else:
                    changes[name] = parse_int(raw)
                    if changes[name] < INT_MINIMUM[name]:
                        raise ValueError(f"must be greater than or equal to {INT_MINIMUM[name]}")
            except ValueError as exc:
                errors[name] = [str(exc)]
        if "min_stay" in changes and prop is not None:
            min_stay_type = prop["settings"]["min_stay_type"]
            if min_stay_type == "both":
                errors["min_stay"] = ["is not allowed when min_stay_type is both"]
            else:
                changes[f"min_stay_{min_stay_type}"] = changes.pop("min_stay")
        if not any(name in value for name in RESTRICTIONS):
            errors["restrictions"] = ["at least one restriction is required"]
        return errors, (prop, plan and plan["id"], dates, changes)

    def _throttle(self, key: str, kind: str, pids: set[str]) -> None:
        """Count the request in the sliding windows, or raise 429 without counting it anywhere."""
        now = self.now()
        buckets = [((kind, pid), self.limits[f"{kind}_per_minute"]) for pid in sorted(pids)]
        buckets.append((("total", key), self.limits["ari_total_per_minute"]))
        for bucket, limit in buckets:
            window = self.windows[bucket] = [t for t in self.windows.get(bucket, []) if now - WINDOW < t <= now]
            if limit is not None and len(window) >= limit:
                raise ApiError(TOO_MANY)
        for bucket, _ in buckets:
            self.windows[bucket].append(now)

    def _ari_write(self, request: Request, key: str, kind: str) -> Response:
        check = self._check_availability if kind == "availability" else self._check_restriction
        checked = [(value, *check(key, value)) for value in self._values(request)]
        self._throttle(key, kind, {parsed[0]["id"] for _, _, parsed in checked if parsed and parsed[0]})
        warnings, applied = [], 0
        for value, errors, parsed in checked:
            if errors:
                warnings.append({**value, "warning": errors} if isinstance(value, dict) else {"warning": errors})
                continue
            applied += 1
            _, target, dates, change = parsed
            for day in dates:
                if kind == "availability":
                    self.availability.setdefault(target, {})[day.isoformat()] = change
                else:
                    self.restrictions.setdefault(target, {}).setdefault(day.isoformat(), {}).update(change)
        data = [{"id": new_id(), "type": "task"}] if applied else []
        return Response.json({"data": data, "meta": {"message": "Success", "warnings": warnings}})

    def api_post_availability(self, request: Request, key: str) -> Response:
        return self._ari_write(request, key, "availability")

    def api_post_restrictions(self, request: Request, key: str) -> Response:
        return self._ari_write(request, key, "restrictions")

    # ARI reads

    def _read_scope(self, request: Request, key: str) -> tuple[dict[str, Any], list[date]]:
        pid = request.param("filter[property_id]")
        if not pid:
            raise ApiError(BAD_REQUEST, ["property_id is required"])
        prop = self._property(key, pid, NOT_FOUND)
        try:
            if request.param("filter[date]"):
                first = last = parse_date(request.param("filter[date]"))
            else:
                first = parse_date(request.param("filter[date][gte]"))
                last = parse_date(request.param("filter[date][lte]"))
        except ValueError:
            raise ApiError(BAD_REQUEST, ["date is required"]) from None
        if last < first or (last - first).days > 2 * STATE_LENGTH:
            raise ApiError(BAD_REQUEST, ["date is invalid"])
        return prop, days_between(first, last)

    def _restriction_on(self, plan: dict[str, Any], day: date) -> dict[str, Any]:
        """All the rate plan's values on ``day``: its weekday defaults overridden by what was pushed."""
        weekday, attributes = day.weekday(), plan["attributes"]
        values: dict[str, Any] = {"rate": plan["default_rate"]}
        for name in ("min_stay_arrival", "min_stay_through", "max_stay", *BOOL_FIELDS):
            values[name] = attributes[name][weekday]
        values.update(self.restrictions.get(plan["id"], {}).get(day.isoformat(), {}))
        return values

    def _restriction_json(self, plan: dict[str, Any], day: date, names: list[str]) -> dict[str, Any]:
        values = self._restriction_on(plan, day)
        prop = self.properties[plan["property_id"]]
        values["min_stay"] = values["min_stay_through" if prop["settings"]["min_stay_type"] == "through"
                                    else "min_stay_arrival"]
        values["availability"] = self.availability.get(plan["room_type_id"], {}).get(day.isoformat(), 0)
        values["availability_offset"], values["max_availability"] = 0, None
        values["rate"] = money(values["rate"])
        return {name: values[name] for name in names}

    def api_get_availability(self, request: Request, key: str) -> Response:
        prop, dates = self._read_scope(request, key)
        stored = self.availability.get(prop["room_type_id"], {})
        return Response.json({"data": {prop["room_type_id"]: {d.isoformat(): stored.get(d.isoformat(), 0)
                                                              for d in dates}}})

    def api_get_restrictions(self, request: Request, key: str) -> Response:
        raw = request.param("filter[restrictions]")
        if not raw:
            raise ApiError(BAD_REQUEST, ["restrictions is required"])
        names = [name.strip() for name in raw.split(",") if name.strip()]
        if not names or any(name not in READABLE for name in names):
            raise ApiError(BAD_REQUEST, ["restrictions is invalid"])
        prop, dates = self._read_scope(request, key)
        plan = self.rate_plans[prop["rate_plan_id"]]
        return Response.json({"data": {plan["id"]: {d.isoformat(): self._restriction_json(plan, d, names)
                                                    for d in dates}}})

    # bookings

    def _revision_json(self, revision: dict[str, Any]) -> dict[str, Any]:
        attributes = dict(revision["attributes"])
        attributes["acknowledge_status"] = "acknowledged" if revision["acked"] else "pending"
        return {"type": "booking_revision", "id": revision["id"], "attributes": attributes}

    def _booking_json(self, booking: dict[str, Any]) -> dict[str, Any]:
        latest = self.revisions[booking["revision_ids"][-1]]
        attributes = dict(latest["attributes"])
        attributes.pop("booking_id")
        attributes.update(id=booking["id"], revision_id=latest["id"], inserted_at=booking["inserted_at"],
                          updated_at=latest["attributes"]["inserted_at"])
        attributes["acknowledge_status"] = "acknowledged" if latest["acked"] else "pending"
        attributes["has_unacked_revisions"] = any(not self.revisions[r]["acked"] for r in booking["revision_ids"])
        return {"type": "booking", "id": booking["id"], "attributes": attributes}

    def _in_feed(self, revision: dict[str, Any]) -> bool:
        minutes = self.settings["unacked_leave_feed_after_minutes"]
        expired = minutes is not None and self.now() - revision["at"] >= timedelta(minutes=minutes)
        return not revision["acked"] and not expired

    def _revisions(self, request: Request, key: str, feed: bool) -> list[dict[str, Any]]:
        pids = self._property_filter(request, key)
        items = [r for r in self.revisions.values() if r["property_id"] in pids and (not feed or self._in_feed(r))]
        items.sort(key=lambda r: r["seq"], reverse=request.param("order[inserted_at]") == "desc")
        return [self._revision_json(r) for r in items]

    def api_feed(self, request: Request, key: str) -> Response:
        return self._paginate(request, self._revisions(request, key, feed=True),
                              order_by="inserted_at", order_direction=request.param("order[inserted_at]") or "asc")

    def api_list_revisions(self, request: Request, key: str) -> Response:
        return self._paginate(request, self._revisions(request, key, feed=False))

    def api_get_revision(self, request: Request, key: str, rid: str) -> Response:
        return Response.json({"data": self._revision_json(self._owned(key, self.revisions.get(rid)))})

    def api_ack(self, request: Request, key: str, rid: str) -> Response:
        self._owned(key, self.revisions.get(rid))["acked"] = True
        return Response.json({"meta": {"message": "Success"}})

    def api_list_bookings(self, request: Request, key: str) -> Response:
        pids = self._property_filter(request, key)
        items = [self._booking_json(b) for b in self.bookings.values() if b["property_id"] in pids]
        for name in ("inserted_at", "arrival_date", "departure_date"):
            parse = parse_moment if name == "inserted_at" else parse_date
            for op, test in COMPARISONS.items():
                raw = request.param(f"filter[{name}][{op}]") or (op == "eq" and request.param(f"filter[{name}]"))
                if not raw:
                    continue
                try:
                    bound = parse(raw)
                    items = [b for b in items if test(parse(b["attributes"][name]), bound)]
                except ValueError:
                    raise ApiError(BAD_REQUEST, [f"{name} is invalid"]) from None
        items.sort(key=lambda b: self.bookings[b["id"]]["seq"], reverse=request.param("order[inserted_at]") == "desc")
        return self._paginate(request, items)

    def api_get_booking(self, request: Request, key: str, bid: str) -> Response:
        return Response.json({"data": self._booking_json(self._owned(key, self.bookings.get(bid)))})

    # webhooks

    def _webhook_json(self, hook: dict[str, Any]) -> dict[str, Any]:
        attributes = {name: hook[name] for name in ("request_params", "headers", "is_active", "send_data", "id",
                                                    "event_mask", "callback_url")}
        return {"type": "webhook", "id": hook["id"], "attributes": attributes,
                "relationships": {"property": {"data": {"type": "property", "id": hook["property_id"]}}}}

    def _webhook_fields(self, request: Request, key: str, current: dict[str, Any]) -> dict[str, Any]:
        body = self._body(request)
        given = body.get("webhook") if isinstance(body, dict) else None
        if not isinstance(given, dict):
            raise ApiError(VALIDATION, {"webhook": ["can't be blank"]})
        hook = {**current, **given}
        errors: dict[str, list[str]] = {}
        for name in ("property_id", "callback_url", "event_mask"):
            if not hook.get(name):
                errors[name] = ["can't be blank"]
        url = hook.get("callback_url")
        if url and (not isinstance(url, str) or urllib.parse.urlsplit(url).scheme not in ("http", "https")):
            errors["callback_url"] = ["is invalid"]
        if hook.get("event_mask") and not isinstance(hook["event_mask"], str):
            errors["event_mask"] = ["is invalid"]
        for name in ("is_active", "send_data"):
            if not isinstance(hook.get(name), bool):
                errors[name] = ["is invalid"]
        for name in ("request_params", "headers"):
            value = hook.get(name)
            if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
                errors[name] = ["is invalid"]
        if hook.get("property_id") and "property_id" not in errors:
            if hook["property_id"] not in self.properties:
                errors["property_id"] = ["not found"]
            elif self.properties[hook["property_id"]]["key"] != key:
                raise ApiError(FORBIDDEN)
        if errors:
            raise ApiError(VALIDATION, errors)
        return hook

    def api_list_webhooks(self, request: Request, key: str) -> Response:
        pids = self._property_filter(request, key)
        hooks = [self._webhook_json(hook) for hook in self.webhooks.values() if hook["property_id"] in pids]
        return self._paginate(request, hooks)

    def api_create_webhook(self, request: Request, key: str) -> Response:
        defaults = {"id": new_id(), "request_params": {}, "headers": {}, "is_active": False, "send_data": False}
        hook = self._webhook_fields(request, key, defaults)
        self.webhooks[hook["id"]] = hook
        return Response.json({"data": self._webhook_json(hook)}, 201)

    def api_get_webhook(self, request: Request, key: str, wid: str) -> Response:
        return Response.json({"data": self._webhook_json(self._owned(key, self.webhooks.get(wid), RESOURCE_NOT_FOUND))})

    def api_update_webhook(self, request: Request, key: str, wid: str) -> Response:
        current = self._owned(key, self.webhooks.get(wid), RESOURCE_NOT_FOUND)
        hook = self._webhook_fields(request, key, current)
        hook["id"] = wid
        self.webhooks[wid] = hook
        return Response.json({"data": self._webhook_json(hook)})

    def api_delete_webhook(self, request: Request, key: str, wid: str) -> Response:
        self._owned(key, self.webhooks.get(wid), RESOURCE_NOT_FOUND)
        del self.webhooks[wid]
        return Response.json({"meta": {"message": "Success"}})

    def api_test_webhook(self, request: Request, key: str) -> Response:
        defaults = {"id": None, "request_params": {}, "headers": {}, "is_active": True, "send_data": True}
        hook = self._webhook_fields(request, key, defaults)
        delivery = self._delivery(hook, "test", {}, hook["property_id"])
        with self._unlocked():  # the receiver may call back into the emulator
            status, text, error = self._post(delivery)
        self._record(delivery, 1, status, error)
        return Response.json({"status_code": status, "body": text if error is None else error})

    @contextmanager
    def _unlocked(self):
        """Release the lock :meth:`dispatch` holds around :meth:`handle` (held once) during a slow call."""
        self.lock.release()
        try:
            yield
        finally:
            self.lock.acquire()

    # --- webhook deliveries -----------------------------------------------------------------------------------

    @staticmethod
    def _matches(mask: str, event: str) -> bool:
        parts = {part.strip() for part in mask.split(";")}
        return "*" in parts or event in parts or ("booking" in parts and event in EVENTS.values())

    def _delivery(self, hook: dict[str, Any], event: str, payload: Any, pid: str) -> dict[str, Any]:
        timestamp = self.now().astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        body: dict[str, Any] = {"event": event, "payload": payload, "property_id": pid, "user_id": None,
                                "timestamp": timestamp}
        if not hook["send_data"]:
            del body["payload"]
        url = hook["callback_url"]
        if hook["request_params"]:
            joiner = "&" if urllib.parse.urlsplit(url).query else "?"
            url += joiner + urllib.parse.urlencode(hook["request_params"])
        return {"delivery_id": new_id(), "webhook_id": hook["id"], "event": event, "url": url,
                "headers": dict(hook["headers"]), "body": body, "duplicate": False}

    def _emit(self, event: str, pid: str, payload: dict[str, Any]) -> None:
        for hook in list(self.webhooks.values()):
            if hook["is_active"] and hook["property_id"] == pid and self._matches(hook["event_mask"], event):
                self._queue(self._delivery(hook, event, payload, pid))

    def _queue(self, delivery: dict[str, Any]) -> None:
        if self.hooks["drop"] > 0:
            self.hooks["drop"] -= 1
            self._record(delivery, 1, None, "dropped by /_emulator/webhooks", outcome="dropped")
            return
        copies = [delivery]
        if self.hooks["duplicate"] > 0:
            self.hooks["duplicate"] -= 1
            copies.append({**delivery, "duplicate": True})
        for copy in copies:
            if self.hooks["reorder"]:
                self.held.append(copy)
            else:
                self._start([copy])

    def _start(self, deliveries: list[dict[str, Any]]) -> None:
        args = (deliveries, float(self.hooks["delay"]), self.generation)
        threading.Thread(target=self._send_all, args=args, name="channex-webhook", daemon=True).start()

    def _send_all(self, deliveries: list[dict[str, Any]], delay: float, generation: int) -> None:
        if delay:
            time.sleep(delay)
        for delivery in deliveries:
            for attempt in range(1, DELIVERY_RETRIES + 2):
                if self.generation != generation:
                    return
                status, _, error = self._post(delivery)
                with self.lock:
                    if self.generation != generation:
                        return
                    self._record(delivery, attempt, status, error)
                if error is None:
                    break
                if attempt <= DELIVERY_RETRIES:
                    time.sleep(self.retry_interval)

    @staticmethod
    def _post(delivery: dict[str, Any]) -> tuple[int | None, str, str | None]:
        """POST one delivery: (status, answer body, error or None when 2xx)."""
        headers = {"Content-Type": "application/json", "User-Agent": "Channex-Emulator", **delivery["headers"]}
        request = urllib.request.Request(delivery["url"], json.dumps(delivery["body"]).encode(), headers,  # noqa: S310
                                         method="POST")  # (the scheme is checked when a webhook is saved)
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # never through a proxy
        try:
            with opener.open(request, timeout=DELIVERY_TIMEOUT) as answer:
                text = answer.read().decode("utf-8", "replace")
                return answer.status, text, None if 200 <= answer.status < 300 else f"HTTP {answer.status}"
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read().decode("utf-8", "replace"), f"HTTP {exc.code}"
        except (OSError, ValueError) as exc:  # URLError, timeouts, refused connections
            return None, "", repr(exc)

    def _record(self, delivery: dict[str, Any], attempt: int, status: int | None, error: str | None,
                outcome: str | None = None) -> None:
        self.deliveries.append({
            "delivery_id": delivery["delivery_id"], "webhook_id": delivery["webhook_id"], "event": delivery["event"],
            "url": delivery["url"], "attempt": attempt, "outcome": outcome or ("failed" if error else "delivered"),
            "status": status, "error": error, "duplicate": delivery["duplicate"], "at": self.now().isoformat(),
            "body": delivery["body"]})

    def _fire_non_acked(self) -> None:
        with self.lock:
            now = self.now()
            for revision in sorted(self.revisions.values(), key=lambda r: r["seq"]):
                if not revision["acked"] and not revision["non_acked_sent"] and now - revision["at"] >= NON_ACK_AFTER:
                    revision["non_acked_sent"] = True
                    self._emit("non_acked_booking", revision["property_id"],
                               {"booking_id": revision["booking_id"], "property_id": revision["property_id"],
                                "revision_id": revision["id"]})

    # --- the platform side (control routes) -------------------------------------------------------------------

    def handle_control(self, request: Request, name: str) -> Response | None:
        parts = name.split("/")
        handlers = {"accounts": self.control_accounts, "bookings": self.control_bookings, "ari": self.control_ari,
                    "limits": self.control_limits, "settings": self.control_settings,
                    "webhooks": self.control_webhooks, "deliveries": self.control_deliveries}
        if parts[0] not in handlers:
            return None
        try:
            data = request.json() if request.method in ("POST", "PUT") else None
            return handlers[parts[0]](request, data if data is not None else {}, parts[1:])
        except (ControlError, ValueError, TypeError, KeyError) as exc:
            return Response.json({"error": str(exc) or repr(exc)}, 400)

    def control_accounts(self, request: Request, data: dict[str, Any], rest: list[str]) -> Response:
        if request.method == "GET":
            return Response.json(self.keys)
        key = data.get("api_key") or secrets.token_hex(16)
        pids = self.keys.setdefault(key, [])
        created = []
        for spec in data.get("properties", []):
            if not spec.get("title") or not spec.get("currency"):
                raise ControlError("a property needs a title and a currency")
            prop = self._create_property(key, spec)
            pids.append(prop["id"])
            created.append({"id": prop["id"], "room_type_id": prop["room_type_id"],
                            "rate_plan_id": prop["rate_plan_id"]})
        return Response.json({"api_key": key, "properties": created})

    def _create_property(self, key: str, spec: dict[str, Any]) -> dict[str, Any]:
        pid = spec.get("id") or new_id()  # fixed ids: the demo (``DEMO_ACCOUNT``); else new ones
        rtid, rpid = spec.get("room_type_id") or new_id(), spec.get("rate_plan_id") or new_id()
        occupancy = int(spec.get("occ_adults", 2))
        attributes = {
            "id": pid, "title": spec["title"], "is_active": True, "email": spec.get("email"),
            "phone": spec.get("phone"), "currency": spec["currency"], "country": spec.get("country"),
            "state": None, "city": spec.get("city"), "address": spec.get("address"), "zip_code": None,
            "latitude": None, "longitude": None, "timezone": spec.get("timezone", "UTC"),
            "property_type": "apartment",
            "content": {"description": None, "photos": [], "important_information": None},
            "logo_url": None, "acc_channels_count": 0}
        settings = {"allow_availability_autoupdate_on_confirmation": True,
                    "allow_availability_autoupdate_on_modification": False,
                    "allow_availability_autoupdate_on_cancellation": False, "min_stay_type": "both",
                    "min_price": None, "max_price": None, "state_length": STATE_LENGTH, "cut_off_time": "00:00:00",
                    "cut_off_days": 0, "max_day_advance": None, **spec.get("settings", {})}
        prop = {"id": pid, "key": key, "group_id": new_id(), "attributes": attributes, "settings": settings,
                "room_type_id": rtid, "rate_plan_id": rpid}
        self.properties[pid] = prop
        self.room_types[rtid] = {"id": rtid, "property_id": pid, "attributes": {
            "id": rtid, "title": spec.get("room_type_title", spec["title"]), "occ_adults": occupancy,
            "occ_children": 0, "occ_infants": 0, "default_occupancy": occupancy, "count_of_rooms": 1,
            "room_kind": "room", "capacity": None, "content": {"description": None, "photos": []}}}
        self.rate_plans[rpid] = {"id": rpid, "property_id": pid, "room_type_id": rtid, "default_rate": 0,
                                 "attributes": {
            "id": rpid, "title": "Best Available Rate", "sell_mode": "per_room", "rate_mode": "manual",
            "currency": spec["currency"], "children_fee": "0.00", "infant_fee": "0.00", "max_stay": [0] * 7,
            "min_stay_arrival": [1] * 7, "min_stay_through": [1] * 7, "closed_to_arrival": [False] * 7,
            "closed_to_departure": [False] * 7, "stop_sell": [False] * 7,
            "options": [{"occupancy": occupancy, "is_primary": True, "derived_option": None, "rate": 0}],
            "inherit_rate": False, "inherit_closed_to_arrival": False, "inherit_closed_to_departure": False,
            "inherit_stop_sell": False, "inherit_min_stay_arrival": False, "inherit_min_stay_through": False,
            "inherit_max_stay": False, "auto_rate_settings": None, "meal_type": "none"}}
        return prop

    BOOKING_FIELDS = ("property_id", "arrival_date", "departure_date", "adults", "children", "infants", "amount",
                      "currency", "ota_name", "customer", "unmapped", "notes")

    def control_bookings(self, request: Request, data: dict[str, Any], rest: list[str]) -> Response:
        if not rest:
            prop = self.properties.get(data.get("property_id"))
            if prop is None:
                raise ControlError("unknown property_id")
            fields = {"adults": 2, "children": 0, "infants": 0, "currency": prop["attributes"]["currency"],
                      "ota_name": "Airbnb", "customer": {}, "unmapped": False, "notes": None, "amount": None}
            booking = self._booking_fields(fields, data)
            booking.update(id=new_id(), property_id=prop["id"], seq=len(self.bookings), revision_ids=[],
                           inserted_at=naive_utc(self.now()))
            ota_name = booking["fields"]["ota_name"]
            prefix = next((code for name, code in OTA_PREFIXES.items() if name in ota_name.lower()),
                          re.sub(r"[^A-Z]", "", ota_name.upper())[:3] or "OTA")
            alphabet = string.digits if prefix == "BDC" else string.ascii_uppercase + string.digits
            code = data.get("ota_reservation_code") or "".join(secrets.choice(alphabet) for _ in range(10))
            booking.update(ota_reservation_code=code, unique_id=f"{prefix}-{code}",
                           system_id="".join(secrets.choice(string.digits) for _ in range(11)),
                           room_id=new_id())
            self.bookings[booking["id"]] = booking
            revision = self._new_revision(booking, "new")
            if prop["settings"]["allow_availability_autoupdate_on_confirmation"] and not booking["fields"]["unmapped"]:
                stored = self.availability.setdefault(prop["room_type_id"], {})
                for night in self._nights(booking["fields"]):
                    stored[night.isoformat()] = max(stored.get(night.isoformat(), 0) - 1, 0)
            return Response.json({"booking_id": booking["id"], "revision_id": revision["id"],
                                  "unique_id": booking["unique_id"]}, 201)
        booking = self.bookings.get(rest[0])
        if booking is None or len(rest) != 2 or rest[1] not in ("modify", "cancel") or request.method != "POST":
            return Response.json({"error": "unknown booking or route"}, 404)
        if booking["fields"]["status"] == "cancelled":
            return Response.json({"error": "the booking is cancelled"}, 409)
        if rest[1] == "modify":
            data.pop("property_id", None)
            booking.update(self._booking_fields(booking["fields"], data))
        revision = self._new_revision(booking, "modified" if rest[1] == "modify" else "cancelled")
        return Response.json({"booking_id": booking["id"], "revision_id": revision["id"],
                              "unique_id": booking["unique_id"]})

    def _booking_fields(self, current: dict[str, Any], data: dict[str, Any]) -> dict[str, Any]:
        fields = {**current, **{k: v for k, v in data.items() if k in self.BOOKING_FIELDS and k != "customer"}}
        fields["customer"] = {**current.get("customer", {}), **data.get("customer", {})}
        if not fields.get("arrival_date") or not fields.get("departure_date"):
            raise ControlError("arrival_date and departure_date are required")
        if parse_date(fields["departure_date"]) <= parse_date(fields["arrival_date"]):
            raise ControlError("departure_date must be after arrival_date")
        if fields["amount"] is not None:
            parse_rate(str(fields["amount"]))
        fields.setdefault("status", "new")
        return {"fields": fields}

    @staticmethod
    def _nights(fields: dict[str, Any]) -> list[date]:
        return days_between(parse_date(fields["arrival_date"]),
                            parse_date(fields["departure_date"]) - timedelta(days=1))

    def _new_revision(self, booking: dict[str, Any], status: str) -> dict[str, Any]:
        fields, prop = booking["fields"], self.properties[booking["property_id"]]
        fields["status"] = status
        plan = self.rate_plans[prop["rate_plan_id"]]
        nights = self._nights(fields)
        if fields["amount"] is None:
            total = sum(self._restriction_on(plan, night)["rate"] for night in nights)
        else:
            total = parse_rate(str(fields["amount"]))
        per_night = [total // len(nights)] * len(nights)
        per_night[-1] += total - sum(per_night)
        occupancy = {"adults": fields["adults"], "children": fields["children"], "infants": fields["infants"]}
        customer = {"name": None, "surname": None, "mail": None, "phone": None, "language": None, "country": None,
                    "city": None, "address": None, "zip": None, "company": None, **fields["customer"]}
        rid, at = new_id(), self.now()
        room = {"amount": money(total), "booking_room_id": booking["room_id"], "checkin_date": fields["arrival_date"],
                "checkout_date": fields["departure_date"],
                "rate_plan_id": None if fields["unmapped"] else plan["id"],
                "room_type_id": None if fields["unmapped"] else prop["room_type_id"], "ota_unique_id": "1",
                "days": {night.isoformat(): money(amount) for night, amount in zip(nights, per_night, strict=True)},
                "occupancy": dict(occupancy), "guests": None, "services": [], "taxes": [], "meta": {},
                "is_cancelled": False}
        attributes = {
            "id": rid, "property_id": prop["id"], "booking_id": booking["id"], "unique_id": booking["unique_id"],
            "system_id": booking["system_id"], "ota_reservation_code": booking["ota_reservation_code"],
            "ota_name": fields["ota_name"], "status": status, "rooms": [room], "services": [], "guarantee": None,
            "customer": customer, "occupancy": occupancy, "arrival_date": fields["arrival_date"],
            "departure_date": fields["departure_date"], "arrival_hour": None, "amount": money(total),
            "ota_commission": "0.00", "currency": fields["currency"], "notes": fields["notes"],
            "payment_collect": "ota", "payment_type": None, "channel_id": None, "inserted_at": naive_utc(at)}
        revision = {"id": rid, "property_id": prop["id"], "booking_id": booking["id"], "attributes": attributes,
                    "acked": False, "non_acked_sent": False, "at": at, "seq": len(self.revisions)}
        self.revisions[rid] = revision
        booking["revision_ids"].append(rid)
        self._emit(EVENTS[status], prop["id"], {"booking_id": booking["id"], "property_id": prop["id"],
                                                "revision_id": rid})
        if fields["unmapped"]:
            self._emit("booking_unmapped_room", prop["id"], {"booking_id": booking["id"], "booking_revision_id": rid})
        return revision

    def control_ari(self, request: Request, data: dict[str, Any], rest: list[str]) -> Response:
        pid = request.param("property_id") if request.method == "GET" else data.get("property_id")
        prop = self.properties.get(pid)
        if prop is None:
            raise ControlError("unknown property_id")
        plan = self.rate_plans[prop["rate_plan_id"]]
        if request.method == "POST":
            day = parse_date(data["date"]).isoformat()
            if "availability" in data:
                self.availability.setdefault(prop["room_type_id"], {})[day] = parse_int(data["availability"])
            changes = {name: data[name] for name in RESTRICTIONS if name in data and name != "min_stay"}
            for name, raw in changes.items():
                changes[name] = (parse_rate(raw) if name == "rate" else parse_bool(raw) if name in BOOL_FIELDS
                                 else parse_int(raw))
            if changes:
                self.restrictions.setdefault(plan["id"], {}).setdefault(day, {}).update(changes)
        names = ["rate", "min_stay_arrival", "min_stay_through", "max_stay", *BOOL_FIELDS]
        return Response.json({
            "property_id": prop["id"], "room_type_id": prop["room_type_id"], "rate_plan_id": plan["id"],
            "availability": dict(sorted(self.availability.get(prop["room_type_id"], {}).items())),
            "restrictions": {day: self._restriction_json(plan, date.fromisoformat(day), names)
                             for day in sorted(self.restrictions.get(plan["id"], {}))}})

    def control_limits(self, request: Request, data: dict[str, Any], rest: list[str]) -> Response:
        for name, value in data.items():
            if name not in DEFAULT_LIMITS or not (value is None or (isinstance(value, int) and value >= 1)):
                raise ControlError(f"bad limit {name!r}: {value!r}")
            self.limits[name] = value
        return Response.json(self.limits)

    def control_settings(self, request: Request, data: dict[str, Any], rest: list[str]) -> Response:
        for name, value in data.items():
            if name not in self.settings or not (value is None or (isinstance(value, int | float) and value >= 0)):
                raise ControlError(f"bad setting {name!r}: {value!r}")
            self.settings[name] = value
        return Response.json(self.settings)

    def control_webhooks(self, request: Request, data: dict[str, Any], rest: list[str]) -> Response:
        for name, value in data.items():
            if name not in self.hooks:
                raise ControlError(f"unknown webhook setting {name!r}")
            self.hooks[name] = bool(value) if name == "reorder" else float(value) if name == "delay" else int(value)
        if not self.hooks["reorder"] and self.held:
            held, self.held = self.held, []
            self._start(held[::-1])
        return Response.json({**self.hooks, "held": len(self.held)})

    def control_deliveries(self, request: Request, data: dict[str, Any], rest: list[str]) -> Response:
        if request.method == "DELETE":
            self.deliveries.clear()
        return Response.json(list(self.deliveries))


# The account ``make run`` starts the emulator with (``channel_emulator channex --demo``) and ``seed_demo``
# connects its first property to: fixed, so that both sides agree without talking at seed time.
DEMO_ACCOUNT = {"api_key": "demo-channex-key", "properties": [{
    "id": "d3b0c442-98fc-4c1c-9e1e-000000000001", "room_type_id": "d3b0c442-98fc-4c1c-9e1e-000000000002",
    "rate_plan_id": "d3b0c442-98fc-4c1c-9e1e-000000000003", "title": "Demo listing on Channex", "currency": "EUR",
    "timezone": "Europe/Lisbon"}]}


def seed_demo(emulator: ChannexEmulator) -> None:
    emulator.dispatch(Request("POST", "/_emulator/accounts", {}, {}, json.dumps(DEMO_ACCOUNT).encode()))

