"""Benchmark of the iCal export feed: one property with 500 bookings, ``GET /ical/<token>.ics``.

    python -m bench.channel_export [--quick] [--db-url postgres://…/stayhold_bench_export] [--json PATH]

Requests go through Django's test ``Client``: the whole stack (middleware, URL
routing, the view, the queries) in process, without a socket or gunicorn, so the
numbers are the application's own cost. Rows: a 200 (the feed is built), a 304
for ``If-None-Match`` and one for ``If-Modified-Since`` (the version only), and,
for comparison, building the body with :func:`channels.ical_export.build_feed`
(the fast renderer) and with ``icalendar`` objects only
(:func:`~channels.ical_export.render_with_icalendar`, the reference the fast
renderer must equal byte for byte; it is why the fast one exists).

Data: one property (buffer 1 day, booking horizon ~7 years so that every stay
is in the window) with 500 three-night stays two nights apart (mostly confirmed
direct stays, every fifth imported from Airbnb, every tenth from Booking.com, a
few live holds), 20 owner blocks and 10 channel blocks, measured through the
Booking.com connection (so the Airbnb stays are exported and the Booking.com
ones suppressed). The rows are written inside a transaction that is rolled back
at the end: nothing is left behind. Run alone, it uses its own database
(``stayhold_bench_export`` unless ``--db-url`` names another; created and migrated when missing); called from
``bench.run`` after Django is configured, it uses that database the same way.
"""

from __future__ import annotations

import argparse
import itertools
import logging
import os
import sys
from datetime import timedelta
from pathlib import Path

if __package__ in (None, ""):  # `python bench/channel_export.py`
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.run import Row, configure_django, count_queries, log, print_table, time_calls  # noqa: E402

DEFAULT_DB_URL = "postgres://postgres@127.0.0.1:5432/stayhold_bench_export"
N_BOOKINGS = 500


class _Rollback(Exception):
    pass


def _ensure_database(db_url: str) -> None:
    import psycopg

    from bench.run import _admin_url

    admin, name = _admin_url(db_url)
    with psycopg.connect(admin, autocommit=True) as conn:
        if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone() is None:
            log(f"Creating {name}")
            conn.execute(f'CREATE DATABASE "{name}"')


def _django_ready() -> bool:
    from django.apps import apps

    return apps.ready


def _build_data():
    """The property, its 500 stays, blocks and connections (inside the caller's transaction)."""
    from django.utils import timezone

    from bookings.models import AvailabilityBlock, Booking, BookingStatus, Source
    from channels.models import ChannelConnection, Platform
    from guests.models import User
    from properties.models import Property

    now = timezone.now()
    today = timezone.localdate()
    owner = User.objects.create_user(email=f"bench-export-{now.timestamp():.0f}@bench.stayhold.test")
    prop = Property.objects.create(
        owner=owner, name="Bench export — Casa do Farol, Sagres", city="Sagres", country="PT", max_guests=4,
        base_price=120, currency="EUR", status=Property.Status.ACTIVE, timezone="Europe/Lisbon", buffer_days=1,
        max_advance_days=2600)
    refs = itertools.count()
    rows = []
    for i in range(N_BOOKINGS):
        check_in = today + timedelta(days=-20 + 5 * i)
        source, external_id, status, expires_at = Source.DIRECT, "", BookingStatus.CONFIRMED, None
        if i % 5 == 0:
            source, external_id = Source.AIRBNB, f"HM{i:08d}@airbnb.com"
        elif i % 10 == 3:
            source, external_id = Source.BOOKING_COM, f"{i:010d}"
        elif i % 50 == 7:
            status, expires_at = BookingStatus.HELD, now + timedelta(hours=1)
        rows.append(Booking(
            property=prop, reference=f"BX{now.timestamp():.0f}{next(refs):05d}", source=source,
            external_id=external_id, status=status, expires_at=expires_at, check_in=check_in,
            check_out=check_in + timedelta(days=3), currency="EUR", confirmed_at=now))
    Booking.objects.bulk_create(rows)
    far = today + timedelta(days=5 * N_BOOKINGS)
    AvailabilityBlock.objects.bulk_create(
        [AvailabilityBlock(property=prop, start_date=far + timedelta(days=3 * k),
                           end_date=far + timedelta(days=3 * k + 2))
         for k in range(20)])
    connection = ChannelConnection.objects.create(property=prop, platform=Platform.BOOKING_COM)
    airbnb = ChannelConnection.objects.create(property=prop, platform=Platform.AIRBNB)
    AvailabilityBlock.objects.bulk_create(
        [AvailabilityBlock(property=prop, connection=airbnb, reason=AvailabilityBlock.Reason.CHANNEL,
                           start_date=far + timedelta(days=100 + 3 * k), end_date=far + timedelta(days=101 + 3 * k))
         for k in range(10)])
    return connection


