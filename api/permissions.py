"""Who may do what through the API (docs/architecture.md, Invariant 8).

* Reading active properties, searching, quoting, availability: anyone.
* Creating holds and bookings: anyone (throttled, see ``throttles``).
* Releasing a hold: whoever holds its signed release token, or a manager of its property.
* Reading a booking: a manager of its property (owner, assigned staff, superuser)
  or whoever holds the guest's signed access token. Anyone else gets 404, so
  references cannot be probed.
* Changing a booking's status: managers only.

Before any of this, the session must be allowed to use staff authority at all (``guests.authority``): every
endpoint refuses a session that owes its second factor with 403 ``mfa_required`` (``ApiView.get_permissions``),
and the status endpoint needs ``StaffAuthority``.
"""

from __future__ import annotations

from django.db.models import Q

from bookings.models import Booking
from properties.models import Property


def manages_property(user, property_id) -> bool:
    """Owner, assigned staff or superuser of the property."""
    if user is None or not user.is_authenticated:
        return False
    return Property.objects.managed_by(user).filter(pk=property_id).exists()


def manageable_bookings(user):
    """Bookings ``user`` may read in full and change."""
    if user is None or not user.is_authenticated:
        return Booking.objects.none()
    return Booking.objects.visible_to(user)


def visible_properties(user):
    """Active properties for everyone, plus the ones ``user`` manages in any status."""
    if user is None or not user.is_authenticated:
        return Property.objects.active()
    if user.is_superuser:
        return Property.objects.all()
    managed = Property.objects.filter(Q(owner=user) | Q(staff=user)).values("pk")
    return Property.objects.filter(Q(status=Property.Status.ACTIVE) | Q(pk__in=managed))
