"""Booking.com end to end against its emulator over real HTTP (channels.emulators.booking_com): the token (one per
hour, shared, renewed before it expires or once on a 401, never more than Booking.com allows), ARI as OTA XML in
one-month requests, reservations pulled from the two queues, applied once and acknowledged where they came from."""

from __future__ import annotations

import logging
import re
from datetime import date, timedelta
from decimal import Decimal

import pytest
import time_machine
from django.core.cache import cache
from django.utils import timezone
from lxml import etree

from bookings.models import Booking, BookingStatus, Source
from channels import api_sync
from channels.adapters import ADAPTERS, AdapterError, adapter_for
from channels.adapters.booking_com import NS, BookingComAdapter, XmlError, parse_xml
from channels.models import AriChange, BreakerState, ChannelConnection, ConnectionStatus, InboundMessage
from properties.pricing import local_today
from tests.factories import PropertyFactory, future

pytestmark = pytest.mark.django_db

AUTH = "/token-based-authentication/exchange"
AVAIL = "/hotels/ota/OTA_HotelAvailNotif"
RATES = "/hotels/ota/OTA_HotelRateAmountNotif"
RES = "/hotels/ota/OTA_HotelResNotif"
MOD = "/hotels/ota/OTA_HotelResModifyNotif"


def q(tag):
    return f"{{{NS}}}{tag}"


def logged(booking_com, path):
    """The requests the emulator received on exactly this path, oldest first."""
    return [r for r in booking_com("requests") if r["path"] == path]


def stored(booking_com):
    return booking_com(f"ari?hotel_id={booking_com.hotel['hotel_id']}")["dates"]


def controls(body):
    """(Start, End) of every StatusApplicationControl of a logged request body."""
    root = etree.fromstring(body.encode())
    return [(date.fromisoformat(c.get("Start")), date.fromisoformat(c.get("End")))
            for c in root.iter(q("StatusApplicationControl"))]


def first_of_next_month():
    today = timezone.localdate()
    return (today.replace(day=1) + timedelta(days=32)).replace(day=1)


def offset(day):
    return (day - timezone.localdate()).days


def reservation(booking_com, start=10, nights=3, **fields):
    return booking_com("reservations", {
        "hotel_id": booking_com.hotel["hotel_id"], "arrival": future(start).isoformat(),
        "departure": future(start + nights).isoformat(), "adults": 2, "children": 1, "total": "450.00",
        "currency": "EUR", "guest": {"first_name": "Ada", "last_name": "Lovelace", "email": "ada@example.com",
                                     "phone": "+44 20 7946 0000"}, **fields})


def change(connection, start, nights=1, kinds=AriChange.AVAILABILITY):
    return AriChange.objects.create(connection=connection, start=future(start), end=future(start + nights),
                                    kinds=kinds)


# --- the adapter and its token ---------------------------------------------------------------------------------


def test_the_adapter_is_registered_and_polls_at_bookings_pace(booking_com, booking_com_connection, monkeypatch):
    connection = booking_com_connection()
    adapter = adapter_for(connection)
    assert isinstance(adapter, BookingComAdapter) and ADAPTERS["booking_com"] is adapter
    assert (adapter.horizon_days, adapter.pull_interval_seconds, adapter.pushes_reservations) == (365, 20, True)

    queued = []
    monkeypatch.setattr(api_sync, "queue_pull", queued.append)
    now = timezone.now()
    ChannelConnection.objects.filter(pk=connection.pk).update(last_pull_at=now)
    assert api_sync.pull_due(at=now + timedelta(seconds=10)) == 0
    assert api_sync.pull_due(at=now + timedelta(seconds=20)) == 1 and queued == [connection.pk]


