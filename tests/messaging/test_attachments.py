"""Attachments: images and PDFs by content, the size limit, private storage, served only with the right token or
permission (the upload rule of payment proofs, core.uploads)."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from bookings.tokens import booking_access_token
from messaging import services
from messaging.models import Message
from tests.pages.conftest import text

from .conftest import PDF, pdf_upload, png_bytes, png_upload

pytestmark = pytest.mark.django_db


def portal(booking, suffix="", token=None):
    token = booking_access_token(booking) if token is None else token
    return f"/bookings/{booking.reference}/{suffix}?token={token}"


def test_the_guest_attaches_an_image_stored_privately_and_served_with_the_token(client, stay, private_media):
    response = client.post(portal(stay, "messages"), {"body": "The lock is stuck", "attachment": png_upload()})
    assert response.status_code == 302
    message = Message.objects.get()
    assert message.attachment_content_type == "image/png" and message.attachment_name == "photo.png"
    stored = private_media / "private" / message.attachment.name
    assert stored.exists() and not (private_media / "media").exists()
    assert message.attachment.name.startswith("message-attachments/") and "photo" not in message.attachment.name
    page = client.get(portal(stay))
    link = f"/bookings/{stay.reference}/messages/{message.pk}/attachment?token="
    assert link in page.content.decode()
    file = client.get(portal(stay, f"messages/{message.pk}/attachment"))
    assert file.status_code == 200 and file["Content-Type"] == "image/png"
    assert file["X-Content-Type-Options"] == "nosniff" and "no-store" in file["Cache-Control"]
    assert b"".join(file.streaming_content) == png_bytes()


def test_an_attachment_is_not_reachable_without_the_right_token(client, stay, book, prop):
    other = book(prop, start=30)
    message = services.post_from_guest(booking_id=stay.pk, body="see", attachment=png_upload())
    path = f"messages/{message.pk}/attachment"
    assert client.get(f"/bookings/{stay.reference}/{path}").status_code == 404
    assert client.get(portal(stay, path, token="forged")).status_code == 404
    assert client.get(portal(stay, path, token=booking_access_token(other))).status_code == 404
    # another booking's token and reference: the message is not in that booking's thread
    assert client.get(portal(other, path)).status_code == 404


def test_only_the_people_managing_the_property_open_it_in_the_admin(stay, owner, staff, owner_b_prop):
    message = services.post_from_guest(booking_id=stay.pk, body="see", attachment=pdf_upload())
    path = f"/admin/messaging/thread/{message.thread_id}/attachment/{message.pk}/"
    anonymous = Client()
    response = anonymous.get(path)
    assert response.status_code == 302 and "login" in response["Location"]
    for user, status in ((owner, 200), (staff, 200), (owner_b_prop.owner, 404)):
        client = Client()
        client.force_login(user)
        response = client.get(path)
        assert response.status_code == status, user
        if status == 200:
            assert response["Content-Type"] == "application/pdf"
            assert response["Content-Disposition"].startswith("attachment;")  # PDFs download, never inline
            assert b"".join(response.streaming_content) == PDF


def test_the_owner_attaches_a_pdf_to_a_reply(client, stay, owner):
    thread = services.post_from_guest(booking_id=stay.pk, body="how do I get there?").thread
    client.force_login(owner)
    response = client.post(f"/admin/messaging/thread/{thread.pk}/change/",
                           {"body": "Directions attached.", "attachment": pdf_upload(), "send": "1"})
    assert response.status_code == 302
    reply = Message.objects.get(direction="owner")
    assert reply.attachment_content_type == "application/pdf"
    guest = Client()
    page = guest.get(portal(stay)).content.decode()
    assert "Attachment: guide.pdf" in page
    assert guest.get(portal(stay, f"messages/{reply.pk}/attachment")).status_code == 200


@pytest.mark.parametrize("upload, error", [
    (SimpleUploadedFile("notes.txt", b"just text", content_type="text/plain"),
     "not a PNG, JPEG or WebP image or a PDF"),
    (SimpleUploadedFile("fake.png", b"GIF89a" + b"\0" * 40, content_type="image/png"), "not a PNG, JPEG or WebP"),
    (SimpleUploadedFile("x.pdf", b"%PDF-1.4 no trailer", content_type="application/pdf"), "or a PDF"),
])
def test_refused_types_re_render_with_a_field_message(client, stay, owner, upload, error):
    response = client.post(portal(stay, "messages"), {"body": "here", "attachment": upload})
    assert response.status_code == 400 and error in text(response)
    assert "here" in response.content.decode()  # the text is kept
    assert not Message.objects.exists()


def test_too_large_is_refused_on_both_sides(client, stay, owner, settings):
    settings.MESSAGE_ATTACHMENT_MAX_BYTES = 1024 * 1024
    big = SimpleUploadedFile("big.pdf", PDF[:-6] + b"\0" * (1024 * 1024) + b"%%EOF\n", content_type="application/pdf")
    response = client.post(portal(stay, "messages"), {"body": "big", "attachment": big})
    assert response.status_code == 400 and "too large: at most 1 MB" in text(response)
    client.force_login(owner)
    thread_id = client.get(f"/admin/messaging/thread/open/{stay.pk}/")["Location"].split("/")[-3]
    big.seek(0)
    response = client.post(f"/admin/messaging/thread/{thread_id}/change/",
                           {"body": "big", "attachment": big, "send": "1"})
    assert response.status_code == 400 and "too large" in text(response)
    assert not Message.objects.exists()


def test_payment_proofs_keep_their_rule_images_only():
    """The rule is shared (core.uploads) but proofs still accept images only."""
    from payments.manual import InvalidProof, validate_proof

    with pytest.raises(InvalidProof, match="not a PNG, JPEG or WebP image"):
        validate_proof(pdf_upload())
    assert validate_proof(png_upload())[1:] == ("image/png", "png")
