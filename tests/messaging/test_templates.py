"""Templates with placeholders: validation when saving, rendering, picking one when replying; door code and Wi-Fi
password encrypted at rest; the placeholder registry (review_link)."""

import pytest
from django.core.exceptions import ValidationError
from django.db import connection

from messaging import placeholders, services
from messaging.models import Message, MessageSettings, MessageTemplate
from tests.factories import OwnerFactory
from tests.pages.conftest import text

pytestmark = pytest.mark.django_db

FULL = ("Hi {{guest_name}}, welcome to {{ property_name }} from {{check_in}} to {{check_out}}, after "
        "{{check_in_time}}. Door {{door_code}}. Wi-Fi {{wifi_name}} / {{wifi_password}}. Review: {{review_link}}")


def test_every_placeholder_renders(stay, prop):
    prop.check_in_time = "16:30"
    prop.save()
    MessageSettings.objects.create(property=prop, door_code="4711#", wifi_name="Casa", wifi_password="s3cret-wifi")
    template = MessageTemplate.objects.create(owner=prop.owner, name="Full", body=FULL)
    stay.refresh_from_db()
    body = services.render_template(template=template, booking=stay)
    assert body.startswith(f"Hi Ada Lovelace, welcome to {prop.name} from ")
    assert "after 16:30. Door 4711#. Wi-Fi Casa / s3cret-wifi." in body
    # The reviews app registers review_link (reviews.apps): its review form, behind its own token.
    assert f"Review: http://testserver/bookings/{stay.reference}/review?token=" in body
    assert "{{" not in body


def test_an_unknown_placeholder_is_a_field_error(client, owner):
    with pytest.raises(ValidationError, match=r"\{\{door_cod\}\}"):
        MessageTemplate(owner=owner, name="Typo", body="Code: {{door_cod}}").full_clean()
    client.force_login(owner)
    response = client.post("/admin/messaging/messagetemplate/add/", {"name": "Typo", "body": "Code {{door_cod}}"})
    assert response.status_code == 200 and "Unknown placeholder(s): {{door_cod}}" in text(response)
    assert not MessageTemplate.objects.exists()
    response = client.post("/admin/messaging/messagetemplate/add/", {"name": "Ok", "body": "Code {{door_code}}"})
    assert response.status_code == 302
    assert MessageTemplate.objects.get().owner == owner  # always the signed-in owner's


def test_the_registry_replaces_review_link_and_adds_names(stay, monkeypatch):
    monkeypatch.setattr(placeholders, "_registered", {})
    placeholders.register("review_link", lambda booking, settings: f"https://reviews.test/{booking.reference}")
    placeholders.register("parking_spot", lambda booking, settings: "P7")
    assert placeholders.render("{{review_link}} {{parking_spot}}", stay) == f"https://reviews.test/{stay.reference} P7"
    placeholders.validate_template_body("{{parking_spot}}")  # now known
    with pytest.raises(ValueError):
        placeholders.register("bad name", lambda b, s: "")


def test_secrets_are_encrypted_at_rest(prop):
    row = MessageSettings.objects.create(property=prop, door_code="DOOR-7788", wifi_name="CasaNet",
                                         wifi_password="WIFI-pass-99")
    with connection.cursor() as cursor:
        cursor.execute("SELECT door_code, wifi_password FROM messaging_messagesettings WHERE id = %s", [row.pk])
        door, wifi = cursor.fetchone()
    assert door.startswith("fernet:") and "DOOR-7788" not in door
    assert wifi.startswith("fernet:") and "WIFI-pass-99" not in wifi
    row.refresh_from_db()
    assert (row.door_code, row.wifi_password) == ("DOOR-7788", "WIFI-pass-99")


def test_the_owner_picks_a_template_when_replying(client, stay, owner, prop, run_on_commit):
    MessageSettings.objects.create(property=prop, door_code="1234")
    template = MessageTemplate.objects.create(owner=owner, name="Door",
                                              body="Hello {{guest_name}}, code {{door_code}}.")
    stranger = OwnerFactory(email="x@example.com")
    MessageTemplate.objects.create(owner=stranger, name="Foreign", body="not yours")
    thread = services.post_from_guest(booking_id=stay.pk, body="code?").thread
    client.force_login(owner)
    page = client.get(f"/admin/messaging/thread/{thread.pk}/change/").content.decode()
    assert ">Door<" in page and "Foreign" not in page  # only the owner's templates are offered
    url = f"/admin/messaging/thread/{thread.pk}/change/"
    filled = client.post(url, {"template": template.pk, "body": "", "use_template": "1"})
    assert filled.status_code == 200 and "Hello Ada Lovelace, code 1234." in filled.content.decode()
    assert not Message.objects.filter(direction="owner").exists()  # filling in sends nothing
    with run_on_commit():
        assert client.post(url, {"template": template.pk, "body": "Hello Ada, code 1234. Enjoy!",
                                 "send": "1"}).status_code == 302
    reply = Message.objects.get(direction="owner")
    assert reply.template == template and reply.body == "Hello Ada, code 1234. Enjoy!"
    foreign = MessageTemplate.objects.get(name="Foreign")
    response = client.post(url, {"template": foreign.pk, "body": "x", "send": "1"})
    assert response.status_code == 400  # not a valid choice


def test_staff_use_their_employers_templates(stay, owner, staff):
    MessageTemplate.objects.create(owner=owner, name="Shared", body="Hi")
    assert list(services.templates_for(staff).values_list("name", flat=True)) == ["Shared"]
