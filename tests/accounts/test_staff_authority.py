"""Staff authority (guests.authority): one gate for every privileged path, MFA included (issue 11, item 2).

A superuser who signed in with the password alone must not use staff powers anywhere: not in the admin, not
through the REST API (reading another owner's booking, cancelling it), not by opening a payment proof. Once the
session has used the second factor (TOTP activated in this session, a sign-in with the code, or the confirmation
page), the same user is allowed everywhere.
"""

from __future__ import annotations

import json
import time

import pytest
from allauth.account.models import EmailAddress
from allauth.mfa.models import Authenticator
from allauth.mfa.totp.internal.auth import TOTP, format_hotp_value, hotp_value
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from bookings import services
from bookings.models import Booking, BookingStatus
from core.actor import Actor
from payments import manual
from payments.models import HostPaymentMethod
from properties.models import Property
from tests.factories import OwnerFactory, PropertyFactory, StaffFactory, SuperuserFactory, UserFactory
from tests.manual_payments.conftest import image_bytes

pytestmark = pytest.mark.django_db
PASSWORD = "pw-for-tests-1"  # UserFactory's
SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
GUEST = Actor.guest("ada@example.com")


@pytest.fixture(autouse=True)
def _setup(clear_cache, settings, tmp_path):
    """MFA required for superusers (tests/settings_test turns it off); private files in a temporary place."""
    settings.MFA_REQUIRED_FOR_SUPERUSERS = True
    settings.PRIVATE_MEDIA_ROOT = tmp_path / "private"
    settings.MEDIA_ROOT = tmp_path / "media"


def verified(user):
    EmailAddress.objects.create(user=user, email=user.email, verified=True, primary=True)
    return user


