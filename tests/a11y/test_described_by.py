"""Each help text and each error message is linked to its field: every ``aria-describedby`` names ids that exist on
the page (issue 15 §8: ``aria-describedby="id_email_helptext"`` pointed at an element with id ``id_email_help``)."""

from __future__ import annotations

import uuid

import pytest

from tests.a11y.conftest import ids_described, ids_present
from tests.factories import PropertyFactory, future

pytestmark = pytest.mark.django_db


def stay(start=10, nights=3):
    return {"check_in": future(start).isoformat(), "check_out": future(start + nights).isoformat(), "adults": "2"}


def test_email_and_phone_help_texts_are_the_elements_their_fields_point_at(client):
    prop = PropertyFactory()
    html = client.get(f"/book/{prop.slug}/", stay()).content.decode()

    assert 'aria-describedby="id_email_helptext"' in html and 'id="id_email_helptext"' in html
    assert 'aria-describedby="id_phone_helptext"' in html and 'id="id_phone_helptext"' in html
    assert "Your confirmation and the link to your booking are sent here." in html
    assert set(ids_described(html)) <= ids_present(html)


def test_after_an_invalid_submit_a_field_names_its_help_text_and_its_message(client):
    prop = PropertyFactory()
    data = {**stay(), "name": "Ada", "email": "not-an-address", "phone": "12", "country": "GB", "accept": "on",
            "form_token": str(uuid.uuid4())}
    response = client.post(f"/book/{prop.slug}/", data)

    assert response.status_code == 400 or response.status_code == 200
    html = response.content.decode()
    assert 'aria-describedby="id_phone_helptext id_phone_error"' in html
    assert 'id="id_phone_helptext"' in html and 'id="id_phone_error"' in html
    assert 'aria-describedby="id_email_helptext id_email_error"' in html
    assert 'aria-invalid="true"' in html
    assert set(ids_described(html)) <= ids_present(html)


@pytest.mark.parametrize("url", ["/", "/?check_in=nonsense", "/accounts/login/", "/accounts/signup/"])
def test_every_described_by_id_exists_on_other_forms(client, url):
    PropertyFactory()
    html = client.get(url).content.decode()

    described = ids_described(html)
    assert set(described) <= ids_present(html), sorted(set(described) - ids_present(html))


def test_sign_up_errors_are_linked_to_their_fields(client):
    response = client.post("/accounts/signup/", {"email": "nope", "password1": "x", "password2": "y"})

    html = response.content.decode()
    assert 'id="id_email_error"' in html
    assert "id_email_error" in ids_described(html)
    assert set(ids_described(html)) <= ids_present(html)