def _measure(quick: bool) -> list[Row]:
    from django.core import signals
    from django.core.cache import cache
    from django.db import close_old_connections, transaction
    from django.test import Client
    from django.urls import reverse

    from channels.ical_export import LAST_MODIFIED_KEY, build_feed, load_feed_data, render_with_icalendar

    n = 30 if quick else 300
    # The data lives in an uncommitted transaction: keep Django from closing the connection between requests.
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    rows: list[Row] = []
    try:
        with transaction.atomic():
            connection = _build_data()
            cache.delete(LAST_MODIFIED_KEY.format(connection.pk))
            client = Client()
            url = reverse("channels:feed", kwargs={"token": connection.export_token})
            first = client.get(url)
            assert first.status_code == 200, first.status_code
            events = first.content.count(b"BEGIN:VEVENT")
            size = len(first.content)
            etag, last_modified = first["ETag"], first["Last-Modified"]

            def get_200():
                assert client.get(url).status_code == 200

            def get_304_etag():
                assert client.get(url, HTTP_IF_NONE_MATCH=etag).status_code == 304

            def get_304_date():
                assert client.get(url, HTTP_IF_MODIFIED_SINCE=last_modified).status_code == 304

            def get_404():
                assert client.get("/ical/not-a-token.ics").status_code == 404

            note = f"{N_BOOKINGS} bookings, {events} events, {size / 1024:.0f} KiB"
            rows.append(Row("ical plain 404 (floor: test client + middleware)", time_calls(get_404, n),
                            queries=count_queries(get_404), note="no query, no feed", key="export.404"))
            rows.append(Row("ical export GET 200 (test client)", time_calls(get_200, n),
                            queries=count_queries(get_200), note=note, key="export.200",
                            floor="export.404"))
            rows.append(Row("ical export GET 304 If-None-Match", time_calls(get_304_etag, n),
                            queries=count_queries(get_304_etag), note="version only, no body",
                            key="export.304.etag", floor="export.404"))
            rows.append(Row("ical export GET 304 If-Modified-Since", time_calls(get_304_date, n),
                            queries=count_queries(get_304_date), note="version only, no body",
                            key="export.304.date", floor="export.404"))
            connection = type(connection).objects.select_related("property").get(pk=connection.pk)
            rows.append(Row("build_feed() (fast renderer)", time_calls(lambda: build_feed(connection), n),
                            queries=count_queries(lambda: build_feed(connection)), note="no HTTP",
                            key="export.build_feed"))
            data = load_feed_data(connection)
            rows.append(Row("render_with_icalendar() (reference)",
                            time_calls(lambda: render_with_icalendar(data), 5 if quick else 20, warmup=1),
                            queries=0, note="icalendar objects only, rows preloaded",
                            key="export.render_with_icalendar"))
            raise _Rollback
    except _Rollback:
        pass
    finally:
        signals.request_started.connect(close_old_connections)
        signals.request_finished.connect(close_old_connections)
    return rows


def run(db_url: str = DEFAULT_DB_URL, quick: bool = False) -> list[Row]:
    """Measure the export feed. Configures Django on the database ``db_url`` names unless Django is already set
    up."""
    if not _django_ready():
        _ensure_database(db_url)  # the database --db-url names (two runs on different names cannot collide)
        configure_django(db_url)
        from django.core.management import call_command

        call_command("migrate", verbosity=0, interactive=False)
    logging.getLogger("django.request").setLevel(logging.ERROR)  # the 404 floor row would log every request
    return _measure(quick)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db-url", default=os.environ.get("BENCH_EXPORT_DATABASE_URL", DEFAULT_DB_URL))
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--json", metavar="PATH", help="also write the table's figures to PATH (bench/results.py)")
    args = parser.parse_args(argv)
    from bench import results
    from bench.run import _admin_url

    info = results.RunInfo("bench.channel_export", argv)
    rows = run(args.db_url, quick=args.quick)
    print_table(rows)
    if args.json:
        info.dataset = {"database": _admin_url(args.db_url)[1], "bookings": N_BOOKINGS, "properties": 1}
        results.write(args.json, info, [results.table_dict("iCal export", rows)])
        log(f"Wrote {args.json}.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
