"""`manage.py check --deploy` with the production settings of README "Running in production" is clean.

Run as a subprocess with the environment an operator sets (not the test settings)."""

import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def production_env(**overrides) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items()
           if not key.startswith(("DJANGO_", "STRIPE_", "MEDIA_", "AWS_", "CSP_"))}
    env.update({
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DJANGO_DEBUG": "false",
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
        "DJANGO_ALLOWED_HOSTS": "stayhold.example",
        "STRIPE_SECRET_KEY": "sk_live_" + "x" * 24,
        "STRIPE_PUBLISHABLE_KEY": "pk_live_" + "x" * 24,
        "STRIPE_WEBHOOK_SECRET": "whsec_" + "x" * 32,
        "SITE_URL": "https://stayhold.example",
    })
    env.update(overrides)
    return env


def check_deploy(env) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"], cwd=ROOT,
                          env=env, capture_output=True, text=True, timeout=120)


def test_check_deploy_is_clean_with_production_settings():
    result = check_deploy(production_env())

    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout


@pytest.mark.parametrize(("override", "warning"), [
    ({"DJANGO_HSTS_SECONDS": "0"}, "security.W004"),
    ({"DJANGO_SECURE_SSL_REDIRECT": "false"}, "security.W008"),
    ({"DJANGO_SECURE_COOKIES": "false"}, "security.W012"),
])
def test_turning_a_protection_off_is_reported(override, warning):
    result = check_deploy(production_env(**override))

    assert result.returncode != 0
    assert warning in result.stdout + result.stderr


def test_s3_media_without_a_bucket_is_an_error():
    result = check_deploy(production_env(MEDIA_STORAGE="s3"))

    assert result.returncode != 0
    assert "stayhold.E011" in result.stdout + result.stderr


def test_s3_settings_build_the_bucket_storage():
    code = ("import django; django.setup(); from django.conf import settings; "
            "from django.core.files.storage import default_storage as s; "
            "print(settings.STORAGES['default']['BACKEND'], s.bucket_name, s.endpoint_url, s.url('p/a.jpg'))")
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120,
                            env=production_env(MEDIA_STORAGE="s3", AWS_STORAGE_BUCKET_NAME="stayhold-photos",
                                               AWS_S3_ENDPOINT_URL="https://s3.eu.example.com",
                                               AWS_ACCESS_KEY_ID="AKIAEXAMPLE", AWS_SECRET_ACCESS_KEY="example"))

    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["storages.backends.s3.S3Storage", "stayhold-photos", "https://s3.eu.example.com",
                                     "https://s3.eu.example.com/stayhold-photos/p/a.jpg"]
