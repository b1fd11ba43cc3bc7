"""The benchmarks' machine-readable output (bench/results.py) and the scaling helpers of bench/run.py.

No benchmark runs here (the figures are fake rows): what is tested is that every figure of a printed table lands
in the JSON, that a floor is resolved to its row's figures, that the checker catches a printed row missing from
the JSON, and how the scaling run names its databases and lays out its table. `make bench-smoke` runs the real
thing at the smallest size and checks its JSON with the same checker."""

import contextlib
import io
import json

from bench import results
from bench.run import Row, print_table, scaling_db_url, scaling_table, size_label


def fake_rows() -> list[Row]:
    return [
        Row("search 7 nights, 2 guests (page 1 of 1,890)", [50.0, 52.0, 54.0, 60.0], queries=3, key="search",
            floor="search.floor", note="2.0x floor", facts={"total": 1890}),
        Row("  floor: one hand-written SQL query (page 1 of 1,890)", [20.0, 21.0, 25.0], queries=1,
            key="search.floor", facts={"total": 1890}),
        Row("reserve(), 8 threads, distinct dates", [20.0, 30.0], ops_per_s=44.4, queries=15, key="reserve",
            floor="reserve.floor"),
        Row("  floor: raw SQL lock + check + insert, 8 threads", [2.0, 3.0], ops_per_s=508.0, queries=3,
            key="reserve.floor"),
        Row("GET guest pages over HTTP", skipped="skipped (--skip-http / --skip-pages)", key="pages"),
        Row("ical export GET 200 (test client)", [19.7], queries=4),  # no key: made from the name
    ]


def printed(rows: list[Row]) -> str:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        print("Results (…):")
        print_table(rows)
        print("\nTotal time 1 s.")
    return out.getvalue()


def test_every_printed_figure_is_in_the_json(tmp_path):
    rows = fake_rows()
    info = results.RunInfo("bench.run", ["--quick"])
    info.dataset = {"properties": 100, "bookings": 5000}
    path = tmp_path / "out" / "bench.json"
    results.write(path, info, [results.table_dict("Results", rows)])

    doc = json.loads(path.read_text())
    assert results.check(doc, printed(rows)) == []
    assert doc["schema"] == results.SCHEMA and doc["argv"] == ["--quick"]
    machine = doc["metadata"]["machine"]
    assert machine["cpu_count"] >= 1 and len(machine["load_average_start"]) == 3
    assert doc["metadata"]["dataset"] == {"properties": 100, "bookings": 5000}

    by_key = {r["key"]: r for r in doc["tables"][0]["rows"]}
    search = by_key["search"]
    assert search["operation"] == "search 7 nights, 2 guests (page 1 of 1,890)"
    assert (search["p50_ms"], search["p95_ms"], search["queries_per_op"], search["samples"]) == (53.0, 59.1, 3, 4)
    assert search["facts"] == {"total": 1890} and search["notes"] == "2.0x floor"
    assert search["floor"] == {"key": "search.floor",
                               "operation": "floor: one hand-written SQL query (page 1 of 1,890)",
                               "p50_ms": 21.0, "p95_ms": 24.6, "ops_per_s": 45.45, "queries_per_op": 1}
    assert by_key["search.floor"]["is_floor"] and not search["is_floor"]
    assert by_key["reserve"]["ops_per_s"] == 44.4 and by_key["reserve"]["floor"]["ops_per_s"] == 508.0
    skipped = by_key["pages"]
    assert (skipped["p50_ms"], skipped["ops_per_s"], skipped["skipped"]) == (None, None, "skipped (--skip-http / "
                                                                                        "--skip-pages)")
    assert by_key["ical-export-get-200-test-client"]["p95_ms"] == 19.7


def test_the_check_finds_a_printed_row_missing_from_the_json():
    rows = fake_rows()
    info = results.RunInfo("bench.run", [])
    doc = results.document(info, [results.table_dict("Results", rows[:-1])])
    problems = results.check(doc, printed(rows))
    assert problems == ["printed row not in the JSON: ['ical export GET 200 (test client)', '19.70', '19.70']"]
    assert results.check({"schema": "x", "metadata": {}, "tables": []}) != []


