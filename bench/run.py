"""``make bench``: build (or reuse) a data set in PostgreSQL and print what the hot paths cost.

    python -m bench.run [--properties 10000] [--bookings 500000] [--rebuild] [--quick]
                        [--iterations N] [--explain] [--skip-http] [--skip-pages] [--processes] [--keep-data]
                        [--json PATH] [--scaling 1000,10000,100000] [--build-only]

Rows: search through ``bookings.search.search`` next to one hand-written
SQL query (the floor); availability and quote for one property; the guest
pages (search page, property page with calendar and quote) over HTTP from
gunicorn next to a Django view returning a fixed string (the floor); booking
creation through ``bookings.services.reserve`` with 8 threads on distinct
dates (next to its floor: lock + check + insert as raw SQL) and 8 on the same
dates (exactly one booking per contested range, or the run fails); booking
creation through the HTTP API (gunicorn, 4 workers) with 8 clients. Each row
shows p50 / p95 latency, operations per second and database queries per operation.

The data set lives in its own database (``stayhold_bench`` by default;
``BENCH_DATABASE_URL`` or ``--db-url`` to change) and is reused when it has the
requested size. Whatever a run adds (bookings, guests, audit and outbox rows) is
deleted at the end, so the next run measures the same data.

``--json PATH`` also writes every figure of the printed table as JSON (bench/results.py);
``--scaling 1000,10000,100000`` runs this once per size, each in its own database (50
bookings per property), and prints the scaling table (docs/benchmarks.md).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import random
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DB_URL = "postgres://postgres@127.0.0.1:5432/stayhold_bench"
# BENCH_REDIS_URL lets two benchmark runs share the machine without flushing each other's queue.
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/13")
THREADS = 8
# How long an HTTP client of the bench waits for an answer. Only a guard against a hung server: on a machine
# shared with other jobs (load average 15 on 2 cores) the first request, which waits for gunicorn's workers to
# import Django, took longer than the 30 s this used to be.
HTTP_TIMEOUT = float(os.environ.get("BENCH_HTTP_TIMEOUT", "120"))

OCCUPYING_SQL = "('held', 'reserved', 'confirmed', 'checked_in', 'checked_out')"
# The floor: page 1 of the same question, asked as one hand-written query.
FLOOR_SQL = f"""
SELECT p.id, p.base_price, count(*) OVER () AS total
FROM properties_property p
WHERE p.status = 'active' AND p.max_guests >= %(guests)s
  AND NOT EXISTS (
      SELECT 1 FROM bookings_booking b
      WHERE b.property_id = p.id
        AND b.status IN {OCCUPYING_SQL}
        AND NOT (b.status IN ('held', 'reserved') AND b.expires_at <= %(now)s)
        AND daterange(b.check_in, b.check_out, '[)') && daterange(%(ci)s::date, %(co)s::date, '[)'))
  AND NOT EXISTS (
      SELECT 1 FROM properties_availabilityblock k
      WHERE k.property_id = p.id AND k.start_date < %(co)s AND k.end_date > %(ci)s)
ORDER BY p.base_price, p.id
LIMIT 20
"""

# The floor's question (free of bookings and blocks, guests; the first 20 by price and the total) answered from
# the occupancy bit strings (bookings.0018_occupancy), clock-dependent holds checked beside them as search does.
BITS_FLOOR_SQL = """
SELECT p.id, p.base_price, count(*) OVER () AS total
FROM properties_property p LEFT JOIN bookings_occupancy o ON o.property_id = p.id
WHERE p.status = 'active' AND p.max_guests >= %(guests)s
  AND (o.property_id IS NULL OR (
      bit_count(substring(o.booked FROM %(ci)s::date - o.origin + 1 FOR %(nights)s)) = 0
      AND bit_count(substring(o.blocked FROM %(ci)s::date - o.origin + 1 FOR %(nights)s)) = 0))
  AND NOT EXISTS (
      SELECT 1 FROM bookings_booking h
      WHERE h.property_id = p.id AND h.status IN ('held', 'reserved') AND h.expires_at IS NOT NULL
        AND h.expires_at > %(now)s AND h.check_in < %(co)s AND h.check_out > %(ci)s)
