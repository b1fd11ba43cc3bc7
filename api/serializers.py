"""Serializers of REST API v1: input parsing (query strings and JSON bodies) and output shapes.

Input serializers only validate shapes and bounds; every business rule (stay
rules, availability, transitions) is decided by ``properties`` and
``bookings.services`` and comes back as a domain error. Money is always a
decimal string, dates ``YYYY-MM-DD``, timestamps ISO 8601 UTC, a property's
check-in/out times ``HH:MM:SS`` in its own time zone.

The contract (issue 11 item 10): every field accepts exactly what its OpenAPI
schema says, no more and no less — lengths count the characters as sent, text is
a JSON string (no number coerced into one), a pattern in the schema is the rule
the field applies. What a schema cannot express (one field compared with another,
a reference to a row that must exist) is named in the field's description, and
``tests/api/test_contract.py`` (schemathesis) holds the two together.
"""

from __future__ import annotations

import re
from datetime import date

from django.core.validators import RegexValidator
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from bookings.models import HAND_MOVE_PERMISSIONS, Booking
from bookings.search import MAX_PAGE_SIZE
from bookings.tokens import booking_access_token, hold_release_token
from properties.listing import SORTS
from properties.models import WEEKDAY_NAMES, Property, weekdays_in

MIN_DATE = date(2000, 1, 1)
MAX_DATE = date(2200, 12, 31)
MAX_STAY_NIGHTS = 731
MAX_CALENDAR_DAYS = 366
MAX_GUESTS = 100
MAX_PAGE = 10_000
MAX_ID = 2**63 - 1


# Years MIN_DATE..MAX_DATE, zero-padded months and days: the schema's pattern for every input date.
DATE_PATTERN = r"^(2[01][0-9]{2}|2200)-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$"
_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


@extend_schema_field({"type": "string", "format": "date", "pattern": DATE_PATTERN})
class ApiDateField(serializers.DateField):
    """A ``YYYY-MM-DD`` date in a sane range (no overflow when rules add buffer days).

    Exactly RFC 3339 ``full-date`` (no ``2026-1-5``, ``20260105`` or week dates, which
    Python's parser would take), years 2000 to 2200 — what the schema's pattern says."""

    default_error_messages = {
        "out_of_range": f"Dates must be between {MIN_DATE.isoformat()} and {MAX_DATE.isoformat()}.",
    }

    def __init__(self, **kwargs):
        kwargs.setdefault("input_formats", ["iso-8601"])
        super().__init__(**kwargs)

    def to_internal_value(self, value):
        if not isinstance(value, str) or not _ISO_DATE.fullmatch(value):
            self.fail("invalid", format="YYYY-MM-DD")
        parsed = super().to_internal_value(value)
        if not MIN_DATE <= parsed <= MAX_DATE:
            self.fail("out_of_range")
        return parsed


# What counts as blank: whitespace to Python's str.strip() or to an ECMAScript ``\s``, and control characters.
_BLANK = r"\x00-\x20\x7f-\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\ufeff"
NO_NUL = RegexValidator(r"\A[^\x00]*\Z", "Null characters are not allowed.")
NOT_BLANK = RegexValidator(rf"\A[^\x00]*[^{_BLANK}][^\x00]*\Z",
                           "This field may not be blank or contain null characters.")


class _AsSent:
    """A JSON string judged exactly as sent: no number coerced into text, no whitespace trimmed into validity."""

    def __init__(self, **kwargs):
        kwargs["trim_whitespace"] = False
        super().__init__(**kwargs)

    def run_validation(self, data=serializers.empty):
        if data is not serializers.empty and data is not None and not isinstance(data, str):
            self.fail("invalid")
        return super().run_validation(data)


