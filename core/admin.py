"""The admin of the core tables (superusers only, backoffice.admin_site): the outbox, read-only, with "Deliver now"."""

from django.contrib import admin, messages

from . import outbox
from .models import OutboxDelivery, OutboxEvent


class ReadOnlyAdminMixin:
    """View only: no add, change or delete, in any admin (the rows are written by services)."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class OutboxDeliveryInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = OutboxDelivery
    extra = 0
    fields = readonly_fields = ("consumer", "delivered_at")


@admin.register(OutboxEvent)
class OutboxEventAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["created_at", "topic", "aggregate_type", "aggregate_id", "delivered_at", "attempts", "error"]
    list_filter = ["topic", "aggregate_type", ("delivered_at", admin.EmptyFieldListFilter)]
    search_fields = ["id", "aggregate_id", "topic"]
    date_hierarchy = "created_at"
    actions = ["deliver_now"]
    inlines = [OutboxDeliveryInline]
    readonly_fields = ["id", "topic", "aggregate_type", "aggregate_id", "payload", "created_at", "delivered_at",
                       "attempts", "last_error"]

    @admin.display(description="Last error")
    def error(self, obj):
        return (obj.last_error[:80] + "…") if len(obj.last_error) > 80 else obj.last_error

    def has_deliver_permission(self, request):
        return request.user.is_superuser

    @admin.action(description="Deliver now", permissions=["deliver"])
    def deliver_now(self, request, queryset):
        ids = list(queryset.values_list("pk", flat=True))
        complete = sum(1 for event_id in ids if outbox.deliver(event_id))
        level = messages.SUCCESS if complete == len(ids) else messages.WARNING
        self.message_user(request, f"{complete} of {len(ids)} event(s) fully delivered.", level)


@admin.register(OutboxDelivery)
class OutboxDeliveryAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["delivered_at", "consumer", "event", "topic"]
    list_filter = ["consumer"]
    search_fields = ["consumer", "event__id"]
    list_select_related = ["event"]

    @admin.display(description="Topic", ordering="event__topic")
    def topic(self, obj):
        return obj.event.topic
