"""Admin for properties and what hangs off them (the basic back office).

* Owners and staff (non-superusers) see only the properties they own or are
  assigned to, and only their rows of everything else (DESIGN invariant 8):
  every admin here is a ``properties.tenancy.TenantScopedAdmin``. What they may
  do is their group's permissions (``guests.roles``): staff see prices and
  pricing rules but cannot change them.
* Amenities are a global list: everyone with the view permission sees it, only
  superusers change it.
* Owner blocks change occupancy, so the admin never saves them itself: adding,
  changing and deleting go through ``properties.services.create_block`` /
  ``delete_block`` (property lock + check against bookings + outbox event). The
  form checks the nights first so that a clash shows as a form error.
* Changes of prices, fees, pricing rules or date overrides announce
  ``pricing.updated`` in the admin's transaction.
"""

from __future__ import annotations

from functools import partial

from django import forms
from django.contrib import admin, messages
from django.db import transaction
from django.db.models import NOT_PROVIDED, Count
from django.http import HttpResponseRedirect
from django.urls import path
from django.utils.html import format_html

from channels.admin import ChannelBlockInline, ChannelConnectionInline
from core.errors import DomainError
from core.money import format_money

from . import quote_preview, services
from .availability import occupying_bookings
from .models import (
    WEEKDAY_NAMES,
    Amenity,
    AvailabilityBlock,
    DateOverride,
    PricingRule,
    Property,
    PropertyPhoto,
    weekday_mask,
    weekdays_in,
)
from .tenancy import TenantScopedAdmin, TenantScopedInline, managed_properties

WEEKDAY_FIELDS = ("checkin_weekdays", "checkout_weekdays", "weekend_days")
# Property fields whose change alters quotes.
PRICE_FIELDS = {"base_price", "currency", "cleaning_fee", "extra_guest_fee", "guests_included", "tax_rate"}


# --- shared pieces -------------------------------------------------------------------------------


class WeekdayMaskField(forms.MultipleChoiceField):
    """Weekday bitmask (Monday = bit 0) as seven checkboxes."""

    widget = forms.CheckboxSelectMultiple

    def __init__(self, **kwargs):
        super().__init__(choices=[(str(d), WEEKDAY_NAMES[d]) for d in range(7)], **kwargs)

    def prepare_value(self, value):
        if isinstance(value, int):
            return [str(d) for d in weekdays_in(value)]
        return value

    def to_mask(self, value):
        days = [int(d) for d in value or []]
        return weekday_mask(*days) if days else None

    def clean(self, value):
        return self.to_mask(super().clean(value))

    def has_changed(self, initial, data):
        initial_mask = initial if isinstance(initial, int) or initial is None else self.to_mask(initial)
        return initial_mask != self.to_mask(data)


class WeekdayFieldsMixin:
    """Render the weekday bitmask columns as checkboxes (ModelAdmin and inlines)."""

    def formfield_for_dbfield(self, db_field, request, **kwargs):
        if db_field.name in WEEKDAY_FIELDS:
            return WeekdayMaskField(
                required=not db_field.null,
                label=db_field.verbose_name.capitalize(),
                help_text=db_field.help_text,
                initial=None if db_field.default is NOT_PROVIDED else db_field.default,
            )
        return super().formfield_for_dbfield(db_field, request, **kwargs)


def booked_nights_error(prop, start, end) -> str | None:
    """The message for a block over booked nights, or None (a pre-check; the service re-checks under the lock)."""
    if prop is None or prop.pk is None or not start or not end or end <= start:
        return None
    taken = list(occupying_bookings(prop, start, end).values_list("reference", flat=True)[:5])
    if taken:
        return f"These nights are booked ({', '.join(taken)}); cancel or move the bookings first."
    return None