class ApiTextField(_AsSent, serializers.CharField):
    """Free text: at most ``max_length`` characters as sent, no NUL; unless ``allow_blank``, at least
    one visible character. Surrounding whitespace is removed after validation. The rule is a regex,
    so the schema states it (``pattern``)."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.validators.append(NO_NUL if self.allow_blank else NOT_BLANK)

    def run_validation(self, data=serializers.empty):
        value = super().run_validation(data)
        return value.strip() if isinstance(value, str) else value


class ApiEmailField(_AsSent, serializers.EmailField):
    """An email address exactly as sent."""


# A non-negative amount with at most 10 integer digits and 2 decimals; empty means "not given" (views._query).
PRICE_PATTERN = r"^([0-9]{1,10}(\.[0-9]{1,2})?)?$"


@extend_schema_field({"type": "string", "pattern": PRICE_PATTERN})
class PriceQueryField(serializers.DecimalField):
    """A price filter in a query string, e.g. ``120`` or ``99.50``."""

    def __init__(self, **kwargs):
        super().__init__(max_digits=12, decimal_places=2, min_value=0, **kwargs)

    def to_internal_value(self, data):
        if not isinstance(data, str) or not re.fullmatch(PRICE_PATTERN[1:-1], data):
            self.fail("invalid")
        return super().to_internal_value(data)


@extend_schema_field({"type": "string", "pattern": r"^([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9]$",
                      "example": "15:00:00"})
class LocalTimeField(serializers.TimeField):
    """A property's wall-clock time, ``HH:MM:SS``, in the property's ``timezone``.

    Decision (issue 11 item 10): no UTC offset, because there is none to give — check-in
    "15:00" stays 15:00 across daylight saving time — so the schema says a string with a
    pattern, not RFC 3339 ``format: time`` (which requires an offset)."""

    def __init__(self, **kwargs):
        kwargs.setdefault("format", "%H:%M:%S")
        super().__init__(**kwargs)


def id_field(**kwargs):
    return serializers.IntegerField(min_value=1, max_value=MAX_ID, **kwargs)


class PropertyRefMixin:
    """Resolve ``property_id`` to a property the requesting user may see (active, or managed)."""

    # False: only check that the property is visible (``SELECT 1``); the view needs its id only (a booking: the
    # booking service reads the property under its lock anyway).
    load_property = True

    def validate_property_id(self, value):
        from .permissions import visible_properties

        user = self.context.get("user")
        if not self.load_property:
            if not visible_properties(user).filter(pk=value).exists():
                raise serializers.ValidationError("There is no property with this id.")
            return value
        prop = visible_properties(user).filter(pk=value).first()
        if prop is None:
            raise serializers.ValidationError("There is no property with this id.")
        self.context["property"] = prop
        return value


class StayMixin:
    """Shared check of a (check_in, check_out) pair."""

    check_in_field = "check_in"
    check_out_field = "check_out"
    max_nights = MAX_STAY_NIGHTS

    def check_range(self, attrs):
        start, end = attrs.get(self.check_in_field), attrs.get(self.check_out_field)
        if start is None or end is None:
            return
        if end <= start:
            raise serializers.ValidationError({self.check_out_field: [f"Must be after {self.check_in_field}."]})
        if (end - start).days > self.max_nights:
            raise serializers.ValidationError(
                {self.check_out_field: [f"The range may span at most {self.max_nights} days."]}
            )


# --- query strings -------------------------------------------------------------------------


RULE_BOTH_DATES = "Give both dates or neither."


def rule_after(earlier: str, max_days: int) -> str:
    return f"Must be after {earlier}, at most {max_days} days later."


class PageQuerySerializer(serializers.Serializer):
    page = serializers.IntegerField(min_value=1, max_value=MAX_PAGE, default=1)
    page_size = serializers.IntegerField(min_value=1, max_value=MAX_PAGE_SIZE, default=20)


class SearchQuerySerializer(StayMixin, PageQuerySerializer):
    check_in = ApiDateField(required=False, help_text=f"Arrival (YYYY-MM-DD). {RULE_BOTH_DATES}")
    check_out = ApiDateField(required=False, help_text="Departure (YYYY-MM-DD). "
                                                       + rule_after("check_in", MAX_STAY_NIGHTS))
    guests = serializers.IntegerField(min_value=1, max_value=MAX_GUESTS, default=1)
    q = ApiTextField(required=False, allow_blank=True, max_length=100, default="",
                     help_text="Free text: name, city or region.")
    min_price = PriceQueryField(required=False, help_text="Minimum base nightly price.")
    max_price = PriceQueryField(required=False, help_text="Maximum base nightly price; not below min_price.")
    bedrooms = serializers.IntegerField(min_value=0, max_value=100, required=False, help_text="At least N bedrooms.")
    amenities = serializers.CharField(
        required=False, allow_blank=True, max_length=500, default="", trim_whitespace=False,
        # At most 20 comma-separated codes of at most 50 characters each (spaces around a code are ignored).
        validators=[RegexValidator(r"\A[^,\x00]{0,50}(,[^,\x00]{0,50}){0,19}\Z",
                                   "At most 20 comma-separated amenity codes, each at most 50 characters.")],
        help_text="Comma-separated amenity codes (at most 20, each at most 50 characters); all must be present.")
    sort = serializers.ChoiceField(choices=sorted(SORTS), default="price")

    def validate_amenities(self, value):
        return tuple(dict.fromkeys(c.strip() for c in value.split(",") if c.strip()))

    def validate(self, attrs):
        if ("check_in" in attrs) != ("check_out" in attrs):
            missing = "check_out" if "check_in" in attrs else "check_in"
            raise serializers.ValidationError({missing: ["Give both check_in and check_out, or neither."]})
        self.check_range(attrs)
        low, high = attrs.get("min_price"), attrs.get("max_price")
        if low is not None and high is not None and low > high:
            raise serializers.ValidationError({"max_price": ["Must not be below min_price."]})
        return attrs


PROPERTY_ID_HELP = "An active property (or one you manage); another id is 400 `invalid` for `property_id`."


class QuoteQuerySerializer(PropertyRefMixin, StayMixin, serializers.Serializer):
    property_id = id_field(help_text=PROPERTY_ID_HELP)
    check_in = ApiDateField(help_text="Arrival (YYYY-MM-DD).")
    check_out = ApiDateField(help_text="Departure (YYYY-MM-DD). " + rule_after("check_in", MAX_STAY_NIGHTS))
    guests = serializers.IntegerField(min_value=1, max_value=MAX_GUESTS, default=1)

    def validate(self, attrs):
        self.check_range(attrs)
        return attrs


class AvailabilityQuerySerializer(PropertyRefMixin, StayMixin, serializers.Serializer):
    property_id = id_field(help_text=PROPERTY_ID_HELP)
    start = ApiDateField(help_text="First day of the calendar (and arrival of the range checked).")
    end = ApiDateField(help_text="Day after the last day (and departure of the range checked). "
                                 + rule_after("start", MAX_CALENDAR_DAYS))
    guests = serializers.IntegerField(min_value=1, max_value=MAX_GUESTS, default=1)

    check_in_field = "start"
    check_out_field = "end"
    max_nights = MAX_CALENDAR_DAYS

    def validate(self, attrs):
        self.check_range(attrs)
        return attrs


# --- request bodies ----------------------------------------------------------------------


class StayInputSerializer(PropertyRefMixin, StayMixin, serializers.Serializer):
    """A stay to hold or book. Beyond these shapes, the property's own rules apply (lead time,
    minimum and maximum stay, arrival and departure weekdays, guests) and answer 400
    ``stay_rule_violation``; nights already taken answer 409 ``dates_unavailable``."""

    property_id = id_field(help_text=PROPERTY_ID_HELP)
    check_in = ApiDateField(help_text="Arrival (YYYY-MM-DD), not in the past (the property's local date).")
    check_out = ApiDateField(help_text="Departure (YYYY-MM-DD). " + rule_after("check_in", MAX_STAY_NIGHTS))
    adults = serializers.IntegerField(min_value=1, max_value=MAX_GUESTS)
    children = serializers.IntegerField(min_value=0, max_value=MAX_GUESTS, default=0,
                                        help_text=f"adults + children is at most {MAX_GUESTS}.")

    def validate(self, attrs):
        self.check_range(attrs)
        if attrs["adults"] + attrs.get("children", 0) > MAX_GUESTS:
            raise serializers.ValidationError({"children": [f"At most {MAX_GUESTS} guests in total."]})
        return attrs


class HoldCreateSerializer(StayInputSerializer):
    # At most 200: the hold service also uses the address as the guest's name (200 characters).
    email = ApiEmailField(required=False, allow_blank=True, default="", max_length=200,
                          help_text="Optional contact for the hold.")


class GuestInputSerializer(serializers.Serializer):
    name = ApiTextField(max_length=200)
    email = ApiEmailField(max_length=254)
    phone = ApiTextField(max_length=32, required=False, allow_blank=True, default="")
    country = serializers.RegexField(r"\A[A-Za-z]{2}\Z", required=False, allow_blank=True, default="",
                                     trim_whitespace=False, help_text="ISO 3166-1 alpha-2.", error_messages={
                                         "invalid": "Use a two-letter ISO 3166-1 country code."})


class BookingCreateSerializer(StayInputSerializer):
    load_property = False
    guest = GuestInputSerializer()
    special_requests = ApiTextField(max_length=2000, required=False, allow_blank=True, default="")
    hold_id = id_field(required=False, help_text="Turn this hold (same property and dates) into the booking; "
                                                 "required with hold_token.")
    hold_token = ApiTextField(max_length=500, required=False,
                              help_text="The hold's release_token; required with hold_id unless you manage the "
                                        "property (a wrong token is 400 `invalid` for `hold_token`).")

    def validate(self, attrs):
        attrs = super().validate(attrs)
        if "hold_token" in attrs and "hold_id" not in attrs:
            raise serializers.ValidationError({"hold_id": ["Required with hold_token."]})
        return attrs


STATUS_CHANGE_CHOICES = [(st.value, st.label) for st in HAND_MOVE_PERMISSIONS]


class StatusChangeSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=STATUS_CHANGE_CHOICES)
    reason = ApiTextField(max_length=1000, required=False, allow_blank=True, default="")


AMOUNT_PATTERN = r"^-?[0-9]{1,10}(\.[0-9]{1,2})?$"


@extend_schema_field({"type": "string", "pattern": AMOUNT_PATTERN, "example": "120.00"})
class AmountField(serializers.DecimalField):
    """A signed amount in the booking's currency as a decimal string (``-200.00``, ``35``)."""

    def __init__(self, **kwargs):
        super().__init__(max_digits=12, decimal_places=2, **kwargs)

    def to_internal_value(self, data):
        if not isinstance(data, str) or not re.fullmatch(AMOUNT_PATTERN[1:-1], data):
            self.fail("invalid")
        return super().to_internal_value(data)


