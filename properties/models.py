"""Properties and everything that decides whether and at what price they can be booked.

Stay rules live on the property (the defaults) and can be changed for a date
range by a :class:`DateOverride`. The rules in force on the *arrival night*
govern the whole stay (minimum and maximum stay, allowed check-in and check-out
weekdays), as the big platforms do; a price override applies night by night.
Where several overrides cover the same date, the shortest range wins, then the
newest.
"""

import zoneinfo
from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils.text import slugify

from core.money import CURRENCY_CHOICES

from .images import PhotoField
from .policies import CANCELLATION_POLICY_CHOICES, CUSTOM, CUSTOM_TIERS_HELP, clean_tiers

WEEKDAY_NAMES = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
ALL_WEEKDAYS = 0b1111111  # bit n set = weekday n allowed (Monday = 0, as date.weekday())
FRIDAY_SATURDAY = (1 << 4) | (1 << 5)


def weekday_mask(*weekdays: int) -> int:
    mask = 0
    for day in weekdays:
        mask |= 1 << day
    return mask


def weekdays_in(mask: int) -> list[int]:
    return [day for day in range(7) if mask & (1 << day)]


def describe_weekdays(mask: int) -> str:
    return ", ".join(WEEKDAY_NAMES[d] for d in weekdays_in(mask)) or "no day"


def validate_timezone(value):
    if value not in zoneinfo.available_timezones():
        raise ValidationError(f"{value!r} is not a known IANA time zone.")


def validate_half_steps(value):
    if value is not None and (value * 2) % 1 != 0:
        raise ValidationError("Use whole or half numbers (e.g. 1.5).")


def validate_weekday_mask(value):
    if value is not None and not 0 < value <= ALL_WEEKDAYS:
        raise ValidationError("Choose at least one weekday.")


class Amenity(models.Model):
    code = models.SlugField(max_length=50, unique=True)
    name = models.CharField(max_length=100)

    class Meta:
        ordering = ["name"]
        verbose_name_plural = "amenities"

    def __str__(self):
        return self.name


class PropertyQuerySet(models.QuerySet):
    def active(self):
        return self.filter(status=Property.Status.ACTIVE)

    def managed_by(self, user):
        """Properties ``user`` may manage: all for a superuser, else owned or assigned."""
        if user.is_superuser:
            return self
        return self.filter(models.Q(owner=user) | models.Q(staff=user)).distinct()


