"""The Google Vacation Rentals emulator over real HTTP: the ARI push (property data, rates, availability,
inventory), its answers and refusals, the price Google would show, the landing URL, the control routes."""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
import xml.etree.ElementTree as ET

import pytest

from channels.emulators import emulator_class
from channels.emulators.base import running
from channels.emulators.google_vr import GoogleVrEmulator

OTA = "{http://www.opentravel.org/OTA/2003/05}"
PARTNER = "stayhold_test"
NOW = "2027-03-01T09:00:00+00:00"  # the emulator's frozen clock: today is 2027-03-01, day 330 is 2028-01-25
PROPERTY_DATA = "/travel/hotels/uploads/property_data"
RATES = "/travel/hotels/uploads/ota/hotel_rate_amount_notif"
AVAIL = "/travel/hotels/uploads/ota/hotel_avail_notif"
INVENTORY = "/travel/hotels/uploads/ota/hotel_inv_count_notif"
TAXES = "/travel/hotels/uploads/taxes"
PROMOTIONS = "/travel/hotels/uploads/promotions"


@pytest.fixture(scope="module")
def served():
    with running(GoogleVrEmulator()) as emulator:
        yield emulator


@pytest.fixture
def google(served):
    call(served, "/_emulator/reset", "POST")
    call(served, "/_emulator/clock", "POST", {"now": NOW})
    call(served, "/_emulator/partners", "POST", {"partner": PARTNER, "properties": ["P1", "P2"]})
    return served


def _open(emulator, request, timeout=5):
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, response.read(), dict(response.headers)
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read(), dict(exc.headers)


def call(emulator, path, method="GET", data=None):
    body = json.dumps(data).encode() if data is not None else None
    request = urllib.request.Request(emulator.base_url + path, data=body, method=method,
                                     headers={"Content-Type": "application/json"})
    status, raw, _ = _open(emulator, request)
    return status, json.loads(raw or b"null")


def post_xml(emulator, path, text, content_type="application/xml"):
    request = urllib.request.Request(emulator.base_url + path, data=text.encode(), method="POST",
                                     headers={"Content-Type": content_type})
    status, raw, headers = _open(emulator, request)
    return status, ET.fromstring(raw) if raw.startswith(b"<") else raw, headers


def errors(root):
    return [e.get("ShortText") for e in root.iter(f"{OTA}Error")]


def success(root):
    return root.find(f"{OTA}Success") is not None and root.find(f"{OTA}Errors") is None


def transaction(prop="P1", rooms=(("P1", 6),), packages=("STD",), action="overlay", partner=PARTNER):
    room_xml = "".join(f"<RoomData><RoomID>{r}</RoomID><Name><Text text='Cottage' language='en'/></Name>"
                       f"<Capacity>{c}</Capacity></RoomData>" for r, c in rooms)
    package_xml = "".join(f"<PackageData><PackageID>{p}</PackageID><Name><Text text='Standard' language='en'/>"
                          "</Name></PackageData>" for p in packages)
    return (f'<?xml version="1.0" encoding="UTF-8"?><Transaction timestamp="2027-03-01T09:00:00Z" id="t-1" '
            f'partner="{partner}"><PropertyDataSet action="{action}"><Property>{prop}</Property>{room_xml}'
            f"{package_xml}</PropertyDataSet></Transaction>")


def ota(root_name, container, hotel, inner, echo="e-1", partner=PARTNER, extra=""):
    return (f'<{root_name} xmlns="http://www.opentravel.org/OTA/2003/05" EchoToken="{echo}" '
            f'TimeStamp="2027-03-01T09:00:00Z" Version="3.0" {extra}>'
            f'<POS><Source><RequestorID ID="{partner}"/></Source></POS>'
            f'<{container} HotelCode="{hotel}">{inner}</{container}></{root_name}>')


def control(start, end, room="P1", package="STD", flags=""):
    plan = f' RatePlanCode="{package}"' if package else ""
    return f'<StatusApplicationControl Start="{start}" End="{end}" InvTypeCode="{room}"{plan} {flags}/>'


def rate(start, end, after="100.00", before=None, guests=6, room="P1", package="STD", prop="P1", currency="EUR",
         notif="Delta", extra_guests="", flags="", **kwargs):
    amounts = f'AmountAfterTax="{after}"' + (f' AmountBeforeTax="{before}"' if before else "")
    inner = (f"<RateAmountMessage>{control(start, end, room, package, flags)}<Rates><Rate><BaseByGuestAmts>"
             f'<BaseByGuestAmt {amounts} CurrencyCode="{currency}" NumberOfGuests="{guests}"/></BaseByGuestAmts>'
             f"{extra_guests}</Rate></Rates></RateAmountMessage>")
    return ota("OTA_HotelRateAmountNotifRQ", "RateAmountMessages", prop, inner, extra=f'NotifType="{notif}"', **kwargs)


