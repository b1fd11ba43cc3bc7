"""Channel connections (per property and platform, by iCal or by a platform's API), their sync runs and conflicts,
and for API connections the queue of availability/rate changes to push (:class:`AriChange`) and the inbound
reservation messages already applied (:class:`InboundMessage`).

A connection links one property to one platform calendar: we *import* the
platform's iCal export (``import_url``, a secret, encrypted) and the platform
imports *our* feed for that connection (``/ical/<export token>.ics``; the token
is encrypted too and found by its digest). See ``channels.sync`` for the import
cycle, ``channels.ical_export`` for the feed, ``channels.reconcile`` for how a
snapshot becomes bookings, channel blocks and conflicts.

Channel blocks (``bookings.AvailabilityBlock`` rows with ``connection_id`` set)
point at their connection without a foreign key (``bookings`` is a layer below;
``core.fields.UpwardReference``). What the foreign key gave, this app provides
(bound in ``ChannelsConfig.ready``): ``block.connection`` and the lookup
``connection__platform``; :attr:`ChannelConnection.channel_blocks`; and the
cascade — :func:`delete_channel_blocks` runs before any connection is deleted
(one by one, in bulk, or with its property). The admin removes them through
``bookings.blocks.replace_channel_blocks`` first (lock + outbox), so the receiver
usually finds nothing left.
"""

from __future__ import annotations

import builtins
import json
import secrets
from datetime import timedelta

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils import timezone

from bookings.models import CHANNEL_SOURCES, AvailabilityBlock
from core.crypto import EncryptedTextField, token_digest

# The channels a connection can link to: the channel booking sources (one list to extend), so that an iCal
# connection's imported stays have ``source == connection.platform``; plus Channex, a channel manager that reaches
# several of them (each reservation it delivers carries its own platform, which becomes the booking's source).
CHANNEX = "channex"
Platform = models.TextChoices("Platform", [(source.name, (source.value, source.label)) for source in CHANNEL_SOURCES]
                              + [("CHANNEX", (CHANNEX, "Channex (Airbnb, Vrbo, Booking.com, Expedia, Google)"))])


class Transport(models.TextChoices):
    """How a connection talks to its platform: the platform reads our iCal feed and we read theirs, or an adapter
    of ``channels.adapters`` pushes availability and rates and receives reservations through the platform's API."""

    ICAL = "ical", "iCal feeds"
    CHANNEX = "channex", "Channex API"
    BOOKING_COM = "booking_com", "Booking.com connectivity API"
    GOOGLE_VR = "google_vr", "Google Vacation Rentals (ARI push)"


class BreakerState(models.TextChoices):
    CLOSED = "closed", "Closed (pushing)"
    OPEN = "open", "Open (paused after repeated failures)"
    HALF_OPEN = "half_open", "Half-open (trying one push)"


class ConnectionStatus(models.TextChoices):
    OK = "ok", "OK"
    WARNING = "warning", "Warning"
    FAILING = "failing", "Failing"
    PAUSED = "paused", "Paused"


def new_export_token() -> str:
    return secrets.token_urlsafe(32)