class Property(models.Model):
    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        ACTIVE = "active", "Active"
        ARCHIVED = "archived", "Archived"

    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="properties")
    staff = models.ManyToManyField(
        settings.AUTH_USER_MODEL, blank=True, related_name="assigned_properties",
        help_text="Staff members assigned to this property.",
    )
    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=220, unique=True)
    description = models.TextField(blank=True)
    house_rules = models.TextField(blank=True)

    street = models.CharField(max_length=200, blank=True)
    city = models.CharField(max_length=100, db_index=True)
    region = models.CharField(max_length=100, blank=True)
    postal_code = models.CharField(max_length=20, blank=True)
    country = models.CharField(max_length=2, help_text="ISO 3166-1 alpha-2, e.g. US")
    latitude = models.DecimalField(max_digits=9, decimal_places=6, null=True, blank=True,
                                   validators=[MinValueValidator(-90), MaxValueValidator(90)])
    longitude = models.DecimalField(max_digits=9, decimal_places=6, null=True, blank=True,
                                    validators=[MinValueValidator(-180), MaxValueValidator(180)])

    amenities = models.ManyToManyField(Amenity, blank=True, related_name="properties")
    max_guests = models.PositiveSmallIntegerField(validators=[MinValueValidator(1)])
    bedrooms = models.PositiveSmallIntegerField(default=1)
    bathrooms = models.DecimalField(max_digits=3, decimal_places=1, default=Decimal("1"),
                                    validators=[MinValueValidator(0), validate_half_steps])

    currency = models.CharField(max_length=3, choices=CURRENCY_CHOICES, default="USD")
    base_price = models.DecimalField("base nightly price", max_digits=10, decimal_places=2,
                                     validators=[MinValueValidator(0)])
    cleaning_fee = models.DecimalField(max_digits=10, decimal_places=2, default=Decimal("0"),
                                       validators=[MinValueValidator(0)])
    extra_guest_fee = models.DecimalField(
        max_digits=10, decimal_places=2, default=Decimal("0"), validators=[MinValueValidator(0)],
        help_text="Per night, for each guest above 'guests included'.",
    )
    guests_included = models.PositiveSmallIntegerField(default=2, validators=[MinValueValidator(1)])
    tax_rate = models.DecimalField(
        "tax rate (%)", max_digits=5, decimal_places=2, default=Decimal("0"),
        validators=[MinValueValidator(0), MaxValueValidator(100)],
        help_text="Percent, applied to nights and fees.",
    )

    status = models.CharField(max_length=10, choices=Status.choices, default=Status.DRAFT, db_index=True)
    timezone = models.CharField(max_length=64, default="UTC", validators=[validate_timezone])
    default_language = models.CharField(
        max_length=8, choices=settings.LANGUAGES, default="en", db_default="en",
        help_text="The language of guest emails for bookings that carry none: made in the back office, or imported "
                  "from a channel that does not say the guest's language. A guest booking on this site gets emails "
                  "in the language they booked in.")
    check_in_time = models.TimeField(default="15:00")
    check_out_time = models.TimeField(default="11:00")
    cancellation_policy = models.CharField(max_length=20, choices=CANCELLATION_POLICY_CHOICES, default="moderate")
    custom_cancellation_tiers = models.JSONField(null=True, blank=True, help_text=CUSTOM_TIERS_HELP)
    guests_may_change_bookings = models.BooleanField(
        default=True, db_default=True,
        help_text="Guests may change the dates or guest count of their booking themselves in the booking page "
                  "(before the arrival day, re-priced, the difference charged or refunded under the policy). "
                  "Owners and staff can always change a booking in the admin.")

    # Stay rules (defaults; DateOverride changes them for a date range).
    min_stay = models.PositiveSmallIntegerField("minimum stay (nights)", default=1, validators=[MinValueValidator(1)])
    max_stay = models.PositiveSmallIntegerField("maximum stay (nights)", default=365, validators=[MinValueValidator(1)])
    buffer_days = models.PositiveSmallIntegerField(
        default=0, validators=[MaxValueValidator(14)],
        help_text="Preparation days kept free between two stays.",
    )
    checkin_weekdays = models.PositiveSmallIntegerField(default=ALL_WEEKDAYS, validators=[validate_weekday_mask])
    checkout_weekdays = models.PositiveSmallIntegerField(default=ALL_WEEKDAYS, validators=[validate_weekday_mask])
    min_lead_days = models.PositiveSmallIntegerField(
        "minimum lead time (days)", default=0, help_text="0 allows arrival today."
    )
    max_advance_days = models.PositiveSmallIntegerField(
        "maximum advance window (days)", default=365, validators=[MinValueValidator(1)],
        help_text="How far ahead an arrival may be booked.",
    )

    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = PropertyQuerySet.as_manager()

    class Meta:
        ordering = ["name"]
        verbose_name_plural = "properties"
        constraints = [
            models.CheckConstraint(condition=models.Q(max_stay__gte=models.F("min_stay")), name="property_stay_range"),
        ]
        indexes = [
            # search(): the largest buffer of the active properties, read from the index (no table scan).
            models.Index(fields=["status", "buffer_days"], name="property_status_buffer"),
        ]

    def __str__(self):
        return self.name

    def save(self, *args, **kwargs):
        if not self.slug:
            self.slug = unique_slug(self.name)
        super().save(*args, **kwargs)

    def clean(self):
        errors = {}
        if self.min_stay and self.max_stay and self.max_stay < self.min_stay:
            errors["max_stay"] = "Maximum stay must not be below the minimum stay."
        try:
            tiers = clean_tiers(self.custom_cancellation_tiers)
        except ValidationError as exc:
            errors["custom_cancellation_tiers"] = exc.messages
        else:
            if self.cancellation_policy == CUSTOM and not tiers:
                errors["custom_cancellation_tiers"] = "A custom policy needs at least one tier."
            self.custom_cancellation_tiers = tiers or None
        if errors:
            raise ValidationError(errors)

    @property
    def tz(self):
        return zoneinfo.ZoneInfo(self.timezone)

    @property
    def is_active(self):
        return self.status == self.Status.ACTIVE


def unique_slug(name: str) -> str:
    base = slugify(name)[:200] or "property"
    slug, n = base, 2
    while Property.objects.filter(slug=slug).exists():
        slug, n = f"{base}-{n}", n + 1
    return slug


def photo_path(instance, filename):
    return f"properties/{instance.property_id}/{filename}"


class PropertyPhoto(models.Model):
    property = models.ForeignKey(Property, on_delete=models.CASCADE, related_name="photos")
    image = PhotoField(upload_to=photo_path)  # stored re-encoded: no metadata, no polyglots (properties.images)
    alt_text = models.CharField(max_length=200, blank=True, help_text="Describes the photo for screen readers.")
    position = models.PositiveSmallIntegerField(default=0)
    # The WebP renditions beside the stored original (properties.services.make_photo_renditions, after every
    # upload): {"source": image name they were made from, "width"/"height": the original's pixels,
    # "webp": [{"width", "height", "name"}, ...] narrowest first}. Empty until made; pages then use the original.
    renditions = models.JSONField(default=dict, blank=True, editable=False)

    class Meta:
        ordering = ["position", "id"]

    def __str__(self):
        return self.alt_text or self.image.name

    def has_current_renditions(self) -> bool:
        """Whether ``renditions`` were made from the image stored now (a replaced image needs new ones)."""
        return bool(self.renditions) and self.renditions.get("source") == self.image.name


