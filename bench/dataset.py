"""Builds the benchmark data set with COPY, fast.

Default size: 10,000 properties and 500,000 bookings spread over two years
(today - 365 days .. today + 365 days), with owners, amenities, photos, stay
rules, pricing rules, a few date overrides and owner blocks, and a pool of guests.

Bookings of one property never overlap: each property's two years are cut into
as many equal slots as it has bookings, and each stay (1-10 nights) sits inside
its own slot, so the data satisfies the ``booking_no_overlap`` exclusion
constraint. Owner blocks sit in the free part of a slot, after its stay.

The bookings go in the way a bulk load into PostgreSQL goes fastest, without
being checked any less: inside the build's one transaction, the secondary indexes,
unique and exclusion constraints and foreign keys of ``bookings_booking`` are
dropped (their definitions read from the catalog first), the rows are COPYed, and
everything is re-created from those same definitions. Re-adding the exclusion
constraint builds its GiST index and fails on any overlapping pair, re-adding a
foreign key checks every row in one join, so each row is still checked, once, in
bulk, instead of one index insertion and two deferred trigger events per row.
This is what makes 100,000 properties and 5,000,000 bookings buildable on a 2-core
machine (docs/benchmarks.md has the build times).

A one-row table ``bench_dataset`` records what was built; :func:`current` reads
it so a second run reuses the data set, and :func:`reset` removes whatever a
benchmark run added (bookings, audit rows, outbox events, guests, idempotency keys).
"""

from __future__ import annotations

import io
import random
import time
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

REFERENCE_ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"
SPAN_DAYS = 730
CITIES = [
    ("Lisbon", "Lisboa", "PT"), ("Porto", "Porto", "PT"), ("Barcelona", "Catalonia", "ES"),
    ("Valencia", "Valencia", "ES"), ("Nice", "Provence", "FR"), ("Paris", "Ile-de-France", "FR"),
    ("Berlin", "Berlin", "DE"), ("Munich", "Bavaria", "DE"), ("Vienna", "Vienna", "AT"),
    ("Rome", "Lazio", "IT"), ("Florence", "Tuscany", "IT"), ("Split", "Dalmatia", "HR"),
    ("Athens", "Attica", "GR"), ("London", "England", "GB"), ("Edinburgh", "Scotland", "GB"),
    ("Dublin", "Leinster", "IE"), ("Amsterdam", "North Holland", "NL"), ("Copenhagen", "Capital", "DK"),
    ("Austin", "Texas", "US"), ("Denver", "Colorado", "US"), ("Miami", "Florida", "US"),
    ("Asheville", "North Carolina", "US"), ("Santa Fe", "New Mexico", "US"), ("Portland", "Maine", "US"),
    ("Tahoe City", "California", "US"), ("Bozeman", "Montana", "US"), ("Kyoto", "Kyoto", "JP"),
    ("Cape Town", "Western Cape", "ZA"), ("Queenstown", "Otago", "NZ"), ("Byron Bay", "NSW", "AU"),
]
CURRENCY_BY_COUNTRY = {"PT": "EUR", "ES": "EUR", "FR": "EUR", "DE": "EUR", "AT": "EUR", "IT": "EUR", "HR": "EUR",
                       "GR": "EUR", "IE": "EUR", "NL": "EUR", "GB": "GBP", "DK": "DKK", "US": "USD", "JP": "JPY",
                       "ZA": "ZAR", "NZ": "NZD", "AU": "AUD"}
TIMEZONES = {"PT": "Europe/Lisbon", "ES": "Europe/Madrid", "FR": "Europe/Paris", "DE": "Europe/Berlin",
             "AT": "Europe/Vienna", "IT": "Europe/Rome", "HR": "Europe/Zagreb", "GR": "Europe/Athens",
             "GB": "Europe/London", "IE": "Europe/Dublin", "NL": "Europe/Amsterdam", "DK": "Europe/Copenhagen",
             "US": "America/New_York", "JP": "Asia/Tokyo", "ZA": "Africa/Johannesburg", "NZ": "Pacific/Auckland",
             "AU": "Australia/Sydney"}
KINDS = ["Apartment", "Cottage", "Loft", "Villa", "Cabin", "Townhouse", "Studio", "Farmhouse", "Chalet", "Bungalow"]
ADJECTIVES = ["Sunny", "Quiet", "Cosy", "Bright", "Old Town", "Harbour", "Garden", "Hillside", "Riverside", "Modern"]
AMENITIES = ["wifi", "kitchen", "washer", "dryer", "air-conditioning", "heating", "pool", "hot-tub", "parking",
             "ev-charger", "fireplace", "bbq", "balcony", "sea-view", "workspace", "crib", "pets-allowed",
             "gym", "sauna", "elevator"]
