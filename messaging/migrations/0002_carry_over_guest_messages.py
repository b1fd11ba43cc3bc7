"""Carry every ``bookings.GuestMessage`` (the portal's messages before messaging existed) into its booking's thread.

Each becomes a guest message with the same body, sender and time, marked read by the owner side as of its own
time (the owner was emailed and saw it in the admin then: an upgrade must not flood the inbox with old unread
messages), and remembers its origin in ``legacy_guest_message_id`` (so this is idempotent and traceable). The old
table stays, read-only and no longer written, until a later release drops it (docs/messaging.md)."""

from django.db import migrations


def carry_over(apps, schema_editor):
    GuestMessage = apps.get_model("bookings", "GuestMessage")
    Thread = apps.get_model("messaging", "Thread")
    Message = apps.get_model("messaging", "Message")
    done = set(Message.objects.exclude(legacy_guest_message_id=None).values_list("legacy_guest_message_id", flat=True))
    threads = {t.booking_id: t for t in Thread.objects.all()}
    for old in GuestMessage.objects.select_related("booking").order_by("created_at", "pk").iterator():
        if old.pk in done:
            continue
        thread = threads.get(old.booking_id)
        if thread is None:
            thread = threads[old.booking_id] = Thread.objects.create(
                booking_id=old.booking_id, property_id=old.booking.property_id, created_at=old.created_at,
                last_message_at=old.created_at)
        Message.objects.create(thread=thread, direction="guest", author_label=old.sender, body=old.body,
                               created_at=old.created_at, owner_read_at=old.created_at,
                               legacy_guest_message_id=old.pk)
        if old.created_at > thread.last_message_at:
            thread.last_message_at = old.created_at
            thread.save(update_fields=["last_message_at"])


def take_back(apps, schema_editor):
    """Reversing removes only the carried-over copies (the originals were never touched)."""
    Message = apps.get_model("messaging", "Message")
    Message.objects.exclude(legacy_guest_message_id=None).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("messaging", "0001_initial"),
        ("bookings", "0005_portal_and_emails"),
    ]
    operations = [migrations.RunPython(carry_over, take_back)]
