"""allauth adapter: where a login lands, and who the client is for allauth's rate limits."""

from allauth.account.adapter import DefaultAccountAdapter
from django.urls import reverse

from core.client_address import client_ip


class AccountAdapter(DefaultAccountAdapter):
    def get_login_redirect_url(self, request):
        """Back-office users (owners, staff, superusers) land on the admin dashboard; guests on their bookings.

        A ``next`` parameter (e.g. from the admin's login redirect) still wins: allauth checks it first."""
        if request.user.is_authenticated and request.user.is_staff:
            return reverse("admin:index")
        return super().get_login_redirect_url(request)

    def get_client_ip(self, request):
        """The project's one client-address function (``X-Forwarded-For`` only from ``TRUSTED_PROXIES``), for the
        login limits' per-IP counts, instead of allauth's own ``ALLAUTH_TRUSTED_PROXY_COUNT`` reading. An unknown
        address is one shared bucket, as in the other limiters (allauth itself would answer 403)."""
        return client_ip(request) or "unknown"
