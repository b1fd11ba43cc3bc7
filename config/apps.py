from django.contrib.admin.apps import AdminConfig


class StayholdAdminConfig(AdminConfig):
    """Django's admin with :class:`config.admin_site.StayholdAdminSite` as ``admin.site``."""

    default_site = "config.admin_site.StayholdAdminSite"
