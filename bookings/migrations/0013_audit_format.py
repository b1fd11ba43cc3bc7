"""The booking audit trail takes the one audit format (core.models.AuditRow): the request or task that caused
each change (``cause``); the acting user no longer gets a reverse accessor."""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("bookings", "0012_blocks_and_turnovers_moved_from_properties"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddField(
            model_name="bookingevent",
            name="cause",
            field=models.CharField(blank=True, max_length=100,
                                   help_text="The request (request <id>) or task (task <name> <id>) that caused it."),
        ),
        migrations.AlterField(
            model_name="bookingevent",
            name="actor_type",
            field=models.CharField(choices=[("user", "User"), ("guest", "Guest"), ("system", "System"),
                                            ("channel", "Channel"), ("api", "API client")], default="system",
                                   max_length=10),
        ),
        migrations.AlterField(
            model_name="bookingevent",
            name="actor_user",
            field=models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL,
                                    related_name="+", to=settings.AUTH_USER_MODEL),
        ),
        migrations.AlterField(
            model_name="bookingevent",
            name="from_status",
            field=models.CharField(blank=True, help_text="Blank when the row was created.", max_length=20),
        ),
    ]
