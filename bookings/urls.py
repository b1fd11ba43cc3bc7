"""Guest pages of the booking flow (mounted at the site root by config/urls.py)."""

from django.urls import path, re_path

from . import views

app_name = "bookings"

REFERENCE = r"(?P<reference>[A-Za-z0-9-]{1,40})"

urlpatterns = [
    path("book/<slug:slug>/", views.details, name="details"),
    re_path(rf"^bookings/{REFERENCE}/$", views.booking_status, name="status"),
    re_path(rf"^bookings/{REFERENCE}/calendar\.ics$", views.booking_calendar_file, name="calendar"),
]



def _payments_serves_pay_page() -> bool:
    try:
        from payments import urls as payment_urls
    except ImportError:
        return False
    return any(getattr(pattern, "name", None) == "pay" for pattern in payment_urls.urlpatterns)


# The payment step belongs to ``payments``; this placeholder serves /pay/<reference>/ only while
# payments/urls.py defines no page named "pay" (bookings.checkout.payment_url prefers "payments:pay").
if not _payments_serves_pay_page():
    urlpatterns.append(re_path(rf"^pay/{REFERENCE}/$", views.pay, name="pay"))