class DateRangeModel(models.Model):
    """A range of nights: ``start_date`` is the first night, ``end_date`` the day after the last."""

    start_date = models.DateField()
    end_date = models.DateField(help_text="Exclusive: the day after the last night.")

    class Meta:
        abstract = True

    def clean(self):
        super().clean()
        if self.start_date and self.end_date and self.end_date <= self.start_date:
            raise ValidationError({"end_date": "End date must be after the start date."})

    def covers(self, day) -> bool:
        return self.start_date <= day < self.end_date

    @property
    def nights(self) -> int:
        return (self.end_date - self.start_date).days


class DateOverride(DateRangeModel):
    """Changes price and/or stay rules for a date range (blank fields keep the property's value)."""

    property = models.ForeignKey(Property, on_delete=models.CASCADE, related_name="date_overrides")
    nightly_price = models.DecimalField(max_digits=10, decimal_places=2, null=True, blank=True,
                                        validators=[MinValueValidator(0)])
    min_stay = models.PositiveSmallIntegerField(null=True, blank=True, validators=[MinValueValidator(1)])
    max_stay = models.PositiveSmallIntegerField(null=True, blank=True, validators=[MinValueValidator(1)])
    checkin_weekdays = models.PositiveSmallIntegerField(null=True, blank=True, validators=[validate_weekday_mask])
    checkout_weekdays = models.PositiveSmallIntegerField(null=True, blank=True, validators=[validate_weekday_mask])
    note = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["start_date", "id"]
        constraints = [
            models.CheckConstraint(condition=models.Q(end_date__gt=models.F("start_date")),
                                   name="dateoverride_range_valid"),
        ]

    def __str__(self):
        return f"{self.property} {self.start_date}–{self.end_date}"


class PricingRule(models.Model):
    """A price adjustment. See ``properties.pricing`` for the stacking order."""

    class Kind(models.TextChoices):
        SEASONAL = "seasonal", "Seasonal (date range)"
        WEEKEND = "weekend", "Weekend nights"
        LENGTH_OF_STAY = "length_of_stay", "Length of stay (≥ N nights)"
        EARLY_BIRD = "early_bird", "Early bird (booked ≥ N days ahead)"
        LAST_MINUTE = "last_minute", "Last minute (arrival within N days)"

    class Adjustment(models.TextChoices):
        PERCENT = "percent", "Percent of the nightly price"
        FIXED = "fixed", "Fixed amount per night"

    property = models.ForeignKey(Property, on_delete=models.CASCADE, related_name="pricing_rules")
    name = models.CharField(max_length=100)
    kind = models.CharField(max_length=20, choices=Kind.choices)
    adjustment = models.CharField(max_length=10, choices=Adjustment.choices, default=Adjustment.PERCENT)
    value = models.DecimalField(
        max_digits=10, decimal_places=2,
        help_text="Negative for a discount, positive for a surcharge (e.g. -10 = 10% off).",
    )
    priority = models.IntegerField(default=0, help_text="Among matching rules of one kind, the highest wins.")
    active = models.BooleanField(default=True)
    weekend_days = models.PositiveSmallIntegerField(
        default=FRIDAY_SATURDAY, validators=[validate_weekday_mask],
        help_text="Weekend rules: which nights count (default Friday and Saturday nights).",
    )
    start_date = models.DateField(null=True, blank=True, help_text="Seasonal rules: first night.")
    end_date = models.DateField(null=True, blank=True, help_text="Seasonal rules: day after the last night.")
    days = models.PositiveSmallIntegerField(null=True, blank=True,
                                            help_text="Early bird: at least N days ahead. Last minute: within N days.")
    min_nights = models.PositiveSmallIntegerField(null=True, blank=True, help_text="Length of stay: at least N nights.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["kind", "-priority", "id"]

    def __str__(self):
        return self.name

    def clean(self):
        errors = {}
        if self.kind == self.Kind.SEASONAL:
            if not self.start_date:
                errors["start_date"] = "A seasonal rule needs a start date."
            if not self.end_date:
                errors["end_date"] = "A seasonal rule needs an end date."
            elif self.start_date and self.end_date <= self.start_date:
                errors["end_date"] = "End date must be after the start date."
        if self.kind in (self.Kind.EARLY_BIRD, self.Kind.LAST_MINUTE) and self.days is None:
            errors["days"] = "This rule needs a number of days."
        if self.kind == self.Kind.LENGTH_OF_STAY and not self.min_nights:
            errors["min_nights"] = "A length-of-stay rule needs a number of nights."
        if self.adjustment == self.Adjustment.PERCENT and self.value is not None and self.value < -100:
            errors["value"] = "A discount cannot exceed 100%."
        if errors:
            raise ValidationError(errors)
