"""The guest's privacy pages: download their data (behind a booking's magic link, or signed in) and erase their
account. Thin: ``privacy.selectors`` decides the scope, ``privacy.services`` exports (audited) and erases."""

from __future__ import annotations

import json

from django.contrib import auth
from django.contrib.auth.decorators import login_required
from django.core.serializers.json import DjangoJSONEncoder
from django.http import Http404, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods

from bookings.tokens import booking_for_guest_token

from . import selectors, services
from .errors import PrivacyError
from .models import PrivacyChannel


def json_download(document: dict, filename: str) -> HttpResponse:
    response = HttpResponse(json.dumps(document, cls=DjangoJSONEncoder, indent=2, ensure_ascii=False),
                            content_type="application/json; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response["Cache-Control"] = "no-store"
    return response


def _filename(label: str) -> str:
    return f"stayhold-personal-data-{label}-{timezone.now():%Y%m%d}.json"


@never_cache
@require_GET
def booking_export(request, reference):
    """The data of the booking's guest (every booking of that guest profile), for the holder of its magic link."""
    booking = booking_for_guest_token(reference, request.GET.get("token", ""))
    if booking is None or booking.guest is None:
        raise Http404("There is no booking with this reference.")
    scope = selectors.guest_scope([booking.guest])
    document = services.export_data(scope=scope, actor=services.guest_actor(request.user),
                                    channel=PrivacyChannel.PORTAL,
                                    reason=f"Downloaded from the page of booking {booking.reference}.")
    return json_download(document, _filename(booking.reference))


@never_cache
@require_GET
@login_required(login_url="account_login")
def account_export(request):
    """Everything of the signed-in guest: their account and every profile with one of their verified addresses."""
    scope = selectors.guest_scope(selectors.guests_of_account(request.user), account=request.user)
    document = services.export_data(scope=scope, actor=services.guest_actor(request.user),
                                    channel=PrivacyChannel.ACCOUNT, reason="Downloaded from the guest's account.")
    return json_download(document, _filename("account"))


@never_cache
@require_http_methods(["GET", "POST"])
@login_required(login_url="account_login")
def account_erase(request):
    """GET: what erasing means and what is still pending. POST (CSRF, the box ticked): erase now, or record the
    request until the pending stay or money is over (``privacy.services.request_account_erasure``)."""
    user = request.user
    guests = selectors.guests_of_account(user)
    context = {"blockers": selectors.erasure_blockers([g.pk for g in guests]), "back_office": user.is_staff,
               "profiles": len(guests)}
    if request.method == "GET":
        return render(request, "privacy/erase.html", context)
    if request.POST.get("confirm") != "yes":
        context["confirm_error"] = True
        return render(request, "privacy/erase.html", context, status=400)
    try:
        outcome = services.request_account_erasure(user=user)
    except PrivacyError as exc:
        context["error"] = exc.detail
        return render(request, "privacy/erase.html", context, status=exc.http_status)
    if outcome.erased:
        auth.logout(request)
        return render(request, "privacy/erased.html")
    context.update({"requested": True, "blockers": outcome.blockers})
    return render(request, "privacy/erase.html", context)
