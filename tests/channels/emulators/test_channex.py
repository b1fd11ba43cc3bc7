"""The Channex emulator over real HTTP: auth, catalogue, ARI writes and reads, rate limits, bookings and the feed,
webhooks delivered to a local receiver. No database: the emulator is standard library only."""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from channels.emulators import EMULATORS, emulator_class
from channels.emulators.base import running
from channels.emulators.channex import ChannexEmulator

NOW = "2030-03-04T10:00:00+00:00"  # a Monday; "today" for a property in Europe/Berlin is 2030-03-04
OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))
UNAUTHORIZED = {"errors": {"code": "unauthorized", "title": "Unauthorized"}}
FORBIDDEN = {"errors": {"code": "forbidden", "title": "Forbidden"}}
TOO_MANY = {"errors": {"code": "http_too_many_requests", "title": "Too Many Requests"}}


class Api:
    def __init__(self, emulator: ChannexEmulator) -> None:
        self.emulator = emulator
        self.key = "k1"

    def call(self, method, path, data=None, key="default", **params):
        query = urllib.parse.urlencode(params)
        headers = {"Content-Type": "application/json"}
        key = self.key if key == "default" else key
        if key is not None:
            headers["user-api-key"] = key
        body = json.dumps(data).encode() if data is not None else None
        request = urllib.request.Request(f"{self.emulator.base_url}{path}{'?' + query if query else ''}", body,
                                         headers, method=method)
        try:
            with OPENER.open(request, timeout=10) as response:
                return response.status, json.loads(response.read() or b"null")
        except urllib.error.HTTPError as exc:
            return exc.code, json.loads(exc.read() or b"null")

    def get(self, path, key="default", **params):
        return self.call("GET", "/api/v1" + path, key=key, **params)

    def post(self, path, data=None, key="default"):
        return self.call("POST", "/api/v1" + path, data if data is not None else {}, key=key)

    def control(self, name, data=None, method="POST", **params):
        status, body = self.call(method, "/_emulator/" + name, data, key=None, **params)
        assert status < 400, body
        return body

    def account(self, key, *titles, **extra):
        properties = [{"title": title, "currency": "EUR", "timezone": "Europe/Berlin", **extra} for title in titles]
        return self.control("accounts", {"api_key": key, "properties": properties})["properties"]

    def book(self, prop, **fields):
        data = {"property_id": prop["id"], "arrival_date": "2030-04-01", "departure_date": "2030-04-04",
                "adults": 2, "children": 0, "amount": "450.00", "ota_name": "Airbnb",
                "customer": {"name": "Ada", "surname": "Lovelace", "mail": "ada@example.com", "phone": "+441"}}
        return self.control("bookings", {**data, **fields})

    def push(self, kind, *values):
        return self.post("/" + kind, {"values": list(values)})


@pytest.fixture(scope="module")
def emulator():
    with running(ChannexEmulator()) as emulator:
        yield emulator


@pytest.fixture
def api(emulator):
    """A client of a fresh emulator (one server per module, reset per test) whose clock is frozen at NOW."""
    client = Api(emulator)
    client.control("reset")
    client.control("clock", {"now": NOW})
    return client


@pytest.fixture
def villa(api):
    return api.account("k1", "Villa")[0]


class Receiver:
    """A webhook endpoint: records each POST; answers the queued statuses, then 200."""

    def __init__(self) -> None:
        self.hits: list[dict] = []
        self.answers: list[int] = []
        self.changed = threading.Condition()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                parts = urllib.parse.urlsplit(self.path)
                with receiver.changed:
                    status = receiver.answers.pop(0) if receiver.answers else 200
                    receiver.hits.append({"path": parts.path, "query": urllib.parse.parse_qs(parts.query),
                                          "headers": dict(self.headers), "body": body, "status": status,
                                          "at": time.monotonic()})
                    receiver.changed.notify_all()
                self.send_response(status)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"{}")

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks/channex"
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    def wait(self, count, timeout=5.0):
        with self.changed:
            self.changed.wait_for(lambda: len(self.hits) >= count, timeout)
            return list(self.hits)

    def events(self):
        return [hit["body"]["event"] for hit in self.hits]


@pytest.fixture
def receiver():
    receiver = Receiver()
    yield receiver
    receiver.server.shutdown()
    receiver.server.server_close()


def hook(api, prop, receiver, **fields):
    webhook = {"property_id": prop["id"], "callback_url": receiver.url, "event_mask": "*", "request_params": {},
               "headers": {}, "is_active": True, "send_data": True, **fields}
    status, body = api.post("/webhooks", {"webhook": webhook})
    assert status == 201, body
    return body["data"]