def test_printed_rows_cut_at_the_columns_of_the_dashes_line():
    rows = fake_rows()
    shown = results.printed_rows(printed(rows))
    assert [cells[0] for cells in shown] == [r.name.strip() for r in rows]
    assert shown[1][:5] == ["floor: one hand-written SQL query (page 1 of 1,890)", "21.00", "24.60", "45", "1"]


def test_each_size_of_the_scaling_run_has_its_own_database():
    assert scaling_db_url("postgres://postgres@127.0.0.1:5432/stayhold_bench", 1000) == (
        "postgres://postgres@127.0.0.1:5432/stayhold_bench_p1000")
    assert scaling_db_url("postgres://u@h:5432/stayhold_bench_s{size}", 100_000) == "postgres://u@h:5432/stayhold_bench_s100k"
    assert [size_label(n) for n in (100, 1000, 10_000, 2500, 1_000_000)] == ["100", "1k", "10k", "2500", "1m"]


def test_the_scaling_table_has_a_column_per_size_and_every_search_floor():
    def doc(n, search_p50, bits=None):
        rows = fake_rows()[:4]
        rows[0].samples_ms = [search_p50]
        rows[0].facts = {"total": n // 5}
        if bits is not None:
            rows.append(Row("  floor: bit string of occupied nights (page 1 of 9)", [bits], key="search.floor.bits"))
        info = results.RunInfo("bench.run", [])
        info.dataset = {"properties": n, "bookings": 50 * n, "load_seconds": n / 1000}
        return json.loads(json.dumps(results.document(info, [results.table_dict("t", rows)])))

    header, body = scaling_table([doc(1000, 5.0), doc(10_000, 50.0, bits=6.0)])
    assert header == ["properties", "1,000", "10,000"]
    lines = {line[0]: line[1:] for line in body}
    assert lines["bookings"] == ["50,000", "500,000"]
    assert lines["search 7 nights, 2 guests: p50 / p95 ms"] == ["5.00 / 5.00", "50.0 / 50.0"]
    assert lines["  properties found (exact total)"] == ["200", "2,000"]
    assert lines["  p50 ms per 1,000 found"] == ["25.0", "25.0"]
    assert lines["  floor: one hand-written SQL query: p50 / p95 ms"] == ["21.0 / 24.6", "21.0 / 24.6"]
    assert lines["  floor: bit string of occupied nights: p50 / p95 ms"] == ["-", "6.00 / 6.00"]
    assert lines["reserve(), 8 threads, distinct dates: /s"] == ["44", "44"]
    assert lines["POST /api/v1/bookings, 8 clients: /s"] == ["-", "-"]


def test_compare_matches_rows_by_key_and_shows_what_is_missing():
    rows = fake_rows()
    info = results.RunInfo("bench.run", [])
    before = json.loads(json.dumps(results.document(info, [results.table_dict("t", rows[:2])])))
    rows[0].samples_ms = [100.0, 120.0]
    after = json.loads(json.dumps(results.document(info, [results.table_dict("t", rows[:1] + rows[2:3])])))
    lines = {line[0]: line[1:] for line in results.compare(before, after)}
    assert lines["search"] == ["53.00 -> 110.00", "59.10 -> 119.00", "18.52 -> 9.09", "2.01x"]
    assert lines["search.floor"][0] == "21.00 -> -" and lines["search.floor"][3] == "-"
    assert lines["reserve"][2] == "- -> 44.40"


def test_keys_repeat_across_the_tables_of_a_scaling_run_but_not_within_one():
    info = results.RunInfo("bench.run", [])
    tables = [results.table_dict(f"{n} properties", fake_rows()) for n in (1000, 10_000)]
    scaling = {"header": ["properties", "1,000", "10,000"], "rows": [["bookings", "50,000", "500,000"]]}
    assert results.check(results.document(info, tables, scaling=scaling)) == []
    twice = results.table_dict("t", fake_rows()[:1] * 2)
    assert results.check(results.document(info, [twice])) == ["duplicate row keys in 't': ['search']"]
    scaling["rows"] = [["bookings", "50,000"]]
    assert results.check(results.document(info, tables, scaling=scaling)) == [
        "scaling: every line must have one cell per column of the header"]
