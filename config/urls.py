from django.conf import settings
from django.conf.urls.static import static
from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from guests import views as guest_views

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/v1/", include("bookings.api.urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    # allauth's TOTP activation, which also marks the session as MFA-authenticated (guests.authority)
    path("accounts/2fa/totp/activate/", guest_views.activate_totp, name="mfa_activate_totp"),
    path("accounts/", include("allauth.urls")),  # optional guest accounts: sign-up, login, email verification
    path("account/bookings/", guest_views.my_bookings, name="my-bookings"),
    path("payments/", include("payments.urls")),  # the payment page, its JSON endpoints and the Stripe webhook
    path("ical/", include("channels.urls")),  # iCal export feeds for the channels (no session, no CSRF cookie)
    path("", include("bookings.urls")),  # guest pages of the booking flow: /book/, /bookings/
    path("", include("properties.urls")),
]
if settings.DEBUG:
    urlpatterns += static(settings.MEDIA_URL, document_root=settings.MEDIA_ROOT)
