"""The admin index dashboard: contents per user, property-local today, scoping, and bounded queries."""

from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from backoffice.dashboard import build_dashboard, sync_problems
from bookings.models import BookingStatus, TurnoverTask
from core.actor import Actor
from payments import manual
from payments.models import HostPaymentMethod
from tests.factories import GuestFactory, PropertyFactory, UserFactory

from .conftest import back_office_user, booking_row

pytestmark = [pytest.mark.django_db, pytest.mark.sqlite]  # also proven on the embedded SQLite default
INDEX = reverse("admin:index")


def today():
    return timezone.localdate()


def days(n):
    return today() + timedelta(days=n)


def claimed_payment(owner, prop, book):
    method = HostPaymentMethod.objects.create(owner=owner, kind="zelle", handle=f"pay@{owner.pk}.example",
                                              display_name="Owner", instructions="Zelle it.")
    booking = book(prop, start=20 + prop.pk % 7, nights=2)
    mp = manual.choose_method(booking_id=booking.pk, method_id=method.pk, actor=Actor.guest("ada@example.com"))
    return manual.claim(mp_id=mp.pk, guest_reference="ZL-123", actor=Actor.guest("ada@example.com"))


@pytest.fixture
def scene(owner_a, owner_b, prop_a, prop_b, book):
    now = timezone.now()
    scene = {
        "a_arrival": booking_row(prop_a, days(0), days(3), guest=GuestFactory(name="Alice Arrival")),
        "a_departure": booking_row(prop_a, days(-4), days(0), status=BookingStatus.CHECKED_IN,
                                   guest=GuestFactory(name="Dora Departure")),
        "a_expiring": booking_row(prop_a, days(30), days(32), status=BookingStatus.HELD,
                                  expires_at=now + timedelta(minutes=40)),
        "a_later": booking_row(prop_a, days(40), days(42), status=BookingStatus.RESERVED,
                               expires_at=now + timedelta(hours=6)),
        "a_upcoming": booking_row(prop_a, days(5), days(8)),
        "a_payment": claimed_payment(owner_a, prop_a, book),
        "b_arrival": booking_row(prop_b, days(0), days(2), guest=GuestFactory(name="Bob Bravo")),
        "b_expiring": booking_row(prop_b, days(30), days(32), status=BookingStatus.HELD,
                                  expires_at=now + timedelta(minutes=30)),
        "b_payment": claimed_payment(owner_b, prop_b, book),
    }
    scene["a_task_today"] = TurnoverTask.objects.create(property=prop_a, booking=scene["a_departure"],
                                                        due_date=days(0), window_end=days(0))
    scene["a_task_overdue"] = TurnoverTask.objects.create(
        property=prop_a, booking=booking_row(prop_a, days(-10), days(-7)), due_date=days(-7), window_end=days(-6))
    scene["b_task_today"] = TurnoverTask.objects.create(
        property=prop_b, booking=booking_row(prop_b, days(-3), days(0)), due_date=days(0), window_end=days(1))
    return scene


def refs(rows):
    return {row.reference for row in rows}


def test_owner_dashboard_contents(owner_a, scene):
    board = build_dashboard(owner_a)
    assert refs(board.arrivals) == {scene["a_arrival"].reference}
    assert refs(board.departures) == {scene["a_departure"].reference}
    assert (board.in_house_stays, board.in_house_guests) == (1, 2)  # the checked-in departure, 2 adults
    assert [mp.code for mp in board.pending_payments] == [scene["a_payment"].code]
    assert board.pending_payments_count == 1
    assert refs(board.expiring) == {scene["a_expiring"].reference}  # not the one expiring in 6 hours
    assert [t.pk for t in board.tasks_today] == [scene["a_task_today"].pk]
    assert [t.pk for t in board.tasks_overdue] == [scene["a_task_overdue"].pk] and board.tasks_overdue_count == 1
    assert board.upcoming_arrivals == 1  # a_upcoming (in 5 days); the payment's booking arrives in 20+ days
    assert board.sync_problems == [] == sync_problems(owner_a)


