"""Payments: one row per payment attempt, refunds, their audit trail, processed webhooks.

Rows here are written only by ``payments.services``. A payment's status changes
only through :func:`payments.state_machine.apply_payment_transition`, which
refuses anything outside its table and writes an immutable :class:`PaymentEvent`.
"""


from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from core import uploads
from core.models import AuditRow


class Provider(models.TextChoices):
    STRIPE = "stripe", "Stripe"
    MANUAL = "manual", "Manual"
    OFFLINE = "offline", "Received outside the system"  # cash or transfer the owner records (payments.balances)


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


class PaymentPurpose(models.TextChoices):
    BOOKING = "booking", "At booking (all or the deposit)"
    BALANCE = "balance", "Balance"
    CHANGE = "change", "Booking change"
    OTHER = "other", "Other"


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
    # A group booking is paid with ONE PaymentIntent (payments.groups): each of its bookings gets a row with its
    # share, provider_ref stays empty (it is unique) and the shared intent id is kept here; the constraint below
    # lets an intent pay a booking at most once, so a replayed webhook or return path finds the same rows.
    group_intent = models.CharField(max_length=255, null=True, blank=True, db_index=True,
                                    help_text="The Stripe PaymentIntent shared by the bookings of a group payment.")
    amount_refunded = models.DecimalField(max_digits=12, decimal_places=2, default=0)
    failure_code = models.CharField(max_length=100, blank=True)
    failure_message = models.TextField(blank=True)
    disputed = models.BooleanField(default=False, help_text="The card holder opened a dispute (chargeback).")
    purpose = models.CharField(max_length=20, choices=PaymentPurpose.choices, default=PaymentPurpose.BOOKING,
                               db_default=PaymentPurpose.BOOKING)
    off_session = models.BooleanField(default=False, db_default=False,
                                      help_text="Charged to the saved card without the guest (payments.balances).")
    reference = models.CharField(max_length=200, blank=True, default="", db_default="",
                                 help_text="A payment recorded by the owner: the receipt or transfer reference.")
    flagged = models.BooleanField(default=False, help_text=(
        "A succeeded PaymentIntent did not match this payment (intent id, amount or currency): it was not applied "
        "and no booking changed. Check it at Stripe; the payment's events say what differed."))
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)
    succeeded_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["booking", "attempt"]
        constraints = [models.UniqueConstraint(fields=["booking", "attempt"], name="payment_attempt_unique"),
                       models.UniqueConstraint(fields=["group_intent", "booking"], name="payment_group_intent_once")]
        # The open payments, oldest first: the "stuck payments" of the operations page and of /metrics, read at
        # every scrape (backoffice.operations), stay an index read however many payments have been made.
        indexes = [models.Index(fields=["created_at"], condition=Q(status__in=["pending", "requires_action"]),
                                name="payment_open_created")]

    def __str__(self):
        return f"{self.provider} #{self.attempt} {self.amount} {self.currency} ({self.status})"

    @property
    def intent_ref(self) -> str | None:
        """The PaymentIntent this payment was made with: its own, or the one shared by its group payment."""
        return self.provider_ref or self.group_intent

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


# Private uploads (proofs) follow the one rule of ``core.uploads``; ``private_storage`` stays importable here for
# the migrations that name it.
private_storage = uploads.private_storage


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



# --- payment schedules: deposits and balances (payments.schedule, payments.balances) -------------------------


class ScheduleMode(models.TextChoices):
    ALL_AT_BOOKING = "all", "Everything at booking"
    DEPOSIT = "deposit", "A deposit at booking, the balance before arrival"


class PaymentSchedule(models.Model):
    """How a property's guests pay: everything at booking (no row = this), or a deposit then the balance; and the
    security (damage) deposit. Snapshotted on each booking (:class:`PaymentPlan`) when its first payment starts."""

    property = models.OneToOneField("properties.Property", on_delete=models.CASCADE, related_name="payment_schedule")
    mode = models.CharField(max_length=10, choices=ScheduleMode.choices, default=ScheduleMode.ALL_AT_BOOKING)
    deposit_percent = models.DecimalField(
        max_digits=5, decimal_places=2, null=True, blank=True,
        help_text="The deposit as a percentage of the total (1–99), or leave empty and give a fixed amount.")
    deposit_fixed = models.DecimalField(max_digits=12, decimal_places=2, null=True, blank=True,
                                        help_text="The deposit as a fixed amount in the property's currency.")
    balance_days_before = models.PositiveSmallIntegerField(
        default=30, help_text="The balance is charged to the saved card this many days before arrival. A stay "
                              "that starts sooner is paid in full at booking.")
    deadline_days_before = models.PositiveSmallIntegerField(
        default=14, help_text="A balance still unpaid this many days before arrival is flagged (fewer days than "
                              "the balance is due).")
    auto_cancel = models.BooleanField(
        default=False, help_text="Cancel a booking whose balance is unpaid at the deadline, under its policy.")
    security_deposit = models.DecimalField(
        max_digits=12, decimal_places=2, default=0,
        help_text="A card authorisation held for damage (0 = none); released after check-out unless claimed.")
    security_deposit_days_before = models.PositiveSmallIntegerField(
        default=1, help_text="Place the security deposit this many days before arrival.")
    security_deposit_release_days = models.PositiveSmallIntegerField(
        default=2, help_text="Release it this many days after check-out (at most 5: a card authorisation lasts "
                             "7 days).")

    def __str__(self):
        return f"{self.get_mode_display()} ({self.property_id})"

    def clean(self):
        from django.core.exceptions import ValidationError

        errors = {}
        if self.mode == ScheduleMode.DEPOSIT:
            if (self.deposit_percent is None) == (self.deposit_fixed is None):
                errors["deposit_percent"] = "Give either a percentage or a fixed amount."
            elif self.deposit_percent is not None and not 0 < self.deposit_percent < 100:
                errors["deposit_percent"] = "A percentage between 1 and 99."
            elif self.deposit_fixed is not None and self.deposit_fixed <= 0:
                errors["deposit_fixed"] = "A positive amount."
            if self.deadline_days_before >= self.balance_days_before:
                errors["deadline_days_before"] = "The deadline must come after the balance is due (fewer days)."
        if self.security_deposit < 0:
            errors["security_deposit"] = "0 or a positive amount."
        if self.security_deposit_release_days > 5:
            errors["security_deposit_release_days"] = "At most 5 days (a card authorisation lasts 7 days)."
        if errors:
            raise ValidationError(errors)