class BookingChangeSerializer(StayMixin, serializers.Serializer):
    """New dates and/or guests for a booking (``PATCH /api/v1/bookings/{reference}``); fields left out keep the
    booking's. Beyond these shapes the property's own rules apply to direct and owner bookings (400
    ``stay_rule_violation``, with ``reasons``), nights taken by another stay or a block answer 409
    ``dates_unavailable``, and a booking that cannot change (a channel booking, a called-off one, a guest on or after
    the arrival day) 409 ``change_on_channel`` / ``change_not_allowed``. Sending nothing, or the booking's own
    values, changes nothing (200)."""

    check_in = ApiDateField(required=False, help_text="New arrival (YYYY-MM-DD).")
    check_out = ApiDateField(required=False, help_text="New departure (YYYY-MM-DD). " +
                                                        rule_after("check_in", MAX_STAY_NIGHTS))
    adults = serializers.IntegerField(required=False, min_value=1, max_value=MAX_GUESTS)
    children = serializers.IntegerField(required=False, min_value=0, max_value=MAX_GUESTS,
                                        help_text=f"adults + children is at most {MAX_GUESTS}.")
    expected_difference = AmountField(
        required=False,
        help_text="The new total minus the old, as shown to the person confirming: if the change now costs "
                  "something else, nothing changes and the answer is 409 `change_price_changed` with the new "
                  "`difference` and `refund`.")
    expected_refund = AmountField(
        required=False,
        help_text="The refund shown: if the change now refunds less, 409 `change_price_changed`.")
    override_rules = serializers.BooleanField(
        required=False, default=False,
        help_text="Owners and staff only (a guest gets 403): do not enforce the stay rules (never overlaps, blocks "
                  "or buffer days). Required with `override_reason`.")
    override_reason = ApiTextField(required=False, allow_blank=True, default="", max_length=500,
                                   help_text="Why the stay rules are overridden (kept in the audit trail).")
    full_refund = serializers.BooleanField(
        required=False, default=False,
        help_text="Owners and staff only (a guest gets 403): refund all of a decrease the guest had paid instead "
                  "of the cancellation policy's share.")

    def validate(self, attrs):
        self.check_range(attrs)
        if attrs.get("adults", 0) + attrs.get("children", 0) > MAX_GUESTS:
            raise serializers.ValidationError({"children": [f"At most {MAX_GUESTS} guests in total."]})
        if attrs.get("override_rules") and not attrs.get("override_reason", "").strip():
            raise serializers.ValidationError({"override_reason": ["Required with override_rules."]})
        return attrs


