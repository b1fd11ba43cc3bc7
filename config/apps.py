from django.contrib.admin.apps import AdminConfig


class StayholdAdminConfig(AdminConfig):
    """Django's admin with :class:`config.admin_site.StayholdAdminSite` as ``admin.site``."""

    default_site = "config.admin_site.StayholdAdminSite"

    def ready(self):
        super().ready()
        from . import checks  # noqa: F401  (registers the deploy checks; config is the one app that sees every layer)
