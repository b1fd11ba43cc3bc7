"""Erasure: PII gone from every table that held it, financial records and totals kept, refusals, audit."""

import json
from decimal import Decimal

import pytest
from django.urls import reverse

from bookings.links import status_url
from bookings.models import AvailabilityBlock, Booking, BookingEvent, SentEmail, TurnoverTask
from core.actor import Actor
from core.models import ImmutableRowError
from guests.models import Guest
from messaging.models import Message
from payments.models import ManualPayment, ManualPaymentEvent, Payment, Refund, private_storage
from privacy import services
from privacy.errors import AlreadyErased, ErasureRefused
from privacy.models import PrivacyAction, PrivacyEvent
from tests.factories import SuperuserFactory

pytestmark = pytest.mark.django_db
PII = ("Ada Lovelace", "ada@example.com", "+44 20 7946 0000", "A. Lovelace")


def dump(queryset, *fields) -> str:
    return json.dumps(list(queryset.values(*fields)), default=str)


def money_snapshot():
    return (dump(Booking.objects.order_by("pk"), "reference", "check_in", "check_out", "currency", "total",
                 "amount_paid", "amount_refunded", "status"),
            dump(Payment.objects.order_by("pk"), "amount", "currency", "status", "amount_refunded", "provider_ref"),
            dump(Refund.objects.order_by("pk"), "amount", "currency", "status"),
            dump(ManualPayment.objects.order_by("pk"), "amount", "currency", "code", "status"))


def erase(history, **kwargs):
    kwargs.setdefault("actor", Actor.for_user(SuperuserFactory()))
    kwargs.setdefault("channel", "admin")
    return services.erase_guest(guest_id=history.ada.pk, **kwargs)


def test_erasure_removes_the_guest_from_every_table_and_keeps_the_money(past, django_capture_on_commit_callbacks):
    proof = past.manual.proof.name
    assert private_storage().exists(proof)
    before = money_snapshot()
    with django_capture_on_commit_callbacks(execute=True):
        event = erase(past)
    assert money_snapshot() == before, "accounting records and totals unchanged"
    ada = Guest.objects.get(pk=past.ada.pk)
    assert (ada.name, ada.email, ada.phone, ada.user, ada.country) == (f"Erased guest G{ada.pk}", "", "", None, "GB")
    ada_bookings = Booking.objects.filter(guest=ada)
    everything = "\n".join([
        dump(Guest.objects.filter(pk=ada.pk), "name", "email", "phone"),
        dump(ada_bookings, "special_requests", "cancellation_reason", "quote"),
        dump(BookingEvent.objects.filter(booking__guest=ada), "actor_label", "reason"),
        dump(Message.objects.filter(thread__booking__guest=ada), "author_label", "body"),
        dump(SentEmail.objects.filter(booking__guest=ada), "to", "data", "last_error"),
        dump(Refund.objects.filter(payment__booking__guest=ada), "actor_label", "reason"),
        dump(ManualPayment.objects.filter(booking__guest=ada), "guest_reference", "proof"),
        dump(ManualPaymentEvent.objects.filter(payment__booking__guest=ada), "actor_label", "reason", "ip"),
        dump(AvailabilityBlock.objects.all(), "external_summary"),
        dump(TurnoverTask.objects.all(), "notes"),
        dump(__import__("channels.models").models.SyncConflict.objects.all(), "summary", "description", "detail"),
        dump(PrivacyEvent.objects.all(), "actor_label", "reason", "detail"),
    ])
    for value in PII:
        assert value not in everything, value
    assert "203.0.113.7" not in everything
    assert not private_storage().exists(proof)
    assert ada_bookings.count() == 2
    assert SentEmail.objects.get(dedupe_key="ada-pre").to == "", "kind and dates kept, the address gone"
    unsent = SentEmail.objects.get(dedupe_key="ada-later")
    assert unsent.status == "failed", "an email not sent yet never goes out to an erased guest"
    assert SentEmail.objects.get(dedupe_key="ada-owner").to == "owner-a@example.com"  # the owner's own address
    assert event.detail["steps"]["bookings"]["bookings"] == 2
    assert event.detail["steps"]["payments"]["proofs_deleted"] == 1
    assert event.detail["steps"]["bookings"]["audit_rows_redacted"] >= 2
    # the thread: the guest's text gone, the owner's reply kept with the guest's name and phone replaced
    assert event.detail["steps"]["messaging"] == {"guest_messages": 1, "attachments_deleted": 0,
                                                  "owner_messages_redacted": 1}
    reply = Message.objects.get(thread__booking=past.ada_a, direction="owner")
    assert reply.body == f"Welcome, {ada.name}! Call us on {ada.name}."