def deliveries(api, count, timeout=5.0):
    """The emulator's delivery log once it holds ``count`` attempts (it records after the receiver answers)."""
    deadline = time.monotonic() + timeout
    while len(log := api.control("deliveries", method="GET")) < count and time.monotonic() < deadline:
        time.sleep(0.02)
    return log


# --- auth and the catalogue -----------------------------------------------------------------------------------


def test_is_registered():
    assert EMULATORS["channex"] == "channels.emulators.channex:ChannexEmulator"
    assert emulator_class("channex") is ChannexEmulator


def test_a_missing_or_unknown_key_is_401_and_another_keys_property_403(api, villa):
    assert api.get("/properties", key=None) == (401, UNAUTHORIZED)
    assert api.get("/properties", key="nope") == (401, UNAUTHORIZED)
    assert api.post("/availability", {"values": []}, key="nope") == (401, UNAUTHORIZED)
    other = api.account("k2", "Chalet")[0]
    assert api.get(f"/properties/{other['id']}") == (403, FORBIDDEN)
    assert api.get("/room_types", **{"filter[property_id]": other["id"]}) == (403, FORBIDDEN)
    assert api.get("/properties/00000000-0000-0000-0000-000000000000") == (
        404, {"errors": {"code": "resource_not_found", "title": "Resource Not Found"}})
    assert api.get("/room_types/nope")[1] == {"errors": {"code": "not_found", "title": "Resouce Not Found"}}
    assert [p["id"] for p in api.get("/properties", key="k2")[1]["data"]] == [other["id"]]


def test_properties_list_is_paginated_by_title(api):
    api.account("k1", *[f"Villa {n:02d}" for n in range(12)])
    status, body = api.get("/properties")
    assert status == 200 and body["meta"] == {"limit": 10, "page": 1, "total": 12}
    assert [p["attributes"]["title"] for p in body["data"]] == [f"Villa {n:02d}" for n in range(10)]
    _, page = api.get("/properties", **{"pagination[page]": 3, "pagination[limit]": 5})
    assert [p["attributes"]["title"] for p in page["data"]] == ["Villa 10", "Villa 11"]
    assert page["meta"] == {"limit": 5, "page": 3, "total": 12}
    assert api.get("/properties", **{"pagination[limit]": 500})[1]["meta"]["limit"] == 100
    first = body["data"][0]
    assert first["type"] == "property" and first["id"] == first["attributes"]["id"]
    assert first["attributes"]["currency"] == "EUR" and first["attributes"]["timezone"] == "Europe/Berlin"
    assert first["relationships"]["groups"]["data"][0]["type"] == "group"
    assert "settings" not in first["attributes"]
    _, one = api.get(f"/properties/{first['id']}")
    assert one["data"]["attributes"]["settings"]["min_stay_type"] == "both"


def test_room_types_and_rate_plans_of_a_rental(api, villa):
    _, rooms = api.get("/room_types", **{"filter[property_id]": villa["id"]})
    assert rooms["meta"] == {"limit": 10, "page": 1, "total": 1}
    room = rooms["data"][0]
    assert room["id"] == villa["room_type_id"] and room["type"] == "room_type"
    assert {k: room["attributes"][k] for k in ("title", "occ_adults", "count_of_rooms", "default_occupancy")} == {
        "title": "Villa", "occ_adults": 2, "count_of_rooms": 1, "default_occupancy": 2}
    assert room["relationships"]["property"]["data"] == {"type": "property", "id": villa["id"]}
    _, plans = api.get("/rate_plans", **{"filter[property_id]": villa["id"]})
    plan = plans["data"][0]
    assert plan["id"] == villa["rate_plan_id"]
    assert plan["attributes"]["sell_mode"] == "per_room" and plan["attributes"]["currency"] == "EUR"
    assert plan["attributes"]["min_stay_arrival"] == [1] * 7 and plan["attributes"]["stop_sell"] == [False] * 7
    assert plan["relationships"]["room_type"]["data"]["id"] == villa["room_type_id"]
    assert api.get(f"/rate_plans/{villa['rate_plan_id']}")[1]["data"]["id"] == villa["rate_plan_id"]


# --- ARI --------------------------------------------------------------------------------------------------------


def availability(api, prop, first, last):
    status, body = api.get("/availability", **{"filter[property_id]": prop["id"], "filter[date][gte]": first,
                                               "filter[date][lte]": last})
    assert status == 200, body
    return body["data"][prop["room_type_id"]]


def restrictions(api, prop, first, last, names="rate,min_stay_arrival,stop_sell,max_stay"):
    status, body = api.get("/restrictions", **{"filter[property_id]": prop["id"], "filter[date][gte]": first,
                                               "filter[date][lte]": last, "filter[restrictions]": names})
    assert status == 200, body
    return body["data"][prop["rate_plan_id"]]


