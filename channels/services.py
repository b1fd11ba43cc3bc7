"""The channel writes outside the import pipeline: resolving a conflict, pausing or resuming a connection,
rotating its export URL, the bookkeeping of a saved connection, and deleting one. (The import pipeline writes through
``channels.sync`` → ``channels.reconcile`` → the booking services.) Admin views and forms call these.

Resolving a :class:`~channels.models.SyncConflict`: the owner decides, the services act, the row remembers.

A conflict is an overbooking: an imported stay, recorded and occupying its
nights, that overlaps another stay or an owner block (``channels.reconcile``).
The ways out (``SyncConflict.Resolution``):

* ``relocated`` — both stays are kept: the owner moved one guest elsewhere;
* ``accepted_overbooking`` — the owner accepts the overlap as it is;
* ``declined_imported`` — the owner had the platform cancel its stay: it stays
  recorded, its nights closed, until the platform's feed drops it (the next
  sync then cancels it), since only the platform can unsell it;
* ``cancelled_ours`` — our overlapping booking is cancelled (with the owner's
  full refund, ``payments.services.cancel_with_refund(by_owner=True)``) and the
  imported stay, alone on its nights, returns to overbooking lane 0.

Each resolution records who, when, how and the note on the conflict (the audit
of the decision); cancelling writes the booking's own audit rows and outbox
events through the services. ``gone`` is the sync's own resolution (the event
left the feed or moved to free nights), not the owner's. A settled conflict stays
settled while the event keeps the same dates (the sync does not reopen it).
"""

from __future__ import annotations

from datetime import datetime

from django.db import transaction
from django.utils import timezone

from bookings import blocks
from bookings.errors import BookingError
from bookings.services import lock_property
from core.actor import Actor

from . import api_sync
from .adapters import adapter_for
from .ical_parse import classify
from .models import CHANNEX, ChannelConnection, ConnectionStatus, SyncConflict, Transport
from .reconcile import import_stay, overlapped

R = SyncConflict.Resolution
OWNER_RESOLUTIONS = (R.RELOCATED, R.CANCELLED_OURS, R.DECLINED_IMPORTED, R.ACCEPTED_OVERBOOKING)


def resolve_conflict(*, conflict_id, resolution: str, user, note: str = "", at: datetime | None = None
                     ) -> SyncConflict:
    """Resolve an open conflict as the owner decided. Raises ``BookingError`` (nothing changed) when it cannot."""
    now = at or timezone.now()
    if resolution not in OWNER_RESOLUTIONS:
        raise BookingError(f"'{resolution}' is not a way to resolve a conflict.")
    property_id = SyncConflict.objects.filter(pk=conflict_id).values_list("property_id", flat=True).first()
    if property_id is None:
        raise BookingError("This conflict does not exist.")
    with transaction.atomic():
        prop = lock_property(property_id)
        conflict = (SyncConflict.objects.select_for_update(of=("self",))
                    .select_related("connection", "other_booking").get(pk=conflict_id))
        if conflict.resolved_at is not None:
            raise BookingError(f"This conflict was already resolved ({conflict.get_resolution_display()}).")
        if resolution == R.CANCELLED_OURS:
            _cancel_ours_and_import(conflict, prop, user, note, now)
        conflict.resolved_at = now
        conflict.resolution = resolution
        conflict.resolved_by = user if getattr(user, "pk", None) else None
        conflict.resolution_note = note.strip()
        conflict.save(update_fields=["resolved_at", "resolution", "resolved_by", "resolution_note"])
    return conflict