ORDER BY p.base_price, p.id
LIMIT 20
"""


def log(msg: str = "") -> None:
    print(msg, flush=True)


# --- database setup (before Django is configured) ------------------------------------------------


def _admin_url(db_url: str) -> tuple[str, str]:
    parts = urlsplit(db_url)
    name = parts.path.lstrip("/")
    admin = urlunsplit((parts.scheme.replace("postgres", "postgresql", 1) if parts.scheme == "postgres"
                        else parts.scheme, parts.netloc, "/postgres", "", ""))
    return admin, name


def _pg_url(db_url: str) -> str:
    return db_url.replace("postgres://", "postgresql://", 1)


def prepare_database(db_url: str, n_props: int, n_bookings: int, rebuild: bool) -> bool:
    """Make sure the database exists; drop it when a rebuild is needed. True when a build is needed."""
    import psycopg

    from bench import dataset

    admin, name = _admin_url(db_url)
    with psycopg.connect(admin, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone() is not None
    if exists and not rebuild:
        with psycopg.connect(_pg_url(db_url)) as conn, conn.cursor() as cur:
            marker = dataset.current(cur)
        fresh = marker is not None and (date.today() - marker.built_on).days <= 30  # dates are relative to the build
        if marker and fresh and (marker.properties, marker.bookings) == (n_props, n_bookings):
            log(f"Reusing the data set in {name}: {marker.properties:,} properties, {marker.bookings:,} bookings, "
                f"built {marker.built_on} in {marker.seconds:.0f} s (--rebuild to rebuild).")
            return False
        state = ("a data set older than 30 days" if marker and not fresh else "another size" if marker
                 else "no complete data set")
        log(f"{name} holds {state}: rebuilding.")
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    return True


def configure_django(db_url: str) -> None:
    os.environ["DATABASE_URL"] = db_url
    os.environ["REDIS_URL"] = REDIS_URL
    os.environ["DJANGO_DEBUG"] = "false"
    # Production settings over plain HTTP on loopback: no redirect to https (the bench has no TLS proxy).
    os.environ["DJANGO_SECURE_SSL_REDIRECT"] = "false"
    os.environ.setdefault("DJANGO_SECRET_KEY", "bench-only-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz")
    os.environ["API_THROTTLE_CREATE"] = "1000000/min"
    os.environ["LOG_LEVEL"] = "ERROR"
    os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings"
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()


def build_dataset(n_props: int, n_bookings: int):
    from django.core.management import call_command
    from django.db import connection, transaction

    from bench import dataset

    t0 = time.perf_counter()
    call_command("migrate", verbosity=0, interactive=False)
    log(f"  migrated in {time.perf_counter() - t0:.1f} s")
    with transaction.atomic(), connection.cursor() as cur:
        marker = dataset.build(cur.cursor, n_props, n_bookings, log=log)
    t1 = time.perf_counter()
    with connection.cursor() as cur:
        cur.execute("VACUUM ANALYZE")
    log(f"  loaded in {marker.seconds:.1f} s, VACUUM ANALYZE {time.perf_counter() - t1:.1f} s")
    return marker


def load_marker():
    from django.db import connection

    from bench import dataset

    with connection.cursor() as cur:
        return dataset.current(cur.cursor)


def reset_run_data(marker) -> None:
    from django.db import connection

    from bench import dataset

    with connection.cursor() as cur:
        dataset.reset(cur.cursor, marker)
    try:
        import redis

        redis.Redis.from_url(REDIS_URL).flushdb()
    except Exception as exc:  # noqa: BLE001 - best effort: the queued outbox tasks are only clutter
        log(f"  (could not flush {REDIS_URL}: {exc})")


# --- measuring -----------------------------------------------------------------------------------


@dataclass
class Row:
    """One line of a printed table (and one object of the ``--json`` file, bench/results.py).

    ``key`` names the measure stably across runs and sizes ("search", "page.search", "reserve", …: the JSON
    and the scaling table find rows by it, not by their printed name, which carries figures); ``floor`` is the
    key of the row it is compared with in the same run; ``facts`` holds figures that are not latencies (the
    number of properties a search found, …)."""

    name: str
    samples_ms: list[float] = field(default_factory=list)
    ops_per_s: float | None = None
    queries: int | None = None
    note: str = ""
    skipped: str = ""
    key: str = ""
    floor: str = ""
    facts: dict = field(default_factory=dict)

    def figures(self) -> tuple[float | None, float | None, float | None]:
        """p50 ms, p95 ms, operations per second (None where skipped)."""
        if self.skipped or not self.samples_ms:
            return None, None, self.ops_per_s if not self.skipped else None
        ops = self.ops_per_s if self.ops_per_s is not None else 1000 / statistics.fmean(self.samples_ms)
        return percentile(self.samples_ms, 50), percentile(self.samples_ms, 95), ops

    def cells(self) -> list[str]:
        if self.skipped:
            return [self.name, "n/a", "n/a", "n/a", "n/a", self.skipped]
        p50, p95, ops = self.figures()
        assert p50 is not None and p95 is not None and ops is not None
        return [self.name, f"{p50:.2f}", f"{p95:.2f}", f"{ops:,.0f}",
                "-" if self.queries is None else str(self.queries), self.note]


def percentile(samples: list[float], pct: float) -> float:
    ordered = sorted(samples)
    k = (len(ordered) - 1) * pct / 100
    lo = int(k)
    hi = min(lo + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


def time_calls(fn, n: int, warmup: int = 3) -> list[float]:
    for _ in range(warmup):
        fn()
    out = []
    for _ in range(n):
        t = time.perf_counter()
        fn()
        out.append((time.perf_counter() - t) * 1000)
    return out


def time_interleaved(fn_a, fn_b, n: int, warmup: int = 3) -> tuple[list[float], list[float]]:
    for _ in range(warmup):
        fn_a()
        fn_b()
    a, b = [], []
    for _ in range(n):
        for fn, out in ((fn_a, a), (fn_b, b)):
            t = time.perf_counter()
            fn()
            out.append((time.perf_counter() - t) * 1000)
    return a, b


def count_queries(fn) -> int:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as ctx:
        fn()
    return len(ctx.captured_queries)


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return "(" + line.split(":", 1)[1].strip() + ")"
    except OSError:
        pass
    return ""


def print_cells(header: list[str], body: list[list[str]], align: list[str]) -> None:
    table = [header] + body
    widths = [max(len(r[i]) for r in table) for i in range(len(header))]

    def fmt(r):
        return "  ".join(f"{c:{a}{w}}" for c, a, w in zip(r, align, widths, strict=True)).rstrip()

    log(fmt(header))
    log("  ".join("-" * w for w in widths))
    for r in body:
        log(fmt(r))


def print_table(rows: list[Row]) -> None:
    print_cells(["operation", "p50 ms", "p95 ms", "ops/s", "queries/op", "notes"], [r.cells() for r in rows],
                ["<", ">", ">", ">", ">", "<"])


# --- scenarios -----------------------------------------------------------------------------------


def bench_search(today: date, iterations: int, explain: bool) -> list[Row]:
    from django.db import connection
    from django.utils import timezone

    from bookings.search import SearchQuery, search

    ci = today + timedelta(days=45)
    co = ci + timedelta(days=7)
    q = SearchQuery(check_in=ci, check_out=co, guests=2)
    page = search(q)
    params = {"ci": ci, "co": co, "guests": 2, "now": timezone.now()}

    def floor():
        with connection.cursor() as cur:
            cur.execute(FLOOR_SQL, params)
            return cur.fetchall()

    floor_rows = floor()
    floor_total = floor_rows[0][2] if floor_rows else 0
    if explain:
        from django.test.utils import CaptureQueriesContext

        with CaptureQueriesContext(connection) as ctx:
            search(q)
        page_sql = next(x["sql"] for x in ctx.captured_queries if "OVER ()" in x["sql"])
        with connection.cursor() as cur:
            cur.execute("EXPLAIN ANALYZE " + page_sql)
            log(f"\nEXPLAIN ANALYZE of search()'s page query ({ci} → {co}, 2 guests):")
            log("\n".join(r[0] for r in cur.fetchall()))
            cur.execute("EXPLAIN ANALYZE " + FLOOR_SQL, params)
            log("\nEXPLAIN ANALYZE of the floor query:")
            log("\n".join(r[0] for r in cur.fetchall()))
        log()
    # Interleaved, so that all see the same machine (other load comes and goes): search, the ORM definition it
    # replaced on PostgreSQL (issue 16's "before"), the hand-written floor, and the same question as the floor
    # answered from the occupancy bit strings (docs/performance-search.md).
    from bookings.search import _search_orm

    def bits_floor():
        with connection.cursor() as cur:
            cur.execute(BITS_FLOOR_SQL, {**params, "nights": (co - ci).days})
            return cur.fetchall()

    bits_rows = bits_floor()
    fns = [lambda: search(q), lambda: _search_orm(q, timezone.now()), floor, bits_floor]
    samples: list[list[float]] = [[] for _ in fns]
    for _ in range(3):
        for fn in fns:
            fn()
    for _ in range(iterations):
        for fn, out in zip(fns, samples, strict=True):
            t = time.perf_counter()
            fn()
            out.append((time.perf_counter() - t) * 1000)
    search_ms, orm_ms, floor_ms, bits_ms = samples
    s = Row(f"search 7 nights, 2 guests (page 1 of {page.total:,})", search_ms,
            queries=count_queries(lambda: search(q)), key="search", floor="search.floor",
            facts={"total": page.total})
    before = Row(f"  before: the ORM search (page 1 of {_search_orm(q, timezone.now()).total:,})", orm_ms,
                 queries=count_queries(lambda: _search_orm(q, timezone.now())),
                 note="the same results without the occupancy bit strings (SQLite's path)", key="search.before",
                 floor="search.floor")
    f = Row(f"  floor: one hand-written SQL query (page 1 of {floor_total:,})", floor_ms,
            queries=1, note="overlap + block + guests only; search also applies stay rules", key="search.floor",
            facts={"total": floor_total})
    b = Row(f"  floor: the same over the bit strings (page 1 of {bits_rows[0][2] if bits_rows else 0:,})", bits_ms,
            queries=1, note="the floor's question from bookings_occupancy: no stay rules, related rows, quotes",
            key="search.floor.bits", facts={"total": bits_rows[0][2] if bits_rows else 0})
    r50 = percentile(s.samples_ms, 50) / percentile(f.samples_ms, 50)
    r95 = percentile(s.samples_ms, 95) / percentile(f.samples_ms, 95)
    s.note = f"{r50:.1f}x floor at p50, {r95:.1f}x at p95 (goal: p95 <= 10 ms)"
    return [s, before, f, b]


def pick_property(today: date):
    """A typical bookable property: default stay rules, no overrides, free in 60 days for 3 nights."""
    from bookings.availability import check_availability
    from properties.models import Property

    ci = today + timedelta(days=60)
    for prop in Property.objects.active().filter(min_stay__lte=3, max_guests__gte=2, checkin_weekdays=127,
                                                 checkout_weekdays=127, pricing_rules__isnull=False,
                                                 date_overrides__isnull=True).distinct().order_by("id")[:200]:
        if check_availability(prop, ci, ci + timedelta(days=3), 2).available:
            return prop, ci, ci + timedelta(days=3)
    raise RuntimeError("no bookable property found")


def bench_quote(today: date, iterations: int) -> list[Row]:
    from bookings.availability import check_availability
    from properties.models import Property
    from properties.pricing import quote

    prop, ci, co = pick_property(today)

    def avail():
        return check_availability(prop, ci, co, 2)

    def price():
        return quote(prop, ci, co, 2)

    def both():
        p = Property.objects.get(pk=prop.pk)
        return check_availability(p, ci, co, 2), quote(p, ci, co, 2)

    return [
        Row("availability, 1 property, 3 nights", time_calls(avail, iterations), queries=count_queries(avail),
            key="availability"),
        Row("quote, 1 property, 3 nights", time_calls(price, iterations), queries=count_queries(price),
            note="goal <= 5 ms", key="quote"),
        Row("load property + availability + quote", time_calls(both, iterations), queries=count_queries(both),
            key="property+availability+quote"),
    ]


def free_slots(today: date, nights: int = 2) -> list[tuple[int, date, date]]:
    """(property, check-in, check-out) that are free and pass every rule, several per property, disjoint."""
    from django.db import connection

    cands_p, cands_d = [], []
    with connection.cursor() as cur:
        cur.execute(
            "SELECT id FROM properties_property p WHERE status = 'active' AND max_guests >= 2 AND min_stay <= %s "
            "AND max_stay >= %s AND buffer_days = 0 AND checkin_weekdays = 127 AND checkout_weekdays = 127 "
            "AND min_lead_days <= 14 AND max_advance_days >= 330 "
            "AND NOT EXISTS (SELECT 1 FROM properties_dateoverride o WHERE o.property_id = p.id) "
            # the first 10,000 such properties are plenty (a run books ~3,000 slots); at 100,000 properties
            # this keeps the candidate list (15 per property) from growing tenfold for nothing
            "ORDER BY id LIMIT 10000",
            [nights, nights],
        )
        pids = [r[0] for r in cur.fetchall()]
        for pid in pids:
            for j in range(15):
                cands_p.append(pid)
                cands_d.append(today + timedelta(days=14 + 20 * j + pid % 11))
        cur.execute(
            f"""SELECT t.pid, t.ci FROM unnest(%s::bigint[], %s::date[]) AS t(pid, ci)
            WHERE NOT EXISTS (SELECT 1 FROM bookings_booking b WHERE b.property_id = t.pid
                AND b.status IN {OCCUPYING_SQL}
                AND daterange(b.check_in, b.check_out, '[)') && daterange(t.ci, t.ci + %s, '[)'))
            AND NOT EXISTS (SELECT 1 FROM properties_availabilityblock k WHERE k.property_id = t.pid
                AND k.start_date < t.ci + %s AND k.end_date > t.ci)""",
            [cands_p, cands_d, nights, nights],
        )
        slots = [(pid, ci, ci + timedelta(days=nights)) for pid, ci in cur.fetchall()]
    random.Random(7).shuffle(slots)
    return slots


def _guest(i: int, tag: str):
    from guests.services import GuestInput

    return GuestInput(name=f"Bench {tag} {i}", email=f"bench-{tag}-{i}@bench.example")


def run_threads(work: list[list], target) -> tuple[float, list]:
    """Run ``target(items, results)`` in one thread per work list; each thread closes its DB connection."""
    from django.db import connection

    results: list = []
    lock = threading.Lock()

    def runner(items):
        out = []
        try:
            target(items, out)
        finally:
            connection.close()
            with lock:
                results.extend(out)

    threads = [threading.Thread(target=runner, args=(items,)) for items in work]
    t = time.perf_counter()
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    return time.perf_counter() - t, results


RAW_INSERT = """
INSERT INTO bookings_booking (reference, source, external_id, check_in, check_out, adults, children, status,
    payment_status, currency, quote, subtotal, fees, discounts, taxes, total, amount_paid, amount_refunded,
    cancellation_policy, expires_at, special_requests, cancellation_reason, rules_overridden, created_at, updated_at,
    reserved_at, property_id, access_version)
