"""Occupancy bit strings for search, kept by PostgreSQL triggers (docs/performance-search.md).

``bookings_occupancy`` holds, per property, one bit per night of its bookings that occupy for good and one per
night of its availability blocks. Statement-level triggers on both tables recompute the affected properties in
the same statement as the write, whatever code path makes it (the booking services, a set-based channel import,
a bulk load, a test's ``bulk_create``). The backfill at the end fills it for existing data in one statement.
Not kept: TRUNCATE (no trigger; the tests' flush truncates this table too).
"""

import bookings.models
import django.db.models.deletion
from django.db import migrations, models


# Occupying statuses (bookings.models.OCCUPYING_STATUSES) and those that stop occupying at expires_at
# (EXPIRING_STATUSES), frozen here as the migration's SQL must be. A row is "in the bits" when it occupies for
# good: occupying, and not an expiring status with an expires_at (those depend on the clock: search checks them
# beside the bits, through the partial index below).
OCCUPYING = "('held', 'reserved', 'confirmed', 'checked_in', 'checked_out')"
EXPIRING = "('held', 'reserved')"


def in_bits(row: str) -> str:
    return f"({row}.status IN {OCCUPYING} AND NOT ({row}.status IN {EXPIRING} AND {row}.expires_at IS NOT NULL))"


CREATE = f"""
-- Recompute the occupancy rows of the given properties from their bookings and blocks.
CREATE OR REPLACE FUNCTION bookings_occupancy_refresh(ids bigint[]) RETURNS void
LANGUAGE plpgsql AS $fn$
BEGIN
    -- Take the property row lock the booking services take (lock_property: FOR UPDATE, which includes this
    -- one), in id order. The services already hold it, so this costs them nothing; a write that did not take it
    -- (a bulk load, a test's bulk_create, a hand-written UPDATE) waits here for the services' transactions and
    -- they for it. Every writer of a property's bookings or blocks passes here and keeps the lock until it
    -- commits, so the statement below (a fresh snapshot under READ COMMITTED) sees every committed change of an
    -- earlier writer, and a later writer recomputes after us: the row is never computed from a stale snapshot.
    -- NO KEY UPDATE, not UPDATE: the deferred foreign-key check of the writer's own rows (FOR KEY SHARE, at
    -- commit) must not wait for another writer's lock taken in this order, or two bulk writers deadlock.
    PERFORM 1 FROM properties_property WHERE id = ANY(ids) ORDER BY id FOR NO KEY UPDATE;

    WITH nights AS (
        SELECT b.property_id, b.check_in AS s, b.check_out AS e, true AS booked
        FROM bookings_booking b
        WHERE b.property_id = ANY(ids) AND {in_bits("b")}
        UNION ALL
        SELECT k.property_id, k.start_date, k.end_date, false
        FROM properties_availabilityblock k
        WHERE k.property_id = ANY(ids)
    ), span AS (
        SELECT property_id, min(s) AS origin, max(e) AS last FROM nights GROUP BY property_id
    ), fresh AS (
        -- One bit string per row, all of the property's length, OR-ed together (rows of different
        -- overbooking lanes, and blocks, may overlap).
        SELECT n.property_id, sp.origin,
               coalesce(bit_or((repeat('0', n.s - sp.origin) || repeat('1', n.e - n.s)
                                || repeat('0', sp.last - n.e))::varbit) FILTER (WHERE n.booked), B'') AS booked,
               coalesce(bit_or((repeat('0', n.s - sp.origin) || repeat('1', n.e - n.s)
                                || repeat('0', sp.last - n.e))::varbit) FILTER (WHERE NOT n.booked), B'') AS blocked
        FROM nights n JOIN span sp USING (property_id)
        GROUP BY n.property_id, sp.origin
    ), changed AS (
        INSERT INTO bookings_occupancy AS o (property_id, origin, booked, blocked)
        SELECT property_id, origin, booked, blocked FROM fresh
        ON CONFLICT (property_id) DO UPDATE
            SET origin = EXCLUDED.origin, booked = EXCLUDED.booked, blocked = EXCLUDED.blocked
            WHERE (o.origin, o.booked, o.blocked) IS DISTINCT FROM (EXCLUDED.origin, EXCLUDED.booked, EXCLUDED.blocked)
        RETURNING o.property_id
    )
    DELETE FROM bookings_occupancy o
    WHERE o.property_id = ANY(ids) AND o.property_id NOT IN (SELECT property_id FROM fresh);
END
$fn$;

-- Statement-level triggers (one recompute per property per statement, however many rows it wrote: a
-- set-based import costs one). Only rows that are or were in the bits, and only changes that move them.
CREATE OR REPLACE FUNCTION bookings_occupancy_booking_changed() RETURNS trigger
LANGUAGE plpgsql AS $fn$
DECLARE
    ids bigint[];
BEGIN
    IF TG_OP = 'INSERT' THEN
        SELECT array_agg(DISTINCT n.property_id) INTO ids FROM new_rows n WHERE {in_bits("n")};
    ELSIF TG_OP = 'DELETE' THEN
        SELECT array_agg(DISTINCT o.property_id) INTO ids FROM old_rows o WHERE {in_bits("o")};
    ELSE
        SELECT array_agg(DISTINCT pid) INTO ids FROM (
            SELECT unnest(ARRAY[o.property_id, n.property_id]) AS pid
            FROM old_rows o JOIN new_rows n ON n.id = o.id
            WHERE ({in_bits("o")} OR {in_bits("n")})
              AND ({in_bits("o")} IS DISTINCT FROM {in_bits("n")} OR o.check_in <> n.check_in
                   OR o.check_out <> n.check_out OR o.property_id <> n.property_id)
        ) AS moved;
    END IF;
    IF ids IS NOT NULL THEN
        PERFORM bookings_occupancy_refresh(ids);
    END IF;
    RETURN NULL;
END
$fn$;

CREATE OR REPLACE FUNCTION bookings_occupancy_block_changed() RETURNS trigger
LANGUAGE plpgsql AS $fn$
DECLARE
    ids bigint[];
BEGIN
    IF TG_OP = 'INSERT' THEN
        SELECT array_agg(DISTINCT n.property_id) INTO ids FROM new_rows n;
    ELSIF TG_OP = 'DELETE' THEN
        SELECT array_agg(DISTINCT o.property_id) INTO ids FROM old_rows o;
    ELSE
        SELECT array_agg(DISTINCT pid) INTO ids FROM (
            SELECT unnest(ARRAY[o.property_id, n.property_id]) AS pid
            FROM old_rows o JOIN new_rows n ON n.id = o.id
            WHERE o.start_date <> n.start_date OR o.end_date <> n.end_date OR o.property_id <> n.property_id
        ) AS moved;
    END IF;
    IF ids IS NOT NULL THEN
        PERFORM bookings_occupancy_refresh(ids);
    END IF;
    RETURN NULL;
END
$fn$;

CREATE TRIGGER occupancy_booking_insert AFTER INSERT ON bookings_booking
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION bookings_occupancy_booking_changed();
CREATE TRIGGER occupancy_booking_update AFTER UPDATE ON bookings_booking
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION bookings_occupancy_booking_changed();
CREATE TRIGGER occupancy_booking_delete AFTER DELETE ON bookings_booking
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION bookings_occupancy_booking_changed();
CREATE TRIGGER occupancy_block_insert AFTER INSERT ON properties_availabilityblock
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION bookings_occupancy_block_changed();
CREATE TRIGGER occupancy_block_update AFTER UPDATE ON properties_availabilityblock
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION bookings_occupancy_block_changed();
CREATE TRIGGER occupancy_block_delete AFTER DELETE ON properties_availabilityblock
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION bookings_occupancy_block_changed();

-- The clock-dependent rows search checks beside the bits (few: live holds and unpaid reservations).
CREATE INDEX booking_expiring_occupancy ON bookings_booking (property_id, check_in, check_out, expires_at)
    WHERE status IN {EXPIRING} AND expires_at IS NOT NULL;

-- Backfill, set-based: every property with bookings or blocks.
SELECT bookings_occupancy_refresh(array(
    SELECT property_id FROM bookings_booking UNION SELECT property_id FROM properties_availabilityblock));
ANALYZE bookings_occupancy;
"""

