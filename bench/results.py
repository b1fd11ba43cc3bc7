"""Machine-readable benchmark results: every figure of a printed table as JSON, and a check of such a file.

    python -m bench.results check var/bench-smoke.json [--printed var/bench-smoke.log]
    python -m bench.results compare var/before.json var/after.json

Every benchmark command (``bench.run``, ``bench.channel_export``, ``bench.channel_import``,
``bench.channel_api``) takes ``--json PATH`` and writes, through :func:`write`, one document::

    {
      "schema": "stayhold-bench/1",
      "benchmark": "bench.run",                 # the module that ran
      "argv": [...],                            # its arguments
      "metadata": {                             # the run: when, where, on what
        "started_at": "...", "finished_at": "...", "seconds": 123.4,
        "git_commit": "5b8379b...", "git_dirty": false,
        "machine": {"cpu_model": "...", "cpu_count": 2, "load_average_start": [1.0, 0.8, 0.5],
                    "load_average_end": [...], "platform": "Linux-...", "hostname": "..."},
        "python": "CPython 3.11.2",
        "dataset": {"properties": 10000, "bookings": 500000, "database": "stayhold_bench", ...}
      },
      "tables": [{"title": "...", "rows": [ROW, ...]}],
      "scaling": {...}                          # bench.run --scaling only (bench/run.py)
    }

    ROW = {"key": "search", "operation": "search 7 nights, 2 guests (page 1 of 1,890)",
           "p50_ms": 54.0, "p95_ms": 62.9, "ops_per_s": 18.1, "queries_per_op": 3, "samples": 200,
           "notes": "...", "skipped": "", "facts": {"total": 1890},
           "floor": {"key": "search.floor", "operation": "...", "p50_ms": ..., "p95_ms": ..., "ops_per_s": ...,
                     "queries_per_op": 1} | null,
           "is_floor": false, "printed": ["search 7 nights …", "54.00", "62.90", "18", "3", "..."]}

Figures are ``null`` where the printed cell is "n/a" or "-". ``printed`` holds the row exactly as the table
printed it, which is what :func:`check` compares a printed log with.
"""

from __future__ import annotations

import json
import math
import os
import platform
import re
import socket
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

SCHEMA = "stayhold-bench/1"
ROOT = Path(__file__).resolve().parent.parent
ROW_KEYS = ("key", "operation", "p50_ms", "p95_ms", "ops_per_s", "queries_per_op", "samples", "notes", "skipped",
            "facts", "floor", "is_floor", "printed")


def load_average() -> list[float]:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return []


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


def git_commit() -> tuple[str, bool | None]:
    """The checked-out commit and whether the work tree differs from it ("" and None outside a git work tree)."""
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True,
                                timeout=10, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=ROOT,
                               capture_output=True, text=True, timeout=10, check=True).stdout.strip() != ""
        return commit, dirty
    except (OSError, subprocess.SubprocessError):
        return "", None


class RunInfo:
    """Start a run's metadata at its start (time, load average) and finish it at the end."""

    def __init__(self, benchmark: str, argv: list[str] | None = None):
        self.benchmark = benchmark
        self.argv = list(sys.argv[1:] if argv is None else argv)
        self.started = datetime.now(UTC)
        self.load_start = load_average()
        self.dataset: dict[str, Any] = {}

    def metadata(self) -> dict[str, Any]:
        finished = datetime.now(UTC)
        commit, dirty = git_commit()
        return {
            "started_at": self.started.isoformat(timespec="seconds"),
            "finished_at": finished.isoformat(timespec="seconds"),
            "seconds": round((finished - self.started).total_seconds(), 1),
            "git_commit": commit,
            "git_dirty": dirty,
            "machine": {
                "cpu_model": cpu_model(),
                "cpu_count": os.cpu_count(),
                "load_average_start": self.load_start,
                "load_average_end": load_average(),
                "platform": platform.platform(),
                "hostname": socket.gethostname(),
            },
            "python": f"{platform.python_implementation()} {platform.python_version()}",
            "dataset": self.dataset,
        }


def _number(value: float | None, digits: int) -> float | None:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return None
    return round(float(value), digits)


def row_key(row) -> str:
    """The row's key, or one made from its printed name ("ical export GET 200 (test client)" ->
    "ical-export-get-200-test-client"): stable as long as the name is, which is what a comparison needs."""
    return row.key or re.sub(r"[^a-z0-9]+", "-", row.name.strip().lower()).strip("-")


