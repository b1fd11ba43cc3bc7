"""Payments admin: view only. Payments, refunds and processed webhooks are written by ``payments.services``;
owners refund by cancelling a booking (the booking admin's cancel action refunds in full).

Owners and staff see the payments and refunds of the properties they manage (``TenantScopedAdmin``);
processed webhook ids only superusers (``backoffice.admin_site.SUPERUSER_ONLY_MODELS``). Payout methods
(``HostPaymentMethod``) belong to an owner: only owners (the "Owners" group) and superusers manage them,
each owner only their own. Manual payment decisions need ``payments.verify_manualpayment``.
"""

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from core.admin import ReadOnlyAdminMixin
from core.client_address import client_ip
from core.money import format_money
from core.tenancy import TenantScopedAdmin, TenantScopedInline
from properties.admin import PropertyPageExtension, extend_property_admin

from .models import (
    HostPaymentMethod,
    ManualPayment,
    ManualPaymentEvent,
    Payment,
    PaymentEvent,
    PaymentPlan,
    PaymentSchedule,
    Refund,
    SecurityDeposit,
    SecurityDepositEvent,
    WebhookEvent,
)


class PaymentEventInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = PaymentEvent
    extra = 0
    fields = ["created_at", "from_status", "to_status", "actor_type", "actor_user", "actor_label", "reason", "cause"]
    readonly_fields = fields
    can_delete = False


class RefundInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = Refund
    extra = 0
    fields = ["created_at", "amount", "currency", "status", "provider_ref", "reason", "actor_label"]
    readonly_fields = fields
    can_delete = False


@admin.register(Payment)
class PaymentAdmin(ReadOnlyAdminMixin, TenantScopedAdmin):
    list_display = ["booking", "attempt", "provider", "amount_display", "status", "amount_refunded", "disputed",
                    "flagged", "provider_ref", "created_at"]
    # "flagged": a succeeded PaymentIntent that did not match the row (services.intent_mismatch), for staff to check.
    list_filter = ["status", "provider", "disputed", "flagged", "created_at"]
    search_fields = ["booking__reference", "provider_ref"]
    list_select_related = ["booking"]
    readonly_fields = ["booking", "provider", "attempt", "amount", "currency", "status", "provider_ref",
                       "idempotency_key", "amount_refunded", "failure_code", "failure_message", "disputed",
                       "flagged", "created_at", "updated_at", "succeeded_at"]
    fields = readonly_fields
    inlines = [PaymentEventInline, RefundInline]

    @admin.display(description="Amount", ordering="amount")
    def amount_display(self, obj):
        return format_money(obj.amount, obj.currency)


@admin.register(Refund)
class RefundAdmin(ReadOnlyAdminMixin, TenantScopedAdmin):
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


# --- manual payments ------------------------------------------------------------------------------------


@admin.register(HostPaymentMethod)
class HostPaymentMethodAdmin(TenantScopedAdmin):
    """Owners see and edit only their own methods (the owner is always the user); superusers all.

    Scoped by owner, not by property (``scope_queryset``); staff have no permission on this model (no payout
    settings)."""

    list_display = ["display_name", "kind", "handle", "owner", "active"]
    list_filter = ["kind", "active"]
    search_fields = ["display_name", "handle"]

    def scope_queryset(self, queryset, request):
        return queryset if request.user.is_superuser else queryset.filter(owner=request.user)

    def get_fields(self, request, obj=None):
        fields = ["kind", "handle", "display_name", "instructions", "active"]
        return ["owner", *fields] if request.user.is_superuser else fields

    def save_model(self, request, obj, form, change):
        if not request.user.is_superuser:
            obj.owner = request.user
        super().save_model(request, obj, form, change)


class ManualPaymentEventInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = ManualPaymentEvent
    extra = 0
    fields = ["created_at", "from_status", "to_status", "actor_type", "actor_user", "actor_label", "ip", "reason",
              "cause"]
    readonly_fields = fields
    can_delete = False


def _queue_rows(request):
    from .selectors import verification_queue

    return list(verification_queue(request.user, timezone.now())
                .select_related("booking__property", "method", "booking__guest"))


