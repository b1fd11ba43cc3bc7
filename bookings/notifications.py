"""Emails to guests and owners, decided from outbox events and sent by Celery tasks.

Flow: a booking change writes an outbox event (``bookings.state_machine``); the
``emails`` outbox consumer (:func:`on_booking_event`) reads its payload and
decides which emails it implies (:func:`plan_for_event`). Each decision is a
:class:`~bookings.models.SentEmail` row with a unique ``dedupe_key``, written in
the consumer's transaction together with the outbox delivery record; after
commit, :func:`queue_send` hands the row to the ``send_email`` task, which
renders the templates under ``templates/emails/`` and sends (:func:`send`).

Never twice: a replayed or redelivered event finds its keys taken and decides
nothing new; one-per-booking emails (confirmation, cancellation, …) are keyed
by booking, so two events that both say "confirmed" send one confirmation.

Sending is **at most once** per decided email (:func:`send`), in three steps,
none of them holding a transaction or a lock while the mail server is talked to:

1. *claim*: one committed UPDATE turns the row ``pending`` → ``sending`` (only
   one worker can win it; the others skip it);
2. *send*: the message, with a ``Message-ID`` derived from the row
   (:func:`message_id`: the same on every try), goes to the mail server, every
   socket operation bounded by ``EMAIL_TIMEOUT``;
3. *record*: ``sent`` and ``sent_at``. If the server surely did not take it (no
   connection, or it answered with an error code) the claim is released back to
   ``pending`` and the send is retried (Celery's retry, then the sweeper
   :func:`send_pending`, up to ``MAX_SEND_ATTEMPTS``, then ``failed``).

A send whose outcome is unknown is **not sent again automatically**: it is
marked ``unknown`` and an error is logged, at once when the connection dropped
while the message was in flight (the server may have accepted it), and by the
sweeper for a claim older than ``CLAIM_STALE_AFTER`` that was never recorded
(the worker was killed, the machine died, the database went away). The
booking's admin page shows it for staff to check with the recipient.

Why at most once: the fault to fix was an owner getting the same email twice;
receivers do not reliably collapse duplicates by Message-ID, while a lost
booking email is rare (only that crash window), visible (``unknown``) and
recoverable (the guest portal shows everything; staff can resend the
confirmation). The stable Message-ID still lets a receiving side collapse a
copy should one ever be sent twice.

Guests get emails only for bookings made here (sources ``direct`` and
``owner``): channel guests hear from their platform. Owners hear of every new
booking and every cancellation, whatever the source. Every guest email carries
the magic link to the guest portal.
"""

from __future__ import annotations

import hashlib
import logging
import smtplib
import socket
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.utils import parseaddr

from celery import shared_task
from django.conf import settings
from django.core.mail import EmailMultiAlternatives, get_connection
from django.core.mail.utils import DNS_NAME
from django.db import transaction
from django.db.models import Case, F, Value, When
from django.template.loader import render_to_string
from django.utils import timezone, translation
from django.utils.formats import date_format
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy

from core import outbox
from core.models import OutboxEvent
from properties.display import local_datetime
from properties.policies import policy_snapshot_for
from properties.pricing import local_today

from .ics import booking_calendar
from .models import Booking, BookingStatus, EmailStatus, GuestMessage, PaymentStatus, SentEmail, Source

log = logging.getLogger(__name__)
S = BookingStatus

GUEST_EMAIL_SOURCES = (Source.DIRECT, Source.OWNER)
MAX_SEND_ATTEMPTS = 5
RETRY_AFTER = timedelta(minutes=1)
# A claim still unrecorded after this long belongs to a worker that died: far longer than one send takes
# (a few SMTP round trips, each bounded by EMAIL_TIMEOUT).
CLAIM_STALE_AFTER = timedelta(minutes=5)


