"""Refunds are sent after commit (payments.services.execute_refund): attempt bookkeeping, and the beat sweeper."""

from django.db import migrations, models

JOBS = [
    # (name, task, every, period)
    ("Send requested refunds", "payments.tasks.execute_due_refunds", 1, "minutes"),
]


def create_jobs(apps, schema_editor):
    IntervalSchedule = apps.get_model("django_celery_beat", "IntervalSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    for name, task, every, period in JOBS:
        schedule, _ = IntervalSchedule.objects.get_or_create(every=every, period=period)
        PeriodicTask.objects.get_or_create(name=name, defaults={"task": task, "interval": schedule})


def remove_jobs(apps, schema_editor):
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    PeriodicTask.objects.filter(name__in=[name for name, *_ in JOBS]).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("payments", "0005_payment_flagged"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [
        migrations.AddField(
            model_name="refund",
            name="attempts",
            field=models.PositiveSmallIntegerField(default=0, help_text="Calls made to the provider for this refund."),
        ),
        migrations.AddField(
            model_name="refund",
            name="next_attempt_at",
            field=models.DateTimeField(blank=True, null=True,
                                       help_text="When the sweeper sends it (again) if it is still unsent."),
        ),
        migrations.AddField(
            model_name="refund",
            name="last_error",
            field=models.TextField(blank=True),
        ),
        migrations.AddIndex(
            model_name="refund",
            index=models.Index(fields=["status", "next_attempt_at"], name="refund_due_idx"),
        ),
        migrations.RunPython(create_jobs, remove_jobs),
    ]
