"""The writes of messaging: a guest's message, an owner's reply, an automatic message, marking read.

Every message lands in its booking's thread (created on the first one) and, in the same transaction, decides its
email through ``bookings.notifications.queue`` (deduplicated by key, sent after commit): the owner hears of a
guest's message (``owner_message``), the guest of an owner's reply or an automatic message
(``message_to_guest``, with the link back to the portal thread). Attachments follow the one upload rule
(``core.uploads``): validated before the transaction opens, stored privately under a random name.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.files.base import ContentFile
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from bookings.models import Booking
from bookings.notifications import Kind, Planned, guest_address, owner_address, queue
from core.errors import DomainError
from core.uploads import validate_upload
from properties.models import Property

from . import placeholders
from .models import Direction, Message, MessageSettings, MessageTemplate, Thread

MAX_MESSAGE_LENGTH = 4000


class MessageNotAllowed(DomainError):
    code = "message_not_allowed"
    http_status = 400
    default_detail = gettext_lazy("This message cannot be sent.")


class NotYourThread(DomainError):
    code = "not_your_thread"
    http_status = 404
    default_detail = gettext_lazy("There is no such conversation.")


def _clean_body(body: str, *, allow_empty: bool = False) -> str:
    body = (body or "").strip()
    if not body and not allow_empty:
        raise MessageNotAllowed(_("Please write a message."))
    if len(body) > MAX_MESSAGE_LENGTH:
        raise MessageNotAllowed(_("Please keep the message under %(n)s characters.") % {"n": MAX_MESSAGE_LENGTH})
    return body


def _attachment(upload) -> tuple[bytes, str, str, str] | None:
    """The upload checked by the one upload rule (``core.uploads``): bytes, content type, extension, shown name."""
    if upload is None:
        return None
    data, content_type, ext = validate_upload(upload, max_bytes=settings.MESSAGE_ATTACHMENT_MAX_BYTES,
                                              allow_pdf=True)
    name = (getattr(upload, "name", "") or f"attachment.{ext}").rsplit("/", 1)[-1][:120]
    return data, content_type, ext, name


def _locked_thread(booking: Booking, now: datetime) -> Thread:
    """The booking's thread, created if needed, locked (serialises the guest's pace check and the read marks)."""
    Thread.objects.get_or_create(booking=booking, defaults={"property_id": booking.property_id, "created_at": now,
                                                            "last_message_at": now})
    return Thread.objects.select_for_update().get(booking=booking)


def _create(thread: Thread, *, attachment, **fields: Any) -> Message:
    message = Message(thread=thread, **fields)
    if attachment is not None:
        data, content_type, ext, name = attachment
        message.attachment.save(f"{uuid.uuid4().hex}.{ext}", ContentFile(data), save=False)
        message.attachment_content_type, message.attachment_name = content_type, name
    message.save()
    Thread.objects.filter(pk=thread.pk).update(last_message_at=message.created_at)
    return message


def post_from_guest(*, booking_id, body: str, attachment=None, at: datetime | None = None) -> Message:
    """A message from the guest (the portal): stored in the thread, the owner emailed (once per message).
    At most ``GUEST_MESSAGES_PER_HOUR`` per booking."""
    now = at or timezone.now()
    body = _clean_body(body, allow_empty=attachment is not None)
    checked = _attachment(attachment)
    with transaction.atomic():
        booking = Booking.objects.select_related("guest", "property__owner").get(pk=booking_id)
        thread = _locked_thread(booking, now)
        recent = thread.messages.filter(direction=Direction.GUEST, created_at__gt=now - timedelta(hours=1)).count()
        if recent >= settings.GUEST_MESSAGES_PER_HOUR:
            raise MessageNotAllowed(_("You have sent several messages in the last hour; please wait a little."))
        sender = (booking.guest.email or booking.guest.name) if booking.guest else "Guest"
        message = _create(thread, attachment=checked, direction=Direction.GUEST, author_label=sender, body=body,
                          created_at=now)
        # "msg" keeps these keys apart from the owner_message emails of the old bookings.GuestMessage ids.
        queue(booking, Planned(Kind.OWNER_MESSAGE, owner_address(booking), f"{Kind.OWNER_MESSAGE}:msg{message.pk}"),
              data={"message_id": message.pk})
    return message


def _email_guest(booking: Booking, message: Message) -> None:
    queue(booking, Planned(Kind.MESSAGE_TO_GUEST, guest_address(booking), f"{Kind.MESSAGE_TO_GUEST}:{message.pk}"),
          data={"message_id": message.pk})


def may_manage(user, property_id) -> bool:
    return Property.objects.managed_by(user).filter(pk=property_id).exists()


def reply_from_owner(*, booking_id, user, body: str, attachment=None, template_id=None,
                     at: datetime | None = None) -> Message:
    """An owner's or staff member's reply: stored, the guest's messages marked read, the guest emailed with the
    link back to the portal (bookings made here with a guest email; a channel guest reads it in the portal only).
    ``user`` must manage the booking's property (else :class:`NotYourThread`, as for a missing one)."""
    now = at or timezone.now()
    body = _clean_body(body, allow_empty=attachment is not None)
    checked = _attachment(attachment)
    with transaction.atomic():
        booking = Booking.objects.select_related("guest", "property__owner").filter(pk=booking_id).first()
        if booking is None or not may_manage(user, booking.property_id):
            raise NotYourThread()
        template = None
        if template_id:
            template = templates_for(user).filter(pk=template_id).first()
        thread = _locked_thread(booking, now)
        label = getattr(user, "full_name", "") or ""
        message = _create(thread, attachment=checked, direction=Direction.OWNER, author_user=user,
                          author_label=label or user.email, body=body, created_at=now, owner_read_at=now,
                          template=template)
        thread.messages.filter(direction=Direction.GUEST, owner_read_at__isnull=True).update(owner_read_at=now)
        _email_guest(booking, message)
    return message