# --- output --------------------------------------------------------------------------------


class ReasonSerializer(serializers.Serializer):
    code = serializers.CharField()
    message = serializers.CharField()
    field = serializers.CharField(required=False)


class AdjustmentSerializer(serializers.Serializer):
    rule_id = serializers.IntegerField()
    kind = serializers.CharField()
    name = serializers.CharField()
    amount = serializers.CharField(help_text="Decimal string; negative for a discount.")


class NightSerializer(serializers.Serializer):
    date = serializers.DateField()
    base = serializers.CharField()
    adjustments = AdjustmentSerializer(many=True)
    price = serializers.CharField()


class FeeSerializer(serializers.Serializer):
    code = serializers.CharField()
    label = serializers.CharField()
    amount = serializers.CharField()


class QuoteSerializer(serializers.Serializer):
    """``properties.pricing.Quote.as_dict()``: money as decimal strings."""

    check_in = serializers.DateField()
    check_out = serializers.DateField()
    guests = serializers.IntegerField()
    currency = serializers.CharField()
    nights = NightSerializer(many=True)
    nightly_subtotal = serializers.CharField()
    discounts = serializers.CharField()
    fees = FeeSerializer(many=True)
    fees_total = serializers.CharField()
    tax_rate = serializers.CharField(help_text="Percent.")
    taxes = serializers.CharField()
    total = serializers.CharField()


