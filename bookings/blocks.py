"""Writes of availability blocks: the owner's own, and the channel blocks a platform exports.

Owner blocks change occupancy, so they follow the booking rule: one
transaction, the property row locked first, checked against bookings and holds
under that lock, and an ``availability.updated`` outbox event in the same
transaction. (Price and rule changes announce ``pricing.updated`` from
``properties.services``.)
"""

from __future__ import annotations

from datetime import date

from django.db import transaction
from django.utils import timezone

from core import outbox

from .availability import occupying_bookings
from .errors import DatesUnavailable, StayRuleViolation
from .models import AvailabilityBlock
from .services import expire_stale_for_property, lock_property


def _announce_availability(prop, start: date, end: date) -> None:
    outbox.emit("availability.updated", "property", prop.pk,
                {"property_id": prop.pk, "start": start.isoformat(), "end": end.isoformat()})


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


# --- channel blocks ---------------------------------------------------------------------------


def merge_block_ranges(blocks) -> list[tuple[date, date, bool, str]]:
    """Sort ``(start, end, tentative, summary)`` ranges and merge those that overlap or touch.

    Only ranges of the same ``tentative`` flag merge (a tentative range must stay
    visible as such); the merged summary lists the distinct summaries in date
    order. Deterministic, so the same feed always gives the same blocks."""
    merged: list[list] = []
    for tentative in (False, True):
        current = None
        for start, end, _tentative, summary in sorted(b for b in blocks if bool(b[2]) == tentative):
            if end <= start:
                raise StayRuleViolation(f"A channel block must end after it starts ({start}–{end}).")
            if current is not None and start <= current[1]:
                current[1] = max(current[1], end)
                if summary and summary not in current[3]:
                    current[3].append(summary)
                continue
            current = [start, end, tentative, [summary] if summary else []]
            merged.append(current)
    return sorted((s, e, t, "\n".join(parts)) for s, e, t, parts in merged)


@transaction.atomic
def replace_channel_blocks(*, connection, blocks: list[tuple[date, date, bool, str]]) -> int:
    """Make ``connection``'s channel blocks exactly ``blocks`` (merged first); return how many there are now.

    A platform's "not available" dates are replaced as a whole on every snapshot,
    so a window that rolls every day (Airbnb, with a new UID each day) never
    piles up. Unlike owner blocks they are written without the "nights are
    booked" check: platforms re-export what we sent them (echoes). Under the
    property lock; blocks that did not change keep their rows, and an unchanged
    set writes nothing and announces nothing (idempotent syncs stay silent)."""
    desired = merge_block_ranges(blocks)
    prop = lock_property(connection.property_id)
    existing = list(AvailabilityBlock.objects.filter(connection=connection).order_by("start_date", "pk"))
    unmatched: dict[tuple, list[AvailabilityBlock]] = {}
    for block in existing:
        unmatched.setdefault((block.start_date, block.end_date, block.tentative, block.external_summary),
                             []).append(block)
    to_create = []
    for start, end, tentative, summary in desired:
        if unmatched.get((start, end, tentative, summary)):
            unmatched[(start, end, tentative, summary)].pop()
            continue
        label = "Tentative" if tentative else "Not available"
        to_create.append(AvailabilityBlock(
            property=prop, connection_id=connection.pk, start_date=start, end_date=end, tentative=tentative,
            external_summary=summary, reason=AvailabilityBlock.Reason.CHANNEL,
            note=f"{label} on {connection.get_platform_display()}"[:200]))
    to_delete = [block for rows in unmatched.values() for block in rows]
    if not to_create and not to_delete:
        return len(existing)
    AvailabilityBlock.objects.filter(pk__in=[b.pk for b in to_delete]).delete()
    AvailabilityBlock.objects.bulk_create(to_create)
    changed = [(b.start_date, b.end_date) for b in to_delete + to_create]
    _announce_availability(prop, min(s for s, _ in changed), max(e for _, e in changed))
    return len(desired)


# --- privacy (privacy.services): what a platform's feed said about a person ------------------------------------


def redact_channel_summaries(*, property_ids, secrets: list[str], replacement: str) -> int:
    """Replace an erased guest's address, phone and name by ``replacement`` in the imported summaries of the channel
    blocks of ``property_ids`` (some feeds name the guest in a "not available" event). Occupancy does not change:
    no lock, no event. Returns the blocks changed."""
    from django.db.models import Q

    secrets = [s for s in secrets if s]
    if not secrets:
        return 0
    quoting = Q()
    for secret in secrets:
        quoting |= Q(external_summary__icontains=secret)
    changed = 0
    for block in AvailabilityBlock.objects.filter(property_id__in=property_ids, connection__isnull=False) \
            .filter(quoting):
        summary = block.external_summary
        for secret in secrets:
            summary = summary.replace(secret, replacement)
        block.external_summary = summary
        block.save(update_fields=["external_summary"])
        changed += 1
    return changed


def forget_old_channel_summaries(*, ended_before: date) -> int:
    """Empty the imported summaries of channel blocks that ended before ``ended_before`` (the retention period):
    they may name people who have no guest profile here. Occupancy does not change."""
    return (AvailabilityBlock.objects.filter(connection__isnull=False, end_date__lt=ended_before)
            .exclude(external_summary="").update(external_summary=""))