class Kind:
    RESERVATION_RECEIVED = "reservation_received"
    CONFIRMATION = "confirmation"
    PAYMENT_FAILED = "payment_failed"
    RESERVATION_EXPIRED = "reservation_expired"
    LATE_PAYMENT_REFUNDED = "late_payment_refunded"
    CANCELLATION = "cancellation"
    PRE_ARRIVAL = "pre_arrival"
    THANK_YOU = "thank_you"
    OWNER_NEW_BOOKING = "owner_new_booking"
    OWNER_CANCELLATION = "owner_cancellation"
    OWNER_MESSAGE = "owner_message"
    MANUAL_PAYMENT_REMINDER = "manual_payment_reminder"
    STAFF_MANUAL_CLAIM = "staff_manual_claim"
    OWNER_SYNC_CONFLICT = "owner_sync_conflict"  # about no booking: everything it says is in SentEmail.data
    OWNER_CHANNEL_PAUSED = "owner_channel_paused"  # the same: a channel connection's updates are paused
    BOOKING_CHANGED = "booking_changed"  # the updated confirmation after a change (dates, guests), with a new .ics
    OWNER_BOOKING_CHANGED = "owner_booking_changed"  # a guest changed their booking
    PAYMENT_REQUEST = "payment_request"  # the balance a change added, with the pay link (payments.changes)
    MESSAGE_TO_GUEST = "message_to_guest"  # an owner's reply or an automatic message (messaging.services)
    # Balances and security deposits (payments.balances, payments.security_deposits): data carries the amount,
    # the currency, the pay link and the deadline.
    BALANCE_PAYMENT_FAILED = "balance_payment_failed"
    BALANCE_REQUEST = "balance_request"
    BALANCE_REMINDER = "balance_reminder"
    OWNER_BALANCE_OVERDUE = "owner_balance_overdue"
    OWNER_SECURITY_DEPOSIT_FAILED = "owner_security_deposit_failed"


# Guest subjects are translated (rendered in the booking's language, see build_message); owner and staff emails are
# English, like the back office.
SUBJECTS: dict[str, str | Promise] = {
    Kind.RESERVATION_RECEIVED: gettext_lazy("Your reservation {ref} at {prop}: complete your payment"),
    Kind.CONFIRMATION: gettext_lazy("Booking confirmed: {prop}, {dates} ({ref})"),
    Kind.PAYMENT_FAILED: gettext_lazy("Your payment for {ref} did not go through"),
    Kind.RESERVATION_EXPIRED: gettext_lazy("Your reservation {ref} has expired"),
    Kind.LATE_PAYMENT_REFUNDED: gettext_lazy("Your payment for {ref} was refunded"),
    Kind.CANCELLATION: gettext_lazy("Booking {ref} cancelled"),
    Kind.PRE_ARRIVAL: gettext_lazy("See you soon at {prop} ({dates})"),
    Kind.THANK_YOU: gettext_lazy("Thank you for staying at {prop}"),
    Kind.MANUAL_PAYMENT_REMINDER: gettext_lazy("Reminder: send your payment for {ref} ({prop})"),
    Kind.OWNER_NEW_BOOKING: "New booking {ref}: {prop}, {dates}",
    Kind.OWNER_CANCELLATION: "Booking {ref} cancelled: {prop}, {dates}",
    Kind.OWNER_MESSAGE: "Message from your guest ({ref}, {prop})",
    Kind.STAFF_MANUAL_CLAIM: "Manual payment to verify: {ref} ({prop})",
    Kind.OWNER_SYNC_CONFLICT: "Calendar conflict at {prop}: a {platform} stay {dates} overlaps {other}",
    Kind.OWNER_CHANNEL_PAUSED: "Updates to {platform} for {prop} are paused: {error}",
    Kind.BOOKING_CHANGED: gettext_lazy("Booking changed: {prop}, {dates} ({ref})"),
    Kind.OWNER_BOOKING_CHANGED: "Booking {ref} changed by the guest: {prop}, {dates}",
    Kind.PAYMENT_REQUEST: gettext_lazy("Payment due for your booking {ref} ({prop})"),
    Kind.MESSAGE_TO_GUEST: gettext_lazy("A message about your stay at {prop} ({ref})"),
    Kind.BALANCE_PAYMENT_FAILED: gettext_lazy("Your balance for {ref} could not be charged: please pay it"),
    Kind.BALANCE_REQUEST: gettext_lazy("Balance due for your stay at {prop} ({ref})"),
    Kind.BALANCE_REMINDER: gettext_lazy("Reminder: the balance for {ref} ({prop}) is due"),
    Kind.OWNER_BALANCE_OVERDUE: "Balance unpaid at the deadline: {ref} ({prop}, {dates})",
    Kind.OWNER_SECURITY_DEPOSIT_FAILED: "Security deposit not placed: {ref} ({prop}, {dates})",
}
OWNER_KINDS = frozenset({Kind.OWNER_NEW_BOOKING, Kind.OWNER_CANCELLATION, Kind.OWNER_MESSAGE, Kind.STAFF_MANUAL_CLAIM,
                         Kind.OWNER_SYNC_CONFLICT, Kind.OWNER_CHANNEL_PAUSED, Kind.OWNER_BOOKING_CHANGED,
                         Kind.OWNER_BALANCE_OVERDUE, Kind.OWNER_SECURITY_DEPOSIT_FAILED})
