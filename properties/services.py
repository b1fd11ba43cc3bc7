"""Writes that change a property's availability or prices.

Owner blocks change occupancy, so they follow the booking rule: one
transaction, the property row locked first, checked against bookings and holds
under that lock, and an ``availability.updated`` outbox event in the same
transaction. Price and rule changes announce ``pricing.updated``.
"""

from __future__ import annotations

from datetime import date

from django.db import transaction
from django.utils import timezone

from bookings import outbox
from bookings.errors import DatesUnavailable, StayRuleViolation
from bookings.services import expire_stale_for_property, lock_property

from .availability import occupying_bookings
from .models import AvailabilityBlock


def _announce_availability(prop, start: date, end: date) -> None:
    outbox.emit("availability.updated", "property", prop.pk,
                {"property_id": prop.pk, "start": start.isoformat(), "end": end.isoformat()})


def announce_pricing(prop) -> None:
    """Call in the transaction that changed a property's prices, fees or pricing rules."""
    outbox.emit("pricing.updated", "property", prop.pk, {"property_id": prop.pk})


@transaction.atomic
def create_block(*, property_id, start_date: date, end_date: date, reason: str = AvailabilityBlock.Reason.BLOCKED,
                 note: str = "", user=None) -> AvailabilityBlock:
    """Block nights for the owner. Refused if a booking or live hold occupies any of them."""
    if end_date <= start_date:
        raise StayRuleViolation("End date must be after the start date.")
    prop = lock_property(property_id)
    now = timezone.now()
    expire_stale_for_property(prop, now)
    taken = list(occupying_bookings(prop, start_date, end_date, now).values_list("reference", flat=True)[:5])
    if taken:
        raise DatesUnavailable(f"These nights are booked ({', '.join(taken)}); cancel or move the bookings first.")
    block = AvailabilityBlock(property=prop, start_date=start_date, end_date=end_date, reason=reason, note=note,
                              created_by=user if user is not None and user.pk else None)
    block.full_clean()
    block.save()
    _announce_availability(prop, start_date, end_date)
    return block


@transaction.atomic
def delete_block(*, block_id) -> None:
    block = AvailabilityBlock.objects.get(pk=block_id)
    prop = lock_property(block.property_id)
    block.delete()
    _announce_availability(prop, block.start_date, block.end_date)
