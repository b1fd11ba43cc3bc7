"""axe-core on every guest page (WCAG 2.1 A/AA, plus 2.2's 24×24 px targets): a serious or critical violation
fails the test. The pages (docs/accessibility.md lists them too): search (empty query and with results), the
property page (photos, calendar, quote widget), the booking details form (blank and after an invalid submit),
the booking status page with a live hold (countdown), the pay page, the manual payment page, the receipt, the
cancel page, sign-in, sign-up, "Your bookings" (signed in), the 403 page and the 503 page.

Screenshots: ``test-artifacts/accessibility/``.
"""

from __future__ import annotations

import io
import json
import re
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.template.loader import render_to_string
from playwright.sync_api import expect

from bookings.links import status_url
from core.actor import Actor
from payments import services as payment_services
from payments.models import HostPaymentMethod
from properties.models import PropertyPhoto
from tests.browser.axe import audit, serious
from tests.browser.conftest import ARTIFACTS, Steps
from tests.browser.test_staff_verifies_manual_payment import signed_in
from tests.factories import OwnerFactory, PropertyFactory, UserFactory, future
from tests.payments.conftest import VISA, card  # noqa: F401  (fixture)

ARTIFACTS_COUNTDOWN = ARTIFACTS / "accessibility" / "countdown.png"
REPORT: dict[str, list] = {}  # every violation seen (any impact), written to test-artifacts/accessibility/axe.json

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.PRIVATE_MEDIA_ROOT = tmp_path / "private"


def jpeg(color, size=(1600, 1067)) -> SimpleUploadedFile:
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", size, color).save(buffer, format="JPEG")
    return SimpleUploadedFile("photo.jpg", buffer.getvalue())


def serve(html: str, status: int):
    def handler(route, request):
        route.fulfill(status=status, body=html, content_type="text/html; charset=utf-8")

    return handler


def check(page, steps, name: str) -> None:
    """Run axe on the page as it is; fail on serious or critical violations."""
    expect(page.locator("main h1").first).to_be_visible()
    steps.shot(name)
    violations = audit(page)
    REPORT[name] = [(v["id"], v["impact"], len(v["nodes"])) for v in violations]
    problems = serious(violations)
    assert not problems, f"{name} ({page.url}): " + "\n".join(problems)


def test_every_guest_page_passes_axe(live_server, stripe_live, new_page, book, card):  # noqa: F811
    owner = OwnerFactory(email="owner@example.com")
    prop = PropertyFactory(owner=owner, name="Alfama Loft", city="Lisbon", country="PT", timezone="Europe/Lisbon",
                           base_price=Decimal("120.00"), description="A bright loft above the river.")
    for position, (color, alt) in enumerate([("teal", "Living room"), ("orange", "Terrace"), ("navy", "Bedroom")]):
        PropertyPhoto.objects.create(property=prop, image=jpeg(color), alt_text=alt, position=position)
    HostPaymentMethod.objects.create(owner=owner, kind="zelle", handle="pay@alfama.example",
                                     display_name="Alfama Loft LLC", instructions="Zelle from your bank app.")
    held = book(prop, start=20, nights=3)
    paid = book(prop, start=40, nights=3)
    result = payment_services.start_card_payment(booking_id=paid.pk, payment_method_id=card(paid, VISA),
                                                 actor=Actor.guest("ada@example.com"))
    assert result.status == "succeeded"
    page = new_page()
    steps = Steps(page, "accessibility")
    base = live_server.url

    page.goto(f"{base}/")
    check(page, steps, "search")
    page.goto(f"{base}/?q=Lisbon&check_in={future(60)}&check_out={future(63)}&guests=2")
    expect(page.locator(".card").first).to_be_visible()
    check(page, steps, "search-results")
    page.goto(f"{base}/?check_in=nonsense")
    check(page, steps, "search-errors")

    page.goto(f"{base}/properties/{prop.slug}/")
    check(page, steps, "property")

    page.goto(f"{base}/book/{prop.slug}/?check_in={future(60)}&check_out={future(63)}&adults=2")
    check(page, steps, "booking-details")
    page.get_by_role("button", name="Continue to payment").click()  # nothing filled in: the form's messages
    expect(page.locator(".field-error").first).to_be_visible()
    check(page, steps, "booking-details-errors")

    page.goto(f"{base}{status_url(held)}")
    check(page, steps, "booking-on-hold")
    page.goto(f"{base}{status_url(held, 'payments:pay')}")
    expect(page.locator("#payment-form, form").first).to_be_visible()
    check(page, steps, "pay")
    page.get_by_role("button", name="by manual payment").click()
    expect(page.get_by_role("heading", name="Pay by Zelle")).to_be_visible()
    check(page, steps, "manual-payment")

    page.goto(f"{base}{status_url(paid)}")
    check(page, steps, "booking-confirmed")
    page.goto(f"{base}{status_url(paid, 'bookings:receipt')}")
    check(page, steps, "receipt")
    page.goto(f"{base}{status_url(paid, 'bookings:cancel')}")
    check(page, steps, "cancel")

    page.goto(f"{base}/accounts/login/")
    check(page, steps, "sign-in")
    page.goto(f"{base}/accounts/signup/")
    check(page, steps, "sign-up")

    signed_in(page, live_server, UserFactory(email="ada@example.com"))
    page.goto(f"{base}/account/bookings/")
    check(page, steps, "my-bookings")

    # 403 and 503 have no guest URL that reliably produces them: serve their templates, as the site renders them,
    # at a URL of the live server (so the stylesheet loads as on any page).
    for status, template, context in [(403, "403.html", {"message": "You do not have permission to open this page."}),
                                      (503, "503.html", {})]:
        html = render_to_string(template, context)
        page.route(f"{base}/__{status}", serve(html, status))
        page.goto(f"{base}/__{status}")
        check(page, steps, f"error-{status}")

    (steps.folder / "axe.json").write_text(json.dumps(REPORT, indent=1))


