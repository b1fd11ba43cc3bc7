"""Guest reviews: one per checked-out stay, with an overall rating, optional category ratings, the owner's public
reply, and a moderation state (``reviews.services`` is the only writer; ``docs/reviews.md``)."""

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from core.models import AuditRow

MIN_RATING, MAX_RATING = 1, 5
TITLE_MAX_LENGTH = 120
BODY_MIN_LENGTH = 10
BODY_MAX_LENGTH = 3000
REPLY_MAX_LENGTH = 2000
FLAG_REASON_MAX_LENGTH = 1000

# The category ratings, in the order pages show them: (field name, label).
CATEGORIES: tuple[tuple[str, str], ...] = (
    ("cleanliness", _("Cleanliness")),
    ("accuracy", _("Accuracy")),
    ("communication", _("Communication")),
    ("location", _("Location")),
    ("check_in", _("Check-in")),
    ("value", _("Value")),
)
CATEGORY_FIELDS = tuple(name for name, _label in CATEGORIES)
RATING_FIELDS = ("overall", *CATEGORY_FIELDS)


class ReviewStatus(models.TextChoices):
    PUBLISHED = "published", "Published"
    # Flagged by the owner as abusive: stays public until staff decide (a flag alone must not silence a guest).
    FLAGGED = "flagged", "Flagged for staff"
    HIDDEN = "hidden", "Hidden by staff"


# Statuses shown on the property page and in the API.
PUBLIC_STATUSES = (ReviewStatus.PUBLISHED, ReviewStatus.FLAGGED)


def _rating(verbose_name, *, required: bool):
    return models.PositiveSmallIntegerField(
        verbose_name, null=not required, blank=not required,
        validators=[MinValueValidator(MIN_RATING), MaxValueValidator(MAX_RATING)])


class Review(models.Model):
    booking = models.OneToOneField("bookings.Booking", on_delete=models.PROTECT, related_name="review")
    # The booking's property, kept on the row: the property page's aggregate and list read one table by one index.
    property = models.ForeignKey("properties.Property", on_delete=models.PROTECT, related_name="reviews")

    overall = _rating("overall rating", required=True)
    cleanliness = _rating("cleanliness", required=False)
    accuracy = _rating("accuracy", required=False)
    communication = _rating("communication", required=False)
    location = _rating("location", required=False)
    check_in = _rating("check-in", required=False)
    value = _rating("value", required=False)

    title = models.CharField(max_length=TITLE_MAX_LENGTH, blank=True)
    body = models.TextField(max_length=BODY_MAX_LENGTH)
    # First name and initial, taken from the booking's guest when the review is written; never the email.
    guest_display_name = models.CharField(max_length=60, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    status = models.CharField(max_length=20, choices=ReviewStatus.choices, default=ReviewStatus.PUBLISHED)

    reply = models.TextField("owner's public reply", max_length=REPLY_MAX_LENGTH, blank=True)
    replied_at = models.DateTimeField(null=True, blank=True)
    replied_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")

    flag_reason = models.TextField(max_length=FLAG_REASON_MAX_LENGTH, blank=True)
    flagged_at = models.DateTimeField(null=True, blank=True)
    flagged_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    moderated_at = models.DateTimeField(null=True, blank=True, help_text="When staff last kept or hid it.")
    moderated_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                     related_name="+")
    moderation_note = models.TextField(blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        permissions = [
            ("reply_review", "Can reply publicly to a review"),
            ("flag_review", "Can flag a review as abusive"),
            ("moderate_review", "Can hide or keep a flagged review"),
        ]
        indexes = [models.Index(fields=["property", "status", "-created_at"], name="review_property_page")]
        constraints = [
            models.CheckConstraint(
                condition=Q(overall__gte=MIN_RATING, overall__lte=MAX_RATING)
                & Q(*[Q(**{f"{name}__isnull": True}) | Q(**{f"{name}__gte": MIN_RATING, f"{name}__lte": MAX_RATING})
                      for name in CATEGORY_FIELDS]),
                name="review_ratings_1_to_5"),
        ]

    def __str__(self):
        return f"{self.overall}★ {self.booking_id} ({self.get_status_display()})"

    def is_public(self) -> bool:  # (a method: the ``property`` column shadows the decorator in this class)
        return self.status in PUBLIC_STATUSES

    def category_ratings(self) -> list[tuple[str, int]]:
        """(label, rating) of the categories the guest rated."""
        return [(label, getattr(self, name)) for name, label in CATEGORIES if getattr(self, name) is not None]


class ReviewEvent(AuditRow):
    """One row per change of a review (``core.models.AuditRow``): written, flagged, kept, hidden, restored, and
    every reply written or edited (``action`` says which; a reply keeps the status, from = to)."""

    class Action(models.TextChoices):
        CREATED = "created", "Written"
        FLAGGED = "flagged", "Flagged"
        KEPT = "kept", "Kept by staff"
        HIDDEN = "hidden", "Hidden by staff"
        RESTORED = "restored", "Restored by staff"
        REPLIED = "replied", "Reply written"
        REPLY_REMOVED = "reply_removed", "Reply removed"
        ERASED = "erased", "The guest's personal data erased"

    review = models.ForeignKey(Review, on_delete=models.PROTECT, related_name="events")
    action = models.CharField(max_length=20, choices=Action.choices)

    class Meta(AuditRow.Meta):
        pass

    def __str__(self):
        return f"{self.review_id}: {self.action} ({self.from_status or '∅'} → {self.to_status})"
