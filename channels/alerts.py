"""Owners are alerted when a channel import runs into one of their bookings or blocks.

A new :class:`~channels.models.SyncConflict` (not a re-seen one) decides one
email to the property's owner, recorded as a ``SentEmail`` keyed by the
conflict, so a replayed or repeated sync never sends it twice; it is sent after
commit by the same email task and sweeper as every other email
(``bookings.notifications``). The dashboard and the conflicts list show it too.
"""

from __future__ import annotations

from django.urls import reverse

from bookings.notifications import Kind, Planned, absolute, queue

from .models import ChannelConnection, SyncConflict


def alert_owner_of_conflict(conflict: SyncConflict):
    """Decide the owner's email about a new conflict (in the caller's transaction). None if decided already."""
    prop = conflict.property
    owner_email = (prop.owner.email or "").strip()
    if not owner_email:
        return None
    if conflict.other_booking_id:
        other = f"booking {conflict.other_booking.reference}"
    elif conflict.other_block_id:
        other = f"your block {conflict.other_block.start_date:%d %b}–{conflict.other_block.end_date:%d %b %Y}"
    else:
        other = "a booking"
    data = {
        "prop": prop.name,
        "platform": (conflict.imported_booking.get_source_display() if conflict.imported_booking_id
                     else conflict.connection.get_platform_display()),
        "dates": f"{conflict.check_in:%d %b} – {conflict.check_out:%d %b %Y}",
        "other": other,
        "summary": conflict.summary[:200],
        "detail": conflict.detail[:500],
        "admin_url": absolute(reverse("admin:channel_sync_syncconflict_change", args=[conflict.pk])),
    }
    planned = Planned(Kind.OWNER_SYNC_CONFLICT, owner_email, f"{Kind.OWNER_SYNC_CONFLICT}:{conflict.pk}")
    return queue(None, planned, data=data)


def alert_owner_of_breaker(connection: ChannelConnection):
    """Tell the owner that pushes to a platform stopped after repeated failures (once per opening of the breaker):
    until they resume, nights sold here may stay open there."""
    prop = connection.property
    owner_email = (prop.owner.email or "").strip()
    if not owner_email:
        return None
    data = {
        "prop": prop.name,
        "platform": connection.get_platform_display(),
        "error": (connection.last_error or "the platform refused the updates")[:200],
        "admin_url": absolute(reverse("admin:channel_sync_channelconnection_change", args=[connection.pk])),
    }
    opened = connection.breaker_opened_at.isoformat() if connection.breaker_opened_at else ""
    key = f"{Kind.OWNER_CHANNEL_PAUSED}:{connection.pk}:{opened}"
    return queue(None, Planned(Kind.OWNER_CHANNEL_PAUSED, owner_email, key), data=data)
