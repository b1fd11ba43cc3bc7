"""Channel connections keep their secrets encrypted at rest (DESIGN rule 7)."""

import pytest
from django.db import connection as db

from channels.models import ChannelConnection, Platform
from core.crypto import decrypt, encrypt, token_digest
from tests.factories import PropertyFactory

pytestmark = [pytest.mark.django_db, pytest.mark.sqlite]  # also proven on the embedded SQLite default

SECRET_URL = "https://www.airbnb.com/calendar/ical/12345.ics?s=0123456789abcdef0123456789abcdef"


def raw_row(pk):
    with db.cursor() as cur:
        cur.execute("SELECT import_url, export_token, export_token_digest FROM channel_sync_channelconnection "
                    "WHERE id = %s", [pk])
        return cur.fetchone()


def test_the_import_url_and_export_token_are_encrypted_in_the_database():
    conn = ChannelConnection.objects.create(property=PropertyFactory(), platform=Platform.AIRBNB,
                                            import_url=SECRET_URL)
    import_url, export_token, digest = raw_row(conn.pk)
    assert SECRET_URL not in import_url and "0123456789abcdef" not in import_url
    assert import_url.startswith("fernet:") and export_token.startswith("fernet:")
    assert conn.export_token not in export_token
    fresh = ChannelConnection.objects.get(pk=conn.pk)
    assert fresh.import_url == SECRET_URL
    assert fresh.export_token == conn.export_token and len(conn.export_token) >= 40
    assert digest == token_digest(conn.export_token)
    assert ChannelConnection.objects.get(export_token_digest=token_digest(conn.export_token)) == conn


def test_rotating_the_export_token_retires_the_old_one():
    conn = ChannelConnection.objects.create(property=PropertyFactory(), platform=Platform.BOOKING_COM)
    old = conn.export_token
    conn.rotate_export_token()
    conn.save()
    assert conn.export_token != old
    assert not ChannelConnection.objects.filter(export_token_digest=token_digest(old)).exists()
    assert ChannelConnection.objects.filter(export_token_digest=token_digest(conn.export_token)).exists()


def test_encryption_round_trips_and_refuses_tampering(settings):
    sealed = encrypt("secret")
    assert sealed != encrypt("secret")  # a fresh IV each time
    assert decrypt(sealed) == "secret"
    with pytest.raises(ValueError):
        decrypt(sealed[:-4] + "AAAA")
    with pytest.raises(ValueError):
        decrypt("secret")


def test_a_key_can_be_rotated(settings):
    from cryptography.fernet import Fernet

    old_key, new_key = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    settings.FIELD_ENCRYPTION_KEY = old_key
    sealed = encrypt("calendar-url")
    settings.FIELD_ENCRYPTION_KEY = f"{new_key},{old_key}"
    assert decrypt(sealed) == "calendar-url"  # the old key still decrypts
    resealed = encrypt("calendar-url")
    settings.FIELD_ENCRYPTION_KEY = new_key
    assert decrypt(resealed) == "calendar-url"
    with pytest.raises(ValueError):
        decrypt(sealed)
