"""The guest's own erasure (now or as a request), the retention job, and the owner who leaves."""

from datetime import timedelta

import pytest
from allauth.account.models import EmailAddress
from django.urls import reverse
from django.utils import timezone

from bookings.models import Booking
from channels.models import ChannelConnection
from core.actor import Actor
from guests.models import Guest, User
from privacy import services
from privacy.errors import OffboardingRefused
from privacy.models import ErasureRequest, PrivacyAction, PrivacyEvent
from properties.models import Property
from tests.factories import GuestFactory, StaffFactory, SuperuserFactory, UserFactory
from tests.privacy.conftest import make_past

pytestmark = pytest.mark.django_db


def ada_account():
    user = UserFactory(email="ada@example.com")
    EmailAddress.objects.create(user=user, email="ada@example.com", verified=True, primary=True)
    return user


# --- the guest's account ------------------------------------------------------------------------------------------


def test_a_guest_with_nothing_pending_erases_their_account_at_once(client, past):
    user = ada_account()
    client.force_login(user)
    page = client.get(reverse("privacy:account_erase"))
    assert b"Erase my data now" in page.content
    assert client.post(reverse("privacy:account_erase")).status_code == 400  # the box not ticked
    response = client.post(reverse("privacy:account_erase"), {"confirm": "yes"})
    assert response.status_code == 200 and b"Your data was erased" in response.content
    user.refresh_from_db()
    assert not user.is_active and not user.has_usable_password() and "ada" not in user.email
    assert not EmailAddress.objects.filter(user=user).exists()
    assert Guest.objects.get(pk=past.ada.pk).email == ""
    assert client.get(reverse("my-bookings")).status_code == 302, "signed out"
    actions = list(PrivacyEvent.objects.order_by("pk").values_list("action", "channel", "actor_type"))
    assert actions == [("erasure", "account", "guest"), ("erasure", "account", "guest")]  # profile, then account


def test_with_a_stay_ahead_the_request_is_recorded_and_the_job_completes_it_later(client, history):
    user = ada_account()
    client.force_login(user)
    assert b"Not possible yet" in client.get(reverse("privacy:account_erase")).content
    response = client.post(reverse("privacy:account_erase"), {"confirm": "yes"})
    assert b"Your request is recorded" in response.content
    client.post(reverse("privacy:account_erase"), {"confirm": "yes"})  # asking twice records one request
    request = ErasureRequest.objects.get()
    assert request.status == "pending" and history.ada_a.reference in request.blockers
    assert Guest.objects.get(pk=history.ada.pk).email == "ada@example.com"
    assert services.erase_expired_guests().requests_completed == 0
    make_past(history.ada_a, 10)
    make_past(history.ada_b, 5)
    run = services.erase_expired_guests()
    assert run.requests_completed == 1 and run.erased == 0  # 5 days ago is not past the retention period
    request.refresh_from_db()
    assert request.status == "done" and Guest.objects.get(pk=history.ada.pk).email == ""
    assert PrivacyEvent.objects.filter(action="erasure", channel="request").count() == 2


def test_back_office_accounts_cannot_erase_themselves(client, owner_a):
    client.force_login(owner_a)
    response = client.post(reverse("privacy:account_erase"), {"confirm": "yes"})
    assert response.status_code == 400 and User.objects.get(pk=owner_a.pk).is_active


def test_the_erasure_page_needs_a_sign_in(client):
    assert client.get(reverse("privacy:account_erase")).status_code == 302
    assert client.get(reverse("privacy:account_export")).status_code == 302


# --- the retention job ---------------------------------------------------------------------------------------------


def test_the_retention_job_erases_only_guests_past_the_period(past, settings):
    settings.GUEST_RETENTION_YEARS = 1
    Booking.objects.filter(pk=past.ada_b.pk).update(check_in=timezone.localdate() - timedelta(days=303))
    make_past(past.grace, 100)  # Grace's last stay ended 100 days ago: kept
    make_past(past.ada_a, 800)
    make_past(past.ada_b, 700)  # Ada's last stay ended 700 days ago: past one year
    old_orphan = GuestFactory(name="Old Profile")
    Guest.objects.filter(pk=old_orphan.pk).update(created_at=timezone.now() - timedelta(days=800))
    new_orphan = GuestFactory(name="New Profile")
    run = services.erase_expired_guests(batch_size=1)
    assert run.erased == 2
    assert Guest.objects.get(pk=past.ada.pk).email == ""
    assert Guest.objects.get(pk=old_orphan.pk).name.startswith("Erased guest")
    assert Guest.objects.get(pk=past.grace.guest_id).email == "grace@example.com"
    assert Guest.objects.get(pk=new_orphan.pk).name == "New Profile"
    events = PrivacyEvent.objects.filter(action=PrivacyAction.ERASURE, channel="retention")
    assert events.count() == 2 and {e.actor_type for e in events} == {"system"}
    again = services.erase_expired_guests()
    assert again.erased == 0 and events.count() == 2, "twice = once"


