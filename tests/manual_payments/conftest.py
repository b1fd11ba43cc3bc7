import io

import pytest
from PIL import Image

from core.actor import Actor
from payments import manual
from payments.models import HostPaymentMethod
from tests.factories import OwnerFactory, PropertyFactory, StaffFactory


@pytest.fixture(autouse=True)
def _private_root(settings, tmp_path):
    settings.PRIVATE_MEDIA_ROOT = tmp_path / "private"
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture(autouse=True)
def _clear_cache(clear_cache):
    """Rate limits, throttles and used TOTP codes live in the cache: each test starts empty."""


@pytest.fixture
def owner(db):
    return OwnerFactory(email="owner-a@example.com")


@pytest.fixture
def staffer(db, prop):
    return StaffFactory(email="staff-a@example.com", employer=prop.owner, properties=[prop])


@pytest.fixture
def owner_b(db):
    user = OwnerFactory(email="owner-b@example.com")
    PropertyFactory(owner=user)
    return user


@pytest.fixture
def zelle(owner):
    return HostPaymentMethod.objects.create(owner=owner, kind="zelle", handle="pay@owner-a.example",
                                            display_name="Owner A", instructions="Use Zelle from your bank app.")


@pytest.fixture
def reserved(prop, book):
    return book(prop)


@pytest.fixture
def mp(reserved, zelle):
    return manual.choose_method(booking_id=reserved.pk, method_id=zelle.pk, actor=Actor.guest("ada@example.com"))


def image_bytes(fmt="PNG", size=(20, 20)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, (200, 30, 30)).save(buf, format=fmt)
    return buf.getvalue()
