"""Cached HTML fragments of the guest pages: a search result card's body, the top of the property page.

Design (docs/performance-pages.md): a fragment is cached under a key made from **everything it shows** — every
column of the property row, of its photos and amenities, its policy snapshot, rating, the active language, the
script prefix — plus a digest of the code that renders it (the fragment templates, the template tags, the
compiled translation catalogues, Django's version). The key is built from the rows the page has already read
for other reasons (search() and ``property_for_page`` load them anyway), so a fragment can never be stale: when
anything it shows changes, the page asks for another key, and the old entry ages out (``FRAGMENT_TIMEOUT``).
Nothing has to invalidate it, which matters because several writes that change what these fragments show emit
no outbox event (a description, a photo, an amenity, a review edited in the back office) and because outbox
deliveries run after commit on a worker, i.e. later than the next page view.

Prices and availability are never part of a fragment: the card's price and total, the calendar and the quote
are rendered on every request from what was read in that request.

The cache is Django's default cache (Redis; ``config.cache.ResilientRedisCache`` answers from process memory
while Redis is down). Any other cache failure is logged and the fragment is rendered as if it had been a miss:
a cache never breaks a page.
"""

from __future__ import annotations

import functools
import hashlib
import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import replace
from functools import lru_cache
from pathlib import Path

import django
from django.conf import settings
from django.core.cache import cache
from django.db import models
from django.db.models.fields.files import FieldFile
from django.template.loader import get_template
from django.urls import get_script_prefix
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import get_language

log = logging.getLogger(__name__)

FRAGMENT_TIMEOUT = 24 * 3600  # seconds; entries nobody asks for any more (old content, old code) age out
CARD_TEMPLATE = "properties/_card_body.html"
ABOUT_TEMPLATE = "properties/_detail_about.html"
# What the fragments render with besides their own template: the templates they include and the tags they call.
_RENDERING_TEMPLATES = (CARD_TEMPLATE, ABOUT_TEMPLATE, "reviews/_rating_badge.html")


@lru_cache(maxsize=1)
def code_digest() -> str:
    """A digest of the code that shapes the fragments, computed once per process: a deploy that changes a
    template, a template tag, a translation or Django itself gets new keys (old entries age out)."""
    from properties import display, policies
    from properties.templatetags import stayhold

    h = hashlib.blake2b(digest_size=8)
    h.update(django.get_version().encode())
    for name in _RENDERING_TEMPLATES:
        h.update(get_template(name).template.source.encode())
    for module in (stayhold, display, policies):
        h.update(Path(module.__file__).read_bytes())
    for locale_dir in settings.LOCALE_PATHS:
        for catalogue in sorted(Path(locale_dir).glob("*/LC_MESSAGES/django.mo")):
            stat = catalogue.stat()
            h.update(f"{catalogue}:{stat.st_size}:{stat.st_mtime_ns}".encode())
    return h.hexdigest()


@functools.cache
def _columns(model: type[models.Model]) -> tuple[str, ...]:
    return tuple(f.attname for f in model._meta.concrete_fields)


def row(instance: models.Model) -> tuple:
    """Every column of a model instance (``attname`` values), in field order: a change of any column changes it.
    Read from the instance's ``__dict__`` (cheaper than the descriptors); a deferred column is loaded as the
    template would load it; a file is its stored name."""
    values = instance.__dict__
    out = []
    for name in _columns(type(instance)):
        value = values[name] if name in values else getattr(instance, name)
        out.append(value.name if isinstance(value, FieldFile) else value)
    return tuple(out)


def photo_row(photo) -> tuple:
    """A photo's columns and the URL its storage gives it now (a storage moved to another host changes it)."""
    return (*row(photo), photo.image.url if photo.image else "")


def content_key(kind: str, *values) -> str:
    """The cache key of a fragment of ``kind`` that shows ``values`` in the active language."""
    content = hashlib.blake2b(repr(values).encode(), digest_size=16).hexdigest()
    return f"fragment:{kind}:{code_digest()}:{get_language()}:{get_script_prefix()}:{content}"


def cached_fragments(keys: Sequence[str], render: Callable[[int], str]) -> list[SafeString]:
    """The fragments under ``keys``: one ``get_many`` for all of them, ``render(i)`` for each miss (stored back with
    one ``set_many``). A failing cache is logged and every fragment is rendered."""
    try:
        found = cache.get_many(keys)
    except Exception:  # a cache must never break a page
        log.warning("Fragment cache unavailable; rendering without it", exc_info=True)
        found = {}
    out, missing = [], {}
    for i, key in enumerate(keys):
        html = found.get(key)
        if not isinstance(html, str):
            html = missing[key] = str(render(i))
        out.append(mark_safe(html))  # noqa: S308 - rendered by our own autoescaping template, here or earlier
    if missing:
        try:
            cache.set_many(missing, FRAGMENT_TIMEOUT)
        except Exception:
            log.warning("Fragment cache unavailable; not storing", exc_info=True)
    return out


# --- the fragments ------------------------------------------------------------------------------------------


def _card_content(card) -> tuple:
    prop = card.property
    return (row(prop), photo_row(card.photo) if card.photo else None, [row(a) for a in card.amenities],
            card.policy, getattr(prop, "review_summary", None))


def card_bodies(cards: Iterable):
    """``cards`` (``storefront.selectors.ResultCard``) with ``body``: the card's HTML from the photo to the
    policy badge (``properties/_card_body.html``), cached by content. Its link, price and total are not in it."""
    cards = list(cards)
    template = get_template(CARD_TEMPLATE)
    keys = [content_key("card", _card_content(card)) for card in cards]
    bodies = cached_fragments(keys, lambda i: template.render({"card": cards[i]}))
    return [replace(card, body=body) for card, body in zip(cards, bodies, strict=True)]


def property_about(*, prop, photos, amenities, policy, rating, country_name: str, checkin_days: str) -> SafeString:
    """The top of the property page (``properties/_detail_about.html``): crumbs, name and facts, rating, gallery,
    description, amenities, house rules, policy, location; cached by content. No price, no availability."""
    context = {"prop": prop, "photos": photos, "amenities": amenities, "policy": policy, "rating": rating,
               "country_name": country_name, "checkin_days": checkin_days}
    key = content_key("about", row(prop), [photo_row(p) for p in photos], [row(a) for a in amenities], policy,
                      (rating.count, rating.overall), country_name, checkin_days)
    return cached_fragments([key], lambda _i: get_template(ABOUT_TEMPLATE).render(context))[0]