VALUES (%s, 'direct', '', %s, %s, 2, 0, 'reserved', 'unpaid', 'USD', '{}', 0, 0, 0, 0, 0, 0, 0, '{}',
    now() + interval '30 minutes', '', '', false, now(), now(), now(), %s, 0)
"""


def bench_raw_floor(db_url: str, slots: list, per_thread: int) -> Row:
    """The floor of booking creation: lock + overlap check + insert as raw SQL, 8 threads, own connections."""
    import psycopg

    batch = [slots.pop() for _ in range(THREADS * per_thread)]
    work = [batch[i::THREADS] for i in range(THREADS)]
    counter = iter(range(10**9))
    lock = threading.Lock()

    def target(items, out):
        with psycopg.connect(_pg_url(db_url)) as conn:
            for pid, ci, co in items:
                with lock:
                    n = next(counter)
                t = time.perf_counter()
                with conn.transaction():
                    conn.execute("SELECT id FROM properties_property WHERE id = %s FOR UPDATE", [pid])
                    taken = conn.execute(
                        f"SELECT 1 FROM bookings_booking WHERE property_id = %s AND status IN {OCCUPYING_SQL} "
                        "AND daterange(check_in, check_out, '[)') && daterange(%s, %s, '[)') LIMIT 1",
                        [pid, ci, co],
                    ).fetchone()
                    if not taken:
                        conn.execute(RAW_INSERT, [f"PMS-FLOOR-{n:07d}", ci, co, pid])
                out.append(("taken" if taken else "ok", (time.perf_counter() - t) * 1000))

    wall, results = run_threads(work, target)
    ok = sum(1 for r in results if r[0] == "ok")
    return Row(f"  floor: raw SQL lock + check + insert, {THREADS} threads", [r[1] for r in results],
               ops_per_s=ok / wall, queries=3, note=f"{ok}/{len(results)} inserted (no audit row, outbox, quote)",
               key="reserve.floor")


def _reserve_in_process(items: list) -> list[tuple[str, float]]:
    """One client process of the multi-process row: its own interpreter and database connection."""
    from django.db import connection

    from bookings.services import reserve
    from core.actor import Actor

    actor = Actor.system("bench")
    out = []
    try:
        for n, (pid, ci, co) in enumerate(items):
            t = time.perf_counter()
            try:
                reserve(property_id=pid, check_in=ci, check_out=co, adults=2, guest=_guest(n, f"p{pid}"), actor=actor)
                out.append(("ok", (time.perf_counter() - t) * 1000))
            except Exception as exc:  # noqa: BLE001 - counted and shown
                out.append((type(exc).__name__, (time.perf_counter() - t) * 1000))
    finally:
        connection.close()
    return out


def bench_reserve_processes(slots: list, per_client: int) -> Row:
    """reserve() from 8 processes (as gunicorn workers would call it): no shared interpreter lock."""
    import multiprocessing

    from django.db import connections

    batch = [slots.pop() for _ in range(THREADS * per_client)]
    work = [batch[i::THREADS] for i in range(THREADS)]
    connections.close_all()  # a forked child must not inherit an open connection
    with multiprocessing.get_context("fork").Pool(THREADS) as pool:
        pool.map(time.sleep, [0.01] * THREADS)  # start the workers before the clock does
        t = time.perf_counter()
        results = [r for part in pool.map(_reserve_in_process, work) for r in part]
        wall = time.perf_counter() - t
    ok = sum(1 for r in results if r[0] == "ok")
    errors = sorted({r[0] for r in results if r[0] != "ok"})
    return Row(f"  reserve(), {THREADS} processes, distinct dates", [r[1] for r in results], ops_per_s=ok / wall,
               queries=None, note=f"{ok}/{len(results)} created" + (f", errors: {errors}" if errors else ""),
               key="reserve.processes", floor="reserve.floor")


def bench_reserve(slots: list, per_thread: int, contested_rounds: int) -> list[Row]:
    from bookings.errors import DatesUnavailable
    from bookings.models import Booking
    from bookings.services import reserve
    from core.actor import Actor

    actor = Actor.system("bench")

    def do_reserve(slot, i, tag):
        pid, ci, co = slot
        return reserve(property_id=pid, check_in=ci, check_out=co, adults=2, guest=_guest(i, tag), actor=actor)

    # queries per reserve(), the median of three calls outside the timed runs (a reference that
    # collides with an existing one costs a retry: three more statements)
    counts = []
    for i in range(3):
        slot = slots.pop()
        counts.append(count_queries(lambda slot=slot, i=i: do_reserve(slot, i, "q")))
    queries = sorted(counts)[1]

    distinct = [slots.pop() for _ in range(THREADS * per_thread)]
    work = [distinct[i::THREADS] for i in range(THREADS)]

    def distinct_target(items, out):
        for n, slot in enumerate(items):
            t = time.perf_counter()
            try:
                do_reserve(slot, n, f"d{slot[0]}")
                out.append(("ok", (time.perf_counter() - t) * 1000))
            except Exception as exc:  # noqa: BLE001 - counted and shown
                out.append((type(exc).__name__, (time.perf_counter() - t) * 1000))

    cpu = time.process_time()
    wall, results = run_threads(work, distinct_target)
    cpu = (time.process_time() - cpu) * 1000
    ok = sum(1 for r in results if r[0] == "ok")
    errors = sorted({r[0] for r in results if r[0] != "ok"})
    d = Row(f"reserve(), {THREADS} threads, distinct dates", [r[1] for r in results], ops_per_s=ok / wall,
            queries=queries, note=f"{ok}/{len(results)} created" + (f", errors: {errors}" if errors else "")
            + f"; {cpu / len(results):.1f} ms Python CPU/op under one GIL (goal >= 50% of the raw floor, <= 6 queries)",
            key="reserve", floor="reserve.floor", facts={"python_cpu_ms_per_op": round(cpu / len(results), 2)})

    # contested: all threads try the same property and dates, round after round
    contested = [slots.pop() for _ in range(contested_rounds)]
    barrier = threading.Barrier(THREADS)

    def contested_target(items, out):
        (idx,) = items
        for r, slot in enumerate(contested):
            barrier.wait()
            t = time.perf_counter()
            try:
                b = do_reserve(slot, idx, f"c{r}")
                out.append((r, "ok", b.pk, (time.perf_counter() - t) * 1000))
            except DatesUnavailable:
                out.append((r, "conflict", None, (time.perf_counter() - t) * 1000))
            except Exception as exc:  # noqa: BLE001 - reported below
                out.append((r, type(exc).__name__, None, (time.perf_counter() - t) * 1000))

    wall_c, results_c = run_threads([[i] for i in range(THREADS)], contested_target)
    winners = [sum(1 for x in results_c if x[0] == r and x[1] == "ok") for r in range(contested_rounds)]
    others = sorted({x[1] for x in results_c} - {"ok", "conflict"})
    in_db = [
        Booking.objects.occupying().filter(property_id=pid, check_in=ci, check_out=co).count()
        for pid, ci, co in contested
    ]
    exact = sum(1 for w, n in zip(winners, in_db, strict=True) if w == 1 and n == 1)
    assert exact == contested_rounds and not others, (
        f"contested ranges: winners {winners}, rows {in_db}, unexpected outcomes {others}"
    )
    c = Row(f"reserve(), {THREADS} threads, SAME dates", [x[3] for x in results_c],
            ops_per_s=len(results_c) / wall_c, queries=None,
            note=f"{exact}/{contested_rounds} contested ranges -> exactly 1 booking each; "
                 f"{len(results_c) - contested_rounds} clean conflicts (409)", key="reserve.contested")
    log(f"  contested: {exact} of {contested_rounds} ranges got exactly one booking "
        f"({THREADS} clients each); the other {len(results_c) - contested_rounds} attempts got DatesUnavailable")
    return [d, c]


# --- HTTP ----------------------------------------------------------------------------------------


def endpoint_exists() -> bool:
    from django.urls import Resolver404, resolve

    try:
        resolve("/api/v1/bookings")
        return True
    except Resolver404:
        return False


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _server_cpu_ms(pid: int) -> float | None:
    """CPU time used so far by gunicorn's workers (Linux /proc), or None where unavailable."""
    try:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        ticks = 0
        for child in children:
            fields = Path(f"/proc/{child}/stat").read_text().rsplit(")", 1)[1].split()
            ticks += int(fields[11]) + int(fields[12])  # utime, stime
        return ticks * 1000 / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return None


