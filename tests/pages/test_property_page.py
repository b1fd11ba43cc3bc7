"""The property page: content, the server-rendered calendar, month navigation, the booking widget, query counts."""

import re
from datetime import date, time, timedelta
from decimal import Decimal

import pytest

from properties.models import Property, weekday_mask
from storefront.selectors import add_months
from tests.factories import (
    AmenityFactory,
    BlockFactory,
    DateOverrideFactory,
    PricingRuleFactory,
    PropertyFactory,
    future,
    next_weekday,
)
from tests.pages.conftest import text

pytestmark = pytest.mark.django_db


def url(prop, **params):
    from urllib.parse import urlencode

    return f"/properties/{prop.slug}/" + (f"?{urlencode(params)}" if params else "")


def cell(html: str, day: date) -> str:
    """The class attribute of the calendar cell of ``day``."""
    match = re.search(rf'<(?:span|a href="[^"]*") class="cal-day ([^"]*)" data-date="{day.isoformat()}"', html)
    assert match, f"no calendar cell for {day}"
    return match.group(1)


def first_of_month(day: date) -> date:
    return day.replace(day=1)


def test_page_shows_gallery_description_amenities_rules_times_location_and_policy(client, photo):
    prop = PropertyFactory(
        name="Principe Real House", description="A garden house.", house_rules="No parties.", city="Lisbon",
        region="Lisboa", country="PT", timezone="Europe/Lisbon", check_in_time=time(16, 0),
        check_out_time=time(10, 30), latitude=Decimal("38.716900"), longitude=Decimal("-9.148600"),
        cancellation_policy="flexible",
    )
    prop.amenities.add(AmenityFactory(code="garden", name="Garden"))
    photos = [photo(prop, alt=f"Room {n}", position=n) for n in range(3)]

    response = client.get(url(prop))

    assert response.status_code == 200
    html, visible = response.content.decode(), text(response)
    for p in photos:
        assert p.image.url in html and f'alt="{p.alt_text}"' in html
    assert "A garden house." in visible and "No parties." in visible and "Garden" in visible
    assert "from 16:00" in visible and "by 10:30" in visible and "Europe/Lisbon" in visible
    assert "Lisbon, Lisboa, Portugal" in visible and "38.7169, -9.1486" in visible
    assert "Flexible" in visible and "Full refund up to 1 day before check-in." in visible
    assert "maps.google" not in html and "openstreetmap" not in html  # no external map tiles
    assert "/static/js/quote.js" in html and 'data-quote-url="/api/v1/quote"' in html


@pytest.mark.parametrize("status", [Property.Status.DRAFT, Property.Status.ARCHIVED])
def test_inactive_property_is_404(client, status):
    prop = PropertyFactory(status=status)
    assert client.get(url(prop)).status_code == 404
    assert client.get("/properties/no-such-house/").status_code == 404


def test_calendar_strikes_through_taken_nights_and_marks_no_checkin_and_checkout_only_days(client, book):
    prop = PropertyFactory()
    booking = book(prop, start=20, nights=3)  # nights 20, 21, 22 taken; 23 is the check-out day
    BlockFactory(property=prop, start_date=future(30), end_date=future(32))

    html = client.get(url(prop, month=future(20).strftime("%Y-%m"))).content.decode()

    for day in (future(21), future(22)):
        assert "cal-unavailable" in cell(html, day) and "cal-booked" in cell(html, day)
    # the first booked night can still be a departure day for a stay ending that morning
    assert "cal-check-out-only" in cell(html, booking.check_in) and "cal-unavailable" in cell(html, booking.check_in)
    assert "cal-available" in cell(html, booking.check_out)  # the check-out day is free for the next arrival
    # a day where a stay can start links to the widget with that arrival; a taken day does not
    arrival = booking.check_out.isoformat()
    assert f'<a href="?check_in={arrival}&amp;check_out=' in html
    assert f'<a href="?check_in={future(21).isoformat()}&amp;' not in html
    # (day 31 is always inside the two months shown from the month of day 20)
    assert "cal-blocked" in cell(html, future(31)) and "cal-unavailable" in cell(html, future(31))
    # a legend explains the marks, and screen readers get the state in words
    assert "Available, but no check-in that day" in text_of(html) and "Taken — check-out only" in text_of(html)
    assert f"{future(21):%A %-d %B %Y}: unavailable" in html


