"""Tracing (OpenTelemetry) and error reports (Sentry), core.telemetry: off unless the environment turns them on;
on, a request produces spans (its database queries included) and an error reaches Sentry with the correlation id
and without personal data."""

import gzip
import json
import os
import subprocess
import sys
import threading
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import psycopg
import pytest
from django.conf import settings
from django.db import connection
from django.test import Client

from core import telemetry
from tests.factories import PropertyFactory

from .test_correlation import details

OTEL_MIDDLEWARE = "opentelemetry.instrumentation.django.middleware.otel_middleware._DjangoMiddleware"


def instrumented() -> dict[str, bool]:
    from opentelemetry.instrumentation.celery import CeleryInstrumentor
    from opentelemetry.instrumentation.django import DjangoInstrumentor
    from opentelemetry.instrumentation.redis import RedisInstrumentor
    from opentelemetry.instrumentation.requests import RequestsInstrumentor

    return {"django": DjangoInstrumentor().is_instrumented_by_opentelemetry or OTEL_MIDDLEWARE in settings.MIDDLEWARE,
            "psycopg": hasattr(psycopg.connect, "__wrapped__"),
            "celery": CeleryInstrumentor().is_instrumented_by_opentelemetry,
            "redis": RedisInstrumentor().is_instrumented_by_opentelemetry,
            "requests": RequestsInstrumentor().is_instrumented_by_opentelemetry}


# --- OpenTelemetry ----------------------------------------------------------------------------------------------------

def test_with_the_variables_unset_nothing_is_instrumented():
    assert not any(key.startswith("OTEL_") for key in os.environ)  # the test run's own environment
    # CoreConfig.ready has run configure_from_settings for this process: nothing was patched.
    assert instrumented() == dict.fromkeys(instrumented(), False)
    assert telemetry.configure_tracing({}) is None
    assert instrumented() == dict.fromkeys(instrumented(), False)


@pytest.mark.parametrize("environ, exporters", [
    ({}, []),
    ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318"}, ["otlp"]),
    ({"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://collector:4318/v1/traces"}, ["otlp"]),
    ({"OTEL_TRACES_EXPORTER": "console"}, ["console"]),
    ({"OTEL_TRACES_EXPORTER": "otlp,console"}, ["otlp", "console"]),
    ({"OTEL_TRACES_EXPORTER": "none", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318"}, []),
    ({"OTEL_SDK_DISABLED": "true", "OTEL_TRACES_EXPORTER": "console"}, []),
    ({"OTEL_SDK_DISABLED": "false", "OTEL_TRACES_EXPORTER": "console"}, ["console"]),
])
def test_the_standard_variables_choose_the_exporters(environ, exporters):
    assert telemetry.traces_exporters(environ) == exporters


def console_spans(text: str) -> list[dict]:
    """The ConsoleSpanExporter's output: JSON objects one after another."""
    decoder, spans, index = json.JSONDecoder(), [], 0
    while index < len(text):
        if text[index].isspace():
            index += 1
            continue
        span, index = decoder.raw_decode(text, index)
        spans.append(span)
    return spans


@pytest.mark.django_db(transaction=True)
def test_with_a_console_exporter_a_request_produces_spans_with_its_queries_and_the_logs_carry_the_trace(
        capsys, log_output):
    prop = PropertyFactory()
    provider = telemetry.configure_tracing({"OTEL_TRACES_EXPORTER": "console", "OTEL_SERVICE_NAME": "stayhold-test"},
                                           set_global=False)
    try:
        assert provider is not None and all(instrumented().values())
        connection.close()  # the next query opens a connection through the instrumented psycopg.connect
        capsys.readouterr()
        response = Client().post(f"/book/{prop.slug}/?token=querysecret", details(email="grace@example.net"))
        assert response.status_code == 302
        provider.force_flush()
        spans = console_spans(capsys.readouterr().out)
    finally:
        telemetry.uninstrument()
        connection.close()
        if provider is not None:
            provider.shutdown()
    assert instrumented() == dict.fromkeys(instrumented(), False)
    [server] = [span for span in spans if span["kind"] == "SpanKind.SERVER"]
    assert server["name"] == "POST book/<slug:slug>/" and server["attributes"]["http.route"] == "book/<slug:slug>/"
    assert server["resource"]["attributes"]["service.name"] == "stayhold-test"
    trace_id = server["context"]["trace_id"]
    queries = [span for span in spans if span["kind"] == "SpanKind.CLIENT" and span["attributes"].get("db.system")]
    assert queries and all(span["context"]["trace_id"] == trace_id for span in queries)
    assert any("INSERT" in span["attributes"].get("db.statement", "") for span in queries)
    # Redacted before export: no query string, no guest address.
    exported = json.dumps(spans)
    assert "querysecret" not in exported and "grace@example.net" not in exported
    [request_line] = log_output.events("request")
    assert request_line["trace_id"] == trace_id.removeprefix("0x")


# --- Sentry -----------------------------------------------------------------------------------------------------------

class FakeSentry(BaseHTTPRequestHandler):
    """Sentry's envelope endpoint: records every body it is sent."""

    received: list[bytes] = []

    def do_POST(self):  # noqa: N802 - http.server's name
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        encoding = self.headers.get("Content-Encoding", "")
        if encoding == "gzip":
            body = gzip.decompress(body)
        elif encoding == "deflate":
            body = zlib.decompress(body)
        elif encoding == "br":
            import brotli

            body = brotli.decompress(body)
        self.received.append(body)
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, *args):
        pass


def envelope_events(body: bytes) -> list[dict]:
    """The ``event`` items of a Sentry envelope (header line, then item header line + payload line pairs)."""
    lines = body.split(b"\n")
    events = []
    for index, line in enumerate(lines[1:], start=1):
        if line.startswith(b"{") and json.loads(line).get("type") == "event":
            events.append(json.loads(lines[index + 1]))
    return events


SCRIPT = """
import django
django.setup()
from django.test import Client
from django.test.utils import override_settings, setup_test_environment
import sentry_sdk
setup_test_environment()
with override_settings(ROOT_URLCONF="tests.observability.test_correlation"):
    response = Client(raise_request_exception=False).get("/boom/", HTTP_X_REQUEST_ID="sentry-ref-1")
print(response.status_code, sentry_sdk.get_client().is_active())
sentry_sdk.flush(timeout=10)
"""


@pytest.mark.real_clock
def test_with_a_dsn_an_error_in_a_view_reaches_sentry_with_the_reference_and_no_email():
    """A fresh process (Sentry patches Django and logging for good), configured by the settings alone."""
    FakeSentry.received = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeSentry)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings_test",
               "SENTRY_DSN": f"http://publickey@127.0.0.1:{server.server_port}/1", "SENTRY_ENVIRONMENT": "test"}
        result = subprocess.run([sys.executable, "-c", SCRIPT], cwd=Path(settings.BASE_DIR), env=env,
                                capture_output=True, text=True, timeout=120, check=False)
    finally:
        server.shutdown()
        server.server_close()
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["500", "True"]
    raw = b"".join(FakeSentry.received)
    events = [event for body in FakeSentry.received for event in envelope_events(body)]
    assert events, raw[:2000]
    [error] = [event for event in events if event.get("exception")]
    assert error["tags"]["correlation_id"] == "sentry-ref-1" and error["environment"] == "test"
    assert error["exception"]["values"][-1]["type"] == "RuntimeError"
    assert error["exception"]["values"][-1]["value"] == "the view failed for [email]"
    assert b"ada.lovelace@example.com" not in raw and b"ada.lovelace" not in raw


