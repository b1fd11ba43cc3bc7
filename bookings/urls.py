"""Guest pages of the booking flow (mounted at the site root by config/urls.py).

The payment step is ``payments:pay`` (/payments/<reference>/pay/), see payments/views.py.
"""

from django.urls import path, re_path

from . import portal_views, views

app_name = "bookings"

REFERENCE = r"(?P<reference>[A-Za-z0-9-]{1,40})"

urlpatterns = [
    path("book/<slug:slug>/", views.details, name="details"),
    re_path(rf"^bookings/{REFERENCE}/$", views.booking_status, name="status"),
    re_path(rf"^bookings/{REFERENCE}/calendar\.ics$", views.booking_calendar_file, name="calendar"),
    # the guest portal's actions (bookings/portal_views.py), each behind the booking's magic link
    re_path(rf"^bookings/{REFERENCE}/cancel/?$", portal_views.cancel, name="cancel"),
    re_path(rf"^bookings/{REFERENCE}/receipt/?$", portal_views.receipt, name="receipt"),
    re_path(rf"^bookings/{REFERENCE}/messages/?$", portal_views.message, name="message"),
]