def test_the_guests_account_is_anonymised_and_closed(past):
    from allauth.account.models import EmailAddress

    from tests.factories import UserFactory

    account = UserFactory(email="ada@example.com", full_name="Ada Lovelace")
    EmailAddress.objects.create(user=account, email="ada@example.com", verified=True, primary=True)
    event = erase(past)
    account.refresh_from_db()
    assert (account.is_active, account.full_name, account.has_usable_password()) == (False, "", False)
    assert "ada" not in account.email and not EmailAddress.objects.filter(user=account).exists()
    assert event.detail["steps"]["accounts"] == {"accounts": 1}


def test_a_back_office_account_with_the_guests_address_is_never_touched(past, owner_a):
    from allauth.account.models import EmailAddress

    from guests.models import User
    from tests.factories import StaffFactory

    staff = StaffFactory(email="ada@example.com", employer=owner_a)
    EmailAddress.objects.create(user=staff, email="ada@example.com", verified=True, primary=True)
    event = erase(past)
    staff = User.objects.get(pk=staff.pk)
    assert staff.is_active and staff.email == "ada@example.com", "closed by offboarding, not by a guest's erasure"
    assert event.detail["steps"]["accounts"] == {"accounts": 0}


def test_the_other_guest_is_untouched(past):
    grace_guest = past.grace.guest
    erase(past)
    grace_guest.refresh_from_db()
    assert (grace_guest.name, grace_guest.email) == ("Grace Hopper", "grace@example.com")
    assert Message.objects.get(thread__booking=past.grace).body == "Hi from Grace"
    assert Booking.objects.get(pk=past.grace.pk).special_requests == "Grace arrives late"


def test_audit_rows_keep_their_shape_and_only_the_quote_changes(past):
    rows = list(BookingEvent.objects.filter(booking=past.ada_a).order_by("pk")
                .values_list("pk", "from_status", "to_status", "actor_type", "created_at", "cause"))
    quoting = BookingEvent.objects.get(booking=past.ada_a, reason__contains="resent")
    assert "ada@example.com" in quoting.reason
    erase(past)
    after = list(BookingEvent.objects.filter(booking=past.ada_a).order_by("pk")
                 .values_list("pk", "from_status", "to_status", "actor_type", "created_at", "cause"))
    assert after[:len(rows)] == rows, "who-type, when, from, to and cause unchanged"
    assert len(after) == len(rows) + 1  # the erasure's own row, naming nobody
    quoting.refresh_from_db()
    assert quoting.reason == f"Confirmation email resent to Erased guest G{past.ada.pk}."
    assert BookingEvent.objects.filter(actor_label="ada@example.com").count() == 0
    with pytest.raises(ImmutableRowError):
        quoting.save()
    with pytest.raises(ImmutableRowError):
        BookingEvent.objects.filter(pk=quoting.pk).update(reason="x")


def test_magic_links_are_revoked(client, past):
    url = status_url(past.ada_a)
    assert client.get(url).status_code == 200
    erase(past)
    assert client.get(url).status_code == 404


def test_erasure_is_audited_once_and_refused_the_second_time(past):
    erase(past, reason="Guest's email of 1 Dec")
    event = PrivacyEvent.objects.get(action=PrivacyAction.ERASURE)
    assert (event.guest_id, event.channel, event.reason) == (past.ada.pk, "admin", "Guest's email of 1 Dec")
    with pytest.raises(AlreadyErased):
        erase(past)
    assert PrivacyEvent.objects.filter(action=PrivacyAction.ERASURE).count() == 1


