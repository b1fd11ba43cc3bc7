"""A test's own Celery queue: the tests that run a real worker publish every task to a queue of their own, so that
the worker sees nothing else and nothing is left behind.

Since the tasks are routed by kind (config/queues.py: ``CELERY_TASK_ROUTES``), changing ``task_default_queue``
alone no longer moves them; the routes are replaced too, and Celery's router (built once per process) rebuilt."""

from collections.abc import Iterator
from contextlib import contextmanager

from config.celery import app


def _apply(**conf) -> None:
    app.conf.update(conf)
    app.amqp.flush_routes()
    app.amqp.__dict__.pop("router", None)  # a cached property: the next publish builds it from the new routes


@contextmanager
def every_task_to(queue: str) -> Iterator[None]:
    """In this process, publish every task to ``queue`` (really publish: not eagerly); restored afterwards."""
    saved = {key: app.conf[key] for key in ("task_always_eager", "task_default_queue", "task_routes")}
    _apply(task_always_eager=False, task_default_queue=queue, task_routes={"*": {"queue": queue}})
    try:
        yield
    finally:
        _apply(**saved)

# A worker process started with ``python -c`` does the same before ``app.worker_main(...)``:
#     app.conf.update(task_default_queue=queue, task_routes={"*": {"queue": queue}})
