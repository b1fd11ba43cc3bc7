"""The back office: owners reply publicly and flag; staff independent of the owner keep or hide; every change
audited; scoping (another owner's review, an unassigned staff member) and permissions hold in the admin *and* in
the services."""

import pytest
from django.urls import reverse

from core.models import ImmutableRowError
from reviews import services
from reviews.errors import InvalidReviewInput, ReviewError, ReviewNotFound, ReviewPermissionDenied
from reviews.models import Review, ReviewEvent, ReviewStatus
from tests.factories import OwnerFactory, PropertyFactory, StaffFactory, SuperuserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def review(prop, reviewed):
    return reviewed(prop, 2, body="The host was rude and the place was dirty.")


@pytest.fixture
def moderator(prop):
    """Staff assigned to ``prop`` who do not work for its owner (no ``employer``)."""
    return StaffFactory(email="moderator@example.com", properties=[prop])


@pytest.fixture
def employee(prop):
    """Staff assigned to ``prop`` employed by its owner."""
    return StaffFactory(email="employee@example.com", employer=prop.owner, properties=[prop])


def admin_url(name, review):
    return reverse(f"admin:reviews_review_{name}", args=[review.pk])


def events(review):
    return list(ReviewEvent.objects.filter(review=review).values_list("action", "from_status", "to_status",
                                                                      "actor_label", "reason"))


def test_owner_sees_the_list_and_the_review_with_reply_and_flag_forms(client, owner, review):
    client.force_login(owner)
    listing = client.get(reverse("admin:reviews_review_changelist"))
    assert listing.status_code == 200 and "The host was rude" not in listing.content.decode()
    assert f'href="{admin_url("change", review)}"' in listing.content.decode()

    page = client.get(admin_url("change", review)).content.decode()
    assert "The host was rude" in page
    assert admin_url("reply", review) in page and admin_url("flag", review) in page
    assert admin_url("moderate", review) not in page  # an owner never gets the hide form


def test_owner_replies_edits_and_removes_the_reply_audited(client, owner, review):
    client.force_login(owner)
    client.post(admin_url("reply", review), {"reply": "We are sorry; we have changed our cleaners."})
    review.refresh_from_db()
    assert review.reply.startswith("We are sorry") and review.replied_by == owner and review.replied_at

    client.post(admin_url("reply", review), {"reply": "Edited: sorry, new cleaners since May."})
    client.post(admin_url("reply", review), {"reply": "Edited: sorry, new cleaners since May."})  # unchanged: no row
    client.post(admin_url("reply", review), {"reply": "  "})
    review.refresh_from_db()
    assert review.reply == "" and review.replied_at is None
    assert [e[0] for e in events(review)] == ["created", "replied", "replied", "reply_removed"]
    assert all(e[1] == e[2] == "published" for e in events(review)[1:])  # a reply does not change the status

    too_long = client.post(admin_url("reply", review), {"reply": "x" * 2001}, follow=True)
    assert "at most 2000 characters" in too_long.content.decode()
    review.refresh_from_db()
    assert review.reply == ""


def test_owner_flags_with_a_reason_then_staff_keep_and_it_cannot_be_flagged_again(client, owner, moderator,
                                                                                 review):
    client.force_login(owner)
    refused = client.post(admin_url("flag", review), {"reason": "  "}, follow=True)
    assert "Say why the review is abusive" in refused.content.decode()
    client.post(admin_url("flag", review), {"reason": "Insults our cleaner by name."})
    review.refresh_from_db()
    assert review.status == ReviewStatus.FLAGGED and review.flagged_by == owner
    assert review.is_public()  # a flag alone does not silence the guest

    # the owner cannot hide it, not through the admin, not through the service
    client.post(admin_url("moderate", review), {"decision": "hide"})
    review.refresh_from_db()
    assert review.status == ReviewStatus.FLAGGED
    with pytest.raises(ReviewPermissionDenied):
        services.moderate_review(review_id=review.pk, decision="hide", user=owner)

    client.force_login(moderator)
    queue = client.get(reverse("admin:reviews_review_changelist"), {"queue": "flagged"}).content.decode()
    assert admin_url("change", review) in queue
    page = client.get(admin_url("change", review)).content.decode()
    assert "Insults our cleaner by name." in page and admin_url("moderate", review) in page
    client.post(admin_url("moderate", review), {"decision": "keep", "note": "Harsh but about the stay."})
    review.refresh_from_db()
    assert review.status == ReviewStatus.PUBLISHED and review.moderated_by == moderator

    with pytest.raises(ReviewError, match="already decided to keep"):
        services.flag_review(review_id=review.pk, reason="Again.", user=owner)
    assert events(review) == [
        ("created", "", "published", "ada@example.com", ""),
        ("flagged", "published", "flagged", owner.email, "Insults our cleaner by name."),
        ("kept", "flagged", "published", moderator.email, "Harsh but about the stay."),
    ]


