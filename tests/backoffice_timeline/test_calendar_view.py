"""The calendar page: scoping per role, permissions, parameters, links, and a constant number of queries."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from bookings.models import AvailabilityBlock, Booking, BookingStatus, TurnoverTask
from tests.factories import BlockFactory, GuestFactory, PropertyFactory, UserFactory

from .conftest import back_office_user, booking_row

pytestmark = pytest.mark.django_db
URL = reverse("admin:calendar")


def first_of_month():
    return timezone.localdate().replace(day=1)


def d(n):
    """The n-th day of the default window (0 = the first of this month)."""
    return first_of_month() + timedelta(days=n)


@pytest.fixture
def scene(prop_a, prop_a2, prop_b):
    """Owner A: a stay, a block and a turnover task on Alpha Loft; a stay on Alpha Villa. Owner B: the same on Bravo."""
    a_stay = booking_row(prop_a, d(3), d(6), guest=GuestFactory(name="Alice Arrival"), source="airbnb")
    a_block = BlockFactory(property=prop_a, start_date=d(10), end_date=d(12), reason="maintenance")
    a_task = TurnoverTask.objects.create(property=prop_a, booking=a_stay, due_date=d(6), window_end=d(7))
    a2_stay = booking_row(prop_a2, d(4), d(8), guest=GuestFactory(name="Villa Visitor"))
    b_stay = booking_row(prop_b, d(3), d(6), guest=GuestFactory(name="Bob Bravo"))
    b_block = BlockFactory(property=prop_b, start_date=d(10), end_date=d(12))
    b_task = TurnoverTask.objects.create(property=prop_b, booking=b_stay, due_date=d(6), window_end=d(7))
    return locals()


def test_owner_sees_their_bookings_blocks_and_tasks_and_not_another_owners(client, owner_a, scene):
    client.force_login(owner_a)
    response = client.get(URL)
    assert response.status_code == 200
    html = response.content.decode()
    for name in ["Alpha Loft", "Alpha Villa", "Alice Arrival", "Villa Visitor", scene["a_stay"].reference]:
        assert name in html
    assert reverse("admin:bookings_booking_change", args=[scene["a_stay"].pk]) in html
    assert reverse("admin:bookings_availabilityblock_change", args=[scene["a_block"].pk]) in html
    assert reverse("admin:bookings_turnovertask_change", args=[scene["a_task"].pk]) in html
    assert "src-airbnb" in html
    for leaked in ["Bravo House", "Bob Bravo", scene["b_stay"].reference,
                   reverse("admin:bookings_booking_change", args=[scene["b_stay"].pk]),
                   reverse("admin:bookings_availabilityblock_change", args=[scene["b_block"].pk]),
                   reverse("admin:bookings_turnovertask_change", args=[scene["b_task"].pk])]:
        assert leaked not in html
    assert [r.name for r in response.context["timeline"].rows] == ["Alpha Loft", "Alpha Villa"]


def test_staff_sees_only_the_properties_they_are_assigned_to(client, staffer, scene):
    client.force_login(staffer)
    response = client.get(URL)
    assert response.status_code == 200
    assert [r.name for r in response.context["timeline"].rows] == ["Alpha Loft"]
    html = response.content.decode()
    assert "Alice Arrival" in html
    assert "Villa Visitor" not in html and "Bob Bravo" not in html


def test_superuser_sees_every_property(client, scene):
    admin = UserFactory(email="root@example.com", is_staff=True, is_superuser=True)
    client.force_login(admin)
    rows = client.get(URL).context["timeline"].rows
    assert [r.name for r in rows] == ["Alpha Loft", "Alpha Villa", "Bravo House"]


def test_cancelled_expired_and_timed_out_rows_are_not_drawn(client, owner_a, prop_a):
    shown = booking_row(prop_a, d(1), d(3))
    hidden = [booking_row(prop_a, d(4), d(6), status=BookingStatus.CANCELLED),
              booking_row(prop_a, d(7), d(9), status=BookingStatus.EXPIRED),
              booking_row(prop_a, d(10), d(12), status=BookingStatus.HELD,
                          expires_at=timezone.now() - timedelta(minutes=1))]  # not yet marked by the job
    hold = booking_row(prop_a, d(13), d(15), status=BookingStatus.RESERVED)
    client.force_login(owner_a)
    html = client.get(URL).content.decode()
    assert shown.reference in html and hold.reference in html
    assert "bar-hold" in html
    for booking in hidden:
        assert booking.reference not in html


def test_anonymous_is_sent_to_the_login_page(client):
    response = client.get(URL)
    assert response.status_code == 302
    assert response.url.startswith(reverse("admin:login"))


def test_back_office_user_without_view_booking_is_refused(client, db):
    user = back_office_user("clerk@example.com", "view_property", "view_turnovertask")
    client.force_login(user)
    assert client.get(URL).status_code == 403


def test_a_user_with_only_view_booking_may_open_it(client, prop_a, scene):
    user = back_office_user("viewer@example.com", "view_booking")
    prop_a.staff.add(user)
    client.force_login(user)
    response = client.get(URL)
    assert response.status_code == 200
    assert [r.name for r in response.context["timeline"].rows] == ["Alpha Loft"]


@pytest.mark.parametrize("query", ["?start=garbage", "?start=2025-02-31", "?start=9999-12-31&days=92",
                                   "?days=-4", "?days=abc", "?page=0", "?page=zz", "?city=%00", "?start=2025-13-01"])
def test_bad_parameters_fall_back_to_the_default_window(client, owner_a, prop_a, query):
    client.force_login(owner_a)
    response = client.get(URL + query)
    assert response.status_code == 200
    window = response.context["window"]
    assert window.start == first_of_month()
    assert window.days in (60, 92)


def test_window_navigation_and_filters(client, owner_a, prop_a, prop_a2):
    client.force_login(owner_a)
    response = client.get(URL, {"start": "2030-03-15", "days": "30", "city": "Porto"})
    ctx = response.context
    assert (ctx["window"].start.isoformat(), ctx["window"].days) == ("2030-03-15", 30)
    assert [r.name for r in ctx["timeline"].rows] == ["Alpha Villa"]
    assert ctx["prev_url"].startswith("?start=2030-03-01")  # mid-month: back to the first of this month
    assert ctx["next_url"].startswith("?start=2030-04-01")
    assert "days=30" in ctx["next_url"] and "city=Porto" in ctx["next_url"]
    assert "start=" not in ctx["today_url"]
    assert ctx["cities"] == ["Lisbon", "Porto"]
    assert [r.name for r in client.get(URL, {"q": "loft"}).context["timeline"].rows] == ["Alpha Loft"]
    assert client.get(URL, {"start": "2030-03-01"}).context["prev_url"].startswith("?start=2030-02-01")


def test_a_stay_running_into_the_window_is_clipped(client, owner_a, prop_a):
    early = booking_row(prop_a, d(-3), d(2))
    client.force_login(owner_a)
    (row,) = client.get(URL).context["timeline"].rows
    (bar,) = row.bars
    assert bar.placement.clipped_start and bar.span == 2 and bar.url.endswith(f"/{early.pk}/change/")


def test_header_links_by_permission(client, owner_a, staffer, prop_a):
    client.force_login(owner_a)
    html = client.get(URL).content.decode()
    for link in ['id="nav-calendar"', 'id="nav-reports"', 'id="nav-payments-queue"']:
        assert link in html
    client.force_login(staffer)
    html = client.get(URL).content.decode()
    assert 'id="nav-calendar"' in html and 'id="nav-payments-queue"' in html
    assert 'id="nav-reports"' not in html  # staff have no bookings.view_reports
    client.force_login(back_office_user("viewer@example.com", "view_booking"))
    html = client.get(URL).content.decode()
    assert 'id="nav-calendar"' in html and 'id="nav-payments-queue"' not in html


def many_properties(owner, n_props, stays_per_property):
    """``n_props`` properties each with back-to-back stays across the window, a block and a task per stay."""
    from bookings.services import new_reference

    props = PropertyFactory.create_batch(n_props, owner=owner)
    guest = GuestFactory()
    rows = []
    for prop in props:
        for i in range(stays_per_property):
            start = d(-2 + i * 6)
            rows.append(Booking(property=prop, reference=new_reference(), check_in=start,
                                check_out=start + timedelta(days=5), source=["direct", "airbnb", "owner"][i % 3],
                                status=[BookingStatus.CONFIRMED, BookingStatus.RESERVED][i % 2], guest=guest,
                                expires_at=timezone.now() + timedelta(days=1), currency="EUR"))
    Booking.objects.bulk_create(rows)
    AvailabilityBlock.objects.bulk_create([AvailabilityBlock(property=p, start_date=d(58), end_date=d(62))
                                           for p in props])
    TurnoverTask.objects.bulk_create([TurnoverTask(property_id=b.property_id, booking=b, due_date=b.check_out,
                                                   window_end=b.check_out + timedelta(days=1)) for b in rows])
    return props


def count_queries(client):
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(URL)
    assert response.status_code == 200
    return len(ctx.captured_queries), response


def test_queries_do_not_grow_with_properties_and_bookings(client, owner_a, django_assert_max_num_queries):
    """50 properties × 60 days, 10 stays, a block and 10 tasks each: the same queries as one property."""
    many_properties(owner_a, 1, 10)
    client.force_login(owner_a)
    small, _ = count_queries(client)
    many_properties(owner_a, 49, 10)
    large, response = count_queries(client)
    assert large == small
    rows = response.context["timeline"].rows
    assert len(rows) == 50
    assert sum(len(r.bars) for r in rows) == 50 * 11 and sum(len(r.markers) for r in rows) == 50 * 10
    with django_assert_max_num_queries(12):
        client.get(URL)


def test_staff_query_count_is_bounded_too(client, owner_a, staffer, django_assert_max_num_queries):
    for prop in many_properties(owner_a, 50, 6):
        prop.staff.add(staffer)
    client.force_login(staffer)
    with django_assert_max_num_queries(14):
        response = client.get(URL)
    assert len(response.context["timeline"].rows) == 51  # the 50 plus the fixture's Alpha Loft