class AvailabilityBlockForm(forms.ModelForm):
    class Meta:
        model = AvailabilityBlock
        fields = ["property", "start_date", "end_date", "reason", "note"]

    def clean(self):
        cleaned = super().clean()
        prop = cleaned.get("property")
        if prop is None and self.instance.property_id:
            prop = self.instance.property
        error = booked_nights_error(prop, cleaned.get("start_date"), cleaned.get("end_date"))
        if error:
            raise forms.ValidationError(error, code="dates_unavailable")
        return cleaned


def save_block(request, block: AvailabilityBlock, *, change: bool) -> AvailabilityBlock | None:
    """Create (or replace, for a change) ``block`` through the services; None and a message on a domain error."""
    try:
        with transaction.atomic():
            if change and block.pk:
                services.delete_block(block_id=block.pk)
            return services.create_block(
                property_id=block.property_id, start_date=block.start_date, end_date=block.end_date,
                reason=block.reason, note=block.note, user=request.user,
            )
    except DomainError as exc:
        messages.error(request, f"The block {block.start_date}–{block.end_date} was not saved: {exc.detail}")
        return None


# --- inlines of Property ----------------------------------------------------------------------------


class PropertyPhotoInline(TenantScopedInline, admin.TabularInline):
    model = PropertyPhoto
    extra = 0
    fields = ["preview", "image", "alt_text", "position"]
    readonly_fields = ["preview"]

    @admin.display(description="Preview")
    def preview(self, obj):
        return photo_thumbnail(obj)


class DateOverrideInline(WeekdayFieldsMixin, TenantScopedInline, admin.StackedInline):
    model = DateOverride
    extra = 0
    fields = [("start_date", "end_date"), "nightly_price", ("min_stay", "max_stay"), "checkin_weekdays",
              "checkout_weekdays", "note"]


class PricingRuleInline(WeekdayFieldsMixin, TenantScopedInline, admin.StackedInline):
    model = PricingRule
    extra = 0
    fields = [("name", "kind", "active"), ("adjustment", "value", "priority"), "weekend_days",
              ("start_date", "end_date"), ("days", "min_nights")]


class AvailabilityBlockInline(TenantScopedInline, admin.TabularInline):
    model = AvailabilityBlock
    form = AvailabilityBlockForm
    extra = 0
    fields = ["start_date", "end_date", "reason", "note", "created_by"]
    readonly_fields = ["created_by"]

    def get_queryset(self, request):
        # Channel blocks are shown read-only by channels.admin.ChannelBlockInline (each sync replaces them).
        return super().get_queryset(request).filter(connection__isnull=True)


def photo_thumbnail(photo, width=120):
    if not photo or not photo.image:
        return "—"
    return format_html('<img src="{}" alt="{}" style="width:{}px;height:auto;border-radius:4px">',
                       photo.image.url, photo.alt_text, width)


# --- model admins -------------------------------------------------------------------------------------


@admin.register(Amenity)
class AmenityAdmin(admin.ModelAdmin):
    list_display = ["name", "code", "property_count"]
    search_fields = ["name", "code"]
    prepopulated_fields = {"code": ["name"]}

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(n_properties=Count("properties"))

    def has_add_permission(self, request):
        return request.user.is_superuser

    def has_change_permission(self, request, obj=None):
        return request.user.is_superuser

    def has_delete_permission(self, request, obj=None):
        return request.user.is_superuser

    @admin.display(description="Properties", ordering="n_properties")
    def property_count(self, obj):
        return obj.n_properties


