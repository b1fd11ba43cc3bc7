"""Payments: one row per payment attempt, refunds, their audit trail, processed webhooks.

Rows here are written only by ``payments.services``. A payment's status changes
only through :func:`payments.state_machine.apply_payment_transition`, which
refuses anything outside its table and writes an immutable :class:`PaymentEvent`.
"""

import os

from django.conf import settings
from django.core.files.storage import FileSystemStorage
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from core.models import AuditRow


class Provider(models.TextChoices):
    STRIPE = "stripe", "Stripe"
    MANUAL = "manual", "Manual"


class PaymentStatus(models.TextChoices):
    PENDING = "pending", _("Pending")  # row written, provider not (yet) answered
    REQUIRES_ACTION = "requires_action", _("Requires action")  # 3-D Secure in the guest's browser
    SUCCEEDED = "succeeded", _("Succeeded")
    FAILED = "failed", _("Failed")
    CANCELED = "canceled", _("Canceled")
    PARTIALLY_REFUNDED = "partially_refunded", _("Partially refunded")
    REFUNDED = "refunded", _("Refunded")


# Statuses in which money was received (whatever has been refunded since).
CAPTURED_STATUSES = (PaymentStatus.SUCCEEDED, PaymentStatus.PARTIALLY_REFUNDED, PaymentStatus.REFUNDED)
OPEN_STATUSES = (PaymentStatus.PENDING, PaymentStatus.REQUIRES_ACTION)


class Payment(models.Model):
    mismatch = ""  # not a field: why apply_intent refused a succeeded intent (payments.services), for the caller

    booking = models.ForeignKey("bookings.Booking", on_delete=models.PROTECT, related_name="payments")
    provider = models.CharField(max_length=20, choices=Provider.choices, default=Provider.STRIPE)
    attempt = models.PositiveSmallIntegerField(help_text="1 for the first attempt on this booking, 2 for the next …")
    amount = models.DecimalField(max_digits=12, decimal_places=2)
    currency = models.CharField(max_length=3)
    status = models.CharField(max_length=20, choices=PaymentStatus.choices, default=PaymentStatus.PENDING)
    provider_ref = models.CharField(max_length=255, null=True, blank=True, unique=True,
                                    help_text="The Stripe PaymentIntent id.")
    idempotency_key = models.CharField(max_length=100, unique=True)
    amount_refunded = models.DecimalField(max_digits=12, decimal_places=2, default=0)
    failure_code = models.CharField(max_length=100, blank=True)
    failure_message = models.TextField(blank=True)
    disputed = models.BooleanField(default=False, help_text="The card holder opened a dispute (chargeback).")
    flagged = models.BooleanField(default=False, help_text=(
        "A succeeded PaymentIntent did not match this payment (intent id, amount or currency): it was not applied "
        "and no booking changed. Check it at Stripe; the payment's events say what differed."))
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)
    succeeded_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["booking", "attempt"]
        constraints = [models.UniqueConstraint(fields=["booking", "attempt"], name="payment_attempt_unique")]

    def __str__(self):
        return f"{self.provider} #{self.attempt} {self.amount} {self.currency} ({self.status})"

    @property
    def refundable(self):
        return self.amount - self.amount_refunded if self.status in CAPTURED_STATUSES else 0


class PaymentEvent(AuditRow):
    """One row per status change (or noted fact, from == to) of a payment (``core.models.AuditRow``)."""

    payment = models.ForeignKey(Payment, on_delete=models.PROTECT, related_name="events")

    class Meta(AuditRow.Meta):
        pass

    def __str__(self):
        return f"{self.payment_id}: {self.from_status or '∅'} → {self.to_status}"



class RefundStatus(models.TextChoices):
    PENDING = "pending", _("Pending")
    SUCCEEDED = "succeeded", _("Succeeded")
    FAILED = "failed", _("Failed")
    CANCELED = "canceled", _("Canceled")


# Refunds that count against their payment: requested (money on its way back) or done; a failed or canceled one does
# not. The receipt lists these, and a payment's ``amount_refunded`` is their sum.
COUNTED_REFUNDS = (RefundStatus.PENDING, RefundStatus.SUCCEEDED)


