"""Owner blocks in the admin, and what ``bookings`` adds to the property's admin page.

* Owner blocks change occupancy, so the admin never saves them itself: adding,
  changing and deleting go through ``bookings.blocks.create_block`` /
  ``delete_block`` (property lock + check against bookings + outbox event). The
  form checks the nights first so that a clash shows as a form error.
* Channel blocks (``connection_id`` set) are the platform's: read-only for
  everyone here, never deleted here (the next sync would put them back; deleting
  the connection removes them, ``channels``); the page shows them through
  ``channels.admin.ChannelBlockInline``.
* The property's page (``properties.admin.PropertyAdmin``) gets from here, through
  ``extend_property_admin``: the owner blocks inline and the "Bookings" column of its list (the live quote
  preview comes from ``backoffice.quote_preview``).
"""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.db import transaction
from django.db.models import Count
from django.forms.models import BaseInlineFormSet
from django.http import HttpResponseRedirect

from core.errors import DomainError
from core.tenancy import TenantScopedAdmin, TenantScopedInline
from properties.admin import PropertyPageExtension, extend_property_admin

from . import blocks
from .availability import occupying_bookings
from .models import AvailabilityBlock


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
                blocks.delete_block(block_id=block.pk)
            return blocks.create_block(
                property_id=block.property_id, start_date=block.start_date, end_date=block.end_date,
                reason=block.reason, note=block.note, user=request.user,
            )
    except DomainError as exc:
        messages.error(request, f"The block {block.start_date}–{block.end_date} was not saved: {exc.detail}")
        return None


class BlockInlineFormSet(BaseInlineFormSet):
    """The owner blocks of the property's page: saved through the services, never by the formset."""

    def save_through_services(self, request, prop) -> None:
        rows = self.save(commit=False)
        for block in self.deleted_objects:
            blocks.delete_block(block_id=block.pk)
        changed = {obj.pk for obj, _fields in self.changed_objects}
        for block in rows:
            block.property = prop
            save_block(request, block, change=block.pk in changed)


class AvailabilityBlockInline(TenantScopedInline, admin.TabularInline):
    model = AvailabilityBlock
    form = AvailabilityBlockForm
    extra = 0
    formset = BlockInlineFormSet
    fields = ["start_date", "end_date", "reason", "note", "created_by"]
    readonly_fields = ["created_by"]

    def get_queryset(self, request):
        # Channel blocks are shown read-only by channels.admin.ChannelBlockInline (each sync replaces them).
        return super().get_queryset(request).filter(connection__isnull=True)


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
        blocks.delete_block(block_id=obj.pk)

    def delete_queryset(self, request, queryset):
        channel = queryset.filter(connection__isnull=False).count()
        if channel:
            messages.warning(request, f"{channel} channel block(s) were not deleted: they come from a platform's "
                                      "calendar and are replaced on every sync.")
        for block_id in queryset.filter(connection__isnull=True).values_list("pk", flat=True):
            blocks.delete_block(block_id=block_id)


# --- the property's page ------------------------------------------------------------------------------


@admin.display(description="Bookings", ordering="n_bookings")
def booking_count(obj):
    return obj.n_bookings


extend_property_admin(PropertyPageExtension(
    order=10,
    inlines=(AvailabilityBlockInline,),
    columns=(booking_count,),
    annotations={"n_bookings": Count("bookings", distinct=True)},
))
