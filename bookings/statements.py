# ruff: noqa: S608, S611
# (Every name formatted into these statements is a table or column name of the models, or a status constant of this
# code base; every value is a bound parameter.)
"""The hand-written statements of :func:`bookings.services.reserve` on PostgreSQL: three round trips per booking.

``reserve()`` through the ORM sent 15 statements per booking (issue 16, docs/performance-writes.md): the lock, the
property's date overrides, the stale holds, the nearby stays, the blocks, the guest (a read, then an insert), the
pricing rules, a savepoint, the booking, the audit row, the outbox event. Here the same work is three statements:

1. ``SELECT … FOR UPDATE`` of the property row, nothing else. The checks must not be part of this statement:
   PostgreSQL evaluates a ``SELECT … FOR UPDATE``'s subqueries with the snapshot taken *before* it waited for the
   lock, so they would miss the booking the previous lock holder just committed.
2. the property with, as columns of the same row, its date overrides and pricing rules
   (JSON), the ids of its stale holds and reservations, the (check-in, check-out) of the occupying stays within
   the buffer days around the requested nights, and whether a block covers one of them. Read committed gives
   this statement a snapshot taken after the lock was granted: it sees every booking committed before.
   :func:`lock_and_read` sends 1 and 2 (and the ``BEGIN``) in one round trip: psycopg's pipeline mode.
3. :func:`insert_reservation`: one statement of data-modifying CTEs: the guest found or created (the rules of
   :func:`guests.services.find_or_create_guest`, :func:`guests.services.guest_upsert_cte_sql`), the booking, its
   audit row and its outbox event. The reference is allocated with ``ON CONFLICT (reference) DO NOTHING``: a
   collision inserts nothing and the caller draws another reference, without the savepoint the ORM path needs.
   The exclusion constraint ``booking_no_overlap`` stays the last line: its violation aborts the statement.

SQLite, holds converted to reservations, and every other service keep the ORM path; stale rows (found by
statement 2) are expired through :func:`bookings.state_machine.apply_transition` as before, so they cost their
own statements only when there are some.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from django.db import DEFAULT_DB_ALIAS, connection, connections
from django.db.models import Model
from django.utils import timezone

from core import metrics, outbox
from core.actor import Actor
from core.context import current_cause
from core.correlation import current_correlation_id
from guests.models import Guest
from guests.services import GUEST_ATTNAMES, GuestInput, guest_upsert_cte_params, guest_upsert_cte_sql
from properties.models import DateOverride, PricingRule, Property

from .models import EXPIRING_STATUSES, OCCUPYING_STATUSES, AvailabilityBlock, Booking, BookingEvent
from .state_machine import booking_payload, count_created


def _in_list(values) -> str:
    """``('held', 'reserved')``: status constants of this code base (never user input), as SQL literals."""
    return "(" + ", ".join("'" + str(v).replace("'", "''") + "'" for v in values) + ")"


@dataclass
class UnderLock:
    """What :func:`lock_and_read` read: the property (date overrides and pricing rules prefetched), the occupying
    stays near the requested nights, the stale rows to expire and whether a block covers a requested night."""

    prop: Property
    nearby: list[tuple[date, date]]
    stale_ids: list[int]
    blocked: bool


def _rows(model: type[Model], text: str | None) -> list:
    """Model instances from ``json_agg(row)::text``, as if read by the ORM (numbers as ``Decimal``)."""
    if not text:
        return []
    fields = model._meta.concrete_fields
    names = [f.attname for f in fields]
    return [model.from_db(connection.alias, names, [f.to_python(row[f.column]) for f in fields])
            for row in json.loads(text, parse_float=Decimal)]


def _prefetched(instance: Model, manager_name: str, objects: list) -> None:
    """Fill ``instance.<manager_name>.all()`` as ``prefetch_related`` does, with rows read already."""
    manager = getattr(instance, manager_name)
    cache_name = manager.field.remote_field.cache_name
    qs = manager.get_queryset()
    qs._result_cache = objects
    qs._prefetch_done = True
    for obj in objects:
        manager.field.set_cached_value(obj, instance)
    setattr(instance, "_prefetched_objects_cache",  # noqa: B010 - Django's own attribute, unknown to the stubs
            {**getattr(instance, "_prefetched_objects_cache", {}), cache_name: qs})


@functools.cache
def _read_sql(alias: str) -> tuple[str, list[str], list[tuple[int, list]]]:
    """The second statement of :func:`lock_and_read` (built once per process), the property's attnames in the order it
    returns them, and the converters the ORM would apply to them (e.g. a JSON column)."""
    conn = connections[alias]
    p = Property._meta.db_table
    fields: list[Any] = list(Property._meta.concrete_fields)
    converters = []
    for i, f in enumerate(fields):
        col = f.get_col(p)
        found = conn.ops.get_db_converters(col) + f.get_db_converters(conn)
        if found:
            converters.append((i, found))
    b = Booking._meta.db_table
    sql = (
        f"SELECT {', '.join(f'p.{f.column}' for f in fields)}, "
        f"(SELECT json_agg(o ORDER BY o.start_date, o.id)::text FROM {DateOverride._meta.db_table} o "
        f"WHERE o.property_id = p.id), "
        f"(SELECT json_agg(r ORDER BY r.kind, r.priority DESC, r.id)::text FROM {PricingRule._meta.db_table} r "
        f"WHERE r.property_id = p.id), "
        # The rows occupying_bookings() finds (an expired hold or reservation is free even before the expiry job
        # marks it: occupying_q), within the buffer days around the nights asked for.
        f"(SELECT json_agg(json_build_array(b.check_in, b.check_out))::text FROM {b} b "
        f"WHERE b.property_id = p.id AND b.status IN {_in_list(OCCUPYING_STATUSES)} "
        f"AND NOT (b.status IN {_in_list(EXPIRING_STATUSES)} AND b.expires_at <= %(now)s "
        f"AND b.expires_at IS NOT NULL) "
        f"AND b.check_in < %(check_out)s::date + p.buffer_days AND b.check_out > %(check_in)s::date - p.buffer_days), "
        f"(SELECT array_agg(b.id ORDER BY b.id) FROM {b} b WHERE b.property_id = p.id "
        f"AND b.status IN {_in_list(EXPIRING_STATUSES)} AND b.expires_at <= %(now)s), "
        f"EXISTS (SELECT 1 FROM {AvailabilityBlock._meta.db_table} k WHERE k.property_id = p.id "
        f"AND k.start_date < %(check_out)s AND k.end_date > %(check_in)s) "
        f"FROM {p} p WHERE p.id = %(id)s"
    )
    return sql, [f.attname for f in fields], converters


def lock_and_read(property_id, check_in: date, check_out: date, now: datetime) -> UnderLock:
    """Lock the property row for the rest of the transaction (the booking mutex), then read, in a statement of its
    own, everything ``reserve()`` checks. Both statements (and the transaction's ``BEGIN``) go in one round trip
    (psycopg's pipeline mode): PostgreSQL still runs them one after the other, so the read starts, and takes its
    snapshot, only once the lock is granted."""
    conn = connections[DEFAULT_DB_ALIAS]
    sql, attnames, converters = _read_sql(conn.alias)
    conn.ensure_connection()
    with conn.connection.pipeline(), conn.cursor() as lock, conn.cursor() as read:
        lock.execute(f"SELECT 1 FROM {Property._meta.db_table} WHERE id = %s FOR UPDATE", [property_id])
        read.execute(sql, {"id": property_id, "check_in": check_in, "check_out": check_out, "now": now})
        row = read.fetchone()
    metrics.start_lock_clock()  # calendar_lock_duration_seconds, as lock_property does
    if row is None:
        from .errors import PropertyUnavailable

        raise PropertyUnavailable("This property does not exist.")
    n = len(attnames)
    values = list(row[:n])
    for i, funcs in converters:
        for func in funcs:
            values[i] = func(values[i], None, conn)
    prop = Property.from_db(conn.alias, attnames, values)
    overrides, rules, nearby, stale, blocked = row[n:]
    _prefetched(prop, "date_overrides", _rows(DateOverride, overrides))
    _prefetched(prop, "pricing_rules", _rows(PricingRule, rules))
    near = [(date.fromisoformat(a), date.fromisoformat(z)) for a, z in json.loads(nearby or "[]")]
    return UnderLock(prop, near, list(stale or []), bool(blocked))


def _json_value(value):
    """A field's value as ``jsonb_populate_record`` reads it back into the column's type."""
    if isinstance(value, (date, datetime)):  # datetime is a date
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    return value


@functools.cache
def _insert_sql(alias: str) -> tuple[str, tuple[str, ...]]:
    """The statement of :func:`insert_reservation` (built once per process: psycopg caches the parsing of
    statements up to 4 KB, and a test keeps this one below that) and the booking's fields it reads from the JSON."""
    guest_sql = guest_upsert_cte_sql()
    # What the ORM inserts: every concrete column but the key and generated ones (the guest's id comes from the CTE).
    fields = [f for f in Booking._meta.concrete_fields
              if not f.primary_key and not getattr(f, "generated", False) and f.attname != "guest_id"]
    columns = ", ".join(f.column for f in fields)
    from_record = ", ".join(f"r.{f.column}" for f in fields)
    b, e, o = Booking._meta.db_table, BookingEvent._meta.db_table, outbox.table()
    sql = (
        f"WITH {guest_sql}, "
        # One parameter carries the booking: PostgreSQL reads every column in its own type from the JSON.
        f"new_booking AS (INSERT INTO {b} ({columns}, guest_id) SELECT {from_record}, guest.id "
        f"FROM jsonb_populate_record(NULL::{b}, %(booking)s::jsonb) r, guest "
        f"ON CONFLICT (reference) DO NOTHING RETURNING id), "
        f"audit AS (INSERT INTO {e} (from_status, to_status, actor_type, actor_user_id, actor_label, reason, cause, "
        f"created_at, booking_id) SELECT '', %(to_status)s, %(actor_type)s, %(actor_user_id)s::bigint, "
        f"%(actor_label)s, %(reason)s, %(cause)s, %(at)s::timestamptz, id FROM new_booking), "
        f"event AS (INSERT INTO {o} (id, topic, aggregate_type, aggregate_id, payload, created_at, attempts, "
        f"last_error, correlation_id) SELECT %(event_id)s::uuid, %(topic)s, 'booking', id::text, "
        f"%(payload)s::jsonb || jsonb_build_object('booking_id', id), %(stamp)s::timestamptz, 0, '', "
        f"%(correlation_id)s FROM new_booking) "
        f"SELECT (SELECT id FROM new_booking), guest.* FROM guest"
    )
    return sql, tuple(f.attname for f in fields)


def insert_reservation(booking: Booking, guest: GuestInput, actor: Actor, reason: str, now: datetime) -> bool:
    """Insert the guest (found or created), ``booking``, its audit row and its ``booking.created`` outbox event in
    one statement. Sets ``booking.pk``, ``booking.guest`` and the timestamps. Returns False (nothing written but
    the guest) when ``booking.reference`` is taken: the caller draws another one and calls again.

    Raises ``IntegrityError`` when a constraint refuses the booking (the exclusion constraint: the caller's
    ``DatesUnavailable``)."""
    conn = connections[DEFAULT_DB_ALIAS]
    sql, attnames = _insert_sql(conn.alias)
    stamp = timezone.now()  # what auto_now_add / auto_now would write
    booking.created_at = booking.updated_at = stamp
    row = {name: _json_value(getattr(booking, name)) for name in attnames}
    event_id, payload = outbox.prepare("booking.created", {k: v for k, v in booking_payload(booking).items()
                                                            if k != "booking_id"})
    who = BookingEvent.actor_fields(actor)
    user = who["actor_user"]
    params = {**guest_upsert_cte_params(guest, stamp), "booking": json.dumps(row),
              "to_status": booking.status, "actor_type": who["actor_type"],
              "actor_user_id": user.pk if user is not None else None, "actor_label": who["actor_label"],
              "reason": reason, "cause": current_cause(), "at": now,
              "event_id": event_id, "topic": "booking.created", "payload": json.dumps(payload), "stamp": stamp,
              "correlation_id": current_correlation_id() or ""}
    with conn.cursor() as cur:
        cur.execute(sql, params)
        found = cur.fetchone()
    booking.guest = Guest.from_db(conn.alias, GUEST_ATTNAMES, list(found[1:]))
    if found[0] is None:
        return False
    booking.pk = found[0]
    booking._state.adding = False
    booking._state.db = conn.alias
    outbox.written(event_id, payload)
    count_created(booking)  # bookings_created_total, as record_creation does
    return True