def _post(port: int, path: str, body: dict, conn=None):
    import http.client

    conn = conn or http.client.HTTPConnection("127.0.0.1", port, timeout=HTTP_TIMEOUT)
    conn.request("POST", path, body=json.dumps(body), headers={"Content-Type": "application/json"})
    resp = conn.getresponse()
    data = resp.read()
    keep = resp.getheader("Connection", "").lower() != "close" and not resp.will_close
    if not keep:
        conn.close()
        conn = None
    return resp.status, data, conn


def _body(slot, i: int) -> dict:
    pid, ci, co = slot
    return {"property_id": pid, "check_in": ci.isoformat(), "check_out": co.isoformat(), "adults": 2, "children": 0,
            "guest": {"name": f"HTTP Guest {i}", "email": f"http-{i}-{pid}@bench.example"}}


def http_queries(slot) -> int:
    from django.test import Client

    client = Client()
    holder = {}

    def call():
        holder["resp"] = client.post("/api/v1/bookings", data=_body(slot, 0), content_type="application/json")

    n = count_queries(call)
    if holder["resp"].status_code != 201:
        raise RuntimeError(f"in-process POST /api/v1/bookings answered {holder['resp'].status_code}: "
                           f"{holder['resp'].content[:300]!r}")
    return n


@contextlib.contextmanager
def gunicorn_server(db_url: str, workers: int, settings: str = "config.settings", extra_env: dict | None = None):
    """``gunicorn config.wsgi`` as in production, on a free port of 127.0.0.1; always stopped on exit.

    ``settings``/``extra_env``: the page rows run it with ``bench.settings`` (the production
    settings plus the floor URL and a temporary ``STATIC_ROOT``)."""
    port = _free_port()
    env = {**os.environ, "DATABASE_URL": db_url, "REDIS_URL": REDIS_URL, "DJANGO_DEBUG": "false",
           "DJANGO_SECRET_KEY": os.environ["DJANGO_SECRET_KEY"], "API_THROTTLE_CREATE": "1000000/min",
           "DJANGO_ALLOWED_HOSTS": "127.0.0.1", "LOG_LEVEL": "ERROR", "DJANGO_SETTINGS_MODULE": settings,
           # Plain HTTP on the loopback, like the app behind a TLS-terminating proxy: no redirect to https.
           "DJANGO_SECURE_SSL_REDIRECT": "false",
           **(extra_env or {})}
    gunicorn = str(Path(sys.executable).with_name("gunicorn"))
    # The server's output goes to a file, not a pipe: a chatty server must never block on a full pipe.
    with tempfile.TemporaryFile() as server_log:
        proc = subprocess.Popen(
            [gunicorn, "config.wsgi", "--bind", f"127.0.0.1:{port}", "--workers", str(workers),
             "--log-level", "warning", "--keep-alive", "5"],
            cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=server_log,
        )
        try:
            deadline = time.monotonic() + 30
            while True:
                if proc.poll() is not None:
                    server_log.seek(0)
                    raise RuntimeError(f"gunicorn exited: {server_log.read().decode(errors='replace')[-2000:]}")
                try:
                    with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                        break
                except OSError:
                    if time.monotonic() > deadline:
                        raise RuntimeError("gunicorn did not start within 30 s") from None
                    time.sleep(0.2)
            try:
                yield proc, port
            except Exception as exc:
                server_log.seek(0)
                tail = server_log.read().decode(errors="replace")[-3000:]
                if tail.strip():
                    log(f"  gunicorn's log (last lines):\n{tail}")
                raise exc
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def bench_http(db_url: str, slots: list, per_client: int, workers: int) -> list[Row]:
    if not endpoint_exists():
        return [Row(f"POST /api/v1/bookings, {THREADS} clients", skipped="n/a (endpoint missing)", key="api")]
    queries = http_queries(slots.pop())
    with gunicorn_server(db_url, workers) as (proc, port):
        # warm every worker up (imports, connections) with bookings that are not timed
        for i in range(workers * 2):
            _post(port, "/api/v1/bookings", _body(slots.pop(), 10_000 + i))

        batch = [slots.pop() for _ in range(THREADS * per_client)]
        work = [list(enumerate(batch[i::THREADS], start=i * per_client)) for i in range(THREADS)]

        def target(items, out):
            conn = None
            for i, slot in items:
                t = time.perf_counter()
                try:
                    status, data, conn = _post(port, "/api/v1/bookings", _body(slot, i), conn)
                except OSError as exc:
                    status, data, conn = 0, str(exc).encode(), None
                out.append((status, (time.perf_counter() - t) * 1000, data[:200]))
            if conn is not None:
                conn.close()

        cpu_before = _server_cpu_ms(proc.pid)
        wall, results = run_threads(work, target)
        cpu_after = _server_cpu_ms(proc.pid)
    created = sum(1 for r in results if r[0] == 201)
    bad = [(r[0], r[2]) for r in results if r[0] != 201]
    note = f"{created}/{len(results)} -> 201; gunicorn {workers} sync workers"
    facts = {}
    if cpu_before is not None and cpu_after is not None and results:
        note += f", {(cpu_after - cpu_before) / len(results):.1f} ms worker CPU/request"
        facts["worker_cpu_ms_per_request"] = round((cpu_after - cpu_before) / len(results), 2)
    note += " (goal >= 200/s)"
    if bad:
        note += f"; first failure: {bad[0][0]} {bad[0][1]!r}"
    return [Row(f"POST /api/v1/bookings, {THREADS} clients", [r[1] for r in results], ops_per_s=created / wall,
                queries=queries, note=note, key="api", facts=facts)]


