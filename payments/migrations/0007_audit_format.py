"""Payment and manual-payment audit rows take the one audit format (core.models.AuditRow): who by kind
(``actor_type``) with the acting user kept (``actor_user``; manual payments had it as ``actor``), why (``reason``;
manual payments had ``note``), and the request or task that caused it (``cause``). Rows written before: a row
with a user is ``user``; a label that is an email is a user's when such a user exists, else a guest's; any
other label (``stripe``, ``system:…``) is ``system``."""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

ACTOR_TYPES = [("user", "User"), ("guest", "Guest"), ("system", "System"), ("channel", "Channel"),
               ("api", "API client")]
CAUSE = models.CharField(blank=True, max_length=100,
                         help_text="The request (request <id>) or task (task <name> <id>) that caused it.")
LABEL = models.CharField(blank=True, help_text="e.g. the channel or the guest's email", max_length=200)
FROM = models.CharField(blank=True, help_text="Blank when the row was created.", max_length=20)


def classify_old_rows(apps, schema_editor):
    User = apps.get_model(*settings.AUTH_USER_MODEL.split("."))
    users = {email.lower(): pk for pk, email in User.objects.values_list("pk", "email")}
    for name in ("PaymentEvent", "ManualPaymentEvent"):
        model = apps.get_model("payments", name)
        for row in model.objects.all().only("pk", "actor_user_id", "actor_label").iterator():
            label = (row.actor_label or "").strip().lower()
            if row.actor_user_id:
                kind, user = "user", row.actor_user_id
            elif "@" in label:
                user = users.get(label)
                kind = "user" if user else "guest"
            else:
                kind, user = "system", None
            # Historical model: a plain queryset update (the ImmutableRow guards are not part of migration state).
            model.objects.filter(pk=row.pk).update(actor_type=kind, actor_user_id=user)


class Migration(migrations.Migration):
    dependencies = [
        ("payments", "0006_refund_sending"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.RenameField(model_name="manualpaymentevent", old_name="actor", new_name="actor_user"),
        migrations.RenameField(model_name="manualpaymentevent", old_name="note", new_name="reason"),
        migrations.AddField(model_name="manualpaymentevent", name="actor_type",
                            field=models.CharField(choices=ACTOR_TYPES, default="system", max_length=10)),
        migrations.AddField(model_name="manualpaymentevent", name="cause", field=CAUSE),
        migrations.AlterField(model_name="manualpaymentevent", name="actor_label", field=LABEL),
        migrations.AlterField(model_name="manualpaymentevent", name="from_status", field=FROM),
        migrations.AddField(model_name="paymentevent", name="actor_type",
                            field=models.CharField(choices=ACTOR_TYPES, default="system", max_length=10)),
        migrations.AddField(model_name="paymentevent", name="actor_user",
                            field=models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL,
                                                    related_name="+", to=settings.AUTH_USER_MODEL)),
        migrations.AddField(model_name="paymentevent", name="cause", field=CAUSE),
        migrations.AlterField(model_name="paymentevent", name="actor_label", field=LABEL),
        migrations.AlterField(model_name="paymentevent", name="from_status", field=FROM),
        migrations.RunPython(classify_old_rows, migrations.RunPython.noop),
    ]
