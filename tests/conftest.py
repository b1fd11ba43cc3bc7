import pytest

from bookings import services
from bookings.state_machine import Actor
from guests.services import GuestInput
from payments.localstripe_server import LocalStripe
from tests.factories import OwnerFactory, PropertyFactory, future


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
