"""What a new user sees around signing in: allauth's pages in the site's layout, sign-up offered to guests only,
the back office's refusals in the back office's layout, a guest navigation without back-office links, a favicon."""

from __future__ import annotations

import re

import pytest
from allauth.account.models import EmailAddress
from allauth.mfa.totp.internal.auth import TOTP
from django.test import RequestFactory
from django.urls import reverse

from tests.factories import OwnerFactory, PropertyFactory, StaffFactory, SuperuserFactory, UserFactory

pytestmark = pytest.mark.django_db
PASSWORD = "pw-for-tests-1"  # UserFactory's


@pytest.fixture(autouse=True)
def _clear_cache(clear_cache):
    """allauth's rate limits live in the cache: each test starts empty."""


def site_layout(html: str) -> bool:
    """The guest site's chrome and stylesheet (templates/base.html), not allauth's bare default page."""
    return ('<header class="site-header">' in html and "/static/css/site.css" in html
            and 'class="account-card"' in html and "Menu:" not in html)


@pytest.mark.parametrize("url", ["account_login", "account_signup", "account_reset_password"])
def test_entrance_pages_are_in_the_site_layout(client, url):
    response = client.get(reverse(url))
    assert response.status_code == 200
    html = response.content.decode()
    assert site_layout(html), url
    assert re.search(r'<button class="button[ "][^>]*type="submit"', html)  # the site's buttons, its fields
    assert re.search(r'<div class="field[^"]*">\s*<label for="id_', html)


def test_sign_up_is_offered_to_guests_not_on_the_back_office_sign_in(client):
    """Public sign-up makes guest accounts only: offered on the plain sign-in, not where owners sign in."""
    signup = reverse("account_signup")
    plain = client.get(reverse("account_login")).content.decode()
    assert f'href="{signup}"' in plain and "Create a guest account" in plain

    back_office = client.get("/admin/", follow=True)  # the admin sends owners here, with next=/admin/
    assert back_office.redirect_chain[-1][0] == "/accounts/login/?next=%2Fadmin%2F"
    html = back_office.content.decode()
    assert back_office.status_code == 200 and site_layout(html)
    assert "Sign in to the back office" in html
    assert signup not in html and "sign up" not in html.lower().replace("no sign-up", "")

    page = client.get(signup).content.decode()
    assert "Create a guest account" in page and "Owner and staff accounts are not made here" in page


def test_the_second_factor_page_is_in_the_site_layout(client):
    admin = SuperuserFactory(email="root@example.com")
    EmailAddress.objects.create(user=admin, email=admin.email, verified=True, primary=True)
    TOTP.activate(admin, "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP")
    response = client.post("/accounts/login/?next=/admin/", {"login": admin.email, "password": PASSWORD})
    assert response["Location"].startswith(reverse("mfa_authenticate"))
    page = client.get(response["Location"])
    html = page.content.decode()
    assert page.status_code == 200 and site_layout(html)
    assert 'name="code"' in html and "Two-Factor Authentication" in html


def test_account_pages_have_the_account_menu(client):
    owner = OwnerFactory(email="owner@example.com")
    EmailAddress.objects.create(user=owner, email=owner.email, verified=True, primary=True)
    client.force_login(owner)
    for name in ("account_email", "mfa_index", "account_change_password"):
        html = client.get(reverse(name)).content.decode()
        assert site_layout(html), name
        menu = html[html.index('class="account-nav"'):html.index('class="account-card"')]
        assert f'href="{reverse(name)}" aria-current="page"' in menu, name
        assert reverse("admin:index") in menu  # back-office users get back to it from here


# --- the back office refuses in its own layout ------------------------------------------------------------


def test_staff_opening_the_reports_get_the_admin_layout_with_a_plain_message(client):
    staff = StaffFactory(email="staff@example.com", properties=[PropertyFactory()])
    client.force_login(staff)
    response = client.get(reverse("admin:reports"))
    assert response.status_code == 403
    html = response.content.decode()
    assert "<h1>403 Forbidden</h1>" not in html
    assert 'id="site-name"' in html and "Stayhold back office" in html  # the admin's header and user links
    assert 'id="nav-calendar"' in html and reverse("admin:logout") in html
    assert "You do not have permission to open this page." in html and "You may not view reports." in html
    assert f'href="{reverse("admin:index")}"' in html


def test_a_refusal_outside_the_back_office_gets_the_site_layout():
    from django.core.exceptions import PermissionDenied

    from config.views import permission_denied

    request = RequestFactory().get("/bookings/PMS-2026-AAAAA/")
    request.user = UserFactory.build()
    response = permission_denied(request, PermissionDenied())
    html = response.content.decode()
    assert response.status_code == 403
    assert '<header class="site-header">' in html and "You do not have permission to open this page." in html


# --- guest navigation, favicon ----------------------------------------------------------------------------


def test_guest_pages_do_not_link_the_admin_or_the_api_docs(client):
    PropertyFactory()
    html = client.get("/").content.decode()
    nav = html[html.index('<nav aria-label="Main">'):html.index("</nav>")]
    assert reverse("api-docs") not in html
    assert reverse("admin:index") not in nav and "Admin" not in html
    assert reverse("my-bookings") in nav

    client.force_login(OwnerFactory(email="owner@example.com"))
    nav = client.get("/").content.decode().split('<nav aria-label="Main">')[1].split("</nav>")[0]
    assert f'href="{reverse("admin:index")}">Back office</a>' in nav  # signed in for the back office: its link


def test_favicon_is_served_and_linked(client):
    response = client.get("/favicon.ico")
    assert response.status_code == 200 and response["Content-Type"] == "image/x-icon"
    assert response.content[:4] == b"\x00\x00\x01\x00"  # an ICO file
    assert "max-age=86400" in response["Cache-Control"]
    assert 'rel="icon" href="/static/favicon.ico"' in client.get("/").content.decode()
    client.force_login(OwnerFactory(email="owner@example.com"))
    assert 'rel="icon" href="/static/favicon.ico"' in client.get("/admin/").content.decode()
