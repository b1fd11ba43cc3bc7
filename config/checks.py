"""System checks that refuse an unsafe production configuration (and an unusable media storage)."""

from django.conf import settings
from django.core.checks import Error, Tags, register
from django.core.checks import Warning as CheckWarning


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

    from core.client_address import trusted_proxies

    try:
        networks, _unix = trusted_proxies()
    except ImproperlyConfigured as exc:
        return [Error(str(exc), hint="List IP addresses or CIDR networks, e.g. 127.0.0.1,10.0.0.0/8.",
                      id="stayhold.E020")]
    if any(network.prefixlen == 0 for network in networks):
        return [Error("TRUSTED_PROXIES trusts every address, so any client can choose its X-Forwarded-For.",
                      hint="Name only the proxies in front of the app.", id="stayhold.E021")]
    return []


@register(Tags.security, deploy=True)
def stripe_is_configured(app_configs, **kwargs):
    """Stripe in production (``payments/stripe_mode.py``): real keys, no published secret, card payment off only on
    purpose. With ``DEBUG`` on the local fake Stripe is the default and nothing is reported."""
    from payments.stripe_mode import LIVE, LOCAL, LOCAL_WEBHOOK_SECRET, OFF

    mode = settings.STRIPE_MODE
    keys = {"STRIPE_SECRET_KEY": settings.STRIPE_SECRET_KEY, "STRIPE_PUBLISHABLE_KEY": settings.STRIPE_PUBLISHABLE_KEY,
            "STRIPE_WEBHOOK_SECRET": settings.STRIPE_WEBHOOK_SECRET}
    hint = ("Set STRIPE_SECRET_KEY, STRIPE_PUBLISHABLE_KEY and STRIPE_WEBHOOK_SECRET (the signing secret of the "
            "endpoint /payments/stripe/webhook in the Stripe dashboard), or STRIPE_MODE=off to take only the "
            "owners' manual payments.")
    errors = []
    if mode == LIVE and (missing := [name for name, value in keys.items() if not value]):
        errors.append(Error(f"STRIPE_MODE is live but {', '.join(missing)} {'is' if len(missing) == 1 else 'are'} "
                            "not set: card payment or its webhook cannot work.", hint=hint, id="stayhold.E101"))
    if settings.DEBUG:
        return errors
    if mode == OFF and not settings.STRIPE_MODE_EXPLICIT:
        errors.append(Error("Stripe is not configured: card payment is off and the webhook refuses every event.",
                            hint=hint, id="stayhold.E102"))
    if mode != OFF and settings.STRIPE_WEBHOOK_SECRET == LOCAL_WEBHOOK_SECRET:
        errors.append(Error(f"STRIPE_WEBHOOK_SECRET is {LOCAL_WEBHOOK_SECRET}, published in this repository: anyone "
                            "can sign webhook events that confirm bookings.", hint=hint, id="stayhold.E103"))
    if mode == LOCAL:
        errors.append(CheckWarning("STRIPE_MODE is local with DEBUG off: cards go to the local fake Stripe and no real "
                              "money moves.", hint=hint, id="stayhold.W101"))
    return errors


@register(Tags.security)
def media_storage_is_usable(app_configs, **kwargs):
    """Uploads need a known storage; S3 needs its bucket and boto3; private files must stay out of public media."""
    from pathlib import Path

    errors = []
    if settings.MEDIA_STORAGE not in ("local", "s3"):
        errors.append(Error(f"MEDIA_STORAGE={settings.MEDIA_STORAGE!r} is not one of 'local', 's3'.",
                            id="stayhold.E010"))
    elif settings.MEDIA_STORAGE == "s3":
        if not settings.STORAGES["default"].get("OPTIONS", {}).get("bucket_name"):
            errors.append(Error("MEDIA_STORAGE=s3 needs AWS_STORAGE_BUCKET_NAME.", id="stayhold.E011"))
        try:
            import boto3  # noqa: F401
        except ImportError:
            errors.append(Error("MEDIA_STORAGE=s3 needs boto3.", hint="pip install -e '.[s3]'", id="stayhold.E011"))
    else:
        public, private = Path(settings.MEDIA_ROOT).resolve(), Path(settings.PRIVATE_MEDIA_ROOT).resolve()
        if private.is_relative_to(public) or public.is_relative_to(private):
            errors.append(Error("PRIVATE_MEDIA_ROOT and MEDIA_ROOT overlap: private files (payment proofs) must "
                                "never be under the publicly served MEDIA_ROOT.", id="stayhold.E012"))
    return errors


@register(Tags.security)
def metrics_networks_are_networks(app_configs, **kwargs):
    """A bad METRICS_ALLOWED_NETWORKS entry is refused at start, not turned into a 500 on every scrape
    (docs/operations.md)."""
    import ipaddress

    errors = []
    for entry in settings.METRICS_ALLOWED_NETWORKS:
        try:
            network = ipaddress.ip_network(entry, strict=False)
        except ValueError:
            errors.append(Error(f"METRICS_ALLOWED_NETWORKS: {entry!r} is not an IP address or network.",
                                hint="e.g. 10.0.0.0/8,192.168.1.5", id="stayhold.E171"))
            continue
        if network.prefixlen == 0:
            errors.append(Error("METRICS_ALLOWED_NETWORKS lets every address scrape /metrics.",
                                hint="Name the Prometheus servers' addresses, or use METRICS_TOKEN.",
                                id="stayhold.E172"))
    return errors
