"""The live quote preview on a property's admin page: the checkout's own quote, scoped to the owner."""

from decimal import Decimal

import pytest
from django.urls import reverse

from properties.models import PricingRule
from tests.factories import OwnerFactory, PropertyFactory, StaffFactory, future

pytestmark = pytest.mark.django_db


@pytest.fixture
def villa(owner_a):
    return PropertyFactory(owner=owner_a, base_price=Decimal("100.00"), cleaning_fee=Decimal("50.00"),
                           tax_rate=Decimal("10.00"), currency="EUR", min_stay=1)


def preview_url(prop, **params):
    from urllib.parse import urlencode

    return f"{reverse('admin:properties_property_quote_preview', args=[prop.pk])}?{urlencode(params)}"


def test_the_change_page_carries_the_picker_and_its_script(client, owner_a, villa):
    client.force_login(owner_a)
    page = client.get(reverse("admin:properties_property_change", args=[villa.pk]))
    assert page.status_code == 200
    html = page.content.decode()
    assert 'class="quote-preview"' in html
    assert reverse("admin:properties_property_quote_preview", args=[villa.pk]) in html
    assert "js/admin-quote-preview.js" in html


def test_the_preview_shows_the_checkout_quote(client, owner_a, villa):
    PricingRule.objects.create(property=villa, name="Summer", kind="seasonal", adjustment="percent",
                               value=Decimal("20"), start_date=future(10), end_date=future(11))
    client.force_login(owner_a)
    response = client.get(preview_url(villa, check_in=future(10), check_out=future(12), adults=2, children=0))
    assert response.status_code == 200
    html = response.content.decode()
    # 120 (summer night) + 100 = 220; + cleaning 50 = 270; tax 10 % = 27 → 297.
    assert "Bookable as entered." in html
    assert "Summer" in html
    assert "297.00" in html and "27.00" in html


def test_the_preview_says_why_a_guest_could_not_book(client, owner_a, villa):
    villa.min_stay = 3
    villa.save()
    client.force_login(owner_a)
    html = client.get(preview_url(villa, check_in=future(10), check_out=future(12), adults=2)).content.decode()
    assert "A guest could not book this stay" in html
    assert "min_stay" in html


def test_bad_input_is_a_message_not_an_error(client, owner_a, villa):
    client.force_login(owner_a)
    response = client.get(preview_url(villa, check_in=future(12), check_out=future(10), adults=0))
    assert response.status_code == 200
    html = response.content.decode()
    assert "Check-out must be after check-in." in html
    assert "Total" not in html


def test_another_owners_property_is_not_found(client, villa):
    owner_b = OwnerFactory(email="owner-b@example.com")
    client.force_login(owner_b)
    assert client.get(preview_url(villa, check_in=future(10), check_out=future(12), adults=2)).status_code == 404


def test_assigned_staff_may_preview(client, owner_a, villa):
    staffer = StaffFactory(email="staff@example.com", employer=owner_a)
    villa.staff.add(staffer)
    client.force_login(staffer)
    response = client.get(preview_url(villa, check_in=future(10), check_out=future(12), adults=2))
    assert response.status_code == 200
    assert "Total" in response.content.decode()


def test_anonymous_is_sent_to_log_in(client, villa):
    response = client.get(preview_url(villa, check_in=future(10), check_out=future(12), adults=2))
    assert response.status_code == 302


def test_the_picker_opens_on_the_next_bookable_stay_not_on_booked_dates(client, owner_a, villa, book):
    """Two weeks ahead is taken (and the night after it is blocked): the picker opens on the first stay a guest
    could book from there, so the preview's first answer is a price, not "already booked"."""
    import re
    from datetime import date, timedelta

    from bookings.availability import check_availability
    from properties.pricing import local_today
    from tests.factories import BlockFactory

    two_weeks = local_today(villa) + timedelta(days=14)
    book(villa, start=(two_weeks - future(0)).days - 1, nights=4)  # the nights two_weeks - 1 … two_weeks + 2
    BlockFactory(property=villa, start_date=two_weeks + timedelta(days=3), end_date=two_weeks + timedelta(days=4))
    assert not check_availability(villa, two_weeks, two_weeks + timedelta(days=2), 2).available  # the old default

    client.force_login(owner_a)
    html = client.get(reverse("admin:properties_property_change", args=[villa.pk])).content.decode()
    ci, co = (date.fromisoformat(re.search(rf'data-qp="{name}" value="([0-9-]+)"', html).group(1))
              for name in ("check_in", "check_out"))
    assert ci == two_weeks + timedelta(days=4) and co == ci + timedelta(days=2)
    assert check_availability(villa, ci, co, 2).available
    assert f"check_in={ci.isoformat()}&amp;check_out={co.isoformat()}" in html  # the no-JavaScript link too
    assert 'style="' not in html[html.index('class="quote-preview"'):html.index("qp-output")]


def test_the_picker_asks_for_no_more_guests_than_the_property_sleeps(client, owner_a):
    single = PropertyFactory(owner=owner_a, max_guests=1, min_stay=1)
    client.force_login(owner_a)
    html = client.get(reverse("admin:properties_property_change", args=[single.pk])).content.decode()
    assert 'data-qp="adults" value="1"' in html