def _cancel_ours_and_import(conflict: SyncConflict, prop, user, note: str, now: datetime) -> None:
    """Cancel the other booking, then import the stay again, in the caller's transaction under the property lock.

    The stay is normally recorded already (an overbooking lane): importing it again with nothing else on its
    nights puts it back in lane 0. If an owner block or a third stay is still in the way, this raises and the
    whole transaction, the cancellation included, is rolled back: the owner is told why. The refund is only
    recorded here; it goes to the payment provider after this transaction commits (no network call under the
    lock), so a failure below cancels nothing and refunds nothing."""
    from payments.services import cancel_with_refund

    other = conflict.other_booking
    if other is None:
        raise BookingError("This conflict is not with one of our bookings (an owner block?): remove the block, "
                           "the next sync settles the stay.")
    connection = conflict.connection
    reason = (f"Cancelled for the {connection.get_platform_display()} stay {conflict.check_in}–{conflict.check_out} "
              f"it overlapped.") + (f" {note.strip()}" if note.strip() else "")
    cancel_with_refund(booking_id=other.pk, actor=Actor.for_user(user), reason=reason, by_owner=True, at=now)
    guest_name = classify(connection.platform, summary=conflict.summary, description=conflict.description).guest_name
    outcome = import_stay(connection, uid=conflict.uid, check_in=conflict.check_in, check_out=conflict.check_out,
                          guest_name=guest_name, at=now)
    if outcome.collides:
        raise BookingError(f"Cancelling {other.reference} would not free these dates: the stay also overlaps "
                           f"{overlapped(outcome)}. Nothing was changed.")


# --- connections ------------------------------------------------------------------------------------------


def apply_paused(connection: ChannelConnection, *, paused: bool, now: datetime | None = None) -> list[str]:
    """Pause or resume ``connection`` in memory (a paused one is not fetched; a resumed one is due at the next
    beat); returns the fields to save."""
    connection.sync_enabled = not paused
    if paused:
        connection.status, connection.next_poll_at = ConnectionStatus.PAUSED, None
    else:
        if connection.status == ConnectionStatus.PAUSED:
            connection.status = ConnectionStatus.OK
        connection.next_poll_at = now or timezone.now()
    return ["sync_enabled", "status", "next_poll_at", "updated_at"]


def set_paused(connection: ChannelConnection, *, paused: bool, now: datetime | None = None) -> ChannelConnection:
    """Pause or resume syncing and save it. A resumed API connection gets a full sync: what changed while it was
    paused was never pushed."""
    connection.save(update_fields=apply_paused(connection, paused=paused, now=now))
    if connection.is_api and not paused:
        api_sync.request_full_sync(connection, now=now)
    return connection


def rotate_export_url(connection: ChannelConnection) -> ChannelConnection:
    """A new export token: the old feed URL answers 404 from now on."""
    connection.rotate_export_token()
    connection.save(update_fields=["export_token", "export_token_digest", "updated_at"])
    return connection


def prepare_connection_save(connection: ChannelConnection, *, changed: set[str], now: datetime | None = None) -> None:
    """Keep the sync bookkeeping consistent with what a form changed (in memory; the form saves): a new import
    address is fetched at the next beat without the old one's ETag; switching syncing off or on pauses or
    resumes; a new connection created paused shows Paused."""
    now = now or timezone.now()
    if connection.pk is None or {"import_url", "clear_import_url"} & changed:
        connection.etag, connection.last_modified, connection.next_poll_at = "", "", now
        connection.content_sha256 = ""
    if connection.pk is not None and "sync_enabled" in changed:
        apply_paused(connection, paused=not connection.sync_enabled, now=now)
    elif connection.pk is None and not connection.sync_enabled:
        connection.status = ConnectionStatus.PAUSED


def delete_connection(connection: ChannelConnection) -> None:
    """Delete a connection with its runs and conflicts. Its channel blocks go first, through the booking service
    (property lock + outbox), so that the other platforms' feeds learn the nights are free; the cascade alone
    (``channels.models``' ``pre_delete``) would free them without telling anyone."""
    blocks.replace_channel_blocks(connection=connection, blocks=[])
    connection.delete()


# --- API connections -----------------------------------------------------------------------------------------

# The platform value of an API connection of each transport (one connection per property and platform).
TRANSPORT_PLATFORMS: dict[str, str] = {Transport.CHANNEX: CHANNEX, Transport.BOOKING_COM: "booking_com",
                       Transport.GOOGLE_VR: "google_vr"}


