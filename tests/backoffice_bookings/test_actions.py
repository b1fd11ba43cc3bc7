"""Confirm, check in, check out, resend: as buttons on the detail page and as changelist actions, per role."""

import pytest
from django.core import mail

from bookings import services
from bookings.models import BookingEvent, SentEmail
from bookings.models import BookingStatus as S
from core.actor import Actor

from .conftest import do_url, reload, url

pytestmark = pytest.mark.django_db
SYSTEM = Actor.system("test")


def confirmed(book, prop, start=10, nights=3):
    booking = book(prop, start=start, nights=nights)
    return services.confirm(booking_id=booking.pk, actor=SYSTEM)


def last_event(booking):
    return BookingEvent.objects.filter(booking=booking).latest("id")


def bulk(client, action, bookings):
    return client.post(url("changelist"), {"action": action, "_selected_action": [b.pk for b in bookings]},
                       follow=True)


# --- owner: every action, with its effect, its audit row and its message ----------------------------------


def test_owner_confirms_with_the_button(prop, book, owner, as_user):
    booking = book(prop)
    client = as_user(owner)
    assert b'data-action="confirm"' in client.get(url("change", booking.pk)).content

    response = client.post(do_url(booking, "confirm"), follow=True)

    assert response.redirect_chain[-1][0] == url("change", booking.pk)
    assert reload(booking).status == S.CONFIRMED
    event = last_event(booking)
    assert (event.from_status, event.to_status, event.actor_user) == (S.RESERVED, S.CONFIRMED, owner)
    assert f"Confirmed {booking.reference}." in response.content.decode()


def test_owner_checks_in_and_out_with_the_buttons(prop, book, owner, as_user):
    booking = confirmed(book, prop, start=0, nights=2)  # arrives today
    client = as_user(owner)
    assert b'data-action="check_in"' in client.get(url("change", booking.pk)).content

    response = client.post(do_url(booking, "check_in"), follow=True)

    assert reload(booking).status == S.CHECKED_IN
    assert (last_event(booking).to_status, last_event(booking).actor_user) == (S.CHECKED_IN, owner)
    assert f"Checked in {booking.reference}." in response.content.decode()
    assert b'data-action="check_out"' in response.content

    response = client.post(do_url(booking, "check_out"), follow=True)

    assert reload(booking).status == S.CHECKED_OUT
    assert (last_event(booking).to_status, last_event(booking).actor_user) == (S.CHECKED_OUT, owner)
    assert f"Checked out {booking.reference}." in response.content.decode()


def test_check_in_is_not_offered_before_the_arrival_date_and_a_forced_one_is_a_message(prop, book, owner, as_user):
    booking = confirmed(book, prop, start=10)
    client = as_user(owner)
    page = client.get(url("change", booking.pk)).content
    assert b'data-action="check_in"' not in page and b'data-action="cancel"' in page

    response = client.post(do_url(booking, "check_in"), follow=True)

    assert response.status_code == 200
    assert "cannot check in before the arrival date" in response.content.decode()
    assert reload(booking).status == S.CONFIRMED


def test_an_illegal_transition_is_a_message_not_a_500(prop, book, owner, as_user):
    booking = book(prop)
    services.cancel(booking_id=booking.pk, actor=SYSTEM, reason="test")
    events = BookingEvent.objects.count()

    response = as_user(owner).post(do_url(booking, "confirm"), follow=True)

    assert response.status_code == 200
    assert "cannot go from" in response.content.decode()
    assert reload(booking).status == S.CANCELLED and BookingEvent.objects.count() == events


def test_resend_confirmation_sends_one_email(prop, book, owner, as_user, run_on_commit):
    booking = confirmed(book, prop)
    client = as_user(owner)
    assert b'data-action="resend_confirmation"' in client.get(url("change", booking.pk)).content
    before = SentEmail.objects.filter(booking=booking).count()

    with run_on_commit():
        response = client.post(do_url(booking, "resend_confirmation"), follow=True)

    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["ada@example.com"] and booking.reference in message.subject
    assert message.extra_headers["X-Stayhold-Email"] == "confirmation"
    row = SentEmail.objects.filter(booking=booking).latest("id")
    assert SentEmail.objects.filter(booking=booking).count() == before + 1
    assert (row.kind, row.sent_at is not None) == ("confirmation", True)
    assert (last_event(booking).actor_user, last_event(booking).to_status) == (owner, S.CONFIRMED)
    assert "sent again to ada@example.com" in response.content.decode()


def test_resend_is_not_offered_for_a_reservation(prop, book, owner, as_user):
    booking = book(prop)
    client = as_user(owner)
    assert b'data-action="resend_confirmation"' not in client.get(url("change", booking.pk)).content

    response = client.post(do_url(booking, "resend_confirmation"), follow=True)

    assert "Only a confirmed booking" in response.content.decode()
    assert not SentEmail.objects.filter(booking=booking, dedupe_key__contains="resend").exists()


def test_owner_bulk_confirm_check_in_and_check_out(prop, book, owner, as_user):
    first, second = book(prop, start=0, nights=2), book(prop, start=5, nights=2)
    client = as_user(owner)

    response = bulk(client, "confirm_selected", [first, second])

    assert {reload(first).status, reload(second).status} == {S.CONFIRMED}
    assert "Confirmed 2 booking(s)" in response.content.decode()
    assert last_event(first).actor_user == owner

    response = bulk(client, "check_in_selected", [first, second])

    assert reload(first).status == S.CHECKED_IN
    assert reload(second).status == S.CONFIRMED  # arrives in five days: refused with a message
    assert "cannot check in before the arrival date" in response.content.decode()

    bulk(client, "check_out_selected", [first])

    assert reload(first).status == S.CHECKED_OUT and last_event(first).actor_user == owner


