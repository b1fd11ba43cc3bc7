"""The hand-computed reports fixture: owner A's bookings in January–March 2024, and owner B's that must not count.

Bookings go through the services with ``at=`` in the past (the services accept past
instants), so the quote snapshots are the real ones. The figures these produce are
worked out by hand in ``test_figures.py``.
"""

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from bookings import services
from core.actor import Actor
from guests.services import GuestInput
from properties.models import Property
from tests.factories import BlockFactory, DateOverrideFactory, PropertyFactory, StaffFactory

SYSTEM = Actor.system("test")


def at(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


def guest(n: int) -> GuestInput:
    return GuestInput(name=f"Guest {n}", email=f"guest{n}@example.com", phone="", country="PT")


def reserve(prop, check_in: date, check_out: date, when: datetime, n: int, **kwargs):
    return services.reserve(property_id=prop.pk, check_in=check_in, check_out=check_out, adults=2, guest=guest(n),
                            actor=SYSTEM, at=when, **kwargs)


def confirmed(prop, check_in: date, check_out: date, when: datetime, n: int, **kwargs):
    booking = reserve(prop, check_in, check_out, when, n, **kwargs)
    return services.confirm(booking_id=booking.pk, actor=SYSTEM, at=when + timedelta(minutes=5))


def channel(prop, source: str, check_in: date, check_out: date, when: datetime, n: int):
    return services.import_external(property_id=prop.pk, source=source, external_id=f"X{n}", check_in=check_in,
                                    check_out=check_out, guest=guest(n), adults=2, at=when).booking


@pytest.fixture
def staff_a(db, world):
    return StaffFactory(email="staff-a@example.com", properties=[world["alpha"], world["beta"]])


@pytest.fixture
def world(owner_a, owner_b):
    """See the module docstring of test_figures.py for every number this produces."""
    alpha = PropertyFactory(owner=owner_a, name="Alpha", currency="EUR", base_price=Decimal("100.00"),
                            cleaning_fee=Decimal("31.00"), tax_rate=Decimal("10"))
    beta = PropertyFactory(owner=owner_a, name="Beta", currency="EUR", base_price=Decimal("80.00"))
    delta = PropertyFactory(owner=owner_a, name="Delta", currency="USD", base_price=Decimal("200.00"))
    draft = PropertyFactory(owner=owner_a, name="Draft", currency="EUR", status=Property.Status.DRAFT)
    gamma = PropertyFactory(owner=owner_b, name="Gamma", currency="EUR", base_price=Decimal("90.00"))

    # Alpha: the night of 1 February costs 150 instead of 100.
    DateOverrideFactory(property=alpha, start_date=date(2024, 2, 1), end_date=date(2024, 2, 2),
                        nightly_price=Decimal("150.00"))
    # Blocks (test rows: production creates them through properties.services).
    BlockFactory(property=alpha, start_date=date(2023, 12, 28), end_date=date(2024, 1, 3))  # 1–2 Jan in the period
    BlockFactory(property=beta, start_date=date(2024, 1, 10), end_date=date(2024, 1, 20))  # 10 nights of January

    b1 = confirmed(alpha, date(2024, 1, 30), date(2024, 2, 2), at(2023, 12, 1, 10), 1)  # direct
    b2 = channel(alpha, "airbnb", date(2024, 2, 10), date(2024, 2, 15), at(2023, 12, 5, 10), 2)
    b3 = channel(beta, "booking_com", date(2024, 2, 27), date(2024, 3, 3), at(2023, 12, 6, 10), 3)
    services.check_in(booking_id=b3.pk, actor=SYSTEM, at=at(2024, 2, 27, 16))
    b3 = services.check_out(booking_id=b3.pk, actor=SYSTEM, at=at(2024, 3, 3, 10))
    b4 = reserve(beta, date(2024, 3, 10), date(2024, 3, 14), at(2024, 1, 10, 10), 4)
    b4 = services.confirm(booking_id=b4.pk, actor=SYSTEM, at=at(2024, 1, 10, 10, 5))
    b4 = services.cancel(booking_id=b4.pk, actor=SYSTEM, reason="Change of plans.", at=at(2024, 1, 15, 10))
    b6 = confirmed(alpha, date(2024, 3, 5), date(2024, 3, 7), at(2024, 1, 20, 10), 6, source="owner")
    d1 = confirmed(delta, date(2024, 1, 15), date(2024, 1, 17), at(2023, 12, 2, 10), 7)
    g1 = confirmed(gamma, date(2024, 2, 5), date(2024, 2, 8), at(2023, 12, 3, 10), 8)
    # Still only reserved (unpaid): occupies no reported night and is no booking yet.
    b5 = reserve(beta, date(2024, 3, 20), date(2024, 3, 22), at(2024, 3, 1, 10), 5)
    return {"alpha": alpha, "beta": beta, "delta": delta, "draft": draft, "gamma": gamma,
            "b1": b1, "b2": b2, "b3": b3, "b4": b4, "b5": b5, "b6": b6, "d1": d1, "g1": g1}
