"""WebP renditions of property photos (issue 15 §8): made with Pillow after an upload is committed, stored beside
the original in the same storage, offered by the pages in ``srcset`` with ``sizes``; the backfill command is
idempotent."""

from __future__ import annotations

import io
import os

import pytest
from django.core.files.storage import default_storage
from django.core.management import call_command
from django.db import transaction
from PIL import Image

from properties import services
from properties.models import PropertyPhoto
from tests.a11y.conftest import jpeg
from tests.factories import PropertyFactory

pytestmark = pytest.mark.django_db


def upload(prop, size=(2000, 1333), position=0, alt="Living room", capture=None):
    with capture(execute=True):
        photo = PropertyPhoto.objects.create(property=prop, image=jpeg(size), alt_text=alt, position=position)
    photo.refresh_from_db()
    return photo


def stored(name: str) -> Image.Image:
    with default_storage.open(name, "rb") as file:
        image = Image.open(io.BytesIO(file.read()))
        image.load()
        return image


def test_an_upload_gets_webp_renditions_at_480_960_1600_beside_the_original(django_capture_on_commit_callbacks):
    prop = PropertyFactory()
    photo = upload(prop, (2000, 1333), capture=django_capture_on_commit_callbacks)

    r = photo.renditions
    assert r["source"] == photo.image.name and (r["width"], r["height"]) == (2000, 1333)
    assert [(x["width"], x["height"]) for x in r["webp"]] == [(480, 320), (960, 640), (1600, 1066)]
    folder = os.path.dirname(photo.image.name)
    stem = os.path.splitext(photo.image.name)[0]
    for entry in r["webp"]:
        assert entry["name"] == f"{stem}-{entry['width']}w.webp" and os.path.dirname(entry["name"]) == folder
        image = stored(entry["name"])
        assert image.format == "WEBP" and image.size == (entry["width"], entry["height"])
    assert sum(default_storage.size(e["name"]) for e in r["webp"]) < default_storage.size(photo.image.name) * 3


def test_a_smaller_photo_is_never_upscaled(django_capture_on_commit_callbacks):
    prop = PropertyFactory()
    demo_sized = upload(prop, (1200, 800), capture=django_capture_on_commit_callbacks)
    tiny = upload(prop, (300, 200), position=1, capture=django_capture_on_commit_callbacks)

    assert [x["width"] for x in demo_sized.renditions["webp"]] == [480, 960, 1200]
    assert [x["width"] for x in tiny.renditions["webp"]] == [300]


def test_nothing_is_made_for_an_upload_whose_transaction_rolls_back(django_capture_on_commit_callbacks):
    prop = PropertyFactory()
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        try:
            with transaction.atomic():
                PropertyPhoto.objects.create(property=prop, image=jpeg(), alt_text="x")
                raise RuntimeError("the admin form failed after the upload")
        except RuntimeError:
            pass
    assert callbacks == []
    assert not any(name.endswith(".webp") for name in default_storage.listdir(f"properties/{prop.pk}")[1])


def test_a_replaced_image_gets_new_renditions(django_capture_on_commit_callbacks):
    photo = upload(PropertyFactory(), (2000, 1333), capture=django_capture_on_commit_callbacks)
    old = photo.renditions

    with django_capture_on_commit_callbacks(execute=True):
        photo.image = jpeg((1000, 500), color="orange", name="terrace.jpg")
        photo.save()
    photo.refresh_from_db()

    assert photo.renditions["source"] == photo.image.name != old["source"]
    assert [(x["width"], x["height"]) for x in photo.renditions["webp"]] == [(480, 240), (960, 480), (1000, 500)]


