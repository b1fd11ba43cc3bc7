"""Forms of the guest pages: the search form and the stay (dates and guests) form.

They validate shapes and obvious mistakes (dates in the wrong order or in the
past, no guests); every rule of a property (minimum stay, weekdays, capacity,
availability) is decided by ``bookings.availability`` and shown as its reasons.
"""

from __future__ import annotations

from datetime import date, timedelta
from urllib.parse import urlencode

from django import forms
from django.forms.renderers import DjangoTemplates
from django.utils import timezone
from django.utils.html import conditional_escape
from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _

from .listing import SORTS
from .stay_rules import sleeps_at_most

MAX_STAY_NIGHTS = 365
MAX_GUESTS = 50
MAX_DAYS_AHEAD = 3 * 365
SORT_CHOICES = [("price", _("Price: low to high")), ("-price", _("Price: high to low")), ("newest", _("Newest"))]
assert all(code in SORTS for code, _label in SORT_CHOICES)  # a wiring check at import


# Widget templates that are exactly Django's ``input.html`` (``<input>`` and its attributes, nothing else).
PLAIN_INPUT_TEMPLATES = frozenset(f"django/forms/widgets/{name}.html" for name in (
    "text", "number", "date", "email", "hidden", "input"))


def input_html(widget: dict) -> str:
    """Django's ``input.html`` + ``attrs.html`` for a widget context (``Widget.get_context()["widget"]``), built in
    Python: the same bytes (the templates write ``value|stringformat:'s'``, escaped unless already safe; ``True``
    attributes bare, ``False`` ones left out)."""
    value = "" if widget["value"] is None else f' value="{conditional_escape(str(widget["value"]))}"'
    attrs = "".join(
        f" {conditional_escape(name)}" + ("" if val is True else f'="{conditional_escape(str(val))}"')
        for name, val in widget["attrs"].items()
        if val is not False
    )
    kind, name = conditional_escape(widget["type"]), conditional_escape(widget["name"])
    return f'<input type="{kind}" name="{name}"{value}{attrs}>'


class GuestFormRenderer(DjangoTemplates):
    """The form renderer of the guest pages' forms: plain ``<input>`` widgets are written in Python (about 0.15 ms
    each through three templates otherwise; the search form has eight fields, the booking widget four), every
    other template (selects, error lists) as Django renders it. Output identical (tests/pages/test_form_renderer)."""

    def render(self, template_name, context, request=None):
        if template_name in PLAIN_INPUT_TEMPLATES and "widget" in context:
            return input_html(context["widget"])
        return super().render(template_name, context, request=request)


# One instance for the process, as Django's own default renderer (a renderer builds its template engine once).
GUEST_FORM_RENDERER = GuestFormRenderer()


class DateInput(forms.DateInput):
    input_type = "date"

    def __init__(self, **kwargs):
        kwargs.setdefault("format", "%Y-%m-%d")
        super().__init__(**kwargs)


def _date_field(label: str) -> forms.DateField:
    return forms.DateField(
        label=label, required=False, input_formats=["%Y-%m-%d"], widget=DateInput(),
        error_messages={"invalid": _("Enter a date as YYYY-MM-DD.")},
    )


class AccessibleErrorsMixin:
    """Fields with errors get ``aria-invalid`` and ``aria-describedby`` pointing at their message (and at their
    help text)."""

    def full_clean(self):
        super().full_clean()
        for name in self.errors:
            if name in self.fields:
                bound = self[name]
                # the help text too, when there is one (templates/_field.html writes both ids)
                described_by = [f"{bound.auto_id}_helptext"] if bound.help_text else []
                self.fields[name].widget.attrs.update(
                    {"aria-invalid": "true", "aria-describedby": " ".join([*described_by, f"{bound.auto_id}_error"])}
                )


class StayDatesMixin:
    """Both dates or neither; arrival not in the past; departure after arrival; a sane length."""

    dates_required = False

    def clean_stay(self, cleaned: dict) -> dict:
        check_in, check_out = cleaned.get("check_in"), cleaned.get("check_out")
        if "check_in" in self.errors or "check_out" in self.errors:
            return cleaned
        if check_in is None and check_out is None:
            if self.dates_required:
                self.add_error("check_in", _("Choose your arrival date."))
                self.add_error("check_out", _("Choose your departure date."))
            return cleaned
        if check_in is None:
            self.add_error("check_in", _("Choose an arrival date too."))
            return cleaned
        if check_out is None:
            self.add_error("check_out", _("Choose a departure date too."))
            return cleaned
        # The earliest local date anywhere on Earth is UTC's date minus one day; the exact
        # per-property rule ("Check-in cannot be in the past") is applied by check_availability.
        today = timezone.localdate()
        if check_in < today - timedelta(days=1):
            self.add_error("check_in", _("Check-in cannot be in the past."))
        elif check_in > today + timedelta(days=MAX_DAYS_AHEAD):
            self.add_error("check_in", _("Choose an arrival within the next three years."))
        if check_out <= check_in:
            self.add_error("check_out", _("Check-out must be after check-in."))
        elif (check_out - check_in).days > MAX_STAY_NIGHTS:
            self.add_error("check_out", format_lazy(_("A stay can be at most {nights} nights."),
                                                    nights=MAX_STAY_NIGHTS))
        return cleaned