@admin.register(Property)
class PropertyAdmin(WeekdayFieldsMixin, TenantScopedAdmin):
    tenant_path = "pk"
    ordering = ["name", "pk"]  # explicit: the count annotations' GROUP BY drops Meta.ordering
    list_display = ["name", "city", "country", "owner", "status", "price", "max_guests", "bedrooms",
                    "photo_count", "booking_count"]
    list_filter = ["status", "city", "country", "currency", "cancellation_policy", "amenities"]
    search_fields = ["name", "slug", "city", "street", "owner__email", "owner__full_name"]
    list_select_related = ["owner"]
    prepopulated_fields = {"slug": ["name"]}
    filter_horizontal = ["amenities", "staff"]
    inlines = [PropertyPhotoInline, PricingRuleInline, DateOverrideInline, AvailabilityBlockInline,
               ChannelBlockInline, ChannelConnectionInline]
    fieldsets = [
        (None, {"fields": ["name", "slug", "status", "owner", "staff", "description", "house_rules"]}),
        ("Address", {"fields": ["street", ("city", "postal_code"), ("region", "country"),
                                ("latitude", "longitude"), "timezone"]}),
        ("Space", {"fields": [("max_guests", "bedrooms", "bathrooms"), "amenities"]}),
        ("Prices", {"fields": [("currency", "base_price"), ("cleaning_fee", "extra_guest_fee", "guests_included"),
                               "tax_rate", "cancellation_policy", "custom_cancellation_tiers"]}),
        ("Stay rules", {"fields": [("min_stay", "max_stay", "buffer_days"), "checkin_weekdays", "checkout_weekdays",
                                   ("min_lead_days", "max_advance_days"), ("check_in_time", "check_out_time")]}),
        ("Quote preview", {"fields": ["quote_preview"],
                           "description": "What a guest would pay for a stay, from the saved prices and rules."}),
    ]

    class Media:
        js = ["js/admin-quote-preview.js"]
        css = {"all": ["admin-extra/quote-preview.css"]}

    def get_urls(self):
        return [
            path("<path:object_id>/quote-preview/",
                 self.admin_site.admin_view(partial(quote_preview.quote_preview_view, self)),
                 name="properties_property_quote_preview"),
            *super().get_urls(),
        ]

    @admin.display(description="Stay")
    def quote_preview(self, obj):
        return quote_preview.picker_html(obj)

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(
            n_photos=Count("photos", distinct=True), n_bookings=Count("bookings", distinct=True)
        )

    def get_readonly_fields(self, request, obj=None):
        return ["quote_preview"] if request.user.is_superuser else ["quote_preview", "owner"]

    def formfield_for_manytomany(self, db_field, request, **kwargs):
        if db_field.name == "staff":
            # An owner assigns their own staff accounts (``User.employer``); a superuser any staff account.
            from guests.models import User

            staff = User.objects.filter(is_staff=True, is_superuser=False)
            kwargs["queryset"] = staff if request.user.is_superuser else staff.filter(employer=request.user)
        return super().formfield_for_manytomany(db_field, request, **kwargs)

    @admin.display(description="Price / night", ordering="base_price")
    def price(self, obj):
        return format_money(obj.base_price, obj.currency)

    @admin.display(description="Photos", ordering="n_photos")
    def photo_count(self, obj):
        return obj.n_photos

    @admin.display(description="Bookings", ordering="n_bookings")
    def booking_count(self, obj):
        return obj.n_bookings

    def save_model(self, request, obj, form, change):
        if not change and not request.user.is_superuser:
            obj.owner = request.user
        super().save_model(request, obj, form, change)
        if change and PRICE_FIELDS & set(form.changed_data):
            services.announce_pricing(obj)

    def save_formset(self, request, form, formset, change):
        prop = form.instance
        if formset.model is AvailabilityBlock:
            blocks = formset.save(commit=False)
            for block in formset.deleted_objects:
                services.delete_block(block_id=block.pk)
            changed = {obj.pk for obj, _fields in formset.changed_objects}
            for block in blocks:
                block.property = prop
                save_block(request, block, change=block.pk in changed)
            return
        super().save_formset(request, form, formset, change)
        if formset.model in (PricingRule, DateOverride) and (
            formset.new_objects or formset.changed_objects or formset.deleted_objects
        ):
            services.announce_pricing(prop)


@admin.register(PropertyPhoto)
class PropertyPhotoAdmin(TenantScopedAdmin):
    list_display = ["thumbnail", "property", "alt_text", "position"]
    list_filter = ["property__city"]
    search_fields = ["property__name", "alt_text"]
    list_select_related = ["property"]
    list_editable = ["position"]
    autocomplete_fields = ["property"]

    @admin.display(description="Photo")
    def thumbnail(self, obj):
        return photo_thumbnail(obj, width=80)