def code_now(secret=SECRET) -> str:
    return format_hotp_value(hotp_value(secret, int(time.time()) // 30))


def password_login(client, user):
    response = client.post("/accounts/login/", {"login": user.email, "password": PASSWORD})
    assert response.status_code == 302 and client.session.get("_auth_user_id") == str(user.pk)


@pytest.fixture
def root(db):
    return verified(SuperuserFactory(email="root@example.com"))


@pytest.fixture
def other(book):
    """Another owner's confirmed booking, with a manual payment whose proof image the guest uploaded."""
    owner = OwnerFactory(email="someone-else@example.com")
    prop = PropertyFactory(owner=owner)
    PropertyFactory(owner=owner, status=Property.Status.DRAFT, name="Secret draft")
    booking = book(prop)
    method = HostPaymentMethod.objects.create(owner=owner, kind="zelle", handle="pay@else.example", display_name="Z")
    mp = manual.choose_method(booking_id=booking.pk, method_id=method.pk, actor=GUEST)
    manual.claim(mp_id=mp.pk, guest_reference="", actor=GUEST,
                 proof=SimpleUploadedFile("p.png", image_bytes(), content_type="image/png"))
    services.confirm(booking_id=booking.pk, actor=Actor.system("test"))
    booking.refresh_from_db()
    return booking, mp


def api_read(client, booking):
    return client.get(f"/api/v1/bookings/{booking.reference}")


def api_cancel(client, booking):
    return client.patch(f"/api/v1/bookings/{booking.reference}/status",
                        json.dumps({"status": "cancelled", "reason": "probe"}), content_type="application/json")


def proof_url(mp):
    return reverse("payments:manual-proof", args=[mp.code])


def back_office_urls(booking):
    return [reverse("admin:index"), reverse("admin:calendar"), reverse("admin:reports"), reverse("admin:reports-csv"),
            reverse("admin:bookings_booking_changelist"), reverse("admin:bookings_booking_change", args=[booking.pk]),
            reverse("admin:payments_manualpayment_queue"), reverse("admin:channel_sync_channelconnection_changelist")]


def assert_mfa_refused(response):
    assert response.status_code == 403
    body = response.json()
    assert body["code"] == "mfa_required" and ("second factor" in body["detail"] or "two-factor" in body["detail"])


def assert_refused_everywhere(client, booking, mp, fix_url):
    assert_mfa_refused(api_read(client, booking))
    assert_mfa_refused(api_cancel(client, booking))
    booking.refresh_from_db()
    assert booking.status == BookingStatus.CONFIRMED  # the PATCH changed nothing
    assert_mfa_refused(client.get("/api/v1/properties"))  # nor another owner's drafts through a public endpoint
    for url in [proof_url(mp), *back_office_urls(booking)]:
        response = client.get(url)
        assert response.status_code == 302, url
        assert response["Location"].startswith(f"{fix_url}?next="), url


def assert_allowed_everywhere(client, booking, mp):
    read = api_read(client, booking)
    assert read.status_code == 200 and read.json()["reference"] == booking.reference and "events" in read.json()
    assert "Secret draft" in json.dumps(client.get("/api/v1/properties?page_size=50").json())
    proof = client.get(proof_url(mp))
    assert proof.status_code == 200 and b"".join(proof.streaming_content).startswith(b"\x89PNG")
    for url in back_office_urls(booking):
        assert client.get(url).status_code == 200, url
    cancelled = api_cancel(client, booking)
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"


# --- the probe ---------------------------------------------------------------------------------------

PRIVILEGED = {
    "api read of a booking": lambda client, booking, mp: api_read(client, booking),
    "api status patch": lambda client, booking, mp: api_cancel(client, booking),
    "api list with other owners' drafts": lambda client, booking, mp: client.get("/api/v1/properties"),
    "proof file": lambda client, booking, mp: client.get(proof_url(mp)),
    "reports csv": lambda client, booking, mp: client.get(reverse("admin:reports-csv")),
    "dashboard": lambda client, booking, mp: client.get(reverse("admin:index")),
    "calendar": lambda client, booking, mp: client.get(reverse("admin:calendar")),
    "reports": lambda client, booking, mp: client.get(reverse("admin:reports")),
    "booking page": lambda client, booking, mp: client.get(
        reverse("admin:bookings_booking_change", args=[booking.pk])),
    "payments queue": lambda client, booking, mp: client.get(reverse("admin:payments_manualpayment_queue")),
    "channel connections": lambda client, booking, mp: client.get(
        reverse("admin:channel_sync_channelconnection_changelist")),
}


@pytest.mark.parametrize("authenticator", ["none yet", "activated, not used in this session"])
@pytest.mark.parametrize("path", PRIVILEGED)
def test_each_privileged_path_refuses_a_session_without_the_second_factor(client, root, other, path, authenticator):
    booking, mp = other
    password_login(client, root)
    if authenticator != "none yet":
        TOTP.activate(root, SECRET)  # e.g. on another device, after this session signed in

    response = PRIVILEGED[path](client, booking, mp)

    if path.startswith("api"):
        assert_mfa_refused(response)
    else:
        fix = reverse("mfa_activate_totp" if authenticator == "none yet" else "mfa_reauthenticate")
        assert response.status_code == 302 and response["Location"].startswith(f"{fix}?next=")
    booking.refresh_from_db()
    assert booking.status == BookingStatus.CONFIRMED


def test_a_superuser_with_the_password_alone_has_no_staff_authority_until_totp_is_activated(client, root, other):
    booking, mp = other
    password_login(client, root)  # no authenticator yet: the password is enough to sign in

    assert_refused_everywhere(client, booking, mp, reverse("mfa_activate_totp"))

    # activating TOTP in this session (password again, then a code of the new authenticator) proves the factor
    response = client.get(reverse("mfa_activate_totp"))
    client.post(response["Location"], {"password": PASSWORD})  # allauth's reauthentication
    secret = client.get(reverse("mfa_activate_totp")).context["form"].secret
    assert client.post(reverse("mfa_activate_totp"), {"code": code_now(secret)}).status_code == 302
    assert Authenticator.objects.filter(user=root, type=Authenticator.Type.TOTP).exists()

    assert_allowed_everywhere(client, booking, mp)
    assert Booking.objects.get(pk=booking.pk).status == BookingStatus.CANCELLED


def test_having_an_authenticator_is_not_enough_the_session_must_have_used_it(client, root, other):
    """A session signed in with the password before TOTP was activated elsewhere has never seen a code."""
    booking, mp = other
    password_login(client, root)
    TOTP.activate(root, SECRET)  # e.g. on another device

    assert_refused_everywhere(client, booking, mp, reverse("mfa_reauthenticate"))

    # allauth's confirmation page (its MFA reauthentication) with the code: back where the user was going
    response = client.post(f"{reverse('mfa_reauthenticate')}?next=/admin/calendar/", {"code": code_now()})
    assert response.status_code == 302 and response["Location"] == "/admin/calendar/"
    assert_allowed_everywhere(client, booking, mp)


def test_a_sign_in_with_password_and_code_has_staff_authority(client, root, other):
    booking, mp = other
    TOTP.activate(root, SECRET)
    response = client.post("/accounts/login/", {"login": root.email, "password": PASSWORD})
    assert response["Location"].startswith(reverse("mfa_authenticate"))
    assert client.post(reverse("mfa_authenticate"), {"code": code_now()}).status_code == 302

    assert_allowed_everywhere(client, booking, mp)


def test_a_recorded_code_of_another_user_does_not_count(client, root):
    """allauth binds its authentication records to the user; the gate reads them through that binding."""
    TOTP.activate(root, SECRET)
    other_root = verified(SuperuserFactory(email="root2@example.com"))
    TOTP.activate(other_root, SECRET)
    client.force_login(other_root)
    session = client.session
    session["account_authentication_methods"] = [{"method": "mfa", "at": time.time(), "type": "totp"}]
    session["account_authentication_methods_user"] = str(root.pk)
    session.save()
    response = client.get("/api/v1/properties")
    assert_mfa_refused(response)


# --- who needs the second factor --------------------------------------------------------------------------


def test_owners_and_staff_need_no_second_factor_unless_mfa_required_for_staff(client, settings, book):
    owner = OwnerFactory()
    prop = PropertyFactory(owner=owner)
    staffer = StaffFactory(employer=owner, properties=[prop])
    booking = book(prop)
    for user in (owner, staffer):
        client.force_login(user)
        assert api_read(client, booking).status_code == 200
        assert client.get(reverse("admin:index")).status_code == 200

    settings.MFA_REQUIRED_FOR_STAFF = True
    for user in (owner, staffer):
        client.force_login(user)
        assert_mfa_refused(api_read(client, booking))
        response = client.get(reverse("admin:index"))
        assert response.status_code == 302 and response["Location"].startswith(reverse("mfa_activate_totp"))


def test_guest_accounts_and_anonymous_callers_keep_the_public_api(client, settings, book, root):
    settings.MFA_REQUIRED_FOR_STAFF = True
    prop = PropertyFactory()
    booking = book(prop)
    assert client.get("/api/v1/properties").status_code == 200
    anonymous = api_cancel(client, booking)
    assert anonymous.status_code == 403 and anonymous.json()["code"] == "not_authenticated"
    guest = verified(UserFactory(email="guest@example.com"))
    client.force_login(guest)
    assert client.get("/api/v1/properties").status_code == 200
    assert api_read(client, booking).status_code == 404  # not theirs, and no MFA to ask for


def test_the_gate_decides_for_each_kind_of_session(rf, root, settings):
    from guests import authority

    request = rf.get("/")
    request.session = {}
    request.user = root
    why = authority.refusal(request)
    assert why.code == "mfa_required" and why.fix_url == reverse("mfa_activate_totp")
    TOTP.activate(root, SECRET)
    assert authority.refusal(request).fix_url == reverse("mfa_reauthenticate")
    request.session.update({"account_authentication_methods": [{"method": "mfa", "type": "totp", "at": 0}],
                            "account_authentication_methods_user": str(root.pk)})
    assert authority.may_use_staff_authority(request)
    settings.MFA_REQUIRED_FOR_SUPERUSERS = False
    request.session.clear()
    assert authority.may_use_staff_authority(request)
    root.is_active = False
    assert authority.refusal(request).code == "account_inactive"