def test_the_pages_offer_the_renditions_in_srcset_with_sizes_and_dimensions(client,
                                                                              django_capture_on_commit_callbacks):
    prop = PropertyFactory(name="Alfama Loft", city="Lisbon")
    first = upload(prop, (2000, 1333), alt="Living room", capture=django_capture_on_commit_callbacks)
    second = upload(prop, (1200, 800), position=1, alt="Terrace", capture=django_capture_on_commit_callbacks)

    html = client.get(f"/properties/{prop.slug}/").content.decode()
    srcset = ", ".join(f"/media/{e['name']} {e['width']}w" for e in first.renditions["webp"])
    sizes = "(max-width: 56rem) calc(100vw - 2rem), 35rem"
    assert f'<picture><source type="image/webp" srcset="{srcset}" sizes="{sizes}">' in html
    assert (f'<img src="/media/{first.image.name}" alt="Living room" width="2000" height="1333" fetchpriority="high"'
            in html)
    assert f'<img src="/media/{second.image.name}" alt="Terrace" width="1200" height="800" loading="lazy"' in html
    assert html.count('fetchpriority="high"') == 1

    search = client.get("/", {"q": "Lisbon"}).content.decode()
    assert f"/media/{first.renditions['webp'][0]['name']} 480w" in search
    assert 'sizes="(max-width: 36rem) calc(100vw - 2rem), (max-width: 56rem) 50vw, 20rem"' in search
    assert 'width="2000" height="1333" loading="lazy"' in search and "fetchpriority" not in search


def test_a_photo_without_renditions_is_shown_as_its_original(client):
    prop = PropertyFactory()
    photo = PropertyPhoto.objects.create(property=prop, image=jpeg(), alt_text="Garden")  # on_commit not run

    html = client.get(f"/properties/{prop.slug}/").content.decode()

    assert photo.renditions == {} and "<picture>" not in html
    assert f'<img src="/media/{photo.image.name}" alt="Garden"' in html


def test_the_backfill_command_makes_the_missing_ones_and_is_idempotent(capsys, django_capture_on_commit_callbacks):
    prop = PropertyFactory()
    without = PropertyPhoto.objects.create(property=prop, image=jpeg(), alt_text="old photo")  # no renditions
    with_them = upload(prop, position=1, capture=django_capture_on_commit_callbacks)
    lost = with_them.renditions["webp"][0]["name"]
    default_storage.delete(lost)  # a rendition file lost: made again

    call_command("make_photo_renditions")
    assert "Renditions made for 2 photo(s); 0 already had them; 0 failed." in capsys.readouterr().out
    without.refresh_from_db()
    assert [x["width"] for x in without.renditions["webp"]] == [480, 960, 1600]
    assert default_storage.exists(lost)
    files = sorted(default_storage.listdir(f"properties/{prop.pk}")[1])
    stamps = {name: os.path.getmtime(default_storage.path(f"properties/{prop.pk}/{name}")) for name in files}

    call_command("make_photo_renditions")
    assert "Renditions made for 0 photo(s); 2 already had them; 0 failed." in capsys.readouterr().out
    assert sorted(default_storage.listdir(f"properties/{prop.pk}")[1]) == files  # no duplicate files
    assert stamps == {name: os.path.getmtime(default_storage.path(f"properties/{prop.pk}/{name}")) for name in files}
    assert services.make_photo_renditions(without.pk) is False


def test_a_missing_original_is_reported_and_left(capsys):
    prop = PropertyFactory()
    photo = PropertyPhoto.objects.create(property=prop, image=jpeg(), alt_text="gone")
    default_storage.delete(photo.image.name)

    call_command("make_photo_renditions")

    captured = capsys.readouterr()
    assert "0 already had them; 1 failed." in captured.out and f"photo {photo.pk}:" in captured.err


def test_renditions_of_a_deleted_original_are_deleted_with_it(django_capture_on_commit_callbacks):
    photo = upload(PropertyFactory(), (1000, 500), capture=django_capture_on_commit_callbacks)
    old = [e["name"] for e in photo.renditions["webp"]]

    with django_capture_on_commit_callbacks(execute=True):
        call_command("reencode_photos", "--all")  # stores a new original, deletes the old one
    photo.refresh_from_db()

    assert photo.renditions["source"] == photo.image.name
    assert all(default_storage.exists(e["name"]) for e in photo.renditions["webp"])
    assert not any(default_storage.exists(name) for name in old if name not in
                   {e["name"] for e in photo.renditions["webp"]})
