"""Placeholders of message templates: ``{{guest_name}}``, ``{{door_code}}`` …, and a registry for more.

The built-in placeholders read the booking and the property's messaging settings (:data:`BUILTIN`). Apps above
``messaging`` add or replace one in their ``AppConfig.ready`` with :func:`register` (the reviews app registers
``review_link``; until it does, ``review_link`` is the guest's portal page). A template is saved only when every
placeholder in it is known (:func:`validate_template_body`: a field error naming the unknown ones).

This module imports no model of its own app (``messaging.models`` imports it for the validator).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils.formats import date_format
from django.utils.translation import gettext_lazy as _

PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")

# name → function(booking, message_settings or None) → text
Resolver = Callable[[Any, Any], str]


def _absolute(path: str) -> str:
    return f"{settings.SITE_URL}{path}"


def _portal_link(booking, _settings) -> str:
    from bookings.links import status_url

    return _absolute(status_url(booking))


def _guest_name(booking, _settings) -> str:
    return booking.guest.name if booking.guest_id and booking.guest.name else str(_("guest"))


BUILTIN: dict[str, Resolver] = {
    "guest_name": _guest_name,
    "property_name": lambda b, s: b.property.name,
    "check_in": lambda b, s: date_format(b.check_in, "DATE_FORMAT"),
    "check_out": lambda b, s: date_format(b.check_out, "DATE_FORMAT"),
    "check_in_time": lambda b, s: b.property.check_in_time.strftime("%H:%M") if b.property.check_in_time else "",
    "door_code": lambda b, s: (s.door_code if s else "") or "",
    "wifi_name": lambda b, s: (s.wifi_name if s else "") or "",
    "wifi_password": lambda b, s: (s.wifi_password if s else "") or "",
    "portal_link": _portal_link,
    # Replaced by the reviews app's link to its review form (register("review_link", …)).
    "review_link": _portal_link,
}
_registered: dict[str, Resolver] = {}


def register(name: str, resolver: Resolver) -> None:
    """Add a placeholder, or replace a built-in one (e.g. ``review_link``). ``resolver(booking, settings)`` gives its
    text; ``settings`` is the property's ``MessageSettings`` or None."""
    if not PLACEHOLDER.fullmatch("{{" + name + "}}"):
        raise ValueError(f"Not a placeholder name: {name!r}")
    _registered[name] = resolver


def known() -> dict[str, Resolver]:
    return {**BUILTIN, **_registered}


def names_in(body: str) -> list[str]:
    return list(dict.fromkeys(PLACEHOLDER.findall(body or "")))


def validate_template_body(body: str) -> None:
    """A field error naming every unknown placeholder (a typo would otherwise reach the guest as ``{{…}}``)."""
    unknown = [name for name in names_in(body) if name not in known()]
    if unknown:
        raise ValidationError(
            _("Unknown placeholder(s): %(names)s. Available: %(available)s."),
            code="unknown_placeholder",
            params={"names": ", ".join("{{" + n + "}}" for n in unknown),
                    "available": ", ".join("{{" + n + "}}" for n in sorted(known()))})


def render(body: str, booking, message_settings=None) -> str:
    """``body`` with every known placeholder replaced; an unknown one is left as written (templates are validated
    when saved; a placeholder whose app was removed since must not lose the rest of the text)."""
    resolvers = known()

    def replace(match: re.Match) -> str:
        resolver = resolvers.get(match.group(1))
        return str(resolver(booking, message_settings)) if resolver else match.group(0)

    return PLACEHOLDER.sub(replace, body or "")