class ChannelConnection(models.Model):
    property = models.ForeignKey("properties.Property", on_delete=models.CASCADE, related_name="channel_connections")
    platform = models.CharField(max_length=20, choices=Platform.choices)
    name = models.CharField(max_length=100, blank=True, help_text="Optional label, e.g. the listing's title.")
    import_url = EncryptedTextField(
        blank=True, help_text="The platform's iCal export address for this listing (kept encrypted).")
    export_token = EncryptedTextField(editable=False, default="")
    export_token_digest = models.CharField(max_length=64, unique=True, editable=False)
    sync_enabled = models.BooleanField(default=True)
    poll_interval_minutes = models.PositiveSmallIntegerField(
        default=10, validators=[MinValueValidator(5), MaxValueValidator(24 * 60)])
    next_poll_at = models.DateTimeField(null=True, blank=True, db_index=True)
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    last_success_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    etag = models.CharField(max_length=255, blank=True)
    last_modified = models.CharField(max_length=64, blank=True)
    # The SHA-256 of the last feed body applied without a warning, with the property's local date: the same body again
    # that day is an unchanged feed, like a 304 (channels.sync), for platforms that send no validators. Cleared with
    # the validators and by a run whose cancellations were held back.
    content_sha256 = models.CharField(max_length=64, blank=True, default="", db_default="")
    last_counts = models.JSONField(default=dict, blank=True)
    status = models.CharField(max_length=10, choices=ConnectionStatus.choices, default=ConnectionStatus.OK)
    consecutive_failures = models.PositiveIntegerField(default=0)
    # Cancellations the safety nets hold back (channels.reconcile): {external_id: consecutive snapshots that left
    # the stay out while being held}. Cleared when a snapshot applies without holding anything.
    held_cancellations = models.JSONField(default=dict, blank=True)

    # --- API connections (transport other than iCal; channels.adapters) ---------------------------------------
    transport = models.CharField(max_length=20, choices=Transport.choices, default=Transport.ICAL)
    credentials = EncryptedTextField(
        blank=True, help_text="The platform's API credentials as JSON (kept encrypted, never shown back in full).")
    remote_property_id = models.CharField("platform's property id", max_length=100, blank=True)
    remote_room_type_id = models.CharField("platform's room type id", max_length=100, blank=True)
    remote_rate_plan_id = models.CharField("platform's rate plan id", max_length=100, blank=True)
    # The secret the platform sends back with its webhooks (encrypted; found by its digest).
    inbound_token = EncryptedTextField(editable=False, default="")
    inbound_token_digest = models.CharField(max_length=64, blank=True, db_index=True, editable=False)
    last_push_at = models.DateTimeField(null=True, blank=True)
    last_pull_at = models.DateTimeField(null=True, blank=True)
    # One worker pushes a connection at a time (a lease, so that a worker that dies frees it by itself).
    push_lease_until = models.DateTimeField(null=True, blank=True)
    push_retry_at = models.DateTimeField(null=True, blank=True)  # backoff: no push before
    push_failures = models.PositiveIntegerField(default=0)  # consecutive failed pushes
    breaker_state = models.CharField(max_length=10, choices=BreakerState.choices, default=BreakerState.CLOSED)
    breaker_opened_at = models.DateTimeField(null=True, blank=True)
    full_sync_requested_at = models.DateTimeField(null=True, blank=True)
    last_full_sync_at = models.DateTimeField(null=True, blank=True)
    last_reconciled_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["property", "platform", "pk"]
        constraints = [
            # One calendar per platform and property: imported stays are keyed by (property, platform, UID),
            # so two connections of one platform would each see the other's stays as gone and cancel them.
            models.UniqueConstraint(fields=["property", "platform"], name="channel_connection_one_per_platform"),
        ]

    def __str__(self):
        return f"{self.property} · {self.get_platform_display()}{f' ({self.name})' if self.name else ''}"

    def save(self, *args, **kwargs):
        if not self.export_token_digest:
            self.rotate_export_token()
        super().save(*args, **kwargs)

    @builtins.property
    def channel_blocks(self):
        """This connection's channel blocks (what the foreign key's reverse accessor gave)."""
        return AvailabilityBlock.objects.filter(connection=self)

    @builtins.property  # `property` is the FK field in this class body
    def source(self) -> str:
        """The booking source of stays imported through this connection (``bookings.models.Source``)."""
        return self.platform

    def rotate_export_token(self) -> str:
        """A new export token (the old feed URL answers 404 from now on). Saves nothing."""
        token = new_export_token()
        self.export_token, self.export_token_digest = token, token_digest(token)
        return token

    @builtins.property
    def is_api(self) -> bool:
        return self.transport != Transport.ICAL

    def credential(self, key: str) -> str:
        """One of the API credentials (``credentials`` holds them as encrypted JSON)."""
        try:
            values = json.loads(self.credentials or "{}")
        except ValueError:
            return ""
        return str(values.get(key, "")) if isinstance(values, dict) else ""

    def set_credentials(self, values: dict[str, str]) -> None:
        self.credentials = json.dumps({k: v for k, v in values.items() if v})

    def rotate_inbound_token(self) -> str:
        """A new webhook secret (the platform must be told it: ``channels.api_sync`` registers the webhook)."""
        token = new_export_token()
        self.inbound_token, self.inbound_token_digest = token, token_digest(token)
        return token

    def is_stale(self, now=None) -> bool:
        """No success for 3 poll intervals (or never, 3 intervals after creation): the dashboard warns."""
        now = now or timezone.now()
        since = self.last_success_at or self.created_at
        return self.sync_enabled and since is not None and now - since > timedelta(
            minutes=3 * self.poll_interval_minutes)


