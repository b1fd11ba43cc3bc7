"""The guest's review form: star ratings as radio groups (one fieldset and legend each), a title and a text.

It checks the input's shape and re-renders with field messages; ``reviews.services.submit_review`` decides whether
the stay may be reviewed."""

from django import forms
from django.utils.functional import lazy
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from properties.forms import AccessibleErrorsMixin

from .models import BODY_MAX_LENGTH, BODY_MIN_LENGTH, CATEGORIES, MAX_RATING, MIN_RATING, TITLE_MAX_LENGTH


def _stars(n: int) -> str:
    return ngettext("%(n)d star", "%(n)d stars", n) % {"n": n}


# Lazy: each label is translated when it is rendered, in the request's language (not once at import).
STAR_CHOICES = [(n, lazy(_stars, str)(n)) for n in range(MIN_RATING, MAX_RATING + 1)]


def _rating_field(label, *, required: bool) -> forms.TypedChoiceField:
    return forms.TypedChoiceField(
        label=label, choices=STAR_CHOICES, coerce=int, required=required, empty_value=None,
        widget=forms.RadioSelect,
        error_messages={"required": _("Please choose from 1 to 5 stars."),
                        "invalid_choice": _("Please choose from 1 to 5 stars.")})


class ReviewForm(AccessibleErrorsMixin, forms.Form):
    overall = _rating_field(_("Overall"), required=True)
    cleanliness = _rating_field(CATEGORIES[0][1], required=False)
    accuracy = _rating_field(CATEGORIES[1][1], required=False)
    communication = _rating_field(CATEGORIES[2][1], required=False)
    location = _rating_field(CATEGORIES[3][1], required=False)
    check_in = _rating_field(CATEGORIES[4][1], required=False)
    value = _rating_field(CATEGORIES[5][1], required=False)
    title = forms.CharField(label=_("Title (optional)"), max_length=TITLE_MAX_LENGTH, required=False)
    body = forms.CharField(
        label=_("Your review"), min_length=BODY_MIN_LENGTH, max_length=BODY_MAX_LENGTH,
        widget=forms.Textarea(attrs={"rows": 6}),
        error_messages={"required": _("Please write a few words about your stay.")})

    def rating_fields(self):
        return [self[name] for name in ("overall", *(name for name, _label in CATEGORIES))]

    def ratings(self) -> dict:
        return {name: self.cleaned_data.get(name) for name in ("overall", *(n for n, _label in CATEGORIES))}
