"""Guest pages of manual payments and the permission-checked proof view.

``POST /payments/<reference>/manual/`` (``payments:manual-choose``, token in the form) picks a method and
redirects to ``GET /payments/<reference>/manual/<code>/?token=`` (``payments:manual``): amount, handle, code,
deadline with copy buttons, and the "I have sent it" form (``POST`` to the same URL: reference and an
optional proof image). ``GET /payments/manual/<code>/proof`` (``payments:manual-proof``) serves the proof
to the property's owner, its assigned staff and superusers only (404 for everyone else).
"""

from __future__ import annotations

from django import forms
from django.conf import settings
from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from bookings.links import payment_url, status_url
from bookings.models import Booking
from bookings.tokens import booking_access_token, booking_for_guest_token
from core import ratelimit
from core.actor import Actor
from core.client_address import client_ip, client_key
from core.errors import DomainError
from core.uploads import private_file_response
from guests.authority import may_use_staff_authority, staff_page
from properties.models import Property

from . import manual
from .models import ManualPayment
from .models import ManualStatus as M


class ClaimForm(forms.Form):
    guest_reference = forms.CharField(label=_("Your payment reference or note"), max_length=200, required=False,
                                      help_text=_("e.g. the transaction id or the name on the account you paid from."))
    proof = forms.FileField(label=_("Screenshot of the payment (optional)"), required=False,
                            help_text=_("PNG, JPEG or WebP, at most 5 MB."))


def _booking(request, reference) -> Booking:
    token = request.GET.get("token") or request.POST.get("token", "")
    booking = booking_for_guest_token(reference, token, Booking.objects.select_related("guest", "property__owner"))
    if booking is None:
        raise Http404("No such booking.")
    return booking


def throttled(request, action: str) -> bool:
    """Count one ``action`` of this client (IP) against ``MANUAL_PAYMENT_THROTTLE`` ("N/period")."""
    key = f"manual-{action}:{client_key(request)}"
    return bool(ratelimit.hit(key, settings.MANUAL_PAYMENT_THROTTLE))



@require_POST
def choose(request, reference):
    booking = _booking(request, reference)
    try:
        mp = manual.choose_method(booking_id=booking.pk, method_id=request.POST.get("method", ""),
                                  actor=Actor.guest_of(booking))
    except (DomainError, ValueError) as exc:
        messages.error(request, getattr(exc, "detail", _("This payment method is not available.")))
        return redirect(payment_url(booking))
    return redirect(manual.instructions_url(mp))


@never_cache
@require_http_methods(["GET", "POST"])
def instructions(request, reference, code):
    booking = _booking(request, reference)
    mp = ManualPayment.objects.select_related("method", "booking").filter(booking=booking, code=code).first()
    if mp is None:
        raise Http404("No such payment.")
    form = ClaimForm()
    status = 200
    if request.method == "POST":
        form = ClaimForm(request.POST, request.FILES)
        if throttled(request, "claim"):
            form.add_error(None, _("Too many attempts from your connection; please wait and try again."))
            status = 429
        elif form.is_valid():
            try:
                manual.claim(mp_id=mp.pk, guest_reference=form.cleaned_data["guest_reference"],
                             proof=form.cleaned_data.get("proof"), actor=Actor.guest_of(booking),
                             ip=client_ip(request) or None)
            except manual.InvalidProof as exc:
                form.add_error("proof", exc.detail)
                status = 400
            except DomainError as exc:
                form.add_error(None, exc.detail)
                status = 409
            else:
                messages.success(request, _("Thank you. We will confirm your booking once the payment is verified."))
                return redirect(manual.instructions_url(mp))
        else:
            status = 400
        mp.refresh_from_db()
    now = timezone.now()
    return render(request, "payments/manual.html", {
        "booking": booking, "prop": booking.property, "mp": mp, "method": mp.method, "form": form,
        "can_claim": mp.status == M.PENDING and not manual.is_overdue(mp, now),
        "overdue": manual.is_overdue(mp, now), "token": booking_access_token(booking),
        "status_url": status_url(booking), "pay_url": payment_url(booking),
    }, status=status)


@never_cache
@staff_page
def proof(request, code):
    """The proof image, to the owner, assigned staff and superusers of the booking's property only.

    Staff authority (``guests.authority``): a session that owes its second factor is sent to the MFA page first;
    anyone else without it (anonymous, inactive) gets the same 404 as for a wrong code."""
    user = request.user
    mp = ManualPayment.objects.select_related("booking").filter(code=code).first()
    if (mp is None or not mp.proof or not may_use_staff_authority(request)
            or not Property.objects.managed_by(user).filter(pk=mp.booking.property_id).exists()):
        raise Http404("No such proof.")
    return private_file_response(mp.proof, content_type=mp.proof_content_type, filename=f"{mp.code}-proof")
