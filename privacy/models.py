"""Privacy (GDPR): the audit of every export and erasure, and guests' erasure requests (docs/privacy.md).

Rows here are written only by ``privacy.services``."""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from core.actor import ActorType
from core.context import current_cause
from core.models import ImmutableRow


class PrivacyAction(models.TextChoices):
    EXPORT = "export", "Data exported"
    ERASURE = "erasure", "Personal data erased"
    ERASURE_REQUESTED = "erasure_requested", "Erasure requested (waits for the stay or money to settle)"
    OWNER_OFFBOARDED = "owner_offboarded", "Owner offboarded (channels disconnected, account closed)"


class PrivacyChannel(models.TextChoices):
    """Where the action came from."""

    PORTAL = "portal", "Guest portal (magic link)"
    ACCOUNT = "account", "Guest account"
    ADMIN = "admin", "Back office"
    RETENTION = "retention", "Retention job"
    REQUEST = "request", "Guest's erasure request (completed by the retention job)"


class PrivacyEvent(ImmutableRow):
    """Who exported or erased whose data, when, through which channel and why (``core.models.ImmutableRow``: never
    updated or deleted). It names the guest by the profile's id only, never by address or name: the row outlives
    the erasure it records. ``detail`` holds the counts (sections exported, rows erased, audit rows redacted)."""

    action = models.CharField(max_length=20, choices=PrivacyAction.choices)
    channel = models.CharField(max_length=10, choices=PrivacyChannel.choices)
    guest = models.ForeignKey("guests.Guest", null=True, blank=True, on_delete=models.PROTECT, related_name="+",
                              help_text="Whose data (a guest profile).")
    subject_user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                     related_name="+", help_text="Whose data (an account: a guest's or an owner's).")
    actor_type = models.CharField(max_length=10, choices=ActorType.choices, default=ActorType.SYSTEM)
    actor_user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                   related_name="+")
    actor_label = models.CharField(max_length=200, blank=True)
    reason = models.TextField(blank=True)
    detail = models.JSONField(default=dict, blank=True)
    cause = models.CharField(max_length=100, blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["action", "guest"], name="privacy_event_action_guest")]

    def save(self, *args, **kwargs):
        if self.pk is None and not self.cause:
            self.cause = current_cause()
        super().save(*args, **kwargs)

    def __str__(self):
        whose = f"guest #{self.guest_id}" if self.guest_id else f"account #{self.subject_user_id}"
        return f"{self.get_action_display()}: {whose}"


class ErasureRequest(models.Model):
    """A signed-in guest asked to be erased while a stay or money was still pending. The retention job erases them
    as soon as nothing is pending any more (``privacy.services.complete_erasure_requests``); staff may too."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        DONE = "done", "Done"

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="erasure_requests")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    blockers = models.TextField(blank=True, help_text="What was still pending when the guest asked.")
    created_at = models.DateTimeField(default=timezone.now)
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [models.UniqueConstraint(fields=["user"], condition=Q(status="pending"),
                                               name="one_pending_erasure_request")]

    def __str__(self):
        return f"Erasure request #{self.pk} ({self.status})"
