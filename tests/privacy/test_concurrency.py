"""Erasure under real concurrency (own connections, released together: tests/parallel.py)."""

import pytest

from core.actor import Actor
from guests.models import Guest
from privacy import selectors, services
from privacy.errors import AlreadyErased, ErasureRefused
from privacy.models import PrivacyAction, PrivacyEvent
from tests.parallel import run_in_parallel
from tests.privacy.conftest import ADA, _reserve

pytestmark = pytest.mark.django_db(transaction=True)


def test_parallel_erasures_of_one_guest_erase_once(past, settings):
    settings.GUEST_RETENTION_YEARS = 0
    guest_id = past.ada.pk
    jobs = [lambda: services.erase_guest(guest_id=guest_id, actor=Actor.system("admin"), channel="admin")] * 3
    jobs += [lambda: services.erase_expired_guests()] * 3
    results = run_in_parallel(jobs)
    for kind, value in results:
        assert kind == "ok" or isinstance(value, AlreadyErased), value
    assert PrivacyEvent.objects.filter(action=PrivacyAction.ERASURE, guest_id=guest_id).count() == 1
    assert PrivacyEvent.objects.filter(action=PrivacyAction.ERASURE).count() == 2  # Ada and Grace, once each


def test_an_erasure_racing_a_new_booking_never_erases_a_guest_with_a_stay_ahead(past):
    guest_id = past.ada.pk
    results = run_in_parallel([
        lambda: services.erase_guest(guest_id=guest_id, actor=Actor.system("admin"), channel="admin"),
        lambda: _reserve(past.prop_a, ADA, 40),
    ])
    erasure, booking = results
    assert booking[0] == "ok", booking
    if erasure[0] == "ok":  # the erasure went first: the new booking made a new profile
        assert booking[1].guest_id != guest_id
        assert Guest.objects.get(pk=booking[1].guest_id).email == "ada@example.com"
    else:  # the booking went first: refused, nothing erased
        assert isinstance(erasure[1], ErasureRefused)
        assert Guest.objects.get(pk=guest_id).email == "ada@example.com"
    for event in PrivacyEvent.objects.filter(action=PrivacyAction.ERASURE):
        assert not selectors.erasure_blockers([event.guest_id]), "an erased guest never has a stay ahead"