def test_one_token_serves_every_push_and_pull_and_neither_it_nor_the_secret_is_logged_or_a_key(
        booking_com, booking_com_connection, caplog):
    caplog.set_level(logging.DEBUG)
    connection = booking_com_connection()
    for n in range(5):
        change(connection, 3 + 2 * n)
        assert api_sync.push_connection(connection.pk).status == "pushed"
    for _ in range(30):  # ten minutes of polling at Booking.com's pace: the 30-tokens-an-hour cap is far away
        assert api_sync.pull_connection(connection.pk).status == "pulled"

    exchanges = logged(booking_com, AUTH)
    assert len(exchanges) == 1 and exchanges[0]["status"] == 200
    ota = [r for r in booking_com("requests") if r["path"].startswith("/hotels/ota/")]
    assert len(ota) == 5 + 30 * 2 and {r["status"] for r in ota} == {200}
    jwt = cache.get(BookingComAdapter.token_key(booking_com.client_id))["jwt"]
    assert {r["headers"]["authorization"] for r in ota} == {f"Bearer {jwt}"}
    assert booking_com.client_id not in BookingComAdapter.token_key(booking_com.client_id)
    assert jwt not in caplog.text and booking_com.client_secret not in caplog.text
    assert "renewed" in caplog.text  # the exchange itself is logged, by the account's digest


def test_a_token_booking_com_no_longer_accepts_is_replaced_once(booking_com, booking_com_connection):
    connection = booking_com_connection()
    change(connection, 3)
    assert api_sync.push_connection(connection.pk).status == "pushed"
    booking_com("clock", {"advance": 3601})  # Booking.com's hour is over; ours (a few seconds) is not
    change(connection, 5)

    outcome = api_sync.push_connection(connection.pk)

    assert outcome.status == "pushed"
    assert [(r["path"], r["status"]) for r in booking_com("requests")] == [
        (AUTH, 200), (AVAIL, 200), (AVAIL, 401), (AUTH, 200), (AVAIL, 200)]
    assert stored(booking_com)[future(5).isoformat()]["booking_limit"] == 1


def test_the_token_is_renewed_five_minutes_before_its_hour_is_up(booking_com, booking_com_connection):
    connection = booking_com_connection()
    change(connection, 3)
    assert api_sync.push_connection(connection.pk).status == "pushed"

    with time_machine.travel(timezone.now() + timedelta(minutes=50), tick=True):  # 10 minutes left: reused
        change(connection, 40)
        assert api_sync.push_connection(connection.pk).status == "pushed"
        assert len(logged(booking_com, AUTH)) == 1
    with time_machine.travel(timezone.now() + timedelta(minutes=56), tick=True):  # 4 minutes left: renewed
        change(connection, 50)
        assert api_sync.push_connection(connection.pk).status == "pushed"

    assert [r["status"] for r in logged(booking_com, AUTH)] == [200, 200]
    assert [r["status"] for r in logged(booking_com, AVAIL)] == [200, 200, 200]  # never a 401


def test_token_exchanges_stay_under_bookings_cap_even_when_every_call_is_refused(booking_com, booking_com_connection):
    connection = booking_com_connection()
    booking_com("faults", {"path": "/hotels/ota/", "times": 500, "status": 401})

    outcomes = [api_sync.pull_connection(connection.pk) for _ in range(25)]

    assert {o.status for o in outcomes} == {"failed"}
    assert "bad_credentials" in outcomes[0].error and "token_limit" in outcomes[-1].error
    assert [r["status"] for r in logged(booking_com, AUTH)] == [200] * 20  # ours: 20 an hour; Booking.com's: 30


def test_refused_credentials_open_the_breaker_at_once_without_an_ota_call(booking_com, booking_com_connection):
    connection = booking_com_connection()
    connection.set_credentials({"client_id": booking_com.client_id, "client_secret": "wrong"})
    connection.save()
    change(connection, 3)

    assert api_sync.push_connection(connection.pk).status == "breaker_open"

    connection.refresh_from_db()
    assert connection.breaker_state == BreakerState.OPEN and connection.status == ConnectionStatus.FAILING
    assert "bad_credentials" in connection.last_error and "wrong" not in connection.last_error
    assert [(r["path"], r["status"]) for r in booking_com("requests")] == [(AUTH, 401)]
    assert AriChange.objects.filter(connection=connection).count() == 1


