"""Uploaded photos are served with DEBUG off (config.media), and nothing but public images is."""

import os

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from properties.models import PropertyPhoto
from tests.production.conftest import image_bytes

pytestmark = pytest.mark.django_db


def test_a_property_photo_is_served_with_debug_off(client, settings, media, prop):
    assert settings.DEBUG is False  # pytest-django runs the app as in production
    photo = PropertyPhoto.objects.create(property=prop, image=SimpleUploadedFile("front.jpg", image_bytes()))

    response = client.get(photo.image.url)

    assert response.status_code == 200
    assert response["Content-Type"] == "image/jpeg"
    assert b"".join(response.streaming_content) == (media / photo.image.name).read_bytes()
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Cache-Control"] == f"public, max-age={settings.MEDIA_CACHE_SECONDS}"
    assert response["Last-Modified"]

    again = client.get(photo.image.url, HTTP_IF_MODIFIED_SINCE=response["Last-Modified"])
    assert again.status_code == 304
    assert client.head(photo.image.url).status_code == 200
    assert client.post(photo.image.url).status_code == 405


def test_the_photo_on_the_property_page_is_a_working_url(client, media, prop):
    photo = PropertyPhoto.objects.create(property=prop, image=SimpleUploadedFile("a.png", image_bytes("PNG")),
                                         alt_text="Garden")

    html = client.get(reverse("properties:detail", args=[prop.slug])).content.decode()

    assert photo.image.url in html
    assert client.get(photo.image.url).status_code == 200


def test_only_public_image_files_inside_media_root_are_served(client, settings, media):
    private = settings.PRIVATE_MEDIA_ROOT
    (private / "manual-proofs").mkdir()
    (private / "manual-proofs" / "proof.png").write_bytes(image_bytes("PNG"))
    (media / "properties").mkdir()
    (media / "properties" / "ok.png").write_bytes(image_bytes("PNG"))
    (media / "properties" / "page.html").write_text("<script>alert(1)</script>")
    (media / "properties" / ".hidden.png").write_bytes(image_bytes("PNG"))
    (media / "properties" / "folder.png").mkdir()
    os.symlink(private / "manual-proofs" / "proof.png", media / "properties" / "link.png")

    assert client.get("/media/properties/ok.png").status_code == 200
    for path in [
        "/media/../private/manual-proofs/proof.png",
        "/media/%2e%2e/private/manual-proofs/proof.png",
        "/media/properties/..%2f..%2fprivate/manual-proofs/proof.png",
        "/media/properties/..%5c..%5cprivate%5cmanual-proofs%5cproof.png",
        "/media/properties/page.html",  # not an image type: never served from our origin
        "/media/properties/.hidden.png",
        "/media/properties/folder.png",  # a directory
        "/media/properties/",  # no listings
        "/media/properties/link.png",  # a symlink out of MEDIA_ROOT
        "/media/properties/missing.png",
    ]:
        assert client.get(path).status_code == 404, path


def test_private_files_are_refused_even_when_misplaced_under_media_root(client, settings, media):
    settings.PRIVATE_MEDIA_ROOT = media / "private"  # a misconfiguration the system check reports (below)
    (media / "private").mkdir()
    (media / "private" / "proof.png").write_bytes(image_bytes("PNG"))

    assert client.get("/media/private/proof.png").status_code == 404

    from config.checks import media_storage_is_usable

    assert [e.id for e in media_storage_is_usable(None)] == ["stayhold.E012"]