class PaymentPlan(models.Model):
    """One booking's schedule as sold (a snapshot of :class:`PaymentSchedule`) and where its balance collection is.

    Written by ``payments.schedule.ensure_plan`` (the first payment) and ``payments.balances``; never by a form."""

    booking = models.OneToOneField("bookings.Booking", on_delete=models.CASCADE, related_name="payment_plan")
    deposit = models.DecimalField(max_digits=12, decimal_places=2, help_text="Due at booking (the total if all).")
    balance_due_on = models.DateField(null=True, blank=True, help_text="Empty: everything was due at booking.")
    deadline_on = models.DateField(null=True, blank=True)
    auto_cancel = models.BooleanField(default=False)
    security_deposit = models.DecimalField(max_digits=12, decimal_places=2, default=0)
    security_deposit_place_on = models.DateField(null=True, blank=True)
    security_deposit_release_on = models.DateField(null=True, blank=True)
    balance_charged_at = models.DateTimeField(null=True, blank=True, help_text="The automatic charge was started.")
    balance_failed_at = models.DateTimeField(null=True, blank=True)
    flagged_at = models.DateTimeField(null=True, blank=True, help_text="Still unpaid at the deadline.")
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        indexes = [models.Index(fields=["balance_due_on"], name="plan_balance_due_idx")]

    def __str__(self):
        return f"plan of booking {self.booking_id}"


class SavedCard(models.Model):
    """The card a guest saved at checkout for the balance and the security deposit: Stripe ids and what Stripe
    says about the card (brand, last 4 digits, expiry), never the card itself."""

    booking = models.OneToOneField("bookings.Booking", on_delete=models.CASCADE, related_name="saved_card")
    customer_id = models.CharField(max_length=255)
    payment_method_id = models.CharField(max_length=255, blank=True)
    brand = models.CharField(max_length=30, blank=True)
    last4 = models.CharField(max_length=4, blank=True)
    exp_month = models.PositiveSmallIntegerField(null=True, blank=True)
    exp_year = models.PositiveSmallIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self):
        return f"{self.brand or 'card'} •••• {self.last4 or '????'}"


# --- security (damage) deposits (payments.security_deposits) -----------------------------------------------


class DepositStatus(models.TextChoices):
    PENDING = "pending", "Pending (being placed)"
    HELD = "held", "Held (authorised)"
    FAILED = "failed", "Failed"
    RELEASED = "released", "Released"
    CLAIMED = "claimed", "Claimed"
    EXPIRED = "expired", "Expired"
    CANCELED = "canceled", "Canceled"


class SecurityDeposit(models.Model):
    """One attempt to hold a security deposit: a manual-capture PaymentIntent on the saved card (or, by a manual
    method, money staff recorded and will return by hand). Its status changes only through
    ``payments.security_deposits.apply_deposit_transition``."""

    booking = models.ForeignKey("bookings.Booking", on_delete=models.PROTECT, related_name="security_deposits")
    provider = models.CharField(max_length=20, choices=Provider.choices, default=Provider.STRIPE)
    attempt = models.PositiveSmallIntegerField(default=1)
    amount = models.DecimalField(max_digits=12, decimal_places=2)
    currency = models.CharField(max_length=3)
    status = models.CharField(max_length=20, choices=DepositStatus.choices, default=DepositStatus.PENDING)
    provider_ref = models.CharField(max_length=255, null=True, blank=True, unique=True)
    idempotency_key = models.CharField(max_length=100, unique=True)
    release_on = models.DateField(help_text="Released on this day unless claimed.")
    authorised_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True, help_text="The card authorisation lapses then.")
    claim_amount = models.DecimalField(max_digits=12, decimal_places=2, null=True, blank=True)
    claim_reason = models.TextField(blank=True)
    captured_amount = models.DecimalField(max_digits=12, decimal_places=2, default=0)
    failure_code = models.CharField(max_length=100, blank=True)
    failure_message = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["booking", "attempt"]
        constraints = [
            models.UniqueConstraint(fields=["booking", "attempt"], name="security_deposit_attempt_unique"),
            models.CheckConstraint(condition=Q(captured_amount__lte=models.F("amount")),
                                   name="security_deposit_capture_within_hold"),
        ]
        indexes = [models.Index(fields=["status", "release_on"], name="security_deposit_due_idx")]

    def __str__(self):
        return f"security deposit {self.amount} {self.currency} ({self.status})"


class SecurityDepositEvent(AuditRow):
    """One row per status change (or noted fact) of a security deposit (``core.models.AuditRow``)."""

    deposit = models.ForeignKey(SecurityDeposit, on_delete=models.PROTECT, related_name="events")

    class Meta(AuditRow.Meta):
        pass