POLICIES = ["flexible", "moderate", "strict"]
SOURCES = ["direct"] * 4 + ["airbnb"] * 3 + ["booking_com"] * 2 + ["expedia", "fewo_direkt", "google_vr", "owner"]
MARKER_DDL = """
CREATE TABLE IF NOT EXISTS bench_dataset (
    id int PRIMARY KEY,
    properties int NOT NULL,
    bookings int NOT NULL,
    built_on date NOT NULL,
    max_booking_id bigint NOT NULL,
    max_guest_id bigint NOT NULL,
    max_user_id bigint NOT NULL,
    seconds double precision NOT NULL
)"""


@dataclass(frozen=True)
class Marker:
    properties: int
    bookings: int
    built_on: date
    max_booking_id: int
    max_guest_id: int
    max_user_id: int
    seconds: float


def current(cur) -> Marker | None:
    cur.execute("SELECT to_regclass('bench_dataset') IS NOT NULL")
    if not cur.fetchone()[0]:
        return None
    cur.execute("SELECT properties, bookings, built_on, max_booking_id, max_guest_id, max_user_id, seconds "
                "FROM bench_dataset WHERE id = 1")
    row = cur.fetchone()
    return Marker(*row) if row else None


def reset(cur, marker: Marker) -> None:
    """Remove everything a benchmark run added on top of the data set."""
    cur.execute("DELETE FROM bookings_bookingevent")
    cur.execute("DELETE FROM bookings_outboxdelivery")
    cur.execute("DELETE FROM bookings_outboxevent")
    cur.execute("DELETE FROM bookings_idempotencykey")
    cur.execute("DELETE FROM bookings_booking WHERE id > %s", [marker.max_booking_id])
    cur.execute("DELETE FROM guests_guest WHERE id > %s", [marker.max_guest_id])


def _ref(i: int, year: int) -> str:
    # An odd multiplier is a bijection modulo 32**5: unique, but not visibly sequential.
    n = (i * 2654435761 + 12345) % (32 ** 5)
    chars = []
    for _ in range(5):
        n, r = divmod(n, 32)
        chars.append(REFERENCE_ALPHABET[r])
    return f"PMS-{year}-{''.join(chars)}"


def _ts(d: date, hour: int = 12) -> str:
    return f"{d.isoformat()} {hour:02d}:00:00+00"


@dataclass(frozen=True)
class _Deferred:
    """What ``bookings_booking`` loses for the duration of the COPY, as SQL that puts it back."""

    drops: list[str]
    creates: list[str]