# --- outbound --------------------------------------------------------------------------------------------------


def test_a_booking_made_here_closes_its_nights_on_booking_com_in_one_exact_message(
        booking_com, booking_com_connection, book, django_capture_on_commit_callbacks):
    connection = booking_com_connection(PropertyFactory(buffer_days=1))
    first = first_of_next_month()  # the stay and its buffer days inside one month: one request
    with django_capture_on_commit_callbacks(execute=True):
        book(connection.property, start=offset(first) + 10, nights=3)

    days = stored(booking_com)
    closed = [(first + timedelta(days=n)).isoformat() for n in range(9, 14)]
    assert sorted(days) == closed
    assert {(days[d]["booking_limit"], days[d]["room_closed"]) for d in closed} == {(0, True)}
    [sent] = logged(booking_com, AVAIL)
    body = re.sub(r'TimeStamp="[^"]+"', 'TimeStamp="T"', sent["body"])
    assert body == (
        "<?xml version='1.0' encoding='UTF-8'?>\n"
        '<OTA_HotelAvailNotifRQ xmlns="http://www.opentravel.org/OTA/2003/05" '
        'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
        'xsi:schemaLocation="http://www.opentravel.org/OTA/2003/05 OTA_HotelAvailNotifRQ.xsd" '
        'TimeStamp="T" Target="Production" Version="1.005">'
        '<AvailStatusMessages HotelCode="367456">'
        '<AvailStatusMessage BookingLimit="0" LocatorID="1">'
        f'<StatusApplicationControl Start="{closed[0]}" End="{closed[-1]}" InvTypeCode="36745601"/>'
        '<RestrictionStatus Status="Close"/>'
        "</AvailStatusMessage></AvailStatusMessages></OTA_HotelAvailNotifRQ>")
    assert re.search(r'TimeStamp="\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00"', sent["body"])
    headers = sent["headers"]
    assert (headers["content-type"], headers["accept-version"]) == ("application/xml", "1.1")
    assert headers["authorization"].startswith("Bearer ")
    assert not AriChange.objects.filter(connection=connection).exists()
    connection.refresh_from_db()
    assert connection.status == ConnectionStatus.OK and connection.last_push_at is not None


def test_a_full_sync_is_one_request_per_month_and_message_type_with_ranges_compressed(
        booking_com, booking_com_connection):
    connection = booking_com_connection()
    today = local_today(connection.property)
    horizon = [today + timedelta(days=n) for n in range(365)]
    month_count = len({(d.year, d.month) for d in horizon})  # 13, or 12 from a 1st of January
    api_sync.request_full_sync(connection)

    outcome = api_sync.push_connection(connection.pk)

    assert (outcome.status, outcome.requests, outcome.nights) == ("pushed", 3 * month_count, 2 * 365)
    avail, rates = logged(booking_com, AVAIL), logged(booking_com, RATES)
    assert (len(avail), len(rates)) == (2 * month_count, month_count)
    by_month: dict[tuple[int, int], list[date]] = {}
    for day in horizon:
        by_month.setdefault((day.year, day.month), []).append(day)
    expected_months = [(days[0], days[-1]) for days in by_month.values()]  # the horizon cut at month ends
    for request in avail + rates:  # one hotel, one calendar month, never more than 31 days
        spans = controls(request["body"])
        assert len({(s.year, s.month) for span in spans for s in span}) == 1
        assert all(0 <= (end - start).days <= 30 for start, end in spans)
        assert etree.fromstring(request["body"].encode())[0].get("HotelCode") == "367456"
    availability = [request for request in avail if "BookingLimit" in request["body"]]
    assert [controls(r["body"]) for r in availability] == [[span] for span in expected_months]  # one range a month
    assert [controls(r["body"]) for r in rates] == [[span] for span in expected_months]
    days = stored(booking_com)
    assert sorted(days) == [d.isoformat() for d in horizon]
    assert {(v["booking_limit"], v["price"], v["min_stay_through"], v["closed"]) for v in days.values()} == {
        (1, "100.00", 1, False)}

    change(connection, 40)  # the full sync used up this minute's window of the hotel: the next push waits
    waiting = api_sync.push_connection(connection.pk)
    assert waiting.status == "waiting" and 0 < waiting.retry_in <= 60