def test_availability_ranges_are_inclusive_and_the_last_value_wins(api, villa):
    base = {"property_id": villa["id"], "room_type_id": villa["room_type_id"]}
    assert availability(api, villa, "2030-03-10", "2030-03-11") == {"2030-03-10": 0, "2030-03-11": 0}
    status, body = api.push("availability", {**base, "date_from": "2030-03-10", "date_to": "2030-03-12",
                                              "availability": 1},
                            {**base, "date": "2030-03-11", "availability": 0})
    assert status == 200 and body["meta"] == {"message": "Success", "warnings": []}
    assert body["data"][0]["type"] == "task" and len(body["data"][0]["id"]) == 36
    assert availability(api, villa, "2030-03-09", "2030-03-13") == {
        "2030-03-09": 0, "2030-03-10": 1, "2030-03-11": 0, "2030-03-12": 1, "2030-03-13": 0}


def test_availability_partial_success_echoes_bad_values(api, villa):
    base = {"property_id": villa["id"], "room_type_id": villa["room_type_id"]}
    bad = [{**base, "date": "2030-03-10", "availability": -1},
           {**base, "room_type_id": "nope", "date": "2030-03-10", "availability": 1},
           {**base, "date": "2030-03-03", "availability": 1},
           {**base, "date": "2030-03-10"}]
    status, body = api.push("availability", {**base, "date": "2030-03-11", "availability": 1}, *bad)
    assert status == 200
    assert [w.pop("warning") for w in body["meta"]["warnings"]] == [
        {"availability": ["must be greater than or equal to 0"]}, {"room_type_id": ["not found"]},
        {"date": ["can't be in the past"]}, {"availability": ["can't be blank"]}]
    assert body["meta"]["warnings"] == bad
    assert availability(api, villa, "2030-03-10", "2030-03-11") == {"2030-03-10": 0, "2030-03-11": 1}
    status, body = api.push("availability", *bad)
    assert status == 200 and body["data"] == [] and len(body["meta"]["warnings"]) == 4


def test_past_dates_follow_the_propertys_timezone(api, villa):
    api.control("clock", {"now": "2030-03-04T23:30:00+00:00"})  # 00:30 on the 5th in Berlin
    value = {"property_id": villa["id"], "rate_plan_id": villa["rate_plan_id"], "rate": 100}
    _, body = api.push("restrictions", {**value, "date": "2030-03-04"}, {**value, "date_from": "2030-03-03",
                                                                          "date_to": "2030-03-08"},
                       {**value, "date": "2030-03-05"})
    assert [w["warning"] for w in body["meta"]["warnings"]] == [
        {"date": ["can't be in the past"]}, {"date_from": ["can't be in the past"]}]
    assert restrictions(api, villa, "2030-03-05", "2030-03-06", "rate") == {
        "2030-03-05": {"rate": "1.00"}, "2030-03-06": {"rate": "0.00"}}


def test_restrictions_partial_success_with_the_documented_warning_map(api, villa):
    base = {"property_id": villa["id"], "rate_plan_id": villa["rate_plan_id"]}
    bad = {**base, "date_from": "2030-10-03", "date_to": "2030-10-05", "rate": "-2", "min_stay_arrival": -2,
           "min_stay_through": 0, "max_stay": -2, "closed_to_arrival": "x", "stop_sell": 123}
    good = {**base, "date_from": "2030-10-03", "date_to": "2030-10-05", "rate": "200.00", "min_stay_arrival": 3}
    status, body = api.push("restrictions", bad, good)
    assert status == 200 and len(body["data"]) == 1
    assert body["meta"]["warnings"] == [{**bad, "warning": {
        "rate": ["must be greater than 0"], "min_stay_arrival": ["must be greater than or equal to 1"],
        "min_stay_through": ["must be greater than or equal to 1"], "max_stay": ["must be greater than or equal to 0"],
        "closed_to_arrival": ["is invalid"], "stop_sell": ["is invalid"]}}]
    assert restrictions(api, villa, "2030-10-03", "2030-10-03") == {
        "2030-10-03": {"rate": "200.00", "min_stay_arrival": 3, "stop_sell": False, "max_stay": 0}}


