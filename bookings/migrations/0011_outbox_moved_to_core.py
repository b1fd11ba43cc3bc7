"""The outbox now belongs to ``core`` (``core/migrations/0001_initial.py``): dropped from this app's state only;
the tables stay where they are."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("bookings", "0010_overbooking_lane"),
        ("core", "0001_initial"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.DeleteModel(name="OutboxDelivery"),
                migrations.DeleteModel(name="OutboxEvent"),
            ],
        ),
    ]
