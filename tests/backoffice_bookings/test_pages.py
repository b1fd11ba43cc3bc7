"""The booking list and detail pages: columns, filters, search, the detail sections, bounded queries."""

from datetime import date
from decimal import Decimal

import pytest

from bookings import services
from bookings.models import Booking
from core.actor import Actor
from guests.services import GuestInput
from properties.models import Property
from tests.factories import PropertyFactory, future

from .conftest import url

pytestmark = pytest.mark.django_db
SYSTEM = Actor.system("test")


def test_changelist_of_30_bookings_runs_a_bounded_number_of_queries(prop, book, owner, as_user,
                                                                      django_assert_max_num_queries):
    second = PropertyFactory(owner=owner)
    for i in range(15):
        book(prop, start=5 + 3 * i, nights=2)
        book(second, start=5 + 3 * i, nights=2, guest=GuestInput(f"Guest {i}", f"g{i}@example.com"))
    client = as_user(owner)
    client.get(url("changelist"))  # warm the session

    with django_assert_max_num_queries(12):
        response = client.get(url("changelist"))

    assert response.status_code == 200
    assert response.content.count(b'class="action-select"') == 30


def test_list_filters_offer_only_my_properties_and_months(prop, book, owner, owner_b, as_user):
    mine = book(prop, start=10)
    theirs_prop = Property.objects.get(owner=owner_b)
    book(theirs_prop, start=200, nights=2)
    html = as_user(owner).get(url("changelist")).content.decode()

    assert "arrival month" in html.lower()
    assert f"{mine.check_in:%B %Y}" in html
    far = future(200)
    if far.strftime("%Y-%m") != mine.check_in.strftime("%Y-%m"):
        assert f"{far:%B %Y}" not in html  # another owner's arrivals do not show as months
    assert "B&#x27;s Barn" not in html and "B's Barn" not in html


def test_arrival_month_filter_lists_months_newest_first_and_filters(prop, book, owner, as_user):
    from bookings.admin_filters import ArrivalMonthFilter

    early = book(prop, start=5, nights=2)
    late = book(prop, start=70, nights=2)
    client = as_user(owner)

    response = client.get(url("changelist"))
    spec = next(f for f in response.context["cl"].filter_specs if isinstance(f, ArrivalMonthFilter))
    months = [value for value, _label in spec.lookup_choices]
    assert months == sorted(months, reverse=True)
    assert f"{late.check_in:%Y-%m}" == months[0] and f"{early.check_in:%Y-%m}" == months[-1]

    filtered = client.get(url("changelist"), {"arrival": f"{late.check_in:%Y-%m}"}).content.decode()
    assert late.reference in filtered and early.reference not in filtered
    tampered = client.get(url("changelist"), {"arrival": "not-a-month"})
    assert tampered.status_code == 200


def test_arrival_month_filter_bounds(prop, owner):
    from bookings.admin_filters import _month_start, _next_month

    assert _month_start("2025-12") == date(2025, 12, 1) and _next_month(date(2025, 12, 1)) == date(2026, 1, 1)
    assert _month_start("2025-13") is None and _month_start("x") is None


@pytest.mark.parametrize("field", ["reference", "name", "email"])
def test_search_by_reference_guest_name_or_email(prop, book, owner, as_user, field):
    wanted = book(prop, start=10, guest=GuestInput("Katherine Johnson", "kj@nasa.example"))
    other = book(prop, start=20)
    term = {"reference": wanted.reference, "name": "Katherine", "email": "kj@nasa"}[field]

    html = as_user(owner).get(url("changelist"), {"q": term}).content.decode()

    assert wanted.reference in html and other.reference not in html


def test_filters_by_status_payment_status_and_source(prop, book, owner, as_user):
    confirmed = services.confirm(booking_id=book(prop, start=10).pk, actor=SYSTEM)
    reserved = book(prop, start=20)
    client = as_user(owner)

    html = client.get(url("changelist"), {"status__exact": "confirmed"}).content.decode()
    assert confirmed.reference in html and reserved.reference not in html
    html = client.get(url("changelist"), {"source__exact": "owner"}).content.decode()
    assert confirmed.reference not in html
    html = client.get(url("changelist"), {"payment_status__exact": "unpaid", "property__id__exact": prop.pk})
    assert reserved.reference in html.content.decode()


def test_detail_page_shows_the_quote_policy_payments_refunds_audit_and_emails(prop, paid, owner, as_user):
    from core.money import format_money
    from payments.models import ManualPayment, Payment
    from payments.services import refund_booking

    booking = paid(prop)
    refund_booking(booking_id=booking.pk, amount=Decimal("12.50"), actor=Actor.for_user(owner), reason="Broken tap")
    booking = Booking.objects.get(pk=booking.pk)
    payment, mp = Payment.objects.get(booking=booking), ManualPayment.objects.get(booking=booking)

    html = as_user(owner).get(url("change", booking.pk)).content.decode()

    assert 'id="booking-quote"' in html
    for night in booking.quote["nights"]:
        assert night["date"] in html
    assert format_money(booking.total, booking.currency) in html
    assert format_money(Decimal(booking.quote["taxes"]), booking.currency) in html
    for fee in booking.quote["fees"]:
        assert fee["label"] in html
    assert booking.cancellation_policy["name"] in html
    assert f'/admin/payments/payment/{payment.pk}/change/' in html
    assert f'/admin/payments/manualpayment/{mp.pk}/change/' in html and mp.code in html
    assert "Broken tap" in html and format_money(Decimal("12.50"), booking.currency) in html
    assert "audit trail" in html.lower() and "Manual payment" in html  # the events' reasons
    assert 'data-action="cancel"' in html and 'data-action="resend_confirmation"' in html
    assert 'data-action="confirm"' not in html  # confirmed already


def test_detail_page_runs_a_bounded_number_of_queries(prop, paid, owner, as_user, django_assert_max_num_queries):
    from payments.services import refund_booking

    small = paid(prop, start=40)
    big = paid(prop, start=60)
    actor = Actor.for_user(owner)
    for i in range(4):
        refund_booking(booking_id=big.pk, amount=Decimal("5"), actor=actor, reason=f"Goodwill {i}")
        services.revoke_guest_links(booking_id=big.pk, actor=actor)
    client = as_user(owner)
    client.get(url("change", small.pk))

    with django_assert_max_num_queries(20) as few:
        assert client.get(url("change", small.pk)).status_code == 200
    with django_assert_max_num_queries(len(few.captured_queries)):
        assert client.get(url("change", big.pk)).status_code == 200


def test_filter_counts_and_csv_export_are_scoped(prop, book, owner, owner_b, as_user):
    mine = book(prop, start=10)
    theirs = book(Property.objects.get(owner=owner_b), start=10)
    client = as_user(owner)

    facets = client.get(url("changelist"), {"_facets": "1"})
    assert facets.status_code == 200 and mine.reference in facets.content.decode()

    response = client.post(url("changelist"), {"action": "export_csv", "_selected_action": [mine.pk, theirs.pk]})

    body = response.content.decode()
    assert response["Content-Type"].startswith("text/csv")
    assert mine.reference in body and theirs.reference not in body


def test_detail_page_shows_what_brought_the_guest(prop, book, owner, as_user):
    referred = book(prop, start=10, referral="google_vr")
    plain = book(prop, start=20)
    client = as_user(owner)

    html = client.get(url("change", referred.pk)).content.decode()
    assert "Referral" in html and "Google Vacation Rentals (free booking link)" in html
    assert "Google Vacation Rentals (free booking link)" not in client.get(url("change", plain.pk)).content.decode()
