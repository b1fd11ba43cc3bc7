"""``AvailabilityBlock`` and ``TurnoverTask`` moved to ``bookings`` (``bookings/0012``): dropped from this app's
state only; their tables stay (they keep their ``properties_`` names)."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("properties", "0007_block_connection_without_foreign_key"),
        ("bookings", "0012_blocks_and_turnovers_moved_from_properties"),
        ("channel_sync", "0008_other_block_in_bookings"),  # the last foreign key to the old state is re-pointed
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.DeleteModel(name="AvailabilityBlock"),
                migrations.DeleteModel(name="TurnoverTask"),
            ],
        ),
    ]
