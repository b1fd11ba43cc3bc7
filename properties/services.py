"""Writes of the catalogue that others must hear about.

Changes of a property's prices, fees, pricing rules or date overrides announce
``pricing.updated`` in the transaction that made them (the channel feeds and
caches listen). Owner and channel blocks change occupancy: they are written by
``bookings.blocks``.
"""

from __future__ import annotations

from core import outbox


def announce_pricing(prop) -> None:
    """Call in the transaction that changed a property's prices, fees, pricing rules, date overrides, stay rules
    or status: ``pricing.updated`` tells the channels to push rates and rules again."""
    outbox.emit("pricing.updated", "property", prop.pk, {"property_id": prop.pk})
