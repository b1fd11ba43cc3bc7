"""Owner–guest messaging: threads (one per booking), their messages, message templates and each property's
messaging settings (secrets and automatic messages). Written only by ``messaging.services`` (and the scheduler,
``messaging.scheduled``); read through ``messaging.selectors``. See docs/messaging.md."""

from __future__ import annotations

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from core.crypto import EncryptedTextField
from core.uploads import private_storage

from .placeholders import validate_template_body


class Thread(models.Model):
    """The conversation about one booking: portal messages, owner replies and automatic messages (the emails sent
    for the booking are shown beside them, from ``bookings.SentEmail``)."""

    booking = models.OneToOneField("bookings.Booking", on_delete=models.CASCADE, related_name="message_thread")
    # The booking's property, kept here so that the inbox is scoped and listed without a join through bookings.
    property = models.ForeignKey("properties.Property", on_delete=models.CASCADE, related_name="message_threads")
    created_at = models.DateTimeField(default=timezone.now)
    last_message_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-last_message_at", "-pk"]
        verbose_name = "conversation"
        verbose_name_plural = "inbox"

    def __str__(self):
        return f"Messages about {self.booking.reference}" if self.booking_id else "Thread"


class Direction(models.TextChoices):
    GUEST = "guest", _("Guest")
    OWNER = "owner", _("Owner or staff")
    SYSTEM = "system", _("Automatic")


class AutoKind(models.TextChoices):
    """The scheduled automatic messages (``messaging.scheduled``)."""

    CHECK_IN = "check_in_instructions", "Check-in instructions"
    MID_STAY = "mid_stay_check", "Mid-stay check"
    REVIEW_REQUEST = "review_request", "Review request"


class Message(models.Model):
    thread = models.ForeignKey(Thread, on_delete=models.CASCADE, related_name="messages")
    direction = models.CharField(max_length=10, choices=Direction.choices)
    author_user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                    related_name="+", help_text="The owner or staff member who wrote it.")
    author_label = models.CharField(max_length=254, blank=True,
                                    help_text="Who wrote it, as shown: the guest's email or name, the user's name.")
    body = models.TextField()
    attachment = models.FileField(storage=private_storage, upload_to="message-attachments/", blank=True)
    attachment_content_type = models.CharField(max_length=50, blank=True)
    attachment_name = models.CharField(max_length=120, blank=True, help_text="The file's name as uploaded.")
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    # Read state: a guest message is read by the owner side (anyone managing the property) when a thread page is
    # opened or answered; an owner or automatic message is read by the guest when the portal page is opened.
    owner_read_at = models.DateTimeField(null=True, blank=True)
    guest_read_at = models.DateTimeField(null=True, blank=True)
    auto_kind = models.CharField(max_length=30, choices=AutoKind.choices, blank=True)
    # "<auto kind>:<booking id>" for automatic messages: each is sent once per booking, whoever runs the job.
    dedupe_key = models.CharField(max_length=100, unique=True, null=True, blank=True)
    template = models.ForeignKey("MessageTemplate", null=True, blank=True, on_delete=models.SET_NULL,
                                 related_name="+")
    legacy_guest_message_id = models.PositiveBigIntegerField(
        unique=True, null=True, blank=True, help_text="The bookings.GuestMessage this was carried over from.")

    class Meta:
        ordering = ["created_at", "pk"]
        indexes = [
            models.Index(fields=["thread"], condition=Q(direction="guest", owner_read_at__isnull=True),
                         name="message_unread_by_owner"),
        ]

    def __str__(self):
        return f"{self.get_direction_display()} {self.created_at:%Y-%m-%d %H:%M}"

    @property
    def sender(self) -> str:
        """Who wrote it, as shown (the owner email's "… wrote")."""
        return self.author_label or self.get_direction_display()

    @property
    def has_image(self) -> bool:
        return self.attachment_content_type.startswith("image/")


class MessageTemplate(models.Model):
    """A reusable text with placeholders (``messaging.placeholders``), owned by an owner for all their properties.
    Owners pick one when replying; the automatic messages use one each (or the built-in text)."""

    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="message_templates")
    name = models.CharField(max_length=120)
    body = models.TextField(validators=[validate_template_body],
                            help_text="Placeholders in double braces, e.g. {{guest_name}}, {{door_code}}.")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name", "pk"]

    def __str__(self):
        return self.name


DAYS = [MinValueValidator(0), MaxValueValidator(30)]


class MessageSettings(models.Model):
    """One property's messaging: the secrets the templates may reveal (encrypted at rest, ``core.crypto``) and the
    automatic messages, each switchable with its own timing, sent from ``send_hour`` in the property's time zone."""

    property = models.OneToOneField("properties.Property", on_delete=models.CASCADE, related_name="message_settings")
    door_code = EncryptedTextField(blank=True, help_text="Encrypted at rest. Shown to guests only through "
                                                         "{{door_code}} in a message.")
    wifi_name = models.CharField("Wi-Fi name", max_length=120, blank=True)
    wifi_password = EncryptedTextField("Wi-Fi password", blank=True, help_text="Encrypted at rest.")
    send_hour = models.PositiveSmallIntegerField(
        default=10, validators=[MaxValueValidator(23)],
        help_text="Automatic messages go out from this hour on the day they are due (property's local time).")

    check_in_enabled = models.BooleanField("send check-in instructions", default=False)
    check_in_days_before = models.PositiveSmallIntegerField("days before arrival", default=2, validators=DAYS)
    check_in_template = models.ForeignKey(MessageTemplate, null=True, blank=True, on_delete=models.SET_NULL,
                                          related_name="+", verbose_name="check-in template",
                                          help_text="Empty: the built-in text.")
    mid_stay_enabled = models.BooleanField("send a mid-stay check", default=False,
                                           help_text="Stays of 3 nights or more, on the middle day.")
    mid_stay_template = models.ForeignKey(MessageTemplate, null=True, blank=True, on_delete=models.SET_NULL,
                                          related_name="+", verbose_name="mid-stay template",
                                          help_text="Empty: the built-in text.")
    review_request_enabled = models.BooleanField("send the review request", default=False)
    review_days_after = models.PositiveSmallIntegerField("days after check-out", default=1, validators=DAYS)
    review_template = models.ForeignKey(MessageTemplate, null=True, blank=True, on_delete=models.SET_NULL,
                                        related_name="+", verbose_name="review request template",
                                        help_text="Empty: the built-in text.")

    class Meta:
        verbose_name = "messaging settings"
        verbose_name_plural = "messaging settings"

    def __str__(self):
        return f"Messaging of {self.property}"
