"""The manual-payment beat jobs (reminder at half the timeout, expiry at the timeout); editable in the admin."""

from django.db import migrations

JOBS = [
    # (name, task, every, period)
    ("Remind guests of manual payments", "payments.tasks.remind_manual_payments", 5, "minutes"),
    ("Expire overdue manual payments", "payments.tasks.expire_manual_payments", 1, "minutes"),
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
        ("payments", "0002_manual_payments"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]
    operations = [migrations.RunPython(create_jobs, remove_jobs)]
