"""``Idempotency-Key`` handling for requests that create bookings or holds.

The key row is inserted *first*, in the same transaction as the effect. A
concurrent request with the same key blocks on the unique index until the first
commits, then reads the stored response: one booking, whatever the timing. The
response (success or a 4xx domain error) is stored with the key; a 4xx rolls
back its own effects but keeps the key, so a retry gets the same answer. An
unexpected error rolls back everything, key included, so the client may retry.
Keys live ``IDEMPOTENCY_KEY_TTL_HOURS`` (24 h); an older key counts as unused
even before the hourly cleanup removes it.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from .errors import BookingError
from .models import IdempotencyKey

MAX_KEY_LENGTH = 255
# 1 to 255 visible ASCII characters, spaces only between them (HTTP would strip them at the ends). The OpenAPI
# schema states the same pattern (api.views.IDEMPOTENCY_HEADER).
KEY_PATTERN = re.compile(rf"\A[!-~]([ -~]{{0,{MAX_KEY_LENGTH - 2}}}[!-~])?\Z")


class IdempotencyKeyReused(BookingError):
    code = "idempotency_key_reused"
    http_status = 422
    default_detail = "This Idempotency-Key was already used with a different request body."


class InvalidIdempotencyKey(BookingError):
    code = "invalid_idempotency_key"
    http_status = 400
    default_detail = (f"An Idempotency-Key must be 1 to {MAX_KEY_LENGTH} visible ASCII characters "
                      "(spaces only between them).")


@dataclass(frozen=True)
class StoredResponse:
    status: int
    body: dict
    replayed: bool


def fingerprint(body) -> str:
    return hashlib.sha256(json.dumps(body, sort_keys=True, separators=(",", ":"), default=str).encode()).hexdigest()


def validate_key(key: str) -> str:
    if not KEY_PATTERN.fullmatch(key):
        raise InvalidIdempotencyKey()
    return key


def _ttl_cutoff():
    return timezone.now() - timedelta(hours=settings.IDEMPOTENCY_KEY_TTL_HOURS)


def run_idempotent(*, scope: str, key: str, request_hash: str,
                   handler: Callable[[], tuple[int, dict]]) -> StoredResponse:
    """Run ``handler`` once per (scope, key); replay its stored (status, body) afterwards."""
    validate_key(key)
    with transaction.atomic():
        record = None
        for _attempt in range(3):
            try:
                with transaction.atomic():
                    record = IdempotencyKey.objects.create(scope=scope, key=key, request_hash=request_hash)
                break
            except IntegrityError:
                existing = IdempotencyKey.objects.select_for_update().filter(scope=scope, key=key).first()
                if existing is None:
                    continue  # deleted between our insert and read: try again
                if existing.created_at <= _ttl_cutoff():
                    existing.delete()
                    continue
                if existing.request_hash != request_hash:
                    raise IdempotencyKeyReused() from None
                return StoredResponse(existing.response_status, existing.response_body, replayed=True)
        if record is None:
            raise BookingError("Could not record the Idempotency-Key; please retry.")

        savepoint = transaction.savepoint()
        status, body = handler()
        if status >= 400:
            transaction.savepoint_rollback(savepoint)
        else:
            transaction.savepoint_commit(savepoint)
        record.response_status, record.response_body = status, body
        record.save(update_fields=["response_status", "response_body"])
        return StoredResponse(status, body, replayed=False)


def delete_expired_keys() -> int:
    deleted, _ = IdempotencyKey.objects.filter(created_at__lte=_ttl_cutoff()).delete()
    return deleted
