"""The tenant of the back office is the property: the properties a user manages.

The scoping itself (``TenantScopedAdmin``, ``scope_to_user``, the registries) is
generic and lives in ``core.tenancy``; ``PropertiesConfig.ready`` registers
:func:`managed_properties` there as the way to find a user's tenants.
"""

from __future__ import annotations

from .models import Property


def managed_properties(user):
    """The properties ``user`` may see in the back office (all for a superuser, none for anonymous)."""
    if not user.is_authenticated:
        return Property.objects.none()
    return Property.objects.managed_by(user)