# Emails that carry the stay's calendar file (the first confirmation, and the updated one after a change).
ICS_KINDS = frozenset({Kind.CONFIRMATION, Kind.BOOKING_CHANGED})
# A booking created in one of these is announced as new: every initial status (state_machine.INITIAL_STATUSES) but
# a hold, which is not a booking yet. The same members as CANCELLABLE_STATUSES by coincidence, not the same rule.
NEW_BOOKING_STATUSES = (S.INQUIRY, S.RESERVED, S.CONFIRMED)


@dataclass(frozen=True)
class Planned:
    kind: str
    to: str
    dedupe_key: str


# --- deciding ------------------------------------------------------------------------------------


def guest_address(booking: Booking) -> str:
    if booking.source not in GUEST_EMAIL_SOURCES or booking.guest is None:
        return ""
    return (booking.guest.email or "").strip()


def owner_address(booking: Booking) -> str:
    return (booking.property.owner.email or "").strip()


def plan_for_event(event: OutboxEvent, booking: Booking) -> list[Planned]:
    """The emails a booking event implies, from its payload (status, from_status, payment_status)."""
    p = event.payload
    status, before, paid = p.get("status"), p.get("from_status"), p.get("payment_status")
    bid = booking.pk
    guest, owner = guest_address(booking), owner_address(booking)
    out: list[tuple[str, str, str]] = []  # (kind, to, key)

    is_new = (event.topic == "booking.created" and status in NEW_BOOKING_STATUSES) or (
        event.topic == "booking.updated" and before == S.HELD and status == S.RESERVED)
    if is_new:
        out.append((Kind.OWNER_NEW_BOOKING, owner, f"{Kind.OWNER_NEW_BOOKING}:{bid}"))
        if status == S.RESERVED:
            out.append((Kind.RESERVATION_RECEIVED, guest, f"{Kind.RESERVATION_RECEIVED}:{bid}"))
    if status == S.CONFIRMED:
        # The transition and every later payment update say "confirmed": keyed per booking, sent once.
        out.append((Kind.CONFIRMATION, guest, f"{Kind.CONFIRMATION}:{bid}"))
    if event.topic == "booking.updated" and before is None and status == S.RESERVED and paid == PaymentStatus.FAILED:
        out.append((Kind.PAYMENT_FAILED, guest, f"{Kind.PAYMENT_FAILED}:{event.pk}"))
    if event.topic == "booking.cancelled" and status == S.EXPIRED and before == S.RESERVED:
        out.append((Kind.RESERVATION_EXPIRED, guest, f"{Kind.RESERVATION_EXPIRED}:{bid}"))
        out.append((Kind.OWNER_CANCELLATION, owner, f"{Kind.OWNER_CANCELLATION}:{bid}"))
    if (event.topic == "booking.updated" and before is None and status == S.EXPIRED
            and paid in (PaymentStatus.REFUNDED, PaymentStatus.PARTIALLY_REFUNDED)):
        out.append((Kind.LATE_PAYMENT_REFUNDED, guest, f"{Kind.LATE_PAYMENT_REFUNDED}:{event.pk}"))
    if event.topic == "booking.cancelled" and status == S.CANCELLED:
        out.append((Kind.CANCELLATION, guest, f"{Kind.CANCELLATION}:{bid}"))
        out.append((Kind.OWNER_CANCELLATION, owner, f"{Kind.OWNER_CANCELLATION}:{bid}"))
    change = p.get("change") if event.topic == "booking.updated" else None
    if change:  # bookings.services.change_booking: one updated confirmation per change (keyed by the event)
        out.append((Kind.BOOKING_CHANGED, guest, f"{Kind.BOOKING_CHANGED}:{event.pk}"))
        if change.get("by_guest"):
            out.append((Kind.OWNER_BOOKING_CHANGED, owner, f"{Kind.OWNER_BOOKING_CHANGED}:{event.pk}"))
    if status == S.CHECKED_OUT and before == S.CHECKED_IN:
        out.append((Kind.THANK_YOU, guest, f"{Kind.THANK_YOU}:{bid}"))
    return [Planned(kind, to, key) for kind, to, key in out if to]