class QuoteResponseSerializer(QuoteSerializer):
    property_id = serializers.IntegerField()
    available = serializers.BooleanField(help_text="Whether these dates can be booked now for these guests.")
    reasons = ReasonSerializer(many=True, help_text="Why not, when not available.")


class CalendarDaySerializer(serializers.Serializer):
    date = serializers.DateField()
    state = serializers.ChoiceField(choices=["available", "booked", "blocked", "no_check_in", "check_out_only"])
    min_stay = serializers.IntegerField()
    check_in_allowed = serializers.BooleanField()
    check_out_allowed = serializers.BooleanField()
    note = serializers.CharField(required=False)


class AvailabilityResponseSerializer(serializers.Serializer):
    property_id = serializers.IntegerField()
    start = serializers.DateField()
    end = serializers.DateField()
    guests = serializers.IntegerField()
    days = CalendarDaySerializer(many=True)
    bookable = serializers.BooleanField(help_text="Whether a stay from start to end can be booked now.")
    reasons = ReasonSerializer(many=True)


class StayRulesSerializer(serializers.Serializer):
    min_stay = serializers.IntegerField()
    max_stay = serializers.IntegerField()
    buffer_days = serializers.IntegerField()
    checkin_weekdays = serializers.ListField(child=serializers.CharField())
    checkout_weekdays = serializers.ListField(child=serializers.CharField())
    min_lead_days = serializers.IntegerField()
    max_advance_days = serializers.IntegerField()