def avail(*messages, prop="P1", **kwargs):
    return ota("OTA_HotelAvailNotifRQ", "AvailStatusMessages", prop, "".join(messages), **kwargs)


def status(start, end, body='<RestrictionStatus Status="Open"/>', room="P1", package="STD", flags="", attrs=""):
    return f"<AvailStatusMessage {attrs}>{control(start, end, room, package, flags)}{body}</AvailStatusMessage>"


def inventory(start, end, count=1, room="P1", prop="P1", **kwargs):
    inner = (f"<Inventory>{control(start, end, room, None)}<InvCounts><InvCount Count=\"{count}\" CountType=\"2\"/>"
             "</InvCounts></Inventory>")
    return ota("OTA_HotelInvCountNotifRQ", "Inventories", prop, inner, **kwargs)


def fee(amount="40.00", type_="amount", basis="room", period="stay", currency="EUR", extra=""):
    parts = {"Type": type_, "Basis": basis, "Period": period, "Currency": currency, "Amount": amount}
    return "<Fee>" + "".join(f"<{k}>{v}</{k}>" for k, v in parts.items() if v is not None) + extra + "</Fee>"


def tax_fee_info(*fees, prop="P1", partner=PARTNER, action="overlay", taxes=""):
    return (f'<?xml version="1.0" encoding="UTF-8"?><TaxFeeInfo timestamp="2027-03-01T09:00:00Z" id="f-1" '
            f'partner="{partner}"><Property action="{action}"><ID>{prop}</ID>{taxes}<Fees>{"".join(fees)}</Fees>'
            "</Property></TaxFeeInfo>")


def promotion(promo_id, percentage="10", los=None, window=None, extra="", action=""):
    """One ``Promotion``: ``los``/``window`` as ``{"min": .., "max": ..}``."""
    def bounds(values):
        return " ".join(f'{k}="{v}"' for k, v in values.items())
    parts = [f'<BookingWindow {bounds(window)}/>' if window else "",
             f'<Discount percentage="{percentage}"/>' if percentage is not None else "",
             f'<LengthOfStay {bounds(los)}/>' if los else "", extra]
    return f'<Promotion id="{promo_id}" {action}>{"".join(parts)}</Promotion>'


def promotions(*items, prop="P1", partner=PARTNER, action='action="overlay"'):
    return (f'<?xml version="1.0" encoding="UTF-8"?><Promotions partner="{partner}" id="p-1" '
            f'timestamp="2027-03-01T09:00:00Z"><HotelPromotions hotel_id="{prop}" {action}>{"".join(items)}'
            "</HotelPromotions></Promotions>")


def bookable(google, start="2027-06-01", end="2027-06-30", after="100.00"):
    """The four messages Google needs before it shows a price."""
    for path, text in ((PROPERTY_DATA, transaction()), (RATES, rate(start, end, after)),
                       (INVENTORY, inventory(start, end)), (AVAIL, avail(status(start, end)))):
        code, root, _ = post_xml(google, path, text)
        assert code == 200 and (root.findtext("Status") == "Success" or success(root)), ET.tostring(root)


def price(google, checkin="2027-06-01", nights=3, adults=2, children=0, **extra):
    query = urllib.parse.urlencode({"property": "P1", "checkin": checkin, "nights": nights, "adults": adults,
                                    "children": children, **extra})
    code, answer = call(google, f"/_emulator/price?{query}")
    assert code == 200, answer
    return answer


def ari(google, prop="P1"):
    return call(google, f"/_emulator/ari?property={prop}")[1]


# --- the push ---------------------------------------------------------------------------------------------------


def test_the_partner_key_stands_in_for_the_ip_allowlist(google):
    code, root, _ = post_xml(google, PROPERTY_DATA, transaction(partner="somebody_else"))
    assert (code, root.tag, root.findtext("Status")) == (403, "TransactionResponse", "Failure")
    code, root, _ = post_xml(google, RATES, rate("2027-06-01", "2027-06-02", partner="somebody_else"))
    assert code == 403 and root.find(f"{OTA}Errors/{OTA}Error").get("Type") == "4"

    # a known partner, but a property it does not hold: answered, refused in the body
    code, root, _ = post_xml(google, PROPERTY_DATA, transaction(prop="P9"))
    assert (code, root.findtext("Status")) == (200, "Failure")
    assert "P9 is not managed by partner stayhold_test" in root.findtext("Issues/Issue")
    code, root, _ = post_xml(google, INVENTORY, inventory("2027-06-01", "2027-06-02", prop="P9"))
    assert code == 200 and errors(root) == ["Property P9 is not managed by partner stayhold_test"]
    assert call(google, "/_emulator/ari?property=P9")[0] == 404  # nothing was created for it


