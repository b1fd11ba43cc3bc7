"""``AvailabilityBlock`` moved to ``bookings`` (``bookings/0012``): the conflict's foreign key follows in the
state only; the table, and so the constraint in the database, did not change."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("bookings", "0012_blocks_and_turnovers_moved_from_properties"),
        ("channel_sync", "0007_overbooking_conflicts"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="syncconflict",
                    name="other_block",
                    field=models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL,
                                            related_name="sync_conflicts", to="bookings.availabilityblock"),
                ),
            ],
        ),
    ]
