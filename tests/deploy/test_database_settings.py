"""The database settings of docs/deployment.md: the replica alias from DATABASE_REPLICA_URL, Django's psycopg pool
from DATABASE_POOL_MAX_SIZE (and that it really connects and reuses its connection), pgbouncer's switch.

The settings are read in a subprocess with the environment an operator sets (they are computed once per process)."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.db import connections
from django.test.utils import CaptureQueriesContext

from core.replica import read_alias, replica_reads
from tests.factories import future

ROOT = Path(__file__).resolve().parents[2]


def run_django(code: str, **env) -> str:
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_", "DJANGO_"))}
    environment.update({"DJANGO_SETTINGS_MODULE": "config.settings", **env})
    result = subprocess.run([sys.executable, "-c", "import django; django.setup()\n" + code], cwd=ROOT,
                            env=environment, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip().splitlines()[-1]


def databases(**env) -> dict:
    return json.loads(run_django(
        "import json; from django.conf import settings; print(json.dumps(settings.DATABASES, default=str))", **env))


def test_no_replica_and_persistent_connections_by_default():
    dbs = databases(DATABASE_URL="postgres://app@db.example:5432/stayhold")

    assert list(dbs) == ["default"]
    assert dbs["default"]["CONN_MAX_AGE"] == 60
    assert "pool" not in dbs["default"].get("OPTIONS", {})
    assert dbs["default"]["DISABLE_SERVER_SIDE_CURSORS"] is False


def test_the_replica_alias_comes_from_database_replica_url():
    dbs = databases(DATABASE_URL="postgres://app@primary.example:5432/stayhold",
                    DATABASE_REPLICA_URL="postgres://reader@replica.example:5432/stayhold")

    assert dbs["replica"]["HOST"] == "replica.example"
    assert dbs["replica"]["USER"] == "reader"
    assert dbs["default"]["HOST"] == "primary.example"


def test_the_pool_replaces_persistent_connections_on_both_aliases():
    dbs = databases(DATABASE_URL="postgres://app@primary.example:5432/stayhold",
                    DATABASE_REPLICA_URL="postgres://reader@replica.example:5432/stayhold",
                    DATABASE_POOL_MAX_SIZE="4", DATABASE_POOL_TIMEOUT_SECONDS="3")

    for alias in ("default", "replica"):
        assert dbs[alias]["CONN_MAX_AGE"] == 0
        assert dbs[alias]["OPTIONS"]["pool"] == {"min_size": 1, "max_size": 4, "timeout": 3.0}


def test_pgbouncer_switch_disables_server_side_cursors():
    dbs = databases(DATABASE_URL="postgres://app@pgbouncer.example:6432/stayhold",
                    DATABASE_DISABLE_SERVER_SIDE_CURSORS="true")

    assert dbs["default"]["DISABLE_SERVER_SIDE_CURSORS"] is True


@pytest.mark.django_db
def test_the_pool_connects_and_hands_its_connection_back():
    """Against the real test database: two "requests" (each ends by closing the connection, as Django does after a
    response) are served by the same pooled server connection: closing hands it back to the pool instead of ending
    it. A pool of one, so that no second connection (the pool grows in the background) can serve the second."""
    url = "postgres://{USER}@{HOST}:{PORT}/{NAME}".format(**connections["default"].settings_dict)
    out = run_django(
        "from django.db import connection\n"
        "pids = []\n"
        "for _ in range(2):\n"
        "    with connection.cursor() as cursor:\n"
        "        cursor.execute('SELECT pg_backend_pid(), count(*) FROM django_migrations')\n"
        "        pids.append(cursor.fetchone())\n"
        "    connection.close()\n"
        "stats = connection.pool.get_stats()\n"
        "print(pids[0][0] == pids[1][0], pids[0][1] > 0, stats['pool_max'], stats['pool_size'])\n",
        DATABASE_URL=url, DATABASE_POOL_MAX_SIZE="1")

    assert out == "True True 1 1"  # one server connection, reused


@pytest.mark.django_db
def test_without_a_replica_the_marked_paths_read_the_primary(client, prop):
    with replica_reads():
        assert read_alias() == "default"
    with CaptureQueriesContext(connections["default"]) as primary:
        response = client.get(f"/?check_in={future(30).isoformat()}&check_out={future(33).isoformat()}&guests=2")

    assert response.status_code == 200
    assert prop.name in response.content.decode()
    assert any("properties_property" in q["sql"] for q in primary.captured_queries)
