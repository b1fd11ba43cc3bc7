"""Personal data and secrets taken out of anything written to the logs or sent to Sentry (docs/logging.md).

Two rules, applied to every value, however deeply nested:

* **by key**: a value whose key names a secret or a person (``email``, ``phone``, ``password``, ``token``,
  ``authorization``, ``cookie``, ``secret``, ``dsn``, ``url`` of a channel feed, …) is replaced whole by
  ``[redacted]``;
* **by pattern**, in every string: email addresses, phone numbers, ``Bearer``/``Basic`` credentials, Stripe keys
  (``sk_``/``rk_``/``pk_``/``whsec_``), the query string and user-info of any URL (where feed tokens and
  signatures live), the secret path of channel iCal URLs (ours: ``/ical/<token>``; the platforms': the path of
  any URL that names a calendar, and a bare path after its calendar segment), ``token=``-style pairs, Fernet
  tokens and JWTs.

The rules are deliberately greedy: a log line that loses a harmless number is cheap, a leaked guest address or
feed URL is not. Names typed by guests cannot be recognised by a pattern: the code must not log them (the
request line logs the route, never the path or the query; models are logged by id).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

REDACTED = "[redacted]"

# Keys (lower-case, compared after stripping "-", "_" and ".") whose values are never shown.
_SECRET_KEY_PARTS = ("password", "passwd", "secret", "token", "authorization", "cookie", "apikey", "dsn",
                     "email", "phone", "sessionid", "csrf", "signature", "privatekey", "iban", "cardnumber",
                     "importurl", "icalurl", "feedurl", "urlquery", "querystring")
# Written by the log processors themselves (core.logging), never from input: not scanned (a third of the cost).
_OWN_FIELDS = frozenset({"timestamp", "level", "logger", "correlation_id", "trace_id", "span_id"})
_SAFE_KEYS = {"correlationid", "traceid", "spanid", "tokentype", "event", "logger", "level", "timestamp"}

EMAIL = re.compile(r"[A-Za-z0-9._%+'-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")
BEARER = re.compile(r"\b(Bearer|Basic|Token)\s+[A-Za-z0-9._~+/=-]+", re.IGNORECASE)
STRIPE_KEY = re.compile(r"\b(?:sk|rk|pk)_(?:live|test)_[A-Za-z0-9]+|\bwhsec_[A-Za-z0-9]+")
JWT = re.compile(r"\beyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+")
FERNET = re.compile(r"\bgAAAAA[A-Za-z0-9_=-]{20,}")
# key=value / key: value pairs in free text ("token=abc", "password: hunter2", "?s=…" is covered by URLs below).
PAIR = re.compile(r"\b((?:access_|refresh_|api_|auth_|export_|import_)?(?:token|secret|password|passwd|api_?key|"
                  r"signature|sig|key|dsn))(\s*[=:]\s*)(\"[^\"]*\"|'[^']*'|[^\s&,;'\"]+)", re.IGNORECASE)
# A URL: scheme://[user-info@]host[:port][path][?query][#fragment].
URL = re.compile(r"\b([a-z][a-z0-9+.-]*://)(?:[^\s/@:]*(?::[^\s/@]*)?@)?([^\s/?#'\"<>]+)([^\s?#'\"<>]*)"
                 r"(\?[^\s#'\"<>]*)?(#[^\s'\"<>]*)?", re.IGNORECASE)
# Feed paths without their host (Django's "Not Found: /ical/<token>.ics", urllib3's "… with url:
# /icalendar/<hex>.ics"): everything after a segment that names a calendar. A file path whose last segment merely
# contains "ical" (channels/ical_parse.py in a traceback) is kept.
FEED_PATH = re.compile(r"(/(?:[\w.~%-]+/)*?[\w.~%-]*(?:ical|calendar)[\w.~%-]*)/[^\s?#'\"<>]+", re.IGNORECASE)
QUERY = re.compile(r"(?<=[\w/\]])\?[^\s#'\"<>]+")  # the query string of a relative path ("/bookings/R?token=…")
# Phone numbers: a candidate is a run of digits with separators; _phone() keeps dates, times and plain amounts.
PHONE_CANDIDATE = re.compile(r"(?<![\w.:/-])\+?\(?\d[\d\s().-]{5,}\d(?![\w:])")
_DATE_LIKE = re.compile(r"^\d{4}-\d{2}-\d{2}|^\d{1,2}[./]\d{1,2}[./]\d{2,4}$|^\d+\.\d+$")


def _phone(match: re.Match) -> str:
    text = match.group(0)
    digits = sum(ch.isdigit() for ch in text)
    if not 7 <= digits <= 15 or _DATE_LIKE.match(text.strip()):
        return text
    if not text.startswith("+") and digits < 9 and not re.search(r"[\s().-]", text):
        return text  # a bare 7-8 digit number is more likely an amount or an id than a phone
    return "[phone]"


def _url(match: re.Match) -> str:
    scheme, host, path, query, fragment = match.groups()
    lowered = (host + path).lower()
    secret_path = "ical" in lowered or path.lower().endswith(".ics") or "calendar" in lowered
    shown_path = "/[redacted]" if secret_path and path not in ("", "/") else path
    return f"{scheme}{host}{shown_path}{'?[redacted]' if query else ''}{'#[redacted]' if fragment else ''}"


def redact_text(text: str) -> str:
    """``text`` with every personal datum and secret that a pattern can recognise replaced."""
    if not text:
        return text
    text = URL.sub(_url, text)
    text = EMAIL.sub("[email]", text)
    text = BEARER.sub(lambda m: f"{m.group(1)} {REDACTED}", text)
    text = STRIPE_KEY.sub(REDACTED, text)
    text = JWT.sub(REDACTED, text)
    text = FERNET.sub(REDACTED, text)
    text = PAIR.sub(lambda m: f"{m.group(1)}{m.group(2)}{REDACTED}", text)
    text = FEED_PATH.sub(lambda m: f"{m.group(1)}/{REDACTED}", text)
    text = QUERY.sub("?[redacted]", text)
    return PHONE_CANDIDATE.sub(_phone, text)


def is_secret_key(key: object) -> bool:
    if not isinstance(key, str):
        return False
    normalised = key.lower().replace("-", "").replace("_", "").replace(".", "")
    if normalised in _SAFE_KEYS:
        return False
    return any(part in normalised for part in _SECRET_KEY_PARTS)


def redact(value: Any, _depth: int = 0) -> Any:
    """``value`` with secrets replaced: strings by pattern, mappings by key and pattern, lists and tuples item by
    item; any other object (a model, a request) becomes its text, redacted."""
    if _depth > 20:
        return value
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, Mapping):
        return {key: (item if key in _OWN_FIELDS else
                      REDACTED if is_secret_key(key) and item not in (None, "", [], {}) else
                      redact(item, _depth + 1)) for key, item in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        items = [redact(item, _depth + 1) for item in value]
        return tuple(items) if isinstance(value, tuple) else items
    if value is None or isinstance(value, bool | int | float):
        return value
    return redact_text(str(value))  # any other object is written as its text: redacted like any text