def test_property_data_then_rates_availability_and_inventory_are_stored_per_date_inclusively(google):
    code, root, _ = post_xml(google, PROPERTY_DATA, transaction())
    assert (code, root.tag, root.get("id"), root.findtext("Status")) == (200, "TransactionResponse", "t-1", "Success")
    code, root, _ = post_xml(google, RATES, rate("2027-06-01", "2027-06-03", after="110.00", before="100.00",
                                                 echo="r-0001"))
    assert (code, root.tag, root.get("EchoToken")) == (200, f"{OTA}OTA_HotelRateAmountNotifRS", "r-0001")
    assert success(root)
    code, root, _ = post_xml(google, INVENTORY, inventory("2027-06-02", "2027-06-04", count=1, echo="i-1"))
    assert (code, root.tag, root.get("EchoToken"), success(root)) == (
        200, f"{OTA}OTA_HotelInvCountNotifRS", "i-1", True)
    # Tuesday 2027-06-01 to Monday 06-07, Saturdays and Sundays only
    code, root, _ = post_xml(google, AVAIL, avail(
        status("2027-06-01", "2027-06-07", flags='Sat="true" Sun="true"', body=(
            '<LengthsOfStay><LengthOfStay Time="2" TimeUnit="Day" MinMaxMessageType="SetMinLOS"/></LengthsOfStay>'
            '<RestrictionStatus Status="Close" Restriction="Arrival"/>'))))
    assert (code, root.tag, success(root)) == (200, f"{OTA}OTA_HotelAvailNotifRS", True)

    stored = ari(google)
    assert stored["rooms"]["P1"]["capacity"] == 6 and stored["packages"]["STD"]["name"] == "Standard"
    assert list(stored["rates"]["P1"]["STD"]) == ["2027-06-01", "2027-06-02", "2027-06-03"]
    assert stored["rates"]["P1"]["STD"]["2027-06-03"]["occupancies"] == {
        "6": {"after_tax": "110.00", "before_tax": "100.00", "currency": "EUR"}}
    assert stored["inventory"] == {"P1": {"2027-06-02": 1, "2027-06-03": 1, "2027-06-04": 1}}
    assert stored["availability"]["P1"]["STD"] == {
        "2027-06-05": {"min_los": 2, "arrival": "Close"}, "2027-06-06": {"min_los": 2, "arrival": "Close"}}


def test_each_avail_message_is_a_delta_per_restriction(google):
    bookable(google)
    post_xml(google, AVAIL, avail(status("2027-06-10", "2027-06-10", body=(
        '<LengthsOfStay><LengthOfStay Time="2" MinMaxMessageType="SetMinLOS"/></LengthsOfStay>'))))
    post_xml(google, AVAIL, avail(status("2027-06-10", "2027-06-10", body=(
        '<LengthsOfStay><LengthOfStay Time="7" MinMaxMessageType="SetMaxLOS"/></LengthsOfStay>'))))
    assert ari(google)["availability"]["P1"]["STD"]["2027-06-10"] == {"master": "Open", "min_los": 2, "max_los": 7}


def test_undefined_room_or_package_refuses_the_whole_message(google):
    post_xml(google, PROPERTY_DATA, transaction())
    text = ota("OTA_HotelRateAmountNotifRQ", "RateAmountMessages", "P1", "".join(
        f"<RateAmountMessage>{control('2027-06-01', '2027-06-02', room, package)}<Rates><Rate><BaseByGuestAmts>"
        '<BaseByGuestAmt AmountAfterTax="90" CurrencyCode="EUR" NumberOfGuests="2"/></BaseByGuestAmts></Rate>'
        "</Rates></RateAmountMessage>" for room, package in (("P1", "STD"), ("ROOM9", "STD"), ("P1", "PKG9"))))
    code, root, _ = post_xml(google, RATES, text)
    assert code == 200 and errors(root) == ["Undefined room ROOM9", "Undefined package PKG9"]
    assert root.find(f"{OTA}Success") is None
    assert {e.get("Status") for e in root.iter(f"{OTA}Error")} == {"NotProcessed"}
    assert ari(google)["rates"] == {}  # the valid first message was not stored either
    code, root, _ = post_xml(google, INVENTORY, inventory("2027-06-01", "2027-06-02", room="ROOM9"))
    assert errors(root) == ["Undefined room ROOM9"]


def test_an_overlay_transaction_replaces_the_rooms_and_the_price_then_names_the_undefined_room(google):
    bookable(google)
    assert price(google)["available"] is True
    code, root, _ = post_xml(google, PROPERTY_DATA, transaction(rooms=(("P1-NEW", 4),)))
    assert root.findtext("Status") == "Success" and list(ari(google)["rooms"]) == ["P1-NEW"]
    answer = price(google)
    assert answer["available"] is False and "Undefined room" in answer["reasons"]


