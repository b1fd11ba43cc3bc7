"""Public channel endpoints: the iCal export feeds (``/ical/<token>.ics``; ``/ical/<token>`` works too)."""

from django.urls import re_path

from . import views

app_name = "channels"

# Tokens are URL-safe base64 (secrets.token_urlsafe). Anything else under /ical/ cannot be one and gets the same
# plain 404 as an unknown token (not the site's 404 page, which would render templates and maybe touch the session).
urlpatterns = [
    re_path(r"^(?P<token>[A-Za-z0-9_-]{16,128})\.ics$", views.feed, name="feed"),
    re_path(r"^(?P<token>[A-Za-z0-9_-]{16,128})$", views.feed, name="feed-bare"),
    re_path(r"^", views.not_found),
]
