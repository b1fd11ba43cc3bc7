"""System checks that refuse an unsafe production configuration (and an unusable media storage)."""

from django.conf import settings
from django.core.checks import Error, Tags, register


@register(Tags.security, deploy=True)
def secret_key_is_not_the_dev_default(app_configs, **kwargs):
    if not settings.DEBUG and settings.SECRET_KEY == settings.DEV_SECRET_KEY:
        return [Error("DJANGO_SECRET_KEY is the development default.",
                      hint="Set DJANGO_SECRET_KEY to a long random value in production.", id="stayhold.E001")]
    return []


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