def test_bulk_cancel_opens_the_cancel_page_of_one_booking(prop, book, owner, as_user):
    first, second = book(prop, start=10), book(prop, start=20)
    client = as_user(owner)

    response = client.post(url("changelist"), {"action": "cancel_selected", "_selected_action": [first.pk]})
    assert response.status_code == 302 and response["Location"] == url("cancel", first.pk)

    response = bulk(client, "cancel_selected", [first, second])
    assert "Cancel one booking at a time" in response.content.decode()
    assert {reload(first).status, reload(second).status} == {S.RESERVED}


# --- staff: check in/out and resend, never confirm or cancel -------------------------------------------------


def test_staff_cannot_confirm_or_cancel(prop, book, staffer, as_user):
    booking = book(prop)
    client = as_user(staffer)

    page = client.get(url("change", booking.pk))
    assert page.status_code == 200
    assert b'data-action="confirm"' not in page.content and b'data-action="cancel"' not in page.content
    changelist = client.get(url("changelist")).content.decode()
    assert booking.reference in changelist
    assert "confirm_selected" not in changelist and "cancel_selected" not in changelist
    assert "check_in_selected" in changelist
    assert url("owner_add") not in changelist

    assert client.post(do_url(booking, "confirm")).status_code == 403
    assert client.get(url("cancel", booking.pk)).status_code == 403
    assert client.post(url("cancel", booking.pk), {"refund": "policy", "reason": "x"}).status_code == 403
    assert client.post(url("changelist"), {"action": "confirm_selected",
                                           "_selected_action": [booking.pk]}).status_code == 403
    assert client.post(url("changelist"), {"action": "cancel_selected",
                                           "_selected_action": [booking.pk]}).status_code == 403
    assert client.get(url("owner_add")).status_code == 403
    assert reload(booking).status == S.RESERVED
    assert not BookingEvent.objects.filter(booking=booking, actor_user=staffer).exists()


def test_staff_checks_in_and_out(prop, book, staffer, as_user):
    booking = confirmed(book, prop, start=0, nights=2)
    client = as_user(staffer)
    assert b'data-action="check_in"' in client.get(url("change", booking.pk)).content

    client.post(do_url(booking, "check_in"))
    assert reload(booking).status == S.CHECKED_IN
    assert last_event(booking).actor_user == staffer

    bulk(client, "check_out_selected", [booking])
    assert reload(booking).status == S.CHECKED_OUT
    assert last_event(booking).actor_user == staffer


def test_a_user_without_checkin_permission_gets_403(prop, book, as_user):
    from tests.factories import UserFactory

    from .conftest import grant

    viewer = grant(UserFactory(email="viewer@example.com", is_staff=True), ["view_booking"])
    prop.staff.add(viewer)
    booking = confirmed(book, prop, start=0, nights=2)
    client = as_user(viewer)

    assert b"data-action=" not in client.get(url("change", booking.pk)).content
    assert client.post(do_url(booking, "check_in")).status_code == 403
    assert client.post(url("changelist"), {"action": "check_in_selected",
                                           "_selected_action": [booking.pk]}).status_code == 403
    assert reload(booking).status == S.CONFIRMED


# --- tenants: owner B never acts on owner A's booking --------------------------------------------------------


def test_owner_b_cannot_act_on_owner_a_bookings(prop, book, owner_b, as_user):
    booking = book(prop)
    arriving = confirmed(book, prop, start=0, nights=2)
    client = as_user(owner_b)

    assert client.get(url("change", booking.pk)).status_code == 302  # the admin's "does not exist" redirect
    assert client.post(do_url(booking, "confirm")).status_code == 404
    assert client.post(do_url(arriving, "check_in")).status_code == 404
    assert client.get(url("cancel", booking.pk)).status_code == 404
    assert client.post(url("cancel", booking.pk), {"refund": "full", "reason": "x"}).status_code == 404
    for action, target in (("confirm_selected", booking), ("check_in_selected", arriving),
                           ("revoke_guest_links", booking)):
        bulk(client, action, [target])
    client.post(url("changelist"), {"action": "cancel_selected", "_selected_action": [booking.pk]})

    assert reload(booking).status == S.RESERVED and reload(booking).access_version == 0
    assert reload(arriving).status == S.CONFIRMED
    assert not BookingEvent.objects.filter(actor_user=owner_b).exists()
    assert booking.reference not in client.get(url("changelist")).content.decode()


def test_get_on_an_action_url_is_refused(prop, book, owner, as_user):
    booking = book(prop)
    assert as_user(owner).get(do_url(booking, "confirm")).status_code == 405
    assert reload(booking).status == S.RESERVED


def test_unknown_action_is_404(prop, book, owner, as_user):
    booking = book(prop)
    assert as_user(owner).post(do_url(booking, "delete")).status_code == 404
    assert as_user(owner).post(do_url(booking, "cancel")).status_code == 404  # cancel has its own page


def test_buttons_post_with_a_csrf_token(prop, book, owner):
    from django.test import Client

    booking = book(prop)
    client = Client(enforce_csrf_checks=True)
    client.force_login(owner)

    assert client.post(do_url(booking, "confirm")).status_code == 403  # no token
    page = client.get(url("change", booking.pk))
    token = client.cookies["csrftoken"].value
    assert b"csrfmiddlewaretoken" in page.content
    assert client.post(do_url(booking, "confirm"), {"csrfmiddlewaretoken": token}).status_code == 302
    assert reload(booking).status == S.CONFIRMED

