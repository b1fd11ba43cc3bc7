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


def bookings_for_user(user):
    """Every booking whose guest email is one of the user's VERIFIED addresses (none for an unverified one).

    Guest emails are stored lower-cased (``guests.services.find_or_create_guest``)."""
    from bookings.models import Booking, BookingStatus

    emails = verified_emails(user)
    if not emails:
        return Booking.objects.none()
    return (Booking.objects.filter(guest__email__in=emails).exclude(status__in=(BookingStatus.HELD,
                                                                                 BookingStatus.RELEASED))
            .select_related("property", "guest").order_by("-check_in", "-pk"))
