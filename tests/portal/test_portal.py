"""The guest portal: view, pay link, cancel with the refund shown first, receipt, message the owner; magic links
that are signed, expiring and revocable. A guest sees only their own booking: anything else is a 404."""

import time as clock
from datetime import datetime, time, timedelta
from decimal import Decimal

import pytest
from django.contrib.auth.models import Permission
from django.core import mail, signing
from django.test import Client
from django.utils import timezone

from bookings import services
from bookings.models import BookingEvent, BookingStatus
from bookings.models import PaymentStatus as BP
from bookings.tokens import booking_access_token, check_booking_access_token, hold_release_token
from core.actor import Actor
from messaging.models import Message
from payments.errors import ProviderError
from payments.models import Refund
from tests.factories import PropertyFactory, UserFactory
from tests.pages.conftest import text

pytestmark = pytest.mark.django_db


def url(booking, suffix="", token=None):
    token = booking_access_token(booking) if token is None else token
    return f"/bookings/{booking.reference}/{suffix}?token={token}"


@pytest.fixture
def csrf_client():
    return Client(enforce_csrf_checks=True)


def csrf_post(client, path, data, page=None):
    """GET the page with the form first (as a browser does) and post with its CSRF token."""
    assert client.get(page or path).status_code == 200
    return client.post(path, {**data, "csrfmiddlewaretoken": client.cookies["csrftoken"].value})


# --- the portal page -------------------------------------------------------------------------------------


def test_the_booking_page_is_the_portal(client, paid):
    booking = paid("moderate", start=40)
    response = client.get(url(booking))
    assert response.status_code == 200
    html, visible = response.content.decode(), text(response)
    assert "Your booking is confirmed" in visible and booking.reference in visible
    assert f'href="/bookings/{booking.reference}/receipt?token=' in html
    assert f'href="/bookings/{booking.reference}/cancel?token=' in html
    assert f'action="/bookings/{booking.reference}/messages?token=' in html
    assert "Moderate" in visible and "Amount paid" in visible


def test_a_reserved_booking_links_to_the_payment_page(client, prop, book):
    booking = book(prop, start=20)
    html = client.get(url(booking)).content.decode()
    assert f'href="/payments/{booking.reference}/pay/?token=' in html
    assert f"/bookings/{booking.reference}/cancel?token=" in html  # an unpaid reservation can be called off too


@pytest.mark.parametrize("suffix", ["", "receipt", "cancel", "calendar.ics"])
def test_wrong_forged_or_foreign_tokens_are_404(client, prop, book, suffix):
    booking, other = book(prop, start=10), book(prop, start=20)
    assert client.get(url(booking, suffix)).status_code == 200
    assert client.get(f"/bookings/{booking.reference}/{suffix}").status_code == 404
    assert client.get(url(booking, suffix, token="nonsense")).status_code == 404
    assert client.get(url(booking, suffix, token=booking_access_token(other))).status_code == 404
    assert client.get(url(booking, suffix, token=hold_release_token(booking))).status_code == 404
    forged = signing.dumps({"b": booking.pk, "r": booking.reference}, salt="stayhold.bookings.access-token",
                           key="not-the-secret-key", compress=True)
    assert client.get(url(booking, suffix, token=forged)).status_code == 404
    assert client.get(f"/bookings/PMS-2026-NOPE0/{suffix}?token={booking_access_token(booking)}").status_code == 404


def test_posts_with_a_foreign_token_change_nothing(client, prop, book):
    booking, other = book(prop, start=10), book(prop, start=20)
    foreign = booking_access_token(other)
    assert client.post(url(booking, "cancel", token=foreign), {"quoted_refund": "0"}).status_code == 404
    assert client.post(url(booking, "messages", token=foreign), {"body": "hi"}).status_code == 404
    booking.refresh_from_db()
    assert booking.status == BookingStatus.RESERVED and not Message.objects.exists()


def test_expired_links_are_404(client, prop, book, monkeypatch):
    booking = book(prop, start=10)
    issued = clock.time() - 60 * 60 * 24 * 801  # the link's lifetime is 800 days
    monkeypatch.setattr(signing.time, "time", lambda: issued)
    old = booking_access_token(booking)
    monkeypatch.undo()
    assert not check_booking_access_token(old, booking)
    assert client.get(url(booking, token=old)).status_code == 404


def test_revoking_kills_every_earlier_link_and_new_links_work(client, prop, book):
    booking = book(prop, start=10)
    old = booking_access_token(booking)
    assert client.get(url(booking, token=old)).status_code == 200

    revoked = services.revoke_guest_links(booking_id=booking.pk, actor=Actor.system("test"))
    assert revoked.access_version == 1 and revoked.status == BookingStatus.RESERVED
    assert BookingEvent.objects.filter(booking=booking, reason="Guest links revoked.").exists()
    for suffix in ("", "receipt", "cancel", "calendar.ics"):
        assert client.get(url(booking, suffix, token=old)).status_code == 404
    assert client.get(f"/api/v1/bookings/{booking.reference}?token={old}").status_code == 404  # the API's too
    fresh = booking_access_token(revoked)
    assert client.get(url(revoked, token=fresh)).status_code == 200
    assert client.get(f"/api/v1/bookings/{booking.reference}?token={fresh}").status_code == 200