def test_restrictions_partial_update_days_and_last_wins(api, villa):
    base = {"property_id": villa["id"], "rate_plan_id": villa["rate_plan_id"],
            "date_from": "2030-03-11", "date_to": "2030-03-17"}  # Monday to Sunday
    api.push("restrictions", {**base, "rate": 15000, "min_stay_arrival": 2},
             {**base, "days": ["sa", "su"], "rate": "180.50"})
    api.push("restrictions", {**base, "date_from": "2030-03-13", "date_to": "2030-03-13", "stop_sell": True})
    got = restrictions(api, villa, "2030-03-11", "2030-03-17")
    assert got["2030-03-11"] == {"rate": "150.00", "min_stay_arrival": 2, "stop_sell": False, "max_stay": 0}
    assert got["2030-03-13"] == {"rate": "150.00", "min_stay_arrival": 2, "stop_sell": True, "max_stay": 0}
    assert [got[d]["rate"] for d in sorted(got)] == ["150.00"] * 5 + ["180.50"] * 2


def test_rate_formats_nulls_and_at_least_one_restriction(api, villa):
    base = {"property_id": villa["id"], "rate_plan_id": villa["rate_plan_id"], "date": "2030-03-20"}
    _, body = api.push("restrictions", {**base, "rate": 12345}, {**base, "rate": "99.999"},
                       {**base, "rate": 99.5}, {**base, "rate": None}, {**base, "stop_sell": None}, base)
    assert [w["warning"] for w in body["meta"]["warnings"]] == [
        {"rate": ["is invalid"]}, {"rate": ["is invalid"]},
        {"rate": ["Should be a non null value or not existed field"]},
        {"stop_sell": ["Should be a non null value or not existed field"]},
        {"restrictions": ["at least one restriction is required"]}]
    assert restrictions(api, villa, "2030-03-20", "2030-03-20", "rate") == {"2030-03-20": {"rate": "123.45"}}
    api.push("restrictions", {**base, "rate": "80", "closed_to_arrival": 1})
    assert restrictions(api, villa, "2030-03-20", "2030-03-20", "rate,closed_to_arrival") == {
        "2030-03-20": {"rate": "80.00", "closed_to_arrival": True}}


def test_reads_need_a_date_and_restrictions_and_accept_a_single_date(api, villa):
    scope = {"filter[property_id]": villa["id"]}
    assert api.get("/availability", **scope) == (400, {"errors": {
        "code": "bad_request", "title": "Bad Request", "details": ["date is required"]}})
    assert api.get("/restrictions", **scope, **{"filter[date]": "2030-03-10"}) == (400, {"errors": {
        "code": "bad_request", "title": "Bad Request", "details": ["restrictions is required"]}})
    api.push("availability", {"property_id": villa["id"], "room_type_id": villa["room_type_id"],
                               "date": "2030-03-10", "availability": 1})
    assert api.get("/availability", **scope, **{"filter[date]": "2030-03-10"}) == (
        200, {"data": {villa["room_type_id"]: {"2030-03-10": 1}}})
    _, body = api.get("/restrictions", **scope, **{"filter[date]": "2030-03-10",
                                                   "filter[restrictions]": "availability,rate,min_stay"})
    assert body == {"data": {villa["rate_plan_id"]: {"2030-03-10": {"availability": 1, "rate": "0.00",
                                                                    "min_stay": 1}}}}


# --- rate limits ------------------------------------------------------------------------------------------------


def test_the_eleventh_availability_push_in_a_minute_is_429_until_the_window_slides(api, villa):
    value = {"property_id": villa["id"], "room_type_id": villa["room_type_id"], "date": "2030-03-10"}
    for n in range(10):
        assert api.push("availability", {**value, "availability": n})[0] == 200
        api.control("clock", {"advance": 1})
    assert api.push("availability", {**value, "availability": 1}) == (429, TOO_MANY)
    assert availability(api, villa, "2030-03-10", "2030-03-10") == {"2030-03-10": 9}  # nothing applied
    rate = {"property_id": villa["id"], "rate_plan_id": villa["rate_plan_id"], "date": "2030-03-10", "rate": 100}
    assert api.push("restrictions", rate)[0] == 200  # another endpoint, its own window
    api.control("clock", {"advance": 50})  # 60 s after the first push: only it has left the window
    assert api.push("availability", {**value, "availability": 1})[0] == 200
    assert api.push("availability", {**value, "availability": 1})[0] == 429
    api.control("clock", {"advance": 60})
    assert api.push("availability", {**value, "availability": 5})[0] == 200
    assert availability(api, villa, "2030-03-10", "2030-03-10") == {"2030-03-10": 5}


