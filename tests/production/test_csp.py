"""The Content-Security-Policy header (django-csp + config.security): present, strict for scripts, with the Stripe
and media origins derived from the settings. The browser tests (tests/browser) check the pages work under it."""

import re
from pathlib import Path

import pytest
from django.urls import reverse

pytestmark = pytest.mark.django_db

TEMPLATES = Path(__file__).resolve().parents[2] / "templates"


def directives(response) -> dict[str, list[str]]:
    header = response["Content-Security-Policy"]
    return {name: values for name, *values in (part.split() for part in header.split(";"))}


def test_pages_send_a_strict_policy(client, admin_client, prop):
    for response in [client.get("/"), client.get(reverse("properties:detail", args=[prop.slug])),
                     client.get("/accounts/login/"), admin_client.get("/admin/"), client.get("/api/docs/")]:
        policy = directives(response)
        assert policy["default-src"] == ["'self'"]
        assert "'unsafe-inline'" not in policy["script-src"] and "'unsafe-eval'" not in policy["script-src"]
        assert "'unsafe-inline'" not in policy["style-src"]
        assert policy["object-src"] == ["'none'"] and policy["frame-ancestors"] == ["'none'"]
        assert policy["base-uri"] == ["'self'"] and policy["form-action"] == ["'self'"]


def test_real_stripe_origins_come_from_stripe_js_url(client, settings):
    settings.STRIPE_JS_URL = "https://js.stripe.com/v3/"

    policy = directives(client.get("/"))

    assert policy["script-src"] == ["'self'", "https://js.stripe.com", "https://*.js.stripe.com"]
    assert policy["frame-src"] == ["'self'", "https://js.stripe.com", "https://*.js.stripe.com",
                                   "https://hooks.stripe.com"]
    assert policy["connect-src"] == ["'self'", "https://api.stripe.com"]


def test_localstripe_origin_in_development(client, settings):
    settings.STRIPE_JS_URL = "http://127.0.0.1:8420/js.stripe.com/v3/"

    policy = directives(client.get("/"))

    assert policy["script-src"] == ["'self'", "http://127.0.0.1:8420"]
    assert policy["connect-src"] == ["'self'", "http://127.0.0.1:8420"]
    assert "https://js.stripe.com" not in str(policy)


def test_photos_in_a_bucket_are_allowed_as_images(client, settings):
    settings.STORAGES = {**settings.STORAGES, "default": {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {"bucket_name": "photos", "custom_domain": "cdn.example.net", "querystring_auth": False,
                    "access_key": "AKIAEXAMPLE", "secret_key": "example"}}}

    from django.core.files.storage import default_storage

    assert default_storage.url("properties/1/a.jpg") == "https://cdn.example.net/properties/1/a.jpg"
    assert directives(client.get("/"))["img-src"] == ["'self'", "data:", "https://cdn.example.net"]


def test_report_only_mode(client, settings):
    policy = settings.CONTENT_SECURITY_POLICY
    settings.CONTENT_SECURITY_POLICY_REPORT_ONLY, settings.CONTENT_SECURITY_POLICY = policy, None

    response = client.get("/")

    assert "Content-Security-Policy" not in response
    assert "script-src 'self'" in response["Content-Security-Policy-Report-Only"]


def test_no_template_has_inline_script_style_or_event_handler():
    """The policy allows no inline <script>, <style> or on…= handler (emails are not web pages: skipped)."""
    offenders = []
    for path in TEMPLATES.rglob("*.html"):
        if "emails" in path.parts:
            continue
        html = path.read_text()
        for tag in re.findall(r"<script\b[^>]*>", html):
            if "src=" not in tag and 'type="application/json"' not in tag:
                offenders.append(f"{path.relative_to(TEMPLATES)}: {tag}")
        if re.search(r"<style\b", html):
            offenders.append(f"{path.relative_to(TEMPLATES)}: <style>")
        offenders += [f"{path.relative_to(TEMPLATES)}: {m}" for m in re.findall(r"\s(on[a-z]+)\s*=", html)]
    assert offenders == []
