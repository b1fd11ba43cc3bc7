import os
from datetime import datetime

import pytest

from bookings import services
from core.actor import Actor
from guests.services import GuestInput
from payments.localstripe_server import LocalStripe
from tests.factories import OwnerFactory, PropertyFactory, future

# --- The clock of the whole run ------------------------------------------------------------------------------
# STAYHOLD_TEST_NOW=2027-03-06T12:00:00+00:00 pytest … runs every test as if the clock showed that instant (it keeps
# ticking from there; time-machine moves datetime, date and time.time of this process). `make
# test-clock` runs the suite on every day of a week and across a month end, a year end and a DST change, so a test
# that silently depends on today's weekday or month shows up. Tests must state the day they need (e.g.
# tests.factories.next_weekday) instead of hoping for one. Tests whose other side keeps the real clock (a
# subprocess, Chromium, OpenSSL checking a certificate) are marked `real_clock` and skipped in a shifted run.
_TRAVELLER = None


def pytest_configure(config):
    global _TRAVELLER
    now = os.environ.get("STAYHOLD_TEST_NOW")
    if now:
        import time_machine

        _TRAVELLER = time_machine.travel(datetime.fromisoformat(now), tick=True)
        _TRAVELLER.start()


def pytest_unconfigure(config):
    if _TRAVELLER is not None:
        _TRAVELLER.stop()


def pytest_collection_modifyitems(config, items):
    if _TRAVELLER is None:
        return
    skip = pytest.mark.skip(reason="STAYHOLD_TEST_NOW shifts only this process's clock; this test's peer keeps "
                                   "the real one")
    for item in items:
        if item.get_closest_marker("real_clock") or item.get_closest_marker("browser"):
            item.add_marker(skip)


def pytest_report_header(config):
    if _TRAVELLER is not None:
        return f"clock shifted: STAYHOLD_TEST_NOW={os.environ['STAYHOLD_TEST_NOW']}"
    return None


@pytest.fixture(autouse=True)
def english_by_default():
    """Each test starts in English, the site's default. A request with a language cookie or Accept-Language leaves
    its language active in the thread after the response (LocaleMiddleware does not switch back), which would make
    the next test's gettext() speak Spanish."""
    from django.conf import settings
    from django.utils import translation

    translation.activate(settings.LANGUAGE_CODE)
    yield
    translation.activate(settings.LANGUAGE_CODE)


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker):
    """The database as migrated, also with ``--reuse-db``: a transactional test's flush (pytest-django runs them
    last) empties every table, so a reused test database has lost the beat schedule that data migrations write.
    It is written again here by the same migration functions (each one is a get_or_create)."""
    import inspect

    from django.db import connection
    from django.db.migrations.loader import MigrationLoader
    from django.db.migrations.operations import RunPython
    from django_celery_beat.models import PeriodicTask

    with django_db_blocker.unblock():
        if PeriodicTask.objects.exists():
            return
        loader = MigrationLoader(connection)
        apps = loader.project_state().apps
        plan = dict.fromkeys(key for leaf in loader.graph.leaf_nodes() for key in loader.graph.forwards_plan(leaf))
        for key in plan:
            for operation in loader.get_migration(*key).operations:
                if isinstance(operation, RunPython) and "PeriodicTask" in inspect.getsource(operation.code):
                    with connection.schema_editor() as editor:
                        operation.code(apps, editor)


@pytest.fixture(scope="session")
def localstripe():
    """A localstripe server (a fake, stateful Stripe, with its fake Stripe.js) on a free port, one per session.

    Started only by the tests that ask for it (tests/payments, tests/browser)."""
    server = LocalStripe().start()
    yield server
    server.stop()


@pytest.fixture
def owner(db):
    """A property owner with the "Owners" role (guests.roles)."""
    return OwnerFactory(email="owner@example.com")


@pytest.fixture
def owner_a(db):
    """Owner A of the tenant-boundary tests (the one whose rows others must not reach)."""
    return OwnerFactory(email="owner-a@example.com")


@pytest.fixture
def owner_b(db):
    """Owner B, who must never see or change owner A's rows."""
    return OwnerFactory(email="owner-b@example.com")


@pytest.fixture
def clear_cache():
    """An empty cache before and after the test (rate limits and throttles count in it)."""
    from django.core.cache import cache

    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def prop(db, owner):
    return PropertyFactory(owner=owner)


@pytest.fixture
def guest_input():
    return GuestInput(name="Ada Lovelace", email="ada@example.com", phone="+44 20 7946 0000", country="GB")


@pytest.fixture
def book(guest_input):
    """Reserve ``prop`` from ``future(start)`` for ``nights`` nights through the service."""

    def _book(prop, start=10, nights=3, **kwargs):
        kwargs.setdefault("adults", 2)
        kwargs.setdefault("guest", guest_input)
        kwargs.setdefault("actor", Actor.system("test"))
        return services.reserve(property_id=prop.pk, check_in=future(start), check_out=future(start + nights),
                                **kwargs)

    return _book