def test_dates_beyond_330_days_are_refused(google):
    post_xml(google, PROPERTY_DATA, transaction())
    code, root, _ = post_xml(google, INVENTORY, inventory("2028-01-20", "2028-01-25"))
    assert code == 200 and success(root)
    code, root, _ = post_xml(google, RATES, rate("2028-01-20", "2028-01-26"))
    assert code == 200 and errors(root) == [
        "End 2028-01-26 is beyond the 330-day booking window (last date 2028-01-25)"]
    assert ari(google)["rates"] == {} and list(ari(google)["inventory"]["P1"])[-1] == "2028-01-25"


def test_malformed_xml_a_doctype_a_wrong_root_and_a_wrong_content_type_are_refused(google):
    assert post_xml(google, RATES, "<OTA_HotelRateAmountNotifRQ><unclosed>")[0] == 400
    bomb = ('<?xml version="1.0"?><!DOCTYPE t [<!ENTITY a "aaaaaaaaaa">]>'
            '<Transaction partner="stayhold_test">&a;</Transaction>')
    code, root, _ = post_xml(google, PROPERTY_DATA, bomb)
    assert code == 400 and "DOCTYPE" in root.findtext("Issues/Issue")
    code, root, _ = post_xml(google, RATES, inventory("2027-06-01", "2027-06-02"))  # the inventory root
    assert code == 400 and "Expected root element" in errors(root)[0]
    no_namespace = rate("2027-06-01", "2027-06-02").replace(' xmlns="http://www.opentravel.org/OTA/2003/05"', "")
    assert post_xml(google, RATES, no_namespace)[0] == 400
    assert post_xml(google, RATES, rate("2027-06-01", "2027-06-02"), content_type="application/json")[0] == 415
    assert call(google, RATES)[0] == 405 and call(google, "/travel/hotels/uploads/nothing", "POST", {})[0] == 404


# --- the price Google would show -----------------------------------------------------------------------------


def test_an_available_stay_is_priced_as_the_sum_of_its_nights(google):
    bookable(google)
    post_xml(google, RATES, rate("2027-06-02", "2027-06-02", after="120.50"))
    answer = price(google, checkin="2027-06-01", nights=3)
    assert (answer["available"], answer["total"], answer["currency"], answer["reasons"]) == (
        True, "320.50", "EUR", [])
    assert [n["amount"] for n in answer["nightly"]] == ["100.00", "120.50", "100.00"]
    assert (answer["room"], answer["package"], answer["checkout"]) == ("P1", "STD", "2027-06-04")


def test_a_closed_night_and_a_booked_night_make_the_stay_unavailable(google):
    bookable(google)
    post_xml(google, AVAIL, avail(status("2027-06-02", "2027-06-02", '<RestrictionStatus Status="Close"/>')))
    closed = price(google, checkin="2027-06-01", nights=3)
    assert (closed["available"], closed["total"], closed["reasons"]) == (False, None, ["Stop sell"])
    assert price(google, checkin="2027-06-03", nights=2)["available"] is True  # the nights after it still sell

    post_xml(google, INVENTORY, inventory("2027-06-10", "2027-06-10", count=0))
    assert price(google, checkin="2027-06-09", nights=2)["reasons"] == ["No vacancy"]
    assert price(google, checkin="2027-07-01", nights=2)["reasons"] == [  # nothing was pushed for July
        "No vacancy", "Missing nightly rate"]


def test_min_and_max_length_of_stay(google):
    bookable(google)
    post_xml(google, AVAIL, avail(
        status("2027-06-12", "2027-06-12", '<LengthsOfStay><LengthOfStay Time="3" MinMaxMessageType="SetMinLOS"/>'
                                           "</LengthsOfStay>"),
        status("2027-06-20", "2027-06-20", '<LengthsOfStay><LengthOfStay Time="4" '
                                           'MinMaxMessageType="SetForwardMinStay"/><LengthOfStay Time="5" '
                                           'MinMaxMessageType="SetForwardMaxStay"/></LengthsOfStay>')))
    assert price(google, checkin="2027-06-11", nights=2)["reasons"] == ["Min stay through"]  # stays through 06-12
    assert price(google, checkin="2027-06-10", nights=3)["available"] is True
    assert price(google, checkin="2027-06-20", nights=3)["reasons"] == ["Min stay"]  # arrival on 06-20
    assert price(google, checkin="2027-06-20", nights=6)["reasons"] == ["Max stay"]
    assert price(google, checkin="2027-06-19", nights=2)["available"] is True  # arrival rules bind arrivals only
    assert price(google, checkin="2027-06-20", nights=4)["total"] == "400.00"


