"""The personal-data export: every section, no card data or secrets, nobody else's data, audited."""

import json

import pytest
from django.urls import reverse

from bookings.links import status_url
from core.actor import Actor
from privacy import selectors, services
from privacy.models import PrivacyAction, PrivacyEvent
from privacy.sections import EXPORT_SECTIONS, FORMAT, FORMAT_VERSION
from tests.factories import StaffFactory, SuperuserFactory

pytestmark = pytest.mark.django_db
SECRETS = ("pi_secret_ada", "idem-ada", "re_ada", "secret", "fernet:", "pay@owner-b.example", "proof-ada")


def text_of(document) -> str:
    return json.dumps(document, default=str)


def test_a_guest_export_has_every_section_and_the_whole_history(history):
    document = services.export_data(scope=selectors.guest_scope([history.ada]), actor=Actor.system("t"),
                                    channel="portal")
    assert document["format"] == FORMAT and document["version"] == FORMAT_VERSION
    assert {s.key for s in EXPORT_SECTIONS} <= set(document)
    assert document["profile"] == [{**document["profile"][0], "name": "Ada Lovelace", "email": "ada@example.com",
                                    "phone": "+44 20 7946 0000", "country": "GB"}]
    bookings = {b["reference"]: b for b in document["bookings"]}
    assert set(bookings) == {history.ada_a.reference, history.ada_b.reference}
    ada_a = bookings[history.ada_a.reference]
    assert ada_a["property"] == "Villa Alpha" and ada_a["total"] == str(history.ada_a.total)
    assert [(h["from"], h["to"]) for h in ada_a["status_history"]][:2] == [("", "reserved"), ("reserved", "confirmed")]
    assert ada_a["special_requests"].startswith("Ada needs a cot")
    assert [(m["from"], m["body"]) for m in document["messages"]] == [
        ("guest", "Hello, this is Ada Lovelace, ada@example.com"),
        ("owner", "Welcome, Ada Lovelace! Call us on +44 20 7946 0000.")]  # the whole thread (messaging)
    assert document["reviews"] == []  # no stay of hers is over yet
    card = [p for p in document["payments"] if p["method"] == "stripe"]
    manual = [p for p in document["payments"] if p["method"] == "zelle"]
    assert card[0]["amount"] == str(history.payment.amount) and card[0]["status"] == "partially_refunded"
    assert manual[0]["proof_uploaded"] is True and manual[0]["your_reference"] == "From A. Lovelace"
    assert [(r["amount"], r["status"]) for r in document["refunds"]] == [("10.00", "succeeded")]
    kinds = {e["kind"] for e in document["emails"]}
    assert {"pre_arrival", "thank_you"} <= kinds and "owner_new_booking" not in kinds  # sent to the owner, not her
    assert document["account"] is None


def test_no_card_data_no_provider_ids_no_secrets_and_no_other_guest(history):
    document = services.export_data(scope=selectors.guest_scope([history.ada]), actor=Actor.system("t"),
                                    channel="portal")
    text = text_of(document)
    for secret in SECRETS:
        assert secret not in text, secret
    for word in ("card_number", "last4", "exp_month", "cvc", "client_secret"):
        assert word not in text
    assert "Grace" not in text and "grace@example.com" not in text and history.grace.reference not in text


def test_an_owner_exports_only_what_is_tied_to_their_own_bookings(history, owner_a):
    document = services.export_data(scope=selectors.back_office_scope(history.ada, owner_a),
                                    actor=Actor.for_user(owner_a), channel="admin")
    assert document["audience"] == "owner"
    assert [b["reference"] for b in document["bookings"]] == [history.ada_a.reference]
    assert all(p["booking"] == history.ada_a.reference for p in document["payments"])
    assert "Chalet Beta" not in text_of(document) and "ADAPAY23" not in text_of(document)


def test_assigned_staff_see_their_properties_only_and_superusers_everything(history, owner_b):
    staff = StaffFactory(employer=owner_b, properties=[history.prop_b])
    scope = selectors.back_office_scope(history.ada, staff)
    assert list(scope.bookings) == [history.ada_b]
    root = SuperuserFactory()
    assert set(selectors.back_office_scope(history.ada, root).bookings) == {history.ada_a, history.ada_b}