def test_owner_b_sees_only_their_own(owner_b, scene):
    board = build_dashboard(owner_b)
    assert refs(board.arrivals) == {scene["b_arrival"].reference}
    assert refs(board.departures) == {scene["b_task_today"].booking.reference} and board.in_house_stays == 0
    assert [mp.code for mp in board.pending_payments] == [scene["b_payment"].code]
    assert refs(board.expiring) == {scene["b_expiring"].reference}
    assert [t.pk for t in board.tasks_today] == [scene["b_task_today"].pk] and board.tasks_overdue == []


def test_staff_sees_their_assigned_property_only(staffer, scene):
    board = build_dashboard(staffer)
    assert refs(board.arrivals) == {scene["a_arrival"].reference}
    assert [mp.code for mp in board.pending_payments] == [scene["a_payment"].code]


def test_superuser_sees_everything(scene):
    root = UserFactory(email="root@example.com", is_staff=True, is_superuser=True)
    board = build_dashboard(root)
    assert refs(board.arrivals) == {scene["a_arrival"].reference, scene["b_arrival"].reference}
    assert board.pending_payments_count == 2


def test_index_page_shows_the_dashboard_with_links(client, owner_a, scene):
    client.force_login(owner_a)
    response = client.get(INDEX)
    assert response.status_code == 200
    html = response.content.decode()
    assert 'id="dashboard"' in html
    assert "Alice Arrival" in html and "Dora Departure" in html
    assert reverse("admin:bookings_booking_change", args=[scene["a_arrival"].pk]) in html
    assert reverse("admin:bookings_booking_change", args=[scene["a_expiring"].pk]) in html
    assert scene["a_payment"].code in html and reverse("admin:payments_manualpayment_queue") in html
    assert reverse("admin:bookings_turnovertask_change", args=[scene["a_task_overdue"].pk]) in html
    assert "No channel connections yet" in html
    assert "Bob Bravo" not in html and scene["b_payment"].code not in html
    assert scene["b_expiring"].reference not in html


def test_dashboard_links_open_filtered_lists(client, owner_a, scene):
    client.force_login(owner_a)
    links = client.get(INDEX).context["dashboard"].links
    for key in ["arrivals", "departures", "in_house", "upcoming", "tasks_today", "tasks_overdue", "payments_queue",
                "calendar"]:
        response = client.get(links[key])
        assert response.status_code == 200, key
        assert "?e=1" not in response.get("Location", ""), key
    arrivals = client.get(links["arrivals"]).context["cl"].result_list
    assert [b.reference for b in arrivals] == [scene["a_arrival"].reference]


def test_a_user_without_view_booking_gets_the_plain_index(client, db):
    user = UserFactory(email="clerk@example.com", is_staff=True)
    client.force_login(user)
    response = client.get(INDEX)
    assert response.status_code == 200
    assert "dashboard" not in response.context and 'id="dashboard"' not in response.content.decode()


def test_arrivals_use_each_propertys_local_today(owner_a):
    """At 12:00 UTC on 10 March it is already 11 March in Kiritimati (UTC+14) and still 10 March in Lisbon."""
    now = datetime(2030, 3, 10, 12, 0, tzinfo=UTC)
    far_east = PropertyFactory(owner=owner_a, name="Kiritimati Hut", timezone="Pacific/Kiritimati")
    lisbon = PropertyFactory(owner=owner_a, name="Lisbon Flat", timezone="Europe/Lisbon")
    east_today = booking_row(far_east, now.date() + timedelta(days=1), now.date() + timedelta(days=3))
    booking_row(far_east, now.date() - timedelta(days=2), now.date())  # left "yesterday" over there
    east_leaving = booking_row(far_east, now.date(), now.date() + timedelta(days=1))
    lisbon_today = booking_row(lisbon, now.date(), now.date() + timedelta(days=1))
    booking_row(lisbon, now.date() + timedelta(days=1), now.date() + timedelta(days=4))  # tomorrow in Lisbon
    board = build_dashboard(owner_a, now=now)
    assert refs(board.arrivals) == {east_today.reference, lisbon_today.reference}
    assert refs(board.departures) == {east_leaving.reference}