class PhotoSerializer(serializers.Serializer):
    url = serializers.CharField()
    alt_text = serializers.CharField()


def _weekday_names(mask: int) -> list[str]:
    return [WEEKDAY_NAMES[d].lower() for d in weekdays_in(mask)]


class PropertySerializer(serializers.ModelSerializer):
    """A property as the public sees it. Expects ``amenities`` and ``photos`` prefetched."""

    amenities = serializers.SerializerMethodField()
    photos = serializers.SerializerMethodField()
    stay_rules = serializers.SerializerMethodField()
    check_in_time = LocalTimeField(read_only=True, help_text="Earliest arrival, HH:MM:SS local time at the "
                                                             "property (its `timezone`), no UTC offset.")
    check_out_time = LocalTimeField(read_only=True, help_text="Latest departure, HH:MM:SS local time at the "
                                                              "property (its `timezone`), no UTC offset.")

    class Meta:
        model = Property
        fields = [
            "id", "slug", "name", "status", "city", "region", "country", "max_guests", "bedrooms", "bathrooms",
            "currency", "base_price", "cleaning_fee", "extra_guest_fee", "guests_included", "tax_rate",
            "amenities", "photos", "cancellation_policy", "check_in_time", "check_out_time", "timezone",
            "stay_rules",
        ]
        read_only_fields = fields

    @extend_schema_field(serializers.ListField(child=serializers.CharField()))
    def get_amenities(self, prop) -> list[str]:
        return [a.code for a in prop.amenities.all()]

    @extend_schema_field(PhotoSerializer(many=True))
    def get_photos(self, prop) -> list[dict]:
        request = self.context.get("request")
        out = []
        for photo in prop.photos.all():
            url = photo.image.url if photo.image else ""
            if url and request is not None:
                url = request.build_absolute_uri(url)
            out.append({"url": url, "alt_text": photo.alt_text})
        return out

    @extend_schema_field(StayRulesSerializer)
    def get_stay_rules(self, prop) -> dict:
        return {
            "min_stay": prop.min_stay,
            "max_stay": prop.max_stay,
            "buffer_days": prop.buffer_days,
            "checkin_weekdays": _weekday_names(prop.checkin_weekdays),
            "checkout_weekdays": _weekday_names(prop.checkout_weekdays),
            "min_lead_days": prop.min_lead_days,
            "max_advance_days": prop.max_advance_days,
        }


class PropertyDetailSerializer(PropertySerializer):
    class Meta(PropertySerializer.Meta):
        fields = [*PropertySerializer.Meta.fields, "description", "house_rules", "street", "postal_code",
                  "latitude", "longitude"]
        read_only_fields = fields


class PropertyPageSerializer(serializers.Serializer):
    results = PropertySerializer(many=True)
    total = serializers.IntegerField()
    page = serializers.IntegerField()
    page_size = serializers.IntegerField()
    pages = serializers.IntegerField()


