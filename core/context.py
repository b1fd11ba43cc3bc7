"""What caused the code that is running now: a request or a Celery task, as one short label.

Audit rows record it (``core.models.AuditRow.cause``), so a status change can be traced back to the request or
task that made it. ``core.middleware.RequestCauseMiddleware`` sets it for each request (from the client's
``X-Request-ID`` when it is a plain token, else a new id, echoed in the response); the Celery signals wired in
``CoreConfig.ready`` set it for each task. Code run from neither (a management command, a shell) has no cause.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

_cause: ContextVar[str] = ContextVar("stayhold_cause", default="")
REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")  # what we accept from a client's X-Request-ID


def current_cause() -> str:
    return _cause.get()


@contextmanager
def caused_by(label: str) -> Iterator[None]:
    token = _cause.set(label[:100])
    try:
        yield
    finally:
        _cause.reset(token)


def request_id_from(header: str | None) -> str:
    """The client's id when it is a plain token (letters, digits, ``._-``, at most 64), else a new one."""
    return header if header and REQUEST_ID.match(header) else uuid.uuid4().hex


def task_started(task_id=None, task=None, **_kwargs) -> None:
    """Celery ``task_prerun``: the task is the cause until it ends."""
    _cause.set(f"task {getattr(task, 'name', '?')} {task_id or ''}".strip()[:100])


def task_ended(**_kwargs) -> None:
    """Celery ``task_postrun``: a worker process runs many tasks; none inherits the last one's cause."""
    _cause.set("")
