from django.apps import AppConfig
from django.db.models.signals import post_migrate


class GuestsConfig(AppConfig):
    name = "guests"
    verbose_name = "Guests and accounts"

    def ready(self):
        from core import tenancy

        from . import roles, signals  # noqa: F401  (signals: allauth receivers)
        from .selectors import visible_users

        tenancy.register_choices("guests.user", visible_users)
        tenancy.register_paths({"guests.guest": "bookings__property"})

        post_migrate.connect(roles.sync_roles_after_migrate, dispatch_uid="guests.sync_roles")
