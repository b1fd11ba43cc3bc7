"""Back-office accounts: one allauth login for everybody, verified addresses, MFA for superusers, throttling,
password reset, roles as groups, and owners inviting their staff."""

from __future__ import annotations

import re
import time

import pytest
from allauth.account.models import EmailAddress
from allauth.mfa.models import Authenticator
from allauth.mfa.totp.internal.auth import TOTP, format_hotp_value, hotp_value
from django.contrib.auth.models import Group
from django.core import mail
from django.urls import reverse

from guests.models import User
from guests.roles import OWNERS, STAFF, role_permission_names, sync_roles
from tests.factories import OwnerFactory, PropertyFactory, StaffFactory, SuperuserFactory

pytestmark = pytest.mark.django_db
PASSWORD = "pw-for-tests-1"  # UserFactory's
SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"


@pytest.fixture(autouse=True)
def _clear_cache(clear_cache):
    """allauth's rate limits and used TOTP codes live in the cache: each test starts empty."""


def verified(user):
    EmailAddress.objects.create(user=user, email=user.email, verified=True, primary=True)
    return user


def current_code(secret=SECRET) -> str:
    return format_hotp_value(hotp_value(secret, int(time.time()) // 30))


def login(client, email, password=PASSWORD, next_url="/admin/"):
    return client.post(f"/accounts/login/?next={next_url}", {"login": email, "password": password})


def open_totp_activation(client, password=PASSWORD):
    """allauth asks for the password again before changing authenticators (reauthentication)."""
    response = client.get(reverse("mfa_activate_totp"))
    assert response.status_code == 302 and response["Location"].startswith(reverse("account_reauthenticate"))
    response = client.post(response["Location"], {"password": password})
    assert response.status_code == 302 and response["Location"] == reverse("mfa_activate_totp")
    page = client.get(reverse("mfa_activate_totp"))
    assert page.status_code == 200
    return page


# --- one login form ------------------------------------------------------------------------------


def test_the_admin_login_redirects_to_allauth_and_back(client):
    verified(OwnerFactory(email="owner@example.com"))
    response = client.get("/admin/properties/property/")
    assert response.status_code == 302
    response = client.get(response["Location"])  # the admin's login page
    assert response.status_code == 302
    assert response["Location"] == "/accounts/login/?next=%2Fadmin%2Fproperties%2Fproperty%2F"

    response = login(client, "owner@example.com", next_url="/admin/properties/property/")

    assert response.status_code == 302 and response["Location"] == "/admin/properties/property/"
    assert client.get("/admin/properties/property/").status_code == 200


def test_a_back_office_login_without_next_lands_on_the_dashboard(client):
    verified(StaffFactory(email="staff@example.com"))
    response = client.post("/accounts/login/", {"login": "staff@example.com", "password": PASSWORD})
    assert response.status_code == 302 and response["Location"] == reverse("admin:index")


def test_the_admin_login_page_never_authenticates(client):
    verified(OwnerFactory(email="owner@example.com"))
    client.post("/admin/login/", {"username": "owner@example.com", "password": PASSWORD})
    assert "_auth_user_id" not in client.session


# --- email verification ----------------------------------------------------------------------------


def test_a_new_owner_must_verify_their_address_before_using_the_back_office(client):
    owner = OwnerFactory(email="new.owner@example.com")
    EmailAddress.objects.create(user=owner, email=owner.email, verified=False, primary=True)

    response = login(client, owner.email)

    assert response.status_code == 302 and response["Location"].startswith("/accounts/confirm-email/")
    assert "_auth_user_id" not in client.session
    assert client.get("/admin/").status_code == 302
    confirm_url = re.search(r"http://testserver(/accounts/confirm-email/[^\s]+/)", mail.outbox[-1].body).group(1)

    assert client.post(confirm_url).status_code == 302

    assert EmailAddress.objects.get(user=owner).verified
    response = login(client, owner.email)
    assert response.status_code == 302 and response["Location"] == "/admin/"
    assert client.get("/admin/").status_code == 200


# --- MFA -----------------------------------------------------------------------------------------------


@pytest.fixture
def mfa_required(settings):
    settings.MFA_REQUIRED_FOR_SUPERUSERS = True


def test_a_superuser_without_totp_is_sent_to_the_activation_page_from_every_admin_page(client, mfa_required):
    root = verified(SuperuserFactory(email="root@example.com"))
    response = login(client, root.email)  # the password is enough while no authenticator exists
    assert response.status_code == 302 and response["Location"] == "/admin/"
    for path in ("/admin/", "/admin/properties/property/", reverse("admin:calendar"), "/admin/guests/user/"):
        response = client.get(path)
        assert response.status_code == 302, path
        assert response["Location"].startswith(reverse("mfa_activate_totp")), path
    # the MFA and account pages themselves, and signing out, stay reachable
    assert client.get(reverse("mfa_index")).status_code == 200
    page = open_totp_activation(client)
    client.post(reverse("mfa_activate_totp"), {"code": current_code(page.context["form"].secret)})
    assert client.get("/admin/").status_code == 200  # activated: the back office opens
    TOTP(Authenticator.objects.get(user=root, type=Authenticator.Type.TOTP)).instance.delete()
    assert client.get("/admin/").status_code == 302
    assert client.post(reverse("admin:logout")).status_code in (200, 302)
    assert "_auth_user_id" not in client.session


def test_mfa_is_not_forced_on_owners_and_staff(client, mfa_required):
    client.force_login(OwnerFactory())
    assert client.get("/admin/").status_code == 200


def test_a_superuser_signs_in_with_password_and_totp_code(client, mfa_required):
    root = verified(SuperuserFactory(email="root@example.com"))
    TOTP.activate(root, SECRET)

    response = login(client, root.email)

    assert response.status_code == 302 and response["Location"].startswith(reverse("mfa_authenticate"))
    assert "_auth_user_id" not in client.session
    assert client.post(reverse("mfa_authenticate"), {"code": "000000" if current_code() != "000000" else "111111"}
                       ).status_code == 200  # a wrong code: the form again
    assert "_auth_user_id" not in client.session

    response = client.post(reverse("mfa_authenticate"), {"code": current_code()})

    assert response.status_code == 302 and response["Location"] == "/admin/"
    assert client.get("/admin/").status_code == 200


def test_back_office_users_may_activate_totp(client):
    owner = verified(OwnerFactory())
    login(client, owner.email)
    page = open_totp_activation(client)
    assert "data:image/svg+xml;base64," in page.content.decode()  # the QR code (qrcode package)
    secret = page.context["form"].secret

    response = client.post(reverse("mfa_activate_totp"), {"code": current_code(secret)})

    assert response.status_code == 302
    assert Authenticator.objects.filter(user=owner, type=Authenticator.Type.TOTP).exists()


# --- throttling and password reset ------------------------------------------------------------------------


def test_a_burst_of_failed_logins_is_refused_even_with_the_right_password(client):
    owner = verified(OwnerFactory(email="target@example.com"))
    for _ in range(5):
        response = login(client, owner.email, password="wrong-password")
        assert response.status_code == 200
        assert "Too many failed login attempts" not in response.content.decode()

    response = login(client, owner.email)  # the right one, too late

    assert "Too many failed login attempts" in response.content.decode()
    assert "_auth_user_id" not in client.session


def test_password_reset_sends_a_link_that_sets_a_new_password(client):
    owner = verified(OwnerFactory(email="forgetful@example.com"))

    response = client.post(reverse("account_reset_password"), {"email": owner.email})

    assert response.status_code == 302
    assert mail.outbox and mail.outbox[-1].to == [owner.email]
    link = re.search(r"http://testserver(/accounts/password/reset/key/[^\s]+/)", mail.outbox[-1].body).group(1)
    form_url = client.get(link)["Location"]
    response = client.post(form_url, {"password1": "a-New-pass-9876", "password2": "a-New-pass-9876"})
    assert response.status_code == 302
    owner.refresh_from_db()
    assert owner.check_password("a-New-pass-9876")


# --- roles ------------------------------------------------------------------------------------------------


def test_roles_exist_after_migrate_and_sync_is_idempotent():
    owners, staff = Group.objects.get(name=OWNERS), Group.objects.get(name=STAFF)
    perms = {group: {f"{p.content_type.app_label}.{p.codename}" for p in group.permissions.all()}
             for group in (owners, staff)}
    assert perms[owners] == role_permission_names(OWNERS)
    assert perms[staff] == role_permission_names(STAFF)
    owners.permissions.clear()

    sync_roles()
    sync_roles()

    assert Group.objects.filter(name__in=[OWNERS, STAFF]).count() == 2
    assert {f"{p.content_type.app_label}.{p.codename}" for p in owners.permissions.all()} == perms[owners]


def test_the_roles_grant_what_the_design_says():
    owner, staff = OwnerFactory(), StaffFactory()
    assert owner.has_perms(["bookings.manage_booking", "bookings.checkin_booking", "bookings.view_reports",
                            "payments.verify_manualpayment", "properties.change_pricingrule",
                            "payments.add_hostpaymentmethod", "properties.change_property"])
    assert staff.has_perms(["bookings.checkin_booking", "payments.verify_manualpayment", "bookings.view_booking",
                            "properties.view_property", "bookings.add_availabilityblock",
                            "bookings.change_turnovertask"])
    for perm in ("bookings.manage_booking", "bookings.view_reports", "properties.change_pricingrule",
                 "properties.change_dateoverride", "properties.change_property", "payments.view_hostpaymentmethod",
                 "guests.view_user"):
        assert not staff.has_perm(perm), perm


# --- owners manage their staff ------------------------------------------------------------------------


def test_an_owner_invites_a_staff_member_who_sets_a_password_and_signs_in(client):
    owner = verified(OwnerFactory(email="owner@example.com"))
    client.force_login(owner)

    response = client.post("/admin/guests/user/add/", {"email": "New.Cleaner@example.com", "full_name": "Nia",
                                                       "is_superuser": "on", "groups": [1]})

    assert response.status_code == 302
    staff = User.objects.get(email="new.cleaner@example.com")
    assert (staff.employer, staff.is_staff, staff.is_superuser, staff.has_usable_password()) == (
        owner, True, False, False)
    assert list(staff.groups.values_list("name", flat=True)) == [STAFF]
    assert not EmailAddress.objects.get(user=staff).verified
    assert mail.outbox[-1].to == ["new.cleaner@example.com"]
    link = re.search(r"http://testserver(/accounts/password/reset/key/[^\s]+/)", mail.outbox[-1].body).group(1)

    client.logout()
    form_url = client.get(link)["Location"]
    assert client.post(form_url, {"password1": "a-New-pass-9876", "password2": "a-New-pass-9876"}).status_code == 302

    assert EmailAddress.objects.get(user=staff).verified  # the link proved the inbox
    response = login(client, staff.email, password="a-New-pass-9876")
    assert response.status_code == 302 and response["Location"] == "/admin/"
    # the owner can now assign them; the staff member sees the assigned property
    prop = PropertyFactory(owner=owner, name="Cleaner's House")
    prop.staff.add(staff)
    assert "Cleaner&#x27;s House" in client.get("/admin/properties/property/").content.decode()


def test_an_owner_sees_and_edits_only_themselves_and_their_staff(client):
    owner_a, owner_b = OwnerFactory(email="a@example.com"), OwnerFactory(email="b@example.com")
    mine, theirs = StaffFactory(employer=owner_a, email="mine@example.com"), StaffFactory(
        employer=owner_b, email="theirs@example.com")
    client.force_login(owner_a)

    page = client.get("/admin/guests/user/").content.decode()

    assert "a@example.com" in page and "mine@example.com" in page
    assert "b@example.com" not in page and "theirs@example.com" not in page
    assert client.get(f"/admin/guests/user/{theirs.pk}/change/").status_code == 302  # "does not exist"
    assert client.get(f"/admin/guests/user/{mine.pk}/password/").status_code == 403  # people set their own
    # no privilege escalation through the change form
    response = client.post(f"/admin/guests/user/{mine.pk}/change/", {
        "full_name": "Renamed", "is_active": "on", "is_superuser": "on", "is_staff": "on",
        "groups": [Group.objects.get(name=OWNERS).pk], "email": "hijack@example.com", "employer": owner_b.pk})
    assert response.status_code == 302
    mine.refresh_from_db()
    assert (mine.full_name, mine.is_superuser, mine.email, mine.employer) == (
        "Renamed", False, "mine@example.com", owner_a)
    assert list(mine.groups.values_list("name", flat=True)) == [STAFF]
    client.post(f"/admin/guests/user/{theirs.pk}/change/", {"full_name": "Hacked", "is_active": ""})
    theirs.refresh_from_db()
    assert theirs.full_name != "Hacked" and theirs.is_active


def test_staff_have_no_user_admin(client):
    client.force_login(StaffFactory())
    assert client.get("/admin/guests/user/").status_code == 403
    assert client.get("/admin/guests/user/add/").status_code == 403


# --- demo data ---------------------------------------------------------------------------------------------


def test_seeded_demo_users_can_sign_in_and_the_admin_with_the_documented_totp(client, settings, tmp_path):
    import io

    from django.core.management import call_command

    from demo.management.commands.seed_demo import DEMO_ADMIN_TOTP_SECRET, DEMO_PASSWORD

    settings.MFA_REQUIRED_FOR_SUPERUSERS = True
    settings.MEDIA_ROOT = tmp_path
    out = io.StringIO()
    call_command("seed_demo", "--no-photos", stdout=out)
    assert DEMO_ADMIN_TOTP_SECRET in out.getvalue()
    staff = User.objects.get(email="staff@demo.stayhold.test")
    assert staff.employer.email == "owner1@demo.stayhold.test" and staff.groups.get().name == STAFF

    for email in ("owner1@demo.stayhold.test", "owner2@demo.stayhold.test", "staff@demo.stayhold.test"):
        client.logout()
        response = login(client, email, password=DEMO_PASSWORD)
        assert response.status_code == 302 and response["Location"] == "/admin/", email
        assert client.get("/admin/").status_code == 200, email

    client.logout()
    response = login(client, "admin@demo.stayhold.test", password=DEMO_PASSWORD)
    assert response["Location"].startswith(reverse("mfa_authenticate"))
    response = client.post(reverse("mfa_authenticate"), {"code": current_code(DEMO_ADMIN_TOTP_SECRET)})
    assert response.status_code == 302 and client.get("/admin/").status_code == 200
    code = io.StringIO()
    call_command("demo_totp", stdout=code)
    assert code.getvalue().split()[0] == current_code(DEMO_ADMIN_TOTP_SECRET)
