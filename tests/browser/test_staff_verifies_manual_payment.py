"""Manual payment end to end in a real browser: the guest chooses Zelle and says the money was sent; a staff
member assigned to the property opens the verification queue in the admin, enters the amount received and
confirms; the guest's booking page then says the booking is confirmed.

Screenshots of every step: ``test-artifacts/staff-verifies-manual-payment/``.
"""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.conf import settings
from django.test import Client
from playwright.sync_api import expect

from bookings.links import status_url
from bookings.models import Booking, BookingStatus
from payments.models import HostPaymentMethod, ManualPayment
from tests.browser.conftest import Steps
from tests.factories import OwnerFactory, PropertyFactory, StaffFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def _private_root(settings, tmp_path):
    settings.PRIVATE_MEDIA_ROOT = tmp_path / "private"
    settings.MANUAL_PAYMENT_THROTTLE = "1000/h"


def signed_in(page, live_server, user) -> None:
    """Give the browser ``user``'s session cookie (the login form itself is tested in tests/accounts)."""
    client = Client()
    client.force_login(user)
    page.context.add_cookies([{"name": settings.SESSION_COOKIE_NAME,
                               "value": client.cookies[settings.SESSION_COOKIE_NAME].value,
                               "url": live_server.url}])


def test_staff_confirms_a_claimed_zelle_payment_and_the_booking_is_confirmed(live_server, stripe_live, new_page,
                                                                             book):
    owner = OwnerFactory(email="owner-a@example.com")
    prop = PropertyFactory(owner=owner, name="Harbour Cottage", base_price=Decimal("140.00"))
    staffer = StaffFactory(email="cleaner@example.com", employer=owner)
    prop.staff.add(staffer)
    HostPaymentMethod.objects.create(owner=owner, kind="zelle", handle="pay@harbour.example",
                                     display_name="Harbour Cottage LLC", instructions="Zelle from your bank app.")
    booking = book(prop, start=20, nights=3)

    # The guest: choose Zelle on the payment page, then say the money was sent.
    guest = new_page()
    steps = Steps(guest, "staff-verifies-manual-payment")
    guest.goto(f"{live_server.url}{status_url(booking, 'payments:pay')}")
    guest.get_by_role("button", name="by manual payment").click()
    expect(guest.get_by_role("heading", name="Pay by Zelle")).to_be_visible()
    code = guest.locator(".confirmation-code").inner_text()
    steps.shot("guest-instructions")
    guest.get_by_label("Your payment reference or note").fill(f"Zelle memo {code}")
    guest.get_by_role("button", name="I have sent the payment").click()
    expect(guest.get_by_text("The host is checking it")).to_be_visible()
    steps.shot("guest-claimed")
    mp = ManualPayment.objects.get(code=code)
    assert mp.status == "claimed"
    assert Booking.objects.get(pk=booking.pk).status == BookingStatus.RESERVED

    # The staff member: the queue lists the claim; confirm with the amount received.
    staff = new_page()
    signed_in(staff, live_server, staffer)
    staff.goto(f"{live_server.url}/admin/payments/manualpayment/queue/")
    row = staff.locator(f'tr[data-code="{code}"]')
    expect(row).to_contain_text(booking.reference)
    expect(row).to_contain_text(f"Zelle memo {code}")
    staff.screenshot(path=str(steps.folder / "03-staff-queue.png"), full_page=True)
    row.get_by_label("Amount received").fill(str(mp.amount))
    row.get_by_role("button", name="Confirm").click()
    expect(staff.locator(".messagelist")).to_contain_text(f"{code}: Confirmed")
    expect(staff.locator(f'tr[data-code="{code}"]')).to_have_count(0)
    staff.screenshot(path=str(steps.folder / "04-staff-confirmed.png"), full_page=True)

    booking.refresh_from_db()
    assert booking.status == BookingStatus.CONFIRMED
    assert booking.payment_status == "paid"
    mp.refresh_from_db()
    assert mp.verified_by == staffer

    # The guest's booking page now says it is confirmed.
    guest.goto(f"{live_server.url}{status_url(booking)}")
    expect(guest.get_by_role("heading", name="Your booking is confirmed")).to_be_visible()
    guest.screenshot(path=str(steps.folder / "05-guest-confirmed.png"), full_page=True)
