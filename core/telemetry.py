"""Tracing (OpenTelemetry) and error reporting (Sentry): both off unless the environment turns them on.

**OpenTelemetry** (:func:`configure_tracing`) is turned on by the standard variables, as any OTel SDK reads them:
``OTEL_TRACES_EXPORTER`` (``otlp``, ``console``, or ``none``) or, without it, an ``OTEL_EXPORTER_OTLP_ENDPOINT`` /
``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`` (then ``otlp``); ``OTEL_SDK_DISABLED=true`` wins over both. The OTLP exporter
speaks HTTP/protobuf (``opentelemetry-exporter-otlp-proto-http``; no gRPC client is installed) and reads its own
``OTEL_EXPORTER_OTLP_*`` variables (endpoint, headers, timeout); the sampler is ``OTEL_TRACES_SAMPLER``, the service
name ``OTEL_SERVICE_NAME`` (default ``stayhold``). Instrumented: Django (a span per request), psycopg (a span per
query), Celery (publish and run, the trace continuing in the worker), Redis, and outbound HTTP through requests
(Stripe, the channel adapters) and urllib3 (the iCal fetcher). Every span's attributes pass through the same
redaction as the logs before they leave (:class:`RedactingExporter`): feed URLs, query strings and tokens never reach
the collector.

**Sentry** (:func:`configure_sentry`) reports unhandled errors of requests and tasks (and error log lines) when
``SENTRY_DSN`` is set, tagged with the correlation id, with no personal data: no user, cookies, bodies, query
strings or frame variables are collected, and ``before_send`` applies the log redaction to the whole event.

Both are set up once per process by ``CoreConfig.ready`` (:func:`configure_from_settings`).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping, Sequence
from typing import Any, cast

from .correlation import current_correlation_id
from .redaction import is_secret_key, redact, redact_text

log = logging.getLogger(__name__)

_configured = False


def configure_from_settings() -> None:
    """Tracing and Sentry as the environment and settings ask, once per process."""
    global _configured
    if _configured:
        return
    _configured = True
    from django.conf import settings

    configure_tracing(os.environ)
    configure_sentry(getattr(settings, "SENTRY_DSN", ""), environment=getattr(settings, "SENTRY_ENVIRONMENT", ""),
                     release=getattr(settings, "SENTRY_RELEASE", ""))


# --- OpenTelemetry ----------------------------------------------------------------------------------------------------

EXPORTERS = ("otlp", "console")


def traces_exporters(environ: Mapping[str, str]) -> list[str]:
    """The exporters the standard variables ask for; empty when tracing is off."""
    if environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return []
    named = [name.strip().lower() for name in environ.get("OTEL_TRACES_EXPORTER", "").split(",") if name.strip()]
    if named:
        return [name for name in named if name != "none"]
    if environ.get("OTEL_EXPORTER_OTLP_ENDPOINT") or environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"):
        return ["otlp"]
    return []


def _redact_attributes(attributes: Mapping[str, Any] | None) -> dict[str, Any]:
    clean: dict[str, Any] = {}
    for key, value in (attributes or {}).items():
        if is_secret_key(key) and value not in (None, ""):
            clean[key] = "[redacted]"
        elif isinstance(value, str):
            clean[key] = redact_text(value)
        elif isinstance(value, Sequence) and not isinstance(value, bytes):
            clean[key] = tuple(redact_text(item) if isinstance(item, str) else item for item in value)
        else:
            clean[key] = value
    return clean


class RedactingExporter:
    """A span exporter that hands the wrapped exporter copies of the spans whose attributes (and events'
    attributes) went through ``core.redaction``: URLs with feed tokens, query strings, emails."""

    def __init__(self, inner):
        self.inner = inner

    def export(self, spans):
        from opentelemetry.sdk.trace import Event, ReadableSpan

        clean = []
        for span in spans:
            events = [Event(event.name, _redact_attributes(event.attributes), event.timestamp)
                      for event in span.events]
            clean.append(ReadableSpan(
                name=span.name, context=span.context, parent=span.parent, resource=span.resource,
                attributes=_redact_attributes(span.attributes), events=events, links=span.links, kind=span.kind,
                status=span.status, start_time=span.start_time, end_time=span.end_time,
                instrumentation_scope=span.instrumentation_scope,
            ))
        return self.inner.export(clean)

    def shutdown(self):
        return self.inner.shutdown()

    def force_flush(self, timeout_millis: int = 30000):
        return self.inner.force_flush(timeout_millis)


def _exporter(name: str):
    if name == "otlp":
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        return OTLPSpanExporter()
    if name == "console":
        from opentelemetry.sdk.trace.export import ConsoleSpanExporter

        return ConsoleSpanExporter()
    raise ValueError(f"OTEL_TRACES_EXPORTER: {name!r} is not supported here (one of {EXPORTERS} or none)")


def _instrumentors() -> list:
    from opentelemetry.instrumentation.celery import CeleryInstrumentor
    from opentelemetry.instrumentation.django import DjangoInstrumentor
    from opentelemetry.instrumentation.psycopg import PsycopgInstrumentor
    from opentelemetry.instrumentation.redis import RedisInstrumentor
    from opentelemetry.instrumentation.requests import RequestsInstrumentor
    from opentelemetry.instrumentation.urllib3 import URLLib3Instrumentor

    return [DjangoInstrumentor(), PsycopgInstrumentor(), CeleryInstrumentor(), RedisInstrumentor(),
            RequestsInstrumentor(), URLLib3Instrumentor()]


def configure_tracing(environ: Mapping[str, str], *, set_global: bool = True):
    """Instrument this process when the ``OTEL_*`` variables ask for it. Returns the tracer provider, or None when
    tracing is off (then nothing is imported from the SDK and nothing is patched)."""
    names = traces_exporters(environ)
    if not names:
        return None
    from opentelemetry import trace
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    resource = Resource.create({"service.name": environ.get("OTEL_SERVICE_NAME") or "stayhold"})
    provider = TracerProvider(resource=resource)  # the sampler: OTEL_TRACES_SAMPLER(_ARG), read by the SDK
    for name in names:
        # Batched: spans are exported by a background thread (re-created after a fork: gunicorn, Celery prefork).
        provider.add_span_processor(BatchSpanProcessor(cast(Any, RedactingExporter(_exporter(name)))))
    if set_global:
        trace.set_tracer_provider(provider)
    for instrumentor in _instrumentors():
        if not instrumentor.is_instrumented_by_opentelemetry:
            instrumentor.instrument(tracer_provider=provider)
    log.info("tracing_enabled", extra={"exporters": names})
    return provider


def uninstrument() -> None:
    """Undo :func:`configure_tracing`'s patches (tests)."""
    for instrumentor in _instrumentors():
        if instrumentor.is_instrumented_by_opentelemetry:
            instrumentor.uninstrument()


