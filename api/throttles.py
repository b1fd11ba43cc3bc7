"""Throttling for the endpoints that create holds and bookings.

They are open to anonymous guests, so each client (the user id when signed in,
else its address, ``core.client_address.client_key``) may create at most
``API_THROTTLE_CREATE`` (e.g. ``60/min``) holds and bookings together. The rate
is read from settings on every request, so tests and deployments can change it
without a restart of the module.

DRF's own ``get_ident`` trusts any ``X-Forwarded-For`` header (unless
``NUM_PROXIES`` is set), so a client could pick a new bucket per request: every
throttle here names the client with the project's one client-address function,
which reads that header only from ``TRUSTED_PROXIES``.
"""

from django.conf import settings
from rest_framework.throttling import SimpleRateThrottle

from core.client_address import client_key


class CreateRateThrottle(SimpleRateThrottle):
    scope = "create"

    def get_rate(self):
        return settings.API_THROTTLE_CREATE

    def get_ident(self, request):
        return client_key(request)

    def get_cache_key(self, request, view):
        user = request.user
        ident = f"user-{user.pk}" if user and user.is_authenticated else self.get_ident(request)
        return self.cache_format % {"scope": self.scope, "ident": ident}