class ConnectionRefused(BookingError):
    code = "connection_refused"


@transaction.atomic
def connect_api(*, property_id, transport: str, credentials: dict[str, str], remote_property_id: str,
                remote_room_type_id: str = "", remote_rate_plan_id: str = "", name: str = "") -> ChannelConnection:
    """Create (or re-map) the property's API connection to a platform and activate it after commit: the webhook
    is registered with a new secret, a full sync of the platform's horizon is pushed and reservations are
    pulled (``api_sync.activate_connection``, a task: no network call in the web request).

    Refused when the property already reaches that platform by iCal: both would import the same reservations
    under different ids. The owner removes the iCal connection first (its imported stays are kept)."""
    platform = TRANSPORT_PLATFORMS.get(transport)
    if platform is None:
        raise ConnectionRefused(f"Unknown platform API {transport!r}.")
    missing = [label for key, label in adapter_for(ChannelConnection(transport=transport)).credential_fields()
               if not (credentials.get(key) or "").strip()]
    if missing:
        raise ConnectionRefused(f"Enter the {', '.join(missing)}.")
    if not remote_property_id.strip():
        raise ConnectionRefused("Choose the platform's property.")
    connection = (ChannelConnection.objects.select_for_update()
                  .filter(property_id=property_id, platform=platform).first())
    if connection is not None and not connection.is_api:
        raise ConnectionRefused(
            f"This property already has an iCal connection to {connection.get_platform_display()}. Remove it "
            "first (the stays it imported are kept), then connect the API.")
    if connection is None:
        connection = ChannelConnection(property_id=property_id, platform=platform)
    connection.transport, connection.name = transport, name or connection.name
    connection.set_credentials(credentials)
    connection.remote_property_id = remote_property_id.strip()
    connection.remote_room_type_id = remote_room_type_id.strip()
    connection.remote_rate_plan_id = remote_rate_plan_id.strip()
    connection.import_url, connection.sync_enabled, connection.status = "", True, ConnectionStatus.OK
    connection.breaker_state, connection.push_failures, connection.push_retry_at = "closed", 0, None
    connection.rotate_inbound_token()
    connection.save()
    transaction.on_commit(lambda: api_sync.queue_activation(connection.pk))
    return connection


def remote_properties(transport: str, credentials: dict[str, str], prop=None):
    """What the credentials can see on the platform, for ``prop`` (the connect form's second step): a list to pick
    from, or an empty list when the platform lists nothing and the ids are typed (the credentials were checked
    where the platform allows it). Raises AdapterError."""
    probe = ChannelConnection(transport=transport, property=prop)
    probe.set_credentials(credentials)
    return adapter_for(probe).list_properties(probe)


# --- privacy: erasing a guest's personal data (privacy.services.erase_guest) ------------------------------


def _without(text: str, secrets: list[str], replacement: str) -> str:
    for secret in secrets:
        text = text.replace(secret, replacement)
    return text


def erase_guest_texts(*, booking_ids, secrets: list[str], replacement: str) -> int:
    """Replace the guest's address, phone and name by ``replacement`` in what the platforms' feeds said about their
    stays (the conflicts' summary, description and detail: an iCal SUMMARY often carries the guest's name).
    Returns the conflicts changed."""
    from django.db.models import Q

    changed = 0
    secrets = [s for s in secrets if s]
    conflicts = SyncConflict.objects.filter(Q(imported_booking_id__in=booking_ids)
                                            | Q(other_booking_id__in=booking_ids))
    for conflict in conflicts:
        texts = (conflict.summary, conflict.description, conflict.detail)
        cleaned = tuple(_without(t, secrets, replacement) for t in texts)
        if cleaned != texts:
            conflict.summary, conflict.description, conflict.detail = cleaned
            conflict.save(update_fields=["summary", "description", "detail"])
            changed += 1
    return changed
