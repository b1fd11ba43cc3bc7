"""The beat job that sends the heartbeat every minute (``core.liveness``; ``/readyz`` checks that beat sent it and a
worker ran it recently). Editable in the admin like the other jobs."""

from django.db import migrations

JOBS = [
    # (name, task, every, period)
    ("Heartbeat (readiness of beat and workers)", "core.tasks.heartbeat", 1, "minutes"),
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
        ("core", "0002_outboxevent_correlation_id"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]
    operations = [migrations.RunPython(create_jobs, remove_jobs)]