def text_of(html: str) -> str:
    return " ".join(re.sub(r"<[^>]+>", " ", html).split())


def test_calendar_marks_days_where_check_in_is_not_allowed_and_min_stay_hints(client):
    saturday_only = weekday_mask(5)
    prop = PropertyFactory(checkin_weekdays=saturday_only, min_stay=2)
    # A Thursday two weeks out: the override's three nights (Thu, Fri, Sat) hold the property's one check-in day,
    # and the week shown from it holds a Monday (no check-in).
    start = next_weekday(3, after_days=14)
    DateOverrideFactory(property=prop, start_date=start, end_date=start + timedelta(days=3), min_stay=5)

    response = client.get(url(prop, month=start.strftime("%Y-%m")))
    html = response.content.decode()

    days = [start + timedelta(days=i) for i in range(7)]
    saturday = next(d for d in days if d.weekday() == 5)
    monday = next(d for d in days if d.weekday() == 0)
    assert "cal-no-check-in" in cell(html, monday)
    assert "available, no check-in this day" in html
    assert "cal-available" in cell(html, saturday) or "cal-no-check-in" in cell(html, saturday)
    # the override's minimum stay differs from the property's: a hint on its free check-in days and a summary
    assert "Minimum stay:" in text(response)
    assert "5 nights for arrivals" in text(response)


def test_month_navigation_links_and_bad_month_values(client):
    prop = PropertyFactory()
    this_month = first_of_month(future(0))
    next_month = add_months(this_month, 1)

    html = client.get(url(prop)).content.decode()
    assert f"month={add_months(this_month, 1):%Y-%m}#availability" in html
    assert 'rel="prev"' not in html  # nothing before the current month
    assert f"{this_month:%B %Y}" in html and f"{next_month:%B %Y}" in html

    html = client.get(url(prop, month=f"{add_months(this_month, 3):%Y-%m}")).content.decode()
    assert f"{add_months(this_month, 3):%B %Y}" in html and f"{add_months(this_month, 4):%B %Y}" in html
    assert f"month={add_months(this_month, 2):%Y-%m}#availability" in html

    for bad in ("2026-13", "abc", "1999-01", "9999-12", "2026-00", ""):
        response = client.get(url(prop, month=bad))
        assert response.status_code == 200


def test_widget_shows_the_quote_with_nightly_breakdown_fees_discounts_taxes_and_total(client):
    prop = PropertyFactory(base_price=Decimal("100.00"), cleaning_fee=Decimal("40.00"), tax_rate=Decimal("10"),
                           cancellation_policy="moderate")
    PricingRuleFactory(property=prop, kind="length_of_stay", name="Week discount", value=Decimal("-10"),
                       min_nights=3)
    ci, co = future(10), future(13)

    response = client.get(url(prop, check_in=ci.isoformat(), check_out=co.isoformat(), adults=2))

    visible = text(response)
    assert response.context["quote"].bookable
    assert "3 nights" in visible and f"{ci:%a %-d %b}" in visible
    assert "Week discount -€10.00" in visible
    assert "Discounts −€30.00" in visible
    assert "Cleaning fee €40.00" in visible
    assert "Taxes (10%) €31.00" in visible  # 10% of (300 − 30 + 40)
    assert "Total €341.00" in visible
    assert "Full refund up to 5 days before check-in" in visible
    assert f'href="/book/{prop.slug}/?check_in={ci.isoformat()}&amp;check_out={co.isoformat()}&amp;adults=2"' in (
        response.content.decode())


