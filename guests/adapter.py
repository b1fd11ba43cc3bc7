"""allauth adapter: where a login lands."""

from allauth.account.adapter import DefaultAccountAdapter
from django.urls import reverse


class AccountAdapter(DefaultAccountAdapter):
    def get_login_redirect_url(self, request):
        """Back-office users (owners, staff, superusers) land on the admin dashboard; guests on their bookings.

        A ``next`` parameter (e.g. from the admin's login redirect) still wins: allauth checks it first."""
        if request.user.is_authenticated and request.user.is_staff:
            return reverse("admin:index")
        return super().get_login_redirect_url(request)
