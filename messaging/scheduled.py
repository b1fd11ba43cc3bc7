"""Scheduled automatic messages: check-in instructions, the mid-stay check, the review request.

Each property switches each one on or off in its ``MessageSettings`` and sets its timing; the beat job
(``messaging.tasks.send_scheduled_messages``, every 15 minutes) sends what is due:

* **check-in instructions** ``check_in_days_before`` days before arrival (until the arrival day, so a stay booked
  later than that gets them at once);
* **mid-stay check** on the middle day of stays of 3 nights or more (``check_in + nights // 2``), until the last
  night;
* **review request** ``review_days_after`` days after check-out, for up to ``REVIEW_REQUEST_WINDOW`` after that
  (switching it on does not write to every guest of past years).

Days are the property's local dates, and a message due today goes out from ``send_hour`` (local time). Only for
stays that are confirmed, checked in or checked out, made here (direct or owner bookings: channel guests hear from
their platform) with a guest email. Exactly once per booking and kind: ``Message.dedupe_key`` (unique) under the
thread's row lock, and the email's own key (``bookings.notifications``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from bookings.models import Booking, BookingStatus
from bookings.notifications import GUEST_EMAIL_SOURCES

from . import placeholders, services
from .models import AutoKind, MessageSettings, MessageTemplate

ELIGIBLE_STATUSES = (BookingStatus.CONFIRMED, BookingStatus.CHECKED_IN, BookingStatus.CHECKED_OUT)
MID_STAY_MIN_NIGHTS = 3
REVIEW_REQUEST_WINDOW = timedelta(days=14)
MAX_DAYS = 30  # the settings' day fields are at most this (MessageSettings.DAYS)


@dataclass(frozen=True)
class Due:
    booking: Booking
    auto_kind: str
    settings: MessageSettings


def default_body(auto_kind: str, ms: MessageSettings) -> str:
    """The built-in text of an automatic message (when the property picked no template), with placeholders."""
    if auto_kind == AutoKind.CHECK_IN:
        lines = [_("Hello {{guest_name}},"),
                 _("Your stay at {{property_name}} starts on {{check_in}}; check-in is from {{check_in_time}}.")]
        if ms.door_code:
            lines.append(_("The door code is {{door_code}}."))
        if ms.wifi_name or ms.wifi_password:
            lines.append(_("Wi-Fi: {{wifi_name}}, password {{wifi_password}}."))
        lines.append(_("Reply here if you have any question. See you soon!"))
        return "\n".join(lines)
    if auto_kind == AutoKind.MID_STAY:
        return _("Hello {{guest_name}}, we hope you are enjoying {{property_name}}. Is everything all right? "
                 "Reply here if you need anything.")
    return _("Thank you for staying at {{property_name}}, {{guest_name}}. We would love to hear how it went: "
             "{{review_link}}")


def _candidates(auto_kind: str, enabled_field: str, today: date) -> QuerySet[Booking]:
    return (Booking.objects.filter(status__in=ELIGIBLE_STATUSES, source__in=GUEST_EMAIL_SOURCES,
                                   guest__isnull=False, **{f"property__message_settings__{enabled_field}": True})
            .exclude(guest__email="")
            .exclude(message_thread__messages__auto_kind=auto_kind)
            .select_related("guest", "property__owner", "property__message_settings")
            .order_by("check_in", "pk"))


def _reached(day: date, today: date, local_now: datetime, send_hour: int) -> bool:
    """The message of ``day`` may go: its day has passed, or it is today and ``send_hour`` has come."""
    return today > day or (today == day and local_now.hour >= send_hour)


def due_messages(at: datetime | None = None) -> list[Due]:
    """What the job would send now (reads only). A handful of queries: one per kind."""
    now = at or timezone.now()
    utc_today = now.date()
    out: list[Due] = []
    rows = _candidates(AutoKind.CHECK_IN, "check_in_enabled", utc_today).filter(
        check_in__gte=utc_today - timedelta(days=1), check_in__lte=utc_today + timedelta(days=MAX_DAYS + 1))
    for booking in rows:
        ms = booking.property.message_settings
        local_now = timezone.localtime(now, booking.property.tz)
        send_on = booking.check_in - timedelta(days=ms.check_in_days_before)
        if local_now.date() <= booking.check_in and _reached(send_on, local_now.date(), local_now, ms.send_hour):
            out.append(Due(booking, AutoKind.CHECK_IN, ms))
    rows = _candidates(AutoKind.MID_STAY, "mid_stay_enabled", utc_today).filter(
        check_in__lte=utc_today + timedelta(days=1), check_out__gte=utc_today - timedelta(days=1))
    for booking in rows:
        ms = booking.property.message_settings
        if booking.nights < MID_STAY_MIN_NIGHTS:
            continue
        local_now = timezone.localtime(now, booking.property.tz)
        middle = booking.check_in + timedelta(days=booking.nights // 2)
        if local_now.date() < booking.check_out and _reached(middle, local_now.date(), local_now, ms.send_hour):
            out.append(Due(booking, AutoKind.MID_STAY, ms))
    rows = _candidates(AutoKind.REVIEW_REQUEST, "review_request_enabled", utc_today).filter(
        check_out__lte=utc_today + timedelta(days=1),
        check_out__gte=utc_today - timedelta(days=MAX_DAYS + REVIEW_REQUEST_WINDOW.days + 1))
    for booking in rows:
        ms = booking.property.message_settings
        local_now = timezone.localtime(now, booking.property.tz)
        send_on = booking.check_out + timedelta(days=ms.review_days_after)
        if (local_now.date() <= send_on + REVIEW_REQUEST_WINDOW
                and _reached(send_on, local_now.date(), local_now, ms.send_hour)):
            out.append(Due(booking, AutoKind.REVIEW_REQUEST, ms))
    return out


TEMPLATE_FIELDS: dict[str, str] = {AutoKind.CHECK_IN: "check_in_template_id", AutoKind.MID_STAY: "mid_stay_template_id",
                   AutoKind.REVIEW_REQUEST: "review_template_id"}


def send_due_messages(at: datetime | None = None) -> int:
    """The beat job: send every automatic message due now, once each. Returns how many were sent."""
    now = at or timezone.now()
    due = due_messages(now)
    template_ids = {getattr(d.settings, TEMPLATE_FIELDS[d.auto_kind]) for d in due} - {None}
    templates = MessageTemplate.objects.in_bulk(template_ids) if template_ids else {}
    sent = 0
    for item in due:
        template = templates.get(getattr(item.settings, TEMPLATE_FIELDS[item.auto_kind]))
        source = template.body if template else default_body(item.auto_kind, item.settings)
        body = placeholders.render(source, item.booking, item.settings)
        if services.send_automatic(booking=item.booking, auto_kind=item.auto_kind, body=body, template=template,
                                   at=now) is not None:
            sent += 1
    return sent