def row_dict(row, by_key: dict[str, Any]) -> dict[str, Any]:
    """One :class:`bench.run.Row` as a JSON object (``by_key``: the table's rows by key, to resolve its floor)."""
    p50, p95, ops = row.figures()
    floor = by_key.get(row.floor) if row.floor else None
    floor_figures = None
    if floor is not None:
        f50, f95, fops = floor.figures()
        floor_figures = {"key": row_key(floor), "operation": floor.name.strip(), "p50_ms": _number(f50, 3),
                         "p95_ms": _number(f95, 3), "ops_per_s": _number(fops, 2), "queries_per_op": floor.queries}
    return {
        "key": row_key(row),
        "operation": row.name.strip(),
        "p50_ms": _number(p50, 3),
        "p95_ms": _number(p95, 3),
        "ops_per_s": _number(ops, 2),
        "queries_per_op": row.queries,
        "samples": len(row.samples_ms),
        "notes": row.note,
        "skipped": row.skipped,
        "facts": dict(row.facts),
        "floor": floor_figures,
        "is_floor": any(other.floor == row_key(row) for other in by_key.values()),
        "printed": [cell.strip() for cell in row.cells()],
    }


def table_dict(title: str, rows: list) -> dict[str, Any]:
    by_key = {row_key(row): row for row in rows}
    return {"title": title, "rows": [row_dict(row, by_key) for row in rows]}