def test_staff_hide_then_restore_and_the_property_page_follows(client, prop, owner, moderator, review):
    services.flag_review(review_id=review.pk, reason="Abusive.", user=owner)
    client.force_login(moderator)
    client.post(admin_url("moderate", review), {"decision": "hide", "note": "Personal insults."})
    review.refresh_from_db()
    assert review.status == ReviewStatus.HIDDEN
    client.logout()
    assert "The host was rude" not in client.get(f"/properties/{prop.slug}/").content.decode()

    with pytest.raises(ReviewError):  # keep is for flagged reviews only
        services.moderate_review(review_id=review.pk, decision="keep", user=moderator)
    services.moderate_review(review_id=review.pk, decision="restore", user=moderator, note="Appeal accepted.")
    review.refresh_from_db()
    assert review.status == ReviewStatus.PUBLISHED
    assert "The host was rude" in client.get(f"/properties/{prop.slug}/").content.decode()
    assert [e[0] for e in events(review)] == ["created", "flagged", "hidden", "restored"]
    with pytest.raises(InvalidReviewInput):
        services.moderate_review(review_id=review.pk, decision="delete", user=moderator)


def test_superuser_moderates_any_review(review):
    root = SuperuserFactory()
    services.moderate_review(review_id=review.pk, decision="hide", user=root)
    assert Review.objects.get(pk=review.pk).status == ReviewStatus.HIDDEN


def test_the_owners_own_staff_cannot_moderate_its_reviews(client, owner, employee, review):
    services.flag_review(review_id=review.pk, reason="Abusive.", user=owner)
    with pytest.raises(ReviewPermissionDenied, match="independent"):
        services.moderate_review(review_id=review.pk, decision="hide", user=employee)
    client.force_login(employee)
    assert admin_url("moderate", review) not in client.get(admin_url("change", review)).content.decode()
    client.post(admin_url("moderate", review), {"decision": "hide"})
    assert Review.objects.get(pk=review.pk).status == ReviewStatus.FLAGGED


def test_other_owners_and_unassigned_staff_reach_nothing(client, owner, review):
    other_owner = OwnerFactory(email="other-owner@example.com")
    PropertyFactory(owner=other_owner)
    unassigned = StaffFactory(email="unassigned@example.com", properties=[PropertyFactory()])
    for user in (other_owner, unassigned):
        client.force_login(user)
        listing = client.get(reverse("admin:reviews_review_changelist")).content.decode()
        assert admin_url("change", review) not in listing
        assert client.get(admin_url("change", review)).status_code == 302  # Django's "does not exist" redirect
        for name, data in (("reply", {"reply": "Hi"}), ("flag", {"reason": "x"}), ("moderate", {"decision": "hide"})):
            assert client.post(admin_url(name, review), data).status_code == 404
    for call in (lambda u: services.set_reply(review_id=review.pk, text="Hi", user=u),
                 lambda u: services.flag_review(review_id=review.pk, reason="x", user=u),
                 lambda u: services.moderate_review(review_id=review.pk, decision="hide", user=u)):
        for user in (other_owner, unassigned):
            with pytest.raises(ReviewNotFound):
                call(user)
    review.refresh_from_db()
    assert (review.status, review.reply, review.flag_reason) == (ReviewStatus.PUBLISHED, "", "")
    assert [e[0] for e in events(review)] == ["created"]


def test_staff_cannot_reply_or_flag_and_owners_lack_the_moderation_permission(owner, moderator, review):
    with pytest.raises(ReviewPermissionDenied):
        services.set_reply(review_id=review.pk, text="Hello", user=moderator)
    with pytest.raises(ReviewPermissionDenied):
        services.flag_review(review_id=review.pk, reason="x", user=moderator)
    assert not owner.has_perm("reviews.moderate_review")
    assert owner.has_perm("reviews.reply_review") and owner.has_perm("reviews.flag_review")
    assert moderator.has_perm("reviews.moderate_review")


def test_audit_rows_are_immutable(review):
    row = ReviewEvent.objects.get(review=review)
    row.reason = "rewritten"
    with pytest.raises(ImmutableRowError):
        row.save()
    with pytest.raises(ImmutableRowError):
        ReviewEvent.objects.filter(review=review).update(reason="rewritten")
    with pytest.raises(ImmutableRowError):
        row.delete()