# --- guest pages over HTTP -----------------------------------------------------------------------

PAGE_GOALS_MS = {"search": 30, "property": 15}  # p95 goals of the guest pages, in ms (issue 16; README "Benchmarks")


@dataclass
class Page:
    key: str  # "search", "property" or "floor"
    name: str
    path: str
    markers: tuple[bytes, ...]  # what a correct answer contains (checked on every response)


def guest_pages(today: date) -> list[Page]:
    """The search page for 7 nights 45 days ahead over all properties, the property page of a typical
    bookable property with a stay (so it renders the calendar and the quote), and the floor."""
    from urllib.parse import urlencode

    ci = today + timedelta(days=45)
    co = ci + timedelta(days=7)
    prop, pci, pco = pick_property(today)
    search_q = urlencode({"q": "", "check_in": ci.isoformat(), "check_out": co.isoformat(), "guests": 2})
    prop_q = urlencode({"check_in": pci.isoformat(), "check_out": pco.isoformat(), "adults": 2})
    return [
        Page("search", "GET / (search page, 7 nights, 2 guests)", f"/?{search_q}",
             (b'<li class="card">', b'href="/static/css/site.')),
        Page("property", f"GET /properties/{prop.slug}/ (calendar + quote)", f"/properties/{prop.slug}/?{prop_q}",
             (b'<table class="cal">', b'class="quote-table"', b"Reserve</a>")),
        Page("floor", "  floor: Django view returning a fixed string", "/bench/floor/", (b"ok",)),
    ]