class ReviewSerializer(serializers.Serializer):
    """A public review (``reviews.models.Review``): the guest's first name and initial, never more."""

    id = serializers.IntegerField()
    overall = serializers.IntegerField(min_value=1, max_value=5)
    categories = serializers.SerializerMethodField(help_text="The categories the guest rated, 1 to 5 each.")
    title = serializers.CharField()
    body = serializers.CharField()
    guest_name = serializers.CharField(source="guest_display_name", help_text="First name and initial; may be empty.")
    created_at = serializers.DateTimeField()
    reply = serializers.CharField(help_text="The owner's public reply; empty when there is none.")
    replied_at = serializers.DateTimeField(allow_null=True)

    @extend_schema_field({"type": "object", "additionalProperties": {"type": "integer", "minimum": 1, "maximum": 5}})
    def get_categories(self, review) -> dict:
        from reviews.models import CATEGORY_FIELDS

        return {name: getattr(review, name) for name in CATEGORY_FIELDS if getattr(review, name) is not None}


class ReviewPageSerializer(serializers.Serializer):
    results = ReviewSerializer(many=True)
    average = serializers.DecimalField(max_digits=2, decimal_places=1, allow_null=True,
                                       help_text="Average overall rating of the public reviews, to one decimal.")
    total = serializers.IntegerField()
    page = serializers.IntegerField()
    page_size = serializers.IntegerField()
    pages = serializers.IntegerField()


class SearchResultSerializer(serializers.Serializer):
    property = PropertySerializer()
    quote = QuoteSerializer(allow_null=True, help_text="The price for the dates; null without dates.")


class SearchPageSerializer(serializers.Serializer):
    results = SearchResultSerializer(many=True)
    total = serializers.IntegerField()
    page = serializers.IntegerField()
    page_size = serializers.IntegerField()
    pages = serializers.IntegerField()


class HoldSerializer(serializers.ModelSerializer):
    release_token = serializers.SerializerMethodField(
        help_text="Signed token: send it as ?token= or X-Hold-Token to DELETE the hold, or as hold_token "
                  "with hold_id to turn it into a booking."
    )

    class Meta:
        model = Booking
        fields = ["id", "reference", "status", "property_id", "check_in", "check_out", "adults", "children",
                  "expires_at", "total", "currency", "release_token"]
        read_only_fields = fields

    @extend_schema_field(OpenApiTypes.STR)
    def get_release_token(self, booking) -> str:
        return hold_release_token(booking)


class BookingCreatedSerializer(serializers.ModelSerializer):
    access_token = serializers.SerializerMethodField(
        help_text="Signed token for the guest: GET /api/v1/bookings/{reference}?token=… (or X-Booking-Token)."
    )
    quote = QuoteSerializer(read_only=True)

    class Meta:
        model = Booking
        fields = ["reference", "status", "property_id", "check_in", "check_out", "adults", "children",
                  "expires_at", "total", "currency", "quote", "access_token"]
        read_only_fields = fields

    @extend_schema_field(OpenApiTypes.STR)
    def get_access_token(self, booking) -> str:
        return booking_access_token(booking)


_EXPIRES_AT = serializers.DateTimeField()
_TOTAL = serializers.DecimalField(max_digits=12, decimal_places=2)


def _quote_body(quote: dict) -> dict:
    """``QuoteSerializer(quote).data`` for a quote stored by ``Quote.as_dict()`` (already strings and ints)."""
    return {
        "check_in": quote["check_in"], "check_out": quote["check_out"], "guests": int(quote["guests"]),
        "currency": str(quote["currency"]),
        "nights": [{"date": n["date"], "base": str(n["base"]),
                    "adjustments": [{"rule_id": int(a["rule_id"]), "kind": str(a["kind"]), "name": str(a["name"]),
                                     "amount": str(a["amount"])} for a in n["adjustments"]],
                    "price": str(n["price"])} for n in quote["nights"]],
        "nightly_subtotal": str(quote["nightly_subtotal"]), "discounts": str(quote["discounts"]),
        "fees": [{"code": str(f["code"]), "label": str(f["label"]), "amount": str(f["amount"])}
                 for f in quote["fees"]],
        "fees_total": str(quote["fees_total"]), "tax_rate": str(quote["tax_rate"]), "taxes": str(quote["taxes"]),
        "total": str(quote["total"]),
    }


