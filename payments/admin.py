"""Payments admin: view only. Payments, refunds and processed webhooks are written by ``payments.services``;
owners refund by cancelling a booking (the booking admin's cancel action refunds in full).

Owners and staff see the payments and refunds of the properties they manage; processed
webhook ids only superusers.
"""

from django.contrib import admin

from bookings.admin import ReadOnlyAdminMixin, _managed_property_ids
from properties.money import format_money

from .models import Payment, PaymentEvent, Refund, WebhookEvent


class PaymentEventInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = PaymentEvent
    extra = 0
    fields = ["created_at", "from_status", "to_status", "actor_label", "reason"]
    readonly_fields = fields
    can_delete = False


class RefundInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = Refund
    extra = 0
    fields = ["created_at", "amount", "currency", "status", "provider_ref", "reason", "actor_label"]
    readonly_fields = fields
    can_delete = False


class ScopedToManagedProperties:
    def get_queryset(self, request):
        qs = super().get_queryset(request)
        if request.user.is_superuser:
            return qs
        return qs.filter(**{f"{self.booking_path}__property__in": _managed_property_ids(request)})


@admin.register(Payment)
class PaymentAdmin(ScopedToManagedProperties, ReadOnlyAdminMixin, admin.ModelAdmin):
    booking_path = "booking"
    list_display = ["booking", "attempt", "provider", "amount_display", "status", "amount_refunded", "disputed",
                    "provider_ref", "created_at"]
    list_filter = ["status", "provider", "disputed", "created_at"]
    search_fields = ["booking__reference", "provider_ref"]
    list_select_related = ["booking"]
    readonly_fields = ["booking", "provider", "attempt", "amount", "currency", "status", "provider_ref",
                       "idempotency_key", "amount_refunded", "failure_code", "failure_message", "disputed",
                       "created_at", "updated_at", "succeeded_at"]
    fields = readonly_fields
    inlines = [PaymentEventInline, RefundInline]

    @admin.display(description="Amount", ordering="amount")
    def amount_display(self, obj):
        return format_money(obj.amount, obj.currency)


@admin.register(Refund)
class RefundAdmin(ScopedToManagedProperties, ReadOnlyAdminMixin, admin.ModelAdmin):
    booking_path = "payment__booking"
    list_display = ["payment", "amount", "currency", "status", "provider_ref", "reason", "actor_label", "created_at"]
    list_filter = ["status", "created_at"]
    search_fields = ["payment__booking__reference", "provider_ref"]
    list_select_related = ["payment__booking"]
    readonly_fields = ["payment", "amount", "currency", "status", "provider_ref", "reason", "created_by",
                       "actor_label", "created_at", "updated_at"]
    fields = readonly_fields


@admin.register(WebhookEvent)
class WebhookEventAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["event_id", "type", "provider", "outcome", "received_at"]
    list_filter = ["provider", "type"]
    search_fields = ["event_id"]
    readonly_fields = ["provider", "event_id", "type", "outcome", "received_at"]
    fields = readonly_fields

    def has_view_permission(self, request, obj=None):
        return request.user.is_active and request.user.is_superuser

    def has_module_permission(self, request):
        return request.user.is_active and request.user.is_superuser