def test_twenty_ari_posts_per_minute_in_total_per_key(api):
    props = api.account("k1", "A", "B", "C")
    for prop in props[:2]:
        for _ in range(5):
            assert api.push("availability", {"property_id": prop["id"], "room_type_id": prop["room_type_id"],
                                             "date": "2030-03-10", "availability": 1})[0] == 200
            assert api.push("restrictions", {"property_id": prop["id"], "rate_plan_id": prop["rate_plan_id"],
                                             "date": "2030-03-10", "rate": 100})[0] == 200
    third = {"property_id": props[2]["id"], "room_type_id": props[2]["room_type_id"], "date": "2030-03-10",
             "availability": 1}
    assert api.push("availability", third) == (429, TOO_MANY)
    other = api.account("k2", "D")[0]
    assert api.call("POST", "/api/v1/availability", {"values": [{
        "property_id": other["id"], "room_type_id": other["room_type_id"], "date": "2030-03-10",
        "availability": 1}]}, key="k2")[0] == 200  # another key, its own budget
    api.control("limits", {"ari_total_per_minute": 30})
    assert api.push("availability", third)[0] == 200
    assert api.control("limits", method="GET") == {"availability_per_minute": 10, "restrictions_per_minute": 10,
                                                   "ari_total_per_minute": 30}


def test_a_push_touching_two_properties_counts_for_each(api):
    first, second = api.account("k1", "A", "B")
    api.control("limits", {"availability_per_minute": 2})
    both = [{"property_id": p["id"], "room_type_id": p["room_type_id"], "date": "2030-03-10", "availability": 1}
            for p in (first, second)]
    assert api.push("availability", *both)[0] == 200
    assert api.push("availability", both[1])[0] == 200
    assert api.push("availability", both[1])[0] == 429
    assert api.push("availability", both[0])[0] == 200


# --- bookings -----------------------------------------------------------------------------------------------


def test_a_booking_revision_has_the_documented_shape(api, villa):
    made = api.book(villa)
    assert made["unique_id"].startswith("ABB-") and len(made["unique_id"]) == 14
    status, body = api.get(f"/booking_revisions/{made['revision_id']}")
    assert status == 200 and body["data"]["type"] == "booking_revision"
    revision = body["data"]["attributes"]
    assert {k: revision[k] for k in ("id", "booking_id", "property_id", "status", "amount", "currency",
                                     "arrival_date", "departure_date", "ota_name", "unique_id")} == {
        "id": made["revision_id"], "booking_id": made["booking_id"], "property_id": villa["id"], "status": "new",
        "amount": "450.00", "currency": "EUR", "arrival_date": "2030-04-01", "departure_date": "2030-04-04",
        "ota_name": "Airbnb", "unique_id": made["unique_id"]}
    assert revision["inserted_at"] == "2030-03-04T10:00:00.000000"
    assert revision["unique_id"] == "ABB-" + revision["ota_reservation_code"]
    room = revision["rooms"][0]
    assert room["rate_plan_id"] == villa["rate_plan_id"] and room["room_type_id"] == villa["room_type_id"]
    assert room["days"] == {"2030-04-01": "150.00", "2030-04-02": "150.00", "2030-04-03": "150.00"}
    assert room["occupancy"] == {"adults": 2, "children": 0, "infants": 0}
    assert revision["customer"]["surname"] == "Lovelace" and revision["customer"]["mail"] == "ada@example.com"


def test_unique_id_prefixes_and_a_default_amount_from_the_stored_rates(api, villa):
    api.push("restrictions", {"property_id": villa["id"], "rate_plan_id": villa["rate_plan_id"],
                              "date_from": "2030-04-01", "date_to": "2030-04-02", "rate": "100.10"})
    prefixes = [api.book(villa, ota_name=name)["unique_id"][:4] for name in ("Booking.com", "Expedia", "Vrbo")]
    assert prefixes == ["BDC-", "EXP-", "VRB-"]
    made = api.book(villa, amount=None, arrival_date="2030-04-01", departure_date="2030-04-03")
    assert api.get(f"/bookings/{made['booking_id']}")[1]["data"]["attributes"]["amount"] == "200.20"


def test_the_feed_serves_unacked_revisions_oldest_first_and_ack_removes_them(api, villa):
    first = api.book(villa)
    api.control("clock", {"advance": 5})
    second = api.book(villa, ota_name="Booking.com")
    status, feed = api.get("/booking_revisions/feed")
    assert status == 200 and [r["id"] for r in feed["data"]] == [first["revision_id"], second["revision_id"]]
    assert feed["meta"]["total"] == 2 and feed["meta"]["limit"] == 10
    assert api.post(f"/booking_revisions/{first['revision_id']}/ack") == (200, {"meta": {"message": "Success"}})
    assert api.post(f"/booking_revisions/{first['revision_id']}/ack")[0] == 200  # idempotent
    assert [r["id"] for r in api.get("/booking_revisions/feed")[1]["data"]] == [second["revision_id"]]
    assert api.post("/booking_revisions/00000000-0000-0000-0000-000000000000/ack") == (
        404, {"errors": {"code": "not_found", "title": "Resouce Not Found"}})
    acked = api.get(f"/booking_revisions/{first['revision_id']}")[1]["data"]["attributes"]
    assert acked["acknowledge_status"] == "acknowledged"


