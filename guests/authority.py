"""Staff authority: the one place that decides whether *this session* may use back-office powers.

Owner, staff and superuser powers (reading other people's bookings, changing their status, opening payment
proofs, the admin and its exports) are reachable from three doors: the admin (``backoffice.admin_site``), the REST
API (``api``) and plain views (``payments.manual_views.proof``). Each door asks :func:`refusal`, so a rule
added here holds everywhere. A session may use staff authority when

* it is signed in (``request.user``), with an active account, and
* where the account needs a second factor (:func:`mfa_required`), the account has an activated TOTP authenticator
  **and this session proved it**: allauth recorded an ``"mfa"`` authentication in the session (TOTP or a recovery
  code at sign-in, allauth's "confirm with your authenticator" page ``mfa_reauthenticate``, or activating TOTP in
  this session, :func:`record_mfa`). Having an authenticator is not enough: a session signed in with the password
  before TOTP was activated (on another device, say) has never seen a code.

Who needs the second factor: superusers while ``MFA_REQUIRED_FOR_SUPERUSERS`` is on (the default), and every
back-office account (``is_staff``: owners and their staff) while ``MFA_REQUIRED_FOR_STAFF`` is on (default off).

What the doors do with a refusal:

* pages (admin, proof files): a session that owes its second factor is redirected to the TOTP activation page (no
  authenticator yet) or to the confirmation page (an authenticator, not used in this session), with ``?next=``
  back (:func:`mfa_redirect`, :func:`staff_page`); other refusals are left to the page (the admin's login, a 404);
* the API: 403 ``{"code": "mfa_required", "detail": …}`` on **every** endpoint for a session that owes its second
  factor (``REST_FRAMEWORK["DEFAULT_PERMISSION_CLASSES"]``: :class:`NoPendingMfa`), so it cannot reach owner data
  through the public endpoints either (draft properties, holds and bookings of managed properties); endpoints that
  need staff authority use :class:`StaffAuthority` (403 ``not_authenticated`` for anonymous callers).

Guest accounts (no ``is_staff``, not superusers) never need a second factor: they hold no staff authority to guard.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import wraps
from urllib.parse import urlencode

from django.conf import settings
from django.contrib.auth import REDIRECT_FIELD_NAME
from django.http import HttpResponseRedirect
from django.urls import reverse
from rest_framework import exceptions
from rest_framework.permissions import BasePermission

NOT_AUTHENTICATED = "not_authenticated"
ACCOUNT_INACTIVE = "account_inactive"
MFA_REQUIRED = "mfa_required"


@dataclass(frozen=True)
class Refusal:
    """Why this session may not use staff authority: a machine-readable ``code``, a human ``detail`` and, for a
    missing second factor, the page that fixes it (``fix_url``)."""

    code: str
    detail: str
    fix_url: str = ""

    @property
    def owes_mfa(self) -> bool:
        return self.code == MFA_REQUIRED


def mfa_required(user) -> bool:
    """Does this account need a second factor before it may use staff authority?"""
    if user is None or not user.is_authenticated:
        return False
    return bool((settings.MFA_REQUIRED_FOR_SUPERUSERS and user.is_superuser)
                or (settings.MFA_REQUIRED_FOR_STAFF and user.is_staff))


def has_totp(user) -> bool:
    from allauth.mfa.models import Authenticator  # lazily: importing this module never needs the app registry

    return Authenticator.objects.filter(user=user, type=Authenticator.Type.TOTP).exists()


def session_used_mfa(request, user) -> bool:
    """Did this session prove a second factor of ``user`` (allauth's authentication records)?"""
    from allauth.account.authentication import get_authentication_records

    return any(record.get("method") == "mfa" for record in get_authentication_records(request, user))


def refusal(request) -> Refusal | None:
    """``None`` when this session may use staff authority, else why not. The one decision; everything else asks it."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return Refusal(NOT_AUTHENTICATED, "Sign in with a back-office account.")
    if not user.is_active:
        return Refusal(ACCOUNT_INACTIVE, "This account is deactivated.")
    if mfa_required(user):
        if not has_totp(user):
            url = reverse("mfa_activate_totp")
            return Refusal(MFA_REQUIRED, f"This account must use two-factor authentication: activate an "
                                         f"authenticator app at {url} first.", url)
        if not session_used_mfa(request, user):
            url = reverse("mfa_reauthenticate")
            return Refusal(MFA_REQUIRED, f"This session has not used the second factor: confirm it with your "
                                         f"authenticator code at {url}, or sign in again.", url)
    return None


def may_use_staff_authority(request) -> bool:
    return refusal(request) is None


def record_mfa(request, authenticator) -> None:
    """Count ``authenticator`` as the second factor of this session (allauth's own record of an MFA sign-in).

    Used when TOTP is activated: the user has just typed their password again (allauth's reauthentication) and a
    valid code of the new authenticator, which is what an MFA sign-in proves."""
    from allauth.account.internal.flows.login import record_authentication  # allauth 65's only writer of the records

    record_authentication(request, authenticator.user, "mfa", id=authenticator.pk, type=authenticator.type,
                          activated=True)


# --- pages ----------------------------------------------------------------------------------------


def mfa_redirect(request) -> HttpResponseRedirect | None:
    """For a page: a redirect to the page that satisfies the second factor (``?next=`` back here), or ``None``
    when the session does not owe one (other refusals are the page's to answer: login redirect, 404, ...)."""
    why = refusal(request)
    if why is None or not why.owes_mfa:
        return None
    return HttpResponseRedirect(f"{why.fix_url}?{urlencode({REDIRECT_FIELD_NAME: request.get_full_path()})}")


def staff_page(view):
    """Decorator of a page outside the admin that uses staff authority: a session that owes its second factor is
    redirected (:func:`mfa_redirect`); the view still checks what the user may see (tenancy, permissions)."""

    @wraps(view)
    def guarded(request, *args, **kwargs):
        return mfa_redirect(request) or view(request, *args, **kwargs)

    return guarded


# --- the API ----------------------------------------------------------------------------------------


class NoPendingMfa(BasePermission):
    """Every API endpoint: a session that owes its second factor is refused (403 ``mfa_required``); anonymous
    callers and sessions that need none pass (each view decides the rest)."""

    def has_permission(self, request, view):
        why = refusal(request)
        if why is not None and why.owes_mfa:
            raise exceptions.PermissionDenied(why.detail, code=MFA_REQUIRED)
        return True


class StaffAuthority(BasePermission):
    """Endpoints that use owner/staff powers: signed in (403 ``not_authenticated``), active, second factor proved
    where required (403 ``mfa_required``). Which bookings and what roles stay the view's and the tenancy's job."""

    def has_permission(self, request, view):
        why = refusal(request)
        if why is None:
            return True
        if why.code == NOT_AUTHENTICATED:
            raise exceptions.NotAuthenticated()
        raise exceptions.PermissionDenied(why.detail, code=why.code)
