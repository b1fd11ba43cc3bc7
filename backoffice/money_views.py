"""The booking page's money tools (issue 15 §2): record a payment received outside the system, send a balance
request, place/release/claim a security deposit by hand. Wired into ``backoffice.admin.BookingAdmin``.

Each needs ``bookings.manage_booking`` (403 otherwise) and a booking in the user's tenant (404 otherwise); the
writes are ``payments.services.record_offline_payment``, ``payments.balances.request_balance`` and
``payments.security_deposits`` (their ``DomainError`` becomes a form error or a message, never a 500).
"""

from __future__ import annotations

import uuid
from decimal import Decimal

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponseRedirect
from django.utils import timezone

from bookings.models import MANAGE_BOOKING
from core.actor import Actor
from core.errors import DomainError
from core.money import format_money
from payments import balances, security_deposits
from payments.models import DepositStatus, SecurityDeposit
from payments.services import record_offline_payment

from .admin_views import _page, change_url, scoped_booking

METHODS = [("cash", "Cash"), ("bank transfer", "Bank transfer"), ("other", "Other")]


class OfflinePaymentForm(forms.Form):
    amount = forms.DecimalField(label="Amount", min_value=Decimal("0.01"), max_digits=12, decimal_places=2)
    method = forms.ChoiceField(label="Received by", choices=METHODS)
    reference = forms.CharField(label="Reference", max_length=200,
                                help_text="Receipt number, transfer reference … kept with the payment.")
    received_on = forms.DateField(label="Received on", widget=forms.DateInput(attrs={"type": "date"}))
    token = forms.CharField(widget=forms.HiddenInput)

    def clean_received_on(self):
        day = self.cleaned_data["received_on"]
        if day > timezone.localdate():
            raise forms.ValidationError("A payment cannot be received in the future.")
        return day


class ClaimForm(forms.Form):
    amount = forms.DecimalField(label="Amount to keep", min_value=Decimal("0.01"), max_digits=12, decimal_places=2)
    reason = forms.CharField(label="Reason", max_length=1000, widget=forms.Textarea(attrs={"rows": 3}),
                             help_text="What was damaged or missing; kept in the deposit's audit trail.")


def _check(model_admin, request, object_id):
    if not request.user.has_perm(MANAGE_BOOKING):
        raise PermissionDenied
    return scoped_booking(model_admin, request, object_id)


def record_payment_view(model_admin, request, object_id):
    booking = _check(model_admin, request, object_id)
    form = OfflinePaymentForm(request.POST or None,
                              initial={"amount": booking.balance_due, "received_on": timezone.localdate(),
                                       "token": uuid.uuid4().hex})
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            payment = record_offline_payment(
                booking_id=booking.pk, amount=data["amount"], method=data["method"], reference=data["reference"],
                received_on=data["received_on"], actor=Actor.for_user(request.user), token=data["token"][:40])
        except DomainError as exc:
            form.add_error("amount", exc.detail)
        else:
            messages.success(request, f"Recorded {format_money(payment.amount, payment.currency)} received "
                                      f"({data['method']}) for {booking.reference}.")
            return HttpResponseRedirect(change_url(booking))
    return _page(model_admin, request, "admin/bookings/booking/record_payment.html",
                 f"Record a payment for {booking.reference}", booking=booking, form=form,
                 balance=format_money(booking.balance_due, booking.currency))


def balance_request_view(model_admin, request, object_id):
    if request.method != "POST":
        raise Http404
    booking = _check(model_admin, request, object_id)
    try:
        row = balances.request_balance(booking_id=booking.pk, actor=Actor.for_user(request.user))
    except DomainError as exc:
        messages.error(request, f"{booking.reference}: {exc.detail}")
    else:
        messages.success(request, f"Balance request sent to {row.to}.")
    return HttpResponseRedirect(change_url(booking))


def _deposit(booking, deposit_id) -> SecurityDeposit:
    deposit = SecurityDeposit.objects.filter(pk=deposit_id, booking=booking).first()
    if deposit is None:
        raise Http404("No such security deposit.")
    return deposit


def release_deposit_view(model_admin, request, object_id, deposit_id):
    if request.method != "POST":
        raise Http404
    booking = _check(model_admin, request, object_id)
    deposit = _deposit(booking, deposit_id)
    try:
        security_deposits.release(deposit.pk, actor=Actor.for_user(request.user), reason="Released by the owner.")
    except DomainError as exc:
        messages.error(request, exc.detail)
    else:
        messages.success(request, f"Security deposit of {format_money(deposit.amount, deposit.currency)} released.")
    return HttpResponseRedirect(change_url(booking))


def claim_deposit_view(model_admin, request, object_id, deposit_id):
    booking = _check(model_admin, request, object_id)
    deposit = _deposit(booking, deposit_id)
    if deposit.status != DepositStatus.HELD:
        messages.error(request, f"This security deposit is {deposit.get_status_display().lower()}.")
        return HttpResponseRedirect(change_url(booking))
    form = ClaimForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            security_deposits.claim(deposit.pk, amount=form.cleaned_data["amount"],
                                    reason=form.cleaned_data["reason"], actor=Actor.for_user(request.user))
        except DomainError as exc:
            form.add_error("amount", exc.detail)
        else:
            messages.success(request, f"Claimed {format_money(form.cleaned_data['amount'], deposit.currency)} of "
                                      "the security deposit.")
            return HttpResponseRedirect(change_url(booking))
    return _page(model_admin, request, "admin/bookings/booking/claim_deposit.html",
                 f"Claim from the security deposit of {booking.reference}", booking=booking, form=form,
                 deposit=deposit, held=format_money(deposit.amount, deposit.currency))


def money_detail(booking, user) -> dict:
    """The booking page's schedule, saved card and security deposits (three queries)."""
    from payments.models import PaymentPlan, SavedCard

    plan = PaymentPlan.objects.filter(booking=booking).first()
    card = SavedCard.objects.filter(booking=booking).exclude(payment_method_id="").first()
    deposits = [{"obj": d, "amount": format_money(d.amount, d.currency),
                 "captured": format_money(d.captured_amount, d.currency)}
                for d in SecurityDeposit.objects.filter(booking=booking).order_by("attempt")]
    can = user.has_perm(MANAGE_BOOKING)
    return {"money_plan": plan, "money_card": card, "security_deposits": deposits, "can_manage_money": can,
            "can_request_balance": can and booking.balance_due > 0 and booking.status in ("confirmed", "checked_in"),
            "can_record_payment": can and booking.balance_due > 0
            and booking.status in ("reserved", "confirmed", "checked_in", "checked_out")}
