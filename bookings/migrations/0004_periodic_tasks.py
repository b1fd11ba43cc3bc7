"""The periodic jobs, created here so that every database has them; editable in the admin."""

from django.db import migrations

JOBS = [
    # (name, task, every, period)
    ("Expire holds and reservations", "bookings.tasks.expire_stale_bookings", 1, "minutes"),
    ("Redeliver outbox events", "bookings.tasks.redeliver_outbox", 1, "minutes"),  # core.tasks since core 0001
    ("Clean idempotency keys", "bookings.tasks.clean_idempotency_keys", 1, "hours"),
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
        ("bookings", "0003_no_overlap"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]
    operations = [migrations.RunPython(create_jobs, remove_jobs)]
