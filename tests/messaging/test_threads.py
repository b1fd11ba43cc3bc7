"""Owner–guest messaging both ways: the portal, the inbox, emails with the link back, read state, tenant scoping."""

import re

import pytest
from django.core import mail
from django.test import Client

from bookings.models import SentEmail
from bookings.tokens import booking_access_token
from messaging import selectors, services
from messaging.models import Direction, Message, Thread
from tests.factories import StaffFactory
from tests.pages.conftest import text

pytestmark = pytest.mark.django_db


def portal(booking, suffix=""):
    return f"/bookings/{booking.reference}/{suffix}?token={booking_access_token(booking)}"


def thread_url(thread):
    return f"/admin/messaging/thread/{thread.pk}/change/"


def test_guest_writes_owner_is_emailed_with_a_link_to_the_thread(client, stay, run_on_commit):
    mail.outbox.clear()
    with run_on_commit():
        response = client.post(portal(stay, "messages"), {"body": "Can we arrive at 22:00?"})
    assert response.status_code == 302 and response["Location"].endswith("#messages")
    message = Message.objects.get()
    assert message.direction == Direction.GUEST and message.thread.booking == stay
    assert message.owner_read_at is None
    email, = mail.outbox
    assert email.to == ["owner@example.com"] and "Can we arrive at 22:00?" in email.body
    assert f"http://testserver/admin/messaging/thread/{message.thread_id}/change/" in email.body
    assert SentEmail.objects.get(kind="owner_message").dedupe_key == f"owner_message:msg{message.pk}"


def test_owner_replies_in_the_admin_and_the_guest_gets_a_working_portal_link(client, stay, owner, run_on_commit):
    thread = services.post_from_guest(booking_id=stay.pk, body="Is there parking?").thread
    assert selectors.unread_count(owner) == 1
    client.force_login(owner)
    mail.outbox.clear()
    with run_on_commit():
        response = client.post(thread_url(thread), {"body": "Yes, in front of the house.", "send": "1"})
    assert response.status_code == 302
    reply = Message.objects.get(direction=Direction.OWNER)
    assert reply.author_user == owner and reply.body == "Yes, in front of the house."
    assert selectors.unread_count(owner) == 0  # answering reads the guest's messages
    email, = mail.outbox
    assert email.to == ["ada@example.com"] and "Yes, in front of the house." in email.body
    assert email.reply_to == ["owner@example.com"]
    link = re.search(r"http://testserver(/bookings/\S+#messages)", email.body).group(1)
    guest = Client()
    page = guest.get(link.split("#")[0])
    assert page.status_code == 200
    visible = text(page)
    assert "Is there parking?" in visible and "Yes, in front of the house." in visible and "New" in visible
    reply.refresh_from_db()
    assert reply.guest_read_at is not None  # the guest opened the page
    assert "New" not in text(guest.get(link.split("#")[0]))


def test_the_guest_replies_back_in_the_same_thread(client, stay, owner):
    services.post_from_guest(booking_id=stay.pk, body="first")
    services.reply_from_owner(booking_id=stay.pk, user=owner, body="answer")
    assert client.post(portal(stay, "messages"), {"body": "thanks!"}).status_code == 302
    thread = Thread.objects.get()
    assert [m.body for m in thread.messages.all()] == ["first", "answer", "thanks!"]
    assert [m.direction for m in thread.messages.all()] == ["guest", "owner", "guest"]


def test_opening_a_thread_marks_it_read_and_the_dashboard_counts_unread(client, stay, owner, book, prop):
    other = book(prop, start=30)
    services.post_from_guest(booking_id=stay.pk, body="one")
    services.post_from_guest(booking_id=stay.pk, body="two")
    thread = services.post_from_guest(booking_id=other.pk, body="three").thread
    client.force_login(owner)
    dashboard = client.get("/admin/")
    assert "3 unread guest messages" in text(dashboard)
    inbox = client.get("/admin/messaging/thread/")
    assert inbox.status_code == 200
    badges = re.findall(r'class="unread-badge">(\d+)<', inbox.content.decode())
    assert badges == ["1", "2"]  # newest thread first
    assert client.get(thread_url(thread)).status_code == 200
    assert selectors.unread_count(owner) == 2
    assert "2 unread guest messages" in text(client.get("/admin/"))
    assert "?unread=yes" in dashboard.content.decode()
    only_unread = client.get("/admin/messaging/thread/?unread=yes").content.decode()
    assert only_unread.count('class="unread-badge"') == 1


