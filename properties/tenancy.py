"""Tenant scoping for the admin (DESIGN invariant 8): one base class for every admin of our models.

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

The lookup from a model to its ``Property`` (``"property"``, ``"booking__property"``
…) is written once, in :data:`TENANT_PATHS`; an admin sets ``tenant_path`` only
to differ (``"pk"`` for the property itself). Models owned by a *user* rather
than a property (payout methods) override :meth:`TenantScopedMixin.scope_queryset`,
and their app registers which rows a user may *pick* in other models' forms with
:func:`register_choice_scope` (``payments`` does, for payout methods): this app
imports no app above it.
"""

from __future__ import annotations

import csv
from collections.abc import Callable

from django.contrib import admin
from django.contrib.admin.filters import (
    AllValuesFieldListFilter,
    RelatedFieldListFilter,
    RelatedOnlyFieldListFilter,
)
from django.contrib.admin.utils import NotRelationField, get_fields_from_path
from django.core.exceptions import FieldDoesNotExist, ImproperlyConfigured
from django.db import models
from django.db.models import Q
from django.http import HttpResponse
from django.utils import timezone

from .models import Property


def managed_properties(user):
    """The properties ``user`` may see in the back office (all for a superuser, none for anonymous)."""
    if not user.is_authenticated:
        return Property.objects.none()
    return Property.objects.managed_by(user)


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
    """``queryset`` limited to the rows hanging off properties ``user`` manages (no duplicate rows)."""
    if user.is_superuser:
        return queryset
    managed = managed_properties(user).values("pk")
    if _crosses_many(queryset.model, tenant_path):
        inner = queryset.model._default_manager.filter(**{f"{tenant_path}__in": managed}).values("pk")
        return queryset.filter(pk__in=inner)
    return queryset.filter(**{f"{tenant_path}__in": managed})


def visible_users(user):
    """Accounts ``user`` may see and pick in the back office: themselves and the staff they employ."""
    from guests.models import User

    if user.is_superuser:
        return User.objects.all()
    if not user.is_authenticated:
        return User.objects.none()
    return User.objects.filter(Q(pk=user.pk) | Q(employer=user))


# Choices of related models that do not hang off a property, by label: ``user -> queryset`` of the rows
# ``user`` may pick. Registered by the model's app (register_choice_scope), so this module imports none.
_CHOICE_SCOPES: dict[str, Callable] = {"guests.user": visible_users}


def register_choice_scope(label: str, visible: Callable) -> None:
    """Scope the form choices of the model ``label`` (``"app.model"``, lower case) to ``visible(user)``."""
    _CHOICE_SCOPES[label.lower()] = visible


def scoped_related_queryset(model, user):
    """Choices of a related ``model`` for ``user``, or None when the model is not tenant-owned."""
    if user.is_superuser:
        return None
    if model is Property:
        return managed_properties(user)
    label = model._meta.label_lower
    if label in _CHOICE_SCOPES:
        return _CHOICE_SCOPES[label](user)
    path = TENANT_PATHS.get(label)
    if path is None:
        return None
    return scope_to_user(model._default_manager.all(), user, path)


# Models that hang off a property, by label, with their lookup to it: used for foreign-key choices
# pointing at them from another model (e.g. a manual payment's booking).
TENANT_PATHS = {
    "properties.propertyphoto": "property",
    "properties.pricingrule": "property",
    "properties.dateoverride": "property",
    "bookings.availabilityblock": "property",
    "bookings.turnovertask": "property",
    "bookings.booking": "property",
    "bookings.bookingevent": "booking__property",
    "bookings.guestmessage": "booking__property",
    "bookings.sentemail": "booking__property",
    "guests.guest": "bookings__property",
    "payments.payment": "booking__property",
    "payments.paymentevent": "payment__booking__property",
    "payments.refund": "payment__booking__property",
    "payments.manualpayment": "booking__property",
    "payments.manualpaymentevent": "payment__booking__property",
    "channel_sync.channelconnection": "property",
    "channel_sync.syncrun": "connection__property",
    "channel_sync.syncconflict": "property",
}


class TenantScopedMixin:
    """Queryset and relation-choice scoping, shared by model admins and inlines."""

    tenant_path: str | None = None  # None: the model's entry in TENANT_PATHS

    def get_tenant_path(self) -> str:
        path = self.tenant_path or TENANT_PATHS.get(self.model._meta.label_lower)
        if path is None:
            raise ImproperlyConfigured(f"{type(self).__name__}: {self.model._meta.label} has no TENANT_PATHS entry; "
                                       "add one, set tenant_path, or override scope_queryset.")
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
        filters = []
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
