"""The staff list of turnover tasks (admin changelist, imported by ``bookings.admin``).

Rows are scoped to the user's properties (``Property.objects.managed_by``), the
default view is this week's tasks (today … today + 6, plus overdue open ones),
and "Mark done" goes through :func:`bookings.turnover.mark_done`. Tasks are
created, moved and removed only by the ``turnover`` outbox consumer: no add or
delete here, and only the notes are editable.
"""

from __future__ import annotations

from datetime import timedelta

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import Q
from django.utils import timezone

from core.tenancy import TenantScopedAdmin

from . import turnover
from .models import TurnoverTask


class DueFilter(admin.SimpleListFilter):
    title = "due"
    parameter_name = "due"
    DEFAULT = "week"

    def lookups(self, request, model_admin):
        return [("today", "Today"), ("week", "This week"), ("overdue", "Overdue"), ("all", "All")]

    def value(self):
        return super().value() or self.DEFAULT

    def choices(self, changelist):
        for lookup, title in self.lookup_choices:
            yield {
                "selected": self.value() == lookup,
                "query_string": changelist.get_query_string({self.parameter_name: lookup}),
                "display": title,
            }

    def queryset(self, request, queryset):
        today = timezone.localdate()
        overdue = Q(status=TurnoverTask.Status.OPEN, due_date__lt=today)
        match self.value():
            case "today":
                return queryset.filter(Q(due_date=today) | overdue)
            case "week":
                return queryset.filter(Q(due_date__gte=today, due_date__lte=today + timedelta(days=6)) | overdue)
            case "overdue":
                return queryset.filter(overdue)
        return queryset


class MineFilter(admin.SimpleListFilter):
    title = "assigned to"
    parameter_name = "mine"

    def lookups(self, request, model_admin):
        return [("1", "Me")]

    def queryset(self, request, queryset):
        if self.value() == "1":
            return queryset.filter(assignee=request.user)
        return queryset


@admin.register(TurnoverTask)
class TurnoverTaskAdmin(TenantScopedAdmin):
    list_display = ["due_date", "window_end", "property", "booking_reference", "assignee", "status", "done_at",
                    "done_by"]
    list_filter = [DueFilter, "status", MineFilter]
    list_select_related = ["property", "booking", "assignee", "done_by"]
    search_fields = ["booking__reference", "property__name"]
    ordering = ["due_date", "pk"]
    actions = ["mark_done"]
    fields = ["property", "booking", "due_date", "window_end", "assignee", "status", "done_at", "done_by", "notes",
              "created_at", "updated_at"]
    readonly_fields = [f for f in fields if f != "notes"]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description="Booking", ordering="booking__reference")
    def booking_reference(self, obj):
        return obj.booking.reference

    @admin.action(description="Mark selected tasks done", permissions=["change"])
    def mark_done(self, request, queryset):
        done = 0
        for task_id in queryset.values_list("pk", flat=True):  # already scoped by get_queryset
            try:
                turnover.mark_done(task_id=task_id, user=request.user)
            except PermissionDenied:
                continue
            done += 1
        self.message_user(request, f"{done} turnover task(s) marked done.", messages.SUCCESS)