def test_the_feed_is_filtered_paginated_and_per_key(api, villa):
    other_villa = api.account("k1", "Other")[0]
    foreign = api.account("k2", "Foreign")[0]
    mine = [api.book(villa)["revision_id"] for _ in range(3)]
    theirs = api.book(other_villa)["revision_id"]
    api.book(foreign)
    _, page = api.get("/booking_revisions/feed", **{"filter[property_id]": villa["id"], "pagination[limit]": 2,
                                                    "pagination[page]": 2})
    assert [r["id"] for r in page["data"]] == mine[2:] and page["meta"]["total"] == 3
    assert [r["id"] for r in api.get("/booking_revisions/feed")[1]["data"]] == [*mine, theirs]
    assert api.get("/booking_revisions/feed", **{"filter[property_id]": foreign["id"]}) == (403, FORBIDDEN)


def test_unacked_revisions_stay_in_the_feed_unless_configured_to_leave(api, villa):
    api.book(villa)
    api.control("clock", {"advance": 3600})
    assert len(api.get("/booking_revisions/feed")[1]["data"]) == 1
    api.control("settings", {"unacked_leave_feed_after_minutes": 30})
    assert api.get("/booking_revisions/feed")[1]["data"] == []
    assert api.get("/bookings")[1]["meta"]["total"] == 1  # still a booking


def test_modify_and_cancel_make_new_revisions_of_the_same_booking(api, villa):
    made = api.book(villa)
    api.control("clock", {"advance": 60})
    modified = api.control(f"bookings/{made['booking_id']}/modify", {"departure_date": "2030-04-05",
                                                                     "amount": "600.00"})
    cancelled = api.control(f"bookings/{made['booking_id']}/cancel")
    assert modified["unique_id"] == cancelled["unique_id"] == made["unique_id"]
    _, feed = api.get("/booking_revisions/feed")
    assert [(r["attributes"]["status"], r["attributes"]["departure_date"], r["attributes"]["amount"])
            for r in feed["data"]] == [("new", "2030-04-04", "450.00"), ("modified", "2030-04-05", "600.00"),
                                       ("cancelled", "2030-04-05", "600.00")]
    assert feed["data"][1]["attributes"]["customer"]["name"] == "Ada"  # kept
    _, booking = api.get(f"/bookings/{made['booking_id']}")
    assert booking["data"]["id"] == made["booking_id"] and booking["data"]["type"] == "booking"
    assert booking["data"]["attributes"]["revision_id"] == cancelled["revision_id"]
    assert booking["data"]["attributes"]["status"] == "cancelled"
    assert booking["data"]["attributes"]["inserted_at"] == "2030-03-04T10:00:00.000000"
    status, _ = api.call("POST", f"/_emulator/bookings/{made['booking_id']}/modify", {"adults": 3}, key=None)
    assert status == 409


def test_an_unmapped_room_has_null_ids_and_does_not_lower_availability(api, villa):
    api.push("availability", {"property_id": villa["id"], "room_type_id": villa["room_type_id"],
                              "date_from": "2030-04-01", "date_to": "2030-04-05", "availability": 1})
    unmapped = api.book(villa, unmapped=True)
    room = api.get(f"/booking_revisions/{unmapped['revision_id']}")[1]["data"]["attributes"]["rooms"][0]
    assert room["rate_plan_id"] is None and room["room_type_id"] is None
    assert set(availability(api, villa, "2030-04-01", "2030-04-05").values()) == {1}
    api.book(villa, arrival_date="2030-04-02", departure_date="2030-04-04")  # mapped: Channex lowers it
    assert availability(api, villa, "2030-04-01", "2030-04-05") == {
        "2030-04-01": 1, "2030-04-02": 0, "2030-04-03": 0, "2030-04-04": 1, "2030-04-05": 1}


def test_bookings_list_filters(api, villa):
    early = api.book(villa, arrival_date="2030-05-01", departure_date="2030-05-03")
    api.control("clock", {"advance": 3600})
    late = api.book(villa, arrival_date="2030-06-01", departure_date="2030-06-03")
    ids = lambda **f: [b["id"] for b in api.get("/bookings", **f)[1]["data"]]  # noqa: E731
    assert ids() == [early["booking_id"], late["booking_id"]]
    assert ids(**{"filter[inserted_at][gte]": "2030-03-04T10:30:00"}) == [late["booking_id"]]
    assert ids(**{"filter[arrival_date][lte]": "2030-05-31"}) == [early["booking_id"]]
    assert ids(**{"filter[departure_date][gte]": "2030-06-03"}) == [late["booking_id"]]
    assert api.get("/bookings/nope")[0] == 404


