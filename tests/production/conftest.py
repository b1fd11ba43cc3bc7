import io

import pytest


@pytest.fixture
def media(settings, tmp_path):
    """Public and private uploads in folders of this test (siblings, as in production: var/media, var/private)."""
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.PRIVATE_MEDIA_ROOT = tmp_path / "private"
    settings.MEDIA_ROOT.mkdir()
    settings.PRIVATE_MEDIA_ROOT.mkdir()
    return settings.MEDIA_ROOT


def image_bytes(fmt="JPEG", size=(40, 20), color=(200, 30, 30), mode="RGB", **save_options) -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.new(mode, size, color).save(buffer, format=fmt, **save_options)
    return buffer.getvalue()


def exif_with_gps(orientation: int | None = None):
    """EXIF as a phone writes it: camera, owner, and the GPS position where the photo was taken."""
    from PIL import Image

    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"  # Make
    exif[0x0110] = "Phone 15"  # Model
    exif[0x013B] = "Jane Owner"  # Artist
    if orientation:
        exif[0x0112] = orientation
    exif[0x8825] = {1: "N", 2: (38.0, 42.0, 36.5), 3: "W", 4: (9.0, 8.0, 20.1)}  # GPSInfo: Lisbon
    return exif
