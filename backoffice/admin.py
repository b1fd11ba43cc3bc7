"""The booking's page in the back office: ``Booking``'s admin, registered here rather than in ``bookings.admin``.

Its pages and buttons cross domains (a cancellation refunds through ``payments.services``, the detail page
lists payments and manual payments), so they live in the layer above both; the rows that are the bookings app's
alone (audit trail, messages, emails, idempotency keys) keep their admin and inlines in ``bookings.admin``.
"""

from __future__ import annotations

from django.contrib import admin, messages
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.http import urlencode

from bookings import admin_filters, services
from bookings.admin import BookingEventInline, SentEmailInline
from bookings.models import CHECKIN_BOOKING, MANAGE_BOOKING, Booking
from core.actor import Actor
from core.admin import ReadOnlyAdminMixin
from core.errors import DomainError
from core.money import format_money
from core.tenancy import TenantScopedAdmin
from properties.display import local_datetime

from . import admin_views, money_views
from . import quote_preview as _quote_preview  # noqa: F401  (adds itself to the property's page)


@admin.register(Booking)
class BookingAdmin(ReadOnlyAdminMixin, TenantScopedAdmin):
    """The owner's bookings: list, detail and the actions, all through the services.

    View-only as a form (no admin form writes a booking row, docs/architecture.md, Rule 1). The
    changes are buttons on the detail page and changelist actions, each needing
    its permission (``bookings.manage_booking``: confirm, cancel with a refund,
    owner bookings, revoke guest links; ``bookings.checkin_booking``: check in,
    check out, resend the confirmation): not offered without it, 403 when forged.
    Scoped by :class:`~core.tenancy.TenantScopedAdmin` (its path in ``TENANT_PATHS``: ``property``).
    See ``backoffice.admin_views`` for the pages and buttons.
    """

    change_form_template = "admin/bookings/booking/change_form.html"
    change_list_template = "admin/bookings/booking/change_list.html"
    list_display = ["reference", "property", "guest_name", "source", "status", "payment_status", "check_in",
                    "check_out", "nights", "guest_count", "total_display", "paid_display"]
    list_filter = ["status", "payment_status", "source", "referral", "property", admin_filters.ArrivalMonthFilter,
                   admin_filters.GroupFilter]
    search_fields = ["reference", "external_id", "guest__name", "guest__email", "group__reference"]
    search_help_text = "Reference (or channel id), group reference, guest name or guest email."
    list_select_related = ["property", "guest"]
    list_per_page = 50
    # Latest arrivals first (creation order says little: channel imports and owner bookings arrive late).
    ordering = ["-check_in", "-pk"]
    actions = ["confirm_selected", "check_in_selected", "check_out_selected", "cancel_selected",
               "revoke_guest_links"]
    inlines = [SentEmailInline, BookingEventInline]
    fieldsets = [
        (None, {"fields": ["reference", "group_display", "property", "guest", "source", "referral", "external_id",
                           "status", "payment_status", "expires_display", "rules_overridden", "overbooking",
                           "messages_link"]}),
        ("Stay", {"fields": ["check_in", "check_out", "nights", "adults", "children", "special_requests"]}),
        ("Money", {"fields": ["total_display", "platform_total", "paid_display", "refunded_display",
                              "balance_display"]}),
        ("Milestones", {"fields": ["created_at", "held_at", "reserved_at", "confirmed_at", "checked_in_at",
                                   "checked_out_at", "cancelled_at", "expired_at", "released_at",
                                   "cancellation_reason"]}),
    ]
    readonly_fields = [f for _name, opts in fieldsets for row in opts["fields"] for f in
                       (row if isinstance(row, tuple) else (row,))]
    csv_fields = ["reference", "property", "guest", "source", "status", "payment_status", "check_in", "check_out",
                  "adults", "children", "currency", "total", "amount_paid", "amount_refunded", "created_at"]

    @admin.display(description="Guest", ordering="guest__name")
    def guest_name(self, obj):
        return obj.guest.name if obj.guest else "—"

    @admin.display(description="Group booking")
    def group_display(self, obj):
        """The group it was booked with ("book all"): its other bookings are listed below the fields (those this
        user may see) and the list filtered on the group shows them all."""
        if obj.group_id is None:
            return "—"
        url = reverse("admin:bookings_booking_changelist") + "?" + urlencode({admin_filters.GroupFilter.parameter_name:
                                                                              obj.group_id})
        return format_html('<a href="{}">{}</a> (booked by {})', url, obj.group.reference, obj.group.lead_guest)

    @admin.display(description="Overbooking")
    def overbooking(self, obj):
        """A channel stay recorded on nights another stay occupies (``Booking.overbooking_lane``)."""
        if not obj.is_overbooked:
            return "—"
        url = reverse("admin:channel_sync_syncconflict_changelist") + "?" + urlencode({"q": obj.reference})
        return format_html('<strong>Yes</strong>: another stay is on these nights too. '
                           'Its platform sold it, so its nights stay closed everywhere. <a href="{}">See the '
                           'conflict to resolve it</a>.', url)

    @admin.display(description="Messages")
    def messages_link(self, obj):
        """The booking's conversation with the guest (the inbox's thread page, messaging)."""
        if obj.pk is None:
            return "—"
        return format_html('<a href="{}" id="booking-messages-link">Open the conversation with the guest</a>',
                           reverse("admin:messaging_thread_open", args=[obj.pk]))

    @admin.display(description="Nights")
    def nights(self, obj):
        return obj.nights

    @admin.display(description="Guests")
    def guest_count(self, obj):
        return obj.adults + obj.children

    @admin.display(description="Total", ordering="total")
    def total_display(self, obj):
        return format_money(obj.total, obj.currency)

    @admin.display(description="Paid", ordering="amount_paid")
    def paid_display(self, obj):
        return format_money(obj.amount_paid, obj.currency)

    @admin.display(description="Refunded")
    def refunded_display(self, obj):
        return format_money(obj.amount_refunded, obj.currency)

    @admin.display(description="Balance due")
    def balance_display(self, obj):
        return format_money(obj.balance_due, obj.currency)

    # --- pages ---------------------------------------------------------------------------------------------

    def get_urls(self):
        from django.urls import path
        from django.views.decorators.http import require_POST

        wrap = self.admin_site.admin_view
        return [
            path("new/", wrap(self.owner_booking_view), name="bookings_booking_owner_add"),
            path("<int:object_id>/cancel/", wrap(self.cancel_view), name="bookings_booking_cancel"),
            path("<int:object_id>/change-stay/", wrap(self.change_stay_view), name="bookings_booking_change_stay"),
            path("<int:object_id>/do/<slug:name>/", wrap(require_POST(self.object_action_view)),
                 name="bookings_booking_do"),
            path("<int:object_id>/record-payment/", wrap(self.money_view(money_views.record_payment_view)),
                 name="bookings_booking_record_payment"),
            path("<int:object_id>/balance-request/", wrap(self.money_view(money_views.balance_request_view)),
                 name="bookings_booking_balance_request"),
            path("<int:object_id>/deposit/<int:deposit_id>/release/",
                 wrap(self.money_view(money_views.release_deposit_view)), name="bookings_booking_deposit_release"),
            path("<int:object_id>/deposit/<int:deposit_id>/claim/",
                 wrap(self.money_view(money_views.claim_deposit_view)), name="bookings_booking_deposit_claim"),
            *super().get_urls(),
        ]

    def money_view(self, view):
        return lambda request, *args, **kwargs: view(self, request, *args, **kwargs)

    def owner_booking_view(self, request):
        return admin_views.add_owner_booking(self, request)

    def cancel_view(self, request, object_id):
        return admin_views.cancel_booking(self, request, object_id)

    def change_stay_view(self, request, object_id):
        return admin_views.change_stay(self, request, object_id)

    def object_action_view(self, request, object_id, name):
        return admin_views.run_object_action(self, request, object_id, name)

    @admin.display(description="Expires")
    def expires_display(self, obj):
        """The hold's deadline in the property's time zone, the zone named (properties.display.local_datetime)."""
        return local_datetime(obj.expires_at, obj.property) if obj.expires_at else "—"

    def change_view(self, request, object_id, form_url="", extra_context=None):
        booking = self.get_object(request, object_id)
        if booking is None:
            return super().change_view(request, object_id, form_url, extra_context)
        extra_context = {**(extra_context or {}), **admin_views.booking_detail(booking, request.user),
                         **money_views.money_detail(booking, request.user),
                         "property_zone": booking.property.timezone}
        if booking.group_id is not None:  # the group's other bookings this user may see (tenant-scoped)
            extra_context["group_others"] = list(self.get_queryset(request).filter(group_id=booking.group_id)
                                                 .exclude(pk=booking.pk).order_by("pk"))
        # Every time on the page (milestones, payments, messages, the audit trail) in the property's time zone,
        # named above the fields: the owner reads deadlines as the guest does. Rendered inside the override.
        with timezone.override(booking.property.tz):
            response = super().change_view(request, object_id, form_url, extra_context)
            if hasattr(response, "render"):
                response.render()
        return response

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("property", "guest", "group__lead_guest")

    def changelist_view(self, request, extra_context=None):
        from django.core.exceptions import PermissionDenied

        # An action of this admin the user may not run is not offered; posting it anyway is refused outright.
        action = request.POST.get("action") if request.method == "POST" else None
        if action in self.actions and action not in self.get_actions(request):
            raise PermissionDenied
        extra_context = {**(extra_context or {}), "can_add_owner_booking": self.has_manage_permission(request)}
        return super().changelist_view(request, extra_context)

    # --- actions: through the services, never a direct write ----------------------------------------

    def has_manage_permission(self, request):
        """Confirm, cancel and refund, owner bookings, guest links: Owners (and superusers)."""
        return request.user.has_perm(MANAGE_BOOKING)

    def has_checkin_permission(self, request):
        """Check in, check out, resend the confirmation: Owners and Staff."""
        return request.user.has_perm(CHECKIN_BOOKING)

    def _run(self, request, queryset, verb, call):
        done, failed = [], []
        for pk, reference in queryset.values_list("pk", "reference"):
            try:
                call(pk)
                done.append(reference)
            except DomainError as exc:
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

    @admin.action(description="Check in selected bookings", permissions=["checkin"])
    def check_in_selected(self, request, queryset):
        actor = Actor.for_user(request.user)
        self._run(request, queryset, "Checked in", lambda pk: services.check_in(booking_id=pk, actor=actor))

    @admin.action(description="Check out selected bookings", permissions=["checkin"])
    def check_out_selected(self, request, queryset):
        actor = Actor.for_user(request.user)
        self._run(request, queryset, "Checked out", lambda pk: services.check_out(booking_id=pk, actor=actor))

    @admin.action(description="Cancel the selected booking (choose the refund)…", permissions=["manage"])
    def cancel_selected(self, request, queryset):
        """Each cancellation has its own refund and reason: this opens the cancel page of one booking."""
        from django.http import HttpResponseRedirect
        from django.urls import reverse

        ids = list(queryset.values_list("pk", flat=True)[:2])
        if len(ids) != 1:
            messages.warning(request, "Cancel one booking at a time: each has its own refund and reason.")
            return None
        return HttpResponseRedirect(reverse("admin:bookings_booking_cancel", args=[ids[0]]))

    @admin.action(description="Revoke the guest's magic links (the next email carries a new one)",
                  permissions=["manage"])
    def revoke_guest_links(self, request, queryset):
        actor = Actor.for_user(request.user)
        self._run(request, queryset, "Revoked the guest links of",
                  lambda pk: services.revoke_guest_links(booking_id=pk, actor=actor,
                                                         reason=f"Guest links revoked by {request.user.email}."))
