"""Privacy in a real browser: the guest downloads their data from the magic link and from their account, asks to be
erased and is; a superuser sees the guest's privacy buttons in the back office.

Screenshots: ``test-artifacts/privacy/`` and the documentation's ``docs/screenshots/privacy-*.png``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from allauth.account.models import EmailAddress
from playwright.sync_api import expect

from bookings.links import status_url
from core.actor import Actor
from guests.models import Guest
from privacy.models import PrivacyEvent
from tests.browser.conftest import Steps
from tests.browser.test_staff_verifies_manual_payment import signed_in
from tests.factories import PropertyFactory, SuperuserFactory, UserFactory
from tests.privacy.conftest import make_past

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
# The documentation's copies only when asked (STAYHOLD_DOC_SCREENSHOTS=1): a test run leaves the tree as it was.
ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "test-artifacts" / "privacy"
if os.environ.get("STAYHOLD_DOC_SCREENSHOTS") == "1":
    DOCS = ROOT / "docs" / "screenshots"



def test_a_guest_downloads_their_data_then_erases_their_account(live_server, new_page, book):
    from bookings import services

    prop = PropertyFactory(name="Alfama Loft", city="Lisbon", country="PT")
    booking = book(prop, start=30, nights=3)
    services.confirm(booking_id=booking.pk, actor=Actor.system("test"))
    booking.refresh_from_db()

    page = new_page(accept_downloads=True)
    steps = Steps(page, "privacy")
    page.goto(f"{live_server.url}{status_url(booking)}")
    with page.expect_download() as download_info:
        page.get_by_role("link", name="Download your data (JSON)").click()
    document = json.loads(Path(download_info.value.path()).read_text())
    assert document["bookings"][0]["reference"] == booking.reference

    user = UserFactory(email="ada@example.com")
    EmailAddress.objects.create(user=user, email="ada@example.com", verified=True, primary=True)
    signed_in(page, live_server, user)
    page.goto(f"{live_server.url}/account/bookings/")
    expect(page.get_by_role("heading", name="Your data")).to_be_visible()
    page.screenshot(path=str(DOCS / "privacy-account.png"), full_page=True)
    steps.shot("account")

    page.get_by_role("link", name="Erase your data").click()
    expect(page.get_by_role("heading", name="Not possible yet")).to_be_visible()  # the stay is ahead
    steps.shot("erase-refused")
    make_past(booking, 5)
    page.reload()
    expect(page.get_by_role("button", name="Erase my data now")).to_be_visible()
    page.screenshot(path=str(DOCS / "privacy-erase.png"), full_page=True)
    page.get_by_label("I understand that this cannot be undone.").check()
    page.get_by_role("button", name="Erase my data now").click()
    expect(page.get_by_role("heading", name="Your data was erased")).to_be_visible()
    steps.shot("erased")
    assert Guest.objects.get(pk=booking.guest_id).email == ""
    assert set(PrivacyEvent.objects.values_list("action", flat=True)) == {"export", "erasure"}


def test_a_superuser_sees_the_privacy_buttons_on_the_guests_page(live_server, new_page, book):
    prop = PropertyFactory(name="Harbour Cottage")
    booking = book(prop, start=20, nights=3)
    page = new_page()
    signed_in(page, live_server, SuperuserFactory())
    page.goto(f"{live_server.url}/admin/guests/guest/{booking.guest_id}/change/")
    expect(page.get_by_role("link", name="Export data (JSON)")).to_be_visible()
    page.screenshot(path=str(DOCS / "privacy-admin-guest.png"))
    page.get_by_role("link", name="Erase personal data").click()
    expect(page.get_by_text("Not possible yet")).to_be_visible()
    page.screenshot(path=str(DOCS / "privacy-admin-erase.png"))
