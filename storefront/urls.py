"""The guest pages, mounted at the site root by config/urls.py.

Two URL namespaces, the names the templates and emails have always used: ``properties:`` (search, the property
page: ``property_views``; the landing links of outside sites: ``landing_views``) and ``bookings:`` (the booking
details form, the booking's page, its .ics file and the guest portal's actions: ``booking_views``,
``portal_views``). The payment step is ``payments:pay``
(/payments/<reference>/pay/), see payments/views.py; the guest's list of bookings (``my-bookings``) is routed by
config/urls.py.
"""

from django.urls import include, path, re_path

from . import booking_views, group_views, landing_views, portal_views, property_views, review_views

REFERENCE = r"(?P<reference>[A-Za-z0-9-]{1,40})"

booking_patterns = [
    path("book/<slug:slug>/", booking_views.details, name="details"),
    re_path(rf"^bookings/{REFERENCE}/$", booking_views.booking_status, name="status"),
    re_path(rf"^bookings/{REFERENCE}/calendar\.ics$", booking_views.booking_calendar_file, name="calendar"),
    # the guest portal's actions (storefront/portal_views.py), each behind the booking's magic link
    re_path(rf"^bookings/{REFERENCE}/cancel/?$", portal_views.cancel, name="cancel"),
    re_path(rf"^bookings/{REFERENCE}/receipt/?$", portal_views.receipt, name="receipt"),
    re_path(rf"^bookings/{REFERENCE}/change/?$", portal_views.change, name="change"),
    re_path(rf"^bookings/{REFERENCE}/messages/?$", portal_views.message, name="message"),
    # the review of a checked-out stay (storefront/review_views.py), behind the review link (reviews.links)
    re_path(rf"^bookings/{REFERENCE}/review/?$", review_views.review, name="review"),
    re_path(rf"^bookings/{REFERENCE}/messages/(?P<message_id>[0-9]+)/attachment$", portal_views.message_attachment,
            name="message-attachment"),
    # group bookings ("book all", storefront/group_views.py): the basket and its details page, the group's page
    path("group/", group_views.basket, name="group-basket"),
    path("group/add/<slug:slug>/", group_views.add, name="group-add"),
    path("group/remove/", group_views.remove, name="group-remove"),
    re_path(rf"^groups/{REFERENCE}/$", group_views.group_page, name="group"),
    re_path(rf"^groups/{REFERENCE}/cancel/?$", group_views.cancel_all, name="group-cancel"),
]

property_patterns = [
    path("", property_views.home, name="home"),
    path("properties/<slug:slug>/", property_views.property_detail, name="detail"),
    # Google's free booking links land here (storefront/landing_views.py), then on the property page with the stay.
    re_path(r"^go/google/(?P<property_id>[A-Za-z0-9_-]{1,100})/?$", landing_views.google, name="google_landing"),
]

urlpatterns = [
    path("", include((booking_patterns, "bookings"))),
    path("", include((property_patterns, "properties"))),
]