def test_the_timeline_shows_messages_and_the_emails_sent_for_the_booking(client, book, prop, owner, run_on_commit):
    from bookings import services as booking_services
    from core.actor import Actor

    with run_on_commit():
        stay = book(prop, start=10)
        booking_services.confirm(booking_id=stay.pk, actor=Actor.system("test"))
    with run_on_commit():
        thread = services.post_from_guest(booking_id=stay.pk, body="Hello there").thread
        services.reply_from_owner(booking_id=stay.pk, user=owner, body="Welcome!")
    client.force_login(owner)
    page = text(client.get(thread_url(thread)))
    assert "Hello there" in page and "Welcome!" in page
    assert "Email owner_message to owner@example.com" in page
    assert "Email message_to_guest to ada@example.com" in page
    assert "Email confirmation to ada@example.com" in page  # every email of the booking, not only messages
    assert page.index("Hello there") < page.index("Welcome!")


def test_another_owner_cannot_read_or_answer_a_thread(client, stay, owner_b_prop):
    thread = services.post_from_guest(booking_id=stay.pk, body="private").thread
    other_owner = owner_b_prop.owner
    client.force_login(other_owner)
    assert client.get(thread_url(thread)).status_code == 404
    assert client.post(thread_url(thread), {"body": "sneaky", "send": "1"}).status_code == 404
    assert "private" not in client.get("/admin/messaging/thread/").content.decode()
    assert client.get(f"/admin/messaging/thread/open/{stay.pk}/").status_code == 404
    with pytest.raises(services.NotYourThread):
        services.reply_from_owner(booking_id=stay.pk, user=other_owner, body="sneaky")
    assert not Message.objects.filter(direction=Direction.OWNER).exists()
    assert selectors.unread_count(other_owner) == 0
    assert Message.objects.get().owner_read_at is None  # B's visit read nothing


def test_staff_answer_only_their_assigned_properties(client, stay, prop, owner, book):
    from tests.factories import PropertyFactory

    thread = services.post_from_guest(booking_id=stay.pk, body="towels?").thread
    assigned = StaffFactory(email="assigned@example.com", employer=owner, properties=[prop])
    elsewhere = StaffFactory(email="elsewhere@example.com", employer=owner,
                             properties=[PropertyFactory(owner=owner)])
    client.force_login(elsewhere)
    assert client.get(thread_url(thread)).status_code == 404
    assert selectors.unread_count(elsewhere) == 0
    client.force_login(assigned)
    assert selectors.unread_count(assigned) == 1
    assert client.get(thread_url(thread)).status_code == 200
    assert client.post(thread_url(thread), {"body": "On the bed.", "send": "1"}).status_code == 302
    assert Message.objects.get(direction=Direction.OWNER).author_user == assigned


def test_the_booking_page_opens_its_thread(client, stay, owner):
    client.force_login(owner)
    response = client.get(f"/admin/messaging/thread/open/{stay.pk}/")
    thread = Thread.objects.get(booking=stay)
    assert response.status_code == 302 and response["Location"] == thread_url(thread)
    assert client.get(f"/admin/messaging/thread/open/{stay.pk}/")["Location"] == thread_url(thread)
    assert Thread.objects.count() == 1


def test_bad_input_re_renders_with_field_messages(client, stay, owner):
    client.force_login(owner)
    thread_id = client.get(f"/admin/messaging/thread/open/{stay.pk}/")["Location"].split("/")[-3]
    response = client.post(f"/admin/messaging/thread/{thread_id}/change/", {"body": "   ", "send": "1"})
    assert response.status_code == 400 and "Please write a message." in text(response)
    response = client.post(portal(stay, "messages"), {"body": ""})
    assert response.status_code == 400 and "Please write a message." in text(response)
    assert not Message.objects.exists()


def test_a_channel_guest_is_not_emailed_but_sees_the_reply_in_the_portal(stay, owner, run_on_commit):
    from bookings.models import Booking, Source

    Booking.objects.filter(pk=stay.pk).update(source=Source.AIRBNB)
    mail.outbox.clear()
    with run_on_commit():
        services.reply_from_owner(booking_id=stay.pk, user=owner, body="See you")
    assert mail.outbox == [] and Message.objects.get().body == "See you"
