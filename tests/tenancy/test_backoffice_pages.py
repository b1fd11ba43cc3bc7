"""The back-office pages outside the model admins: login required everywhere, reports for owners only."""

import pytest
from django.urls import reverse

pytestmark = pytest.mark.django_db
PAGES = ["admin:index", "admin:calendar", "admin:reports", "admin:reports-csv", "admin:payments_manualpayment_queue"]


@pytest.mark.parametrize("name", PAGES)
def test_anonymous_is_sent_to_the_login(client, name):
    response = client.get(reverse(name))
    assert response.status_code == 302 and "/login/" in response["Location"]


@pytest.mark.parametrize("name", PAGES)
def test_owners_and_superusers_open_every_page(world, client, name):
    for user in (world.a.owner, world.root):
        client.force_login(user)
        assert client.get(reverse(name)).status_code == 200, user.email


@pytest.mark.parametrize("name", ["admin:index", "admin:calendar", "admin:payments_manualpayment_queue"])
def test_staff_open_the_pages_of_their_work(world, client, name):
    client.force_login(world.staff)
    assert client.get(reverse(name)).status_code == 200


@pytest.mark.parametrize("name", ["admin:reports", "admin:reports-csv"])
def test_reports_are_forbidden_to_staff(world, client, name):
    client.force_login(world.staff)
    assert client.get(reverse(name)).status_code == 403


def test_a_signed_in_guest_account_gets_no_back_office(client, db):
    from tests.factories import UserFactory

    client.force_login(UserFactory(email="guest@example.com"))
    response = client.get(reverse("admin:index"))
    assert response.status_code == 302
    page = client.get(response["Location"])  # the admin login: says so instead of looping to the login form
    assert page.status_code == 403 and "not a back-office account" in page.content.decode()


def test_manual_payment_decisions_need_the_verify_permission(world, client):
    from django.contrib.auth.models import Group

    mp = world.a.rows["payments.manualpayment"]
    verify = reverse("admin:payments_manualpayment_verify", args=[mp.pk])
    staff = world.staff
    Group.objects.get(name="Staff").user_set.remove(staff)
    staff.user_permissions.add(*Group.objects.get(name="Staff").permissions.exclude(codename="verify_manualpayment"))
    client.force_login(staff)
    assert client.post(verify, {"action": "reject", "note": "x"}).status_code == 403
    mp.refresh_from_db()
    assert mp.status == "pending"
