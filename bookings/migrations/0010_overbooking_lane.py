"""Overbooking lanes: a channel stay sold on nights another stay occupies is recorded instead of refused.

``booking_no_overlap`` now forbids overlaps *within a lane* (``overbooking_lane WITH =``). Everything we sell is
in lane 0 (``booking_lane_channel_only``), so the guarantee between our own sales, and between them and every
channel stay that collided with nothing, is unchanged. The range stays the index's first column (search speed,
see 0003).
"""

from django.db import migrations, models

OCCUPYING = "('held', 'reserved', 'confirmed', 'checked_in', 'checked_out')"
DROP = "ALTER TABLE bookings_booking DROP CONSTRAINT IF EXISTS booking_no_overlap;"


def exclusion(with_lane: bool) -> str:
    lane = ", overbooking_lane WITH =" if with_lane else ""
    return (f"{DROP} ALTER TABLE bookings_booking ADD CONSTRAINT booking_no_overlap EXCLUDE USING gist "
            f"(daterange(check_in, check_out, '[)') WITH &&, property_id WITH ={lane}) WHERE (status IN {OCCUPYING});")


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(exclusion(with_lane=True))


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(exclusion(with_lane=False))


class Migration(migrations.Migration):

    dependencies = [
        ('bookings', '0009_email_claims'),
        ('guests', '0002_user_employer'),
        ('properties', '0006_photo_reencoded'),
    ]

    operations = [
        migrations.AddField(
            model_name='booking',
            name='overbooking_lane',
            field=models.PositiveSmallIntegerField(default=0, db_default=0, help_text='0, or the lane of a channel stay that overlaps another stay (an overbooking).'),
        ),
        migrations.AddConstraint(
            model_name='booking',
            constraint=models.CheckConstraint(condition=models.Q(
                ('overbooking_lane', 0), ('source__in', ['airbnb', 'booking_com', 'expedia', 'fewo_direkt', 'google_vr',
                                                         'other']), _connector='OR'), name='booking_lane_channel_only'),
        ),
        migrations.RunPython(forwards, backwards),
    ]
