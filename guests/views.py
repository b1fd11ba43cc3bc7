"""allauth's TOTP activation page with one addition (``activate_totp``). allauth does sign-up, login and email
verification under /accounts/; the guest's list of their bookings is a guest page (``storefront.portal_views``)."""

from allauth.mfa.models import Authenticator
from allauth.mfa.totp.views import ActivateTOTPView as AllauthActivateTOTPView

from . import authority


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
