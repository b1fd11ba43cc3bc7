"""The guest details form (the step between the property page and payment).

The stay (dates from hidden fields, guests from visible ones) is validated for
shape here and for every rule by ``bookings.services.reserve``; the price is
never read from the form: ``reserve`` quotes it on the server.
"""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from guests.countries import COUNTRY_CHOICES
from guests.forms import clean_phone
from properties.forms import StayForm


class GuestDetailsForm(StayForm):
    name = forms.CharField(label=_("Full name"), max_length=200, widget=forms.TextInput(attrs={"autocomplete": "name"}),
                           error_messages={"required": _("Enter your full name.")})
    email = forms.EmailField(label=_("Email"), max_length=254,
                             widget=forms.EmailInput(attrs={"autocomplete": "email"}),
                             help_text=_("Your confirmation and the link to your booking are sent here."),
                             error_messages={"required": _("Enter your email address."),
                                             "invalid": _("Enter a valid email address, like name@example.com.")})
    phone = forms.CharField(label=_("Phone"), max_length=32,
                            widget=forms.TextInput(attrs={"autocomplete": "tel", "inputmode": "tel"}),
                            help_text=_("With the country code, e.g. +44 20 7946 0000."),
                            error_messages={"required": _("Enter a phone number the host can reach you on.")})
    country = forms.ChoiceField(label=_("Country"), choices=[("", _("Choose a country")), *COUNTRY_CHOICES],
                                widget=forms.Select(attrs={"autocomplete": "country"}),
                                error_messages={"required": _("Choose your country."),
                                                "invalid_choice": _("Choose a country from the list.")})
    special_requests = forms.CharField(label=_("Special requests (optional)"), required=False, max_length=2000,
                                       widget=forms.Textarea(attrs={"rows": 3}))
    accept = forms.BooleanField(
        label=_("I accept the house rules and the cancellation policy."),
        error_messages={"required": _("Please accept the house rules and the cancellation policy to continue.")},
    )
    form_token = forms.UUIDField(widget=forms.HiddenInput,
                                 error_messages={"required": _("This form has expired; please submit it again."),
                                                 "invalid": _("This form has expired; please submit it again.")})

    def __init__(self, *args, **kwargs):
        kwargs["dates_required"] = True
        super().__init__(*args, **kwargs)
        self.fields["check_in"].widget = forms.HiddenInput()
        self.fields["check_out"].widget = forms.HiddenInput()

    def clean_phone(self):
        return clean_phone(self.cleaned_data["phone"])

    def clean_name(self):
        name = " ".join(self.cleaned_data["name"].split())
        if not name:
            raise forms.ValidationError(_("Enter your full name."))
        return name


class ChangeStayForm(forms.Form):
    """The guest's new stay (portal: "Change your stay"). Shape only; the service decides availability, rules and
    price (``payments.changes``)."""

    check_in = forms.DateField(label=_("Check-in"), widget=forms.DateInput(attrs={"type": "date"}),
                               error_messages={"required": _("Choose the arrival date."),
                                               "invalid": _("Enter a date, like 2027-06-01.")})
    check_out = forms.DateField(label=_("Check-out"), widget=forms.DateInput(attrs={"type": "date"}),
                                error_messages={"required": _("Choose the departure date."),
                                                "invalid": _("Enter a date, like 2027-06-05.")})
    adults = forms.IntegerField(label=_("Adults"), min_value=1, max_value=50,
                                error_messages={"required": _("At least one adult."),
                                                "min_value": _("At least one adult.")})
    children = forms.IntegerField(label=_("Children"), min_value=0, max_value=50, initial=0, required=False)

    def clean(self):
        data = super().clean()
        check_in, check_out = data.get("check_in"), data.get("check_out")
        if check_in and check_out and check_out <= check_in:
            self.add_error("check_out", _("Check-out must be after check-in."))
        return data

    def stay(self) -> dict:
        data = self.cleaned_data
        return {"check_in": data["check_in"], "check_out": data["check_out"], "adults": data["adults"],
                "children": data.get("children") or 0}


class GroupDetailsForm(forms.Form):
    """The lead guest's details for a group booking (the stays come from the session's basket, not the form)."""

    name = GuestDetailsForm.base_fields["name"]
    email = GuestDetailsForm.base_fields["email"]
    phone = GuestDetailsForm.base_fields["phone"]
    country = GuestDetailsForm.base_fields["country"]
    special_requests = GuestDetailsForm.base_fields["special_requests"]
    accept = forms.BooleanField(
        label=_("I accept the house rules and the cancellation policy of every stay."),
        error_messages={"required": _("Please accept the house rules and the cancellation policies to continue.")},
    )
    form_token = GuestDetailsForm.base_fields["form_token"]

    clean_phone = GuestDetailsForm.clean_phone
    clean_name = GuestDetailsForm.clean_name