def queue(booking: Booking | None, planned: Planned, *, event_id=None, data: dict | None = None) -> SentEmail | None:
    """Record one decided email (in the caller's transaction) and send it after commit. None if already decided,
    or when written by a backfill (``outbox.backfill``: history notifies nobody)."""
    if outbox.is_backfill():
        return None
    row, created = SentEmail.objects.get_or_create(
        dedupe_key=planned.dedupe_key[:200],
        defaults={"booking": booking, "kind": planned.kind, "to": planned.to, "event_id": event_id,
                  "data": data or {}},
    )
    if not created:
        return None
    transaction.on_commit(lambda: queue_send(row.pk))
    return row


def queue_send(sent_email_id) -> None:
    try:
        send_email.delay(sent_email_id)
    except Exception:  # the broker being down must not fail the caller: the sweeper sends it later
        log.warning("Could not queue email %s; the sweeper will send it", sent_email_id, exc_info=True)


@outbox.consumer("emails", topics=("booking.created", "booking.updated", "booking.cancelled"))
def on_booking_event(event: OutboxEvent) -> None:
    """The outbox consumer: decide and record the emails of one booking event (idempotent)."""
    booking = (Booking.objects.select_related("guest", "property__owner")
               .filter(pk=event.payload.get("booking_id")).first())
    if booking is None:
        return
    for planned in plan_for_event(event, booking):
        queue(booking, planned, event_id=event.pk, data=_change_data(event) if planned.kind in CHANGE_KINDS else None)


CHANGE_KINDS = frozenset({Kind.BOOKING_CHANGED, Kind.OWNER_BOOKING_CHANGED})


def _change_data(event: OutboxEvent) -> dict:
    """What a change email says beyond the booking as it is now: the stay before, and the money of the change."""
    p = event.payload
    return {**p.get("change", {}), "previous_check_in": p.get("previous_check_in", ""),
            "previous_check_out": p.get("previous_check_out", "")}


# kind → function(SentEmail row) → extra template context. Filled by the apps above that decide emails about their
# own rows (messaging: the message an ``owner_message`` or ``message_to_guest`` email carries), in AppConfig.ready.
CONTEXT_PROVIDERS: dict[str, Callable[[SentEmail], dict]] = {}


def register_context(kind: str, provider: Callable[[SentEmail], dict]) -> None:
    CONTEXT_PROVIDERS[kind] = provider


