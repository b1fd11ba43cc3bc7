"""Admin of the bookings app's own rows: the audit trail, idempotency keys, and the inlines of a booking's page.

The booking's page itself (``Booking``: list, detail, buttons, cancelling with a
refund, owner bookings) is the back office's, registered by ``backoffice.admin``:
it shows and changes payments too, which this app may not import. Audit rows and
idempotency keys are read-only.
"""

from __future__ import annotations

from django.contrib import admin

from core.admin import ReadOnlyAdminMixin
from core.tenancy import TenantScopedAdmin

from .models import BookingEvent, GuestMessage, IdempotencyKey, SentEmail


class BookingChildInline(ReadOnlyAdminMixin, admin.TabularInline):
    """Rows shown on a booking's page to whoever may view that booking (the booking queryset is scoped)."""

    extra = 0
    can_delete = False

    def has_view_permission(self, request, obj=None):
        return request.user.has_perm("bookings.view_booking")


class BookingEventInline(BookingChildInline):
    """The audit trail, oldest first: who changed what, when and why."""

    model = BookingEvent
    fields = ["created_at", "from_status", "to_status", "actor_type", "actor_user", "actor_label", "reason", "cause"]
    readonly_fields = fields
    verbose_name = "audit trail entry"
    verbose_name_plural = "audit trail"

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("actor_user")


class GuestMessageInline(BookingChildInline):
    """Messages the guest sent from the guest portal (the owner answers by email)."""

    model = GuestMessage
    fields = ["created_at", "sender", "body"]
    readonly_fields = fields
    verbose_name = "message from the guest"
    verbose_name_plural = "messages from the guest"


class SentEmailInline(BookingChildInline):
    """The booking's emails; ``unknown`` ones (a worker died mid-send: maybe delivered, never sent again
    automatically) and ``failed`` ones are for staff to check with the recipient (``bookings.notifications``)."""

    model = SentEmail
    fields = ["created_at", "kind", "to", "status", "sent_at", "attempts", "last_error"]
    readonly_fields = fields
    verbose_name = "email sent"
    verbose_name_plural = "emails sent"


@admin.register(BookingEvent)
class BookingEventAdmin(ReadOnlyAdminMixin, TenantScopedAdmin):
    """The audit trail of the user's bookings (scoped through ``booking__property``)."""

    list_display = ["created_at", "booking", "from_status", "to_status", "actor_type", "actor_display", "reason"]
    list_filter = ["to_status", "actor_type", "created_at"]
    search_fields = ["booking__reference", "actor_label", "actor_user__email", "reason"]
    list_select_related = ["booking", "actor_user"]
    date_hierarchy = "created_at"

    @admin.display(description="Actor")
    def actor_display(self, obj):
        return obj.actor_user or obj.actor_label or obj.get_actor_type_display()


@admin.register(IdempotencyKey)
class IdempotencyKeyAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["created_at", "scope", "key", "response_status"]
    list_filter = ["response_status"]
    search_fields = ["scope", "key"]
    date_hierarchy = "created_at"
    readonly_fields = ["scope", "key", "request_hash", "response_status", "response_body", "created_at"]


from . import block_admin, turnover_admin  # noqa: E402, F401  (owner blocks, the property page, turnovers)