def test_a_price_change_pushes_rate_amounts_in_the_property_currency(booking_com, booking_com_connection,
                                                                      django_capture_on_commit_callbacks):
    from properties.services import announce_pricing

    connection = booking_com_connection()
    prop = connection.property
    prop.base_price = Decimal("180.00")
    prop.save()
    with django_capture_on_commit_callbacks(execute=True):
        announce_pricing(prop)

    amounts = [a for r in logged(booking_com, RATES)
               for a in etree.fromstring(r["body"].encode()).iter(q("BaseByGuestAmt"))]
    assert amounts and {tuple(sorted(a.attrib.items())) for a in amounts} == {
        (("AmountAfterTax", "180.00"), ("CurrencyCode", "EUR"), ("DecimalPlaces", "2"))}  # no NumberOfGuests
    rate_controls = [c for r in logged(booking_com, RATES)
                     for c in etree.fromstring(r["body"].encode()).iter(q("StatusApplicationControl"))]
    assert {(c.get("InvTypeCode"), c.get("RatePlanCode")) for c in rate_controls} == {("36745601", "1278606")}
    assert stored(booking_com)[future(30).isoformat()]["price"] == "180.00"
    assert stored(booking_com)[future(364).isoformat()]["price"] == "180.00"


def test_stay_rules_become_lengths_of_stay_and_arrival_and_departure_closes(booking_com, booking_com_connection):
    connection = booking_com_connection()
    prop = connection.property
    prop.min_stay, prop.max_stay = 3, 14
    prop.checkin_weekdays = 1 << 5  # arrivals on Saturdays only
    prop.save()
    first = first_of_next_month()
    AriChange.objects.create(connection=connection, start=first, end=first + timedelta(days=14),
                             kinds=AriChange.RESTRICTIONS)

    assert api_sync.push_connection(connection.pk).status == "pushed"

    days = stored(booking_com)
    for n in range(14):
        day = first + timedelta(days=n)
        value = days[day.isoformat()]
        assert (value["min_stay_through"], value["max_stay_through"], value["closed"]) == (3, 14, False)
        assert value["closed_to_arrival"] is (day.weekday() != 5) and value["closed_to_departure"] is False
    [sent] = logged(booking_com, AVAIL)
    root = etree.fromstring(sent["body"].encode())
    statuses = [s.get("Restriction") for s in root.iter(q("RestrictionStatus"))]
    assert statuses.count(None) == 1 and statuses.count("Departure") == 1  # one range each for the fortnight
    assert statuses.count("Arrival") >= 3  # closed, open on Saturdays, closed again


def test_an_injected_503_is_retried_with_backoff_and_nothing_is_lost(booking_com, booking_com_connection):
    connection = booking_com_connection()
    booking_com("faults", {"path": AVAIL, "status": 503, "times": 1})
    change(connection, 3, nights=2)
    now = timezone.now()

    failed = api_sync.push_connection(connection.pk, at=now)

    connection.refresh_from_db()
    assert failed.status == "failed" and failed.retry_in > 0
    assert (connection.push_failures, connection.breaker_state) == (1, BreakerState.CLOSED)
    assert "platform_error" in connection.last_error and AriChange.objects.filter(connection=connection).count() == 1
    assert api_sync.push_connection(connection.pk, at=now).status == "waiting"  # not before its time

    retried = api_sync.push_connection(connection.pk, at=connection.push_retry_at + timedelta(seconds=1))

    assert retried.status == "pushed"
    assert [r["status"] for r in logged(booking_com, AVAIL)] == [503, 200]
    assert [stored(booking_com)[future(n).isoformat()]["booking_limit"] for n in (3, 4)] == [1, 1]
    connection.refresh_from_db()
    assert (connection.push_failures, connection.status) == (0, ConnectionStatus.OK)
    assert not AriChange.objects.filter(connection=connection).exists()