def test_closed_to_arrival_and_to_departure(google):
    bookable(google)
    post_xml(google, AVAIL, avail(
        status("2027-06-05", "2027-06-05", '<RestrictionStatus Status="Close" Restriction="Arrival"/>'),
        status("2027-06-15", "2027-06-15", '<RestrictionStatus Status="Close" Restriction="Departure"/>')))
    assert price(google, checkin="2027-06-05", nights=2)["reasons"] == ["Invalid arrival"]
    assert price(google, checkin="2027-06-04", nights=2)["available"] is True  # staying through 06-05 is fine
    assert price(google, checkin="2027-06-13", nights=2)["reasons"] == ["Invalid departure"]
    assert price(google, checkin="2027-06-13", nights=3)["available"] is True


def test_the_vacation_rental_window_30_nights_and_330_days(google):
    bookable(google, start="2027-06-01", end="2027-07-15")
    assert price(google, checkin="2027-06-01", nights=30)["total"] == "3000.00"
    answer = price(google, checkin="2027-06-01", nights=31)
    assert (answer["available"], answer["reasons"]) == (False, ["Max stay"])
    assert price(google, checkin="2028-01-26", nights=1)["reasons"] == ["Max advance booking"]
    assert price(google, checkin="2027-02-28", nights=1)["reasons"] == ["Min advance booking"]
    assert call(google, "/_emulator/price?property=P1&checkin=2027-06-01&nights=0")[0] == 400


def test_occupancy_the_smallest_fitting_rate_extra_guests_and_capacity(google):
    bookable(google)
    extras = ('<AdditionalGuestAmounts><AdditionalGuestAmount Amount="15.00" AgeQualifyingCode="8"/>'
              "</AdditionalGuestAmounts>")
    text = rate("2027-06-01", "2027-06-30", after="80.00", guests=4, extra_guests=extras)
    text = text.replace("</BaseByGuestAmts>", '<BaseByGuestAmt AmountAfterTax="60.00" CurrencyCode="EUR" '
                                              'NumberOfGuests="2"/></BaseByGuestAmts>')
    assert success(post_xml(google, RATES, text)[1])
    assert price(google, nights=1, adults=2)["total"] == "60.00"
    assert price(google, nights=1, adults=3)["total"] == "80.00"
    assert price(google, nights=1, adults=3, children=2)["total"] == "95.00"  # a child above the 4 guests
    assert price(google, nights=1, adults=5)["reasons"] == ["Invalid occupancy"]  # no adult extra was sent
    assert price(google, nights=1, adults=4, children=3)["reasons"] == ["Invalid occupancy"]  # capacity 6


def test_rate_overlay_and_remove(google):
    bookable(google)
    post_xml(google, RATES, rate("2027-06-10", "2027-06-11", after="90.00", notif="Overlay"))
    assert list(ari(google)["rates"]["P1"]["STD"]) == ["2027-06-10", "2027-06-11"]
    post_xml(google, RATES, rate("2027-06-11", "2027-06-11", notif="Remove"))
    assert list(ari(google)["rates"]["P1"]["STD"]) == ["2027-06-10"]
    assert price(google, checkin="2027-06-10", nights=2)["reasons"] == ["Missing nightly rate"]


def test_drift_injected_through_the_control_route_changes_the_price(google):
    bookable(google)
    stored = ari(google)["rates"]["P1"]["STD"]["2027-06-02"]
    stored["occupancies"]["6"]["after_tax"] = "150.00"
    code, answer = call(google, "/_emulator/ari", "POST", {"property": "P1", "date": "2027-06-02", "rate": stored})
    assert (code, answer["updated"], answer["room"], answer["package"]) == (200, ["2027-06-02"], "P1", "STD")
    assert price(google, nights=3)["total"] == "350.00"
    call(google, "/_emulator/ari", "POST", {"property": "P1", "date": "2027-06-03", "inventory": 0})
    assert price(google, nights=3)["reasons"] == ["No vacancy"]
    call(google, "/_emulator/ari", "POST", {"property": "P1", "date": "2027-06-03", "end": "2027-06-04",
                                           "inventory": 1, "restrictions": {"master": "Close"}})
    assert price(google, nights=3)["reasons"] == ["Stop sell"]