def test_the_retention_job_skips_a_guest_with_money_in_flight_and_goes_on(past, settings):
    from payments.models import Payment

    settings.GUEST_RETENTION_YEARS = 0
    Payment.objects.create(booking=past.ada_a, attempt=2, amount=1, currency="EUR", status="pending",
                           idempotency_key="idem-pending")
    run = services.erase_expired_guests(batch_size=1)
    assert run.skipped == 1 and run.erased == 1
    assert Guest.objects.get(pk=past.ada.pk).email == "ada@example.com"
    assert Guest.objects.get(pk=past.grace.guest_id).email == ""


def test_the_retention_job_is_scheduled_by_beat():
    from django_celery_beat.models import PeriodicTask

    task = PeriodicTask.objects.get(task="privacy.tasks.erase_expired_guests")
    assert task.enabled and task.interval.every == 1 and task.interval.period == "days"


def test_the_task_runs_the_service(past, settings):
    from privacy.tasks import erase_expired_guests

    settings.GUEST_RETENTION_YEARS = 0
    assert erase_expired_guests.delay().get()["erased"] == 2


# --- an owner who leaves -------------------------------------------------------------------------------------------


def test_offboarding_disconnects_channels_wipes_credentials_and_closes_accounts(client, past, owner_a):
    connection = ChannelConnection.objects.get(property=past.prop_a)
    feed = reverse("channels:feed", args=[connection.export_token])
    assert client.get(feed).status_code == 200
    staff = StaffFactory(employer=owner_a, properties=[past.prop_a])
    root = SuperuserFactory()
    event = services.offboard_owner(owner_id=owner_a.pk, actor=Actor.for_user(root), reason="Left the platform")
    assert not ChannelConnection.objects.filter(property__owner=owner_a).exists()
    from django.db import connection as db

    with db.cursor() as cursor:  # nothing of the encrypted credentials left in the table
        cursor.execute(f"SELECT count(*) FROM {ChannelConnection._meta.db_table}")
        assert cursor.fetchone()[0] == 0
    assert client.get(feed).status_code == 404
    owner_a.refresh_from_db()
    staff.refresh_from_db()
    assert not owner_a.is_active and not staff.is_active
    assert Property.objects.get(pk=past.prop_a.pk).status == "archived"
    assert (event.action, event.subject_user, event.actor_user) == ("owner_offboarded", owner_a, root)
    assert event.detail["connections_deleted"] == 1 and event.detail["staff_deactivated"] == 1
    # the other owner is untouched
    assert Property.objects.get(pk=past.prop_b.pk).status == "active"


def test_offboarding_is_refused_while_a_stay_is_not_over(history, owner_a):
    with pytest.raises(OffboardingRefused):
        services.offboard_owner(owner_id=owner_a.pk, actor=Actor.system("t"))
    assert ChannelConnection.objects.filter(property__owner=owner_a).exists()
    assert User.objects.get(pk=owner_a.pk).is_active


def test_the_offboard_action_is_for_superusers_only(client, past, owner_a, owner_b):
    changelist = reverse("admin:guests_user_changelist")
    client.force_login(owner_b)
    response = client.post(changelist, {"action": "offboard_owner", "_selected_action": [owner_b.pk]})
    assert User.objects.get(pk=owner_b.pk).is_active
    assert response.status_code in (200, 302)
    client.force_login(SuperuserFactory())
    client.post(changelist, {"action": "offboard_owner", "_selected_action": [owner_a.pk]})
    assert not User.objects.get(pk=owner_a.pk).is_active
    assert PrivacyEvent.objects.filter(action="owner_offboarded", subject_user=owner_a).count() == 1