class FakeCollector(BaseHTTPRequestHandler):
    """An OpenTelemetry collector's OTLP/HTTP endpoint: records every trace export it is sent."""

    received: list[tuple[str, bytes]] = []

    def do_POST(self):  # noqa: N802 - http.server's name
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        if self.headers.get("Content-Encoding") == "gzip":
            body = gzip.decompress(body)
        self.received.append((self.path, body))
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.mark.urls("tests.observability.test_correlation")
def test_with_an_otlp_endpoint_the_spans_reach_the_collector_over_http(monkeypatch):
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

    FakeCollector.received = []
    collector = ThreadingHTTPServer(("127.0.0.1", 0), FakeCollector)
    threading.Thread(target=collector.serve_forever, daemon=True).start()
    endpoint = f"http://127.0.0.1:{collector.server_port}"
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint)  # read by the exporter itself, as in production
    provider = telemetry.configure_tracing({"OTEL_EXPORTER_OTLP_ENDPOINT": endpoint}, set_global=False)
    try:
        assert provider is not None
        response = Client().get("/fine/?token=querysecret", HTTP_X_REQUEST_ID="otlp-1")
        assert response.status_code == 200
        assert provider.force_flush()
    finally:
        telemetry.uninstrument()
        if provider is not None:
            provider.shutdown()
        collector.shutdown()
        collector.server_close()
    assert [path for path, _ in FakeCollector.received] == ["/v1/traces"]
    export = ExportTraceServiceRequest.FromString(FakeCollector.received[0][1])
    spans = [span for resource in export.resource_spans for scope in resource.scope_spans for span in scope.spans]
    assert [span.name for span in spans] == ["GET fine/"]
    attributes = {item.key: item.value.string_value for item in spans[0].attributes}
    assert attributes["http.route"] == "fine/"
    assert attributes["http.url"] == "http://testserver/fine/?[redacted]"  # the query string redacted before export
    assert b"querysecret" not in FakeCollector.received[0][1]