def test_tax_fee_info_fees_are_stored_per_property_and_added_to_the_price(google):
    bookable(google)
    code, root, _ = post_xml(google, TAXES, tax_fee_info(fee("42.80")))
    assert (code, root.tag, root.get("id"), root.findtext("Status")) == (200, "TaxFeeInfoResponse", "f-1", "Success")
    assert ari(google)["fees"] == [{"type": "amount", "basis": "room", "period": "stay", "currency": "EUR",
                                    "amount": "42.80"}]
    answer = price(google, nights=3)
    assert (answer["total"], answer["tax"]) == ("342.80", "0.00")  # 3 x 100.00 + the fee once per stay
    assert [f["charged"] for f in answer["fees"]] == ["42.80"]
    assert price(google, nights=1)["total"] == "142.80"

    # per night, per person, a percentage of the nights before tax; overlay replaces every fee of the property
    assert success(post_xml(google, RATES, rate("2027-06-01", "2027-06-30", after="110.00", before="100.00"))[1])
    assert post_xml(google, TAXES, tax_fee_info(fee("5.00", period="night"), fee("2.00", basis="person"),
                                                 fee("10", type_="percent", currency=None)))[1].findtext(
        "Status") == "Success"
    answer = price(google, nights=2, adults=3)
    assert [f["charged"] for f in answer["fees"]] == ["10.00", "6.00", "20.00"]
    assert (answer["total"], answer["tax"]) == ("256.00", "20.00")  # 2 x 110 + 10 + 6 + 20
    assert post_xml(google, TAXES, tax_fee_info())[1].findtext("Status") == "Success"  # no Fee: clears them
    assert ari(google)["fees"] == [] and price(google, nights=2)["total"] == "220.00"


def test_tax_fee_info_is_refused_whole_when_anything_is_wrong(google):
    bookable(google)
    post_xml(google, TAXES, tax_fee_info(fee("30.00")))
    cases = [
        (tax_fee_info(fee("10.00"), partner="somebody_else"), 403, "Unknown partner"),
        (tax_fee_info(fee("10.00"), prop="P9"), 200, "P9 is not managed by partner"),
        (tax_fee_info(fee("10.00"), action="delta"), 200, "action must be overlay"),
        (tax_fee_info(fee("10.00"), fee("-1")), 200, "non-negative amount"),
        (tax_fee_info(fee("10.00", basis="guest")), 200, "Basis must be room or person"),
        (tax_fee_info(fee("10.00", currency=None)), 200, "Currency is required"),
        (tax_fee_info(fee("10.00", extra="<StayDates/>")), 200, "StayDates not modelled"),
        (tax_fee_info(taxes="<Taxes><Tax><Type>percent</Type><Amount>7</Amount></Tax></Taxes>"), 200,
         "Taxes are not modelled"),
    ]
    for text, status_code, message in cases:
        code, root, _ = post_xml(google, TAXES, text)
        assert (code, root.tag, root.findtext("Status")) == (status_code, "TaxFeeInfoResponse", "Failure"), text
        assert message in root.findtext("Issues/Issue"), root.findtext("Issues/Issue")
    assert [f["amount"] for f in ari(google)["fees"]] == ["30.00"]  # nothing of the refused messages was stored
    assert post_xml(google, TAXES, "<Transaction/>")[0] == 400
    assert post_xml(google, TAXES, tax_fee_info(fee("10.00", currency="USD")))[1].findtext("Status") == "Success"
    assert price(google, nights=2)["reasons"] == ["Incompatible nightly rates"]


def test_promotions_are_stored_per_property_and_the_greatest_eligible_discount_comes_off_the_nightly_rates(google):
    bookable(google)  # 100.00 a night from 2027-06-01; today is 2027-03-01 (92 days before)
    assert success(post_xml(google, RATES, rate("2027-03-01", "2027-06-30", after="107.00", before="100.00"))[1])
    post_xml(google, INVENTORY, inventory("2027-03-01", "2027-06-30"))
    post_xml(google, AVAIL, avail(status("2027-03-01", "2027-06-30")))
    post_xml(google, TAXES, tax_fee_info(fee("42.80")))
    code, root, _ = post_xml(google, PROMOTIONS, promotions(
        promotion("los3", "10", los={"min": 3}), promotion("early90", "15", window={"min": 90}),
        promotion("late7", "20", window={"max": "P7D"}), promotion("week", "5", los={"min": 7, "max": 14})))
    assert (code, root.tag, root.get("id"), root.findtext("Status")) == (200, "PromotionsResponse", "p-1", "Success")
    assert [p["id"] for p in ari(google)["promotions"]] == ["early90", "late7", "los3", "week"]

    answer = price(google, "2027-06-01", nights=2)  # 92 days ahead: the early bird only
    assert (answer["total"], answer["tax"], answer["promotion"]) == (
        "224.70", "11.90", {"id": "early90", "percentage": "15", "discount": "32.10"})  # 214 x 0.85 + 42.80
    assert [f["charged"] for f in answer["fees"]] == ["42.80"]  # the fee is not discounted
    # Three nights 92 days ahead: the early bird (15%) and the length of stay (10%) are both eligible; with the
    # default stacking (base) exactly one applies, the greatest.
    assert price(google, "2027-06-01", nights=3)["promotion"]["id"] == "early90"
    assert price(google, "2027-05-01", nights=3)["promotion"]["id"] == "los3"  # 61 days ahead
    answer = price(google, "2027-05-01", nights=2)  # no condition met
    assert (answer["total"], answer["promotion"]) == ("256.80", None)
    assert price(google, "2027-03-08", nights=1)["promotion"]["id"] == "late7"  # 7 days ahead: max is inclusive
    assert price(google, "2027-03-09", nights=1)["promotion"] is None
    assert price(google, "2027-05-01", nights=15)["promotion"]["id"] == "los3"  # "week": at most 14 nights

    # No action: add or replace the ones named; delete one; overlay replaces them all (none: clears them).
    assert success_status(post_xml(google, PROMOTIONS, promotions(promotion("los3", "12", los={"min": 3}),
                                                                  promotion("late7", action='action="delete"'),
                                                                  action="")))
    assert {p["id"]: p["percentage"] for p in ari(google)["promotions"]} == {"early90": "15", "los3": "12",
                                                                             "week": "5"}
    assert success_status(post_xml(google, PROMOTIONS, promotions(promotion("los3", "10", los={"min": 3}),
                                                                  prop="P2")))
    assert len(ari(google)["promotions"]) == 3 and [p["id"] for p in ari(google, "P2")["promotions"]] == ["los3"]
    assert success_status(post_xml(google, PROMOTIONS, promotions()))
    assert ari(google)["promotions"] == [] and price(google, "2027-06-01", nights=2)["total"] == "256.80"


