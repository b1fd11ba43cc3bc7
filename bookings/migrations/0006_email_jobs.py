"""The email jobs: pre-arrival reminders and the sweeper that retries unsent emails; editable in the admin."""

from django.db import migrations

JOBS = [
    # (name, task, every, period)
    ("Send pre-arrival reminders", "bookings.tasks.send_pre_arrival_reminders", 1, "hours"),
    ("Retry unsent emails", "bookings.tasks.send_pending_emails", 1, "minutes"),
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
        ("bookings", "0005_portal_and_emails"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]
    operations = [migrations.RunPython(create_jobs, remove_jobs)]
