"""Secrets at rest: channel import URLs and export tokens are encrypted in the database (docs/architecture.md, Rule 5).

An iCal import URL *is* a credential (anyone holding it reads the host's
calendar), and so is our export token. ``EncryptedTextField`` stores Fernet
ciphertext (AES-128-CBC + HMAC-SHA256, from the ``cryptography`` package) and
gives back plain text in Python. The key comes from ``FIELD_ENCRYPTION_KEY``
(a Fernet key, or several separated by commas: the first encrypts, all decrypt,
which is how a key is rotated); without it one is derived from ``SECRET_KEY``.

Encrypted values can't be looked up, so an export token is found by its digest
(:func:`token_digest`, an HMAC keyed by the same secret) stored beside it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.db import models

PREFIX = "fernet:"


def _key_material() -> list[bytes]:
    configured = [k.strip() for k in (getattr(settings, "FIELD_ENCRYPTION_KEY", "") or "").split(",") if k.strip()]
    if configured:
        return [k.encode() for k in configured]
    derived = hashlib.sha256(b"stayhold-field-encryption:" + settings.SECRET_KEY.encode()).digest()
    return [base64.urlsafe_b64encode(derived)]


@lru_cache(maxsize=4)
def _fernet(material: tuple[bytes, ...]) -> MultiFernet:
    return MultiFernet([Fernet(k) for k in material])


def fernet() -> MultiFernet:
    return _fernet(tuple(_key_material()))


def encrypt(value: str) -> str:
    return PREFIX + fernet().encrypt(value.encode()).decode()


def decrypt(value: str) -> str:
    if not value.startswith(PREFIX):
        raise ValueError("Not an encrypted value.")
    try:
        return fernet().decrypt(value[len(PREFIX):].encode()).decode()
    except InvalidToken as exc:
        raise ValueError("The value cannot be decrypted with the configured FIELD_ENCRYPTION_KEY.") from exc


def token_digest(token: str) -> str:
    """A keyed digest of a token, for lookups (the token itself is stored encrypted)."""
    key = _key_material()[0]
    return hmac.new(key, token.encode(), hashlib.sha256).hexdigest()


class EncryptedTextField(models.TextField):
    """Text encrypted at rest. Not searchable or orderable; empty stays empty."""

    def from_db_value(self, value, expression, connection):
        if value in (None, ""):
            return value
        return decrypt(value)

    def get_prep_value(self, value):
        value = super().get_prep_value(value)
        if value in (None, ""):
            return value
        return encrypt(value)