def reminder_candidates(*, at: datetime | None = None):
    """Confirmed bookings (made here, with a guest email, not reminded yet) arriving within
    ``PRE_ARRIVAL_REMINDER_DAYS`` days (property-local, not today) that were confirmed before that
    window opened: a booking made two days before arrival has just had its confirmation."""
    now = at or timezone.now()
    days = settings.PRE_ARRIVAL_REMINDER_DAYS
    utc_today = now.date()
    rows = (Booking.objects.filter(status=S.CONFIRMED, source__in=GUEST_EMAIL_SOURCES,
                                   check_in__gte=utc_today, check_in__lte=utc_today + timedelta(days=days + 1))
            .exclude(guest__isnull=True).exclude(guest__email="")
            .exclude(emails__kind=Kind.PRE_ARRIVAL)
            .select_related("guest", "property__owner").order_by("check_in", "pk"))
    picked = []
    for booking in rows:
        today = local_today(booking.property, now)
        window_opens = booking.check_in - timedelta(days=days)
        confirmed_on = timezone.localtime(booking.confirmed_at or now, booking.property.tz).date()
        if today < booking.check_in <= today + timedelta(days=days) and confirmed_on < window_opens:
            picked.append(booking)
    return picked


def send_pre_arrival_reminders(*, at: datetime | None = None) -> int:
    """The beat job: queue the pre-arrival reminder of every booking due one. Returns how many were queued."""
    count = 0
    for booking in reminder_candidates(at=at):
        with transaction.atomic():
            planned = Planned(Kind.PRE_ARRIVAL, guest_address(booking), f"{Kind.PRE_ARRIVAL}:{booking.pk}")
            if queue(booking, planned) is not None:
                count += 1
    return count


# --- sending ----------------------------------------------------------------------------------------


def absolute(path: str) -> str:
    return f"{settings.SITE_URL}{path}"


def _context(row: SentEmail) -> dict:
    from .links import payment_url, status_url

    booking = Booking.objects.select_related("guest", "property__owner").get(pk=row.booking_id)
    prop = booking.property
    now = timezone.now()
    # The pay link works for a reservation still holding its dates, and for a confirmed stay with a balance left
    # (a deposit paid, or a change raised its price: payments.services.amount_to_pay).
    live = booking.awaits_payment(now) or (booking.status in (S.CONFIRMED, S.CHECKED_IN) and booking.balance_due > 0)
    context = {
        "booking": booking, "prop": prop, "guest": booking.guest, "kind": row.kind, "owner": row.kind in OWNER_KINDS,
        "portal_url": absolute(status_url(booking)),
        "pay_url": absolute(payment_url(booking)) if live else "",
        "policy": booking.cancellation_policy or policy_snapshot_for(prop),
        "site_url": settings.SITE_URL, "reminder_days": settings.PRE_ARRIVAL_REMINDER_DAYS,
        "admin_url": absolute(f"/admin/bookings/booking/{booking.pk}/change/"),
        "balance": booking.balance_due,
        "data": row.data,  # e.g. a manual payment's code, amount and deadline
    }
    provider = CONTEXT_PROVIDERS.get(row.kind)
    if provider is not None:
        context.update(provider(row))
    elif row.kind == Kind.OWNER_MESSAGE:  # decided before messaging existed (bookings.GuestMessage, kept read-only)
        context["message"] = GuestMessage.objects.filter(pk=row.data.get("message_id")).first()
    return context


def email_language(row: SentEmail, booking: Booking | None) -> str:
    """The language an email is written in: the booking's (the one the guest booked in) for the guest's emails,
    the site's default (English) for owners and staff."""
    if booking is None or row.kind in OWNER_KINDS:
        return settings.LANGUAGE_CODE
    return booking.language or settings.LANGUAGE_CODE


def _build_without_booking(row: SentEmail) -> EmailMultiAlternatives:
    """An email about no booking (e.g. a channel calendar conflict): its subject and body come from ``row.data``."""
    with translation.override(email_language(row, None)):
        return _render_without_booking(row)


def _render_without_booking(row: SentEmail) -> EmailMultiAlternatives:
    context = {"kind": row.kind, "owner": row.kind in OWNER_KINDS, "data": row.data, "site_url": settings.SITE_URL}
    message = EmailMultiAlternatives(subject=str(SUBJECTS[row.kind]).format(**row.data),
                                     body=render_to_string(f"emails/{row.kind}.txt", context),
                                     from_email=settings.DEFAULT_FROM_EMAIL, to=[row.to],
                                     headers={"X-Stayhold-Email": row.kind, "Message-ID": message_id(row)})
    message.attach_alternative(render_to_string(f"emails/{row.kind}.html", context), "text/html")
    return message


