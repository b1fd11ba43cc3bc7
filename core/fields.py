"""A reference from a lower app's row to a row of an app *above* it, without a foreign key.

The layers (``core`` → ``guests`` → ``properties`` → ``bookings`` → ``payments`` →
``channels``) hold for the schema too: a model never has a foreign key to an app
above its own, or its migrations would depend on that app and its code would
reach up through the relation. Where a row still has to say which higher row it
belongs to (a channel block: the channel connection that imported it), it keeps
the id in an :class:`UpwardReference`: a plain indexed integer column with no
foreign-key constraint.

Decisions:

* It reads like the foreign key it replaces where that costs nothing: the
  attribute and column are ``<name>_id``; ``Model(<name>=row)``,
  ``row.<name> = other`` and ``filter(<name>=row)`` accept the higher row itself
  (its pk); ``<name>__isnull`` works.
* What the foreign key gave beyond that belongs to the app above, which knows
  both sides and calls :meth:`UpwardReference.bind` from its ``AppConfig.ready``:
  reading ``row.<name>`` then returns the higher row (one query, cached on the
  instance; without a binding it is the id), and the higher model's ``columns``
  named there become lookups/transforms (``<name>__platform``, usable in
  ``filter`` and ``F()``). Deleting the higher row's dependants (the cascade) is
  that app's job too, in its delete path (``channels``: a ``pre_delete`` receiver).
* No reverse accessor is created on the higher model; the app above adds its own
  (e.g. ``ChannelConnection.channel_blocks``).
"""

from __future__ import annotations

from django.db import models
from django.db.models import Transform


class UpwardReference(models.BigIntegerField):
    """The id of a row in an app above this model's. See the module docstring."""

    description = "Id of a row in a higher layer (no foreign key)"

    def __init__(self, *args, **kwargs):
        self.target = None  # the higher model, once the app above has bound it
        super().__init__(*args, **kwargs)

    def get_attname(self) -> str:
        return f"{self.name}_id"

    def contribute_to_class(self, cls, name, private_only=False):
        super().contribute_to_class(cls, name, private_only=private_only)
        setattr(cls, name, _RowDescriptor(self))

    def get_prep_value(self, value):
        return super().get_prep_value(getattr(value, "pk", value))  # a row counts as its pk

    def to_python(self, value):
        return super().to_python(getattr(value, "pk", value))

    def bind(self, target, *, columns=()) -> None:
        """Called by the app above: ``row.<name>`` returns a ``target`` row, and each of ``columns`` (fields
        of ``target``) can be read through ``<name>__<column>``."""
        self.target = target
        for column in columns:
            self.register_lookup(_target_column(self, target, column))


class _RowDescriptor:
    """``row.<name>``: the higher row when bound (cached per instance), else the id; assigning takes a row or
    an id."""

    def __init__(self, field: UpwardReference):
        self.field = field
        self.cache_name = f"_{field.name}_row"

    def __get__(self, instance, owner=None):
        if instance is None:
            return self
        pk = getattr(instance, self.field.attname)
        target = self.field.target
        if pk is None or target is None:
            return pk
        cached = instance.__dict__.get(self.cache_name)
        if cached is None or cached.pk != pk:
            cached = target._default_manager.get(pk=pk)
            instance.__dict__[self.cache_name] = cached
        return cached

    def __set__(self, instance, value):
        instance.__dict__.pop(self.cache_name, None)
        setattr(instance, self.field.attname, getattr(value, "pk", value))
        if value is not None and hasattr(value, "pk"):
            instance.__dict__[self.cache_name] = value


def _target_column(field: UpwardReference, target, column: str) -> type[Transform]:
    """A transform ``<name>__<column>``: the column of the referenced row (a scalar subquery by primary key)."""
    target_field = target._meta.get_field(column)

    class TargetColumn(Transform):
        lookup_name = column

        @property
        def output_field(self):
            return target_field

        def as_sql(self, compiler, connection, *args, **kwargs):
            lhs, params = compiler.compile(self.lhs)
            quote = connection.ops.quote_name
            # Only quoted identifiers from the model's own metadata go into the text; values stay parameters.
            sql = (f"(SELECT {quote(target_field.column)} FROM {quote(target._meta.db_table)} "  # noqa: S608
                   f"WHERE {quote(target._meta.pk.column)} = {lhs})")
            return sql, params

    TargetColumn.__name__ = f"{target.__name__}{column.title().replace('_', '')}"
    return TargetColumn