class Refund(models.Model):
    payment = models.ForeignKey(Payment, on_delete=models.PROTECT, related_name="refunds")
    amount = models.DecimalField(max_digits=12, decimal_places=2)
    currency = models.CharField(max_length=3)
    status = models.CharField(max_length=20, choices=RefundStatus.choices, default=RefundStatus.PENDING)
    provider_ref = models.CharField(max_length=255, null=True, blank=True, unique=True, help_text="Stripe refund id.")
    reason = models.TextField(blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    actor_label = models.CharField(max_length=200, blank=True)
    # Sending (payments.services.execute_refund): a pending row without provider_ref has not reached the provider.
    attempts = models.PositiveSmallIntegerField(default=0, help_text="Calls made to the provider for this refund.")
    next_attempt_at = models.DateTimeField(null=True, blank=True,
                                           help_text="When the sweeper sends it (again) if it is still unsent.")
    last_error = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [models.CheckConstraint(condition=Q(amount__gt=0), name="refund_amount_positive")]
        indexes = [models.Index(fields=["status", "next_attempt_at"], name="refund_due_idx")]

    def __str__(self):
        return f"refund {self.amount} {self.currency} ({self.status})"


class WebhookEvent(models.Model):
    """A provider event already processed: written in the same transaction as its effect."""

    provider = models.CharField(max_length=20, choices=Provider.choices, default=Provider.STRIPE)
    event_id = models.CharField(max_length=255)
    type = models.CharField(max_length=100)
    received_at = models.DateTimeField(default=timezone.now)
    outcome = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["-received_at"]
        constraints = [models.UniqueConstraint(fields=["provider", "event_id"], name="webhook_event_once")]

    def __str__(self):
        return f"{self.provider} {self.type} {self.event_id}"


# --- manual payments (Cash App, Zelle, Venmo, bank transfer), verified by staff ------------------------------


class PrivateStorage(FileSystemStorage):
    """Files under ``PRIVATE_MEDIA_ROOT`` (read at each use), with no URL: never under ``MEDIA_URL``."""

    @property
    def base_location(self):
        return str(settings.PRIVATE_MEDIA_ROOT)

    @property
    def location(self):
        return os.path.abspath(self.base_location)

    @property
    def base_url(self):
        return None


def private_storage():
    """Proof uploads live under ``PRIVATE_MEDIA_ROOT``; served only by a permission-checked view."""
    return PrivateStorage()


class ManualMethodKind(models.TextChoices):
    CASHAPP = "cashapp", _("Cash App")
    ZELLE = "zelle", _("Zelle")
    VENMO = "venmo", _("Venmo")
    BANK_TRANSFER = "bank_transfer", _("Bank transfer")


class HostPaymentMethod(models.Model):
    """A way an owner accepts money outside the card processor."""

    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="payment_methods")
    kind = models.CharField(max_length=20, choices=ManualMethodKind.choices)
    handle = models.CharField(max_length=200, help_text="$cashtag, Zelle email/phone, @venmo, or IBAN/account.")
    display_name = models.CharField(max_length=100, help_text="The name the guest sees as the recipient.")
    instructions = models.TextField(blank=True)
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["owner", "kind", "pk"]

    def __str__(self):
        return f"{self.get_kind_display()} · {self.display_name} ({self.handle})"


class ManualStatus(models.TextChoices):
    PENDING = "pending", _("Pending (waiting for the guest)")
    CLAIMED = "claimed", _("Claimed (guest says sent)")
    CONFIRMED = "confirmed", _("Confirmed")
    REJECTED = "rejected", _("Rejected")
    DISPUTED = "disputed", _("Disputed")
    FLAGGED = "flagged", _("Flagged for review")
    EXPIRED = "expired", _("Expired")


CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I/L


class ManualPayment(models.Model):
    booking = models.ForeignKey("bookings.Booking", on_delete=models.PROTECT, related_name="manual_payments")
    method = models.ForeignKey(HostPaymentMethod, on_delete=models.PROTECT, related_name="payments")
    amount = models.DecimalField(max_digits=12, decimal_places=2)
    currency = models.CharField(max_length=3)
    code = models.CharField(max_length=8, unique=True)
    status = models.CharField(max_length=20, choices=ManualStatus.choices, default=ManualStatus.PENDING)
    guest_reference = models.CharField(max_length=200, blank=True)
    proof = models.FileField(storage=private_storage, upload_to="manual-proofs/", blank=True)
    proof_content_type = models.CharField(max_length=50, blank=True)
    amount_received = models.DecimalField(max_digits=12, decimal_places=2, null=True, blank=True)
    deadline = models.DateTimeField()
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)
    claimed_at = models.DateTimeField(null=True, blank=True)
    reminded_at = models.DateTimeField(null=True, blank=True)
    verified_at = models.DateTimeField(null=True, blank=True)
    verified_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                    related_name="+")
    verified_from_ip = models.GenericIPAddressField(null=True, blank=True)

    class Meta:
        ordering = ["created_at", "pk"]
        indexes = [models.Index(fields=["status", "deadline"])]
        permissions = [("verify_manualpayment", "Can confirm, reject, dispute or flag claimed manual payments")]

    def __str__(self):
        return f"{self.code} {self.amount} {self.currency} ({self.status})"


class ManualPaymentEvent(AuditRow):
    """One row per status change (or noted fact) of a manual payment (``core.models.AuditRow``), with the
    address the change came from."""

    payment = models.ForeignKey(ManualPayment, on_delete=models.PROTECT, related_name="events")
    ip = models.GenericIPAddressField(null=True, blank=True)

    class Meta(AuditRow.Meta):
        pass

    def __str__(self):
        return f"{self.payment_id}: {self.from_status or '∅'} → {self.to_status}"

