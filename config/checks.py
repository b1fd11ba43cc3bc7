"""System checks that refuse an unsafe production configuration."""

from django.conf import settings
from django.core.checks import Error, Tags, register


@register(Tags.security, deploy=True)
def secret_key_is_not_the_dev_default(app_configs, **kwargs):
    if not settings.DEBUG and settings.SECRET_KEY == settings.DEV_SECRET_KEY:
        return [Error("DJANGO_SECRET_KEY is the development default.",
                      hint="Set DJANGO_SECRET_KEY to a long random value in production.", id="stayhold.E001")]
    return []


@register(Tags.security)
def trusted_proxies_are_addresses(app_configs, **kwargs):
    """A bad TRUSTED_PROXIES entry is refused at start (``migrate`` and ``check`` run the checks)."""
    from django.core.exceptions import ImproperlyConfigured

    from .client_address import trusted_proxies

    try:
        networks, _unix = trusted_proxies()
    except ImproperlyConfigured as exc:
        return [Error(str(exc), hint="List IP addresses or CIDR networks, e.g. 127.0.0.1,10.0.0.0/8.",
                      id="stayhold.E020")]
    if any(network.prefixlen == 0 for network in networks):
        return [Error("TRUSTED_PROXIES trusts every address, so any client can choose its X-Forwarded-For.",
                      hint="Name only the proxies in front of the app.", id="stayhold.E021")]
    return []