def test_a_429_waits_as_long_as_retry_after_says(booking_com, booking_com_connection):
    connection = booking_com_connection()
    booking_com("limits", {"requests_per_minute": 2})  # the token exchange and one push
    change(connection, 3)
    assert api_sync.push_connection(connection.pk).status == "pushed"
    change(connection, 5)

    outcome = api_sync.push_connection(connection.pk)

    connection.refresh_from_db()
    assert outcome.status == "failed" and outcome.retry_in >= 55
    assert "rate_limited" in connection.last_error and connection.breaker_state == BreakerState.CLOSED
    assert [r["status"] for r in logged(booking_com, AVAIL)] == [200, 429]
    assert AriChange.objects.filter(connection=connection).count() == 1


def test_a_partial_success_is_reported_on_the_connection_and_not_retried(booking_com, booking_com_connection, book):
    connection = booking_com_connection()
    booking_com("settings", {"max_days_per_message": 5})  # a stricter Booking.com: messages over 5 days refused
    first = first_of_next_month()
    book(connection.property, start=offset(first) + 8, nights=3)  # not committed: nothing pushed by itself
    AriChange.objects.create(connection=connection, start=first, end=first + timedelta(days=20),
                             kinds=AriChange.AVAILABILITY)

    outcome = api_sync.push_connection(connection.pk)

    assert outcome.status == "pushed" and len(outcome.warnings) == 2
    assert outcome.warnings[0] == (f"OTA_HotelAvailNotif {first.isoformat()}–{(first + timedelta(days=7)).isoformat()}"
                                   " availability 1: 450 8 days in one message; at most 5 (one month per request)")
    connection.refresh_from_db()
    assert connection.status == ConnectionStatus.WARNING and connection.push_failures == 0
    assert "8 days in one message" in connection.last_error and "9 days in one message" in connection.last_error
    days = stored(booking_com)
    assert sorted(days) == [(first + timedelta(days=n)).isoformat() for n in (8, 9, 10)]  # the booked nights
    assert not AriChange.objects.filter(connection=connection).exists()
    assert api_sync.push_connection(connection.pk).status == "nothing"  # not retried forever
    assert len(logged(booking_com, AVAIL)) == 1


def test_a_mapping_booking_com_refuses_opens_the_breaker_with_its_reason(booking_com, booking_com_connection):
    connection = booking_com_connection(remote_room_type_id="99999999")
    change(connection, 3)

    assert api_sync.push_connection(connection.pk).status == "breaker_open"

    connection.refresh_from_db()
    assert "ROOM_ID_INVALID" in connection.last_error and connection.breaker_state == BreakerState.OPEN
    assert [r["status"] for r in logged(booking_com, AVAIL)] == [400]


# --- inbound ---------------------------------------------------------------------------------------------------


