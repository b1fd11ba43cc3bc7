import io
import re
import uuid

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from properties.models import PropertyPhoto
from tests.factories import future


def png() -> SimpleUploadedFile:
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (4, 4), "teal").save(buffer, format="PNG")
    return SimpleUploadedFile("photo.png", buffer.getvalue())


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path


@pytest.fixture
def photo():
    def _photo(prop, alt="A bright living room", position=0):
        return PropertyPhoto.objects.create(property=prop, image=png(), alt_text=alt, position=position)

    return _photo


@pytest.fixture
def details_data():
    """POST data of the guest details form for a stay of ``prop`` from ``future(start)``."""

    def _data(start=10, nights=3, **extra):
        data = {
            "check_in": future(start).isoformat(), "check_out": future(start + nights).isoformat(),
            "adults": "2", "children": "0", "name": "Ada Lovelace", "email": "ada@example.com",
            "phone": "+44 20 7946 0000", "country": "GB", "special_requests": "Late arrival",
            "accept": "on", "form_token": str(uuid.uuid4()),
        }
        data.update(extra)
        return data

    return _data


def text(response) -> str:
    """The response body with tags removed and whitespace collapsed, for assertions on visible text."""
    html = response.content.decode()
    return " ".join(re.sub(r"<[^>]+>", " ", html).split())
