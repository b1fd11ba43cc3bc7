"""Building blocks for models: immutable audit rows (and, beside them, the outbox)."""

from django.db import models


class ImmutableRowError(Exception):
    pass


def _refuse(model) -> None:
    raise ImmutableRowError(f"{str(model._meta.verbose_name_plural).capitalize()} are immutable.")


class ImmutableQuerySet(models.QuerySet):
    """Audit rows cannot be changed or removed in bulk either."""

    def update(self, **kwargs):
        _refuse(self.model)

    def delete(self):
        _refuse(self.model)


class ImmutableRow(models.Model):
    """An audit row: written once, never updated or deleted, one by one or in bulk."""

    objects = ImmutableQuerySet.as_manager()

    class Meta:
        abstract = True

    def save(self, *args, **kwargs):
        if self.pk is not None:
            _refuse(self)
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        _refuse(self)