def test_a_reservation_made_on_booking_com_becomes_a_confirmed_booking_and_is_acknowledged(
        booking_com, booking_com_connection):
    connection = booking_com_connection()
    made = reservation(booking_com)
    [message] = adapter_for(connection).pull_reservations(connection)
    assert (message.kind, message.remote_booking_id, message.total, message.currency, message.source) == (
        "new", made["reservation_id"], Decimal("450.00"), "EUR", Source.BOOKING_COM)

    outcome = api_sync.pull_connection(connection.pk)

    assert (outcome.status, outcome.received, outcome.applied) == ("pulled", 1, 1)
    booking = Booking.objects.get(property=connection.property, external_id=made["reservation_id"])
    # Booking.com gives one GuestCount (adults and children together): three guests, as adults
    assert (booking.source, booking.status, booking.check_in, booking.check_out, booking.adults, booking.children,
            booking.guest.name, booking.guest.email) == (
        Source.BOOKING_COM, BookingStatus.CONFIRMED, future(10), future(13), 3, 0, "Ada Lovelace", "ada@example.com")
    inbound = InboundMessage.objects.get(connection=connection)
    assert inbound.message_id == message.message_id and inbound.message_id.startswith(f"res:{made['reservation_id']}:")
    assert inbound.outcome == "created" and inbound.acknowledged_at is not None
    [ack] = [r for r in logged(booking_com, RES) if r["method"] == "POST"]
    root = etree.fromstring(ack["body"].encode())
    assert root.tag == q("OTA_HotelResNotifRS") and root.find(q("Success")) is not None
    assert [e.get("ResID_Value") for e in root.iter(q("HotelReservationID"))] == [made["reservation_id"]]
    assert {tuple(r["query"]["hotel_ids"]) for r in booking_com("requests") if r["method"] == "GET"} == {("367456",)}
    [emulated] = booking_com("reservations")
    assert emulated["messages"][0]["acked_at"] is not None

    again = api_sync.pull_connection(connection.pk)
    assert (again.received, Booking.objects.count()) == (0, 1)  # not pulled again


def test_a_modification_moves_the_booking_and_a_cancellation_cancels_it(booking_com, booking_com_connection):
    connection = booking_com_connection()
    made = reservation(booking_com)
    api_sync.pull_connection(connection.pk)

    booking_com(f"reservations/{made['reservation_id']}/modify", {"arrival": future(12).isoformat(),
                                                                  "departure": future(16).isoformat()})
    api_sync.pull_connection(connection.pk)
    booking = Booking.objects.get(external_id=made["reservation_id"])
    assert (booking.check_in, booking.check_out, booking.status) == (future(12), future(16), BookingStatus.CONFIRMED)

    booking_com(f"reservations/{made['reservation_id']}/cancel", {"fee": "50.00"})
    api_sync.pull_connection(connection.pk)
    booking.refresh_from_db()
    assert booking.status == BookingStatus.CANCELLED

    assert list(InboundMessage.objects.filter(connection=connection).order_by("pk").values_list("kind", "outcome")) \
        == [("new", "created"), ("modified", "changed"), ("cancelled", "cancelled")]
    assert [m.startswith(prefix) for m, prefix in zip(
        InboundMessage.objects.filter(connection=connection).order_by("pk").values_list("message_id", flat=True),
        ("res:", "mod:", "mod:"), strict=True)] == [True] * 3
    acks = [r["path"] for r in booking_com("requests") if r["method"] == "POST" and r["path"] != AUTH]
    assert acks == [RES, MOD, MOD]  # each acknowledged on the endpoint it came from
    assert all(m["acked_at"] for m in booking_com("reservations")[0]["messages"])


def test_a_change_before_the_acknowledgement_arrives_as_the_new_reservation(booking_com, booking_com_connection):
    connection = booking_com_connection()
    made = reservation(booking_com)
    booking_com(f"reservations/{made['reservation_id']}/modify", {"departure": future(15).isoformat()})

    outcome = api_sync.pull_connection(connection.pk)

    assert (outcome.received, outcome.applied) == (1, 1)
    booking = Booking.objects.get(external_id=made["reservation_id"])
    assert (booking.check_in, booking.check_out) == (future(10), future(15))
    assert InboundMessage.objects.get(connection=connection).kind == "new"


