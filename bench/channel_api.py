"""Channel API benchmark: how fast a change reaches a platform and a platform's reservation reaches us, with a real
Celery worker, a real web server and the Channex emulator over HTTP.

    python -m bench.channel_api [--quick] [--db-url postgres://…/stayhold_bench_api] [--json PATH]

Set-up: a fresh database (``stayhold_bench_api``), N properties (1,000; 40 with ``--quick``), each connected to its
own property on the Channex emulator (served from this process) with its own API key — a Channex key can be scoped
to properties; with one key for all, the documented 20 ARI requests per minute in total would make a full sync of
1,000 properties take 100 minutes. A Celery worker (``celery -A config worker``, 2 processes) and gunicorn (2
workers, for the webhooks) run as child processes on Redis database 13; both are stopped at the end.

Rows:

* **full sync of N connections × 500 days**: every connection's horizon queued at once; the time until the worker
  has pushed them all, the requests the emulator received (range compression: 2 per connection, not 1,000) and
  the 429s it answered (must be 0: the shared limiter waits instead);
* **event → Channex**: a booking committed here (``bookings.services.reserve``, one per property, 0.25 s apart)
  until the emulator receives the availability message closing its nights (its own request log); p50, p95, p99;
* **Channex → booking here**: a reservation made on the emulator (its webhook goes to gunicorn, which queues a
  pull for the worker) until the booking is committed here (its ``created_at``); p50, p95, p99. Booking.com has no
  webhooks: its documented polling pace (20 s) is that platform's floor;
* **changes lost / duplicated**: after all that, every booking made here is closed on the emulator, every
  reservation made there is exactly one booking here, and the emulator's feed holds no unacknowledged revision.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

from bench.run import REDIS_URL, Row, _free_port, log, percentile, print_table

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DB_URL = "postgres://postgres@127.0.0.1:5432/stayhold_bench_api"
HORIZON = 500


def _wait_for_port(port: int, proc, what: str, log_file) -> None:
    deadline = time.monotonic() + 60
    while True:
        if proc.poll() is not None:
            log_file.seek(0)
            raise RuntimeError(f"{what} exited: {log_file.read().decode(errors='replace')[-2000:]}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise RuntimeError(f"{what} did not start within 60 s") from None
            time.sleep(0.2)


def _stop(proc) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def _wait(predicate, timeout: float, step: float = 0.05):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(step)
    return None


def run(db_url: str, quick: bool) -> list[Row]:
    from channels.emulators.base import serve
    from channels.emulators.channex import ChannexEmulator

    emulator = ChannexEmulator()
    server = serve(emulator)
    web_port = _free_port()
    env = {
        "DATABASE_URL": db_url, "REDIS_URL": REDIS_URL, "DJANGO_DEBUG": "false", "DJANGO_SECURE_SSL_REDIRECT": "false",
        "DJANGO_SECRET_KEY": "bench-only-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz",
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1", "LOG_LEVEL": "WARNING", "DJANGO_SETTINGS_MODULE": "config.settings",
        "CHANNEX_BASE_URL": emulator.base_url + "/api/v1", "SITE_URL": f"http://127.0.0.1:{web_port}",
        "CHANNEL_ARI_COALESCE_SECONDS": "0.1", "STRIPE_MODE": "off",
    }
    os.environ.update(env)
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0, interactive=False)
    import redis

    redis.Redis.from_url(REDIS_URL).flushdb()
    n = 40 if quick else 1000
    connections = _make_connections(emulator, n)
    procs = []
    with contextlib.ExitStack() as files:
        return _measure(emulator, server, connections, env, web_port, quick, procs, files)


def _measure(emulator, server, connections, env, web_port, quick, procs, files) -> list[Row]:
    try:
        for what, cmd, port in (
            ("celery worker", [str(Path(sys.executable).with_name("celery")), "-A", "config", "worker",
                               "--concurrency", "2", "--loglevel", "warning", "--without-gossip", "--without-mingle"],
             None),
            ("gunicorn", [str(Path(sys.executable).with_name("gunicorn")), "config.wsgi", "--bind",
                          f"127.0.0.1:{web_port}", "--workers", "2", "--log-level", "warning"], web_port),
        ):
            log_file = files.enter_context(tempfile.TemporaryFile())  # noqa: SIM115 - closed by the stack
            proc = subprocess.Popen(cmd, cwd=ROOT, env={**os.environ, **env}, stdout=log_file, stderr=log_file)
            procs.append(proc)
            if port:
                _wait_for_port(port, proc, what, log_file)
        time.sleep(3)  # the worker connects to the broker
        n = len(connections)
        rows = [_full_sync(emulator, connections)]
        sold = _outbound(emulator, connections, min(n, 20 if quick else 100))
        rows.append(sold[0])
        made = _inbound(emulator, connections, web_port, min(n, 20 if quick else 100))
        rows.append(made[0])
        rows.append(_lost_or_duplicated(emulator, connections, sold[1], made[1]))
        return rows
    finally:
        for proc in procs:
            _stop(proc)
        server.shutdown()


def _make_connections(emulator, n: int) -> list:
    from django.contrib.auth import get_user_model

    from channels.models import ChannelConnection, Transport
    from properties.models import Property

    owner = get_user_model().objects.create_user(email="bench-owner@bench.example")
    props = Property.objects.bulk_create([
        Property(owner=owner, name=f"API bench {i}", slug=f"api-bench-{i}", city="Lisbon", country="PT",
                 max_guests=4, bedrooms=2, bathrooms=1, base_price=100, currency="EUR", timezone="UTC",
                 status=Property.Status.ACTIVE) for i in range(n)])
    connections = []
    for i, prop in enumerate(props):
        account = _control(emulator, "accounts", {"api_key": f"bench-key-{i:04d}", "properties": [
            {"title": prop.name, "currency": "EUR", "timezone": "UTC"}]})
        ids = account["properties"][0]
        connection = ChannelConnection(property=prop, platform="channex", transport=Transport.CHANNEX,
                                       remote_property_id=ids["id"], remote_room_type_id=ids["room_type_id"],
                                       remote_rate_plan_id=ids["rate_plan_id"])
        connection.set_credentials({"api_key": account["api_key"]})
        connection.rotate_inbound_token()
        connection.save()
        connections.append(connection)
    return connections


def _control(emulator, path: str, data=None):
    from urllib.parse import parse_qs

    from channels.emulators.base import Request

    body = json.dumps(data).encode() if data is not None else b""
    route, _, query = path.partition("?")
    response = emulator.dispatch(Request("POST" if data is not None else "GET", "/_emulator/" + route,
                                         parse_qs(query), {}, body))
    return json.loads(response.body)


def _api_requests(emulator, path: str) -> list[dict]:
    with emulator.lock:
        return [r for r in emulator.requests if r["path"] == path]


def _full_sync(emulator, connections) -> Row:
    from channels import api_sync
    from channels.models import AriChange

    log(f"Full sync of {len(connections):,} connections × {HORIZON} days …")
    started = time.perf_counter()
    for connection in connections:
        api_sync.request_full_sync(connection)
    done = _wait(lambda: not AriChange.objects.exists(), timeout=3600, step=0.5)
    seconds = time.perf_counter() - started
    ari = _api_requests(emulator, "/api/v1/availability") + _api_requests(emulator, "/api/v1/restrictions")
    limited = sum(1 for r in ari if r["status"] == 429)
    note = (f"{len(ari):,} requests ({len(ari) / len(connections):.1f} per connection instead of {2 * HORIZON}), "
            f"{limited} answered 429; {len(connections) / seconds:.1f} connections/s"
            + ("" if done else "; NOT FINISHED within an hour"))
    return Row(f"full sync, {len(connections):,} connections x {HORIZON} days", [seconds * 1000], queries=None,
               ops_per_s=len(connections) / seconds, note=note)


def _outbound(emulator, connections, count: int) -> tuple[Row, list]:
    from bookings import services
    from core.actor import Actor
    from guests.services import GuestInput

    log(f"Event → Channex: {count} bookings here …")
    latencies, sold = [], []
    today = datetime.now().date()
    for i in range(count):
        connection = connections[i % len(connections)]
        check_in = today + timedelta(days=30 + 3 * (i // len(connections)))
        booking = services.reserve(property_id=connection.property_id, check_in=check_in,
                                   check_out=check_in + timedelta(days=2), adults=2,
                                   guest=GuestInput(name=f"Bench {i}", email=f"bench-{i}@bench.example"),
                                   actor=Actor.system("bench"))
        committed = time.time()
        sold.append((connection, booking))

        day_text = check_in.isoformat()

        def received(connection=connection, day=day_text, since=committed):
            for r in _api_requests(emulator, "/api/v1/availability"):
                at = datetime.fromisoformat(r["at"]).timestamp()
                if at < since - 1 or r["status"] != 200:
                    continue
                for value in json.loads(r["body"])["values"]:
                    if (value["property_id"] == connection.remote_property_id and value["availability"] == 0
                            and value.get("date_from", value.get("date")) <= day <= value.get("date_to", day)):
                        return at
            return None

        at = _wait(received, timeout=60)
        latencies.append((at - committed) * 1000 if at else 60_000)
        time.sleep(0.25)
    return _latency_row("event → Channex (booking committed → availability received)", latencies,
                        "goal p99 <= 2 s"), sold


def _inbound(emulator, connections, web_port: int, count: int) -> tuple[Row, list]:
    from django.urls import reverse

    from bookings.models import Booking

    log(f"Channex → booking here: {count} reservations there …")
    callback = f"http://127.0.0.1:{web_port}" + reverse("channel-webhook", args=["channex"])
    for connection in connections[:count]:
        _control_http(emulator, "POST", "/api/v1/webhooks", connection.credential("api_key"), {"webhook": {
            "property_id": connection.remote_property_id, "callback_url": callback, "event_mask": "*",
            "headers": {"X-Stayhold-Token": connection.inbound_token}, "is_active": True, "send_data": False}})
    latencies, made = [], []
    today = datetime.now().date()
    for i, connection in enumerate(connections[:count]):
        arrival = today + timedelta(days=200 + i % 50)
        started = time.time()
        created = _control(emulator, "bookings", {
            "property_id": connection.remote_property_id, "arrival_date": arrival.isoformat(),
            "departure_date": (arrival + timedelta(days=2)).isoformat(), "adults": 2, "ota_name": "Airbnb",
            "amount": "200.00", "currency": "EUR", "customer": {"name": "Bench", "surname": f"Guest {i}"}})
        made.append((connection, created["booking_id"]))
        booking = _wait(lambda bid=created["booking_id"]: Booking.objects.filter(external_id=bid).first(),
                        timeout=60, step=0.02)
        latencies.append((booking.created_at.timestamp() - started) * 1000 if booking else 60_000)
    return _latency_row("Channex → booking here (webhook → pull → commit)", latencies,
                        "goal p99 <= 2 s; Booking.com polls every 20 s (its floor)"), made


def _control_http(emulator, method: str, path: str, key: str, data) -> dict:
    import urllib.request

    request = urllib.request.Request(emulator.base_url + path, data=json.dumps(data).encode(), method=method,
                                     headers={"Content-Type": "application/json", "user-api-key": key})
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - the local emulator
        return json.loads(response.read())


def _latency_row(name: str, latencies: list[float], goal: str) -> Row:
    p99 = percentile(latencies, 99)
    return Row(name, latencies, ops_per_s=None, note=f"p99 {p99:.0f} ms ({goal}); {len(latencies)} samples")


def _lost_or_duplicated(emulator, connections, sold, made) -> Row:
    from bookings.models import Booking
    from channels.models import AriChange

    _wait(lambda: not AriChange.objects.exists(), timeout=120, step=0.5)
    lost = duplicated = 0
    for connection, booking in sold:
        stored = _control(emulator, f"ari?property_id={connection.remote_property_id}")["availability"]
        nights = [booking.check_in + timedelta(days=k) for k in range((booking.check_out - booking.check_in).days)]
        lost += any(stored.get(night.isoformat()) != 0 for night in nights)
    for _connection, booking_id in made:
        found = Booking.objects.filter(external_id=booking_id).count()
        lost += found == 0
        duplicated += max(0, found - 1)
    with emulator.lock:
        unacked = sum(1 for r in emulator.revisions.values() if not r["acked"])
    return Row("changes lost / duplicated", [0.0], ops_per_s=0, note=f"{lost} lost, {duplicated} duplicated of "
                                                         f"{len(sold)} sent and {len(made)} received; "
                                                         f"{unacked} revisions left unacknowledged (must all be 0)")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.channel_api", description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="40 connections and 20 samples each way")
    ap.add_argument("--db-url", default=os.environ.get("BENCH_API_DATABASE_URL", DEFAULT_DB_URL))
    ap.add_argument("--json", metavar="PATH", help="also write the table's figures to PATH (bench/results.py)")
    args = ap.parse_args(argv)
    from bench import results
    from bench.channel_import import _recreate_database
    from bench.run import _admin_url

    info = results.RunInfo("bench.channel_api", argv)
    _recreate_database(args.db_url)
    started = time.perf_counter()
    rows = run(args.db_url, args.quick)
    log()
    print_table(rows)
    if args.json:
        info.dataset = {"database": _admin_url(args.db_url)[1], "quick": args.quick}
        results.write(args.json, info, [results.table_dict("Channel APIs", rows)])
        log(f"Wrote {args.json}.")
    log(f"\nTotal time {time.perf_counter() - started:.0f} s.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
