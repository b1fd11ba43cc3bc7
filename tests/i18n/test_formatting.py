"""Money, dates and times for the locale; every moment in the property's time zone, the zone named."""

from datetime import UTC, datetime, time, timedelta
from decimal import Decimal

import pytest
from django.conf import settings
from django.template import Context, Template
from django.utils import timezone, translation

from properties.display import local_datetime, local_time, money
from tests.factories import PropertyFactory
from tests.i18n.conftest import status_page, text

pytestmark = pytest.mark.django_db

NBSP, NNBSP = "\u00a0", "\u202f"


@pytest.mark.parametrize(("language", "eur", "jpy"), [
    ("en", "€1,234.50", "¥28,000"),
    ("de", f"1.234,50{NBSP}€", f"28.000{NBSP}¥"),
    ("fr", f"1{NNBSP}234,50{NBSP}€", f"28{NNBSP}000{NBSP}JPY"),
    ("es", f"1.234,50{NBSP}€", f"28.000{NBSP}JPY"),
])
def test_money_per_locale(language, eur, jpy):
    with translation.override(language):
        assert money(Decimal("1234.5"), "EUR") == eur
        assert money(Decimal("28000"), "JPY") == jpy  # zero-decimal currencies in whole units
        assert money(Decimal("0.005"), "EUR").replace(NBSP, " ") in ("€0.01", "0,01 €")  # rounded half-up first


def test_the_money_filter_is_the_one_place_and_follows_the_active_language():
    template = Template("{% load stayhold %}{{ amount|money:'EUR' }}")
    with translation.override("de"):
        assert template.render(Context({"amount": Decimal("1234.5")})) == f"1.234,50{NBSP}€"
    assert template.render(Context({"amount": Decimal("1234.5")})) == "€1,234.50"


@pytest.mark.parametrize(("language", "expected"), [
    ("en", "02:15 on 6 March 2020 (Asia/Tokyo time)"),
    ("de", "6. März 2020, 02:15 Uhr (Zeitzone Asia/Tokyo)"),
    ("fr", "6 mars 2020 à 02:15 (fuseau horaire Asia/Tokyo)"),
    ("es", "6 de marzo de 2020 a las 02:15 (zona horaria Asia/Tokyo)"),
])
def test_a_moment_is_written_in_the_property_zone_with_the_zone_named(language, expected):
    kyoto = PropertyFactory(timezone="Asia/Tokyo")
    with translation.override(language):
        assert local_datetime(datetime(2020, 3, 5, 17, 15, tzinfo=UTC), kyoto) == expected


def test_a_wall_clock_time_names_the_zone():
    lisbon = PropertyFactory(timezone="Europe/Lisbon")
    assert local_time(time(16, 0), lisbon) == "16:00 (Europe/Lisbon time)"
    with translation.override("de"):
        assert local_time(time(16, 0), lisbon) == "16:00 Uhr (Zeitzone Europe/Lisbon)"


def test_the_hold_expiry_on_the_booking_page_is_in_the_property_zone(client, book):
    kyoto = PropertyFactory(timezone="Asia/Tokyo")  # UTC+9: the local hour differs from the server's (UTC)
    booking = book(kyoto, start=20)
    local = timezone.localtime(booking.expires_at, kyoto.tz)

    english = text(client.get(status_page(booking)))
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "de"
    german = text(client.get(status_page(booking)))

    # The hold countdown (issue 15 §8's wording): the deadline in the property's zone, named by its place.
    assert f"until {local:%H:%M}, Tokyo time, {local.day} {local:%b}" in english
    assert f"bis {local:%H:%M} Uhr, Ortszeit Tokyo, {local.day}. " in german


def test_check_in_and_check_out_times_and_message_times_name_the_zone(client, book):
    from messaging.services import post_from_guest

    lisbon = PropertyFactory(timezone="Europe/Lisbon", check_in_time=time(16, 0), check_out_time=time(10, 0))
    booking = book(lisbon, start=10)
    message = post_from_guest(booking_id=booking.pk, body="Can we arrive late?")
    local = timezone.localtime(message.created_at, lisbon.tz)

    visible = text(client.get(status_page(booking)))

    assert "from 16:00 (Europe/Lisbon time)" in visible and "by 10:00 (Europe/Lisbon time)" in visible
    assert f"{local:%H:%M} on {local.day} {local:%B} (Europe/Lisbon time)" in visible
    assert " UTC" not in visible


def test_dates_and_month_names_follow_the_locale_on_the_property_page(client):
    prop = PropertyFactory(timezone="Europe/Lisbon")
    first = timezone.localdate().replace(day=1)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "fr"
    html = client.get(f"/properties/{prop.slug}/").content.decode()
    with translation.override("fr"):
        from django.utils.formats import date_format

        assert f"<caption>{date_format(first, 'F Y')}</caption>" in html
    assert "lundi" in html  # the calendar's weekday titles


def test_the_receipt_issue_time_is_in_the_property_zone(client, book):
    lisbon = PropertyFactory(timezone="America/New_York")
    booking = book(lisbon, start=10)
    response = client.get(status_page(booking).replace("/?", "/receipt/?"))
    assert "(America/New_York time)" in text(response)


def test_cancellation_deadline_on_the_cancel_page_names_the_zone(client, book):
    from bookings.models import Booking
    from bookings.tokens import booking_access_token

    lisbon = PropertyFactory(timezone="Europe/Lisbon", check_in_time=time(16, 0), cancellation_policy="moderate")
    booking = book(lisbon, start=10)
    Booking.objects.filter(pk=booking.pk).update(status="confirmed")
    response = client.get(f"/bookings/{booking.reference}/cancel/?token={booking_access_token(booking)}")
    check_in = booking.check_in
    assert f"Check-in is 16:00 on {check_in.day} {check_in:%B}" in text(response) or (
        f"Check-in is 16:00 on {check_in.day} {check_in:%B} {check_in.year}" in text(response))
    assert "(Europe/Lisbon time)" in text(response)


def test_a_year_other_than_this_one_is_written(client):
    lisbon = PropertyFactory(timezone="Europe/Lisbon")
    later = timezone.now() + timedelta(days=400)
    assert str(timezone.localtime(later, lisbon.tz).year) in local_datetime(later, lisbon)


def test_the_admin_booking_page_shows_the_hold_deadline_in_the_property_zone(client, book):
    from tests.factories import OwnerFactory

    owner = OwnerFactory(email="owner-kyoto@example.com")
    kyoto = PropertyFactory(timezone="Asia/Tokyo", owner=owner)  # UTC+9: not the server's zone
    booking = book(kyoto, start=20)
    client.force_login(owner)

    response = client.get(f"/admin/bookings/booking/{booking.pk}/change/", HTTP_ACCEPT_LANGUAGE="de")

    html = response.content.decode()
    local = timezone.localtime(booking.expires_at, kyoto.tz)
    assert response.status_code == 200
    assert "Times on this page are in the property's time zone, Asia/Tokyo." in html
    assert f"{local:%H:%M} on {local.day} {local:%B} (Asia/Tokyo time)" in html  # English: the back office