def test_a_cancellation_of_a_reservation_never_acknowledged_creates_nothing_and_is_acknowledged(
        booking_com, booking_com_connection):
    connection = booking_com_connection()
    made = reservation(booking_com)
    booking_com(f"reservations/{made['reservation_id']}/cancel", {})

    outcome = api_sync.pull_connection(connection.pk)

    assert outcome.received == 1 and not Booking.objects.exists()
    assert InboundMessage.objects.get(connection=connection).outcome == "not_found"
    assert api_sync.pull_connection(connection.pk).received == 0


def test_a_message_delivered_twice_is_applied_once(booking_com, booking_com_connection, monkeypatch):
    connection = booking_com_connection()
    made = reservation(booking_com)
    adapter = adapter_for(connection)

    def lost(self, connection, message_id):
        raise AdapterError("unreachable", "The platform could not be reached (ConnectionError).", retryable=True)

    monkeypatch.setattr(BookingComAdapter, "acknowledge", lost)  # applied and committed, the acknowledgement lost
    first = api_sync.pull_connection(connection.pk)
    monkeypatch.undo()
    assert (first.received, first.applied) == (1, 1)
    assert InboundMessage.objects.get(connection=connection).acknowledged_at is None

    second = api_sync.pull_connection(connection.pk)  # Booking.com delivers it again: recognised, only acknowledged

    assert (second.received, second.applied) == (1, 0)
    inbound = InboundMessage.objects.get(connection=connection)
    assert inbound.outcome == "created" and inbound.acknowledged_at is not None
    assert Booking.objects.filter(external_id=made["reservation_id"]).count() == 1
    assert api_sync.pull_connection(connection.pk).received == 0
    assert adapter.pull_reservations(connection) == []


def test_another_hotels_reservation_is_left_for_its_own_connection(booking_com, booking_com_connection):
    other = {"hotel_id": "367457", "room_id": "36745701", "rate_plan_id": "1278607", "currency": "EUR"}
    booking_com("accounts", {"client_id": booking_com.client_id, "client_secret": booking_com.client_secret,
                             "hotels": [other]})
    ours, theirs = booking_com_connection(), booking_com_connection(
        remote_property_id="367457", remote_room_type_id="36745701", remote_rate_plan_id="1278607")
    made = booking_com("reservations", {"hotel_id": "367457", "arrival": future(10).isoformat(),
                                        "departure": future(12).isoformat(), "total": "200"})

    assert api_sync.pull_connection(ours.pk).received == 0
    assert api_sync.pull_connection(theirs.pk).applied == 1
    assert Booking.objects.get(external_id=made["reservation_id"]).property == theirs.property

    # Should Booking.com ignore the hotel filter, another hotel's message is neither applied nor acknowledged here.
    booking_com(f"reservations/{made['reservation_id']}/modify", {"total": "220"})
    adapter = adapter_for(theirs)
    unfiltered = adapter._call(theirs, "GET", adapter._url(True, "OTA_HotelResModifyNotif"),
                               params={"hotel_ids": "367457"})
    booking_com("faults", {"path": MOD, "status": 200, "body": etree.tostring(unfiltered).decode()})
    assert api_sync.pull_connection(ours.pk).received == 0
    assert booking_com("reservations")[0]["messages"][-1]["acked_at"] is None
    assert not InboundMessage.objects.filter(connection=ours).exists()


def test_an_answer_with_a_doctype_is_refused(booking_com, booking_com_connection):
    connection = booking_com_connection()
    evil = ('<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
            f'<OTA_HotelResNotifRQ xmlns="{NS}"><HotelReservations>&x;</HotelReservations></OTA_HotelResNotifRQ>')
    booking_com("faults", {"path": RES, "status": 200, "body": evil})

    outcome = api_sync.pull_connection(connection.pk)

    assert outcome.status == "failed" and "DOCTYPE" in outcome.error and "root:" not in outcome.error
    with pytest.raises(XmlError):
        parse_xml(b'<!DOCTYPE a [<!ENTITY b "c">]><a>&b;</a>')
    assert parse_xml(f'<a xmlns="{NS}"><b/></a>'.encode()).tag == q("a")
