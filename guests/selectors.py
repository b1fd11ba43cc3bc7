"""Reads for guest accounts."""

from __future__ import annotations


def verified_emails(user) -> list[str]:
    """The user's email addresses that allauth has verified, lower-cased."""
    from allauth.account.models import EmailAddress

    if not getattr(user, "is_authenticated", False):
        return []
    return sorted({e.lower() for e in EmailAddress.objects.filter(user=user, verified=True)
                   .values_list("email", flat=True)})


def visible_users(user):
    """Accounts ``user`` may see and pick in the back office: themselves and the staff they employ."""
    from django.db.models import Q

    from .models import User

    if user.is_superuser:
        return User.objects.all()
    if not user.is_authenticated:
        return User.objects.none()
    return User.objects.filter(Q(pk=user.pk) | Q(employer=user))

