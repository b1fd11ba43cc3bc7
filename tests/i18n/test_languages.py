"""Choosing the language: the switch in the header (a cookie), Accept-Language, English by default; the back office
stays English; every guest page in German, French and Spanish."""

import pytest
from django.conf import settings
from django.utils import translation

from tests.factories import PropertyFactory, future
from tests.i18n.conftest import confirm, status_page, text

pytestmark = pytest.mark.django_db

# A few strings per page and language that only a complete translation shows.
SEARCH = {
    "en": ["Holiday homes, booked direct", "Find a stay", "Price per night", "1 place"],
    "de": ["Ferienhäuser, direkt gebucht", "Unterkunft finden", "Preis pro Nacht", "1 Unterkunft"],
    "fr": ["Locations de vacances, en réservation directe", "Trouver un séjour", "Prix par nuit", "1 logement"],
    "es": ["Casas vacacionales, reserva directa", "Buscar alojamiento", "Precio por noche", "1 alojamiento"],
}
PROPERTY = {
    "en": ["About this place", "House rules", "Cancellation policy", "Full refund up to 5 days before check-in"],
    "de": ["Über diese Unterkunft", "Hausordnung", "Stornierungsbedingungen", "Volle Erstattung bis 5 Tage"],
    "fr": ["À propos de ce logement", "Règlement intérieur", "Conditions d'annulation",
           "Remboursement intégral jusqu'à 5 jours"],
    "es": ["Sobre este alojamiento", "Normas de la casa", "Política de cancelación",
           "Reembolso íntegro hasta 5 días"],
}
BOOKING = {
    "en": ["Your booking is confirmed", "Booking details", "Messages with the owner", "2 adults"],
    "de": ["Ihre Buchung ist bestätigt", "Buchungsdetails", "Nachrichten mit dem Gastgeber", "2 Erwachsene"],
    "fr": ["Votre réservation est confirmée", "Détails de la réservation", "Messages avec l'hôte", "2 adultes"],
    "es": ["Tu reserva está confirmada", "Detalles de la reserva", "Mensajes con el anfitrión", "2 adultos"],
}


def test_four_languages_english_first_the_middleware_between_sessions_and_common():
    assert [code for code, _name in settings.LANGUAGES] == ["en", "de", "fr", "es"]
    assert settings.LANGUAGE_CODE == "en"
    middleware = settings.MIDDLEWARE
    locale = middleware.index("django.middleware.locale.LocaleMiddleware")
    assert middleware.index("django.contrib.sessions.middleware.SessionMiddleware") < locale
    assert locale < middleware.index("django.middleware.common.CommonMiddleware")


def test_english_when_the_browser_asks_for_nothing(client):
    PropertyFactory(name="Alfama Loft", city="Lisbon")
    html = client.get("/").content.decode()
    assert '<html lang="en">' in html and "Holiday homes, booked direct" in html


def test_accept_language_is_honoured_and_an_unknown_language_falls_back_to_english(client):
    PropertyFactory(name="Alfama Loft", city="Lisbon")
    french = client.get("/", HTTP_ACCEPT_LANGUAGE="fr-FR,fr;q=0.9,en;q=0.5")
    assert french["Content-Language"] == "fr" and "Locations de vacances" in french.content.decode()
    german_first = client.get("/", HTTP_ACCEPT_LANGUAGE="ja,de-AT;q=0.8")
    assert '<html lang="de">' in german_first.content.decode()
    japanese = client.get("/", HTTP_ACCEPT_LANGUAGE="ja")
    assert '<html lang="en">' in japanese.content.decode()


def test_the_switch_in_the_header_is_a_form_to_set_language_with_every_language_named_in_itself(client):
    html = client.get("/").content.decode()
    assert '<form class="language-switch" action="/i18n/setlang/" method="post">' in html
    assert '<label for="language-select">Language</label>' in html
    for code, name in [("en", "English"), ("de", "Deutsch"), ("fr", "Français"), ("es", "Español")]:
        assert f'<option value="{code}" lang="{code}"' in html and f">{name}</option>" in html
    assert 'name="next" value="/"' in html


