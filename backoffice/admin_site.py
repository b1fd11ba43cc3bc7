"""The Stayhold admin site: Django's admin plus the back-office pages.

Installed through :class:`config.apps.StayholdAdminConfig` (``default_site``), so
every ``@admin.register`` lands here and ``admin.site`` is this site.

Back-office pages live under the admin's URL space and behind its login and
permission checks (``admin_view``):

* ``/admin/`` — the owner dashboard (``backoffice.dashboard``)
* ``/admin/calendar/`` — the multi-property timeline (``backoffice.timeline``)
* ``/admin/reports/`` — occupancy, ADR, RevPAR, revenue (``backoffice.reports``)
* ``/admin/operations/`` — outbox, channel sync, stuck payments, task failures; superusers only
  (``backoffice.operations_view``, docs/operations.md)

Accounts (see ``guests.roles`` for the roles):

* There is one login form, allauth's (``/accounts/login/``): the admin's own
  login page only redirects there, so every sign-in is throttled, needs a
  verified address and asks for the second factor when the user has one.
* Every admin page (the back-office pages and the CSV export included) asks
  ``guests.authority`` whether the session may use staff authority: a session
  that owes its second factor (superusers: ``MFA_REQUIRED_FOR_SUPERUSERS``;
  all back-office accounts: ``MFA_REQUIRED_FOR_STAFF``) is sent to the TOTP
  activation page (no authenticator yet) or to the page that confirms the
  code (an authenticator this session has not used).
* Infrastructure models (outbox, idempotency keys, processed webhooks, Celery
  beat schedules, groups, allauth's addresses and authenticators) are
  superuser-only, whichever app registers them (``register``).
"""

from __future__ import annotations

from functools import update_wrapper
from urllib.parse import urlencode

from django.contrib import admin
from django.contrib.auth import REDIRECT_FIELD_NAME
from django.db.models.base import ModelBase
from django.http import HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.http import url_has_allowed_host_and_scheme

from guests import authority

# Whole apps, and single models, that only superusers see in the admin.
SUPERUSER_ONLY_APPS = {"core", "auth", "django_celery_beat", "account", "mfa", "sessions", "sites", "socialaccount",
                       "usersessions"}
SUPERUSER_ONLY_MODELS = {"bookings.idempotencykey",
                         "payments.webhookevent"}


def is_superuser_only(model) -> bool:
    return model._meta.app_label in SUPERUSER_ONLY_APPS or model._meta.label_lower in SUPERUSER_ONLY_MODELS


class SuperuserOnlyAdminMixin:
    """Infrastructure rows: invisible to owners and staff, whatever permissions a group grants."""

    def has_module_permission(self, request):
        return request.user.is_active and request.user.is_superuser and super().has_module_permission(request)

    def has_view_permission(self, request, obj=None):
        return request.user.is_active and request.user.is_superuser and super().has_view_permission(request, obj)

    def has_add_permission(self, request, *args, **kwargs):
        return request.user.is_active and request.user.is_superuser and super().has_add_permission(
            request, *args, **kwargs)

    def has_change_permission(self, request, obj=None):
        return request.user.is_active and request.user.is_superuser and super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        return request.user.is_active and request.user.is_superuser and super().has_delete_permission(request, obj)


class StayholdAdminSite(admin.AdminSite):
    site_header = "Stayhold back office"
    site_title = "Stayhold"
    index_title = "Dashboard"

    def register(self, model_or_iterable, admin_class=None, **options):
        models = [model_or_iterable] if isinstance(model_or_iterable, ModelBase) else model_or_iterable
        for model in models:
            model_admin = admin_class or admin.ModelAdmin
            if is_superuser_only(model) and not issubclass(model_admin, SuperuserOnlyAdminMixin):
                model_admin = type(model_admin.__name__, (SuperuserOnlyAdminMixin, model_admin),
                                   {"__module__": model_admin.__module__})
            super().register(model, model_admin, **options)

    def admin_view(self, view, cacheable=False):
        """Django's login/permission wrapper, plus staff authority (``guests.authority``): a session that owes its
        second factor goes to the TOTP activation or confirmation page (signing out stays possible)."""
        inner = super().admin_view(view, cacheable)

        def guarded(request, *args, **kwargs):
            if request.path != reverse("admin:logout", current_app=self.name):
                redirect = authority.mfa_redirect(request)
                if redirect is not None:
                    return redirect
            return inner(request, *args, **kwargs)

        return update_wrapper(guarded, inner)

    def login(self, request, extra_context=None):
        """No second login form: send the browser to allauth's (throttled, verified, MFA) login."""
        next_url = request.GET.get(REDIRECT_FIELD_NAME) or request.POST.get(REDIRECT_FIELD_NAME) or ""
        if not url_has_allowed_host_and_scheme(next_url, allowed_hosts={request.get_host()},
                                               require_https=request.is_secure()):
            next_url = ""
        next_url = next_url or reverse("admin:index", current_app=self.name)
        if request.user.is_authenticated:
            if self.has_permission(request):
                return HttpResponseRedirect(next_url)
            # Signed in, but not a back-office account: say so (redirecting to the login would loop).
            context = {**self.each_context(request), "title": "No access to the back office"}
            return TemplateResponse(request, "account/not_back_office.html", context, status=403)
        return HttpResponseRedirect(f"{reverse('account_login')}?{urlencode({REDIRECT_FIELD_NAME: next_url})}")

    def get_urls(self):
        from . import operations_view, reports, timeline

        return [
            path("operations/", self.admin_view(operations_view.operations_view), name="operations"),
            path("calendar/", self.admin_view(timeline.calendar_view), name="calendar"),
            path("reports/", self.admin_view(reports.reports_view), name="reports"),
            path("reports.csv", self.admin_view(reports.reports_csv_view), name="reports-csv"),
            *super().get_urls(),
        ]

    def index(self, request, extra_context=None):
        from . import dashboard

        extra_context = {**(extra_context or {}), **dashboard.dashboard_context(request)}
        return super().index(request, extra_context)
