from django.contrib.admin.apps import AdminConfig


class StayholdAdminConfig(AdminConfig):
    """Django's admin with the back office's site (:class:`backoffice.admin_site.StayholdAdminSite`) as
    ``admin.site``."""

    default_site = "backoffice.admin_site.StayholdAdminSite"

    def ready(self):
        super().ready()
        from . import (
            celery_metrics,  # noqa: F401  (Celery signal handlers: task metrics, heartbeat; docs/operations.md)
            checks,  # noqa: F401  (registers the deploy checks; config is the one app that sees every layer)
        )
