"""The pages work with the Content-Security-Policy enforced, as in production: the guest pages with their photos,
the sign-in and two-factor pages, the API docs, the Django admin and the back office (dashboard, calendar, reports
and their charts, the property page with its live quote preview, the booking page, the add-booking form with the
admin's date widgets). Any blocked script, style, frame, image or request fails the test (the ``new_page``
fixture listens to the console); ``test_the_policy_is_enforced`` shows that such a block is really reported.

Screenshots: ``test-artifacts/pages-under-csp/``.
"""

from __future__ import annotations

import io
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from playwright.sync_api import expect

from bookings.links import status_url
from properties.models import PropertyPhoto
from tests.browser.conftest import CHROMIUM_ARGS, Steps, csp_violation
from tests.browser.test_staff_verifies_manual_payment import signed_in
from tests.factories import OwnerFactory, PropertyFactory, UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.PRIVATE_MEDIA_ROOT = tmp_path / "private"


def jpeg(color) -> SimpleUploadedFile:
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (320, 200), color).save(buffer, format="JPEG")
    return SimpleUploadedFile("photo.jpg", buffer.getvalue())


def loaded(image_locator) -> bool:
    return image_locator.evaluate("img => img.complete && img.naturalWidth > 0")


def test_guest_pages_show_their_photos_with_debug_off(live_server, stripe_live, new_page, book, settings):
    assert settings.DEBUG is False
    prop = PropertyFactory(name="Alfama Loft", city="Lisbon", base_price=Decimal("120.00"))
    PropertyPhoto.objects.create(property=prop, image=jpeg("teal"), alt_text="Living room", position=0)
    PropertyPhoto.objects.create(property=prop, image=jpeg("orange"), alt_text="Terrace", position=1)
    booking = book(prop, start=20, nights=3)
    page = new_page()
    steps = Steps(page, "pages-under-csp")

    page.goto(f"{live_server.url}/?q=Lisbon")
    expect(page.locator(".card img").first).to_be_visible()
    assert loaded(page.locator(".card img").first)
    page.goto(f"{live_server.url}/properties/{prop.slug}/")
    photo = page.get_by_alt_text("Living room").first
    expect(photo).to_be_visible()
    assert loaded(photo) and loaded(page.get_by_alt_text("Terrace").first)
    steps.shot("property-page")
    response = page.goto(photo.get_attribute("src") if photo.get_attribute("src").startswith("http")
                         else f"{live_server.url}{photo.get_attribute('src')}")  # the photo alone
    assert response.status == 200 and response.headers["content-type"] == "image/jpeg"

    for url in [status_url(booking), status_url(booking, "bookings:receipt"), status_url(booking, "payments:pay")]:
        page.goto(f"{live_server.url}{url}")
        expect(page.locator("main h1").first).to_be_visible()
    steps.shot("payment-page")


def test_sign_in_and_two_factor_pages(live_server, new_page):
    page = new_page()
    page.goto(f"{live_server.url}/accounts/login/")
    expect(page.locator("main form")).to_contain_text("Password")

    user = UserFactory(email="two-factor@example.com")
    signed_in(page, live_server, user)
    page.goto(f"{live_server.url}/accounts/2fa/totp/activate/")
    page.get_by_label("Password").fill("pw-for-tests-1")  # allauth asks to confirm the password first
    page.get_by_role("button", name="Confirm").click()
    qr = page.locator("img[src^='data:image/svg+xml']")
    expect(qr).to_be_visible()  # the QR code, a data: image
    assert loaded(qr)


def test_api_docs_render(live_server, new_page):
    page = new_page()
    page.goto(f"{live_server.url}/api/docs/")
    expect(page.locator(".swagger-ui .title").first).to_contain_text("Stayhold API")
    expect(page.locator(".opblock").first).to_be_visible()  # the operations, read from /api/schema/


def test_the_back_office_works(live_server, new_page, book):
    owner = OwnerFactory(email="owner@example.com")
    prop = PropertyFactory(owner=owner, name="Harbour Cottage", base_price=Decimal("140.00"))
    PropertyPhoto.objects.create(property=prop, image=jpeg("navy"), alt_text="Front")
    booking = book(prop, start=5, nights=3)
    page = new_page()
    signed_in(page, live_server, owner)
    steps = Steps(page, "pages-under-csp-admin")
    admin = f"{live_server.url}/admin"

    page.goto(f"{admin}/")
    expect(page.locator("#dashboard")).to_be_visible()
    steps.shot("dashboard")

    page.goto(f"{admin}/calendar/")
    expect(page.locator(".timeline")).to_contain_text("Harbour Cottage")
    steps.shot("calendar")

    page.goto(f"{admin}/reports/")
    expect(page.locator("svg.chart").first).to_be_visible()
    steps.shot("reports")

    page.goto(f"{admin}/properties/property/{prop.pk}/change/")
    preview = page.locator(".quote-preview .qp-output")
    expect(preview.locator(".qp-table")).to_contain_text("Total")  # fetched and swapped in by the script
    assert preview.locator(".qp-total").evaluate("row => getComputedStyle(row.querySelector('td')).fontWeight") \
        == "700"  # the fragment's stylesheet applies (a file, not an inline <style>)
    page.locator('.quote-preview input[data-qp="adults"]').fill("3")
    expect(preview.locator(".qp-table")).to_be_visible()
    assert loaded(page.locator("img[alt='Front']").first)  # the photo inline's preview
    steps.shot("property")

    page.goto(f"{admin}/bookings/booking/{booking.pk}/change/")
    actions = page.get_by_role("list", name="Booking actions")  # the money section has a list of its own (§2)
    expect(actions).to_be_visible()
    assert actions.evaluate("list => getComputedStyle(list).display") == "flex"
    steps.shot("booking")

    page.goto(f"{admin}/bookings/booking/new/")
    page.locator("a[id^='calendarlink']").first.click()  # the admin's calendar widget (admin JS + jsi18n)
    expect(page.locator(".calendarbox:visible")).to_have_count(1)
    steps.shot("add-booking")

    page.goto(f"{admin}/bookings/booking/")
    expect(page.locator("#result_list")).to_contain_text(booking.reference)
    page.goto(f"{admin}/channel_sync/channelconnection/add/")
    expect(page.locator("#channelconnection_form")).to_be_visible()


def test_the_policy_is_enforced(live_server, browser):
    """An injected inline script is blocked, and the block is reported on the console (what the fixture catches)."""
    context = browser.new_context()
    page = context.new_page()
    messages = []
    page.on("console", lambda message: messages.append(message) if csp_violation(message) else None)
    page.goto(f"{live_server.url}/")
    page.evaluate("""() => { const s = document.createElement('script'); s.textContent = 'window.injected = 1';
                             document.body.append(s); }""")
    page.wait_for_timeout(200)  # console events are delivered asynchronously

    assert page.evaluate("() => window.injected") is None
    assert messages and "script-src" in messages[0].text
    context.close()


assert CHROMIUM_ARGS  # the browser fixture's flags (shared with the other browser tests)