def booking_created_body(booking) -> dict:
    """``BookingCreatedSerializer(booking).data``, without building the serializer: DRF builds and deep-copies
    its fields (and the quote's nested ones) on every instantiation, about 1 ms of CPU per API booking
    (docs/performance-writes.md). ``tests/api/test_bookings.py`` checks both give the same body; the schema is
    still the serializer's."""
    return {
        "reference": booking.reference, "status": str(booking.status), "property_id": booking.property_id,
        "check_in": booking.check_in.isoformat(), "check_out": booking.check_out.isoformat(),
        "adults": int(booking.adults), "children": int(booking.children),
        "expires_at": _EXPIRES_AT.to_representation(booking.expires_at),
        "total": _TOTAL.to_representation(booking.total), "currency": str(booking.currency),
        "quote": _quote_body(booking.quote), "access_token": booking_access_token(booking),
    }


class GuestOutSerializer(serializers.Serializer):
    name = serializers.CharField()
    email = serializers.CharField()
    phone = serializers.CharField()
    country = serializers.CharField()


class BookingSerializer(serializers.ModelSerializer):
    """A booking as its guest (signed token) sees it."""

    property_name = serializers.CharField(source="property.name", read_only=True)
    nights = serializers.IntegerField(read_only=True)
    guest = GuestOutSerializer(read_only=True, allow_null=True)
    quote = QuoteSerializer(read_only=True)

    class Meta:
        model = Booking
        fields = [
            "reference", "status", "payment_status", "source", "property_id", "property_name", "check_in",
            "check_out", "nights", "adults", "children", "guest", "currency", "subtotal", "fees", "discounts",
            "taxes", "total", "amount_paid", "amount_refunded", "quote", "cancellation_policy", "expires_at",
            "special_requests", "cancellation_reason", "created_at", "reserved_at", "confirmed_at",
            "checked_in_at", "checked_out_at", "cancelled_at", "expired_at",
        ]
        read_only_fields = fields


class BookingEventSerializer(serializers.Serializer):
    from_status = serializers.CharField()
    to_status = serializers.CharField()
    actor_type = serializers.CharField()
    actor = serializers.CharField(source="actor_label")
    reason = serializers.CharField()
    created_at = serializers.DateTimeField()


class ManagerBookingSerializer(BookingSerializer):
    """A booking as its property's owner or staff sees it: with the audit trail."""

    events = BookingEventSerializer(many=True, read_only=True)

    class Meta(BookingSerializer.Meta):
        fields = [*BookingSerializer.Meta.fields, "id", "external_id", "rules_overridden", "events"]
        read_only_fields = fields


class ChangeTermsSerializer(serializers.Serializer):
    """The money of the change just made (``bookings.changes.ChangeTerms``), amounts as decimal strings."""

    currency = serializers.CharField()
    old_total = serializers.CharField()
    new_total = serializers.CharField()
    difference = serializers.CharField(help_text="new_total − old_total.")
    balance_before = serializers.CharField()
    balance_after = serializers.CharField()
    to_collect = serializers.CharField(help_text="The rise of the balance: emailed to the guest as a payment link.")
    refundable = serializers.CharField()
    refund_percent = serializers.CharField()
    refund = serializers.CharField(help_text="Refunded to the card now (sent to the provider after the answer).")


class ChangedBookingSerializer(ManagerBookingSerializer):
    """The booking after a change (a guest with the access token gets the guest's fields), and ``change``: the
    money of the change, absent when nothing changed."""

    # Not read-only: the schema then lists it as optional (a read-only field is always "required" in an answer).
    change = ChangeTermsSerializer(required=False)

    class Meta(ManagerBookingSerializer.Meta):
        fields = [*ManagerBookingSerializer.Meta.fields, "change"]
        read_only_fields = ManagerBookingSerializer.Meta.fields
