import io
import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path


def jpeg(size=(2000, 1333), color="teal", name="photo.jpg") -> SimpleUploadedFile:
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", size, color).save(buffer, format="JPEG")
    return SimpleUploadedFile(name, buffer.getvalue())


def ids_described(html: str) -> list[str]:
    """Every id named by an ``aria-describedby`` of the page."""
    return [one for value in re.findall(r'aria-describedby="([^"]*)"', html) for one in value.split()]


def ids_present(html: str) -> set[str]:
    return set(re.findall(r'\sid="([^"]+)"', html))


def meta_description(html: str) -> str:
    found = re.findall(r'<meta name="description" content="([^"]*)">', html)
    assert len(found) == 1, found
    return found[0]
