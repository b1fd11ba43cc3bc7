"""Structured logs: every line one event, as JSON in production and readable columns in development (docs/logging.md).

structlog renders the standard library's records, so Django's, Celery's, gunicorn's (when it uses Django's
handlers) and every library's loggers come out in the same format as the project's own. Every line has
``timestamp`` (UTC, ISO 8601), ``level``, ``logger``, ``event`` and ``correlation_id`` (``core.correlation``;
``null`` outside a request or task), ``trace_id``/``span_id`` while an OpenTelemetry span is recording
(``core.telemetry``), the exception as text under ``exception``, and whatever the call added as keywords.
The last step before rendering takes out personal data and secrets (``core.redaction``).

``settings.LOGGING`` is built by :func:`logging_config`; :func:`configure_structlog` (``CoreConfig.ready``) routes
structlog's own loggers (``structlog.get_logger()``) through the same handlers.
"""

from __future__ import annotations

from typing import Any

import structlog

from .correlation import current_correlation_id
from .redaction import redact

FORMATS = ("json", "console")


def add_correlation_id(_logger, _method, event_dict: dict) -> dict:
    """The current correlation id. Django logs its 4xx/5xx lines ("Not Found: …") after the middleware has
    returned, with the request as ``extra``: the id is then the request's own (``request.request_id``). The request
    object itself is dropped (its repr is the full path with the query string: tokens)."""
    correlation_id = current_correlation_id()
    request = event_dict.get("request")
    if request is not None and hasattr(request, "META"):
        correlation_id = correlation_id or getattr(request, "request_id", None)
        del event_dict["request"]
    event_dict.pop("message", None)  # logging's formatted copy of "event", set by other formatters on the record
    event_dict.setdefault("correlation_id", correlation_id)
    return event_dict


def add_trace_ids(_logger, _method, event_dict: dict) -> dict:
    """The OpenTelemetry trace and span ids while a span is recording (tracing on: core.telemetry)."""
    try:
        from opentelemetry import trace
    except ImportError:  # pragma: no cover - opentelemetry-api is a dependency
        return event_dict
    context = trace.get_current_span().get_span_context()
    if context.is_valid:
        event_dict.setdefault("trace_id", format(context.trace_id, "032x"))
        event_dict.setdefault("span_id", format(context.span_id, "016x"))
    return event_dict


FIRST_FIELDS = ("timestamp", "level", "logger", "correlation_id", "event")


def redact_event(_logger, _method, event_dict: dict) -> dict:
    """Personal data and secrets out of every field (by key and by pattern) and the exception's text; the common
    fields first, so the lines read alike."""
    clean = redact(event_dict)
    ordered = {key: clean.pop(key) for key in FIRST_FIELDS if key in clean}
    ordered.update(clean)
    return ordered


# Run on every line, from structlog and from the standard library alike, before rendering.
SHARED_PROCESSORS: list[Any] = [
    structlog.contextvars.merge_contextvars,
    structlog.stdlib.add_log_level,
    structlog.stdlib.add_logger_name,
    structlog.stdlib.ExtraAdder(),  # logging's extra={...} become fields
    structlog.processors.TimeStamper(fmt="iso", utc=True),
    add_correlation_id,
    add_trace_ids,
]


def formatter(fmt: str = "json") -> structlog.stdlib.ProcessorFormatter:
    """The handlers' formatter (``settings.LOGGING``): ``json`` one object per line, ``console`` for people."""
    if fmt not in FORMATS:
        raise ValueError(f"LOG_FORMAT must be one of {FORMATS}, not {fmt!r}")
    if fmt == "json":
        final: list[Any] = [structlog.processors.format_exc_info, redact_event,
                            structlog.processors.JSONRenderer(default=str, sort_keys=False)]
    else:
        # ConsoleRenderer prints the exception itself (after this step), so it is rendered to text here first and
        # redacted with everything else.
        final = [structlog.processors.format_exc_info, redact_event,
                 structlog.dev.ConsoleRenderer(colors=False, sort_keys=False)]
    return structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=SHARED_PROCESSORS,
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, *final],
    )


def logging_config(fmt: str, level: str = "INFO") -> dict:
    """``settings.LOGGING``: one handler on the root logger, writing ``fmt`` lines to standard error."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"structured": {"()": "core.logging.formatter", "fmt": fmt}},
        "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "structured"}},
        "root": {"handlers": ["console"], "level": level},
        "loggers": {
            # Django's DEFAULT_LOGGING gives "django" and "django.server" handlers of their own (plain text, the
            # full path, no redaction; "django.server" does not propagate): emptied, so their lines come here.
            "django": {"handlers": [], "level": level, "propagate": True},
            "django.db.backends": {"level": "WARNING"},  # every SQL statement at DEBUG: far too much, and values
            # runserver's request lines (`make run`) repeat the middleware's "request" line with the full path
            # and query: only its errors are kept.
            "django.server": {"handlers": [], "level": "ERROR", "propagate": True},
            # Celery's "Task … received" line is written before any hook can give it the message's correlation
            # id: core.correlation.task_received writes that line instead, with the id.
            "celery.worker.strategy": {"level": "WARNING"},
        },
    }


def configure_structlog() -> None:
    """structlog's own loggers hand their events to the standard library's handlers (one format, one output)."""
    structlog.configure(
        processors=[*SHARED_PROCESSORS, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )


def default_format(debug: bool) -> str:
    """``console`` for a developer (DEBUG on: ``make run``), else ``json`` (production)."""
    return "console" if debug else "json"


def get_logger(name: str | None = None) -> Any:
    return structlog.get_logger(name)

