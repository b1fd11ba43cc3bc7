"""Admin for bookings, their audit trail, the outbox and idempotency keys.

No admin form writes booking rows (DESIGN rule 1): bookings are view-only here,
and the only changes are the actions, which call ``bookings.services`` with the
signed-in user as the actor and report domain errors as messages. Audit rows,
outbox rows and idempotency keys are read-only.
"""

from __future__ import annotations

from django.contrib import admin, messages
from django.utils.html import format_html, format_html_join

from properties.models import Property
from properties.money import format_money

from . import outbox, services
from .errors import BookingError
from .models import Booking, BookingEvent, GuestMessage, IdempotencyKey, OutboxDelivery, OutboxEvent, SentEmail
from .state_machine import Actor


class ReadOnlyAdminMixin:
    """View only: no add, change or delete, in any admin (the rows are written by services)."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


def _managed_property_ids(request):
    return Property.objects.managed_by(request.user).values("pk")


class BookingEventInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = BookingEvent
    extra = 0
    fields = ["created_at", "from_status", "to_status", "actor_type", "actor_user", "actor_label", "reason"]
    readonly_fields = fields
    can_delete = False

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("actor_user")


class BookingChildInline(ReadOnlyAdminMixin, admin.TabularInline):
    """Rows shown on a booking's page to whoever may view that booking (the booking queryset is scoped)."""

    def has_view_permission(self, request, obj=None):
        return request.user.has_perm("bookings.view_booking")


class GuestMessageInline(BookingChildInline):
    """Messages the guest sent from the guest portal (the owner answers by email)."""

    model = GuestMessage
    extra = 0
    fields = ["created_at", "sender", "body"]
    readonly_fields = fields
    can_delete = False
    verbose_name = "message from the guest"
    verbose_name_plural = "messages from the guest"


class SentEmailInline(BookingChildInline):
    model = SentEmail
    extra = 0
    fields = ["created_at", "kind", "to", "sent_at", "attempts", "last_error"]
    readonly_fields = fields
    can_delete = False
    verbose_name_plural = "emails"


@admin.register(Booking)
class BookingAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["reference", "property", "guest", "source", "status", "payment_status", "check_in", "check_out",
                    "nights", "guest_count", "total_display", "expires_at", "created_at"]
    list_filter = ["status", "source", "payment_status", "property__city", "check_in", "created_at"]
    search_fields = ["reference", "external_id", "guest__name", "guest__email", "property__name"]
    list_select_related = ["property", "guest"]
    date_hierarchy = "check_in"
    actions = ["confirm_selected", "cancel_selected", "revoke_guest_links"]
    inlines = [GuestMessageInline, SentEmailInline, BookingEventInline]
    fieldsets = [
        (None, {"fields": ["reference", "property", "guest", "source", "external_id", "status", "payment_status",
                           "expires_at", "rules_overridden"]}),
        ("Stay", {"fields": ["check_in", "check_out", "adults", "children", "special_requests"]}),
        ("Money", {"fields": ["currency", "subtotal", "discounts", "fees", "taxes", "total", "amount_paid",
                              "amount_refunded", "quote_lines", "cancellation_policy"]}),
        ("Milestones", {"fields": ["created_at", "held_at", "reserved_at", "confirmed_at", "checked_in_at",
                                   "checked_out_at", "cancelled_at", "expired_at", "released_at",
                                   "cancellation_reason"]}),
    ]
    readonly_fields = [f for _name, opts in fieldsets for row in opts["fields"] for f in
                       (row if isinstance(row, tuple) else (row,))]

    def get_queryset(self, request):
        qs = super().get_queryset(request)
        if request.user.is_superuser:
            return qs
        return qs.filter(property__in=_managed_property_ids(request))

    @admin.display(description="Guests")
    def guest_count(self, obj):
        return obj.adults + obj.children

    @admin.display(description="Total", ordering="total")
    def total_display(self, obj):
        return format_money(obj.total, obj.currency)

    @admin.display(description="Quote")
    def quote_lines(self, obj):
        nights = (obj.quote or {}).get("nights") or []
        if not nights:
            return "—"
        rows = format_html_join(
            "", "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            (
                (n.get("date", ""), n.get("base", ""),
                 ", ".join(f"{a.get('name')} {a.get('amount')}" for a in n.get("adjustments") or []) or "—",
                 n.get("price", ""))
                for n in nights if isinstance(n, dict)
            ),
        )
        return format_html(
            "<table><tr><th>Night</th><th>Base</th><th>Adjustments</th><th>Price</th></tr>{}</table>", rows
        )

    # --- actions: through the services, never a direct write ----------------------------------------

    def has_manage_permission(self, request):
        """Owners and staff manage their own bookings' status; superusers all of them."""
        return request.user.is_superuser or Property.objects.managed_by(request.user).exists()

    def _run(self, request, queryset, verb, call):
        done, failed = [], []
        for pk, reference in queryset.values_list("pk", "reference"):
            try:
                call(pk)
                done.append(reference)
            except BookingError as exc:
                failed.append(f"{reference}: {exc.detail}")
        if done:
            messages.success(request, f"{verb} {len(done)} booking(s): {', '.join(done)}.")
        for message in failed:
            messages.error(request, f"Not {verb.lower()}: {message}")

    @admin.action(description="Confirm selected bookings", permissions=["manage"])
    def confirm_selected(self, request, queryset):
        actor = Actor.for_user(request.user)
        self._run(request, queryset, "Confirmed",
                  lambda pk: services.confirm(booking_id=pk, actor=actor, reason="Confirmed in the admin."))

    @admin.action(description="Cancel selected bookings (full refund of what was paid)", permissions=["manage"])
    def cancel_selected(self, request, queryset):
        from payments.services import cancel_with_refund  # payments builds on bookings

        actor = Actor.for_user(request.user)
        reason = f"Cancelled in the admin by {request.user.email}."
        self._run(request, queryset, "Cancelled",
                  lambda pk: cancel_with_refund(booking_id=pk, actor=actor, reason=reason, by_owner=True))


    @admin.action(description="Revoke the guest's magic links (the next email carries a new one)",
                  permissions=["manage"])
    def revoke_guest_links(self, request, queryset):
        actor = Actor.for_user(request.user)
        self._run(request, queryset, "Revoked the guest links of",
                  lambda pk: services.revoke_guest_links(booking_id=pk, actor=actor,
                                                         reason=f"Guest links revoked by {request.user.email}."))


@admin.register(BookingEvent)
class BookingEventAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["created_at", "booking", "from_status", "to_status", "actor_type", "actor_display", "reason"]
    list_filter = ["to_status", "actor_type", "created_at"]
    search_fields = ["booking__reference", "actor_label", "actor_user__email", "reason"]
    list_select_related = ["booking", "actor_user"]
    date_hierarchy = "created_at"

    def get_queryset(self, request):
        qs = super().get_queryset(request)
        if request.user.is_superuser:
            return qs
        return qs.filter(booking__property__in=_managed_property_ids(request))

    @admin.display(description="Actor")
    def actor_display(self, obj):
        return obj.actor_user or obj.actor_label or obj.get_actor_type_display()


class OutboxDeliveryInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = OutboxDelivery
    extra = 0
    fields = readonly_fields = ["consumer", "delivered_at"]


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


@admin.register(IdempotencyKey)
class IdempotencyKeyAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["created_at", "scope", "key", "response_status"]
    list_filter = ["response_status"]
    search_fields = ["scope", "key"]
    date_hierarchy = "created_at"
    readonly_fields = ["scope", "key", "request_hash", "response_status", "response_body", "created_at"]