class SyncRun(models.Model):
    """One fetch of a connection's feed and what it did. Kept ``CHANNEL_SYNC_RUN_RETENTION_DAYS`` (30)."""

    class Outcome(models.TextChoices):
        OK = "ok", "OK"
        NOT_MODIFIED = "not_modified", "Not modified (304)"
        WARNING = "warning", "Warning (nothing changed)"
        ERROR = "error", "Error"

    connection = models.ForeignKey(ChannelConnection, on_delete=models.CASCADE, related_name="runs")
    started_at = models.DateTimeField(default=timezone.now, db_index=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    trigger = models.CharField(max_length=20, default="schedule")  # "schedule" | "manual"
    outcome = models.CharField(max_length=20, choices=Outcome.choices, default=Outcome.OK)
    http_status = models.PositiveSmallIntegerField(null=True, blank=True)
    bytes = models.PositiveIntegerField(default=0)
    duration_ms = models.PositiveIntegerField(default=0)
    events_seen = models.PositiveIntegerField(default=0)
    created = models.PositiveIntegerField(default=0)
    changed = models.PositiveIntegerField(default=0)
    cancelled = models.PositiveIntegerField(default=0)
    unchanged = models.PositiveIntegerField(default=0)
    conflicts = models.PositiveIntegerField(default=0)
    blocks = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True)  # what the owner sees
    detail = models.TextField(
        blank=True, help_text="For operators only (superusers), never shown to owners: the precise reason of a "
                              "failed fetch (which address was refused, connect, TLS or timeout error).")

    class Meta:
        ordering = ["-started_at", "-pk"]

    def __str__(self):
        return f"{self.connection} {self.started_at:%Y-%m-%d %H:%M} {self.outcome}"


class SyncConflict(models.Model):
    """An overbooking: an imported stay on nights another stay or an owner block occupies, until resolved.

    The platform sold the stay, so it is recorded anyway (``imported_booking``, in an overbooking lane when it
    overlaps another stay: ``bookings.services.import_external``) and its nights stay closed everywhere; this
    row is the owner's to-do, with the event's data and the other side it ran into (the first overlapping
    booking, else the owner block). Never silently dropped, never silently overriding: the other booking is
    never cancelled automatically."""

    class Resolution(models.TextChoices):
        RELOCATED = "relocated", "Kept both: a guest was relocated"
        CANCELLED_OURS = "cancelled_ours", "Cancelled our booking (the imported stay keeps the nights)"
        DECLINED_IMPORTED = "declined_imported", "The imported stay was cancelled on the platform"
        ACCEPTED_OVERBOOKING = "accepted_overbooking", "Accepted as an overbooking"
        GONE = "gone", "Resolved by itself (the event left the feed or moved)"

    connection = models.ForeignKey(ChannelConnection, on_delete=models.CASCADE, related_name="conflicts")
    property = models.ForeignKey("properties.Property", on_delete=models.CASCADE, related_name="sync_conflicts")
    uid = models.CharField(max_length=500)
    check_in = models.DateField()
    check_out = models.DateField()
    summary = models.TextField(blank=True)
    description = models.TextField(blank=True)
    imported_booking = models.ForeignKey(
        "bookings.Booking", null=True, blank=True, on_delete=models.SET_NULL, related_name="import_conflicts",
        help_text="The imported stay as recorded here (empty for conflicts detected before imports always recorded).")
    other_booking = models.ForeignKey("bookings.Booking", null=True, blank=True, on_delete=models.SET_NULL,
                                      related_name="sync_conflicts")
    other_block = models.ForeignKey(AvailabilityBlock, null=True, blank=True,
                                    on_delete=models.SET_NULL, related_name="sync_conflicts")
    detail = models.TextField(blank=True, help_text="What the imported stay overlaps.")
    detected_at = models.DateTimeField(default=timezone.now)
    last_seen_at = models.DateTimeField(default=timezone.now)
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolution = models.CharField(max_length=30, choices=Resolution.choices, blank=True)
    resolved_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    resolution_note = models.TextField(blank=True)

    class Meta:
        ordering = ["-detected_at", "-pk"]
        constraints = [
            # One open conflict per imported event: a re-run updates it instead of piling up.
            models.UniqueConstraint(fields=["connection", "uid"], condition=models.Q(resolved_at__isnull=True),
                                    name="sync_conflict_one_open_per_uid"),
        ]

    def __str__(self):
        return f"{self.connection}: {self.uid} {self.check_in}–{self.check_out}"


