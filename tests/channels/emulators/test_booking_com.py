"""The Booking.com emulator over real HTTP: token auth, ARI pushes, the reservation queues, the 30-minute rule."""

from __future__ import annotations

import base64
import json
import urllib.error
import urllib.request
import xml.etree.ElementTree as ET

import pytest

from channels.emulators import emulator_class
from channels.emulators.base import running
from channels.emulators.booking_com import BookingComEmulator

NS = {"o": "http://www.opentravel.org/OTA/2003/05"}
OTA = "/hotels/ota/"
NOW = "2027-03-01T10:00:00+00:00"  # a Monday; Amsterdam's date is the same
HOTEL = {"hotel_id": "1234567", "room_id": "123456701", "rate_plan_id": "9876", "currency": "EUR"}
OTHER = {"hotel_id": "7654321", "room_id": "765432101", "rate_plan_id": "5555", "currency": "EUR"}
GUEST = {"first_name": "Ada", "last_name": "Lovelace", "email": "ada@example.test", "phone": "+31 20 123 4567"}


@pytest.fixture(scope="module")
def served():
    with running(BookingComEmulator()) as emulator:
        yield emulator


@pytest.fixture
def emu(served):
    """The module's emulator, reset: the clock frozen at NOW, one machine account linked to HOTEL."""
    control(served, "reset", {})
    control(served, "clock", {"now": NOW})
    control(served, "accounts", {"client_id": "cid", "client_secret": "secret", "hotels": [HOTEL]})
    return served


