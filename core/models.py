"""Building blocks for models: immutable audit rows, and the transactional outbox's two tables (``core.outbox``).

The outbox tables were created by the ``bookings`` app and keep their names (``db_table``): they moved here
with state-only migrations (``core/migrations/0001_initial.py``)."""

import uuid
from collections.abc import Sequence

from django.conf import settings
from django.db import models
from django.db.models import F, Q, Value
from django.db.models.functions import Replace
from django.utils import timezone

from .actor import Actor, ActorType
from .context import current_cause


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

    def redact(self, *, secrets: Sequence[str] = (), replacement: str = "",
               fields: Sequence[str] = ("actor_label", "reason"), clear: dict | None = None) -> int:
        """The one sanctioned write to audit rows: the erasure of a person's personal data (``privacy.services``,
        docs/privacy.md "Audit rows").

        In the rows of this queryset that quote one of ``secrets`` (an erased guest's email address, phone, name) in
        one of ``fields``, each quote is replaced by ``replacement`` (their pseudonym); ``clear`` sets further
        columns on every row of the queryset (e.g. ``{"ip": None}``). Who-type, when, from, to and cause never
        change, so the trail keeps its shape and order; the erasure's own audit row counts what was redacted.
        Returns the number of rows changed."""
        changed = 0
        secrets = [s for s in dict.fromkeys(secrets) if s]
        if secrets:
            quoting = Q()
            for field in fields:
                for secret in secrets:
                    quoting |= Q(**{f"{field}__icontains": secret})
            values: dict = {}
            for field in fields:
                expression: F | Replace = F(field)
                for secret in secrets:
                    # Replace is case-sensitive: the caller passes every spelling (addresses are stored lower-cased).
                    expression = Replace(expression, Value(secret), Value(replacement))
                values[field] = expression
            changed += models.QuerySet.update(self.filter(quoting), **values)
        if clear:
            changed += models.QuerySet.update(self, **clear)
        return changed


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


class AuditRow(ImmutableRow):
    """The one audit format of every state machine (bookings, card payments, manual payments): who (a user, a
    guest, a channel, an API client or the system, with the user kept when there is one), when, from, to, why,
    and the request or task that caused it. ``cause`` defaults to :func:`core.context.current_cause`."""

    from_status = models.CharField(max_length=20, blank=True, help_text="Blank when the row was created.")
    to_status = models.CharField(max_length=20)
    actor_type = models.CharField(max_length=10, choices=ActorType.choices, default=ActorType.SYSTEM)
    actor_user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    actor_label = models.CharField(max_length=200, blank=True, help_text="e.g. the channel or the guest's email")
    reason = models.TextField(blank=True)
    cause = models.CharField(max_length=100, blank=True,
                             help_text="The request (request <id>) or task (task <name> <id>) that caused it.")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        abstract = True
        ordering = ["created_at", "id"]

    def save(self, *args, **kwargs):
        if self.pk is None and not self.cause:
            self.cause = current_cause()
        super().save(*args, **kwargs)

    @staticmethod
    def actor_fields(actor: Actor) -> dict:
        """The row's who, from an :class:`~core.actor.Actor`."""
        user = actor.user if actor.user is not None and getattr(actor.user, "pk", None) else None
        return {"actor_type": actor.type, "actor_user": user, "actor_label": actor.label[:200]}


class OutboxEvent(models.Model):
    """A domain event written in the same transaction as the change it describes."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    topic = models.CharField(max_length=50, db_index=True)
    aggregate_type = models.CharField(max_length=50)
    aggregate_id = models.CharField(max_length=50)
    payload = models.JSONField(default=dict)
    created_at = models.DateTimeField(default=timezone.now)
    delivered_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True)
    # The request (or task) that wrote the event (core.correlation): restored while the event is delivered, however
    # late, so the consumers' log lines and the tasks they queue carry the originating id. A database default too, so
    # rows written outside the ORM (benchmarks' COPY) need not name it.
    correlation_id = models.CharField(max_length=64, blank=True, default="", db_default="")

    class Meta:
        db_table = "bookings_outboxevent"
        ordering = ["created_at"]
        indexes = [
            models.Index(fields=["created_at"], condition=Q(delivered_at__isnull=True), name="outbox_undelivered"),
        ]

    def __str__(self):
        return f"{self.topic} {self.aggregate_type}:{self.aggregate_id}"


class OutboxDelivery(models.Model):
    """Which consumer has processed which event: the record of at-least-once delivery."""

    event = models.ForeignKey(OutboxEvent, on_delete=models.CASCADE, related_name="deliveries")
    consumer = models.CharField(max_length=100)
    delivered_at = models.DateTimeField(default=timezone.now)

    class Meta:
        db_table = "bookings_outboxdelivery"
        constraints = [models.UniqueConstraint(fields=["event", "consumer"], name="outbox_delivery_once")]

    def __str__(self):
        return f"{self.consumer} ← {self.event_id}"
