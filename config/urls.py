from django.contrib import admin
from django.urls import include, path
from django.views.i18n import JavaScriptCatalog
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from config import health
from config import views as site_views
from config.media import media_urlpatterns
from config.metrics import metrics_view
from guests import views as guest_views
from storefront import portal_views

handler403 = "config.views.permission_denied"  # the admin's layout under /admin/, the site's elsewhere
# The error pages name the request's correlation id as the reference to quote (docs/logging.md).
handler400 = "config.views.bad_request"
handler404 = "config.views.page_not_found"
handler500 = "config.views.server_error"

urlpatterns = [
    path("favicon.ico", site_views.favicon, name="favicon"),
    # Operations (docs/operations.md): container health checks and the Prometheus scrape (token or network)
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("metrics", metrics_view, name="metrics"),
    path("admin/", admin.site.urls),
    path("api/v1/", include("api.urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    # Swagger UI with its script and styles as files (the Content-Security-Policy allows nothing inline)
    path("api/docs/", SpectacularSwaggerSplitView.as_view(url_name="api-schema", template_name="api/swagger_ui.html"),
         name="api-docs"),
    # allauth's TOTP activation, which also marks the session as MFA-authenticated (guests.authority)
    path("accounts/2fa/totp/activate/", guest_views.activate_totp, name="mfa_activate_totp"),
    path("accounts/", include("allauth.urls")),  # optional guest accounts: sign-up, login, email verification
    path("account/bookings/", portal_views.my_bookings, name="my-bookings"),
    path("privacy/", include("privacy.urls")),  # the guest's data: download (JSON) and erasure (docs/privacy.md)
    path("i18n/", include("django.conf.urls.i18n")),  # set_language: the header's language switch (POST, a cookie)
    # The guest scripts' strings (static/js/quote.js, pay.js) in the page's language: locale/*/djangojs.po
    path("jsi18n/", JavaScriptCatalog.as_view(), name="javascript-catalog"),
    path("payments/", include("payments.urls")),  # the payment page, its JSON endpoints and the Stripe webhook
    path("ical/", include("channels.urls")),  # iCal export feeds for the channels (no session, no CSRF cookie)
    path("channels/webhooks/", include("channels.webhooks")),  # platform webhooks of API connections (no session)
    path("", include("storefront.urls")),  # the guest pages: search, property page, /book/, /bookings/
]
# Uploaded photos, in production too (config.media): on the local disk the app serves them itself. First, so that
# no page route can shadow MEDIA_URL.
urlpatterns = media_urlpatterns() + urlpatterns
