"""The guest's privacy pages, mounted at /privacy/ by config/urls.py (namespace ``privacy``)."""

from django.urls import path, re_path

from . import views

app_name = "privacy"

urlpatterns = [
    re_path(r"^bookings/(?P<reference>[A-Za-z0-9-]{1,40})/my-data\.json$", views.booking_export,
            name="booking_export"),
    path("account/my-data.json", views.account_export, name="account_export"),
    path("account/erase/", views.account_erase, name="account_erase"),
]
