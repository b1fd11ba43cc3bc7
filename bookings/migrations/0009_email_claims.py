"""Emails are claimed before they are sent (issue 11 item 11): a status, the claim's time and a stable uid.

Existing rows: ``sent`` when ``sent_at`` is set, ``failed`` when they ran out of attempts, else ``pending``;
each gets its own uid (one uuid4 per row, not one default for all).
"""

import uuid

from django.db import migrations, models
from django.db.models import Q

MAX_SEND_ATTEMPTS = 5  # bookings.notifications.MAX_SEND_ATTEMPTS when this was written


def backfill(apps, schema_editor):
    SentEmail = apps.get_model("bookings", "SentEmail")
    SentEmail.objects.filter(sent_at__isnull=False).update(status="sent")
    SentEmail.objects.filter(sent_at__isnull=True, attempts__gte=MAX_SEND_ATTEMPTS).update(status="failed")
    for pk in SentEmail.objects.filter(uid__isnull=True).values_list("pk", flat=True).iterator():
        SentEmail.objects.filter(pk=pk).update(uid=uuid.uuid4())


class Migration(migrations.Migration):

    dependencies = [
        ("bookings", "0008_alter_booking_source"),
    ]

    operations = [
        migrations.RemoveIndex(model_name="sentemail", name="sentemail_unsent"),
        migrations.AddField(
            model_name="sentemail",
            name="status",
            field=models.CharField(choices=[("pending", "Pending"), ("sending", "Sending (claimed by a worker)"),
                                            ("sent", "Sent"), ("unknown", "Unknown: check with the recipient"),
                                            ("failed", "Failed: given up")], default="pending", max_length=10),
        ),
        migrations.AddField(
            model_name="sentemail",
            name="claimed_at",
            field=models.DateTimeField(blank=True, help_text="When a worker last claimed it to send it.", null=True),
        ),
        migrations.AddField(
            model_name="sentemail",
            name="uid",
            field=models.UUIDField(editable=False, null=True),
        ),
        migrations.RunPython(backfill, migrations.RunPython.noop),
        migrations.AlterField(
            model_name="sentemail",
            name="uid",
            field=models.UUIDField(default=uuid.uuid4, editable=False, unique=True,
                                   help_text="Globally unique: the left part of the email's Message-ID, the same on "
                                             "every try."),
        ),
        migrations.AddIndex(
            model_name="sentemail",
            index=models.Index(condition=Q(("status__in", ["pending", "sending"])), fields=["created_at"],
                               name="sentemail_unsent"),
        ),
    ]