# --- webhooks -----------------------------------------------------------------------------------------------


def test_webhook_crud(api, villa, receiver):
    status, body = api.post("/webhooks", {"webhook": {"property_id": villa["id"], "callback_url": receiver.url,
                                                      "event_mask": "booking_new"}})
    assert status == 201
    data = body["data"]
    assert data["type"] == "webhook" and data["attributes"] == {
        "request_params": {}, "headers": {}, "is_active": False, "send_data": False, "id": data["id"],
        "event_mask": "booking_new", "callback_url": receiver.url}
    assert data["relationships"] == {"property": {"data": {"type": "property", "id": villa["id"]}}}
    status, body = api.call("PUT", f"/api/v1/webhooks/{data['id']}", {"webhook": {"is_active": True}})
    assert status == 200 and body["data"]["attributes"]["is_active"] is True
    assert body["data"]["attributes"]["event_mask"] == "booking_new"
    assert [h["id"] for h in api.get("/webhooks")[1]["data"]] == [data["id"]]
    assert api.call("DELETE", f"/api/v1/webhooks/{data['id']}") == (200, {"meta": {"message": "Success"}})
    assert api.get(f"/webhooks/{data['id']}") == (
        404, {"errors": {"code": "resource_not_found", "title": "Resource Not Found"}})
    status, body = api.post("/webhooks", {"webhook": {"property_id": villa["id"], "callback_url": "file:///x"}})
    assert status == 422 and body["errors"]["details"] == {"callback_url": ["is invalid"],
                                                           "event_mask": ["can't be blank"]}


def test_a_booking_is_pushed_to_matching_active_webhooks_with_headers_and_params(api, villa, receiver):
    hook(api, villa, receiver, headers={"Authorization": "Bearer s3cret"}, request_params={"token": "t1"})
    hook(api, villa, receiver, event_mask="booking_cancellation;booking_modification", send_data=False)
    hook(api, villa, receiver, is_active=False)
    made = api.book(villa)
    hits = receiver.wait(1)
    time.sleep(0.2)  # nothing else is coming
    assert len(receiver.hits) == 1
    assert hits[0]["path"] == "/hooks/channex" and hits[0]["query"] == {"token": ["t1"]}
    assert hits[0]["headers"]["Authorization"] == "Bearer s3cret"
    assert hits[0]["body"] == {"event": "booking_new", "property_id": villa["id"], "user_id": None,
                               "timestamp": "2030-03-04T10:00:00.000000Z", "payload": {
                                   "booking_id": made["booking_id"], "property_id": villa["id"],
                                   "revision_id": made["revision_id"]}}
    api.control(f"bookings/{made['booking_id']}/cancel")
    hits = receiver.wait(3)
    bodies = sorted((hit["body"] for hit in hits[1:]), key=lambda body: "payload" in body)
    assert bodies[0] == {"event": "booking_cancellation", "property_id": villa["id"], "user_id": None,
                         "timestamp": "2030-03-04T10:00:00.000000Z"}  # send_data false
    assert bodies[1]["event"] == "booking_cancellation" and "payload" in bodies[1]
    assert {(d["event"], d["outcome"], d["status"]) for d in deliveries(api, 3)} == {
        ("booking_new", "delivered", 200), ("booking_cancellation", "delivered", 200)}


def test_a_failed_delivery_is_retried_a_second_later_at_most_three_times(api, villa, receiver, emulator):
    hook(api, villa, receiver)
    receiver.answers = [500]
    api.book(villa)
    hits = receiver.wait(2)
    assert [hit["status"] for hit in hits] == [500, 200]
    assert hits[1]["at"] - hits[0]["at"] >= 0.9
    assert [(d["attempt"], d["outcome"]) for d in deliveries(api, 2)] == [(1, "failed"), (2, "delivered")]
    api.control("deliveries", method="DELETE")
    emulator.retry_interval = 0.01  # the instance only; reset() keeps it, so restore below
    try:
        receiver.answers = [503] * 10
        api.book(villa)
        log = deliveries(api, 4)
        time.sleep(0.1)
        assert [(d["attempt"], d["status"]) for d in api.control("deliveries", method="GET")] == [
            (1, 503), (2, 503), (3, 503), (4, 503)]
    finally:
        emulator.retry_interval = ChannexEmulator.retry_interval
    assert log[-1]["outcome"] == "failed"