def _get(port: int, path: str) -> tuple[int, bytes]:
    """One GET on a new connection (gunicorn's sync workers close it after each response)."""
    import http.client

    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=HTTP_TIMEOUT)
    try:
        conn.request("GET", path, headers={"Accept": "text/html", "Accept-Encoding": "identity"})
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()


def _check(page: Page, status: int, body: bytes) -> None:
    missing = [m.decode() for m in page.markers if m not in body]
    if status != 200 or missing:
        raise RuntimeError(f"{page.path} answered {status} without {missing}: {body[:300]!r}")


@contextlib.contextmanager
def collected_static():
    """``collectstatic`` into a temporary STATIC_ROOT: with DEBUG off, whitenoise's manifest storage needs it."""
    with tempfile.TemporaryDirectory(prefix="stayhold-bench-static-") as static_root:
        env = {**os.environ, "DJANGO_SETTINGS_MODULE": "bench.settings", "BENCH_STATIC_ROOT": static_root,
               "DJANGO_DEBUG": "false"}
        done = subprocess.run([sys.executable, "manage.py", "collectstatic", "--noinput", "-v0"], cwd=ROOT, env=env,
                              capture_output=True, text=True, timeout=300)
        if done.returncode != 0:
            raise RuntimeError(f"collectstatic failed: {(done.stderr or done.stdout)[-1500:]}")
        yield static_root


def page_queries(pages: list[Page], static_root: str) -> dict[str, int]:
    """Queries per request, counted in-process with Django's test client (same data and settings), untimed."""
    from django.test import Client, override_settings

    counts = {}
    with override_settings(ROOT_URLCONF="bench.urls", STATIC_ROOT=static_root):
        client = Client()
        for page in pages:
            client.get(page.path)  # first request of a process: fills caches (content types, templates)
            responses = []
            counts[page.key] = count_queries(lambda page=page, out=responses: out.append(client.get(page.path)))
            _check(page, responses[0].status_code, responses[0].content)
    return counts


def bench_pages(db_url: str, today: date, iterations: int, workers: int, concurrent_per_client: int) -> list[Row]:
    """The guest pages over HTTP from gunicorn (DEBUG off, whitenoise), next to the framework's floor.

    Latency: one sequential client, the three URLs requested in turn (search, property, floor), so
    that whatever else loads the machine weighs on all three alike. Then throughput: ``workers``
    client threads per URL for a bounded number of requests."""
    pages = guest_pages(today)
    with collected_static() as static_root:
        queries = page_queries(pages, static_root)
        with gunicorn_server(db_url, workers, settings="bench.settings",
                             extra_env={"BENCH_STATIC_ROOT": static_root}) as (proc, port):
            # the pages link the hashed stylesheet of the manifest, and whitenoise serves it
            status, body = _get(port, pages[0].path)
            _check(pages[0], status, body)
            stylesheet = re.search(rb'href="(/static/css/site\.[0-9a-f]{12}\.css)"', body)
            if stylesheet is None or _get(port, stylesheet.group(1).decode())[0] != 200:
                raise RuntimeError(f"the hashed stylesheet is not linked or not served: {stylesheet}")
            for _ in range(4 * workers):  # warm every worker up (imports, connections, template cache)
                for page in pages:
                    _check(page, *_get(port, page.path))
            samples: dict[str, list[float]] = {p.key: [] for p in pages}
            for _ in range(iterations):
                for page in pages:
                    t = time.perf_counter()
                    status, body = _get(port, page.path)
                    samples[page.key].append((time.perf_counter() - t) * 1000)
                    _check(page, status, body)
            concurrent = {}
            for page in pages:
                def target(items, out, page=page):
                    for _ in items:
                        status, _body = _get(port, page.path)
                        out.append(status)

                cpu_before = _server_cpu_ms(proc.pid)
                wall, results = run_threads([range(concurrent_per_client)] * workers, target)
                cpu_after = _server_cpu_ms(proc.pid)
                ok = sum(1 for s in results if s == 200)
                cpu = ((cpu_after - cpu_before) / len(results) if cpu_before is not None and cpu_after is not None
                       else None)
                concurrent[page.key] = (ok / wall, ok, len(results), cpu)

    rows = []
    floor_p50 = percentile(samples["floor"], 50)
    for page in pages:
        per_s, ok, total, cpu = concurrent[page.key]
        note = f"{per_s:,.0f} req/s with {workers} clients ({ok}/{total} -> 200"
        note += f", {cpu:.1f} ms worker CPU/request)" if cpu is not None else ")"
        goal = PAGE_GOALS_MS.get(page.key)
        if goal is not None:
            p95 = percentile(samples[page.key], 95)
            verdict = "met" if p95 <= goal else "MISSED"
            note += (f"; {percentile(samples[page.key], 50) / floor_p50:.0f}x floor at p50;"
                     f" goal p95 <= {goal} ms: {verdict}")
        rows.append(Row(page.name, samples[page.key], queries=queries[page.key], note=note, key=f"page.{page.key}",
                        floor="" if page.key == "floor" else "page.floor",
                        facts={"req_per_s_concurrent": round(per_s, 1), "concurrent_clients": workers}
                        | ({"worker_cpu_ms_per_request": round(cpu, 2)} if cpu is not None else {})))
    return rows


# --- main ----------------------------------------------------------------------------------------


BOOKINGS_PER_PROPERTY = 50  # the default data set's ratio (500,000 / 10,000), kept at every size
SCALING_PASS_FLAGS = ("--quick", "--rebuild", "--skip-http", "--skip-pages", "--processes", "--keep-data")


