"""Who causes a change: a user, a guest, a channel, an API client or the system. Every audit row records one."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db import models


class ActorType(models.TextChoices):
    USER = "user", "User"
    GUEST = "guest", "Guest"
    SYSTEM = "system", "System"
    CHANNEL = "channel", "Channel"
    API = "api", "API client"


@dataclass(frozen=True)
class Actor:
    """Who causes a change: a user, a guest, a channel, an API client or the system."""

    type: str
    user: Any = None  # a guests.User (core knows no domain model)
    label: str = ""

    @classmethod
    def system(cls, label: str = "") -> Actor:
        return cls(ActorType.SYSTEM, label=label)

    @classmethod
    def for_user(cls, user) -> Actor:
        return cls(ActorType.USER, user=user, label=getattr(user, "email", ""))

    @classmethod
    def guest(cls, email: str = "") -> Actor:
        return cls(ActorType.GUEST, label=email)

    @classmethod
    def guest_of(cls, booking) -> Actor:
        return cls.guest(booking.guest.email if booking.guest else "")

    @classmethod
    def channel(cls, source: str) -> Actor:
        return cls(ActorType.CHANNEL, label=source)

    @classmethod
    def api(cls, user=None, label: str = "") -> Actor:
        if user is not None and getattr(user, "is_authenticated", False):
            return cls(ActorType.USER, user=user, label=user.email)
        return cls(ActorType.API, label=label)
