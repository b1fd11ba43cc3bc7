"""Uploaded photos are stored re-encoded from their pixels (properties.images): no EXIF/GPS, no polyglots."""

import io
import zipfile

import pytest
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from PIL import Image

from properties.models import PropertyPhoto
from tests.production.conftest import exif_with_gps, image_bytes

pytestmark = pytest.mark.django_db

HTML_PAYLOAD = b"<html><body><script>alert(document.cookie)</script></body></html>"


def zip_payload() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("evil.html", HTML_PAYLOAD)
    return buffer.getvalue()


def stored(photo) -> bytes:
    photo.refresh_from_db()
    with photo.image.open("rb") as file:
        return file.read()


def test_exif_and_gps_are_stripped_from_an_uploaded_photo(media, prop):
    upload = image_bytes(exif=exif_with_gps())
    with Image.open(io.BytesIO(upload)) as original:
        assert original.getexif().get_ifd(0x8825)  # the upload really carries a GPS position

    photo = PropertyPhoto.objects.create(property=prop, image=SimpleUploadedFile("IMG_0001.jpg", upload))

    data = stored(photo)
    with Image.open(io.BytesIO(data)) as image:
        assert image.format == "JPEG" and image.size == (40, 20)
        assert not image.getexif()
        assert "exif" not in image.info and "icc_profile" not in image.info
    assert b"Exif" not in data and b"PhoneMaker" not in data and b"Jane Owner" not in data
    assert photo.image.name.startswith(f"properties/{prop.pk}/img_0001-") and photo.image.name.endswith(".jpg")


def test_a_jpeg_polyglot_is_stored_as_plain_pixels(media, prop):
    polyglot = image_bytes() + HTML_PAYLOAD + zip_payload()
    assert zipfile.is_zipfile(io.BytesIO(polyglot))  # a valid JPEG *and* a valid ZIP

    photo = PropertyPhoto(property=prop)
    photo.image.save("holiday.jpg", ContentFile(polyglot), save=True)

    data = stored(photo)
    assert b"<script>" not in data and b"evil.html" not in data
    assert not zipfile.is_zipfile(io.BytesIO(data))
    assert data.endswith(b"\xff\xd9")  # ends where the JPEG ends
    with Image.open(io.BytesIO(data)) as image:
        assert image.size == (40, 20)


def test_a_png_comment_payload_and_transparency(media, prop):
    from PIL import PngImagePlugin

    text = PngImagePlugin.PngInfo()
    text.add_text("Comment", HTML_PAYLOAD.decode())
    upload = image_bytes("PNG", mode="RGBA", color=(0, 0, 0, 0), pnginfo=text) + zip_payload()

    photo = PropertyPhoto.objects.create(property=prop, image=SimpleUploadedFile("logo.png", upload))

    data = stored(photo)
    assert b"<script>" not in data and not zipfile.is_zipfile(io.BytesIO(data))
    with Image.open(io.BytesIO(data)) as image:
        assert image.format == "PNG" and image.mode == "RGBA"  # transparency kept, as PNG
        assert image.getpixel((0, 0))[3] == 0
        assert not image.text


def test_the_camera_orientation_is_applied_before_exif_is_dropped(media, prop):
    upload = image_bytes(size=(40, 20), exif=exif_with_gps(orientation=6))  # "rotate 90° clockwise to view"

    photo = PropertyPhoto.objects.create(property=prop, image=SimpleUploadedFile("portrait.jpg", upload))

    with Image.open(io.BytesIO(stored(photo))) as image:
        assert image.size == (20, 40)


def test_large_photos_are_scaled_down(settings, media, prop):
    settings.PHOTO_MAX_DIMENSION = 64

    photo = PropertyPhoto.objects.create(property=prop, image=SimpleUploadedFile(
        "wide.webp", image_bytes("WEBP", size=(400, 100))))

    with Image.open(io.BytesIO(stored(photo))) as image:
        assert image.format == "JPEG" and image.size == (64, 16)


def test_what_is_not_an_image_is_refused(media, prop):
    photo = PropertyPhoto(property=prop)
    with pytest.raises(ValidationError):
        photo.image.save("fake.jpg", ContentFile(b"\xff\xd8\xff\xe0 not really" + HTML_PAYLOAD), save=True)
    assert not PropertyPhoto.objects.exists()
    assert not any(media.rglob("*.*"))


def test_the_admin_upload_stores_the_reencoded_photo_and_shows_errors(client, media, owner, prop):
    client.force_login(owner)
    url = reverse("admin:properties_propertyphoto_add")

    response = client.post(url, {"property": prop.pk, "alt_text": "Terrace", "position": 0,
                                 "image": SimpleUploadedFile("terrace.jpg", image_bytes(exif=exif_with_gps())
                                                             + HTML_PAYLOAD)})

    assert response.status_code == 302, response.content[:2000]
    data = stored(PropertyPhoto.objects.get(alt_text="Terrace"))
    assert b"Exif" not in data and b"<script>" not in data

    refused = client.post(url, {"property": prop.pk, "alt_text": "Bad", "position": 0,
                                "image": SimpleUploadedFile("bad.jpg", b"GIF89a" + HTML_PAYLOAD)})
    assert refused.status_code == 200
    assert refused.context["adminform"].form.errors["image"]
    assert not PropertyPhoto.objects.filter(alt_text="Bad").exists()


def test_an_upload_over_the_size_limit_is_refused_on_the_form(client, settings, media, owner, prop):
    settings.PHOTO_MAX_BYTES = 1000
    client.force_login(owner)

    response = client.post(reverse("admin:properties_propertyphoto_add"), {
        "property": prop.pk, "alt_text": "Huge", "position": 0,
        "image": SimpleUploadedFile("huge.png", image_bytes("PNG", size=(10, 10)) + b"\0" * 2000)})

    assert response.status_code == 200
    assert "too large" in str(response.context["adminform"].form.errors["image"])


def test_photos_stored_before_are_reencoded_by_the_command(media, prop):
    from django.core.management import call_command

    (media / "properties" / str(prop.pk)).mkdir(parents=True)
    old_name = f"properties/{prop.pk}/old.jpg"
    (media / old_name).write_bytes(image_bytes(exif=exif_with_gps()) + HTML_PAYLOAD)
    photo = PropertyPhoto.objects.create(property=prop, image=old_name)  # as an older version stored it
    broken = PropertyPhoto.objects.create(property=prop, image=f"properties/{prop.pk}/missing.jpg")
    out, err = io.StringIO(), io.StringIO()

    call_command("reencode_photos", stdout=out, stderr=err)

    data = stored(photo)
    assert b"Exif" not in data and b"<script>" not in data
    assert photo.image.name != old_name and not (media / old_name).exists()
    assert "Re-encoded 1 photo(s); 1 could not be read." in out.getvalue() and f"Photo {broken.pk}" in err.getvalue()
    call_command("reencode_photos", stdout=out, stderr=err)  # idempotent: the re-encoded one is not touched again
    photo_name = photo.image.name
    photo.refresh_from_db()
    assert photo.image.name == photo_name
