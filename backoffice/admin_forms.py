"""Forms of the booking back office: cancelling with a refund, and owner-entered bookings.

They check the shape of the input only (amount within what can be refunded,
a reason where one is required, a property the user manages); every booking rule
is the services' to decide (``payments.services.cancel_with_refund``,
``bookings.services.create_owner_booking``), and their refusals come back to
the form as errors.
"""

from __future__ import annotations

from decimal import Decimal

from django import forms
from django.contrib.admin import widgets as admin_widgets

from core.money import format_money, minor_unit, round_money
from guests.countries import COUNTRY_CHOICES
from guests.forms import clean_phone
from properties.tenancy import managed_properties

POLICY, FULL, CUSTOM = "policy", "full", "custom"


class CancelBookingForm(forms.Form):
    """How much to refund when the owner cancels: the policy amount (pre-selected), all of it, or a custom amount.

    ``quote`` is ``payments.services.refund_quote(booking)``; a custom amount must lie in
    0..``quote.refundable`` (nothing is ever refunded beyond what was paid)."""

    refund = forms.ChoiceField(label="Refund", widget=forms.RadioSelect, initial=POLICY)
    refund_amount = forms.DecimalField(label="Custom amount", required=False, min_value=Decimal(0),
                                       max_digits=12, decimal_places=2)
    reason = forms.CharField(label="Reason", max_length=500, widget=forms.Textarea(attrs={"rows": 3}),
                             help_text="Kept in the booking's audit trail and with the refund.",
                             error_messages={"required": "Give a reason for the cancellation."})

    def __init__(self, *args, quote, **kwargs):
        super().__init__(*args, **kwargs)
        self.quote = quote
        money = format_money
        self.fields["refund"].choices = [
            (POLICY, f"Per the cancellation policy: {money(quote.amount, quote.currency)} ({quote.percent}%)"),
            (FULL, f"Everything paid: {money(quote.refundable, quote.currency)}"),
            (CUSTOM, "A custom amount"),
        ]
        self.fields["refund_amount"].help_text = (
            f"From 0 to {money(quote.refundable, quote.currency)} (what was paid and not yet refunded).")
        self.fields["refund_amount"].widget.attrs.update({"max": str(quote.refundable), "min": "0",
                                                          "step": str(minor_unit(quote.currency))})

    def clean(self):
        data = super().clean()
        choice = data.get("refund")
        if choice == CUSTOM:
            amount = data.get("refund_amount")
            if amount is None:
                if "refund_amount" not in self.errors:
                    self.add_error("refund_amount", "Enter the amount to refund.")
            elif amount > self.quote.refundable:
                self.add_error("refund_amount", f"At most {format_money(self.quote.refundable, self.quote.currency)} "
                                                "can be refunded.")
            elif round_money(amount, self.quote.currency) != amount:
                self.add_error("refund_amount", "Too many decimal places for this currency.")
        return data

    @property
    def amount(self) -> Decimal:
        """The refund chosen (only after ``is_valid()``)."""
        choice = self.cleaned_data["refund"]
        if choice == POLICY:
            return self.quote.amount
        if choice == FULL:
            return self.quote.refundable
        return self.cleaned_data["refund_amount"]


class OwnerBookingForm(forms.Form):
    """A booking taken by the owner or staff (phone, walk-in): the guest, the stay, and two explicit choices."""

    property = forms.ModelChoiceField(queryset=None, label="Property",
                                      error_messages={"invalid_choice": "Choose one of your properties."})
    check_in = forms.DateField(label="Check-in", widget=admin_widgets.AdminDateWidget)
    check_out = forms.DateField(label="Check-out", widget=admin_widgets.AdminDateWidget)
    adults = forms.IntegerField(label="Adults", min_value=1, max_value=50, initial=2)
    children = forms.IntegerField(label="Children", min_value=0, max_value=50, initial=0)
    guest_name = forms.CharField(label="Guest name", max_length=200)
    guest_email = forms.EmailField(label="Guest email", required=False,
                                   help_text="Optional; the guest's emails (and their booking link) go here.")
    guest_phone = forms.CharField(label="Guest phone", max_length=32, required=False)
    guest_country = forms.ChoiceField(label="Guest country", required=False,
                                      choices=[("", "—"), *COUNTRY_CHOICES])
    notes = forms.CharField(label="Notes / special requests", required=False, max_length=2000,
                            widget=forms.Textarea(attrs={"rows": 3}))
    confirm_now = forms.BooleanField(
        label="Paid outside the system: confirm now", required=False,
        help_text="Otherwise the booking is reserved and the guest gets an email with a link to pay.")
    override_rules = forms.BooleanField(
        label="Override the stay rules", required=False,
        help_text="Minimum/maximum stay, arrival and departure days, lead time, guest count. "
                  "Overlapping bookings, blocks and buffer days are never overridden.")
    override_reason = forms.CharField(label="Reason for the override", required=False, max_length=500)

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["property"].queryset = managed_properties(user).order_by("name")

    def clean_guest_name(self):
        name = " ".join(self.cleaned_data["guest_name"].split())
        if not name:
            raise forms.ValidationError("Enter the guest's name.")
        return name

    def clean_guest_phone(self):
        phone = self.cleaned_data["guest_phone"].strip()
        return clean_phone(phone) if phone else ""

    def clean(self):
        data = super().clean()
        check_in, check_out = data.get("check_in"), data.get("check_out")
        if check_in and check_out and check_out <= check_in:
            self.add_error("check_out", "Check-out must be after check-in.")
        if data.get("override_rules") and not (data.get("override_reason") or "").strip():
            self.add_error("override_reason", "Give a reason for overriding the stay rules (it is audited).")
        return data


REFUND_CHOICES = [(POLICY, "Per the cancellation policy"), (FULL, "All of what the guest paid for what is removed")]


class ChangeStayForm(forms.Form):
    """An owner's change of a booking's dates and guests (``payments.changes``): the new stay, an explicit
    override of the stay rules with a reason, and how a decrease is refunded. Shape only; the service decides."""

    check_in = forms.DateField(label="Check-in", widget=admin_widgets.AdminDateWidget)
    check_out = forms.DateField(label="Check-out", widget=admin_widgets.AdminDateWidget)
    adults = forms.IntegerField(label="Adults", min_value=1, max_value=50)
    children = forms.IntegerField(label="Children", min_value=0, max_value=50)
    override_rules = forms.BooleanField(
        label="Override the stay rules", required=False,
        help_text="Minimum/maximum stay, arrival and departure days, lead time, guest count. "
                  "Overlapping bookings, blocks and buffer days are never overridden.")
    override_reason = forms.CharField(label="Reason for the override", required=False, max_length=500)
    refund = forms.ChoiceField(label="If the price goes down", choices=REFUND_CHOICES, initial=POLICY,
                               widget=forms.RadioSelect,
                               help_text="What the guest paid for what is removed is refunded at the policy's "
                                         "percent now, or in full.")

    def clean(self):
        data = super().clean()
        check_in, check_out = data.get("check_in"), data.get("check_out")
        if check_in and check_out and check_out <= check_in:
            self.add_error("check_out", "Check-out must be after check-in.")
        if data.get("override_rules") and not (data.get("override_reason") or "").strip():
            self.add_error("override_reason", "Give a reason for overriding the stay rules (it is audited).")
        return data

    def change_arguments(self) -> dict:
        data = self.cleaned_data
        return {"check_in": data["check_in"], "check_out": data["check_out"], "adults": data["adults"],
                "children": data["children"], "override_rules": data["override_rules"],
                "full_refund": data["refund"] == FULL}