def _defer_checks(cur, table: str) -> _Deferred:
    """Read the table's secondary indexes and its unique, exclusion and foreign-key constraints from the catalog.

    The primary key and the CHECK constraints stay (both cost next to nothing per row). The definitions are
    PostgreSQL's own (``pg_get_indexdef``/``pg_get_constraintdef``), so the re-created objects are exactly what
    the migrations made, under the same names."""
    cur.execute(
        "SELECT conname, pg_get_constraintdef(oid), contype FROM pg_constraint "
        "WHERE conrelid = %s::regclass AND contype IN ('u', 'x', 'f') ORDER BY contype = 'f', conname",
        [table],
    )
    constraints = cur.fetchall()
    cur.execute(
        "SELECT i.relname, pg_get_indexdef(i.oid) FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid "
        "WHERE x.indrelid = %s::regclass "
        "AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = x.indexrelid AND c.conrelid = x.indrelid) "
        "ORDER BY i.relname",
        [table],
    )
    indexes = cur.fetchall()
    drops = [f'ALTER TABLE {table} DROP CONSTRAINT "{name}"' for name, _def, _kind in constraints]
    drops += [f'DROP INDEX "{name}"' for name, _def in indexes]
    creates = [definition for _name, definition in indexes]
    # unique and exclusion constraints first (they build their own indexes), foreign keys last
    creates += [f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {definition}' for name, definition, _ in constraints]
    return _Deferred(drops, creates)


class _Copier:
    """Buffers tab-separated rows and streams them through COPY in chunks."""

    def __init__(self, cur, table: str, columns: list[str]):
        self.cur, self.table, self.columns = cur, table, columns
        self.buf = io.StringIO()
        self.rows = 0

    def add(self, *values) -> None:
        self.buf.write("\t".join("\\N" if v is None else str(v) for v in values))
        self.buf.write("\n")
        self.rows += 1

    def flush(self) -> int:
        data = self.buf.getvalue()
        if data:
            with self.cur.copy(f"COPY {self.table} ({', '.join(self.columns)}) FROM STDIN") as copy:
                step = 1 << 20
                for start in range(0, len(data), step):
                    copy.write(data[start:start + step])
        self.buf = io.StringIO()
        return self.rows


def build(cur, n_properties: int, n_bookings: int, *, today: date | None = None, seed: int = 42,
          log=print) -> Marker:
    """Fill an empty, migrated database. ``cur`` is a raw psycopg 3 cursor (autocommit off)."""
    t0 = time.perf_counter()
    rnd = random.Random(seed)
    today = today or datetime.now(UTC).date()
    span_start = today - timedelta(days=SPAN_DAYS // 2)
    now_ts = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S+00")
    cur.execute("SET LOCAL synchronous_commit = off")
    # index builds after the bulk load sort in memory (the machine has far more than this)
    cur.execute("SET LOCAL maintenance_work_mem = '1GB'")

    # Owners (users with unusable passwords).
    n_owners = max(5, n_properties // 50)
    users = _Copier(cur, "guests_user", ["id", "password", "is_superuser", "first_name", "last_name", "is_staff",
                                         "is_active", "date_joined", "email", "full_name"])
    for i in range(1, n_owners + 1):
        users.add(i, "!bench", "f", "", "", "f", "t", now_ts, f"owner{i}@bench.example", f"Owner {i}")
    users.flush()

    amenities = _Copier(cur, "properties_amenity", ["id", "code", "name"])
    for i, code in enumerate(AMENITIES, 1):
        amenities.add(i, code, code.replace("-", " ").capitalize())
    amenities.flush()

    # Properties and what hangs off them.
    props = _Copier(cur, "properties_property", [
        "id", "name", "slug", "description", "house_rules", "street", "city", "region", "postal_code", "country",
        "latitude", "longitude", "max_guests", "bedrooms", "bathrooms", "currency", "base_price", "cleaning_fee",
        "extra_guest_fee", "guests_included", "tax_rate", "status", "timezone", "check_in_time", "check_out_time",
        "cancellation_policy", "min_stay", "max_stay", "buffer_days", "checkin_weekdays", "checkout_weekdays",
        "min_lead_days", "max_advance_days", "created_at", "updated_at", "owner_id",
    ])
    links = _Copier(cur, "properties_property_amenities", ["property_id", "amenity_id"])
    # renditions: none (the benchmark serves no image; the pages fall back to the original, docs/accessibility.md)
    photos = _Copier(cur, "properties_propertyphoto", ["property_id", "image", "alt_text", "position", "renditions"])
    rules = _Copier(cur, "properties_pricingrule", [
        "property_id", "name", "kind", "adjustment", "value", "priority", "active", "weekend_days", "start_date",
        "end_date", "days", "min_nights", "created_at",
    ])
    overrides = _Copier(cur, "properties_dateoverride", [
        "property_id", "start_date", "end_date", "nightly_price", "min_stay", "max_stay", "checkin_weekdays",
        "checkout_weekdays", "note", "created_at",
    ])
    prices = {}
    for pid in range(1, n_properties + 1):
        city, region, country = CITIES[pid % len(CITIES)]
        kind = rnd.choice(KINDS)
        name = f"{rnd.choice(ADJECTIVES)} {kind} {pid}"
        currency = CURRENCY_BY_COUNTRY[country]
        price = rnd.randrange(60, 480) * (150 if currency == "JPY" else 1)
        prices[pid] = price
        status = "active" if rnd.random() < 0.95 else rnd.choice(["draft", "archived"])
        max_guests = rnd.choice([1, 2, 2, 3, 4, 4, 4, 5, 6, 6, 8, 10])
        r = rnd.random()
        min_stay = 1 if r < 0.6 else 2 if r < 0.85 else rnd.choice([3, 4, 5, 7])
        buffer_days = 0 if rnd.random() < 0.85 else rnd.choice([1, 1, 2])
        checkin_days = 127 if rnd.random() < 0.92 else rnd.choice([1 << 5, (1 << 4) | (1 << 5) | (1 << 0)])
        checkout_days = 127 if rnd.random() < 0.95 else rnd.choice([1 << 5, 1 << 6])
        min_lead = 0 if rnd.random() < 0.8 else rnd.choice([1, 2, 3, 7])
        max_adv = 365 if rnd.random() < 0.85 else rnd.choice([180, 270, 540])
        props.add(
            pid, name, f"bench-{pid}", f"A {kind.lower()} in {city} for up to {max_guests} guests.", "",
            f"{rnd.randrange(1, 300)} Main Street", city, region, f"{rnd.randrange(10000, 99999)}", country,
            None, None, max_guests, max(1, max_guests // 2), "1.5" if max_guests > 4 else "1.0", currency,
            f"{price}.00", f"{rnd.choice([0, 25, 40, 60, 90])}.00", f"{rnd.choice([0, 0, 10, 20])}.00",
            2, rnd.choice(["0.00", "7.00", "10.00", "12.50", "20.00"]), status, TIMEZONES[country],
            "15:00", "11:00", rnd.choice(POLICIES), min_stay, max(min_stay, rnd.choice([14, 30, 90, 365])),
            buffer_days, checkin_days, checkout_days, min_lead, max_adv, now_ts, now_ts,
            1 + pid % n_owners,
        )
        for amenity in rnd.sample(range(1, len(AMENITIES) + 1), rnd.randrange(3, 9)):
            links.add(pid, amenity)
        for pos in range(2):
            photos.add(pid, f"properties/{pid}/photo-{pos}.jpg", f"{name}, photo {pos + 1}", pos, "{}")
        if rnd.random() < 0.4:
            rules.add(pid, "Weekend", "weekend", "percent", "15.00", 0, "t", 48, None, None, None, None, now_ts)
        if rnd.random() < 0.2:
            rules.add(pid, "Weekly stay", "length_of_stay", "percent", "-10.00", 0, "t", 48, None, None, None, 7,
                      now_ts)
        if rnd.random() < 0.1:
            s = date(today.year, 7, 1)
            rules.add(pid, "Summer", "seasonal", "percent", "20.00", 0, "t", 48, s, s + timedelta(days=62), None,
                      None, now_ts)
        if rnd.random() < 0.05:
            rules.add(pid, "Last minute", "last_minute", "percent", "-15.00", 0, "t", 48, None, None, 7, None,
                      now_ts)
        if rnd.random() < 0.03:
            start = today + timedelta(days=rnd.randrange(0, 330))
            overrides.add(pid, start, start + timedelta(days=rnd.randrange(7, 60)), f"{int(price * 1.3)}.00",
                          rnd.choice([None, 3, 7]), None, None, None, "Peak season", now_ts)
    log(f"  properties: {props.flush():,} (+{links.flush():,} amenity links, {photos.flush():,} photos, "
        f"{rules.flush():,} pricing rules, {overrides.flush():,} date overrides)")

    n_guests = max(100, min(100_000, n_bookings // 5))
    guests = _Copier(cur, "guests_guest", ["id", "name", "email", "phone", "country", "created_at", "updated_at"])
    for i in range(1, n_guests + 1):
        guests.add(i, f"Guest {i}", f"guest{i}@bench.example", "", "", now_ts, now_ts)
    guests.flush()

    # The occupancy triggers (bookings.0018_occupancy) are off during the COPY and the table filled once after
    # it, set-based: one recompute of every property instead of one per COPY chunk.
    cur.execute("ALTER TABLE bookings_booking DISABLE TRIGGER occupancy_booking_insert")
    cur.execute("ALTER TABLE properties_availabilityblock DISABLE TRIGGER occupancy_block_insert")

    # Bookings: per property, equal slots over the two years, one stay per slot.
    bookings = _Copier(cur, "bookings_booking", [
        "id", "reference", "source", "external_id", "check_in", "check_out", "adults", "children", "status",
        "payment_status", "currency", "quote", "subtotal", "fees", "discounts", "taxes", "total", "amount_paid",
        "amount_refunded", "cancellation_policy", "expires_at", "special_requests", "cancellation_reason",
        "rules_overridden", "created_at", "updated_at", "confirmed_at", "checked_in_at", "checked_out_at",
        "cancelled_at", "guest_id", "property_id", "access_version",
    ])
    blocks = _Copier(cur, "properties_availabilityblock", [
        "property_id", "start_date", "end_date", "reason", "note", "created_at", "tentative", "external_summary",
    ])
    # Stays are generated per property, then inserted in the order they were booked
    # (created_at), as a live system would have written them: rows of the same dates
    # sit near each other on disk roughly as much as in production.
    stays = []
    per, extra = divmod(n_bookings, n_properties)
    for pid in range(1, n_properties + 1):
        n = per + (1 if pid <= extra else 0)
        if not n:
            continue
        slot = SPAN_DAYS / n
        block_slot = rnd.randrange(n) if rnd.random() < 0.05 else -1
        for i in range(n):
            lo, hi = int(i * slot), int((i + 1) * slot)
            size = max(1, hi - lo)
            nights = rnd.randint(1, min(10, size))
            off = rnd.randint(0, size - nights)
            start = lo + off
            if i == block_slot and size - off - nights >= 1:
                blocks.add(pid, span_start + timedelta(days=start + nights), span_start + timedelta(days=hi),
                           rnd.choice(["blocked", "maintenance", "owner_use"]), "", now_ts, False, "")
            lead = min(300, 1 + int(rnd.expovariate(1 / 35)))  # days booked ahead of arrival
            stays.append((start - lead, rnd.randrange(86400), pid, start, nights))
    stays.sort()
    log(f"  bookings planned in {time.perf_counter() - t0:.1f} s (since the start of the build)")
    deferred = _defer_checks(cur, "bookings_booking")
    # the deferred foreign-key checks of the rows loaded so far run now: PostgreSQL alters no table with
    # pending trigger events (and the small tables loaded after this are checked row by row)
    cur.execute("SET CONSTRAINTS ALL IMMEDIATE")
    for statement in deferred.drops:
        cur.execute(statement)
    t_copy = time.perf_counter()
    bid = 0
    for created_day, created_sec, pid, start, nights in stays:
        ci = span_start + timedelta(days=start)
        co = ci + timedelta(days=nights)
        created = span_start + timedelta(days=created_day)
        created_at = f"{created.isoformat()} {created_sec // 3600:02d}:{created_sec // 60 % 60:02d}:00+00"
        bid += 1
        cancelled = rnd.random() < 0.05
        if cancelled:
            status, pay = "cancelled", "refunded"
        elif co <= today:
            status, pay = "checked_out", "paid"
        elif ci <= today:
            status, pay = "checked_in", "paid"
        else:
            status, pay = "confirmed", "paid"
        total = prices[pid] * nights
        currency = CURRENCY_BY_COUNTRY[CITIES[pid % len(CITIES)][2]]
        source = rnd.choice(SOURCES)
        bookings.add(
            bid, _ref(bid, created.year), source, f"ext-{bid}" if source not in ("direct", "owner") else "",
            ci, co, rnd.choice([1, 2, 2, 2, 3, 4]), rnd.choice([0, 0, 0, 1, 2]), status, pay, currency, "{}",
            f"{total}.00", "0.00", "0.00", "0.00", f"{total}.00", f"{total}.00",
            f"{total}.00" if cancelled else "0.00", "{}", None, "", "Guest cancelled." if cancelled else "",
            "f", created_at, created_at, created_at,
            _ts(ci, 15) if status in ("checked_in", "checked_out") else None,
            _ts(co, 10) if status == "checked_out" else None, created_at if cancelled else None,
            rnd.randrange(1, n_guests + 1), pid, 0,
        )
        if bookings.rows >= 100_000:
            bookings.flush()
            bookings.rows = 0
            log(f"  bookings: {bid:,} …")
    bookings.flush()
    log(f"  bookings: {bid:,} in {time.perf_counter() - t_copy:.1f} s, owner blocks: {blocks.flush():,}, "
        f"guests: {n_guests:,}")
    t_checks = time.perf_counter()
    for statement in deferred.creates:  # every row checked here: an overlap or a dangling key fails the build
        cur.execute(statement)
    log(f"  {len(deferred.creates)} indexes and constraints of bookings_booking re-created (and checked) in "
        f"{time.perf_counter() - t_checks:.1f} s")
    t1 = time.perf_counter()
    cur.execute("SET CONSTRAINTS ALL IMMEDIATE")  # run the deferred foreign-key checks now: ALTER TABLE needs none
    cur.execute("ALTER TABLE bookings_booking ENABLE TRIGGER occupancy_booking_insert")
    cur.execute("ALTER TABLE properties_availabilityblock ENABLE TRIGGER occupancy_block_insert")
    cur.execute("SELECT bookings_occupancy_refresh(array(SELECT id FROM properties_property))")
    log(f"  occupancy bit strings: {time.perf_counter() - t1:.1f} s")

    for table in ("guests_user", "properties_amenity", "properties_property", "guests_guest", "bookings_booking"):
        cur.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))")
    cur.execute(MARKER_DDL)
    marker = Marker(n_properties, n_bookings, today, bid, n_guests, n_owners, time.perf_counter() - t0)
    cur.execute("INSERT INTO bench_dataset VALUES (1, %s, %s, %s, %s, %s, %s, %s)",
                [marker.properties, marker.bookings, marker.built_on, marker.max_booking_id, marker.max_guest_id,
                 marker.max_user_id, marker.seconds])
    return marker