def build_message(row: SentEmail) -> EmailMultiAlternatives:
    if row.booking_id is None:
        return _build_without_booking(row)
    context = _context(row)
    with translation.override(email_language(row, context["booking"])):
        return _render(row, context)


def _render(row: SentEmail, context: dict) -> EmailMultiAlternatives:
    """Subject, text and HTML in the active language (``build_message`` chose it)."""
    booking, prop = context["booking"], context["prop"]
    if row.data.get("deadline_at"):  # a moment stored with the email: written now, in the email's language
        context["deadline"] = local_datetime(datetime.fromisoformat(row.data["deadline_at"]), prop)
    dates = f"{date_format(booking.check_in, 'd M')} – {date_format(booking.check_out, 'd M Y')}"
    subject = str(SUBJECTS[row.kind]).format(ref=booking.reference, prop=prop.name, dates=dates)
    text = render_to_string(f"emails/{row.kind}.txt", context)
    html = render_to_string(f"emails/{row.kind}.html", context)
    reply_to = []
    if row.kind == Kind.OWNER_MESSAGE and booking.guest and booking.guest.email:
        reply_to = [booking.guest.email]
    elif row.kind not in OWNER_KINDS and prop.owner.email:
        reply_to = [prop.owner.email]
    message = EmailMultiAlternatives(subject=subject, body=text, from_email=settings.DEFAULT_FROM_EMAIL,
                                     to=[row.to], reply_to=reply_to,
                                     headers={"X-Stayhold-Email": row.kind, "X-Stayhold-Booking": booking.reference,
                                              "Message-ID": message_id(row)})
    message.attach_alternative(html, "text/html")
    if row.kind in ICS_KINDS:
        message.attach(f"{booking.reference}.ics", booking_calendar(booking, url=context["portal_url"]),
                       "text/calendar")
    return message


def message_id(row: SentEmail) -> str:
    """The email's ``Message-ID``: derived from its row (its globally unique ``uid`` and a hash of the
    recipient) and the sender's domain, so every try of one decided email carries the same one, and two
    emails never share one (not even across databases: a receiver may drop a message whose id it has seen)."""
    domain = parseaddr(settings.DEFAULT_FROM_EMAIL)[1].rpartition("@")[2] or DNS_NAME.get_fqdn()
    recipient = hashlib.sha256(row.to.strip().lower().encode()).hexdigest()[:12]
    return f"<{row.uid.hex}.{recipient}@{domain}>"


# The server surely did not take the message: it could not be reached, or it answered with an error code
# (sender, recipients or data refused). Anything else once the message is on its way (a timeout, a dropped
# connection) leaves it unknown whether the server accepted it.
NOT_DELIVERED = (smtplib.SMTPResponseException, smtplib.SMTPRecipientsRefused, ConnectionRefusedError,
                 socket.gaierror)


class NotSent(Exception):
    """The mail backend accepted none of the message (and said so without raising)."""


def _in_transaction() -> bool:
    """True inside an ``atomic`` block of the code (a test case's own wrapping transaction does not count)."""
    connection = transaction.get_connection()
    return any(not getattr(block, "_from_testcase", False) for block in connection.atomic_blocks)


