"""Reads that may be served by a PostgreSQL read replica, and the router that sends them there.

With ``DATABASE_REPLICA_URL`` set, the settings add a second database alias, ``replica`` (a streaming replica of the
primary). Only the read paths that are marked with :func:`replica_reads` use it:

* the guest search (the home page, ``GET /api/v1/search``),
* the calendar and availability *display* (the property page, ``GET /api/v1/availability``),
* the iCal export feed (``GET /ical/<token>.ics``).

Everything else reads the primary, and so does everything inside a transaction or after a write in the same
block: a booking's availability check runs under the property row lock in ``transaction.atomic()``, where the
router always answers ``default``. A replica lags the primary (usually well under a second, more under load or after
a network hiccup), so what it serves may be that much old: a search may show a property that was just booked (the
reservation, on the primary, then answers "no longer available"), a feed may miss a booking for that long
(platforms poll every few minutes anyway). Never a sold night: no decision is made from the replica.
docs/deployment.md "Read replica".

Without a replica (the default) nothing changes: the router answers ``None`` and Django uses ``default``.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from functools import wraps

from django.db import DEFAULT_DB_ALIAS, connections

REPLICA_ALIAS = "replica"


class _ReplicaReads:
    """The state of one :func:`replica_reads` block: once it wrote to the primary, its reads go there too (a
    replica may not have the row yet: read-your-writes, e.g. a task run eagerly after the commit)."""

    __slots__ = ("wrote",)

    def __init__(self) -> None:
        self.wrote = False


_replica_reads: ContextVar[_ReplicaReads | None] = ContextVar("stayhold_replica_reads", default=None)


def replica_configured() -> bool:
    return REPLICA_ALIAS in connections.settings


@contextmanager
def replica_reads() -> Iterator[None]:
    """Reads in this block (outside any transaction on the primary) may go to the replica, if one is configured."""
    token = _replica_reads.set(_ReplicaReads())
    try:
        yield
    finally:
        _replica_reads.reset(token)


def reads_from_replica(view):
    """A view decorator: the whole view runs in :func:`replica_reads` (only for GET and HEAD requests)."""

    @wraps(view)
    def wrapper(request, *args, **kwargs):
        if request.method not in ("GET", "HEAD"):
            return view(request, *args, **kwargs)
        with replica_reads():
            return view(request, *args, **kwargs)

    return wrapper


def read_alias() -> str:
    """The alias a read issued here and now goes to."""
    state = _replica_reads.get()
    if (state is not None and not state.wrote and replica_configured()
            and not connections[DEFAULT_DB_ALIAS].in_atomic_block):
        return REPLICA_ALIAS
    return DEFAULT_DB_ALIAS


class ReplicaRouter:
    """``DATABASE_ROUTERS``: marked reads to the replica; every write, every migration, every other read to
    ``default``."""

    def db_for_read(self, model, **hints) -> str:
        return read_alias()

    def db_for_write(self, model, **hints) -> str:
        # Also an object that was read from the replica is saved to the primary (Django asks the router first).
        state = _replica_reads.get()
        if state is not None:
            state.wrote = True
        return DEFAULT_DB_ALIAS

    def allow_relation(self, obj1, obj2, **hints) -> bool:
        return True  # both aliases hold the same rows

    def allow_migrate(self, db, app_label, model_name=None, **hints) -> bool:
        return db == DEFAULT_DB_ALIAS  # the replica receives the schema by replication