def test_refused_while_a_stay_is_not_over(history):
    before = money_snapshot()
    with pytest.raises(ErasureRefused) as info:
        erase(history)
    assert history.ada_a.reference in info.value.detail and history.ada_b.reference in info.value.detail
    assert info.value.code == "erasure_refused" and info.value.http_status == 409
    assert Guest.objects.get(pk=history.ada.pk).email == "ada@example.com"
    assert money_snapshot() == before and not PrivacyEvent.objects.exists()


@pytest.mark.parametrize("money", ["open_payment", "pending_refund", "claimed_manual"])
def test_refused_while_money_is_in_flight(past, money):
    if money == "open_payment":
        Payment.objects.create(booking=past.ada_a, attempt=2, amount=Decimal("5"), currency="EUR",
                               status="requires_action", idempotency_key="idem-open")
    elif money == "pending_refund":
        Refund.objects.create(payment=past.payment, amount=Decimal("1"), currency="EUR", status="pending")
    else:
        ManualPayment.objects.filter(pk=past.manual.pk).update(status="claimed")
    with pytest.raises(ErasureRefused):
        erase(past)
    assert Guest.objects.get(pk=past.ada.pk).name == "Ada Lovelace"


def test_a_cancelled_future_booking_does_not_block(past):
    from bookings import services as booking_services
    from tests.privacy.conftest import ADA, _reserve

    future_booking = _reserve(past.prop_b, ADA, 50)
    assert future_booking.guest_id == past.ada.pk
    with pytest.raises(ErasureRefused):
        erase(past)
    booking_services.cancel(booking_id=future_booking.pk, actor=Actor.system("t"), reason="changed plans")
    erase(past)


# --- the admin ------------------------------------------------------------------------------------------------


def test_only_superusers_erase_from_the_admin(client, past, owner_a):
    url = reverse("admin:guests_guest_privacy_erase", args=[past.ada.pk])
    client.force_login(owner_a)
    assert client.post(url).status_code == 403
    root = SuperuserFactory()
    client.force_login(root)
    page = client.get(reverse("admin:guests_guest_change", args=[past.ada.pk]))
    assert url.encode() in page.content
    assert b"Erase personal data" in client.get(url).content
    response = client.post(url, {"reason": "Request by email"})
    assert response.status_code == 302
    assert Guest.objects.get(pk=past.ada.pk).email == ""
    event = PrivacyEvent.objects.get(action="erasure")
    assert event.actor_user == root and event.reason == "Request by email"


def test_the_admin_shows_the_refusal(client, history):
    client.force_login(SuperuserFactory())
    url = reverse("admin:guests_guest_privacy_erase", args=[history.ada.pk])
    assert b"Not possible yet" in client.get(url).content
    response = client.post(url, follow=True)
    assert b"cannot be erased yet" in response.content
    assert Guest.objects.get(pk=history.ada.pk).email == "ada@example.com"


def test_the_guests_review_loses_its_text_and_name_and_keeps_its_ratings(past, owner_a):
    from reviews import services as review_services
    from reviews.models import Review, ReviewEvent
    from reviews.selectors import rating_summary

    review = review_services.submit_review(
        booking_id=past.ada_a.pk, ratings={"overall": 4, "cleanliness": 5}, title="Ada Lovelace loved it",
        body="Lovely stay. Ada Lovelace, ada@example.com", actor=Actor.guest_of(past.ada_a))
    review_services.set_reply(review_id=review.pk, text="Thank you, Ada Lovelace!", user=owner_a)
    average_before = rating_summary(past.prop_a.pk)
    event = erase(past)
    review.refresh_from_db()
    pseudonym = Guest.objects.get(pk=past.ada.pk).name
    assert (review.overall, review.cleanliness) == (4, 5), "the ratings stay"
    assert (review.title, review.body, review.guest_display_name) == ("", "[erased]", pseudonym)
    assert review.reply == f"Thank you, {pseudonym}!"
    assert rating_summary(past.prop_a.pk) == average_before, "the averages other guests read do not move"
    trail = dump(ReviewEvent.objects.filter(review=review), "actor_label", "reason")
    for value in PII:
        assert value not in trail, value
    assert ReviewEvent.objects.filter(review=review, action="erased").count() == 1
    assert event.detail["steps"]["reviews"]["reviews"] == 1
    assert Review.objects.count() == 1
