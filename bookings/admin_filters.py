"""List filters of the booking back office."""

from __future__ import annotations

from datetime import date

from django.contrib import admin
from django.db.models.functions import TruncMonth


def _month_start(value: str) -> date | None:
    """``"2025-07"`` → 1 July 2025; anything else → None (a tampered parameter filters nothing)."""
    try:
        year, month = (int(part) for part in value.split("-"))
        return date(year, month, 1)
    except (ValueError, TypeError):
        return None


def _next_month(day: date) -> date:
    return date(day.year + (day.month == 12), day.month % 12 + 1, 1)


class ArrivalMonthFilter(admin.SimpleListFilter):
    """The months that have arrivals among the bookings the user can see, newest first.

    The choices come from the admin's scoped queryset, so an owner never sees the
    months of another owner's bookings; the filter is a date range on ``check_in``
    (served by the ``(property, check_in)`` index), not a month extraction."""

    title = "arrival month"
    parameter_name = "arrival"

    def lookups(self, request, model_admin):
        months = (model_admin.get_queryset(request).order_by().annotate(month=TruncMonth("check_in"))
                  .values_list("month", flat=True).distinct().order_by("-month"))
        return [(f"{m:%Y-%m}", f"{m:%B %Y}") for m in months]

    def queryset(self, request, queryset):
        start = _month_start(self.value() or "")
        if start is None:
            return queryset
        return queryset.filter(check_in__gte=start, check_in__lt=_next_month(start))


class GroupFilter(admin.SimpleListFilter):
    """Group bookings ("book all"): in a group or not; ``?group=<id>`` (the link on a booking's page) lists one
    group's bookings, among those the user can see (the admin's queryset is scoped before any filter)."""

    title = "group booking"
    parameter_name = "group"

    def lookups(self, request, model_admin):
        return [("yes", "In a group"), ("no", "Not in a group")]

    def queryset(self, request, queryset):
        value = self.value() or ""
        if value == "yes":
            return queryset.filter(group__isnull=False)
        if value == "no":
            return queryset.filter(group__isnull=True)
        if value.isdigit():
            return queryset.filter(group_id=int(value))
        return queryset
