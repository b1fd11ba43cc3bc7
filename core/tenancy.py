"""Tenant scoping for the admin: one base class for every admin of a tenant-owned model.

An owner sees and changes only their properties and what hangs off them; a
staff member only the properties they are assigned to; a superuser everything.
:class:`TenantScopedAdmin` applies that to everything the admin shows or accepts:

* ``get_queryset`` — the changelist, the change/delete/history views (a foreign
  object's URL answers with Django's own "does not exist" redirect), search,
  ``date_hierarchy``, value list filters and every action (including "select
  all" and ``delete_selected``), which all start from it;
* foreign-key and many-to-many choices in forms and inlines (a tampered POST
  naming another owner's row fails validation: "Select a valid choice");
* relational list filters (only related rows that appear in the scoped list),
  also through paths such as ``booking__property``;
* autocomplete: Django asks the *related* model's admin for its queryset, so
  scoping that admin scopes its autocomplete;
* CSV export (the ``export_csv`` action) of the scoped, selected rows, with
  readable values (a related row's name, a choice's label).

This module knows no domain model: each app tells it about its own models, in
its ``AppConfig.ready`` (a registry, so that core imports nothing above it):

* :func:`register_tenant` — the tenant itself and how a user's tenants are found
  (``properties``: ``Property`` and ``properties.tenancy.managed_properties``);
* :func:`register_paths` — the lookup from a model to its tenant (``"property"``,
  ``"booking__property"`` …), written once per model; an admin sets
  ``tenant_path`` only to differ (``"pk"`` for the property itself);
* :func:`register_choices` — the rows a user may pick for models owned by a
  *user* rather than a property (accounts, payout methods); their admins
  override :meth:`TenantScopedMixin.scope_queryset`.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from django.contrib import admin
from django.contrib.admin.filters import (
    AllValuesFieldListFilter,
    RelatedFieldListFilter,
    RelatedOnlyFieldListFilter,
)
from django.contrib.admin.utils import NotRelationField, get_fields_from_path
from django.core.exceptions import FieldDoesNotExist, ImproperlyConfigured
from django.db import models
from django.http import HttpResponse
from django.utils import timezone

# Filled by the apps' AppConfig.ready (see the module docstring).
TENANT_PATHS: dict[str, str] = {}  # model label → lookup to its tenant
_CHOICES: dict[str, Callable] = {}  # model label → function(user) giving the rows ``user`` may pick
_tenant: dict[str, Any] = {}  # "label" and "managed": the tenant model and function(user) → its managed rows


def register_tenant(model_label: str, managed: Callable) -> None:
    """The tenant model (``"properties.property"``) and ``managed(user)``: the tenants ``user`` manages (all for a
    superuser, none for anonymous)."""
    _tenant.update(label=model_label.lower(), managed=managed)
    _CHOICES[model_label.lower()] = managed


def register_paths(paths: Mapping[str, str]) -> None:
    """Models that hang off a tenant, by label, with their lookup to it: used to scope their admin and the
    foreign-key choices pointing at them from another model (e.g. a manual payment's booking)."""
    TENANT_PATHS.update({label.lower(): path for label, path in paths.items()})


def register_choices(model_label: str, visible: Callable) -> None:
    """``visible(user)``: the rows of a model owned by a user rather than a tenant that ``user`` may pick."""
    _CHOICES[model_label.lower()] = visible


def managed_tenants(user):
    """The tenants (properties) ``user`` may see in the back office."""
    if "managed" not in _tenant:
        raise ImproperlyConfigured("No tenant registered: core.tenancy.register_tenant() was never called.")
    return _tenant["managed"](user)


def _crosses_many(model, path: str) -> bool:
    """Whether the lookup ``path`` goes through a to-many relation (a plain filter would repeat rows)."""
    if path == "pk":
        return False
    try:
        fields = get_fields_from_path(model, path)
    except (FieldDoesNotExist, NotRelationField):  # an unknown path: be safe, use a subquery
        return True
    return any(getattr(field, "many_to_many", False) or getattr(field, "one_to_many", False) for field in fields)


def scope_to_user(queryset, user, tenant_path: str):
    """``queryset`` limited to the rows hanging off tenants ``user`` manages (no duplicate rows)."""
    if user.is_superuser:
        return queryset
    managed = managed_tenants(user).values("pk")
    if _crosses_many(queryset.model, tenant_path):
        inner = queryset.model._default_manager.filter(**{f"{tenant_path}__in": managed}).values("pk")
        return queryset.filter(pk__in=inner)
    return queryset.filter(**{f"{tenant_path}__in": managed})


def scoped_related_queryset(model, user):
    """Choices of a related ``model`` for ``user``, or None when the model is not tenant-owned."""
    if user.is_superuser:
        return None
    label = model._meta.label_lower
    visible = _CHOICES.get(label)
    if visible is not None:
        return visible(user)
    path = TENANT_PATHS.get(label)
    if path is None:
        return None
    return scope_to_user(model._default_manager.all(), user, path)


if TYPE_CHECKING:  # the mixin is only ever mixed into a model admin or an inline
    _AdminBase = admin.options.BaseModelAdmin
else:
    _AdminBase = object


class TenantScopedMixin(_AdminBase):
    """Queryset and relation-choice scoping, shared by model admins and inlines."""

    tenant_path: str | None = None  # None: the model's entry in TENANT_PATHS

    def get_tenant_path(self) -> str:
        path = self.tenant_path or TENANT_PATHS.get(self.model._meta.label_lower)
        if path is None:
            raise ImproperlyConfigured(f"{type(self).__name__}: {self.model._meta.label} has no tenant path; register "
                                       "one (core.tenancy.register_paths in its app's ready), set tenant_path, "
                                       "or override scope_queryset.")
        return path

    def scope_queryset(self, queryset, request):
        """The rows of ``queryset`` that ``request.user`` may see. Override for models not under a property."""
        return scope_to_user(queryset, request.user, self.get_tenant_path())

    def get_queryset(self, request):
        return self.scope_queryset(super().get_queryset(request), request)

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
        filters: list[Any] = []
        entry: Any
        for entry in super().get_list_filter(request):
            if isinstance(entry, str) and _is_relation_path(self.model, entry):
                entry = (entry, RelatedOnlyFieldListFilter)
            elif isinstance(entry, str) and "__" in entry and _lists_all_values(self.model, entry):
                entry = (entry, ScopedAllValuesFieldListFilter)
            elif (isinstance(entry, tuple | list) and len(entry) == 2 and isinstance(entry[1], type)
                  and entry[1] is RelatedFieldListFilter):
                entry = (entry[0], RelatedOnlyFieldListFilter)
            filters.append(entry)
        return filters

    def get_actions(self, request):
        actions = super().get_actions(request)
        export = self.get_action(type(self).export_csv)
        if self.has_view_permission(request) and export is not None:
            func, name, description = export
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
        writer.writerow([_csv_header(self.model, f) for f in fields])
        related = [f for f in fields if f != "pk" and isinstance(self.model._meta.get_field(f), models.ForeignKey)]
        for obj in queryset.select_related(*related):
            writer.writerow([_csv_value(obj, f) for f in fields])
        return response


class TenantScopedInline(TenantScopedMixin):
    """Mix into an inline (``class XInline(TenantScopedInline, admin.TabularInline)``) to scope its choices.

    The parent's page is already scoped; this keeps the inline's foreign-key
    choices (and its rows, when the inline's model hangs off a property) in the tenant."""


class ScopedAllValuesFieldListFilter(AllValuesFieldListFilter):
    """A value filter through a relation (``property__city``) listing only values of the scoped rows.

    Django's own takes the values from *all* rows of the related model, which
    would show other owners' cities."""

    def __init__(self, field, request, params, model, model_admin, field_path):
        super().__init__(field, request, params, model, model_admin, field_path)
        visible = model._default_manager.filter(pk__in=model_admin.get_queryset(request).values("pk"))
        self.lookup_choices = visible.order_by(field_path).values_list(field_path, flat=True).distinct()


def _lists_all_values(model, path: str) -> bool:
    """Whether Django would pick its all-values filter for the (non-relational) ``path``."""
    try:
        field = get_fields_from_path(model, path)[-1]
    except (FieldDoesNotExist, NotRelationField):
        return False
    return not (field.is_relation or field.choices or isinstance(field, models.BooleanField | models.DateField))


def _is_relation_path(model, path: str) -> bool:
    try:
        fields = get_fields_from_path(model, path)
    except (FieldDoesNotExist, NotRelationField):  # not a field path (e.g. a callable's name)
        return False
    return bool(fields) and fields[-1].is_relation


def _csv_header(model, name: str) -> str:
    return "id" if name == "pk" else str(model._meta.get_field(name).verbose_name)


def _csv_value(obj, name: str):
    """A cell people can read: the related row's name, a choice's label, booleans as yes/no."""
    if name == "pk":
        return obj.pk
    field = obj._meta.get_field(name)
    if field.is_relation and field.many_to_one:
        related = getattr(obj, name)
        return "" if related is None else str(related)
    if field.choices:
        return getattr(obj, f"get_{name}_display")()
    value = getattr(obj, name)
    if isinstance(value, bool):
        return "yes" if value else "no"
    return "" if value is None else value