def call(emu, path, method="GET", body=None, headers=None, timeout=5):
    data = body.encode() if isinstance(body, str) else body
    request = urllib.request.Request(emu.base_url + path, data=data, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, response.read().decode(), dict(response.headers)
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode(), dict(exc.headers)


def control(emu, name, data=None, method=None):
    status, text, _ = call(emu, f"/_emulator/{name}", method or ("POST" if data is not None else "GET"),
                           json.dumps(data) if data is not None else None, {"Content-Type": "application/json"})
    assert status == 200, text
    return json.loads(text)


def exchange(emu, client_id="cid", secret="secret"):
    status, text, headers = call(emu, "/token-based-authentication/exchange", "POST",
                                 json.dumps({"client_id": client_id, "client_secret": secret}),
                                 {"Content-Type": "application/json"})
    return status, json.loads(text), headers


def token(emu, client_id="cid", secret="secret"):
    status, data, _ = exchange(emu, client_id, secret)
    assert status == 200, data
    return data["jwt"]


def ota(emu, name, xml=None, jwt=None, method="POST", query=""):
    headers = {"Content-Type": "application/xml", "Accept-Version": "1.1"}
    if jwt:
        headers["Authorization"] = f"Bearer {jwt}"
    status, text, _ = call(emu, OTA + name + query, method, xml, headers)
    return status, ET.fromstring(text)


def avail(*messages, hotel_code=HOTEL["hotel_id"]):
    code = f' HotelCode="{hotel_code}"' if hotel_code else ""
    return (f'<?xml version="1.0" encoding="UTF-8"?><OTA_HotelAvailNotifRQ xmlns="{NS["o"]}" '
            f'TimeStamp="2027-03-01T10:00:00" Target="Test" Version="1.005">'
            f'<AvailStatusMessages{code}>{"".join(messages)}</AvailStatusMessages></OTA_HotelAvailNotifRQ>')


def message(start, end, inner="", room=HOTEL["room_id"], rate=HOTEL["rate_plan_id"], extra="", locator=None):
    rate_attr = f' RatePlanCode="{rate}"' if rate else ""
    locator_attr = f' LocatorID="{locator}"' if locator else ""
    return (f'<AvailStatusMessage{extra}{locator_attr}><StatusApplicationControl Start="{start}" End="{end}" '
            f'InvTypeCode="{room}"{rate_attr}/>{inner}</AvailStatusMessage>')


def rates(*amounts, start="2027-03-10", end="2027-03-12", rate=HOTEL["rate_plan_id"]):
    body = "".join(f"<BaseByGuestAmt {a}/>" for a in amounts)
    return (f'<OTA_HotelRateAmountNotifRQ xmlns="{NS["o"]}" TimeStamp="2027-03-01T10:00:00" Target="Production" '
            f'Version="3.000"><RateAmountMessages HotelCode="{HOTEL["hotel_id"]}"><RateAmountMessage>'
            f'<StatusApplicationControl InvTypeCode="{HOTEL["room_id"]}" RatePlanCode="{rate}" Start="{start}" '
            f'End="{end}"/><Rates><Rate><BaseByGuestAmts>{body}</BaseByGuestAmts></Rate></Rates>'
            f'</RateAmountMessage></RateAmountMessages></OTA_HotelRateAmountNotifRQ>')


def ack(name, *ids, errors=""):
    items = "".join(f'<HotelReservationID ResID_Type="14" ResID_Value="{i}"/>' for i in ids)
    wrap = ("HotelReservations", "HotelReservation") if name == "OTA_HotelResNotif" else \
        ("HotelResModifies", "HotelResModify")
    return (f'<{name}RS xmlns="{NS["o"]}" TimeStamp="2027-03-01T10:00:00+00:00" Target="Production" '
            f'Version="2.001">{errors or "<Success/>"}<{wrap[0]}><{wrap[1]}><ResGlobalInfo><HotelReservationIDs>'
            f'{items}</HotelReservationIDs></ResGlobalInfo></{wrap[1]}></{wrap[0]}></{name}RS>')


def errors(root):
    return [(e.get("Code"), e.get("RecordID"), e.get("ShortText")) for e in root.findall("o:Errors/o:Error", NS)]


def warnings(root):
    return [(w.get("Code"), w.get("RecordID"), w.get("ShortText")) for w in root.findall("o:Warnings/o:Warning", NS)]


def ari(emu):
    return control(emu, f"ari?hotel_id={HOTEL['hotel_id']}")["dates"]


def book(emu, arrival="2027-04-01", departure="2027-04-04", total="450.00", **extra):
    data = {"hotel_id": HOTEL["hotel_id"], "arrival": arrival, "departure": departure, "adults": 2, "children": 1,
            "total": total, "currency": "EUR", "guest": GUEST, **extra}
    return control(emu, "reservations", data)["reservation_id"]


def pulled(root):
    return [e.get("ResID_Value") for e in root.iter(f"{{{NS['o']}}}HotelReservationID")]


# --- tokens -----------------------------------------------------------------------------------------------------


def test_the_registry_names_the_emulator():
    assert emulator_class("booking_com") is BookingComEmulator


def test_a_token_exchange_returns_a_jwt_with_the_documented_claims(emu):
    status, data, _ = exchange(emu)
    assert status == 200 and set(data) == {"jwt", "ruid"}
    payload = data["jwt"].split(".")[1]
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    assert claims["iss"] == "urn://connectivity-modern-auth/v1" and claims["client_id"] == "cid"
    assert claims["exp"] - claims["iat"] == 3600 and {"sub", "aud", "jti", "test", "machine_account_id"} <= set(claims)


def test_bad_credentials_are_refused_with_401(emu):
    assert exchange(emu, secret="wrong")[0] == 401
    assert exchange(emu, client_id="nobody")[0] == 401
    status, _, _ = call(emu, "/token-based-authentication/exchange", "POST", "client_id=cid")
    assert status == 400


def test_a_token_is_valid_for_one_hour_of_the_emulator_clock(emu):
    jwt = token(emu)
    control(emu, "clock", {"advance": 3599})
    assert ota(emu, "OTA_HotelResNotif", jwt=jwt, method="GET")[0] == 200
    control(emu, "clock", {"advance": 2})
    status, root = ota(emu, "OTA_HotelResNotif", jwt=jwt, method="GET")
    assert status == 401 and errors(root)[0][0] == "497"
    assert root.tag == f"{{{NS['o']}}}OTA_HotelResNotifRS"


def test_at_most_30_tokens_per_machine_account_per_rolling_hour(emu):
    for _ in range(30):  # one a minute
        token(emu)
        control(emu, "clock", {"advance": 60})
    status, data, headers = exchange(emu)  # 30 minutes after the first: all 30 are within the hour
    assert status == 429 and data["errors"] and headers["Retry-After"] == "1800"
    control(emu, "clock", {"advance": 1800})  # the first token leaves the rolling hour, the second not yet
    assert exchange(emu)[0] == 200
    assert exchange(emu)[0] == 429


def test_ota_calls_need_a_valid_bearer_token(emu):
    jwt = token(emu)
    head, payload, signature = jwt.split(".")
    forged_claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    forged_claims["exp"] += 86400
    forged = ".".join([head, base64.urlsafe_b64encode(json.dumps(forged_claims).encode()).decode().rstrip("="),
                       signature])
    for bad in (None, "not-a-jwt", forged):
        status, root = ota(emu, "OTA_HotelAvailNotif", avail(message("2027-03-10", "2027-03-10", extra="")), bad)
        assert status == 401 and errors(root)[0][0] == "497", bad
    control(emu, "reset", {})
    control(emu, "accounts", {"client_id": "cid", "client_secret": "secret", "hotels": [HOTEL]})
    assert ota(emu, "OTA_HotelResNotif", jwt=jwt, method="GET")[0] == 401  # a reset forgets issued tokens


def test_an_account_not_linked_to_the_hotel_gets_403(emu):
    control(emu, "accounts", {"client_id": "other", "client_secret": "s2", "hotels": [OTHER]})
    jwt = token(emu, "other", "s2")
    status, root = ota(emu, "OTA_HotelAvailNotif", avail(message("2027-03-10", "2027-03-10", extra=' BookingLimit="1"',
                                                                 rate=None)), jwt)
    assert status == 403 and errors(root) == [("497", None, "You do not have access to hotel:1234567")]
    assert ari(emu) == {}
    status, root = ota(emu, "OTA_HotelResNotif", jwt=jwt, method="GET", query="?hotel_ids=1234567")
    assert status == 403 and errors(root)[0][2] == "Access denied for hotel"


# --- availability and rates -------------------------------------------------------------------------------------


def test_availability_and_restrictions_are_stored_per_date_with_inclusive_ends(emu):
    jwt = token(emu)
    status, root = ota(emu, "OTA_HotelAvailNotif", avail(
        message("2027-03-05", "2027-03-07", rate=None, extra=' BookingLimit="1"', locator=1),
        message("2027-03-05", "2027-03-07", '<LengthsOfStay><LengthOfStay Time="2" MinMaxMessageType="SetMinLOS"/>'
                '<LengthOfStay Time="5" MinMaxMessageType="SetMaxLOS"/></LengthsOfStay>'
                '<RestrictionStatus Status="Open"/>', locator=2),
        message("2027-03-06", "2027-03-06", '<RestrictionStatus Status="Close" Restriction="Arrival"/>', locator=3),
    ), jwt)
    assert status == 200 and root.find("o:Success", NS) is not None and root.find("o:Warnings", NS) is None
    days = ari(emu)
    assert sorted(days) == ["2027-03-05", "2027-03-06", "2027-03-07"]
    assert {d["booking_limit"] for d in days.values()} == {1}
    assert {(d["min_stay_through"], d["max_stay_through"], d["closed"]) for d in days.values()} == {(2, 5, False)}
    assert [d["closed_to_arrival"] for d in days.values()] == [False, True, False]

    # A delta: a later max stay keeps the min stay; a room-level close is not a rate close.
    ota(emu, "OTA_HotelAvailNotif", avail(
        message("2027-03-07", "2027-03-07", '<LengthsOfStay><LengthOfStay Time="9" MinMaxMessageType="SetMaxLOS"/>'
                '</LengthsOfStay>'),
        message("2027-03-07", "2027-03-07", '<RestrictionStatus Status="Close"/>', rate=None)), jwt)
    day = ari(emu)["2027-03-07"]
    assert (day["min_stay_through"], day["max_stay_through"], day["room_closed"], day["closed"]) == (2, 9, True, False)


def test_the_hotel_is_found_from_the_room_and_booking_limits_follow_the_documented_range(emu):
    jwt = token(emu)
    status, _ = ota(emu, "OTA_HotelAvailNotif", avail(
        message("2027-03-10", "2027-03-10", rate=None, extra=' BookingLimit="300"'),
        message("2027-03-11", "2027-03-11", rate=None, extra=' BookingLimit="0"'), hotel_code=None), jwt)
    assert status == 200
    assert [d["booking_limit"] for d in ari(emu).values()] == [254, 0]
    status, root = ota(emu, "OTA_HotelAvailNotif", avail(
        message("2027-03-12", "2027-03-12", rate=None, extra=' BookingLimit="-1"')), jwt)
    assert status == 400 and errors(root)[0][0] == "320" and "2027-03-12" not in ari(emu)


def test_rates_accept_a_decimal_string_and_a_scaled_integer(emu):
    jwt = token(emu)
    status, root = ota(emu, "OTA_HotelRateAmountNotif",
                       rates('AmountAfterTax="45.00" CurrencyCode="EUR" DecimalPlaces="2"'), jwt)
    assert status == 200 and root.tag == f"{{{NS['o']}}}OTA_HotelRateAmountNotifRS"
    ota(emu, "OTA_HotelRateAmountNotif", rates('AmountAfterTax="5050" CurrencyCode="EUR" DecimalPlaces="2"',
                                               start="2027-03-12", end="2027-03-13"), jwt)
    assert {k: v["price"] for k, v in ari(emu).items()} == {
        "2027-03-10": "45.00", "2027-03-11": "45.00", "2027-03-12": "50.50", "2027-03-13": "50.50"}


def test_a_rate_in_another_currency_or_per_guest_on_a_standard_rate_is_refused(emu):
    jwt = token(emu)
    status, root = ota(emu, "OTA_HotelRateAmountNotif",
                       rates('AmountAfterTax="45.00" CurrencyCode="USD" DecimalPlaces="2"'), jwt)
    assert status == 400 and "USD" in errors(root)[0][2] and root.find("o:Success", NS) is None
    status, root = ota(emu, "OTA_HotelRateAmountNotif",
                       rates('AmountAfterTax="38.00" CurrencyCode="EUR" NumberOfGuests="1"'), jwt)
    assert status == 400 and errors(root)[0][2] == "OBP_PRICING_PASSED_FOR_DEFAULT_RATE"
    assert ari(emu) == {}


def test_more_than_a_month_in_one_message_is_refused_with_an_ota_error(emu):
    jwt = token(emu)
    limit = '<RestrictionStatus Status="Close"/>'
    status, root = ota(emu, "OTA_HotelAvailNotif", avail(message("2027-03-10", "2027-04-10", limit, locator=7)), jwt)
    assert status == 400 and errors(root)[0][:2] == ("450", "7") and ari(emu) == {}
    status, _ = ota(emu, "OTA_HotelAvailNotif", avail(message("2027-03-10", "2027-04-09", limit)), jwt)
    assert status == 200 and len(ari(emu)) == 31
    status, root = ota(emu, "OTA_HotelAvailNotif", avail(message("2027-05-02", "2027-05-01", limit)), jwt)
    assert status == 400 and errors(root)[0][2].startswith("FROM_DATE_SHOULD_BE_LESS_THAN_TO_DATE")


def test_a_date_more_than_one_day_in_the_past_is_refused(emu):
    jwt = token(emu)
    close = '<RestrictionStatus Status="Close"/>'
    status, _ = ota(emu, "OTA_HotelAvailNotif", avail(message("2027-02-28", "2027-02-28", close)), jwt)
    assert status == 200
    status, root = ota(emu, "OTA_HotelAvailNotif", avail(message("2027-02-27", "2027-03-02", close)), jwt)
    assert status == 400 and errors(root)[0][0] == "320" and errors(root)[0][2].startswith("NOT_A_VALID_DATE")
    assert list(ari(emu)) == ["2027-02-28"]
    status, root = ota(emu, "OTA_HotelRateAmountNotif",
                       rates('AmountAfterTax="45.00"', start="2027-02-01", end="2027-02-02"), jwt)
    assert status == 400 and errors(root)[0][2].startswith("NOT_A_VALID_DATE")


def test_a_partly_valid_request_succeeds_with_warnings_for_the_rest(emu):
    jwt = token(emu)
    close = '<RestrictionStatus Status="Close"/>'
    status, root = ota(emu, "OTA_HotelAvailNotif", avail(
        message("2027-03-10", "2027-03-10", close, locator=1),
        message("2027-03-11", "2027-03-11", close, room="999999901", locator=2),
        message("2027-03-12", "2027-03-12", close, rate="1111", locator=3)), jwt)
    assert status == 200 and root.find("o:Success", NS) is not None and root.find("o:Errors", NS) is None
    assert [(code, record) for code, record, _ in warnings(root)] == [("402", "2"), ("783", "3")]
    assert warnings(root)[0][2] == "ROOM_ID_INVALID: Room ID '999999901' is not valid"
    assert list(ari(emu)) == ["2027-03-10"]


def test_an_unknown_hotel_several_hotels_and_bad_xml_fail_the_whole_request(emu):
    control(emu, "accounts", {"client_id": "cid", "client_secret": "secret", "hotels": [OTHER]})
    jwt = token(emu)
    close = '<RestrictionStatus Status="Close"/>'
    status, root = ota(emu, "OTA_HotelAvailNotif", avail(message("2027-03-10", "2027-03-10", close),
                                                         hotel_code="42"), jwt)
    assert status == 400 and errors(root)[0][:1] == ("392",)
    status, root = ota(emu, "OTA_HotelAvailNotif", avail(
        message("2027-03-10", "2027-03-10", close),
        message("2027-03-10", "2027-03-10", close, room=OTHER["room_id"], rate=OTHER["rate_plan_id"]),
        hotel_code=None), jwt)
    assert status == 400 and "One hotel per request" in errors(root)[0][2]
    no_namespace = avail(message("2027-03-10", "2027-03-10", close)).replace(f' xmlns="{NS["o"]}"', "")
    for body in ("<OTA_HotelAvailNotifRQ", no_namespace, rates('AmountAfterTax="1.00"')):
        status, root = ota(emu, "OTA_HotelAvailNotif", body, jwt)
        assert status == 400 and errors(root)[0][0] == "450", body
    assert ari(emu) == {}


def test_a_doctype_is_refused_and_no_entity_is_resolved(emu):
    jwt = token(emu)
    body = avail(message("2027-03-10", "2027-03-10", '<RestrictionStatus Status="Close"/>'))
    body = body.replace("<OTA_HotelAvailNotifRQ", '<!DOCTYPE r [<!ENTITY boom "EXPANDED">]><OTA_HotelAvailNotifRQ', 1)
    body = body.replace('Target="Test"', 'Target="&boom;"')
    status, text, _ = call(emu, OTA + "OTA_HotelAvailNotif", "POST", body, {"Authorization": f"Bearer {jwt}"})
    assert status == 400 and "DOCTYPE" in text and "EXPANDED" not in text.replace(body, "")
    assert ari(emu) == {}


def test_the_ari_control_route_overwrites_a_date(emu):
    jwt = token(emu)
    ota(emu, "OTA_HotelRateAmountNotif", rates('AmountAfterTax="45.00"'), jwt)
    control(emu, "ari", {"hotel_id": HOTEL["hotel_id"], "date": "2027-03-11", "price": "99.00", "closed": True})
    days = ari(emu)
    assert (days["2027-03-11"]["price"], days["2027-03-11"]["closed"], days["2027-03-10"]["price"]) == (
        "99.00", True, "45.00")
    status, _, _ = call(emu, "/_emulator/ari", "POST", json.dumps({"hotel_id": HOTEL["hotel_id"],
                                                                  "date": "2027-03-11", "colour": "red"}))
    assert status == 400


# --- reservations -----------------------------------------------------------------------------------------------


def test_new_reservations_are_returned_until_acknowledged(emu):
    jwt = token(emu)
    first, second = book(emu), book(emu, arrival="2027-05-01", departure="2027-05-03", total="200.00")
    status, root = ota(emu, "OTA_HotelResNotif", jwt=jwt, method="GET")
    assert status == 200 and root.tag == f"{{{NS['o']}}}OTA_HotelResNotifRQ" and pulled(root) == [first, second]
    status, answer = ota(emu, "OTA_HotelResNotif", ack("OTA_HotelResNotif", first), jwt)
    assert status == 200 and answer.find("o:Success", NS) is not None
    assert pulled(ota(emu, "OTA_HotelResNotif", jwt=jwt, method="GET")[1]) == [second]
    assert pulled(ota(emu, "OTA_HotelResNotif", jwt=jwt, method="GET")[1]) == [second]  # still unacked: again
    assert ota(emu, "OTA_HotelResNotif", ack("OTA_HotelResNotif", first), jwt)[0] == 200  # idempotent
    status, answer = ota(emu, "OTA_HotelResNotif", ack("OTA_HotelResNotif", "123"), jwt)
    assert status == 400 and errors(answer)[0][:2] == ("635", "123")
    status, answer = ota(emu, "OTA_HotelResNotif", ack("OTA_HotelResNotif", second, "123"), jwt)
    assert status == 200 and warnings(answer)[0][:2] == ("635", "123")
    assert pulled(ota(emu, "OTA_HotelResNotif", jwt=jwt, method="GET")[1]) == []
    assert pulled(ota(emu, "OTA_HotelResNotif", jwt=jwt, method="GET", query=f"?id={first}")[1]) == [first]


def test_a_reservation_message_has_the_documented_structure(emu):
    jwt = token(emu)
    reservation_id = book(emu, total="450.01")
    root = ota(emu, "OTA_HotelResNotif", jwt=jwt, method="GET")[1]
    stay = root.find("o:HotelReservations/o:HotelReservation/o:RoomStays/o:RoomStay", NS)
    assert stay.find("o:RoomTypes/o:RoomType", NS).get("RoomTypeCode") == HOTEL["room_id"]
    nights = stay.findall("o:RoomRates/o:RoomRate", NS)
    assert [n.get("EffectiveDate") for n in nights] == ["2027-04-01", "2027-04-02", "2027-04-03"]
    assert {n.get("RatePlanCode") for n in nights} == {HOTEL["rate_plan_id"]}
    amounts = [n.find("o:Rates/o:Rate/o:Total", NS) for n in nights]
    assert sum(int(a.get("AmountAfterTax")) for a in amounts) == 45001
    assert {(a.get("CurrencyCode"), a.get("DecimalPlaces")) for a in amounts} == {("EUR", "2")}
    assert stay.find("o:GuestCounts/o:GuestCount", NS).get("Count") == "3"
    assert stay.find("o:Total", NS).get("AmountAfterTax") == "45001"
    assert stay.find("o:BasicPropertyInfo", NS).get("HotelCode") == HOTEL["hotel_id"]
    reservation = root.find("o:HotelReservations/o:HotelReservation", NS)
    name = reservation.find("o:ResGuests/o:ResGuest/o:Profiles/o:ProfileInfo/o:Profile/o:Customer/o:PersonName", NS)
    assert (name.findtext("o:GivenName", None, NS), name.findtext("o:Surname", None, NS)) == ("Ada", "Lovelace")
    info = reservation.find("o:ResGlobalInfo", NS)
    assert info.find("o:Total", NS).get("AmountAfterTax") == "45001"
    reservation_ref = info.find("o:HotelReservationIDs/o:HotelReservationID", NS)
    assert reservation_ref.get("ResID_Value") == reservation_id and reservation_ref.get("ResID_Date").startswith(
        "2027-03-01T10:00")
    booker = info.find("o:Profiles/o:ProfileInfo/o:Profile/o:Customer", NS)
    assert booker.findtext("o:Email", None, NS) == GUEST["email"]
    assert booker.find("o:Telephone", NS).get("PhoneNumber") == GUEST["phone"]
    assert reservation.get("ResStatus") is None  # Booking's ResNotif carries no status


def test_the_hotel_ids_filter(emu):
    control(emu, "accounts", {"client_id": "cid", "client_secret": "secret", "hotels": [OTHER]})
    jwt = token(emu)
    mine = book(emu)
    other = control(emu, "reservations", {"hotel_id": OTHER["hotel_id"], "arrival": "2027-04-01",
                                          "departure": "2027-04-02", "total": "90.00", "guest": GUEST})
    other = other["reservation_id"]
    assert pulled(ota(emu, "OTA_HotelResNotif", jwt=jwt, method="GET")[1]) == [mine, other]
    assert pulled(ota(emu, "OTA_HotelResNotif", jwt=jwt, method="GET", query="?hotel_ids=7654321")[1]) == [other]
    assert pulled(ota(emu, "OTA_HotelResNotif", jwt=jwt, method="GET", query="?limit=1")[1]) == [mine]


def test_modifications_and_cancellations_are_queued_on_the_modify_endpoint(emu):
    jwt = token(emu)
    reservation_id = book(emu)
    ota(emu, "OTA_HotelResNotif", ack("OTA_HotelResNotif", reservation_id), jwt)
    changed = control(emu, f"reservations/{reservation_id}/modify", {"departure": "2027-04-06", "total": "600.00"})
    assert pulled(ota(emu, "OTA_HotelResNotif", jwt=jwt, method="GET")[1]) == []
    status, root = ota(emu, "OTA_HotelResModifyNotif", jwt=jwt, method="GET")
    modify = root.find("o:HotelResModifies/o:HotelResModify", NS)
    assert status == 200 and root.tag == f"{{{NS['o']}}}OTA_HotelResModifyNotifRQ"
    assert modify.get("ResStatus") == "Modify" and pulled(root) == [reservation_id]
    assert len(modify.findall("o:RoomStays/o:RoomStay/o:RoomRates/o:RoomRate", NS)) == 5
    assert modify.find("o:ResGlobalInfo/o:Total", NS).get("AmountAfterTax") == "60000"
    # Acknowledged on the wrong endpoint: the documented 400, and the message stays.
    status, answer = ota(emu, "OTA_HotelResNotif", ack("OTA_HotelResNotif", reservation_id), jwt)
    assert status == 400 and "wrong type" in errors(answer)[0][2]
    assert pulled(ota(emu, "OTA_HotelResModifyNotif", jwt=jwt, method="GET")[1]) == [reservation_id]
    assert ota(emu, "OTA_HotelResModifyNotif", ack("OTA_HotelResModifyNotif", reservation_id), jwt)[0] == 200
    assert pulled(ota(emu, "OTA_HotelResModifyNotif", jwt=jwt, method="GET")[1]) == []

    cancelled = control(emu, f"reservations/{reservation_id}/cancel", {"fee": "50.00"})
    assert cancelled["message_id"] != changed["message_id"]
    root = ota(emu, "OTA_HotelResModifyNotif", jwt=jwt, method="GET")[1]
    cancel = root.find("o:HotelResModifies/o:HotelResModify", NS)
    assert cancel.get("ResStatus") == "Cancel" and cancel.find("o:ResGlobalInfo/o:Total", NS).get(
        "AmountAfterTax") == "5000"
    kinds = [m["kind"] for m in control(emu, "reservations")[0]["messages"]]
    assert kinds == ["new", "modify", "cancel"]


def test_a_change_before_the_acknowledgement_arrives_as_the_new_reservation(emu):
    jwt = token(emu)
    reservation_id = book(emu)
    control(emu, f"reservations/{reservation_id}/modify", {"arrival": "2027-04-02"})
    root = ota(emu, "OTA_HotelResNotif", jwt=jwt, method="GET")[1]
    assert pulled(root) == [reservation_id]
    first_night = root.find("o:HotelReservations/o:HotelReservation/o:RoomStays/o:RoomStay/o:RoomRates/o:RoomRate", NS)
    assert first_night.get("EffectiveDate") == "2027-04-02"
    assert pulled(ota(emu, "OTA_HotelResModifyNotif", jwt=jwt, method="GET")[1]) == []
    control(emu, f"reservations/{reservation_id}/cancel", {})
    assert pulled(ota(emu, "OTA_HotelResNotif", jwt=jwt, method="GET")[1]) == []
    root = ota(emu, "OTA_HotelResModifyNotif", jwt=jwt, method="GET")[1]
    assert root.find("o:HotelResModifies/o:HotelResModify", NS).get("ResStatus") == "Cancel"


def test_a_rejecting_acknowledgement_keeps_the_message_queued(emu):
    jwt = token(emu)
    reservation_id = book(emu)
    rejection = '<Errors><Error Type="3" Code="450" ShortText="Room not mapped"/></Errors>'
    assert ota(emu, "OTA_HotelResNotif", ack("OTA_HotelResNotif", reservation_id, errors=rejection), jwt)[0] == 200
    assert pulled(ota(emu, "OTA_HotelResNotif", jwt=jwt, method="GET")[1]) == [reservation_id]
    assert control(emu, "reservations")[0]["messages"][0]["rejected"] == "Room not mapped"


def test_unacknowledged_messages_are_marked_emailed_after_30_minutes(emu):
    jwt = token(emu)
    kept, acked = book(emu), book(emu, arrival="2027-06-01", departure="2027-06-02")
    ota(emu, "OTA_HotelResNotif", ack("OTA_HotelResNotif", acked), jwt)
    control(emu, "clock", {"advance": 29 * 60 + 59})
    assert control(emu, "emailed") == []
    control(emu, "clock", {"advance": 1})
    emailed = control(emu, "emailed")
    assert [(m["reservation_id"], m["emailed_at"]) for m in emailed] == [(kept, "2027-03-01T10:30:00+00:00")]
    assert pulled(ota(emu, "OTA_HotelResNotif", jwt=jwt, method="GET")[1]) == [kept]  # still returned by default
    control(emu, "settings", {"return_emailed": False})
    assert pulled(ota(emu, "OTA_HotelResNotif", jwt=jwt, method="GET")[1]) == []
    assert ota(emu, "OTA_HotelResNotif", ack("OTA_HotelResNotif", kept), jwt)[0] == 200


# --- faults and limits ------------------------------------------------------------------------------------------


def test_injected_faults_apply_to_the_ota_paths(emu):
    jwt = token(emu)
    control(emu, "faults", {"path": OTA + "OTA_HotelAvailNotif", "status": 503, "retry_after": 7})
    body = avail(message("2027-03-10", "2027-03-10", '<RestrictionStatus Status="Close"/>'))
    status, _, headers = call(emu, OTA + "OTA_HotelAvailNotif", "POST", body, {"Authorization": f"Bearer {jwt}"})
    assert (status, headers["Retry-After"]) == (503, "7") and ari(emu) == {}
    assert ota(emu, "OTA_HotelAvailNotif", body, jwt)[0] == 200 and list(ari(emu)) == ["2027-03-10"]
    control(emu, "faults", {"path": OTA + "OTA_HotelResNotif", "kind": "drop"})
    with pytest.raises((urllib.error.URLError, ConnectionError)):
        call(emu, OTA + "OTA_HotelResNotif", "GET", headers={"Authorization": f"Bearer {jwt}"})
    assert ota(emu, "OTA_HotelResNotif", jwt=jwt, method="GET")[0] == 200


def test_the_optional_rate_limit_is_off_by_default_and_answers_429_when_set(emu):
    jwt = token(emu)
    for _ in range(40):
        assert ota(emu, "OTA_HotelResNotif", jwt=jwt, method="GET")[0] == 200
    control(emu, "limits", {"requests_per_minute": 3})
    for _ in range(3):
        assert ota(emu, "OTA_HotelResNotif", jwt=jwt, method="GET")[0] == 200
    status, text, headers = call(emu, OTA + "OTA_HotelResNotif", "GET", headers={"Authorization": f"Bearer {jwt}"})
    assert status == 429 and headers["Retry-After"] == "60" and "<Errors>" in text
    control(emu, "clock", {"advance": 60})
    assert ota(emu, "OTA_HotelResNotif", jwt=jwt, method="GET")[0] == 200
