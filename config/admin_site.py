"""The Stayhold admin site: Django's admin plus the back-office pages.

Installed through :class:`config.apps.StayholdAdminConfig` (``default_site``), so
every ``@admin.register`` lands here and ``admin.site`` is this site.

Back-office pages live under the admin's URL space and behind its login and
permission checks (``admin_view``):

* ``/admin/`` — the owner dashboard (``bookings.backoffice.dashboard``)
* ``/admin/calendar/`` — the multi-property timeline (``bookings.backoffice.timeline``)
* ``/admin/reports/`` — occupancy, ADR, RevPAR, revenue (``bookings.backoffice.reports``)
"""

from __future__ import annotations

from django.contrib import admin
from django.urls import path


class StayholdAdminSite(admin.AdminSite):
    site_header = "Stayhold back office"
    site_title = "Stayhold"
    index_title = "Dashboard"

    def get_urls(self):
        from bookings.backoffice import reports, timeline

        return [
            path("calendar/", self.admin_view(timeline.calendar_view), name="calendar"),
            path("reports/", self.admin_view(reports.reports_view), name="reports"),
            path("reports.csv", self.admin_view(reports.reports_csv_view), name="reports-csv"),
            *super().get_urls(),
        ]

    def index(self, request, extra_context=None):
        from bookings.backoffice import dashboard

        extra_context = {**(extra_context or {}), **dashboard.dashboard_context(request)}
        return super().index(request, extra_context)
