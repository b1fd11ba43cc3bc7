"""Field rules of a guest's details, shared by the guest pages' details form and the back office's owner booking
form."""

from __future__ import annotations

import re

from django import forms
from django.utils.translation import gettext_lazy as _

PHONE_CHARS = re.compile(r"^\+?[0-9 ()\-]+$")
MIN_PHONE_DIGITS, MAX_PHONE_DIGITS = 7, 20


def clean_phone(value: str) -> str:
    """Digits, spaces, parentheses and hyphens, an optional leading +, and 7–20 digits in all."""
    value = " ".join(value.split())
    if not PHONE_CHARS.match(value):
        raise forms.ValidationError(_("Use digits, spaces, +, - and parentheses only (e.g. +44 20 7946 0000)."))
    digits = sum(ch.isdigit() for ch in value)
    if not MIN_PHONE_DIGITS <= digits <= MAX_PHONE_DIGITS:
        raise forms.ValidationError(f"A phone number has {MIN_PHONE_DIGITS} to {MAX_PHONE_DIGITS} digits.")
    return value
