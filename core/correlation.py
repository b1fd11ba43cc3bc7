"""The correlation id: one id per HTTP request that follows everything the request causes (docs/logging.md).

It starts in :class:`core.middleware.RequestCauseMiddleware` (the client's ``X-Request-ID`` when it is a plain
token, else a new one), lives in a context variable while the request runs, and is

* written on every log line (``core.logging``: the ``correlation_id`` field),
* returned in the response's ``X-Request-ID`` and shown as the reference on the error pages (``config.views``),
* carried into every Celery task published while it is set, as the message header ``stayhold_correlation_id``
  (:func:`stamp_task_headers`, Celery's ``before_task_publish``), and restored in the worker around the task
  (:func:`task_started` / :func:`task_ended`), so a task queued by a task keeps the request's id too,
* stored on every outbox event written while it is set (``OutboxEvent.correlation_id``) and restored while the
  event is delivered (``core.outbox.deliver``), however late: the sweeper's redelivery an hour later still logs
  the request that wrote the event.

A task or a beat run that no request caused gets an id of its own when it starts, so its lines and what it
causes can be followed the same way. Code outside both (a management command, a shell) has none (``None`` in
the logs) unless it binds one with :func:`correlated`.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar, Token

from .context import REQUEST_ID

HEADER = "stayhold_correlation_id"  # the Celery message header (Celery uses "correlation_id" for the task id)
RESPONSE_HEADER = "X-Request-ID"

log = logging.getLogger(__name__)
_correlation_id: ContextVar[str | None] = ContextVar("stayhold_correlation_id", default=None)
_task_tokens: dict[str, list[Token]] = {}  # task id → the tokens to reset when it ends (eager tasks nest)


def current_correlation_id() -> str | None:
    return _correlation_id.get()


def new_correlation_id() -> str:
    return uuid.uuid4().hex


def valid_correlation_id(value: object) -> str | None:
    """``value`` when it is an id we accept (letters, digits, ``._-``, 1 to 64 characters), else None."""
    return value if isinstance(value, str) and REQUEST_ID.match(value) else None


@contextmanager
def correlated(correlation_id: str | None) -> Iterator[str | None]:
    """Run the block under ``correlation_id`` (None: keep the current one)."""
    if correlation_id is None:
        yield current_correlation_id()
        return
    token = _correlation_id.set(correlation_id)
    try:
        yield correlation_id
    finally:
        _correlation_id.reset(token)


# --- Celery -----------------------------------------------------------------------------------------------------------
# Connected in CoreConfig.ready. ``before_task_publish`` runs in the publishing process (a web request, a task), the
# others in the worker around each task.


def stamp_task_headers(headers=None, **_kwargs) -> None:
    """Celery ``before_task_publish``: the message carries the current correlation id (if any)."""
    correlation_id = current_correlation_id()
    if headers is not None and correlation_id and not headers.get(HEADER):
        headers[HEADER] = correlation_id


def _from_task_request(task) -> str | None:
    request = getattr(task, "request", None)
    if request is None:
        return None
    value = getattr(request, HEADER, None) or (getattr(request, "headers", None) or {}).get(HEADER)
    return valid_correlation_id(value)


def task_received(request=None, **_kwargs) -> None:
    """Celery ``task_received`` (in the worker, when a message arrives): the "task received" line, under the
    message's correlation id. It replaces Celery's own "Task … received" line (``celery.worker.strategy``, silenced
    in ``core.logging.logging_config``), which is written before any hook could give it the id."""
    if request is None:
        return
    headers = getattr(request, "request_dict", None) or {}
    with correlated(valid_correlation_id(headers.get(HEADER))):
        log.info("task_received", extra={"task": request.name, "task_id": request.id})


def task_started(task_id=None, task=None, **_kwargs) -> None:
    """Celery ``task_prerun``: the message's id, else the caller's (an eager task runs inside its caller), else a
    new one."""
    correlation_id = _from_task_request(task) or current_correlation_id() or new_correlation_id()
    _task_tokens.setdefault(str(task_id), []).append(_correlation_id.set(correlation_id))


def task_ended(task_id=None, **_kwargs) -> None:
    """Celery ``task_postrun``: back to what was current before the task (nothing, in a worker; the caller's id for
    an eager task), so a worker's next task never inherits this one's id."""
    tokens = _task_tokens.get(str(task_id))
    if not tokens:
        return
    token = tokens.pop()
    if not tokens:
        del _task_tokens[str(task_id)]
    try:
        _correlation_id.reset(token)
    except ValueError:  # set in another context (should not happen): at least do not leak the id
        _correlation_id.set(None)
