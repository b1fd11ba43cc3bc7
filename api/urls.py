"""REST API v1, mounted at /api/v1/. Paths have no trailing slash; anything else under
/api/v1/ answers a JSON 404."""

from django.urls import path, re_path

from . import views

app_name = "api"

urlpatterns = [
    path("properties", views.PropertyListView.as_view(), name="property-list"),
    path("properties/<int:pk>", views.PropertyDetailView.as_view(), name="property-detail"),
    path("properties/<int:pk>/reviews", views.PropertyReviewsView.as_view(), name="property-reviews"),
    path("search", views.SearchView.as_view(), name="search"),
    path("availability", views.AvailabilityView.as_view(), name="availability"),
    path("quote", views.QuoteView.as_view(), name="quote"),
    path("holds", views.HoldCreateView.as_view(), name="hold-create"),
    path("holds/<int:pk>", views.HoldDetailView.as_view(), name="hold-detail"),
    path("bookings", views.BookingCreateView.as_view(), name="booking-create"),
    re_path(r"^bookings/(?P<reference>[A-Za-z0-9-]{1,40})$", views.BookingChangeView.as_view(),
            name="booking-detail"),
    re_path(r"^bookings/(?P<reference>[A-Za-z0-9-]{1,40})/status$", views.BookingStatusView.as_view(),
            name="booking-status"),
    re_path(r"", views.NotFoundView.as_view(), name="not-found"),
]