def test_pending_payments_are_claimed_flagged_or_overdue(owner_a, prop_a, book):
    method = HostPaymentMethod.objects.create(owner=owner_a, kind="venmo", handle="@owner-a", display_name="A",
                                              instructions="Venmo.")
    fresh = manual.choose_method(booking_id=book(prop_a, start=10).pk, method_id=method.pk,
                                 actor=Actor.guest("ada@example.com"))
    overdue = manual.choose_method(booking_id=book(prop_a, start=20).pk, method_id=method.pk,
                                   actor=Actor.guest("ada@example.com"))
    type(overdue).objects.filter(pk=overdue.pk).update(deadline=timezone.now() - timedelta(minutes=1))
    codes = [mp.code for mp in build_dashboard(owner_a).pending_payments]
    assert codes == [overdue.code]  # a pending payment within its time is not "to verify"
    assert fresh.code not in codes


def scale(owner, n_props):
    props = PropertyFactory.create_batch(n_props, owner=owner)
    now = timezone.now()
    for prop in props:
        booking_row(prop, days(0), days(2))
        booking_row(prop, days(-2), days(0), status=BookingStatus.CHECKED_IN)
        booking_row(prop, days(3), days(5), status=BookingStatus.HELD, expires_at=now + timedelta(minutes=30))
        stay = booking_row(prop, days(-9), days(-6))
        TurnoverTask.objects.create(property=prop, booking=stay, due_date=days(-6), window_end=days(-5))
    return props


def test_index_queries_do_not_grow_with_properties(client, owner_a, django_assert_max_num_queries):
    scale(owner_a, 2)
    client.force_login(owner_a)
    with CaptureQueriesContext(connection) as small:
        client.get(INDEX)
    scale(owner_a, 38)
    with CaptureQueriesContext(connection) as large:
        response = client.get(INDEX)
    assert len(large.captured_queries) == len(small.captured_queries)
    board = response.context["dashboard"]
    assert len(board.arrivals) == 40 and len(board.departures) == 40 and board.in_house_stays == 40
    assert board.expiring_count == 40 and len(board.expiring) == 10
    assert board.tasks_overdue_count == 40
    # + 2 for the balances and security deposits panels, + 1 for the unread messages count (issue 15 §2, §3)
    with django_assert_max_num_queries(22):
        client.get(INDEX)


def test_header_shows_the_calendar_link_on_the_index(client, owner_a, prop_a):
    client.force_login(owner_a)
    html = client.get(INDEX).content.decode()
    assert f'href="{reverse("admin:calendar")}"' in html


def test_other_back_office_user_roles_dont_crash(client, db):
    staff_no_props = back_office_user("lonely@example.com", "view_booking")
    client.force_login(staff_no_props)
    response = client.get(INDEX)
    assert response.status_code == 200
    assert response.context["dashboard"].arrivals == []


def test_dashboard_dates_carry_the_year_when_it_is_not_this_one(client, owner_a, prop_a, scene):
    """A list that mixes last year's overdue cleanings with today's must not read as one month."""
    old = TurnoverTask.objects.create(property=prop_a, booking=booking_row(prop_a, days(-403), days(-400)),
                                      due_date=days(-400), window_end=days(-399))
    client.force_login(owner_a)
    html = client.get(INDEX).content.decode()
    old_link = reverse("admin:bookings_turnovertask_change", args=[old.pk])
    assert f'{old_link}">{old.due_date.day} {old.due_date:%b} {old.due_date.year}</a>' in html
    today_link = reverse("admin:bookings_turnovertask_change", args=[scene["a_task_today"].pk])
    assert f'{today_link}">{today().day} {today():%b}</a>' in html  # this year's: no year


def test_short_date_adds_the_year_only_for_another_year():
    from datetime import date

    from properties.display import short_date

    assert short_date(date(2026, 3, 5), today=date(2026, 11, 21)) == "5 Mar"
    assert short_date(date(2025, 12, 30), today=date(2026, 1, 2)) == "30 Dec 2025"
    assert short_date(date(2027, 1, 2), today=date(2026, 12, 30)) == "2 Jan 2027"
