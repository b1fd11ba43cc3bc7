"""Channel import benchmark: a big feed, and a full sync cycle of many connections over real HTTP.

    python -m bench.channel_import [--quick] [--db-url postgres://…/stayhold_bench_channels] [--json PATH]

Rows:

* **import of a 2,000-event feed** (1,600 one-night stays back to back + 400
  "not available" blocks, Airbnb's format) into a fresh property: ``parse_feed``
  and ``apply_snapshot`` (every stay through ``bookings.services.import_external``
  under the property lock, with its audit and outbox rows), events/s and queries;
  then the **same feed again** (everything unchanged: the idempotent path).
* **a full sync cycle of 1,000 connections** (200 with ``--quick``), each with its
  own feed of 5–20 events served by a local ``ThreadingHTTPServer``: what one
  worker does for every due connection — ``due_connection_ids``, then
  ``sync_connection`` each (claim, HTTP fetch, parse, reconcile, record). First the
  cold cycle (every stay imported), then a steady-state cycle: 70 % answer 304 to
  the ETag, 20 % send the same calendar without validators (parsed, all unchanged),
  10 % changed (one stay moved, one added). Per-connection p50/p95, connections/s,
  queries per connection.

Everything runs in one process, sequentially (one worker); the beat dispatcher
spreads connections over the worker pool in production. The data set lives in its
own database (``stayhold_bench_channels`` by default, ``BENCH_CHANNELS_DATABASE_URL``),
dropped and migrated afresh on each run.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

from bench.run import Row, configure_django, log, print_table

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DB_URL = "postgres://postgres@127.0.0.1:5432/stayhold_bench_channels"
BIG_FEED_STAYS, BIG_FEED_BLOCKS = 1600, 400
AIRBNB_PRODID = "PRODID;X-RICAL-TZSOURCE=TZINFO:-//Airbnb Inc//Hosting Calendar 0.8.8//EN"


def _recreate_database(db_url: str) -> None:
    import psycopg

    from bench.run import _admin_url

    admin, name = _admin_url(db_url)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def _django_database_name() -> str | None:
    from django.conf import settings

    if not settings.configured:
        return None
    return settings.DATABASES["default"]["NAME"]


class QueryCounter:
    """Counts the statements run on the default connection (``CaptureQueriesContext`` keeps only 9,000)."""

    def __init__(self):
        self.count = 0

    def __call__(self, execute, sql, params, many, context):
        self.count += 1
        return execute(sql, params, many, context)

    def __enter__(self):
        from django.db import connection

        self._cm = connection.execute_wrapper(self)
        self._cm.__enter__()
        return self

    def __exit__(self, *exc):
        self._cm.__exit__(*exc)


# --- feeds ---------------------------------------------------------------------------------------


def airbnb_feed(today, stays, blocks) -> bytes:
    """An Airbnb export: ``stays``/``blocks`` are (uid, first night offset, nights)."""
    out = ["BEGIN:VCALENDAR", AIRBNB_PRODID, "CALSCALE:GREGORIAN", "VERSION:2.0"]
    for i, (uid, start, nights) in enumerate(stays):
        out += ["BEGIN:VEVENT", f"DTEND;VALUE=DATE:{today + timedelta(days=start + nights):%Y%m%d}",
                f"DTSTART;VALUE=DATE:{today + timedelta(days=start):%Y%m%d}", f"UID:{uid}",
                f"DESCRIPTION:Reservation URL: https://www.airbnb.com/hosting/reservations/details/HM{i:08d}\\n"
                "Phone Number (Last 4 Digits): 1234", "SUMMARY:Reserved", "END:VEVENT"]
    for uid, start, nights in blocks:
        out += ["BEGIN:VEVENT", f"DTEND;VALUE=DATE:{today + timedelta(days=start + nights):%Y%m%d}",
                f"DTSTART;VALUE=DATE:{today + timedelta(days=start):%Y%m%d}", f"UID:{uid}",
                "SUMMARY:Airbnb (Not available)", "END:VEVENT"]
    out.append("END:VCALENDAR")
    return ("\r\n".join(out) + "\r\n").encode()


# --- set-up --------------------------------------------------------------------------------------


def make_properties(n: int, tag: str) -> list:
    from guests.models import User
    from properties.models import Property

    owner, _ = User.objects.get_or_create(email="bench-channels@bench.example", defaults={"full_name": "Bench"})
    props = [Property(owner=owner, name=f"Channel bench {tag} {i}", slug=f"channel-bench-{tag}-{i}", city="Lisbon",
                      country="PT", max_guests=4, base_price=100, currency="EUR", status=Property.Status.ACTIVE)
             for i in range(n)]
    return Property.objects.bulk_create(props, batch_size=500)


def make_connections(props, url_for) -> list:
    from channels.models import ChannelConnection, Platform

    conns = []
    for i, prop in enumerate(props):
        conn = ChannelConnection(property=prop, platform=Platform.AIRBNB, import_url=url_for(i))
        conn.rotate_export_token()
        conns.append(conn)
    return ChannelConnection.objects.bulk_create(conns, batch_size=500)


# --- scenarios -----------------------------------------------------------------------------------


def bench_big_feed(today, ab: bool = False) -> list[Row]:
    """``ab``: also import the same feed into a second property through the one-stay path (``import_external`` per
    stay and pass, ``_Reconciler.set_based = False``): the figure before issue 16, measured in the same run."""
    from channels.ical_parse import parse_feed
    from channels.reconcile import _Reconciler, apply_snapshot

    stays = [(f"big-stay-{i}@airbnb.com", 1 + i, 1) for i in range(BIG_FEED_STAYS)]
    blocks = [(f"big-block-{i}@airbnb.com", 1 + BIG_FEED_STAYS + i, 1) for i in range(BIG_FEED_BLOCKS)]
    data = airbnb_feed(today, stays, blocks)
    events = BIG_FEED_STAYS + BIG_FEED_BLOCKS
    rows = []
    for set_based in (True, False) if ab else (True,):
        [prop] = make_properties(1, "big" if set_based else "big-one-stay")
        [conn] = make_connections([prop], lambda i: "https://www.airbnb.com/calendar/ical/1.ics?s=bench")
        conn.sync_enabled = False  # applied directly below, never fetched
        conn.save(update_fields=["sync_enabled"])
        path = "" if set_based else ", one stay at a time (before)"
        _Reconciler.set_based = set_based
        try:
            for label in ("first import (all new)", "same feed again (all unchanged)"):
                t0, c0 = time.perf_counter(), time.process_time()
                snapshot = parse_feed(data, platform=conn.platform, tz=prop.timezone)
                t1, c1 = time.perf_counter(), time.process_time()
                with QueryCounter() as counter:
                    result = apply_snapshot(conn, snapshot)
                t2, c2 = time.perf_counter(), time.process_time()
                total_ms = (t2 - t0) * 1000
                rows.append(Row(
                    f"import {events:,}-event feed: {label}{path}", [total_ms], ops_per_s=events / (t2 - t0),
                    queries=round(counter.count / events, 3),
                    note=(f"ops = events/s, queries per event ({counter.count:,} in all); "
                          f"parse {(t1 - t0) * 1000:,.0f} ms ({(c1 - c0) * 1000:,.0f} CPU) + apply "
                          f"{(t2 - t1) * 1000:,.0f} ms ({(c2 - c1) * 1000:,.0f} CPU); "
                          f"{len(data) / 1024:,.0f} KB; created {result.created}, unchanged {result.unchanged}, "
                          f"blocks {result.blocks}{', WARNING ' + result.warning if result.warning else ''}")))
        finally:
            _Reconciler.set_based = True
    return rows


def bench_sync_cycle(today, n: int) -> list[Row]:
    from django.test.utils import override_settings
    from django.utils import timezone

    from channels.models import SyncRun
    from channels.sync import due_connection_ids, sync_connection
    from tests.channels.feedserver import FeedServer

    rng = random.Random(5)
    feeds = []  # per connection: (stays, blocks)
    for i in range(n):
        count = rng.randint(5, 20)
        n_blocks = rng.randint(0, min(3, count - 1))
        day, stays = 2, []
        for j in range(count - n_blocks):
            nights = rng.randint(1, 5)
            stays.append((f"c{i}-s{j}@airbnb.com", day, nights))
            day += nights + rng.randint(0, 6)
        blocks = [(f"c{i}-b{j}@airbnb.com", day + 10 * j, 3) for j in range(n_blocks)]
        feeds.append((stays, blocks))

    rows = []
    with FeedServer() as server, override_settings(CHANNEL_ALLOW_PRIVATE_URLS=True, CHANNEL_POLL_JITTER_SECONDS=0):
        for i, (stays, blocks) in enumerate(feeds):
            server.route(f"/calendar/ical/{i}.ics", airbnb_feed(today, stays, blocks), etag=f'"{i}-v1"')
        props = make_properties(n, "cycle")
        make_connections(props, lambda i: server.url(f"/calendar/ical/{i}.ics?s=secret-{i}"))

        def cycle(label: str, at) -> Row:
            samples, outcomes = [], {}
            with QueryCounter() as counter:
                t0, c0 = time.perf_counter(), time.process_time()
                due = due_connection_ids(at)
                for connection_id in due:
                    t = time.perf_counter()
                    run = sync_connection(connection_id, at=at)
                    samples.append((time.perf_counter() - t) * 1000)
                    key = run.outcome if run else "skipped"
                    outcomes[key] = outcomes.get(key, 0) + 1
                elapsed, cpu = time.perf_counter() - t0, time.process_time() - c0
            mix = ", ".join(f"{k} {v}" for k, v in sorted(outcomes.items()))
            created = sum(SyncRun.objects.filter(started_at=at).values_list("created", flat=True))
            return Row(f"sync cycle, {len(due):,} connections: {label}", samples, ops_per_s=len(due) / elapsed,
                       queries=round(counter.count / max(1, len(due)), 1),
                       note=(f"ops = connections/s; total {elapsed:,.1f} s, "
                             f"{cpu * 1000 / max(1, len(due)):,.1f} ms CPU per connection (this process: worker "
                             f"and feed server); {mix}; {created:,} stays created"))

        now = timezone.now()
        rows.append(cycle("cold (all imported)", now))
        # Steady state: 70 % 304, 20 % the same calendar without validators, 10 % changed.
        for i, (stays, blocks) in enumerate(feeds):
            path = f"/calendar/ical/{i}.ics"
            if i % 10 in (7, 8):
                server.route(path, airbnb_feed(today, stays, blocks))
            elif i % 10 == 9:
                uid, start, nights = stays[0]
                last = stays[-1]
                changed = [(uid, start, nights + 1 if start + nights + 1 <= stays[1][1] else nights)] + stays[1:]
                changed.append((f"c{i}-new@airbnb.com", last[1] + last[2] + 40, 2))
                server.route(path, airbnb_feed(today, changed, blocks), etag=f'"{i}-v2"')
        rows.append(cycle("steady (70% 304, 20% unchanged, 10% changed)", now + timedelta(minutes=11)))
    return rows


# --- entry points --------------------------------------------------------------------------------


def _run_here(quick: bool, ab: bool = False) -> list[Row]:
    from django.core.management import call_command
    from django.utils import timezone

    t0 = time.perf_counter()
    call_command("migrate", verbosity=0, interactive=False)
    log(f"  migrated in {time.perf_counter() - t0:.1f} s")
    today = timezone.localdate()
    rows = []
    log(f"Measuring the import of a {BIG_FEED_STAYS + BIG_FEED_BLOCKS:,}-event feed …")
    rows += bench_big_feed(today, ab)
    n = 200 if quick else 1000
    log(f"Measuring a sync cycle of {n:,} connections over HTTP …")
    rows += bench_sync_cycle(today, n)
    try:
        import redis
        from django.conf import settings

        redis.Redis.from_url(settings.REDIS_URL).flushdb()  # the queued outbox deliveries are only clutter
    except Exception as exc:  # noqa: BLE001 - best effort
        log(f"  (could not flush Redis: {exc})")
    return rows


def run(db_url: str = DEFAULT_DB_URL, quick: bool = False, ab: bool = False) -> list[Row]:
    """Measure in ``db_url`` (dropped and recreated). If Django is already set up on another database (inside
    ``bench.run``), the measurement runs in a child process and its rows come back as JSON."""
    current = _django_database_name()
    name = db_url.rsplit("/", 1)[-1]
    if current is not None and current != name:
        cmd = [sys.executable, "-m", "bench.channel_import", "--db-url", db_url, "--rows-json"] + (
            ["--quick"] if quick else []) + (["--ab"] if ab else [])
        out = subprocess.run(cmd, cwd=ROOT, check=True, capture_output=True, text=True).stdout
        payload = json.loads(out.strip().splitlines()[-1])
        return [Row(**row) for row in payload]
    _recreate_database(db_url)
    if current is None:
        configure_django(db_url)
    return _run_here(quick, ab)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.channel_import", description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="200 connections instead of 1,000")
    ap.add_argument("--db-url", default=os.environ.get("BENCH_CHANNELS_DATABASE_URL", DEFAULT_DB_URL))
    ap.add_argument("--rows-json", action="store_true", help="print the rows as JSON (for a parent process)")
    ap.add_argument("--json", metavar="PATH", help="also write the table's figures to PATH (bench/results.py)")
    ap.add_argument("--ab", action="store_true",
                    help="also import the big feed one stay at a time (the path before issue 16), in the same run")
    args = ap.parse_args(argv)
    from bench import results
    from bench.run import _admin_url

    info = results.RunInfo("bench.channel_import", argv)
    started = time.perf_counter()
    rows = run(args.db_url, args.quick, args.ab)
    if args.rows_json:
        print(json.dumps([row.__dict__ for row in rows]))
        return 0
    log()
    print_table(rows)
    if args.json:
        info.dataset = {"database": _admin_url(args.db_url)[1], "quick": args.quick}
        results.write(args.json, info, [results.table_dict("iCal import", rows)])
        log(f"Wrote {args.json}.")
    log(f"\nTotal time {time.perf_counter() - started:.0f} s.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
