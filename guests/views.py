"""Guest account pages (allauth does sign-up, login and email verification under /accounts/), and allauth's TOTP
activation page with one addition (``activate_totp``)."""

from allauth.mfa.models import Authenticator
from allauth.mfa.totp.views import ActivateTOTPView as AllauthActivateTOTPView
from django.contrib.auth.decorators import login_required
from django.shortcuts import render
from django.views.decorators.cache import never_cache

from bookings.checkout import status_url

from . import authority
from .selectors import bookings_for_user, verified_emails


@never_cache
@login_required(login_url="account_login")
def my_bookings(request):
    """All bookings made with one of the signed-in guest's verified email addresses, each linked to its portal."""
    bookings = list(bookings_for_user(request.user))
    rows = [{"booking": b, "portal_url": status_url(b)} for b in bookings]
    return render(request, "guests/my_bookings.html", {"rows": rows, "emails": verified_emails(request.user)})


class ActivateTOTPView(AllauthActivateTOTPView):
    """allauth's activation page; the session that activates TOTP also counts as having used it.

    Activating asks for the password again (allauth's reauthentication) and a valid code of the new authenticator:
    what a sign-in with the second factor proves. So the back office opens right after activation, without signing
    in again (``guests.authority``)."""

    def form_valid(self, form):
        response = super().form_valid(form)
        totp = Authenticator.objects.get(user=self.request.user, type=Authenticator.Type.TOTP)
        authority.record_mfa(self.request, totp)
        return response


activate_totp = ActivateTOTPView.as_view()