COUNT_CHANGES = """() => {
  const el = document.querySelector('.countdown');
  window.countdownChanges = [];
  new MutationObserver(() => window.countdownChanges.push([Date.now(), el.textContent]))
    .observe(el, {childList: true, characterData: true, subtree: true});
}"""


def test_the_hold_countdown_updates_once_a_minute_politely(live_server, new_page, book):
    prop = PropertyFactory(name="Alfama Loft", city="Lisbon", timezone="Europe/Lisbon", base_price=Decimal("120.00"))
    booking = book(prop, start=20, nights=3)
    page = new_page()
    page.clock.install()  # the page's timers and Date.now() run on Playwright's clock, moved on by the test
    page.goto(f"{live_server.url}{status_url(booking)}")
    countdown = page.locator(".countdown")
    expect(countdown).to_have_text(re.compile(r"^(29|30) min left$"))  # as the server wrote it
    assert countdown.get_attribute("aria-live") == "polite" and countdown.get_attribute("aria-atomic") == "true"
    expect(page.locator(".hold-timer")).to_contain_text(re.compile(r"\(until \d\d:\d\d, Lisbon time, \d+ \w{3}\)"))
    start = int(countdown.text_content().split()[0])
    page.evaluate(COUNT_CHANGES)

    page.clock.run_for(5 * 60_000)  # five minutes: the text changes five times at most, never every second
    changes = page.evaluate("() => window.countdownChanges")
    texts = [text for _, text in changes]
    assert 4 <= len(changes) <= 5, changes
    assert texts == [f"{start - n} min left" for n in range(1, len(texts) + 1)]
    gaps = [b[0] - a[0] for a, b in zip(changes, changes[1:], strict=False)]
    assert all(gap >= 59_000 for gap in gaps), gaps  # at most once a minute
    page.screenshot(path=str(ARTIFACTS_COUNTDOWN), full_page=False)

    page.clock.run_for(30 * 60_000)  # past the deadline
    expect(countdown).to_have_text("Time is up")
    after_the_end = len(page.evaluate("() => window.countdownChanges"))
    page.clock.run_for(10 * 60_000)
    assert len(page.evaluate("() => window.countdownChanges")) == after_the_end  # then silent


def test_the_pages_issue_15_added_pass_axe(live_server, stripe_live, new_page, book, card):  # noqa: F811
    """The guest pages added after the first audit: change your stay (both steps), the group basket with a stay,
    the group's "add" page, the review form of a checked-out stay, the privacy page of a signed-in guest."""
    from datetime import datetime, time
    from zoneinfo import ZoneInfo

    from bookings import services as booking_services
    from reviews.links import review_url

    owner = OwnerFactory(email="owner@example.com")
    prop = PropertyFactory(owner=owner, name="Alfama Loft", city="Lisbon", country="PT", timezone="Europe/Lisbon",
                           base_price=Decimal("120.00"), description="A bright loft above the river.")
    paid = book(prop, start=40, nights=3)
    result = payment_services.start_card_payment(booking_id=paid.pk, payment_method_id=card(paid, VISA),
                                                 actor=Actor.guest("ada@example.com"))
    assert result.status == "succeeded"
    stayed = book(prop, start=5, nights=2)
    system = Actor.system("test")
    booking_services.confirm(booking_id=stayed.pk, actor=system)
    noon = datetime.combine(stayed.check_in, time(12), tzinfo=ZoneInfo(prop.timezone))
    booking_services.check_in(booking_id=stayed.pk, actor=system, at=noon)
    booking_services.check_out(booking_id=stayed.pk, actor=system)
    page = new_page()
    steps = Steps(page, "accessibility")
    base = live_server.url

    page.goto(f"{base}{status_url(paid, 'bookings:change')}")
    check(page, steps, "change-stay")
    page.locator("#id_check_out").fill(str(future(44)))
    page.get_by_role("button", name="Show the new price").click()
    expect(page.get_by_role("button", name=re.compile("Confirm the change"))).to_be_visible()
    check(page, steps, "change-stay-preview")

    stay = f"check_in={future(60)}&check_out={future(63)}&adults=2"
    page.goto(f"{base}/group/add/{prop.slug}/?{stay}")
    check(page, steps, "group-add")
    page.goto(f"{base}/group/")
    check(page, steps, "group-basket-empty")

    page.goto(f"{base}{review_url(stayed)}")
    expect(page.locator('input[name="overall"]').first).to_be_attached()
    check(page, steps, "review-form")

    signed_in(page, live_server, UserFactory(email="ada@example.com"))
    page.goto(f"{base}/privacy/account/erase/")
    check(page, steps, "privacy-erase")
