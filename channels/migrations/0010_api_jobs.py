"""Beat jobs of API connections: push pending changes every 30 seconds (the sweeper behind the queued pushes) and
pull reservations every 20 seconds, each connection at its adapter's pace (the safety net behind webhooks, the
polling of platforms without them), and compare each platform's calendar with ours once a day; editable in the
admin."""

from django.db import migrations

JOBS = [
    # (name, task, every, period)
    ("Push pending channel changes", "channels.tasks.push_due_changes", 30, "seconds"),
    ("Pull channel reservations", "channels.tasks.pull_due_reservations", 20, "seconds"),
    ("Reconcile channel calendars", "channels.tasks.reconcile_api_connections", 1, "days"),
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
        ("channel_sync", "0009_api_connections"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]
    operations = [migrations.RunPython(create_jobs, remove_jobs)]