class PricingChangeAdmin(WeekdayFieldsMixin, TenantScopedAdmin):
    """Pricing rules and date overrides: every change announces pricing.updated."""

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        services.announce_pricing(obj.property)

    def delete_model(self, request, obj):
        prop = obj.property
        super().delete_model(request, obj)
        services.announce_pricing(prop)

    def delete_queryset(self, request, queryset):
        props = list(managed_properties(request.user).filter(pk__in=queryset.values("property_id")))
        super().delete_queryset(request, queryset)
        for prop in props:
            services.announce_pricing(prop)


@admin.register(PricingRule)
class PricingRuleAdmin(PricingChangeAdmin):
    list_display = ["name", "property", "kind", "adjustment", "value", "priority", "active", "start_date",
                    "end_date", "days", "min_nights"]
    list_filter = ["kind", "adjustment", "active", "property__city"]
    search_fields = ["name", "property__name"]
    list_select_related = ["property"]
    autocomplete_fields = ["property"]


@admin.register(DateOverride)
class DateOverrideAdmin(PricingChangeAdmin):
    list_display = ["property", "start_date", "end_date", "nightly_price", "min_stay", "max_stay", "note"]
    list_filter = ["property__city"]
    search_fields = ["property__name", "note"]
    list_select_related = ["property"]
    date_hierarchy = "start_date"
    autocomplete_fields = ["property"]


@admin.register(AvailabilityBlock)
class AvailabilityBlockAdmin(TenantScopedAdmin):
    form = AvailabilityBlockForm
    list_display = ["property", "start_date", "end_date", "nights", "reason", "note", "created_by", "created_at"]
    list_filter = ["reason", "property__city"]
    search_fields = ["property__name", "note"]
    list_select_related = ["property", "created_by"]
    date_hierarchy = "start_date"
    autocomplete_fields = ["property"]
    readonly_fields = ["created_by", "created_at", "connection", "tentative", "external_summary"]

    # Channel blocks (``connection`` set) are the platform's: read-only for everyone, never deleted here
    # (the next sync would put them back; deleting the connection removes them).
    def get_fields(self, request, obj=None):
        fields = list(super().get_fields(request, obj))
        channel = ["connection", "tentative", "external_summary"]
        return fields if obj is not None and obj.connection_id else [f for f in fields if f not in channel]

    def has_change_permission(self, request, obj=None):
        return super().has_change_permission(request, obj) and not (obj is not None and obj.connection_id)

    def has_delete_permission(self, request, obj=None):
        return super().has_delete_permission(request, obj) and not (obj is not None and obj.connection_id)

    def save_model(self, request, obj, form, change):
        saved = save_block(request, obj, change=change)
        if saved is not None:
            obj.pk, obj.created_by, obj.created_at = saved.pk, saved.created_by, saved.created_at

    def log_addition(self, request, obj, message):
        if obj.pk is not None:
            return super().log_addition(request, obj, message)
        return None

    def response_add(self, request, obj, post_url_continue=None):
        if obj.pk is None:  # the service refused it (a message says why)
            return HttpResponseRedirect(request.path)
        return super().response_add(request, obj, post_url_continue)

    def delete_model(self, request, obj):
        services.delete_block(block_id=obj.pk)

    def delete_queryset(self, request, queryset):
        channel = queryset.filter(connection__isnull=False).count()
        if channel:
            messages.warning(request, f"{channel} channel block(s) were not deleted: they come from a platform's "
                                      "calendar and are replaced on every sync.")
        for block_id in queryset.filter(connection__isnull=True).values_list("pk", flat=True):
            services.delete_block(block_id=block_id)


from . import turnover_admin  # noqa: E402, F401  (registers the turnover tasks list)
