"""Tenant scoping for the admin (DESIGN invariant 8): one base class for every admin of our models.

An owner sees and changes only their properties and what hangs off them; a
staff member only the properties they are assigned to; a superuser everything.
:class:`TenantScopedAdmin` applies that to everything the admin shows or accepts:

* ``get_queryset`` — the changelist, the change/delete/history views (a foreign
  object's URL answers 404 through Django's own "does not exist" redirect),
  search, ``date_hierarchy``, value list filters and every action, which all
  start from it;
* foreign-key and many-to-many choices in forms and inlines (a tampered POST
  naming another owner's row fails validation: "Select a valid choice");
* relational list filters (only related rows that appear in the scoped list);
* autocomplete: Django asks the *related* model's admin for its queryset, so
  scoping that admin scopes its autocomplete;
* CSV export (the ``export_csv`` action) of the scoped, selected rows.

``tenant_path`` is the lookup from the model to its ``Property`` (``"pk"`` for
the property itself, ``"property"``, ``"booking__property"`` …).
"""

from __future__ import annotations

import csv

from django.contrib import admin
from django.contrib.admin.filters import RelatedOnlyFieldListFilter
from django.db import models
from django.http import HttpResponse
from django.utils import timezone

from .models import Property


def managed_properties(user):
    """The properties ``user`` may see in the back office (all for a superuser)."""
    return Property.objects.managed_by(user)


def scope_to_user(queryset, user, tenant_path: str):
    """``queryset`` limited to the rows hanging off properties ``user`` manages."""
    if user.is_superuser:
        return queryset
    return queryset.filter(**{f"{tenant_path}__in": managed_properties(user).values("pk")})


def scoped_related_queryset(model, user):
    """Choices of a related ``model`` for ``user``, or None when the model is not tenant-owned."""
    if user.is_superuser:
        return None
    if model is Property:
        return managed_properties(user)
    path = TENANT_PATHS.get(model._meta.label_lower)
    if path is None:
        return None
    return scope_to_user(model._default_manager.all(), user, path)


# Models that hang off a property, by label, with their lookup to it: used for foreign-key choices
# pointing at them from another model (e.g. a manual payment's booking).
TENANT_PATHS = {
    "properties.propertyphoto": "property",
    "properties.pricingrule": "property",
    "properties.dateoverride": "property",
    "properties.availabilityblock": "property",
    "properties.turnovertask": "property",
    "bookings.booking": "property",
    "bookings.bookingevent": "booking__property",
    "payments.payment": "booking__property",
    "payments.refund": "payment__booking__property",
    "payments.manualpayment": "booking__property",
}


class TenantScopedMixin:
    """Queryset and relation-choice scoping, shared by model admins and inlines."""

    tenant_path = "property"

    def get_queryset(self, request):
        return scope_to_user(super().get_queryset(request), request.user, self.tenant_path)

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        scoped = scoped_related_queryset(db_field.related_model, request.user)
        if scoped is not None and "queryset" not in kwargs:
            kwargs["queryset"] = scoped
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def formfield_for_manytomany(self, db_field, request, **kwargs):
        scoped = scoped_related_queryset(db_field.related_model, request.user)
        if scoped is not None and "queryset" not in kwargs:
            kwargs["queryset"] = scoped
        return super().formfield_for_manytomany(db_field, request, **kwargs)


class TenantScopedAdmin(TenantScopedMixin, admin.ModelAdmin):
    """The base of every admin of a tenant-owned model. See the module docstring."""

    csv_fields: list[str] | None = None  # export columns; default: list_display entries that are model fields

    def get_list_filter(self, request):
        """Relational filters list only the related rows that appear in the (scoped) list."""
        filters = []
        for entry in super().get_list_filter(request):
            if isinstance(entry, str) and "__" not in entry:
                field = self.model._meta.get_field(entry)
                if field.is_relation:
                    entry = (entry, RelatedOnlyFieldListFilter)
            filters.append(entry)
        return filters

    def get_actions(self, request):
        actions = super().get_actions(request)
        if self.has_view_permission(request):
            func, name, description = self.get_action(type(self).export_csv)
            actions.setdefault(name, (func, name, description))
        return actions

    def get_csv_fields(self):
        if self.csv_fields is not None:
            return self.csv_fields
        names = {f.name for f in self.model._meta.get_fields() if getattr(f, "concrete", False)}
        return [name for name in self.list_display if name in names] or ["pk"]

    @admin.action(description="Export selected rows as CSV")
    def export_csv(self, request, queryset):
        # ``queryset`` comes from get_queryset (scoped) filtered by the selected ids: a tampered id
        # of another owner's row is simply not in it.
        fields = self.get_csv_fields()
        response = HttpResponse(content_type="text/csv; charset=utf-8")
        stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
        response["Content-Disposition"] = f'attachment; filename="{self.model._meta.model_name}-{stamp}.csv"'
        writer = csv.writer(response)
        writer.writerow([self.model._meta.get_field(f).verbose_name if f != "pk" else "id" for f in fields])
        for row in queryset.values_list(*[_csv_lookup(self.model, f) for f in fields]):
            writer.writerow(row)
        return response


class TenantScopedInline(TenantScopedMixin):
    """Mix into an inline (``class XInline(TenantScopedInline, admin.TabularInline)``) to scope its choices.

    The parent's page is already scoped; this keeps the inline's foreign-key
    choices (and its rows, when the inline's model hangs off a property) in the tenant."""

    tenant_path = "property"


def _csv_lookup(model, name: str) -> str:
    if name == "pk":
        return "pk"
    field = model._meta.get_field(name)
    if isinstance(field, models.ForeignKey):
        return f"{name}_id"
    return name