@pytest.mark.parametrize(
    ("setup", "params", "message"),
    [
        (lambda p: None, {"start": 10, "nights": 1, "adults": 9}, "This property sleeps at most 4 guests."),
        (lambda p: setattr(p, "min_stay", 3) or p.save(), {"start": 10, "nights": 2}, "Minimum stay is 3 nights."),
        (lambda p: setattr(p, "checkin_weekdays", weekday_mask(5)) or p.save(), {"start": "not-saturday"},
         "Check-in on Saturdays only."),
        (lambda p: BlockFactory(property=p, start_date=future(11), end_date=future(12)), {"start": 10},
         "The property is not available on some of these dates."),
    ],
)
def test_widget_says_why_dates_cannot_be_booked(client, setup, params, message):
    prop = PropertyFactory(max_guests=4)
    setup(prop)
    start = params.get("start", 10)
    if start == "not-saturday":
        start = next(n for n in range(10, 20) if future(n).weekday() != 5)
    nights = params.get("nights", 3)
    response = client.get(url(prop, check_in=future(start).isoformat(),
                              check_out=future(start + nights).isoformat(), adults=params.get("adults", 2)))
    assert response.status_code == 200
    assert message in text(response)
    assert "These dates can't be booked" in text(response)
    assert ">Reserve</a>" not in response.content.decode()  # no way forward with these dates


def test_widget_on_taken_dates(client, book):
    prop = PropertyFactory()
    book(prop, start=10, nights=3)
    response = client.get(url(prop, check_in=future(11).isoformat(), check_out=future(13).isoformat(), adults=2))
    assert "These dates are already booked." in text(response)


@pytest.mark.parametrize(
    ("params", "field", "message"),
    [
        ({"check_in": -3, "check_out": 2}, "check_in", "Check-in cannot be in the past."),
        ({"check_in": 10, "check_out": 9}, "check_out", "Check-out must be after check-in."),
        ({"check_in": 10, "check_out": 12, "adults": "0"}, "adults", "At least 1 adult."),
        ({"check_in": 10, "check_out": 12, "children": "-1"}, "children", "Cannot be negative."),
        ({"check_in": "x", "check_out": 12}, "check_in", "Enter a date as YYYY-MM-DD."),
    ],
)
def test_widget_bad_input_rerenders_with_field_messages(client, params, field, message):
    prop = PropertyFactory()
    query = {k: (future(v).isoformat() if isinstance(v, int) else v) for k, v in params.items()}
    query.setdefault("adults", "2")
    response = client.get(url(prop, **query))
    assert response.status_code == 200
    assert message in response.context["form"].errors[field]
    assert message in text(response)
    assert response.context["quote"] is None


def test_property_page_query_count_is_bounded_with_100_properties(client, book, photo,
                                                                  django_assert_max_num_queries):
    props = []
    for i in range(100):
        prop = PropertyFactory(base_price=Decimal(90 + i))
        props.append(prop)
    target = props[0]
    for n in range(3):
        photo(target, alt=f"photo {n}", position=n)
    target.amenities.add(AmenityFactory(code="wifi", name="Wi-Fi"))
    PricingRuleFactory(property=target)
    params = {"check_in": future(20).isoformat(), "check_out": future(24).isoformat(), "adults": 2}

    with django_assert_max_num_queries(12) as few:
        assert client.get(url(target, **params)).status_code == 200
    for start in range(2, 60, 5):  # more bookings on this property and the others
        book(target, start=start, nights=2)
        book(props[start], start=start, nights=3)
    with django_assert_max_num_queries(len(few.captured_queries)):
        response = client.get(url(target, **params))
    assert response.status_code == 200


@pytest.mark.parametrize("params", [{"adults": 999}, {"adults": 2, "children": 60}, {"adults": 5}])
def test_too_many_guests_are_refused_with_the_propertys_own_limit(client, params):
    """``?adults=999`` where the property sleeps 4: the page names the property's limit, not the site's cap of 50;
    the number field's ``max`` is the property's too."""
    prop = PropertyFactory(max_guests=4)
    stay = {"check_in": future(20).isoformat(), "check_out": future(23).isoformat()}
    response = client.get(url(prop, **stay, **params))
    assert response.status_code == 200
    page = text(response)
    assert "This property sleeps at most 4 guests." in page
    assert "At most 50" not in page
    assert re.search(r'<input type="number" name="adults"[^>]* max="4"', response.content.decode())

    details = client.get(f"/book/{prop.slug}/?" + "&".join(f"{k}={v}" for k, v in {**stay, **params}.items()))
    assert "This property sleeps at most 4 guests." in text(details) and "At most 50" not in text(details)
