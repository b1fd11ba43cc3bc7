"""System checks that refuse an unsafe production configuration."""

from django.conf import settings
from django.core.checks import Error, Tags, register


@register(Tags.security, deploy=True)
def secret_key_is_not_the_dev_default(app_configs, **kwargs):
    if not settings.DEBUG and settings.SECRET_KEY == settings.DEV_SECRET_KEY:
        return [Error("DJANGO_SECRET_KEY is the development default.",
                      hint="Set DJANGO_SECRET_KEY to a long random value in production.", id="stayhold.E001")]
    return []