# --- Sentry -----------------------------------------------------------------------------------------------------------


def scrub_sentry_event(event: dict, _hint: dict | None = None) -> dict:
    """Sentry's ``before_send``: the correlation id as a tag, then the log redaction over the whole event."""
    correlation_id = current_correlation_id()
    if correlation_id:
        tags = event.setdefault("tags", {})
        if isinstance(tags, dict):
            tags.setdefault("correlation_id", correlation_id)
    return redact(event)


# What Sentry may collect by itself (sentry-sdk 3's ``data_collection``, which replaced 2.x's send_default_pii=False):
# no user identity, no cookies, no bodies, no query strings, no local variables, no SQL parameters; request headers
# only through Sentry's own deny-list (Authorization, Cookie, … filtered), then through ``scrub_sentry_event``.
SENTRY_DATA_COLLECTION: Any = {
    "user_info": False,
    "cookies": {"mode": "off"},
    "http_headers": {"request": {"mode": "denylist"}},
    "http_bodies": [],
    "url_query_params": {"mode": "off"},
    "stack_frame_variables": False,
    "database_query_data": False,
    "queues": False,
}


def configure_sentry(dsn: str, *, environment: str = "", release: str = "", transport=None) -> bool:
    """Report errors to Sentry when ``dsn`` is set. Returns whether it did."""
    if not dsn:
        return False
    import sentry_sdk
    from sentry_sdk.integrations.celery import CeleryIntegration
    from sentry_sdk.integrations.django import DjangoIntegration
    from sentry_sdk.integrations.logging import LoggingIntegration

    options: dict[str, Any] = {}
    if transport is not None:
        options["transport"] = transport
    sentry_sdk.init(
        dsn=dsn,
        environment=environment or None,
        release=release or None,
        integrations=[DjangoIntegration(), CeleryIntegration(), LoggingIntegration(event_level=logging.ERROR)],
        auto_enabling_integrations=False,
        data_collection=SENTRY_DATA_COLLECTION,
        before_send=cast(Any, scrub_sentry_event),
        traces_sample_rate=None,  # errors only; traces are OpenTelemetry's
        **options,
    )
    return True