def test_owner_revokes_links_from_the_admin(client, prop, book):
    booking = book(prop, start=10)
    old = booking_access_token(booking)
    prop.owner.is_staff = True
    prop.owner.save()
    prop.owner.user_permissions.add(*Permission.objects.filter(codename__in=["view_booking", "manage_booking"]))
    client.force_login(prop.owner)
    response = client.post("/admin/bookings/booking/", {"action": "revoke_guest_links",
                                                        "_selected_action": [booking.pk]}, follow=True)
    assert response.status_code == 200
    booking.refresh_from_db()
    assert booking.access_version == 1 and not check_booking_access_token(old, booking)


# --- cancel ---------------------------------------------------------------------------------------------------


def test_cancel_shows_the_refund_before_confirming_and_then_refunds_it(csrf_client, paid, run_on_commit):
    booking = paid("moderate", start=40)
    page = url(booking, "cancel")
    response = csrf_client.get(page)
    visible = text(response)
    assert response.status_code == 200
    assert f"you get back €{booking.total:,.2f} of the €{booking.total:,.2f} you paid (100% under the " \
           "Moderate policy)" in visible
    assert booking.status == BookingStatus.CONFIRMED  # a GET changes nothing

    mail.outbox.clear()
    with run_on_commit():
        response = csrf_post(csrf_client, page, {"quoted_refund": str(booking.total), "reason": "Plans changed"})
    assert response.status_code == 302 and response["Location"].startswith(f"/bookings/{booking.reference}/?token=")
    booking.refresh_from_db()
    assert booking.status == BookingStatus.CANCELLED and booking.payment_status == BP.REFUNDED
    assert booking.amount_refunded == booking.total and booking.cancellation_reason == "Plans changed"
    event = BookingEvent.objects.get(booking=booking, from_status=BookingStatus.CONFIRMED,
                                     to_status=BookingStatus.CANCELLED)
    assert event.actor_type == "guest" and event.actor_label == "ada@example.com"
    after = text(csrf_client.get(response["Location"]))
    assert "This booking was cancelled" in after and f"Refund: €{booking.total:,.2f}" in after
    assert "cancellation" in [m.extra_headers["X-Stayhold-Email"] for m in mail.outbox]


def test_cancel_needs_csrf(csrf_client, paid):
    booking = paid("moderate", start=40)
    response = csrf_client.post(url(booking, "cancel"), {"quoted_refund": str(booking.total)})
    assert response.status_code == 403
    booking.refresh_from_db()
    assert booking.status == BookingStatus.CONFIRMED


def test_a_smaller_refund_than_shown_is_not_applied_silently(client, paid):
    booking = paid("moderate", start=40)
    response = client.post(url(booking, "cancel"), {"quoted_refund": str(booking.total + 1)})
    assert response.status_code == 409
    assert f"The refund is now €{booking.total:,.2f}" in text(response)
    assert client.post(url(booking, "cancel"), {"reason": "no quote"}).status_code == 409
    booking.refresh_from_db()
    assert booking.status == BookingStatus.CONFIRMED and not Refund.objects.exists()


def test_an_unpaid_reservation_cancels_with_nothing_to_refund(client, prop, book):
    booking = book(prop, start=20)
    assert "nothing has been paid" in text(client.get(url(booking, "cancel")))
    response = client.post(url(booking, "cancel"), {"quoted_refund": "0.00"})
    assert response.status_code == 302
    booking.refresh_from_db()
    assert booking.status == BookingStatus.CANCELLED and booking.amount_refunded == 0


def test_provider_errors_re_render_with_the_message(client, paid, monkeypatch):
    booking = paid("flexible", start=40)

    def down(**kwargs):
        raise ProviderError("Stripe is unreachable; nothing was changed.")

    monkeypatch.setattr("payments.services.cancel_with_refund", down)
    response = client.post(url(booking, "cancel"), {"quoted_refund": str(booking.total), "reason": "Sick"})
    assert response.status_code == 502
    visible = text(response)
    assert "Stripe is unreachable; nothing was changed." in visible and "Sick" in visible
    booking.refresh_from_db()
    assert booking.status == BookingStatus.CONFIRMED


def test_bookings_past_arrival_or_closed_cannot_be_cancelled(client, prop, book, confirmed):
    stay = confirmed(start=3, nights=2)
    arrival = timezone.make_aware(datetime.combine(stay.check_in, time(16)))
    services.check_in(booking_id=stay.pk, actor=Actor.system("t"), at=arrival)
    expired = book(prop, start=20)
    services.expire(booking_id=expired.pk, at=expired.expires_at + timedelta(seconds=1))
    for booking in (stay, expired):
        page = client.get(url(booking))
        assert f"/bookings/{booking.reference}/cancel?token=" not in page.content.decode()
        assert "can no longer be cancelled" in text(client.get(url(booking, "cancel")))
        assert client.post(url(booking, "cancel"), {"quoted_refund": "0"}).status_code == 409
    stay.refresh_from_db()
    expired.refresh_from_db()
    assert stay.status == BookingStatus.CHECKED_IN and expired.status == BookingStatus.EXPIRED


