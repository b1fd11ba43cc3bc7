"""The outbox moves from ``bookings`` to ``core``: state only, the tables and their names stay
(``bookings_outboxevent``, ``bookings_outboxdelivery``; ``bookings/migrations/0011`` drops them from
``bookings``' state). It depends on the ``bookings`` migrations that created them, so that a fresh database has
the tables before ``core`` claims them. The outbox tasks move too: the beat row of the sweeper is renamed."""

import uuid

import django.db.models.deletion
import django.utils.timezone
from django.db import migrations, models

OLD_TASK, NEW_TASK = "bookings.tasks.redeliver_outbox", "core.tasks.redeliver_outbox"


def rename_sweeper(apps, schema_editor):
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    PeriodicTask.objects.filter(task=OLD_TASK).update(task=NEW_TASK)


def unrename_sweeper(apps, schema_editor):
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    PeriodicTask.objects.filter(task=NEW_TASK).update(task=OLD_TASK)


class Migration(migrations.Migration):
    initial = True

    dependencies = [
        ("bookings", "0010_overbooking_lane"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name="OutboxEvent",
                    fields=[
                        ("id", models.UUIDField(default=uuid.uuid4, editable=False, primary_key=True, serialize=False)),
                        ("topic", models.CharField(db_index=True, max_length=50)),
                        ("aggregate_type", models.CharField(max_length=50)),
                        ("aggregate_id", models.CharField(max_length=50)),
                        ("payload", models.JSONField(default=dict)),
                        ("created_at", models.DateTimeField(default=django.utils.timezone.now)),
                        ("delivered_at", models.DateTimeField(blank=True, null=True)),
                        ("attempts", models.PositiveIntegerField(default=0)),
                        ("last_error", models.TextField(blank=True)),
                    ],
                    options={
                        "db_table": "bookings_outboxevent",
                        "ordering": ["created_at"],
                        "indexes": [models.Index(condition=models.Q(("delivered_at__isnull", True)),
                                                 fields=["created_at"], name="outbox_undelivered")],
                    },
                ),
                migrations.CreateModel(
                    name="OutboxDelivery",
                    fields=[
                        ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False,
                                                   verbose_name="ID")),
                        ("consumer", models.CharField(max_length=100)),
                        ("delivered_at", models.DateTimeField(default=django.utils.timezone.now)),
                        ("event", models.ForeignKey(on_delete=django.db.models.deletion.CASCADE,
                                                    related_name="deliveries", to="core.outboxevent")),
                    ],
                    options={
                        "db_table": "bookings_outboxdelivery",
                        "constraints": [models.UniqueConstraint(fields=("event", "consumer"),
                                                                name="outbox_delivery_once")],
                    },
                ),
            ],
        ),
        migrations.RunPython(rename_sweeper, unrename_sweeper),
    ]
