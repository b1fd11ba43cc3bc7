"""Writes for guest profiles."""

from __future__ import annotations

from dataclasses import dataclass

from .models import Guest


@dataclass(frozen=True)
class GuestInput:
    name: str
    email: str = ""
    phone: str = ""
    country: str = ""


def find_or_create_guest(data: GuestInput) -> Guest:
    """Reuse the profile with the same email *and* name (a returning guest), else create one.

    Matching on email alone would let anyone who types a stranger's address
    rename that stranger's profile; a new profile per unknown pair is harmless.
    """
    email = data.email.strip().lower()
    name = data.name.strip() or email or "Guest"
    guest = Guest.objects.filter(email=email, name=name).order_by("-id").first() if email else None
    if guest is None:
        guest = Guest.objects.create(name=name, email=email, phone=data.phone.strip(), country=data.country.upper())
    elif (data.phone and data.phone != guest.phone) or (data.country and data.country.upper() != guest.country):
        guest.phone = data.phone.strip() or guest.phone
        guest.country = data.country.upper() or guest.country
        guest.save(update_fields=["phone", "country", "updated_at"])
    return guest


# The columns of the row the CTEs below end in, in the model's field order (Guest.from_db reads them so).
GUEST_ATTNAMES = ("id", "name", "email", "phone", "country", "user_id", "created_at", "updated_at")


def guest_upsert_cte_sql() -> str:
    """:func:`find_or_create_guest` as SQL, for a caller that writes the guest in the same statement as what hangs
    off it (``bookings.statements.insert_reservation``, PostgreSQL): common table expressions (without ``WITH``)
    ending in ``guest``, one row of :data:`GUEST_ATTNAMES`. Same rules: the newest profile with this email *and*
    name is reused (its phone and country updated when given and different), else a new one is inserted. Its
    parameters: :func:`guest_upsert_cte_params`."""
    table = Guest._meta.db_table
    cols = ", ".join(GUEST_ATTNAMES)
    g_cols = ", ".join(f"g.{c}" for c in GUEST_ATTNAMES)
    return (
        f"guest_found AS (SELECT {cols} FROM {table} WHERE %(email)s <> '' AND email = %(email)s "  # noqa: S608
        f"AND name = %(name)s ORDER BY id DESC LIMIT 1), "
        # "(data.phone and data.phone != guest.phone)": compared with the phone as given, as find_or_create_guest
        f"guest_updated AS (UPDATE {table} g SET "
        f"phone = CASE WHEN %(phone)s <> '' THEN %(phone)s ELSE g.phone END, "
        f"country = CASE WHEN %(country)s <> '' THEN %(country)s ELSE g.country END, updated_at = %(now)s "
        f"FROM guest_found WHERE g.id = guest_found.id AND ((%(phone_given)s <> '' AND %(phone_given)s <> g.phone) "
        f"OR (%(country)s <> '' AND %(country)s <> g.country)) RETURNING {g_cols}), "
        f"guest_new AS (INSERT INTO {table} (name, email, phone, country, created_at, updated_at) "
        f"SELECT %(name)s, %(email)s, %(phone)s, %(country)s, %(now)s, %(now)s "
        f"WHERE NOT EXISTS (SELECT 1 FROM guest_found) RETURNING {cols}), "
        f"guest AS (SELECT * FROM guest_updated UNION ALL "
        f"SELECT * FROM guest_found WHERE NOT EXISTS (SELECT 1 FROM guest_updated) UNION ALL "
        f"SELECT * FROM guest_new)"
    )


def guest_upsert_cte_params(data: GuestInput, now) -> dict:
    email = data.email.strip().lower()
    return {"email": email, "name": data.name.strip() or email or "Guest", "phone": data.phone.strip(),
            "phone_given": data.phone, "country": data.country.upper(), "now": now}


def invite_staff(*, owner, email: str, full_name: str = "", request=None):
    """Create a staff account working for ``owner`` and email it a link to choose a password.

    The account is in the "Staff" group with ``is_staff`` and ``employer=owner``
    (so the owner sees and assigns it, and nobody else's owners do); it has no
    usable password and an unverified address. The link is allauth's password
    reset link: setting a password through it proves the inbox, which verifies
    the address (``guests.signals``), after which the person signs in at
    ``/accounts/login/`` like everyone else.
    """
    from allauth.account.forms import default_token_generator
    from allauth.account.models import EmailAddress
    from allauth.account.utils import user_pk_to_url_str
    from django.conf import settings
    from django.core.mail import send_mail
    from django.db import transaction
    from django.template.loader import render_to_string
    from django.urls import reverse

    from .models import User
    from .roles import STAFF, assign_role

    with transaction.atomic():
        user = User.objects.create_user(email=email, full_name=full_name, is_staff=True, employer=owner)
        assign_role(user, STAFF)
        EmailAddress.objects.create(user=user, email=user.email, primary=True, verified=False)
    path = reverse("account_reset_password_from_key",
                   kwargs={"uidb36": user_pk_to_url_str(user), "key": default_token_generator.make_token(user)})
    url = request.build_absolute_uri(path) if request is not None else f"{settings.SITE_URL}{path}"
    context = {"user": user, "owner": owner, "url": url}
    send_mail(
        subject=f"{owner.full_name or owner.email} invited you to the Stayhold back office",
        message=render_to_string("account/email/staff_invite.txt", context),
        from_email=settings.DEFAULT_FROM_EMAIL,
        recipient_list=[user.email],
    )
    return user


# --- privacy: erasure (privacy.services) ------------------------------------------------------------------


def erase_guest_profile(guest: Guest, *, pseudonym: str) -> Guest:
    """Replace the profile's personal data by ``pseudonym`` (name) and nothing (email, phone, account link). The
    country stays: on its own it names nobody, and guest statistics by country of origin are a legal duty in some
    countries (docs/privacy.md)."""
    guest.name, guest.email, guest.phone, guest.user = pseudonym, "", "", None
    guest.save(update_fields=["name", "email", "phone", "user", "updated_at"])
    return guest


def erase_account(user) -> None:
    """Anonymise a guest's account and close it: no name, an address that cannot receive mail, no usable password,
    inactive (Django refuses every session of an inactive user at its next request), no email addresses or second
    factors left with allauth. The row stays (audit rows may point at it), naming nobody."""
    from allauth.account.models import EmailAddress
    from allauth.mfa.models import Authenticator

    user.email = f"erased-account-{user.pk}@erased.invalid"
    user.full_name = user.first_name = user.last_name = ""
    user.is_active = False
    user.set_unusable_password()
    user.save()
    EmailAddress.objects.filter(user=user).delete()
    Authenticator.objects.filter(user=user).delete()
