"""Owner–guest messaging in a real browser: the guest writes from the portal, the owner sees it in the inbox
(unread on the dashboard), answers with a template and an attachment, and the guest reads the answer on their
booking page, reached through the link in the email.

Screenshots of every step: ``test-artifacts/messaging/`` and ``test-artifacts/messaging-admin/`` (the ones in
docs/screenshots/messaging-*.png come from here).
"""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from django.core import mail
from playwright.sync_api import expect

from bookings import services as booking_services
from bookings.links import status_url
from core.actor import Actor
from messaging.models import Message, MessageSettings, MessageTemplate
from tests.browser.conftest import Steps
from tests.browser.test_staff_verifies_manual_payment import signed_in
from tests.factories import OwnerFactory, PropertyFactory
from tests.messaging.conftest import png_bytes

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def _private_root(settings, tmp_path):
    settings.PRIVATE_MEDIA_ROOT = tmp_path / "private"



def test_guest_writes_owner_replies_in_the_admin_guest_sees_the_reply(live_server, new_page, book, tmp_path,
                                                                     settings):
    settings.SITE_URL = live_server.url
    owner = OwnerFactory(email="owner-a@example.com", full_name="Marta Sousa")
    prop = PropertyFactory(owner=owner, name="Alfama Loft", base_price=Decimal("120.00"), timezone="Europe/Lisbon")
    MessageSettings.objects.create(property=prop, door_code="4711", wifi_name="AlfamaNet", wifi_password="fado-2026",
                                   check_in_enabled=True, review_request_enabled=True)
    MessageTemplate.objects.create(owner=owner, name="Arrival details",
                                   body="Hello {{guest_name}}! Check-in is from {{check_in_time}} on {{check_in}}. "
                                        "The door code is {{door_code}}; Wi-Fi {{wifi_name}}, password "
                                        "{{wifi_password}}.")
    booking = book(prop, start=20, nights=4)
    booking_services.confirm(booking_id=booking.pk, actor=Actor.system("test"))

    guest = new_page()
    steps = Steps(guest, "messaging")
    guest.goto(f"{live_server.url}{status_url(booking)}")
    guest.get_by_label("Your message").fill("Hello! We land at 21:00. Can we still check in, and is there parking?")
    guest.get_by_role("button", name="Send message").click()
    expect(guest.get_by_role("status")).to_contain_text("Your message was sent to the owner")
    steps.shot("portal-guest-wrote")

    admin = new_page()
    admin_steps = Steps(admin, "messaging-admin")
    signed_in(admin, live_server, owner)
    admin.goto(f"{live_server.url}/admin/")
    expect(admin.locator("#dash-unread-messages")).to_contain_text("1")
    admin_steps.shot("dashboard")
    admin.locator("#dash-unread-messages a").click()
    expect(admin.locator(".unread-badge")).to_have_text("1")
    admin_steps.shot("inbox")
    admin.get_by_role("link", name=booking.reference).click()
    expect(admin.locator("#timeline")).to_contain_text("We land at 21:00")
    admin.get_by_label("Template").select_option(label="Arrival details")
    admin.get_by_role("button", name="Use template").click()
    body = admin.get_by_label("Message")
    expect(body).to_have_value(re.compile(r"The door code is 4711; Wi-Fi AlfamaNet, password fado-2026"))
    body.fill(body.input_value() + "\nLate arrival is fine; park in front of the house (map attached).")
    map_file = tmp_path / "map.png"
    map_file.write_bytes(png_bytes((40, 30)))
    admin.get_by_label("Attachment").set_input_files(str(map_file))
    admin_steps.shot("thread-reply")
    mail.outbox.clear()
    admin.get_by_role("button", name="Send reply").click()
    expect(admin.locator(".messagelist")).to_contain_text("emailed to the guest")
    expect(admin.locator("#timeline")).to_contain_text("Late arrival is fine")
    admin_steps.shot("thread")

    email = next(m for m in mail.outbox if m.to == ["ada@example.com"])
    link = re.search(rf"{re.escape(live_server.url)}/bookings/\S+#messages", email.body).group(0)
    guest.goto(link)
    messages = guest.locator(".message-list")
    expect(messages).to_contain_text("We land at 21:00")
    expect(messages).to_contain_text("The door code is 4711")
    expect(messages.locator(".message-owner")).to_contain_text("New")
    expect(guest.get_by_role("link", name="Attachment: map.png")).to_be_visible()
    steps.shot("portal-thread")
    reply = Message.objects.get(direction="owner")
    assert reply.guest_read_at is not None and reply.attachment_content_type == "image/png"

    admin.goto(f"{live_server.url}/admin/messaging/messagesettings/")
    admin.get_by_role("link", name="Alfama Loft", exact=True).click()
    admin_steps.shot("settings")
    admin.goto(f"{live_server.url}/admin/messaging/messagetemplate/add/")
    admin.get_by_label("Name").fill("Typo")
    admin.get_by_label("Body").fill("Your code: {{door_cod}}")
    admin.get_by_role("button", name="Save", exact=True).click()
    expect(admin.locator(".errorlist")).to_contain_text("Unknown placeholder(s): {{door_cod}}")
    admin_steps.shot("template-error")