class SearchForm(AccessibleErrorsMixin, StayDatesMixin, forms.Form):
    default_renderer = GUEST_FORM_RENDERER
    q = forms.CharField(label=_("Where"), required=False, max_length=100,
                        widget=forms.TextInput(attrs={"placeholder": _("City or property name"),
                                                      "autocomplete": "off"}))
    check_in = _date_field(_("Check-in"))
    check_out = _date_field(_("Check-out"))
    guests = forms.IntegerField(label=_("Guests"), required=False, min_value=1, max_value=MAX_GUESTS, initial=1,
                                error_messages={"min_value": _("At least 1 guest."),
                                                "max_value": format_lazy(_("At most {count} guests."),
                                                                         count=MAX_GUESTS)})
    min_price = forms.DecimalField(label=_("Min. price per night"), required=False, min_value=0, max_digits=10,
                                   decimal_places=2)
    max_price = forms.DecimalField(label=_("Max. price per night"), required=False, min_value=0, max_digits=10,
                                   decimal_places=2)
    bedrooms = forms.TypedChoiceField(label=_("Bedrooms"), required=False, coerce=int, empty_value=None,
                                      choices=[("", _("Any")), *((str(n), f"{n}+") for n in range(1, 7))])
    amenities = forms.MultipleChoiceField(label=_("Amenities"), required=False, widget=forms.CheckboxSelectMultiple)
    sort = forms.ChoiceField(label=_("Sort by"), required=False, choices=SORT_CHOICES)
    page = forms.IntegerField(required=False, min_value=1, max_value=10_000, widget=forms.HiddenInput)

    def __init__(self, *args, amenity_choices=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["amenities"].choices = list(amenity_choices)
        self.fields["guests"].widget.attrs.update({"min": 1, "max": MAX_GUESTS})

    def clean(self):
        cleaned = self.clean_stay(super().clean())
        low, high = cleaned.get("min_price"), cleaned.get("max_price")
        if low is not None and high is not None and low > high:
            self.add_error("max_price", _("The maximum must not be below the minimum."))
        return cleaned


class StayForm(AccessibleErrorsMixin, StayDatesMixin, forms.Form):
    """Dates and guests of one stay (the booking widget; the guest details page reads it from the query)."""

    default_renderer = GUEST_FORM_RENDERER

    check_in = _date_field(_("Check-in"))
    check_out = _date_field(_("Check-out"))
    adults = forms.IntegerField(label=_("Adults"), min_value=1, max_value=MAX_GUESTS, initial=2,
                                error_messages={"min_value": _("At least 1 adult."),
                                                "max_value": format_lazy(_("At most {count} adults."),
                                                                         count=MAX_GUESTS),
                                                "required": "How many adults?"})
    children = forms.IntegerField(label=_("Children"), min_value=0, max_value=MAX_GUESTS, initial=0, required=False,
                                  error_messages={"min_value": _("Cannot be negative."),
                                                  "max_value": format_lazy(_("At most {count} children."),
                                                                           count=MAX_GUESTS)})

    def __init__(self, *args, dates_required: bool = False, prop=None, **kwargs):
        """With ``prop``, the guest fields speak of what the property sleeps: ``?adults=999`` on a property for 4
        says "This property sleeps at most 4 guests." (not the site-wide cap of 50), and the inputs' ``max`` is
        its capacity. A count within the cap but above the capacity is a reason of the quote, as before."""
        super().__init__(*args, **kwargs)
        self.dates_required = dates_required
        limit = MAX_GUESTS
        if prop is not None and prop.max_guests:
            limit = min(prop.max_guests, MAX_GUESTS)
            for name in ("adults", "children"):
                field = self.fields[name]
                field.error_messages = {**field.error_messages, "max_value": sleeps_at_most(prop)}
        self.fields["adults"].widget.attrs.update({"min": 1, "max": limit})
        self.fields["children"].widget.attrs.update({"min": 0, "max": limit})

    def clean(self):
        cleaned = self.clean_stay(super().clean())
        if cleaned.get("children") is None:
            cleaned["children"] = 0
        return cleaned

    @property
    def has_stay(self) -> bool:
        if not self.is_bound or not self.is_valid():
            return False
        return self.cleaned_data.get("check_in") is not None and self.cleaned_data.get("check_out") is not None


def stay_from_get(params, *, dates_required: bool = False, prop=None) -> StayForm:
    """A bound StayForm when the query string carries any of its fields, else an unbound one with defaults."""
    if any(params.get(name) not in (None, "") for name in ("check_in", "check_out", "adults", "children")):
        data = params.copy()
        if not data.get("adults"):
            data["adults"] = "2"
        if not data.get("children"):
            data["children"] = "0"
        return StayForm(data, dates_required=dates_required, prop=prop)
    return StayForm(initial={"adults": 2, "children": 0}, dates_required=dates_required, prop=prop)


def stay_query(check_in: date | None, check_out: date | None, adults: int | None = None, children: int = 0,
               guests: int | None = None) -> str:
    """The query string that carries a stay to the next page (what :func:`stay_from_get` reads back)."""
    params = []  # urlencode() of pairs: what QueryDict.urlencode() gives, without its cost (~60 calls a page)
    if check_in and check_out:
        params += [("check_in", check_in.isoformat()), ("check_out", check_out.isoformat())]
    if adults is None and guests:
        adults = guests
    if adults:
        params.append(("adults", str(adults)))
    if children:
        params.append(("children", str(children)))
    return urlencode(params)


def parse_month(value: str | None, default: date) -> date:
    """``YYYY-MM`` → the first of that month; anything else → ``default``."""
    try:
        year, month = (int(part) for part in (value or "").split("-"))
        return date(year, month, 1)
    except (ValueError, TypeError):
        return default
