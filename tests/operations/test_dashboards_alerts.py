"""The alert rules and the Grafana dashboard (ops/) name only metrics the app exports, and the rules are valid
Prometheus rules whose thresholds fire where the seed says (``promtool``, when it is installed: .ci/run)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from prometheus_client import REGISTRY

from config.metrics import OperationsCollector

ROOT = Path(__file__).resolve().parents[2]
RULES = ROOT / "ops" / "prometheus" / "alerts.yml"
RULE_TESTS = ROOT / "ops" / "prometheus" / "alerts_test.yml"
DASHBOARD = ROOT / "ops" / "grafana" / "stayhold.json"

# Words of PromQL that look like metric names
PROMQL_WORDS = {"sum", "by", "rate", "increase", "histogram_quantile", "topk", "le", "and", "or", "unless",
                "without", "on", "ignoring", "group_left", "group_right", "avg", "max", "min", "count", "bool",
                "offset", "irate", "abs", "clamp_min", "humanizeDuration", "humanizePercentage"}
SUFFIXES = {"counter": ("_total", "_created"), "histogram": ("_bucket", "_count", "_sum", "_created"),
            "gauge": ("",), "summary": ("_count", "_sum", "_created")}


def exported_names() -> set[str]:
    families = list(REGISTRY.collect()) + list(OperationsCollector().collect())
    names = set()
    for family in families:
        for suffix in SUFFIXES.get(family.type, ("",)):
            names.add(family.name + suffix)
    return names


def metric_names(expr: str) -> set[str]:
    without_labels = re.sub(r"\{[^}]*\}", "", expr)
    without_ranges = re.sub(r"\[[^\]]*\]", "", without_labels)
    without_groupings = re.sub(r"\b(by|without|on|ignoring)\s*\([^)]*\)", "", without_ranges)
    words = set(re.findall(r"[a-zA-Z_:][a-zA-Z0-9_:]*", without_groupings))
    return {w for w in words if w not in PROMQL_WORDS and not re.fullmatch(r"\d+|e\d*", w)}


def rules() -> list[dict]:
    return [rule for group in yaml.safe_load(RULES.read_text())["groups"] for rule in group["rules"]]


def dashboard_exprs() -> list[str]:
    def walk(panels):
        for panel in panels:
            yield from (t["expr"] for t in panel.get("targets", []))
            yield from walk(panel.get("panels", []))

    return list(walk(json.loads(DASHBOARD.read_text())["panels"]))


@pytest.mark.django_db
def test_every_alert_names_exported_metrics():
    exported = exported_names()
    for rule in rules():
        names = metric_names(rule["expr"])
        assert names, rule["alert"]
        assert names <= exported, (rule["alert"], names - exported)


@pytest.mark.django_db
def test_every_dashboard_query_names_exported_metrics():
    exported = exported_names()
    exprs = dashboard_exprs()
    assert len(exprs) >= 20
    for expr in exprs:
        assert metric_names(expr) <= exported, (expr, metric_names(expr) - exported)


def test_the_seed_thresholds_are_the_alerts():
    by_name = {rule["alert"]: rule["expr"] for rule in rules()}
    expected = {
        "ChannelSyncSlow": ("sync_latency_seconds_bucket", "> 30"),
        "ApiSlow": ("api_request_duration_seconds_bucket", "> 0.5"),
        "CalendarLockHeldLong": ("calendar_lock_duration_seconds_bucket", "> 60"),
        "WebhookSlow": ("webhook_processing_seconds_bucket", "> 5"),
    }
    for alert, (metric, threshold) in expected.items():
        assert metric in by_name[alert] and by_name[alert].strip().endswith(threshold)
        assert "histogram_quantile(0.99" in by_name[alert]
    assert "outbox_oldest_undelivered_age_seconds" in by_name["OutboxStuck"]
    assert 'channel_connections{health="failing"}' in by_name["ChannelConnectionsFailing"]


def promtool() -> str | None:
    candidates = [os.environ.get("PROMTOOL", ""), shutil.which("promtool") or "", str(ROOT / "var/bin/promtool")]
    return next((c for c in candidates if c and os.access(c, os.X_OK)), None)


@pytest.mark.real_clock
@pytest.mark.skipif(promtool() is None, reason="promtool is not installed (.ci/run extracts it from Debian's package)")
def test_promtool_checks_the_rules_and_their_unit_tests():
    tool = promtool()
    check = subprocess.run([tool, "check", "rules", str(RULES)], capture_output=True, text=True, timeout=60)
    assert check.returncode == 0, check.stdout + check.stderr
    unit = subprocess.run([tool, "test", "rules", str(RULE_TESTS)], capture_output=True, text=True, timeout=120)
    assert unit.returncode == 0, unit.stdout + unit.stderr