def document(info: RunInfo, tables: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    return {"schema": SCHEMA, "benchmark": info.benchmark, "argv": info.argv, "metadata": info.metadata(),
            "tables": tables, **extra}


def write(path: str | os.PathLike, info: RunInfo, tables: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    """Write the document to ``path`` (its directory created when missing) and return it."""
    doc = document(info, tables, **extra)
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(target.name + ".tmp")
    tmp.write_text(json.dumps(doc, indent=2, ensure_ascii=False, default=str) + "\n")
    tmp.replace(target)
    return doc


# --- checking a written file (make bench-smoke) ---------------------------------------------------


def printed_rows(text: str) -> list[list[str]]:
    """The rows of every "operation | p50 ms | ..." table in a printed log, cut at the widths of its dashes line."""
    lines = text.splitlines()
    out = []
    i = 0
    while i < len(lines) - 1:
        if lines[i].startswith("operation ") and set(lines[i + 1]) <= {"-", " "} and "-" in lines[i + 1]:
            widths = [len(d) for d in lines[i + 1].split("  ")]
            i += 2
            while i < len(lines) and lines[i].strip():
                cells, pos = [], 0
                for n, w in enumerate(widths):
                    cell = lines[i][pos:] if n == len(widths) - 1 else lines[i][pos:pos + w]
                    cells.append(cell.strip())
                    pos += w + 2
                out.append(cells)
                i += 1
        else:
            i += 1
    return out


def check(doc: dict[str, Any], printed: str | None = None) -> list[str]:
    """What is wrong with a results document (an empty list when nothing is); with ``printed`` (the command's
    output), also that every printed table row is in the JSON with the same cells, and no other row is."""
    problems = []
    if doc.get("schema") != SCHEMA:
        problems.append(f"schema is {doc.get('schema')!r}, not {SCHEMA!r}")
    meta = doc.get("metadata") or {}
    for key in ("started_at", "git_commit", "machine", "python", "dataset"):
        if key not in meta:
            problems.append(f"metadata.{key} missing")
    machine = meta.get("machine") or {}
    for key in ("cpu_model", "cpu_count", "load_average_start", "load_average_end"):
        if key not in machine:
            problems.append(f"metadata.machine.{key} missing")
    tables = doc.get("tables") or []
    rows = [row for table in tables for row in table.get("rows") or []]
    if not rows:
        problems.append("no rows")
    for table in tables:  # keys are unique within a table (a scaling run has one table per size)
        keys = [row.get("key") for row in table.get("rows") or [] if row.get("key")]
        if len(set(keys)) != len(keys):
            problems.append(f"duplicate row keys in {table.get('title', '')[:40]!r}: "
                            f"{sorted(k for k in set(keys) if keys.count(k) > 1)}")
    for table in tables:
        keys = [row.get("key") for row in table.get("rows") or []]
        for row in table.get("rows") or []:
            if row.get("floor") is not None and row["floor"].get("key") not in keys:
                problems.append(f"row {row.get('operation')!r} names a floor that is not a row: "
                                f"{row['floor'].get('key')!r}")
    scaling = doc.get("scaling")
    if scaling is not None:
        width = len(scaling.get("header") or [])
        if not width or any(len(line) != width for line in scaling.get("rows") or []):
            problems.append("scaling: every line must have one cell per column of the header")
    for row in rows:
        missing = [k for k in ROW_KEYS if k not in row]
        if missing:
            problems.append(f"row {row.get('operation')!r} lacks {missing}")
            continue
        if not row["skipped"] and (row["p50_ms"] is None or row["p95_ms"] is None or row["ops_per_s"] is None):
            problems.append(f"row {row['operation']!r} has no figures and is not skipped")
    if printed is not None:
        seen = [row["printed"] for row in rows if "printed" in row]
        shown = printed_rows(printed)
        for cells in shown:
            if cells not in seen:
                problems.append(f"printed row not in the JSON: {cells[:3]}")
        for cells in seen:
            if cells not in shown:
                problems.append(f"JSON row not printed: {cells[:3]}")
    return problems


def compare(before: dict[str, Any], after: dict[str, Any]) -> list[list[str]]:
    """Rows of both documents matched by table position and key: p50, p95, ops/s before -> after, and p95's ratio
    (a row missing on one side shows "-"). For spotting regressions between two runs of the same command; the
    figures are only as comparable as the machines and loads in the two ``metadata`` blocks."""
    def rows_of(doc):
        return {(t.get("properties"), r["key"]): r for t in doc.get("tables") or [] for r in t.get("rows") or []}

    a, b = rows_of(before), rows_of(after)
    out = []
    for ident in list(a) + [k for k in b if k not in a]:
        x, y = a.get(ident), b.get(ident)

        def fig(row, name):
            value = None if row is None else row.get(name)
            return "-" if value is None else f"{value:,.2f}"

        ratio = "-"
        if x and y and x.get("p95_ms") and y.get("p95_ms"):
            ratio = f"{y['p95_ms'] / x['p95_ms']:.2f}x"
        size = "" if ident[0] is None else f"{ident[0]:,}: "
        out.append([size + ident[1], f"{fig(x, 'p50_ms')} -> {fig(y, 'p50_ms')}",
                    f"{fig(x, 'p95_ms')} -> {fig(y, 'p95_ms')}", f"{fig(x, 'ops_per_s')} -> {fig(y, 'ops_per_s')}",
                    ratio])
    return out


def main(argv: list[str] | None = None) -> int:
    import argparse

    ap = argparse.ArgumentParser(prog="python -m bench.results", description="Check a benchmark results file.")
    sub = ap.add_subparsers(dest="command", required=True)
    c = sub.add_parser("check", help="validate a --json file (and compare it with the printed output)")
    c.add_argument("path")
    c.add_argument("--printed", help="the command's printed output: every table row must be in the JSON")
    cmp = sub.add_parser("compare", help="two --json files side by side, row by row (by key)")
    cmp.add_argument("before")
    cmp.add_argument("after")
    args = ap.parse_args(argv)
    if args.command == "compare":
        from bench.run import print_cells

        docs = [json.loads(Path(x).read_text()) for x in (args.before, args.after)]
        for label, doc in zip(("before", "after"), docs, strict=True):
            m = doc["metadata"]
            print(f"{label}: {m['started_at']}, commit {m['git_commit'][:12]}{' (dirty)' if m['git_dirty'] else ''}, "
                  f"load {m['machine']['load_average_start']} -> {m['machine']['load_average_end']}")
        print_cells(["key", "p50 ms", "p95 ms", "ops/s", "p95 after/before"], compare(*docs),
                    ["<", ">", ">", ">", ">"])
        return 0
    doc = json.loads(Path(args.path).read_text())
    printed = Path(args.printed).read_text() if args.printed else None
    problems = check(doc, printed)
    for problem in problems:
        print(f"{args.path}: {problem}", file=sys.stderr)
    n = sum(len(t.get("rows") or []) for t in doc.get("tables") or [])
    if not problems:
        print(f"{args.path}: {n} rows, schema {doc['schema']}, commit {doc['metadata']['git_commit'][:12]}: ok")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
