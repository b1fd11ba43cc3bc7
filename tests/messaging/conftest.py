"""Messaging tests: a confirmed booking of owner A's property, owner B next door, A's staff; helpers for uploads."""

import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from bookings import services
from core.actor import Actor
from tests.factories import OwnerFactory, PropertyFactory, StaffFactory


def png_bytes(size=(4, 4)) -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", size, (10, 120, 130)).save(buffer, "PNG")
    return buffer.getvalue()


PDF = b"%PDF-1.4\n1 0 obj<</Type/Catalog>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"


def png_upload(name="photo.png"):
    return SimpleUploadedFile(name, png_bytes(), content_type="image/png")


def pdf_upload(name="guide.pdf"):
    return SimpleUploadedFile(name, PDF, content_type="application/pdf")


@pytest.fixture(autouse=True)
def private_media(settings, tmp_path, clear_cache):
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.PRIVATE_MEDIA_ROOT = tmp_path / "private"
    settings.SITE_URL = "http://testserver"
    return tmp_path


@pytest.fixture
def run_on_commit(django_capture_on_commit_callbacks):
    """Run the on-commit callbacks (the email send task) of what happens inside."""
    return lambda: django_capture_on_commit_callbacks(execute=True)


@pytest.fixture
def stay(book, prop):
    """A confirmed stay of ``prop`` (owner@example.com) for ada@example.com, 10 days ahead, 3 nights."""
    booking = book(prop, start=10, nights=3)
    return services.confirm(booking_id=booking.pk, actor=Actor.system("test"))


@pytest.fixture
def owner_b_prop(db):
    return PropertyFactory(owner=OwnerFactory(email="owner-b@example.com"), name="Bravo Villa")


@pytest.fixture
def staff(prop, owner):
    return StaffFactory(email="staff@example.com", employer=owner, properties=[prop])
