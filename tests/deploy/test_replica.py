"""The read-replica router (core.replica): search, calendar display and the iCal feed read from ``replica`` when one
is configured; every write, every read inside a transaction and every other path stays on the primary.

The replica here is a second database alias with its own connection to the same test database (what Django's
``TEST: {"MIRROR": "default"}`` does), so the rows are the same and only the connection tells which alias served a
query: each alias's queries are captured separately. Transactional tests, so the second connection sees the rows the
first one wrote.
"""

import pytest
from django.db import connections, transaction
from django.test.utils import CaptureQueriesContext

from bookings.models import Booking
from channels.models import ChannelConnection, Platform
from core.replica import REPLICA_ALIAS, ReplicaRouter, read_alias, replica_reads
from tests.factories import future

pytestmark = pytest.mark.django_db(transaction=True, databases=["default", REPLICA_ALIAS])


@pytest.fixture(scope="module", autouse=True)
def replica(django_db_setup):
    """A ``replica`` alias for this module's tests: a mirror of the test database (own connection, same rows).

    Module-scoped so that it exists before each test declares the databases it uses (pytest-django checks them)."""
    default = connections["default"].settings_dict
    connections.settings[REPLICA_ALIAS] = {**default, "TEST": {**default.get("TEST", {}), "MIRROR": "default"}}
    try:
        yield
    finally:
        if hasattr(connections._connections, REPLICA_ALIAS):
            connections[REPLICA_ALIAS].close()
            delattr(connections._connections, REPLICA_ALIAS)
        del connections.settings[REPLICA_ALIAS]


class Served:
    """The queries each alias ran inside the block."""

    def __enter__(self):
        self.primary = CaptureQueriesContext(connections["default"])
        self.replica = CaptureQueriesContext(connections[REPLICA_ALIAS])
        self.primary.__enter__()
        self.replica.__enter__()
        return self

    def __exit__(self, *exc):
        self.replica.__exit__(*exc)
        self.primary.__exit__(*exc)

    def on(self, alias: str) -> list[str]:
        context = self.primary if alias == "default" else self.replica
        return [q["sql"] for q in context.captured_queries]


def search_url() -> str:
    return f"/?check_in={future(30).isoformat()}&check_out={future(33).isoformat()}&guests=2"


def test_the_search_page_reads_the_replica_only(client, prop):
    with Served() as served:
        response = client.get(search_url())

    assert response.status_code == 200
    assert prop.name in response.content.decode()
    assert any("properties_property" in sql for sql in served.on("replica"))
    assert served.on("default") == []


def test_the_property_page_calendar_reads_the_replica(client, prop, book):
    book(prop, start=12, nights=2)
    with Served() as served:
        response = client.get(f"/properties/{prop.slug}/")

    assert response.status_code == 200
    replica_sql = served.on("replica")
    assert any("bookings_booking" in sql for sql in replica_sql)  # the calendar's occupied nights
    assert served.on("default") == []


def test_the_api_search_and_availability_read_the_replica(client, prop):
    with Served() as served:
        found = client.get("/api/v1/search", {"check_in": future(30).isoformat(),
                                               "check_out": future(33).isoformat(), "guests": 2})
        days = client.get("/api/v1/availability", {"property_id": prop.pk, "start": future(30).isoformat(),
                                                   "end": future(33).isoformat(), "guests": 2})

    assert found.status_code == 200, found.content
    assert [r["property"]["id"] for r in found.json()["results"]] == [prop.pk]
    assert days.status_code == 200, days.content
    assert days.json()["bookable"] is True
    assert served.on("replica")
    assert served.on("default") == []


def test_the_ical_feed_reads_the_replica(client, prop, book):
    book(prop, start=5, nights=2)
    connection = ChannelConnection.objects.create(property=prop, platform=Platform.AIRBNB)
    with Served() as served:
        response = client.get(f"/ical/{connection.export_token}.ics")
        again = client.get(f"/ical/{connection.export_token}.ics", HTTP_IF_NONE_MATCH=response["ETag"])

    assert response.status_code == 200
    assert b"BEGIN:VEVENT" in response.content
    assert again.status_code == 304
    replica_sql = served.on("replica")
    assert any("md5" in sql for sql in replica_sql)  # the 304's digest query too
    assert served.on("default") == []


def test_a_reservation_reads_and_writes_only_the_primary(client, prop, book):
    """Even inside a replica-reading block: the availability check runs under the lock, in a transaction."""
    with Served() as served, replica_reads():
        booking = book(prop, start=20, nights=3)

    assert Booking.objects.filter(pk=booking.pk).exists()
    assert any("FOR UPDATE" in sql for sql in served.on("default"))
    assert served.on("replica") == []


def test_a_booking_page_post_stays_on_the_primary(client, prop):
    """A POST to a replica-reading view is not routed there (the decorator applies to GET and HEAD only)."""
    with Served() as served:
        response = client.post(search_url())

    assert response.status_code in (200, 405)
    assert served.on("replica") == []


def test_reads_inside_a_transaction_and_writes_go_to_the_primary(prop):
    with replica_reads():
        assert read_alias() == REPLICA_ALIAS
        with Served() as served:
            fetched = type(prop).objects.get(pk=prop.pk)  # read from the replica...
            with transaction.atomic():
                assert read_alias() == "default"
                locked = type(prop).objects.select_for_update().get(pk=prop.pk)
                locked.name = "Renamed on the primary"
                locked.save()
            fetched.name = "Saved from a replica read"
            fetched.save()  # ...saved to the primary
            assert read_alias() == "default"  # after a write, this block reads its own writes from the primary
            assert type(prop).objects.get(pk=prop.pk).name == "Saved from a replica read"

    replica_sql = served.on("replica")
    primary_sql = served.on("default")
    assert len(replica_sql) == 1 and replica_sql[0].startswith("SELECT")
    assert any("FOR UPDATE" in sql for sql in primary_sql)
    assert sum(sql.startswith("UPDATE") for sql in primary_sql) == 2
    assert primary_sql[-1].startswith("SELECT")


def test_outside_the_marked_paths_reads_stay_on_the_primary(prop):
    with Served() as served:
        list(type(prop).objects.all())

    assert served.on("replica") == []
    assert served.on("default")


def test_the_replica_is_never_migrated():
    router = ReplicaRouter()

    assert router.allow_migrate("default", "bookings") is True
    assert router.allow_migrate(REPLICA_ALIAS, "bookings") is False
    assert router.db_for_write(Booking) == "default"
