"""The booking status / confirmation page and the .ics file: token checks and content."""

from datetime import date, time, timedelta
from decimal import Decimal
from urllib.parse import urlencode

import pytest
from icalendar import Calendar

from bookings import services
from bookings.models import Booking
from bookings.tokens import booking_access_token, hold_release_token
from core.actor import Actor
from tests.factories import PropertyFactory
from tests.pages.conftest import text

pytestmark = pytest.mark.django_db


@pytest.fixture
def lisbon():
    return PropertyFactory(name="Alfama Loft", street="Rua da Regueira 12", city="Lisbon", country="PT",
                           timezone="Europe/Lisbon", check_in_time=time(16, 0), check_out_time=time(10, 0),
                           base_price=Decimal("100.00"), cancellation_policy="moderate")


def page(booking, suffix="", token=None):
    token = booking_access_token(booking) if token is None else token
    return f"/bookings/{booking.reference}/{suffix}?{urlencode({'token': token})}"


def confirm(booking, paid=True):
    services.confirm(booking_id=booking.pk, actor=Actor.system("test"))
    if paid:  # what payments will record; set directly here as test data
        Booking.objects.filter(pk=booking.pk).update(amount_paid=booking.total, payment_status="paid")
    booking.refresh_from_db()
    return booking


def test_reserved_booking_shows_the_time_left_a_countdown_and_the_pay_link(client, book, lisbon):
    booking = book(lisbon, start=10, nights=3)

    response = client.get(page(booking))

    assert response.status_code == 200
    visible, html = text(response), response.content.decode()
    assert "Your reservation is on hold" in visible
    assert "29 min left (until " in visible or "30 min left (until " in visible  # issue 15 §8: no "1439:46"
    assert 'class="countdown"' in html and 'data-seconds="' in html and "/static/js/booking.js" in html
    assert f'href="/payments/{booking.reference}/pay/?token=' in html
    assert response["Cache-Control"].startswith("max-age=0") or "no-cache" in response["Cache-Control"]


def test_confirmed_booking_shows_the_confirmation(client, book, lisbon):
    booking = confirm(book(lisbon, start=10, nights=3, adults=2, children=1))

    response = client.get(page(booking))

    visible, html = text(response), response.content.decode()
    assert "Your booking is confirmed" in visible
    assert booking.reference in visible and "Alfama Loft" in visible and "Rua da Regueira 12" in visible
    assert f"{booking.check_in:%A %-d %B %Y}" in visible and "from 16:00" in visible
    assert f"{booking.check_out:%A %-d %B %Y}" in visible and "by 10:00" in visible
    assert "Europe/Lisbon" in visible
    assert "2 adults, 1 child" in visible
    assert "Amount paid €300.00" in visible
    assert "Moderate — Full refund up to 5 days before check-in, 50% after that." in visible
    assert f'href="/bookings/{booking.reference}/calendar.ics?token=' in html
    assert "data-print" in html and "Print" in visible
    assert f"/bookings/{booking.reference}/?token=" in visible  # the guest portal link


def test_expired_and_cancelled_bookings(client, book, lisbon):
    reserved = book(lisbon, start=10, nights=3)
    Booking.objects.filter(pk=reserved.pk).update(expires_at=reserved.reserved_at - timedelta(minutes=1))
    response = client.get(page(reserved))
    assert "This reservation has expired" in text(response)
    assert "/pay/" not in response.content.decode()

    cancelled = book(lisbon, start=30, nights=2)
    services.cancel(booking_id=cancelled.pk, actor=Actor.guest("ada@example.com"), reason="Plans changed.")
    response = client.get(page(cancelled))
    assert "This booking was cancelled" in text(response) and "Plans changed." in text(response)


@pytest.mark.parametrize("suffix", ["", "calendar.ics"])
def test_wrong_or_missing_token_is_404(client, book, lisbon, suffix):
    booking = book(lisbon, start=10, nights=3)
    other = book(lisbon, start=20, nights=3)

    assert client.get(page(booking, suffix)).status_code == 200
    assert client.get(f"/bookings/{booking.reference}/{suffix}").status_code == 404
    assert client.get(page(booking, suffix, token="nonsense")).status_code == 404
    assert client.get(page(booking, suffix, token=booking_access_token(other))).status_code == 404
    assert client.get(page(booking, suffix, token=hold_release_token(booking))).status_code == 404  # other salt
    assert client.get(f"/bookings/PMS-2026-NOPE0/{suffix}?token=x").status_code == 404
    pay = f"/payments/{booking.reference}/pay/"
    assert client.get(pay).status_code == 404
    assert client.get(f"{pay}?token={booking_access_token(other)}").status_code == 404


def test_calendar_file_is_valid_ics_with_all_day_dates(client, book, lisbon):
    booking = confirm(book(lisbon, start=10, nights=3))

    response = client.get(page(booking, "calendar.ics"))

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/calendar")
    assert f'filename="{booking.reference}.ics"' in response["Content-Disposition"]
    raw = response.content.decode()
    assert f"DTSTART;VALUE=DATE:{booking.check_in:%Y%m%d}" in raw
    assert f"DTEND;VALUE=DATE:{booking.check_out:%Y%m%d}" in raw
    cal = Calendar.from_ical(response.content)
    events = list(cal.walk("VEVENT"))
    assert len(events) == 1
    event = events[0]
    start, end = event.decoded("DTSTART"), event.decoded("DTEND")
    assert type(start) is date and type(end) is date
    assert (start, end) == (booking.check_in, booking.check_out)
    assert str(event["UID"]) == f"{booking.reference}@stayhold"
    assert "Alfama Loft" in str(event["SUMMARY"])
    assert "Check-in from 16:00, check-out by 10:00 (Europe/Lisbon time)" in str(event["DESCRIPTION"])
    assert str(event["STATUS"]) == "CONFIRMED"
    assert "Lisbon" in str(event["LOCATION"])


def test_print_stylesheet_hides_navigation_and_buttons():
    from pathlib import Path

    css = (Path(__file__).resolve().parents[2] / "static" / "css" / "site.css").read_text()
    assert "@media print" in css
    print_rules = css.split("@media print", 1)[1]
    for selector in (".site-header nav", ".site-footer", ".actions", ".no-print"):
        assert selector in print_rules
