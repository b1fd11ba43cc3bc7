"""ops/backup.sh and ops/restore.sh on a real database: the test database with bookings in it is dumped, restored into
a new database, and the restored copy has the bookings and still refuses a double booking (the exclusion
constraint came along). The new database is dropped at the end."""

import os
import shutil
import subprocess
from pathlib import Path

import psycopg
import pytest

from bookings.models import Booking

from .scratch import database_url as url
from .scratch import scratch_database

ROOT = Path(__file__).resolve().parents[2]

pytestmark = [
    pytest.mark.django_db(transaction=True),  # committed rows: pg_dump reads them from another session
    pytest.mark.skipif(shutil.which("pg_dump") is None or shutil.which("pg_restore") is None,
                       reason="the PostgreSQL client tools are not installed"),
]


def run(*args, **env) -> subprocess.CompletedProcess:
    return subprocess.run(["sh", *args], cwd=ROOT, env={**os.environ, **env}, capture_output=True, text=True,
                          timeout=300)


@pytest.fixture
def restored_database():
    with scratch_database("_restored") as name:
        yield name


def test_a_backup_restores_with_its_bookings_and_the_exclusion_constraint(prop, book, tmp_path, restored_database):
    first = book(prop, start=10, nights=3)
    second = book(prop, start=20, nights=3)

    backup = run("ops/backup.sh", url(), BACKUP_DIR=str(tmp_path))
    assert backup.returncode == 0, backup.stderr
    dump = Path(backup.stdout.strip())
    assert dump.parent == tmp_path and dump.name.startswith("stayhold-") and dump.stat().st_size > 0

    restore = run("ops/restore.sh", str(dump), url(restored_database))
    assert restore.returncode == 0, restore.stderr

    with psycopg.connect(url(restored_database)) as restored:
        rows = restored.execute(
            "SELECT reference, check_in, check_out FROM bookings_booking ORDER BY check_in").fetchall()
        assert rows == [(first.reference, first.check_in, first.check_out),
                        (second.reference, second.check_in, second.check_out)]
        constraints = restored.execute(
            "SELECT conname FROM pg_constraint WHERE conrelid = 'bookings_booking'::regclass AND contype = 'x'"
        ).fetchall()
        assert constraints  # the exclusion constraint is there...
        with pytest.raises(psycopg.errors.ExclusionViolation):  # ...and refuses a second sale of the same nights
            restored.execute("UPDATE bookings_booking SET check_in = %s, check_out = %s WHERE reference = %s",
                             (first.check_in, first.check_out, second.reference))
    assert Booking.objects.count() == 2  # the source is untouched


def test_restore_refuses_a_database_that_has_tables(prop, tmp_path):
    backup = run("ops/backup.sh", url(), BACKUP_DIR=str(tmp_path))
    assert backup.returncode == 0, backup.stderr

    restore = run("ops/restore.sh", backup.stdout.strip(), url())  # the live test database itself

    assert restore.returncode == 1
    assert "refusing to restore" in restore.stderr
    assert Booking.objects.count() == 0 and type(prop).objects.filter(pk=prop.pk).exists()


def test_backup_keeps_the_newest_dumps_only(tmp_path):
    for stamp in ("20260101T030000Z", "20260102T030000Z", "20260103T030000Z"):
        (tmp_path / f"stayhold-{stamp}.dump").write_bytes(b"old")
    (tmp_path / "notes.txt").write_text("not a dump: never deleted")

    backup = run("ops/backup.sh", url(), BACKUP_DIR=str(tmp_path), BACKUP_KEEP="2")

    assert backup.returncode == 0, backup.stderr
    newest = Path(backup.stdout.strip()).name
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        ["notes.txt", "stayhold-20260103T030000Z.dump", newest])