def send_automatic(*, booking: Booking, auto_kind: str, body: str, template: MessageTemplate | None = None,
                   at: datetime | None = None) -> Message | None:
    """An automatic message, once per booking and kind (``dedupe_key``): stored in the thread and emailed to the
    guest. None when it was sent already (another run, or a replay)."""
    now = at or timezone.now()
    key = f"{auto_kind}:{booking.pk}"
    with transaction.atomic():
        thread = _locked_thread(booking, now)
        if Message.objects.filter(dedupe_key=key).exists():
            return None
        try:
            with transaction.atomic():
                message = _create(thread, attachment=None, direction=Direction.SYSTEM, body=body, created_at=now,
                                  owner_read_at=now, auto_kind=auto_kind, dedupe_key=key, template=template)
        except IntegrityError:  # pragma: no cover (the thread lock serialises the runs)
            return None
        _email_guest(booking, message)
    return message


def mark_read_by_owner(*, thread_id, at: datetime | None = None) -> int:
    """The owner side opened the thread: its guest messages are read. Returns how many were unread."""
    return Message.objects.filter(thread_id=thread_id, direction=Direction.GUEST,
                                  owner_read_at__isnull=True).update(owner_read_at=at or timezone.now())


def mark_read_by_guest(*, booking_id, at: datetime | None = None) -> int:
    """The guest opened the portal page: the owner's and automatic messages are read."""
    return (Message.objects.filter(thread__booking_id=booking_id, guest_read_at__isnull=True)
            .exclude(direction=Direction.GUEST).update(guest_read_at=at or timezone.now()))


def templates_for(user):
    """The templates ``user`` may use: an owner's own; a staff member's employer's; all for a superuser."""
    if user.is_superuser:
        return MessageTemplate.objects.all()
    owners = [user.pk] + ([user.employer_id] if getattr(user, "employer_id", None) else [])
    return MessageTemplate.objects.filter(owner_id__in=owners)


def render_template(*, template: MessageTemplate, booking: Booking) -> str:
    """The template's text for this booking, placeholders filled (door code and Wi-Fi from the property)."""
    settings_row = MessageSettings.objects.filter(property_id=booking.property_id).first()
    return placeholders.render(template.body, booking, settings_row)


# --- privacy: a guest's erasure (privacy.sections) -------------------------------------------------------------------

ERASED_TEXT = "[erased]"


def erase_guest_messages(*, booking_ids, pseudonym: str, secrets: list[str]) -> dict:
    """Remove an erased guest's personal data from the threads of their bookings (``privacy.services.erase_guest``,
    in its transaction). The guest's own messages keep their date and direction, lose their text and attachment, and
    are signed ``pseudonym``; the owner's and automatic messages keep their text with every quote of ``secrets``
    (the guest's name, address, phone) replaced by ``pseudonym``: what the owner wrote is the owner's record, the
    guest's name in it is not. Returns counts for the erasure's audit row."""
    rows = Message.objects.filter(thread__booking_id__in=list(booking_ids))
    guest_rows = list(rows.filter(direction=Direction.GUEST))
    files = 0
    for message in guest_rows:
        if message.attachment:
            message.attachment.delete(save=False)  # private storage: gone with the text (no URL ever pointed at it)
            files += 1
    erased = rows.filter(direction=Direction.GUEST).update(
        body=ERASED_TEXT, author_label=pseudonym, attachment="", attachment_name="", attachment_content_type="")
    redacted = 0
    for message in rows.exclude(direction=Direction.GUEST):
        body = message.body
        for secret in dict.fromkeys(s for s in secrets if s):
            body = body.replace(secret, pseudonym)
        if body != message.body:
            Message.objects.filter(pk=message.pk).update(body=body)
            redacted += 1
    return {"guest_messages": erased, "attachments_deleted": files, "owner_messages_redacted": redacted}