def parse_args(argv=None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__.split("\n\n")[0])
    ap.add_argument("--properties", type=int, default=10_000)
    ap.add_argument("--bookings", type=int, default=None,
                    help=f"default: {BOOKINGS_PER_PROPERTY} per property (500,000 for the default 10,000)")
    ap.add_argument("--rebuild", action="store_true", help="rebuild the data set even if it has the right size")
    ap.add_argument("--quick", action="store_true", help="fewer iterations (a smoke run)")
    ap.add_argument("--iterations", type=int, default=None, help="timed calls per read benchmark (default 200)")
    ap.add_argument("--explain", action="store_true", help="print EXPLAIN ANALYZE of the search and the floor")
    ap.add_argument("--skip-http", action="store_true", help="leave out the gunicorn rows (API and guest pages)")
    ap.add_argument("--skip-pages", action="store_true", help="leave out the guest-page rows")
    ap.add_argument("--processes", action="store_true",
                    help="also run reserve() from 8 processes (no shared interpreter lock)")
    ap.add_argument("--workers", type=int, default=4, help="gunicorn workers for the HTTP row")
    ap.add_argument("--keep-data", action="store_true", help="do not delete the bookings this run created")
    ap.add_argument("--db-url", default=os.environ.get("BENCH_DATABASE_URL", DEFAULT_DB_URL),
                    help="with --scaling: the name of each size's database is derived from it (see --scaling)")
    ap.add_argument("--json", metavar="PATH", help="also write every figure of the printed table(s) to PATH "
                                                   "(bench/results.py describes the format)")
    ap.add_argument("--scaling", metavar="N,N,...",
                    help="run at each number of properties (50 bookings each), each size in its own database "
                         "(the --db-url name + _p<N>, or with {size} in the name: 1k, 10k, 100k), built once and "
                         "reused; then print the scaling table")
    ap.add_argument("--build-only", action="store_true", help="build (or find) the data set, measure nothing")
    args = ap.parse_args(argv)
    if args.scaling and args.bookings is not None:
        ap.error("--scaling keeps 50 bookings per property: leave out --bookings")
    if args.bookings is None:
        args.bookings = BOOKINGS_PER_PROPERTY * args.properties
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.scaling:
        return run_scaling(args, argv)
    return run_once(args, argv)


def run_once(args: argparse.Namespace, argv=None) -> int:
    from bench import results

    info = results.RunInfo("bench.run", argv)
    iterations = args.iterations or (30 if args.quick else 200)
    per_thread = 20 if args.quick else 150
    rounds = 10 if args.quick else 50
    per_client = 10 if args.quick else 60

    started = time.perf_counter()
    load_at_start = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    log(f"Stayhold benchmark: {args.properties:,} properties, {args.bookings:,} bookings, database {args.db_url}")
    needs_build = prepare_database(args.db_url, args.properties, args.bookings, args.rebuild)
    configure_django(args.db_url)
    build_wall = None
    if needs_build:
        log("Building the data set …")
        t_build = time.perf_counter()
        marker = build_dataset(args.properties, args.bookings)
        build_wall = time.perf_counter() - t_build
        log(f"  built in {build_wall:.0f} s (migrate + load + VACUUM ANALYZE)")
    else:
        from django.core.management import call_command

        call_command("migrate", verbosity=0, interactive=False)  # a no-op unless the schema moved on
        marker = load_marker()
    info.dataset = {"properties": marker.properties, "bookings": marker.bookings,
                    "database": _admin_url(args.db_url)[1], "built_on": marker.built_on.isoformat(),
                    "load_seconds": round(marker.seconds, 1), "built_in_this_run": needs_build,
                    "build_wall_seconds": None if build_wall is None else round(build_wall, 1)}
    if args.build_only:
        log(f"Data set ready ({marker.properties:,} properties, {marker.bookings:,} bookings); --build-only.")
        if args.json:
            results.write(args.json, info, [])
        return 0
    reset_run_data(marker)  # in case an earlier run was interrupted

    from django.utils import timezone

    today = timezone.localdate()
    rows: list[Row] = []
    try:
        log("Measuring search …")
        rows += bench_search(today, iterations, args.explain)
        log("Measuring availability and quote …")
        rows += bench_quote(today, iterations)
        if args.skip_http or args.skip_pages:
            rows.append(Row("GET guest pages over HTTP", skipped="skipped (--skip-http / --skip-pages)", key="pages"))
        else:
            log(f"Measuring the guest pages over HTTP (gunicorn, {args.workers} workers, sequential client) …")
            try:
                rows += bench_pages(args.db_url, today, iterations, args.workers, 5 if args.quick else 25)
            except Exception as exc:  # noqa: BLE001 - the other rows are still worth printing
                log(f"  page benchmark failed: {exc!r}")
                rows.append(Row("GET guest pages over HTTP", skipped=f"failed: {exc!r}"[:100], key="pages"))
        slots = free_slots(today)
        need = 3 + (3 if args.processes else 2) * THREADS * per_thread + rounds
        need += 0 if args.skip_http else 1 + 2 * args.workers + THREADS * per_client
        if len(slots) < need:
            raise RuntimeError(f"only {len(slots)} free slots for {need} bookings: use a bigger data set")
        log(f"Measuring booking creation through the services ({THREADS} threads) …")
        rows += bench_reserve(slots, per_thread, rounds)
        if args.processes:
            rows.insert(len(rows) - 1, bench_reserve_processes(slots, per_thread))
        rows.insert(len(rows) - 1, bench_raw_floor(args.db_url, slots, per_thread))
        if args.skip_http:
            rows.append(Row(f"POST /api/v1/bookings, {THREADS} clients", skipped="skipped (--skip-http)", key="api"))
        else:
            log(f"Measuring booking creation through the HTTP API ({THREADS} clients, gunicorn) …")
            try:
                rows += bench_http(args.db_url, slots, per_client, args.workers)
            except Exception as exc:  # noqa: BLE001 - the other rows are still worth printing
                log(f"  HTTP benchmark failed: {exc!r}")
                rows.append(Row(f"POST /api/v1/bookings, {THREADS} clients", skipped=f"failed: {exc!r}"[:100],
                                key="api"))
    finally:
        if not args.keep_data:
            reset_run_data(marker)
            from django.db import connection

            with connection.cursor() as cur:  # the next run starts without this run's dead rows
                cur.execute("VACUUM ANALYZE bookings_booking, guests_guest, bookings_bookingevent, "
                            "bookings_outboxevent")
        from django.db import connections

        connections.close_all()

    log()
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    title = (f"Results ({datetime.now().astimezone():%Y-%m-%d %H:%M %Z}, {os.cpu_count()} CPUs {cpu_model()}, "
             f"load average at start {load_at_start}, at end {load}, "
             f"{platform.python_implementation()} {platform.python_version()}, "
             f"{marker.properties:,} properties, {marker.bookings:,} bookings)")
    log(title + ":")
    print_table(rows)
    if args.json:
        results.write(args.json, info, [results.table_dict(title, rows)])
        log(f"\nWrote {args.json}.")
    log(f"\nTotal time {time.perf_counter() - started:.0f} s.")
    failed = [row.name for row in rows if (row.skipped or "").startswith("failed")]
    if failed:  # the table is still printed, but a broken row fails the run (CI's make bench-smoke)
        log(f"Failed rows: {', '.join(failed)}")
        return 1
    return 0


# --- scaling -------------------------------------------------------------------------------------


def size_label(n: int) -> str:
    """1000 -> "1k", 100000 -> "100k", 2500 -> "2500"."""
    if n >= 1_000_000 and n % 1_000_000 == 0:
        return f"{n // 1_000_000}m"
    if n >= 1000 and n % 1000 == 0:
        return f"{n // 1000}k"
    return str(n)


