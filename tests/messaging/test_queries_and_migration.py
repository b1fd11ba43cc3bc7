"""Bounded query counts on the inbox, a thread page and a post; the carry-over of the old GuestMessage rows."""

import importlib

import pytest
from django.apps import apps
from django.utils import timezone

from bookings.models import GuestMessage
from messaging import selectors, services
from messaging.models import Message, Thread

pytestmark = pytest.mark.django_db


def _threads(book, prop, count, first=0):
    bookings = [book(prop, start=10 + 5 * i, nights=2) for i in range(first, first + count)]
    for b in bookings:
        services.post_from_guest(booking_id=b.pk, body=f"hello from {b.reference}")
    return bookings


def test_the_inbox_costs_the_same_for_2_or_12_threads(client, owner, prop, book, django_assert_max_num_queries):
    client.force_login(owner)
    _threads(book, prop, 2)
    client.get("/admin/messaging/thread/")
    with django_assert_max_num_queries(15) as few:
        assert client.get("/admin/messaging/thread/").status_code == 200
    _threads(book, prop, 10, first=2)
    with django_assert_max_num_queries(len(few.captured_queries)):
        page = client.get("/admin/messaging/thread/")
    assert page.content.decode().count('class="unread-badge"') == 12


def test_a_thread_page_costs_the_same_for_2_or_30_messages(client, owner, stay, django_assert_max_num_queries,
                                                           settings):
    settings.GUEST_MESSAGES_PER_HOUR = 100
    client.force_login(owner)
    thread = services.post_from_guest(booking_id=stay.pk, body="one").thread
    services.reply_from_owner(booking_id=stay.pk, user=owner, body="two")
    url = f"/admin/messaging/thread/{thread.pk}/change/"
    client.get(url)
    with django_assert_max_num_queries(20) as few:
        assert client.get(url).status_code == 200
    for i in range(14):
        services.post_from_guest(booking_id=stay.pk, body=f"guest {i}")
        services.reply_from_owner(booking_id=stay.pk, user=owner, body=f"owner {i}")
    with django_assert_max_num_queries(len(few.captured_queries)):
        assert "owner 13" in client.get(url).content.decode()


def test_the_portal_page_and_a_post_are_bounded(client, stay, django_assert_max_num_queries, settings):
    from bookings.tokens import booking_access_token

    settings.GUEST_MESSAGES_PER_HOUR = 100
    url = f"/bookings/{stay.reference}/?token={booking_access_token(stay)}"
    client.get(url)
    with django_assert_max_num_queries(40) as few:
        client.get(url)
    for i in range(10):
        services.post_from_guest(booking_id=stay.pk, body=f"m{i}")
    with django_assert_max_num_queries(len(few.captured_queries)):
        client.get(url)
    with django_assert_max_num_queries(12):
        services.post_from_guest(booking_id=stay.pk, body="one more")


def test_the_dashboard_count_is_one_query(owner, prop, book, django_assert_num_queries):
    _threads(book, prop, 3)
    with django_assert_num_queries(1):
        assert selectors.unread_count(owner) == 3


def test_old_guest_messages_are_carried_over_once(stay, book, prop):
    migration = importlib.import_module("messaging.migrations.0002_carry_over_guest_messages")
    other = book(prop, start=30)
    earlier = timezone.now() - timezone.timedelta(days=3)
    old = [GuestMessage.objects.create(booking=stay, sender="ada@example.com", body="old one", created_at=earlier),
           GuestMessage.objects.create(booking=stay, sender="ada@example.com", body="old two"),
           GuestMessage.objects.create(booking=other, sender="ada@example.com", body="other booking")]
    services.post_from_guest(booking_id=other.pk, body="new on other")  # a thread that exists already
    migration.carry_over(apps, None)
    migration.carry_over(apps, None)  # idempotent
    carried = Message.objects.exclude(legacy_guest_message_id=None)
    assert sorted(carried.values_list("legacy_guest_message_id", flat=True)) == sorted(m.pk for m in old)
    first = carried.get(legacy_guest_message_id=old[0].pk)
    assert (first.body, first.author_label, first.direction, first.created_at) == (
        "old one", "ada@example.com", "guest", earlier)
    assert first.owner_read_at == earlier  # the owner had them by email: not flooding the inbox as unread
    assert Thread.objects.count() == 2
    assert [m.body for m in Thread.objects.get(booking=other).messages.all()] == ["other booking", "new on other"]
    assert GuestMessage.objects.count() == 3  # the originals are untouched
    migration.take_back(apps, None)
    assert not Message.objects.exclude(legacy_guest_message_id=None).exists()
