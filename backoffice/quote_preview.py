"""The live quote preview on a property's admin page.

An owner changing prices wants to see what a guest would pay: the property
page's admin form shows a small stay picker (dates, guests) whose result is
rendered here, from the *saved* property (prices, rules, overrides, fees,
taxes): the same ``pricing.quote`` and ``availability.check_availability`` the
checkout uses, so the preview never disagrees with what a guest is charged.
Draft properties preview too. Reads only; nothing is held or written.

Served at ``/admin/properties/property/<id>/quote-preview/`` through the
property admin (so its scoping applies: another owner's property is a 404) as an
HTML fragment that ``static/js/admin-quote-preview.js`` swaps in as the inputs
change; without JavaScript the "Preview" link opens the same fragment.

It lives in the back office, the layer above both ``properties`` (the quote) and ``bookings`` (availability), and
adds itself to the property's page through ``properties.admin.extend_property_admin`` (imported by
``backoffice.admin``).
"""

from __future__ import annotations

from datetime import date, timedelta
from functools import partial

from django import forms
from django.contrib import admin
from django.http import Http404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.http import urlencode

from bookings.availability import check_availability, nearest_free_stay
from properties.admin import PropertyPageExtension, extend_property_admin
from properties.pricing import local_today, quote

MAX_PREVIEW_NIGHTS = 366
DEFAULT_LEAD_DAYS = 14  # the preview opens on the first bookable stay from two weeks ahead …
DEFAULT_SEARCH_DAYS = 180  # … looked for this far


class QuotePreviewForm(forms.Form):
    check_in = forms.DateField()
    check_out = forms.DateField()
    adults = forms.IntegerField(min_value=1, max_value=50, initial=2)
    children = forms.IntegerField(min_value=0, max_value=50, initial=0, required=False)

    def clean(self):
        cleaned = super().clean()
        check_in, check_out = cleaned.get("check_in"), cleaned.get("check_out")
        if check_in and check_out:
            if check_out <= check_in:
                self.add_error("check_out", "Check-out must be after check-in.")
            elif (check_out - check_in).days > MAX_PREVIEW_NIGHTS:
                self.add_error("check_out", f"Preview at most {MAX_PREVIEW_NIGHTS} nights.")
        return cleaned


def default_stay(prop) -> dict:
    """A stay to preview when the page opens: the first one a guest could book from two weeks ahead (free
    dates, the stay rules met), for the minimum stay (at least 2 nights) and 2 guests (fewer if the property
    sleeps fewer); when none is free within ``DEFAULT_SEARCH_DAYS``, two weeks ahead all the same (the
    preview then says why it cannot be booked)."""
    check_in = local_today(prop) + timedelta(days=DEFAULT_LEAD_DAYS)
    nights = max(prop.min_stay or 1, 2)
    adults = max(1, min(2, prop.max_guests or 2))
    found = nearest_free_stay(prop, check_in, nights, adults, window=DEFAULT_SEARCH_DAYS, forward=True)
    check_in, check_out = found or (check_in, check_in + timedelta(days=nights))
    return {"check_in": check_in, "check_out": check_out, "adults": adults, "children": 0}


def preview(prop, check_in: date, check_out: date, guests: int) -> dict:
    """The quote and the availability verdict for a stay (reads only)."""
    return {"quote": quote(prop, check_in, check_out, guests),
            "availability": check_availability(prop, check_in, check_out, guests)}


def quote_preview_view(model_admin, request, object_id):
    prop = model_admin.get_object(request, object_id)  # scoped queryset: None for another owner's property
    if prop is None or not model_admin.has_view_permission(request, prop):
        raise Http404("No such property.")
    form = QuotePreviewForm(request.GET or None, initial=default_stay(prop))
    context = {"property": prop, "form": form}
    if form.is_bound and form.is_valid():
        data = form.cleaned_data
        context.update(preview(prop, data["check_in"], data["check_out"], data["adults"] + (data["children"] or 0)))
    return TemplateResponse(request, "admin/properties/property/quote_preview.html", context)


def picker_html(prop) -> str:
    """The stay picker shown as a read-only field of the property's change form.

    Its inputs carry no ``name`` (they are inside the admin's form and must not be
    submitted with it); the script reads them and fetches the fragment."""
    if prop is None or prop.pk is None:
        return "Save the property first, then preview a quote here."
    stay = default_stay(prop)
    url = reverse("admin:properties_property_quote_preview", args=[prop.pk])
    return format_html(
        '<div class="quote-preview" data-url="{url}">'
        '<label>Check-in <input type="date" data-qp="check_in" value="{ci}"></label> '
        '<label>Check-out <input type="date" data-qp="check_out" value="{co}"></label> '
        '<label>Adults <input type="number" class="vIntegerField" data-qp="adults" value="{adults}" min="1" '
        'max="50"></label> '
        '<label>Children <input type="number" class="vIntegerField" data-qp="children" value="0" min="0" '
        'max="50"></label> '
        '<a class="button qp-open" href="{url}?{query}" target="_blank" rel="noopener">Preview</a>'
        '<div class="qp-output"><p class="help">Prices as saved; save the form to preview a change.</p></div>'
        "</div>",
        url=url, ci=stay["check_in"].isoformat(), co=stay["check_out"].isoformat(), adults=stay["adults"],
        query=urlencode({k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in stay.items()}),
    )


# --- on the property's page ---------------------------------------------------------------------------------


@admin.display(description="Stay")
def quote_preview(obj):  # a read-only field of the page (its row's CSS class: "field-quote_preview")
    return picker_html(obj)


def property_page_urls(model_admin):
    return [path("<path:object_id>/quote-preview/",
                 model_admin.admin_site.admin_view(partial(quote_preview_view, model_admin)),
                 name="properties_property_quote_preview")]


extend_property_admin(PropertyPageExtension(
    order=10,
    fieldsets=(("Quote preview", {
        "fields": [quote_preview], "description": "What a guest would pay for a stay, from the saved prices and rules.",
    }),),
    readonly=(quote_preview,),
    urls=property_page_urls,
    js=("js/admin-quote-preview.js",),
    css=("admin-extra/quote-preview.css",),
))
