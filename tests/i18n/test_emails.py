"""A guest's emails are written in the language they booked in, whatever language sends them; owners read English."""

from datetime import time
from decimal import Decimal

import pytest
from django.core import mail
from django.utils import translation

from bookings import services
from bookings.models import Booking
from bookings.notifications import Kind
from core.actor import Actor
from guests.services import GuestInput
from tests.factories import PropertyFactory, future

pytestmark = pytest.mark.django_db

GUEST = GuestInput(name="Ada Lovelace", email="ada@example.com", phone="+44 20 7946 0000", country="GB")
CONFIRMATION = {
    "de": ("Buchung bestätigt: Alfama Loft", ["Hallo Ada Lovelace,", "Ihre Buchung in Alfama Loft ist bestätigt.",
                                              "Anreise: ", "ab 16:00 Uhr (Zeitzone Europe/Lisbon)",
                                              "Geben Sie diesen Link nicht weiter"]),
    "fr": ("Réservation confirmée : Alfama Loft", ["Bonjour Ada Lovelace,",
                                                  "Votre réservation à Alfama Loft est confirmée.",
                                                  "à partir de 16:00 (fuseau horaire Europe/Lisbon)"]),
    "es": ("Reserva confirmada: Alfama Loft", ["Hola, Ada Lovelace:", "Tu reserva en Alfama Loft está confirmada.",
                                              "a partir de las 16:00 (zona horaria Europe/Lisbon)"]),
    "en": ("Booking confirmed: Alfama Loft", ["Hello Ada Lovelace,", "Your booking at Alfama Loft is confirmed.",
                                             "from 16:00 (Europe/Lisbon time)"]),
}


@pytest.fixture
def lisbon():
    return PropertyFactory(name="Alfama Loft", city="Lisbon", timezone="Europe/Lisbon", check_in_time=time(16, 0),
                           base_price=Decimal("1234.50"), cleaning_fee=Decimal("0"), owner__email="owner@example.com")


def reserve(prop, language: str, start=20) -> Booking:
    return services.reserve(property_id=prop.pk, check_in=future(start), check_out=future(start + 2), adults=2,
                            guest=GUEST, actor=Actor.system("test"), language=language)


def sent(kind):
    found = [m for m in mail.outbox if m.extra_headers["X-Stayhold-Email"] == kind]
    assert len(found) == 1, [m.extra_headers["X-Stayhold-Email"] for m in mail.outbox]
    return found[0]


def html_of(message) -> str:
    return message.alternatives[0][0]


@pytest.mark.parametrize("language", ["de", "fr", "es", "en"])
def test_the_confirmation_is_in_the_booking_language_subject_and_body(lisbon, language, run_on_commit):
    with run_on_commit():
        booking = reserve(lisbon, language)
    mail.outbox.clear()
    with run_on_commit(), translation.override("fr" if language != "fr" else "de"):  # the sender's language is other
        services.confirm(booking_id=booking.pk, actor=Actor.system("test"))

    message = sent(Kind.CONFIRMATION)
    subject, phrases = CONFIRMATION[language]
    assert message.subject.startswith(subject) and booking.reference in message.subject
    for phrase in phrases:
        assert phrase in message.body, (language, phrase)
    assert f'<html lang="{language}">' in html_of(message)


def test_a_german_reservation_email_writes_money_dates_and_the_hold_deadline_the_german_way(lisbon, run_on_commit):
    with run_on_commit():
        booking = reserve(lisbon, "de")

    message = sent(Kind.RESERVATION_RECEIVED)
    assert message.subject == f"Ihre Reservierung {booking.reference} in Alfama Loft: Bitte schließen Sie die " \
                              "Zahlung ab"
    assert "Zahlung abschließen (2.469,00\u00a0€)" in message.body  # 2 × 1,234.50
    assert "Die Daten sind bis zum " in message.body and "Uhr (Zeitzone Europe/Lisbon)" in message.body
    with translation.override("de"):
        from django.utils.formats import date_format

        assert date_format(booking.check_in, "l, j. F Y") in message.body  # "Sonntag, 27. Dezember 2026"


def test_the_owner_reads_english_whatever_the_guest_language(lisbon, run_on_commit):
    with run_on_commit():
        booking = reserve(lisbon, "de")

    owner_mail = sent(Kind.OWNER_NEW_BOOKING)
    assert owner_mail.to == ["owner@example.com"]
    assert owner_mail.subject.startswith(f"New booking {booking.reference}")
    assert "Reference: " in owner_mail.body and "Hallo" not in owner_mail.body


def test_a_booking_without_a_language_uses_the_property_default(lisbon):
    lisbon.default_language = "fr"
    lisbon.save()
    assert reserve(lisbon, "").language == "fr"
    assert reserve(lisbon, "de-AT", start=40).language == "de"  # a regional variant: its base language
    assert reserve(lisbon, "ja", start=60).language == "fr"  # not offered: the property's default


def test_a_channel_import_takes_the_platform_language_else_the_property_default(lisbon):
    result = services.import_external(property_id=lisbon.pk, source="airbnb", external_id="HM1", check_in=future(20),
                                      check_out=future(22), guest=GUEST, language="es-MX")
    assert result.booking.language == "es"
    other = services.import_external(property_id=lisbon.pk, source="airbnb", external_id="HM2",
                                     check_in=future(30), check_out=future(32), guest=GUEST)
    assert other.booking.language == lisbon.default_language == "en"


def test_a_german_balance_request_writes_the_amount_the_german_way(lisbon, run_on_commit):
    """The balance emails (payments.balances) format money for the booking's language like every other one."""
    from bookings.notifications import Planned, queue

    with run_on_commit():
        booking = reserve(lisbon, "de")
        services.confirm(booking_id=booking.pk, actor=Actor.system("test"))
    mail.outbox.clear()
    with run_on_commit():
        queue(booking, Planned(Kind.BALANCE_REQUEST, "ada@example.com", f"balance_request:{booking.pk}:t"),
              data={"amount": "1234.50", "currency": "EUR", "pay_url": "https://example.test/pay", "deadline": "x"})
    message = sent(Kind.BALANCE_REQUEST)
    assert "Der Restbetrag von 1.234,50\u00a0€ für Ihre Buchung" in message.body
    assert "EUR" not in message.body
