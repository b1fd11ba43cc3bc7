"""A scratch PostgreSQL database beside the test database, for the tests that run real commands against one
(the backup restore, the image's release and web commands): its URL, and a context that creates it empty and
drops it afterwards."""

from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
from django.db import connections


def database_url(name: str | None = None) -> str:
    """The URL of ``name`` (default: the test database) on the test database's server, with its credentials."""
    s = connections["default"].settings_dict
    auth = s["USER"] + (f":{s['PASSWORD']}" if s["PASSWORD"] else "")
    return f"postgres://{auth}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{name or s['NAME']}"


@contextmanager
def scratch_database(suffix: str) -> Iterator[str]:
    """A new, empty database named after the test database plus ``suffix``; dropped (forcibly) at the end."""
    name = connections["default"].settings_dict["NAME"] + suffix
    with psycopg.connect(database_url("postgres"), autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield name
    finally:
        with psycopg.connect(database_url("postgres"), autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