def send(sent_email_id) -> bool:
    """Send one decided email at most once (see the module docstring). Returns True when this call sent it.

    Raises what the mail backend raised when the server surely did not take it (the row is ``pending``
    again, or ``failed`` after ``MAX_SEND_ATTEMPTS``), so that Celery retries; returns False when the row is
    not this call's to send (sent, claimed by another worker, unknown, failed) or the outcome is unknown.
    Must run outside any transaction: the claim has to be committed before the mail server is contacted."""
    if _in_transaction():
        raise RuntimeError("notifications.send() must run outside a transaction (the claim must commit first)")
    now = timezone.now()
    claimed = (SentEmail.objects.filter(pk=sent_email_id, status=EmailStatus.PENDING)
               .update(status=EmailStatus.SENDING, claimed_at=now, attempts=F("attempts") + 1))
    if not claimed:
        return False  # sent already, being sent by another worker, unknown, or given up
    in_flight = False
    try:
        row = SentEmail.objects.get(pk=sent_email_id)
        message = build_message(row)
        message.message()  # a message that cannot be rendered fails here, before the server is contacted
        message.connection = get_connection()  # the SMTP backend bounds every socket operation by EMAIL_TIMEOUT
        message.connection.open()
        try:
            in_flight = True
            if not message.send():
                in_flight = False
                raise NotSent("the mail backend sent nothing")
        finally:
            _close_quietly(message.connection)
    except Exception as exc:
        if in_flight and not isinstance(exc, NOT_DELIVERED):
            _unknown(sent_email_id, f"The connection failed while the message was on its way ({exc!r}): "
                                    "the mail server may have accepted it.")
            return False
        _release(sent_email_id, exc)
        raise
    SentEmail.objects.filter(pk=sent_email_id, status__in=(EmailStatus.SENDING, EmailStatus.UNKNOWN)).update(
        status=EmailStatus.SENT, sent_at=timezone.now(), last_error="")
    return True


# Queued by :func:`queue_send` after commit. Defined here, beside what it runs, so that this module never imports
# ``bookings.tasks`` (which imports it); the name is the one queued messages carry.
@shared_task(name="bookings.tasks.send_email", acks_late=True, autoretry_for=(Exception,), retry_backoff=True,
             max_retries=5)
def send_email(sent_email_id: int) -> bool:
    return send(sent_email_id)


def _close_quietly(connection) -> None:
    try:
        connection.close()
    except Exception:  # the message is sent or not by now; a failed QUIT changes nothing
        log.warning("Closing the mail connection failed", exc_info=True)


def _release(sent_email_id, exc: Exception) -> None:
    """The server did not take it: back to ``pending`` for a retry, or ``failed`` once out of attempts."""
    SentEmail.objects.filter(pk=sent_email_id, status=EmailStatus.SENDING).update(
        status=Case(When(attempts__gte=MAX_SEND_ATTEMPTS, then=Value(EmailStatus.FAILED)),
                    default=Value(EmailStatus.PENDING)),
        last_error=repr(exc)[:2000])


def _unknown(sent_email_id, why: str) -> None:
    """Flag a claim whose outcome is unknown: not sent again automatically; staff check with the recipient."""
    SentEmail.objects.filter(pk=sent_email_id, status=EmailStatus.SENDING).update(
        status=EmailStatus.UNKNOWN, last_error=f"{why} {UNKNOWN_ADVICE}")
    log.error("Email %s: delivery unknown, not sent again automatically. %s", sent_email_id, why)


UNKNOWN_ADVICE = "Not sent again automatically (at most once): check with the recipient and resend if needed."


def flag_unconfirmed(*, at: datetime | None = None) -> int:
    """Claims older than ``CLAIM_STALE_AFTER`` that were never recorded (the worker died between claiming and
    recording) become ``unknown``. Returns how many."""
    cutoff = (at or timezone.now()) - CLAIM_STALE_AFTER
    ids = list(SentEmail.objects.filter(status=EmailStatus.SENDING, claimed_at__lte=cutoff)
               .values_list("pk", flat=True))
    for pk in ids:
        _unknown(pk, "The worker stopped after claiming this email and before recording the mail server's answer.")
    return len(ids)


def send_pending(*, at: datetime | None = None, limit: int = 200) -> int:
    """The sweeper: flag stale claims (:func:`flag_unconfirmed`), then send emails decided but still pending
    after a minute (the broker was down, the server refused or could not be reached). Returns how many it sent."""
    now = at or timezone.now()
    flag_unconfirmed(at=now)
    ids = list(SentEmail.objects.filter(status=EmailStatus.PENDING, created_at__lte=now - RETRY_AFTER)
               .order_by("created_at").values_list("pk", flat=True)[:limit])
    sent = 0
    for pk in ids:
        try:
            sent += send(pk)
        except Exception:
            log.exception("Email %s could not be sent", pk)
    return sent