@admin.register(ManualPayment)
class ManualPaymentAdmin(ReadOnlyAdminMixin, TenantScopedAdmin):
    """Read-only rows; staff decide in the verification queue (``queue/``), which calls ``payments.manual``.

    The queue needs the view permission; a decision needs ``payments.verify_manualpayment`` (Owners, Staff)."""

    list_display = ["code", "booking", "method", "amount_display", "status", "claimed_at", "deadline",
                    "verified_by"]
    list_filter = ["status", "method__kind"]
    search_fields = ["code", "booking__reference", "guest_reference"]
    list_select_related = ["booking", "method", "verified_by"]
    readonly_fields = ["booking", "method", "amount", "currency", "code", "status", "guest_reference", "proof_link",
                       "amount_received", "deadline", "created_at", "claimed_at", "reminded_at", "verified_at",
                       "verified_by", "verified_from_ip"]
    fields = readonly_fields
    inlines = [ManualPaymentEventInline]

    def has_verify_permission(self, request):
        return request.user.has_perm("payments.verify_manualpayment")

    @admin.display(description="Amount", ordering="amount")
    def amount_display(self, obj):
        return format_money(obj.amount, obj.currency)

    @admin.display(description="Proof")
    def proof_link(self, obj):
        from django.utils.html import format_html

        if not obj.proof:
            return "—"
        return format_html('<a href="{}" target="_blank" rel="noopener">View proof</a>',
                           reverse("payments:manual-proof", args=[obj.code]))

    def get_urls(self):
        return [
            path("queue/", self.admin_site.admin_view(self.queue_view), name="payments_manualpayment_queue"),
            path("<int:pk>/verify/", self.admin_site.admin_view(require_POST(self.verify_view)),
                 name="payments_manualpayment_verify"),
            *super().get_urls(),
        ]

    def queue_view(self, request):
        if not self.has_view_permission(request):
            raise PermissionDenied
        rows = _queue_rows(request)
        context = {**self.admin_site.each_context(request), "title": "Manual payments to verify", "rows": rows,
                   "opts": self.model._meta, "now": timezone.now(), "can_verify": self.has_verify_permission(request)}
        return TemplateResponse(request, "admin/payments/manualpayment/queue.html", context)

    def verify_view(self, request, pk):
        from .manual import ManualPaymentError, parse_amount, verify

        if not (self.has_view_permission(request) and self.has_verify_permission(request)):
            raise PermissionDenied
        mp = self.get_queryset(request).filter(pk=pk).first()
        if mp is None:
            raise Http404("No such manual payment.")
        action = request.POST.get("action", "")
        amount = parse_amount(request.POST.get("amount_received", ""))
        try:
            mp = verify(mp_id=mp.pk, action=action, user=request.user, note=request.POST.get("note", ""),
                        amount_received=amount, ip=client_ip(request) or None)
        except ManualPaymentError as exc:
            self.message_user(request, f"{mp.code}: {exc.detail}", messages.ERROR)
        else:
            level = messages.WARNING if mp.status == "flagged" else messages.SUCCESS
            self.message_user(request, f"{mp.code}: {mp.get_status_display()}.", level)
        return HttpResponseRedirect(reverse("admin:payments_manualpayment_queue"))


# --- payment schedules and security deposits (issue 15 §2) ------------------------------------------------


class PaymentScheduleInline(TenantScopedInline, admin.StackedInline):
    """The property's payment schedule and security deposit (plain catalogue settings: the model's ``clean``
    checks them; bookings keep the schedule they were sold with, ``payments.schedule``)."""

    model = PaymentSchedule
    extra = 0
    max_num = 1
    can_delete = True
    verbose_name = verbose_name_plural = "Payment schedule and security deposit"
    fields = ["mode", ("deposit_percent", "deposit_fixed"), "balance_days_before", "deadline_days_before",
              "auto_cancel", "security_deposit", "security_deposit_days_before", "security_deposit_release_days"]


extend_property_admin(PropertyPageExtension(order=30, inlines=(PaymentScheduleInline,)))


class SecurityDepositEventInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = SecurityDepositEvent
    extra = 0
    fields = ["created_at", "from_status", "to_status", "actor_type", "actor_label", "reason", "cause"]


@admin.register(SecurityDeposit)
class SecurityDepositAdmin(ReadOnlyAdminMixin, TenantScopedAdmin):
    """Security deposits, read-only (placed, released and claimed by ``payments.security_deposits``; the booking
    page has the owner's buttons)."""

    list_display = ["booking", "provider", "status", "amount", "captured_amount", "currency", "release_on",
                    "expires_at"]
    list_filter = ["status", "provider"]
    search_fields = ["booking__reference", "provider_ref"]
    inlines = [SecurityDepositEventInline]


@admin.register(PaymentPlan)
class PaymentPlanAdmin(ReadOnlyAdminMixin, TenantScopedAdmin):
    """Each booking's schedule as sold and its balance collection (flagged = unpaid at the owner's deadline)."""

    list_display = ["booking", "deposit", "balance_due_on", "deadline_on", "auto_cancel", "balance_charged_at",
                    "balance_failed_at", "flagged_at"]
    list_filter = [("flagged_at", admin.EmptyFieldListFilter), "auto_cancel"]
    search_fields = ["booking__reference"]