DROP = """
DROP TRIGGER IF EXISTS occupancy_booking_insert ON bookings_booking;
DROP TRIGGER IF EXISTS occupancy_booking_update ON bookings_booking;
DROP TRIGGER IF EXISTS occupancy_booking_delete ON bookings_booking;
DROP TRIGGER IF EXISTS occupancy_block_insert ON properties_availabilityblock;
DROP TRIGGER IF EXISTS occupancy_block_update ON properties_availabilityblock;
DROP TRIGGER IF EXISTS occupancy_block_delete ON properties_availabilityblock;
DROP FUNCTION IF EXISTS bookings_occupancy_booking_changed();
DROP FUNCTION IF EXISTS bookings_occupancy_block_changed();
DROP FUNCTION IF EXISTS bookings_occupancy_refresh(bigint[]);
DROP INDEX IF EXISTS booking_expiring_occupancy;
"""


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(CREATE)


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP)


class Migration(migrations.Migration):

    dependencies = [
        ('bookings', '0017_merge_group_and_language'),
        ('properties', '0011_merge_default_language'),
    ]

    operations = [
        migrations.CreateModel(
            name='Occupancy',
            fields=[
                ('property', models.OneToOneField(db_constraint=False, on_delete=django.db.models.deletion.DO_NOTHING, primary_key=True, related_name='+', serialize=False, to='properties.property')),
                ('origin', models.DateField()),
                ('booked', bookings.models.NightBitsField()),
                ('blocked', bookings.models.NightBitsField()),
            ],
            options={
                'db_table': 'bookings_occupancy',
                'default_permissions': (),
            },
        ),
        migrations.RunPython(forwards, backwards),
    ]
