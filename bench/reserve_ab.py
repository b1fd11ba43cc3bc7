"""A/B of ``reserve()`` in one run (docs/performance-writes.md): 8 threads on distinct dates, in interleaved rounds,
the raw-SQL floor of ``bench.run``, the three-statement PostgreSQL path (``new``), the ORM path (``orm``: the same
``reserve()`` with its PostgreSQL branch switched off, as SQLite runs it) and, as a diagnostic, ``nopub`` (the new
path with the outbox publish after commit switched off). Uses the data set of ``bench.run`` (build it first).

usage: BENCH_REDIS_URL=redis://127.0.0.1:6379/13 python -m bench.reserve_ab [ROUNDS [PER_THREAD [PATHS]]]
       e.g. python -m bench.reserve_ab 5 20 new,orm (the database: BENCH_DATABASE_URL, else bench.run's default)"""
import os
import statistics
import sys
import time
import types

from bench import run  # noqa: E402

DB_URL = os.environ.get("BENCH_DATABASE_URL", run.DEFAULT_DB_URL)
run.configure_django(DB_URL)
from django.utils import timezone  # noqa: E402

from bookings import services  # noqa: E402
from core.actor import Actor  # noqa: E402

rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 3
per_thread = int(sys.argv[2]) if len(sys.argv) > 2 else 20
marker = run.load_marker()
slots = run.free_slots(timezone.localdate())
actor = Actor.system("bench")
real_connection = services.connection
orm_switch = types.SimpleNamespace(vendor="orm-path")


from core import outbox  # noqa: E402

real_queue = outbox._queue_delivery


def distinct(path: str):
    services.connection = orm_switch if path == "orm" else real_connection
    outbox._queue_delivery = (lambda event_id: None) if path == "nopub" else real_queue
    batch = [slots.pop() for _ in range(run.THREADS * per_thread)]
    work = [batch[i::run.THREADS] for i in range(run.THREADS)]

    def target(items, out):
        for n, (pid, ci, co) in enumerate(items):
            t = time.perf_counter()
            try:
                services.reserve(property_id=pid, check_in=ci, check_out=co, adults=2,
                                 guest=run._guest(n, f"ab{pid}"), actor=actor)
                out.append(("ok", (time.perf_counter() - t) * 1000))
            except Exception as exc:  # noqa: BLE001
                out.append((type(exc).__name__, (time.perf_counter() - t) * 1000))

    cpu = time.process_time()
    wall, results = run.run_threads(work, target)
    cpu = (time.process_time() - cpu) * 1000
    ok = sum(1 for r in results if r[0] == "ok")
    return ok / wall, cpu / len(results), statistics.median(r[1] for r in results), {r[0] for r in results} - {"ok"}


paths = sys.argv[3].split(",") if len(sys.argv) > 3 else ["new", "orm"]
res = {"floor": [], **{p: [] for p in paths}}
try:
    for r in range(rounds):
        from django.db import connection
        with connection.cursor() as cur:  # the floor numbers its references from 0 on every call
            cur.execute("UPDATE bookings_booking SET reference = 'X' || id WHERE reference LIKE 'PMS-FLOOR-%%'")
        row = run.bench_raw_floor(DB_URL, slots, per_thread)
        res["floor"].append((row.ops_per_s, None, statistics.median(row.samples_ms), set()))
        for path in paths:
            res[path].append(distinct(path))
        print(f"round {r + 1}: " + "; ".join(f"{k} {v[-1][0]:.0f}/s" + (f" {v[-1][1]:.1f} ms CPU" if v[-1][1] else "")
                                             + (f" errors {v[-1][3]}" if v[-1][3] else "") for k, v in res.items()),
              flush=True)
    for k, v in res.items():
        ops = [x[0] for x in v]
        cpu = [x[1] for x in v if x[1]]
        print(f"{k:6s} ops/s median {statistics.median(ops):.0f} (runs {', '.join(f'{o:.0f}' for o in ops)})"
              + (f"; CPU/op median {statistics.median(cpu):.2f} ms" if cpu else "")
              + f"; p50 latency {statistics.median(x[2] for x in v):.1f} ms")
finally:
    services.connection = real_connection
    run.reset_run_data(marker)
