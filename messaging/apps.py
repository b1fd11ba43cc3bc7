from django.apps import AppConfig


class MessagingConfig(AppConfig):
    """Owner–guest messaging: one thread per booking, the back-office inbox, templates with placeholders and the
    scheduled automatic messages (docs/messaging.md). Above ``channels``, below ``reviews`` and ``privacy``."""

    name = "messaging"
    verbose_name = "Messages"

    def ready(self):
        from bookings import notifications
        from core import tenancy

        from . import emails, services

        tenancy.register_paths({
            "messaging.thread": "property",
            "messaging.message": "thread__property",
            "messaging.messagesettings": "property",
        })
        tenancy.register_choices("messaging.messagetemplate", services.templates_for)
        # The emails this app decides are built by bookings.notifications (which cannot import us): we give it the
        # message they carry.
        notifications.register_context(notifications.Kind.OWNER_MESSAGE, emails.message_context)
        notifications.register_context(notifications.Kind.MESSAGE_TO_GUEST, emails.message_context)
