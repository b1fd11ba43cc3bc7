"""Optional guest accounts (django-allauth): a verified email address shows every booking made with it."""

import re

import pytest
from allauth.account.models import EmailAddress
from django.core import mail

from guests.models import User
from guests.services import GuestInput
from tests.factories import PropertyFactory, UserFactory
from tests.pages.conftest import text

pytestmark = pytest.mark.django_db
PASSWORD = "a-long-guest-password-42"


@pytest.fixture(autouse=True)
def no_rate_limits(settings):
    settings.ACCOUNT_RATE_LIMITS = False  # allauth's limits live in the (shared Redis) cache across tests


@pytest.fixture
def bookings(book, prop):
    """Two bookings made with ada@example.com (one typed in capitals), one by somebody else."""
    other_prop = PropertyFactory(owner=prop.owner)
    mine = [book(prop, start=10), book(other_prop, start=10, guest=GuestInput(name="Ada L.", email="ADA@example.com"))]
    theirs = book(prop, start=20, guest=GuestInput(name="Bob", email="bob@example.com"))
    return mine, theirs


def test_sign_up_verify_and_see_every_booking_made_with_the_address(client, bookings, run_on_commit):
    mine, theirs = bookings
    with run_on_commit():  # run any after-commit work of the sign-up too
        response = client.post("/accounts/signup/", {"email": "ada@example.com", "password1": PASSWORD,
                                                     "password2": PASSWORD})
    assert response.status_code == 302
    assert User.objects.filter(email="ada@example.com").exists()
    # mandatory verification: nothing is shown before the address is confirmed
    assert "ada@example.com" not in text(client.get("/account/bookings/"))

    confirm_url = re.search(r"http://testserver(/accounts/confirm-email/[^\s]+/)", mail.outbox[-1].body).group(1)
    assert client.post(confirm_url).status_code == 302
    assert EmailAddress.objects.get(email="ada@example.com").verified

    client.logout()
    response = client.post("/accounts/login/", {"login": "ada@example.com", "password": PASSWORD})
    assert response.status_code == 302 and response["Location"] == "/account/bookings/"
    page = client.get("/account/bookings/")
    html = page.content.decode()
    for booking in mine:
        assert f'href="/bookings/{booking.reference}/?token=' in html  # the magic link to its portal
    assert theirs.reference not in html
    assert client.get(re.search(r'href="(/bookings/[^"]+)"', html).group(1).replace("&amp;", "&")).status_code == 200


def test_an_unverified_address_sees_nothing(client, bookings):
    user = UserFactory(email="ada@example.com")
    EmailAddress.objects.create(user=user, email="ada@example.com", verified=False, primary=True)
    client.force_login(user)
    visible = text(client.get("/account/bookings/"))
    assert "Verify your email address" in visible
    assert all(b.reference not in visible for b in bookings[0])


def test_only_verified_addresses_count(client, bookings):
    mine, theirs = bookings
    user = UserFactory(email="bob@example.com")
    EmailAddress.objects.create(user=user, email="bob@example.com", verified=True, primary=True)
    EmailAddress.objects.create(user=user, email="ada@example.com", verified=False)  # claimed, not proven
    client.force_login(user)
    visible = text(client.get("/account/bookings/"))
    assert theirs.reference in visible
    assert all(b.reference not in visible for b in mine)


def test_anonymous_visitors_are_sent_to_the_login(client):
    response = client.get("/account/bookings/")
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")


def test_the_admin_login_sends_everyone_to_the_allauth_login(client):
    """One login form for everybody (throttled, verified, MFA): the admin's own only redirects (tests/accounts)."""
    UserFactory(email="root@example.com", is_staff=True, is_superuser=True, password="pw-for-tests-1")
    response = client.post("/admin/login/?next=/admin/", {"username": "root@example.com",
                                                          "password": "pw-for-tests-1"})
    assert response.status_code == 302 and response["Location"] == "/accounts/login/?next=%2Fadmin%2F"
    assert client.get("/admin/").status_code == 302  # the POST did not sign anybody in