def test_every_export_is_audited_naming_nobody(history, owner_a):
    services.export_data(scope=selectors.back_office_scope(history.ada, owner_a), actor=Actor.for_user(owner_a),
                         channel="admin", reason="Guest asked by phone")
    event = PrivacyEvent.objects.get(action=PrivacyAction.EXPORT)
    assert (event.guest, event.actor_user, event.channel, event.reason) == (history.ada, owner_a, "admin",
                                                                             "Guest asked by phone")
    assert event.detail["sections"]["bookings"] == 1 and event.detail["audience"] == "owner"
    assert "ada@example.com" not in text_of(event.detail)


# --- the pages ---------------------------------------------------------------------------------------------------


def test_the_magic_link_downloads_that_guests_data(client, history):
    url = status_url(history.ada_a, "privacy:booking_export")
    response = client.get(url)
    assert response.status_code == 200 and "attachment" in response["Content-Disposition"]
    document = json.loads(response.content)
    assert {b["reference"] for b in document["bookings"]} == {history.ada_a.reference, history.ada_b.reference}
    event = PrivacyEvent.objects.get()
    assert (event.channel, event.actor_type, event.guest_id) == ("portal", "guest", history.ada.pk)
    page = client.get(status_url(history.ada_a))
    assert url.split("?")[0].encode() + b"?token=" in page.content  # the token itself carries a timestamp


def test_a_wrong_or_revoked_token_is_a_404(client, history):
    url = reverse("privacy:booking_export", args=[history.ada_a.reference])
    assert client.get(url + "?token=forged").status_code == 404
    other = status_url(history.grace, "privacy:booking_export").split("?")[1]
    assert client.get(f"{url}?{other}").status_code == 404
    assert not PrivacyEvent.objects.exists()


def test_the_signed_in_guest_downloads_everything_of_their_verified_addresses(client, history):
    from allauth.account.models import EmailAddress

    from tests.factories import UserFactory

    user = UserFactory(email="ada@example.com")
    EmailAddress.objects.create(user=user, email="ada@example.com", verified=True, primary=True)
    client.force_login(user)
    page = client.get(reverse("my-bookings"))
    assert reverse("privacy:account_export").encode() in page.content
    document = json.loads(client.get(reverse("privacy:account_export")).content)
    assert document["account"]["email"] == "ada@example.com"
    assert {b["reference"] for b in document["bookings"]} == {history.ada_a.reference, history.ada_b.reference}
    assert "Grace" not in text_of(document)


def test_an_unverified_account_exports_no_guest_data(client, history):
    from tests.factories import UserFactory

    client.force_login(UserFactory(email="ada@example.com"))
    document = json.loads(client.get(reverse("privacy:account_export")).content)
    assert document["profile"] == [] and document["bookings"] == []


def test_the_admin_export_is_tenant_scoped(client, history, owner_a, owner_b):
    url = reverse("admin:guests_guest_privacy_export", args=[history.grace.guest_id])
    client.force_login(owner_b)  # Grace never booked with owner B
    response = client.get(url)
    assert response.status_code in (302, 404) and not PrivacyEvent.objects.exists()
    client.force_login(owner_a)
    page = client.get(reverse("admin:guests_guest_change", args=[history.ada.pk]))
    assert reverse("admin:guests_guest_privacy_export", args=[history.ada.pk]).encode() in page.content
    assert b"privacy-erase" not in page.content  # owners do not erase
    document = json.loads(client.get(reverse("admin:guests_guest_privacy_export", args=[history.ada.pk])).content)
    assert [b["reference"] for b in document["bookings"]] == [history.ada_a.reference]


def test_export_queries_are_bounded(history, django_assert_max_num_queries):
    scope = selectors.guest_scope([history.ada])
    with django_assert_max_num_queries(20):
        services.export_data(scope=scope, actor=Actor.system("t"), channel="portal")


def test_the_export_carries_the_guests_reviews_with_the_owners_reply(past, owner_a):
    from reviews import services as review_services

    review = review_services.submit_review(booking_id=past.ada_a.pk, ratings={"overall": 4}, title="Quiet",
                                           body="A quiet week.", actor=Actor.guest_of(past.ada_a))
    review_services.set_reply(review_id=review.pk, text="Come back soon!", user=owner_a)
    document = services.export_data(scope=selectors.guest_scope([past.ada]), actor=Actor.system("t"),
                                    channel="portal")
    [exported] = document["reviews"]
    assert (exported["booking"], exported["ratings"]["overall"], exported["body"], exported["owner_reply"]) == (
        past.ada_a.reference, 4, "A quiet week.", "Come back soon!")