def test_drop_and_duplicate_deliveries(api, villa, receiver):
    hook(api, villa, receiver)
    api.control("webhooks", {"drop": 1, "duplicate": 1})
    lost = api.book(villa)
    twice = api.book(villa)
    hits = receiver.wait(2)
    time.sleep(0.2)
    assert [hit["body"]["payload"]["revision_id"] for hit in receiver.hits] == [twice["revision_id"]] * 2
    assert lost["revision_id"] in [r["id"] for r in api.get("/booking_revisions/feed")[1]["data"]]
    outcomes = sorted((d["outcome"], d["duplicate"]) for d in deliveries(api, 3))
    assert outcomes == [("delivered", False), ("delivered", True), ("dropped", False)]
    assert len(hits) == 2


def test_reorder_holds_deliveries_and_releases_them_newest_first(api, villa, receiver):
    hook(api, villa, receiver)
    assert api.control("webhooks", {"reorder": True})["reorder"] is True
    made = [api.book(villa)["revision_id"] for _ in range(3)]
    time.sleep(0.2)
    assert receiver.hits == [] and api.control("webhooks", method="GET")["held"] == 3
    api.control("webhooks", {"reorder": False})
    hits = receiver.wait(3)
    assert [hit["body"]["payload"]["revision_id"] for hit in hits] == made[::-1]


def test_non_acked_booking_fires_once_after_30_minutes_of_emulator_clock(api, villa, receiver):
    hook(api, villa, receiver, event_mask="non_acked_booking")
    pending = api.book(villa)
    acked = api.book(villa)
    api.post(f"/booking_revisions/{acked['revision_id']}/ack")
    api.control("clock", {"advance": 29 * 60})
    time.sleep(0.2)
    assert receiver.hits == []
    api.control("clock", {"advance": 2 * 60})  # 31 minutes: the clock change itself triggers it
    hits = receiver.wait(1)
    assert hits[0]["body"]["event"] == "non_acked_booking"
    assert hits[0]["body"]["payload"]["revision_id"] == pending["revision_id"]
    api.get("/properties")
    api.control("clock", {"advance": 3600})
    time.sleep(0.2)
    assert len(receiver.hits) == 1


def test_the_test_endpoint_calls_the_url_and_returns_its_answer(api, villa, receiver):
    status, body = api.post("/webhooks/test", {"webhook": {"property_id": villa["id"], "callback_url": receiver.url,
                                                           "event_mask": "*", "headers": {"X-Secret": "s"}}})
    assert (status, body) == (200, {"status_code": 200, "body": "{}"})
    assert receiver.hits[0]["headers"]["X-Secret"] == "s" and receiver.hits[0]["body"]["event"] == "test"


# --- faults, drift, reset ---------------------------------------------------------------------------------------


def test_injected_faults_from_the_base_apply_to_api_paths(api, villa):
    api.control("faults", {"path": "/api/v1/availability", "status": 503, "retry_after": 7})
    value = {"property_id": villa["id"], "room_type_id": villa["room_type_id"], "date": "2030-03-10",
             "availability": 1}
    assert api.push("availability", value) == (503, {"errors": {"code": "injected_fault", "title": "Injected 503"}})
    assert availability(api, villa, "2030-03-10", "2030-03-10") == {"2030-03-10": 0}
    api.control("faults", {"kind": "drop", "path": "/api/v1/booking_revisions/feed"})
    with pytest.raises((urllib.error.URLError, ConnectionError)):
        api.get("/booking_revisions/feed")
    assert api.push("availability", value)[0] == 200


def test_drift_injection_overwrites_one_date_without_limits(api, villa):
    api.control("limits", {"availability_per_minute": 1})
    api.push("availability", {"property_id": villa["id"], "room_type_id": villa["room_type_id"],
                              "date": "2030-03-10", "availability": 1})
    for _ in range(3):
        api.control("ari", {"property_id": villa["id"], "date": "2030-03-10", "availability": 0, "rate": "99.00",
                            "stop_sell": True})
    stored = api.control("ari", method="GET", property_id=villa["id"])
    assert stored["availability"] == {"2030-03-10": 0}
    assert stored["restrictions"]["2030-03-10"]["rate"] == "99.00"
    assert stored["restrictions"]["2030-03-10"]["stop_sell"] is True
    assert restrictions(api, villa, "2030-03-10", "2030-03-10", "rate,stop_sell") == {
        "2030-03-10": {"rate": "99.00", "stop_sell": True}}


def test_reset_forgets_accounts(api, villa):
    api.control("reset")
    assert api.get("/properties") == (401, UNAUTHORIZED)