# --- receipt ------------------------------------------------------------------------------------------------


def test_the_receipt_lists_charges_payments_and_refunds(client, paid, run_on_commit):
    booking = paid("moderate", start=3)  # inside 5 days: a 50 % refund
    from payments.services import cancel_with_refund

    with run_on_commit():  # the refund is sent to Stripe after commit
        cancel_with_refund(booking_id=booking.pk, actor=Actor.guest("ada@example.com"), reason="Ill")
    booking.refresh_from_db()
    response = client.get(url(booking, "receipt"))
    assert response.status_code == 200
    visible = text(response)
    half = (booking.total / 2).quantize(Decimal("0.01"))
    assert "Receipt" in visible and booking.reference in visible and "Ada Lovelace" in visible
    assert f"3 nights €{booking.subtotal:,.2f}" in visible
    assert f"Total €{booking.total:,.2f}" in visible
    assert f"Card payment (attempt 1) Partially refunded €{booking.total:,.2f}" in visible
    assert f"Refund Succeeded −€{half:,.2f}" in visible
    assert f"Net paid €{booking.total - half:,.2f}" in visible
    assert "data-print" in response.content.decode()


def test_the_receipt_of_an_unpaid_reservation_shows_the_balance_due(client, prop, book):
    booking = book(prop, start=20)
    response = client.get(url(booking, "receipt"))
    visible = text(response)
    assert "No payment has been received." in visible and f"Balance due €{booking.total:,.2f}" in visible
    assert f"/payments/{booking.reference}/pay/?token=" in response.content.decode()


# --- messages --------------------------------------------------------------------------------------------------


def test_a_guest_message_reaches_the_owner_by_email_and_in_the_admin(csrf_client, client, prop, book, settings,
                                                                     run_on_commit):
    settings.SITE_URL = "http://testserver"
    booking = book(prop, start=20)
    mail.outbox.clear()
    with run_on_commit():
        response = csrf_post(csrf_client, url(booking, "messages"), {"body": "Can we arrive at 22:00?"},
                             page=url(booking))
    assert response.status_code == 302 and response["Location"].endswith("#messages")
    message = Message.objects.get()
    assert message.thread.booking == booking and message.sender == "ada@example.com"
    email, = mail.outbox
    assert email.to == ["owner@example.com"] and email.reply_to == ["ada@example.com"]
    assert "Can we arrive at 22:00?" in email.body and booking.reference in email.subject
    assert "Can we arrive at 22:00?" in text(csrf_client.get(url(booking)))

    prop.owner.is_staff = True
    prop.owner.save()
    prop.owner.user_permissions.add(Permission.objects.get(codename="view_booking"),
                                    Permission.objects.get(codename="view_thread"))
    client.force_login(prop.owner)
    # The booking's page links to the conversation, which is the inbox's thread page (messaging).
    assert f"/admin/messaging/thread/open/{booking.pk}/" in client.get(
        f"/admin/bookings/booking/{booking.pk}/change/").content.decode()
    admin_page = client.get(f"/admin/messaging/thread/{message.thread_id}/change/")
    assert admin_page.status_code == 200 and "Can we arrive at 22:00?" in admin_page.content.decode()
    stranger = UserFactory(email="someone@example.com", is_staff=True)
    client.force_login(stranger)
    assert client.get(f"/admin/messaging/thread/{message.thread_id}/change/").status_code in (302, 403, 404)


def test_messages_need_csrf_a_body_and_a_pace(csrf_client, client, prop, book, settings):
    settings.GUEST_MESSAGES_PER_HOUR = 2
    booking = book(prop, start=20)
    assert csrf_client.post(url(booking, "messages"), {"body": "hi"}).status_code == 403
    response = client.post(url(booking, "messages"), {"body": "   "})
    assert response.status_code == 400 and "Please write a message." in text(response)
    assert client.post(url(booking, "messages"), {"body": "one"}).status_code == 302
    assert client.post(url(booking, "messages"), {"body": "two"}).status_code == 302
    response = client.post(url(booking, "messages"), {"body": "three"})
    assert response.status_code == 400 and "please wait" in text(response)
    assert "three" in response.content.decode()  # the text is kept
    assert Message.objects.count() == 2
    assert client.get(url(booking, "messages")).status_code == 405


def test_a_guest_cannot_reach_another_owners_booking_through_their_own_link(client, book):
    mine, theirs = book(PropertyFactory(), start=10), book(PropertyFactory(), start=10)
    token = booking_access_token(mine)
    for suffix in ("", "receipt", "cancel"):
        assert client.get(f"/bookings/{theirs.reference}/{suffix}?token={token}").status_code == 404