def test_choosing_a_language_sets_the_cookie_and_wins_over_accept_language(client):
    prop = PropertyFactory(name="Alfama Loft", city="Lisbon")
    back_to = f"/properties/{prop.slug}/"

    response = client.post("/i18n/setlang/", {"language": "de", "next": back_to}, HTTP_ACCEPT_LANGUAGE="fr")

    assert response.status_code == 302 and response["Location"] == back_to
    cookie = response.cookies[settings.LANGUAGE_COOKIE_NAME]
    assert cookie.value == "de" and int(cookie["max-age"]) == settings.LANGUAGE_COOKIE_AGE
    page = client.get(back_to, HTTP_ACCEPT_LANGUAGE="fr").content.decode()
    assert '<html lang="de">' in page and "Hausordnung" in page
    assert '<option value="de" lang="de" selected>' in page


def test_an_unknown_language_or_an_outside_next_changes_nothing_harmful(client):
    response = client.post("/i18n/setlang/", {"language": "xx", "next": "https://evil.example/"})
    assert response.status_code == 302 and response["Location"] == "/"  # never off-site
    assert settings.LANGUAGE_COOKIE_NAME not in response.cookies


def test_the_back_office_stays_english_whatever_the_guest_language(rf):
    from django.http import HttpResponse
    from django.middleware.locale import LocaleMiddleware

    from config.middleware import BackOfficeInEnglishMiddleware

    def language_of(path):
        request = rf.get(path, HTTP_ACCEPT_LANGUAGE="de")
        request.COOKIES[settings.LANGUAGE_COOKIE_NAME] = "fr"
        chain = LocaleMiddleware(BackOfficeInEnglishMiddleware(lambda r: HttpResponse(translation.get_language())))
        return chain(request).content.decode()

    try:
        assert language_of("/admin/bookings/booking/") == "en"
        assert language_of("/bookings/PMS-2026-ABCDE/") == "fr"  # the cookie wins over Accept-Language
    finally:
        translation.activate(settings.LANGUAGE_CODE)


@pytest.mark.parametrize("language", ["en", "de", "fr", "es"])
def test_the_search_page_in_each_language(client, language):
    PropertyFactory(name="Alfama Loft", city="Lisbon")
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = language
    visible = text(client.get("/?q=Lisbon"))
    for phrase in SEARCH[language]:
        assert phrase in visible, (language, phrase)


@pytest.mark.parametrize("language", ["en", "de", "fr", "es"])
def test_the_property_page_in_each_language(client, lisbon, language):
    lisbon.description = "Sunny."
    lisbon.house_rules = "No parties."
    lisbon.save()
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = language
    visible = text(client.get(f"/properties/{lisbon.slug}/"))
    for phrase in PROPERTY[language]:
        assert phrase in visible, (language, phrase)


@pytest.mark.parametrize("language", ["en", "de", "fr", "es"])
def test_the_booking_page_in_each_language(client, book, lisbon, language):
    booking = confirm(book(lisbon, start=10, nights=3, adults=2))
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = language
    visible = text(client.get(status_page(booking)))
    for phrase in BOOKING[language]:
        assert phrase in visible, (language, phrase)
    with translation.override(language):
        assert booking.get_status_display() in visible  # the status too


def test_form_errors_and_availability_reasons_speak_the_guest_language(client, lisbon, details_data):
    lisbon.min_stay = 4
    lisbon.save()
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "fr"
    response = client.post(f"/book/{lisbon.slug}/", details_data(nights=2, name="", phone=""))
    visible = text(response)
    assert "Saisissez votre nom complet." in visible
    assert "Saisissez un numéro de téléphone auquel l'hôte peut vous joindre." in visible
    quote = text(client.get(f"/properties/{lisbon.slug}/?check_in={future(10)}&check_out={future(12)}"))
    assert "Ces dates ne peuvent pas être réservées" in quote and "Le séjour minimum est de 4 nuits." in quote


def test_the_checkout_records_the_language_the_guest_booked_in(client, lisbon, details_data):
    from bookings.models import Booking

    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "es"
    response = client.post(f"/book/{lisbon.slug}/", details_data())

    assert response.status_code == 302
    assert Booking.objects.get().language == "es"