def scaling_db_url(db_url: str, n: int) -> str:
    """Each size's own database: ``{size}`` in the name replaced by the size's label, else ``_p<N>`` appended
    (``stayhold_bench`` -> ``stayhold_bench_p1000``; ``stayhold_bench_s{size}`` -> ``stayhold_bench_s1k``)."""
    parts = urlsplit(db_url)
    name = parts.path.lstrip("/")
    name = name.replace("{size}", size_label(n)) if "{size}" in name else f"{name}_p{n}"
    return urlunsplit((parts.scheme, parts.netloc, "/" + name, parts.query, parts.fragment))


def _ms(x: float | None) -> str:
    return "-" if x is None else f"{x:.1f}" if x >= 10 else f"{x:.2f}"


def _ops(x: float | None) -> str:
    return "-" if x is None else f"{x:,.0f}"


def scaling_table(docs: list[dict]) -> tuple[list[str], list[list[str]]]:
    """The scaling table: one line per measure, one column per size (rows found by key, see :class:`Row`)."""
    def row_of(doc: dict, key: str) -> dict | None:
        return next((r for t in doc["tables"] for r in t["rows"] if r["key"] == key and not r["skipped"]), None)

    def cell(doc: dict, key: str, fmt) -> str:
        row = row_of(doc, key)
        return "-" if row is None else fmt(row)

    floor_keys: list[str] = []  # the search floors, in the order of the first run (the search work may add some)
    for doc in docs:
        for t in doc["tables"]:
            for r in t["rows"]:
                if r["key"].startswith("search.floor") and r["key"] not in floor_keys:
                    floor_keys.append(r["key"])
    lines: list[tuple[str, object]] = [
        ("bookings", lambda d: f"{d['metadata']['dataset']['bookings']:,}"),
        ("search 7 nights, 2 guests: p50 / p95 ms",
         lambda d: cell(d, "search", lambda r: f"{_ms(r['p50_ms'])} / {_ms(r['p95_ms'])}")),
        ("  properties found (exact total)", lambda d: cell(d, "search", lambda r: f"{r['facts'].get('total', 0):,}")),
        ("  p50 ms per 1,000 found", lambda d: cell(
            d, "search", lambda r: _ms(r["p50_ms"] * 1000 / r["facts"]["total"]) if r["facts"].get("total") else "-")),
        ("  queries", lambda d: cell(d, "search", lambda r: str(r["queries_per_op"]))),
    ]
    for key in floor_keys:
        def label_of(key=key):
            for d in docs:
                r = row_of(d, key)
                if r is not None:
                    return re.sub(r"\s*\(page 1 of [\d,]+\)", "", r["operation"])
            return key
        lines.append((f"  {label_of()}: p50 / p95 ms",
                      lambda d, key=key: cell(d, key, lambda r: f"{_ms(r['p50_ms'])} / {_ms(r['p95_ms'])}")))
    lines += [
        ("GET / (search page): p50 / p95 ms",
         lambda d: cell(d, "page.search", lambda r: f"{_ms(r['p50_ms'])} / {_ms(r['p95_ms'])}")),
        ("GET /properties/<slug>/: p50 / p95 ms",
         lambda d: cell(d, "page.property", lambda r: f"{_ms(r['p50_ms'])} / {_ms(r['p95_ms'])}")),
        ("  floor: Django view, fixed string: p95 ms", lambda d: cell(d, "page.floor", lambda r: _ms(r["p95_ms"]))),
        ("reserve(), 8 threads, distinct dates: /s", lambda d: cell(d, "reserve", lambda r: _ops(r["ops_per_s"]))),
        ("  floor: raw SQL lock + check + insert: /s",
         lambda d: cell(d, "reserve.floor", lambda r: _ops(r["ops_per_s"]))),
        ("POST /api/v1/bookings, 8 clients: /s", lambda d: cell(d, "api", lambda r: _ops(r["ops_per_s"]))),
        ("data set load, s (build time)", lambda d: f"{d['metadata']['dataset']['load_seconds']:,.0f}"),
        ("load average at start / end", lambda d: "{} / {}".format(
            d["metadata"]["machine"]["load_average_start"][0], d["metadata"]["machine"]["load_average_end"][0])),
    ]
    header = ["properties"] + [f"{d['metadata']['dataset']['properties']:,}" for d in docs]
    body = [[label] + [fn(d) for d in docs] for label, fn in lines]  # type: ignore[operator]
    return header, body


def run_scaling(args: argparse.Namespace, argv=None) -> int:
    """One child process per size (each configures Django on its own database), then the scaling table."""
    from bench import results

    info = results.RunInfo("bench.run", argv)
    sizes = [int(x.replace("_", "")) for x in args.scaling.split(",") if x.strip()]
    started = time.perf_counter()
    docs, failed = [], []
    with tempfile.TemporaryDirectory(prefix="stayhold-bench-scaling-") as tmp:
        for n in sizes:
            db_url = scaling_db_url(args.db_url, n)
            out = Path(tmp) / f"p{n}.json"
            cmd = [sys.executable, "-m", "bench.run", "--properties", str(n), "--db-url", db_url, "--json", str(out),
                   "--workers", str(args.workers)]
            cmd += [flag for flag in SCALING_PASS_FLAGS if getattr(args, flag[2:].replace("-", "_"))]
            cmd += ["--iterations", str(args.iterations)] if args.iterations else []
            log(f"\n=== {n:,} properties ({_admin_url(db_url)[1]}) ===")
            t = time.perf_counter()
            rc = subprocess.run(cmd, cwd=ROOT).returncode
            log(f"=== {n:,} properties: {time.perf_counter() - t:.0f} s, exit code {rc}")
            if rc != 0:
                failed.append(n)
            if out.exists():
                docs.append(json.loads(out.read_text()))
    if not docs:
        log("No size produced results.")
        return 1
    header, body = scaling_table(docs)
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    title = (f"Scaling ({datetime.now().astimezone():%Y-%m-%d %H:%M %Z}, {os.cpu_count()} CPUs {cpu_model()}, "
             f"load average at start {', '.join(str(x) for x in info.load_start)}, at end {load}; "
             f"{BOOKINGS_PER_PROPERTY} bookings per property; each size measured in its own run)")
    log("\n" + title + ":")
    print_cells(header, body, ["<"] + [">"] * len(docs))
    total = time.perf_counter() - started
    if args.json:
        info.dataset = {"sizes": sizes, "bookings_per_property": BOOKINGS_PER_PROPERTY}
        tables = [dict(t, title=f"{d['metadata']['dataset']['properties']:,} properties: {t['title']}",
                       properties=d["metadata"]["dataset"]["properties"]) for d in docs for t in d["tables"]]
        scaling = {"title": title, "header": header, "rows": body, "bookings_per_property": BOOKINGS_PER_PROPERTY,
                   "sizes": [{"properties": d["metadata"]["dataset"]["properties"], "metadata": d["metadata"]}
                             for d in docs],
                   "failed_sizes": failed}
        results.write(args.json, info, tables, scaling=scaling)
        log(f"\nWrote {args.json}.")
    log(f"\nScaling run: {total / 60:.1f} min in all ({', '.join(size_label(n) for n in sizes)}).")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
