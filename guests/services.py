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