def success_status(answer):
    return answer[0] == 200 and answer[1].findtext("Status") == "Success"


def test_promotions_are_refused_whole_when_anything_is_wrong_or_not_modelled(google):
    bookable(google)
    post_xml(google, PROMOTIONS, promotions(promotion("kept", "10")))
    cases = [
        (promotions(promotion("a"), partner="somebody_else"), 403, "Unknown partner"),
        (promotions(promotion("a"), prop="P9"), 200, "P9 is not managed by partner"),
        (promotions(promotion("a"), action='action="delta"'), 200, "action must be overlay"),
        (promotions(promotion("a", "0")), 200, "percentage must be in (0, 100]"),
        (promotions(promotion("a", "150")), 200, "percentage must be in (0, 100]"),
        (promotions(promotion("a", None)), 200, "a Discount with only a percentage"),
        (promotions(promotion("a", los={"min": "three"})), 200, "LengthOfStay@min must be an integer"),
        (promotions(promotion("a", window={"min": "soon"})), 200, "BookingWindow@min must be days"),
        (promotions(promotion("a", extra="<CheckinDates/>")), 200, "CheckinDates not modelled"),
        (promotions(promotion("a", extra='<Stacking type="any"/>')), 200, "only the default stacking"),
        (promotions('<Promotion><Discount percentage="5"/></Promotion>'), 200, "Promotion@id is required"),
        (promotions(promotion("a", percentage=None, extra='<Discount fixed_amount="10"/>')), 200,
         "a Discount with only a percentage"),
    ]
    for text, status_code, message in cases:
        code, root, _ = post_xml(google, PROMOTIONS, text)
        assert (code, root.tag, root.findtext("Status")) == (status_code, "PromotionsResponse", "Failure"), text
        assert message in root.findtext("Issues/Issue"), root.findtext("Issues/Issue")
    assert [p["id"] for p in ari(google)["promotions"]] == ["kept"]  # nothing of the refused messages was stored
    assert post_xml(google, PROMOTIONS, "<TaxFeeInfo/>")[0] == 400


# --- the landing URL ---------------------------------------------------------------------------------------------


def test_the_landing_url_expands_a_template_with_the_price(google):
    bookable(google)
    template = ("https://book.example.com/p/(PARTNER-HOTEL-ID)?checkin=(CHECKINYEAR)-(CHECKINMONTH)-(CHECKINDAY)"
                "&out=(CHECKOUTYEAR)-(CHECKOUTMONTH)-(CHECKOUTDAY)&nights=(LENGTH)&adults=(NUM-ADULTS)"
                "&children=(NUM-CHILDREN)(FOR-EACH-CHILD-AGE)&age=(CHILD-INDEX)_(CHILD-AGE)(END-FOR-EACH)"
                "&pkg=(PACKAGE-ID)&cur=(USER-CURRENCY)&lang=(USER-LANGUAGE)&total=(PRICE-DISPLAYED-TOTAL)"
                "&dow=(CHECKINDAY-OF-WEEK)&src=(IF-AD-CLICK)ads(ELSE)fbl(ENDIF)&x=(MYSTERY)")
    query = urllib.parse.urlencode({"property": "P1", "checkin": "2027-06-01", "nights": 3, "adults": 2,
                                    "children": 2, "child_ages": "4,9", "template": template, "language": "fr"})
    code, answer = call(google, f"/_emulator/landing_url?{query}")
    assert code == 200 and answer["available"] is True
    assert answer["url"] == (
        "https://book.example.com/p/P1?checkin=2027-06-01&out=2027-06-04&nights=3&adults=2&children=2"
        "&age=0_4&age=1_9&pkg=STD&cur=EUR&lang=fr&total=300.00&dow=Tuesday&src=fbl&x=(MYSTERY)")
    assert answer["unknown_variables"] == ["MYSTERY"]
    assert answer["price"]["total"] == "300.00"

    post_xml(google, TAXES, tax_fee_info(fee("42.80")))  # a cleaning fee reaches the displayed total
    code, answer = call(google, f"/_emulator/landing_url?{query}")
    assert "&total=342.80&" in answer["url"]