class AriChange(models.Model):
    """Nights whose availability (``kinds`` bit 1) or rates and stay rules (bit 2) must be pushed to one API
    connection. Written by the outbox consumer (``channels.api_sync``) in the delivery's transaction, removed by
    the push once the platform has taken the values; a push reads the values *then*, so rows only say where to
    look, and many rows over the same nights become one message (coalescing)."""

    AVAILABILITY = 1
    RESTRICTIONS = 2  # rates, minimum/maximum stay, closed to arrival/departure, stop sell
    ALL = AVAILABILITY | RESTRICTIONS

    connection = models.ForeignKey(ChannelConnection, on_delete=models.CASCADE, related_name="ari_changes")
    start = models.DateField()
    end = models.DateField()  # exclusive: the nights [start, end)
    kinds = models.PositiveSmallIntegerField(default=ALL)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["pk"]
        indexes = [models.Index(fields=["connection", "created_at"], name="ari_change_connection_age")]

    def __str__(self):
        return f"{self.connection_id}: {self.start}–{self.end} ({self.kinds})"


class InboundMessage(models.Model):
    """One reservation message received through an API connection (a Channex booking revision, a Booking.com
    reservation or modification), recorded in the transaction that applied it: a message seen again (a
    duplicated webhook, a queue that re-delivers until acknowledged) is only acknowledged again."""

    connection = models.ForeignKey(ChannelConnection, on_delete=models.CASCADE, related_name="inbound_messages")
    message_id = models.CharField(max_length=200)
    remote_booking_id = models.CharField(max_length=200)
    revision_at = models.DateTimeField(null=True, blank=True)  # the platform's time of this version
    kind = models.CharField(max_length=20)  # new | modified | cancelled
    received_at = models.DateTimeField(default=timezone.now)
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    outcome = models.CharField(max_length=200, blank=True)
    booking = models.ForeignKey("bookings.Booking", null=True, blank=True, on_delete=models.SET_NULL,
                                related_name="inbound_messages")

    class Meta:
        ordering = ["-received_at", "-pk"]
        constraints = [models.UniqueConstraint(fields=["connection", "message_id"], name="inbound_message_once")]
        indexes = [models.Index(fields=["connection", "remote_booking_id"], name="inbound_message_booking")]

    def __str__(self):
        return f"{self.connection_id}: {self.message_id} ({self.kind})"


def delete_channel_blocks(sender, instance, **kwargs):
    """``pre_delete`` of a connection: its channel blocks go with it (the cascade the foreign key had).

    A plain delete, as the cascade was: a caller that must tell the other feeds (the admin) removes them
    through ``bookings.blocks.replace_channel_blocks`` before deleting the connection."""
    AvailabilityBlock.objects.filter(connection=instance).delete()
