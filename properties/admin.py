"""Admin for properties and what hangs off them (the basic back office).

* Owners and staff (non-superusers) see only the properties they own or are
  assigned to, and only their rows of everything else (docs/architecture.md, Invariant 8):
  every admin here is a ``core.tenancy.TenantScopedAdmin``. What they may
  do is their group's permissions (``guests.roles``): staff see prices and
  pricing rules but cannot change them.
* Amenities are a global list: everyone with the view permission sees it, only
  superusers change it.
* Changes of prices, fees, pricing rules or date overrides announce
  ``pricing.updated`` in the admin's transaction.
* The property's page also shows what the apps above add to it — owner blocks,
  the quote preview and the bookings column (``bookings.block_admin``), channel
  blocks and connections (``channels.admin``) — through
  :func:`extend_property_admin`: this app imports none of them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from django import forms
from django.contrib import admin
from django.db.models import NOT_PROVIDED, Count
from django.utils.html import format_html

from core.money import format_money
from core.tenancy import TenantScopedAdmin, TenantScopedInline

from . import services
from .models import (
    WEEKDAY_NAMES,
    Amenity,
    DateOverride,
    PricingRule,
    Property,
    PropertyPhoto,
    weekday_mask,
    weekdays_in,
)
from .tenancy import managed_properties

WEEKDAY_FIELDS = ("checkin_weekdays", "checkout_weekdays", "weekend_days")
# Property fields whose change alters quotes, and those that change what the channels show besides (stay rules,
# buffer days, the bookable window, whether the property sells at all): a change of either is announced.
PRICE_FIELDS = {"base_price", "currency", "cleaning_fee", "extra_guest_fee", "guests_included", "tax_rate"}
ANNOUNCED_FIELDS = PRICE_FIELDS | {"min_stay", "max_stay", "buffer_days", "checkin_weekdays", "checkout_weekdays",
                                   "min_lead_days", "max_advance_days", "status", "max_guests"}


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


# --- what the apps above add to the property's page -------------------------------------------------


@dataclass(frozen=True)
class PropertyPageExtension:
    """A part of the property's admin page contributed by an app above ``properties`` (from its ``admin.py``,
    with :func:`extend_property_admin`), so that this app never imports it.

    * ``inlines``: appended to the page's own, extensions sorted by ``order`` (then registration). An
      inline whose rows must change through a service (owner blocks: property lock, check against
      bookings, outbox) gives its formset a ``save_through_services(request, prop)`` method; the page
      calls it instead of saving the rows itself.
    * ``fieldsets``: sections after the property's own; their fields are read-only displays, listed in
      ``readonly`` as callables ``obj -> html`` (named as the field's CSS class should read).
    * ``columns``: changelist columns (callables) after the property's own, reading ``annotations`` that
      the list's queryset gets.
    * ``urls(model_admin)``: extra URL patterns of the page (wrapped in ``admin_view`` by the caller);
      ``js`` / ``css``: its assets.
    """

    order: int = 100
    inlines: tuple = ()
    fieldsets: tuple = ()
    readonly: tuple = ()
    columns: tuple = ()
    annotations: dict = field(default_factory=dict)
    urls: Callable | None = None
    js: tuple = ()
    css: tuple = ()


_property_page_extensions: list[PropertyPageExtension] = []


def extend_property_admin(extension: PropertyPageExtension) -> PropertyPageExtension:
    """Add ``extension`` to the property's admin page (call once, at import of the app's ``admin.py``)."""
    _property_page_extensions.append(extension)
    _property_page_extensions.sort(key=lambda e: e.order)  # stable: registration order within one order
    return extension


def property_page_extensions() -> list[PropertyPageExtension]:
    return list(_property_page_extensions)


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
                    "photo_count"]
    list_filter = ["status", "city", "country", "currency", "cancellation_policy", "amenities"]
    search_fields = ["name", "slug", "city", "street", "owner__email", "owner__full_name"]
    list_select_related = ["owner"]
    prepopulated_fields = {"slug": ["name"]}
    filter_horizontal = ["amenities", "staff"]
    inlines = [PropertyPhotoInline, PricingRuleInline, DateOverrideInline]  # + the extensions' (get_inlines)
    fieldsets = [
        (None, {"fields": ["name", "slug", "status", "owner", "staff", "description", "house_rules"]}),
        ("Address", {"fields": ["street", ("city", "postal_code"), ("region", "country"),
                                ("latitude", "longitude"), "timezone", "default_language"]}),
        ("Space", {"fields": [("max_guests", "bedrooms", "bathrooms"), "amenities"]}),
        ("Prices", {"fields": [("currency", "base_price"), ("cleaning_fee", "extra_guest_fee", "guests_included"),
                               "tax_rate", "cancellation_policy", "custom_cancellation_tiers",
                               "guests_may_change_bookings"]}),
        ("Stay rules", {"fields": [("min_stay", "max_stay", "buffer_days"), "checkin_weekdays", "checkout_weekdays",
                                   ("min_lead_days", "max_advance_days"), ("check_in_time", "check_out_time")]}),
    ]  # + the extensions' sections (get_fieldsets)

    @property
    def media(self):
        media = super().media
        for extension in property_page_extensions():
            media += forms.Media(js=extension.js, css={"all": extension.css} if extension.css else {})
        return media

    def get_urls(self):
        return [
            *(url for extension in property_page_extensions() if extension.urls for url in extension.urls(self)),
            *super().get_urls(),
        ]

    def get_inlines(self, request, obj):
        return [*super().get_inlines(request, obj), *(i for e in property_page_extensions() for i in e.inlines)]

    def get_fieldsets(self, request, obj=None):
        return [*super().get_fieldsets(request, obj), *(f for e in property_page_extensions() for f in e.fieldsets)]

    def get_list_display(self, request):
        return [*super().get_list_display(request), *(c for e in property_page_extensions() for c in e.columns)]

    def get_queryset(self, request):
        extra = {name: value for e in property_page_extensions() for name, value in e.annotations.items()}
        return super().get_queryset(request).annotate(n_photos=Count("photos", distinct=True), **extra)

    def get_readonly_fields(self, request, obj=None):
        extra = [display for e in property_page_extensions() for display in e.readonly]
        return extra if request.user.is_superuser else [*extra, "owner"]

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

    def save_model(self, request, obj, form, change):
        if not change and not request.user.is_superuser:
            obj.owner = request.user
        super().save_model(request, obj, form, change)
        if change and ANNOUNCED_FIELDS & set(form.changed_data):
            services.announce_pricing(obj)

    def save_formset(self, request, form, formset, change):
        prop = form.instance
        save_through_services = getattr(formset, "save_through_services", None)
        if save_through_services is not None:  # an extension's rows that change occupancy (owner blocks)
            save_through_services(request, prop)
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