def test_the_landing_url_from_a_points_of_sale_file(google):
    bookable(google)
    points = """<?xml version="1.0" encoding="UTF-8"?>
<PointsOfSale>
  <PointOfSale id="en_usd">
    <Match status="yes" language="en"/>
    <Match status="yes" currency="USD"/>
    <URL>https://book.example.com/en/(PARTNER-HOTEL-ID)?total=(PRICE-DISPLAYED-TOTAL)&amp;cur=(USER-CURRENCY)</URL>
  </PointOfSale>
  <PointOfSale id="default">
    <Match status="never" country="CN"/>
    <URL>https://book.example.com/(PARTNER-HOTEL-ID)?n=(LENGTH)&amp;total=(PRICE-DISPLAYED-TOTAL)</URL>
  </PointOfSale>
</PointsOfSale>"""
    request = urllib.request.Request(google.base_url + "/_emulator/points_of_sale", data=points.encode(),
                                     method="POST", headers={"Content-Type": "application/xml"})
    code, raw, _ = _open(google, request)
    assert code == 200 and [p["id"] for p in json.loads(raw)["points_of_sale"]] == ["en_usd", "default"]
    base = "/_emulator/landing_url?property=P1&checkin=2027-06-01&nights=2"
    code, answer = call(google, base)  # EUR, en: the first needs USD
    assert (code, answer["point_of_sale"], answer["url"]) == (
        200, "default", "https://book.example.com/P1?n=2&total=200.00")
    code, answer = call(google, base + "&currency=USD&fx=1.1&language=en-GB")
    assert (answer["point_of_sale"], answer["url"]) == (
        "en_usd", "https://book.example.com/en/P1?total=220.00&cur=USD")
    assert call(google, base + "&currency=USD")[0] == 400  # a converted price needs the rate
    assert call(google, base + "&country=CN")[0] == 422  # no point of sale for China


# --- test aids -----------------------------------------------------------------------------------------------


def test_the_requests_per_minute_limit_answers_429_with_retry_after(google):
    post_xml(google, PROPERTY_DATA, transaction())
    call(google, "/_emulator/limits", "POST", {"requests_per_minute": 2})
    assert post_xml(google, INVENTORY, inventory("2027-06-01", "2027-06-01"))[0] == 200
    call(google, "/_emulator/clock", "POST", {"advance": 20})
    assert post_xml(google, INVENTORY, inventory("2027-06-02", "2027-06-02"))[0] == 200
    code, _, headers = post_xml(google, INVENTORY, inventory("2027-06-03", "2027-06-03"))
    assert (code, headers["Retry-After"]) == (429, "40")
    assert list(ari(google)["inventory"]["P1"]) == ["2027-06-01", "2027-06-02"]
    call(google, "/_emulator/clock", "POST", {"advance": 40})
    assert post_xml(google, INVENTORY, inventory("2027-06-03", "2027-06-03"))[0] == 200


def test_injected_faults_from_the_base_reach_the_client_and_store_nothing(google):
    post_xml(google, PROPERTY_DATA, transaction())
    call(google, "/_emulator/faults", "POST", {"path": RATES, "status": 503, "retry_after": 5})
    code, _, headers = post_xml(google, RATES, rate("2027-06-01", "2027-06-02"))
    assert (code, headers["Retry-After"]) == (503, "5") and ari(google)["rates"] == {}
    assert success(post_xml(google, RATES, rate("2027-06-01", "2027-06-02"))[1])  # the retry goes through
    call(google, "/_emulator/faults", "POST", {"path": AVAIL, "kind": "drop"})
    with pytest.raises((urllib.error.URLError, ConnectionError)):
        post_xml(google, AVAIL, avail(status("2027-06-01", "2027-06-02")))
    assert ari(google)["availability"] == {}
    _, log = call(google, "/_emulator/requests")
    assert [(r["path"], r["status"]) for r in log] == [(PROPERTY_DATA, 200), (RATES, 503), (RATES, 200)]


def test_registered_and_reset(google):
    assert emulator_class("google_vr") is GoogleVrEmulator
    bookable(google)
    call(google, "/_emulator/reset", "POST")
    assert call(google, "/_emulator/partners")[1] == {}
    assert call(google, "/_emulator/ari?property=P1")[0] == 404
