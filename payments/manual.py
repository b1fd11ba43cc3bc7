"""Manual payments (Cash App, Zelle, Venmo, bank transfer): the only code that writes them.

Lifecycle: the guest chooses one of the owner's active methods on the payment page
(:func:`choose_method`: a ``pending`` :class:`ManualPayment` with a unique code, and
the reservation held ``MANUAL_PAYMENT_TIMEOUT_HOURS``); says "I have sent it"
(:func:`claim`: ``claimed``, staff are emailed); staff verify it in the admin queue
(:func:`verify`: ``confirmed`` — the booking is confirmed and paid through
``bookings.services`` — or ``rejected`` / ``disputed`` / ``flagged``; an amount that
does not match is ``flagged``, never confirmed). Beat jobs remind the guest at half
the timeout (:func:`send_reminders`) and expire unclaimed payments with their
booking at the timeout (:func:`expire_overdue`). Even without the job the booking's
own ``expires_at`` frees the dates at read time.

Every status change goes through :func:`apply_manual_transition` (one table) and
writes an immutable :class:`ManualPaymentEvent`. Locks: the property row (the
booking mutex), then the manual payment row — so two staff confirming at once
serialize and the second finds it confirmed already.
"""

from __future__ import annotations

import secrets
import uuid
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation

from django.conf import settings
from django.core.files.base import ContentFile
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from bookings import services as booking_services
from bookings.models import Booking, BookingStatus
from bookings.notifications import Kind, Planned, absolute, guest_address, queue
from bookings.tokens import booking_access_token
from core import metrics, uploads
from core.actor import Actor, ActorType
from core.errors import DomainError
from core.money import round_money
from properties.display import local_datetime

from . import schedule
from .errors import PaymentError, PaymentNotAllowed
from .models import (
    CODE_ALPHABET,
    HostPaymentMethod,
    ManualMethodKind,
    ManualPayment,
    ManualPaymentEvent,
    Payment,
    PaymentPurpose,
    Provider,
)
from .models import ManualStatus as M
from .models import PaymentStatus as P
from .services import BALANCE_PAYABLE_STATUSES, amount_to_pay, next_attempt, sync_booking_totals
from .state_machine import record_payment_event

S = BookingStatus

TRANSITIONS: dict[str, frozenset[str]] = {
    M.PENDING: frozenset({M.CLAIMED, M.EXPIRED, M.CONFIRMED, M.REJECTED, M.FLAGGED}),
    M.CLAIMED: frozenset({M.CONFIRMED, M.REJECTED, M.DISPUTED, M.FLAGGED, M.EXPIRED}),
    M.FLAGGED: frozenset({M.CONFIRMED, M.REJECTED, M.DISPUTED}),
    M.DISPUTED: frozenset({M.CONFIRMED, M.REJECTED, M.FLAGGED}),
    M.CONFIRMED: frozenset(),
    M.REJECTED: frozenset(),
    M.EXPIRED: frozenset(),
}
OPEN = (M.PENDING, M.CLAIMED, M.FLAGGED, M.DISPUTED)
STAFF_ACTIONS = {"confirm": M.CONFIRMED, "reject": M.REJECTED, "dispute": M.DISPUTED, "flag": M.FLAGGED}
PROOF_TYPES = uploads.IMAGE_TYPES  # PIL format → content type, extension


class ManualPaymentError(PaymentError):
    code = "manual_payment_error"
    http_status = 409
    default_detail = "This manual payment cannot be changed now."


class InvalidManualTransition(ManualPaymentError):
    code = "invalid_manual_transition"

    def __init__(self, from_status: str, to_status: str):
        super().__init__(f"A manual payment cannot go from '{from_status}' to '{to_status}'.")
        self.from_status, self.to_status = from_status, to_status


class InvalidProof(ManualPaymentError):
    code = "invalid_proof"
    http_status = 400


def can_transition(from_status: str, to_status: str) -> bool:
    return to_status in TRANSITIONS.get(from_status, frozenset())


def _record(mp: ManualPayment, from_status: str, to_status: str, *, user=None, label: str = "", ip=None,
            note: str = "", at=None) -> ManualPaymentEvent:
    if user is not None and getattr(user, "pk", None):
        actor = Actor(ActorType.USER, user=user, label=label or user.email)
    elif "@" in label:
        actor = Actor.guest(label)  # the guest who chose or claimed the payment
    else:
        actor = Actor.system(label)
    return ManualPaymentEvent.objects.create(
        payment=mp, from_status=from_status, to_status=to_status, ip=ip or None, reason=note,
        created_at=at or timezone.now(), **ManualPaymentEvent.actor_fields(actor))


def apply_manual_transition(mp: ManualPayment, to_status: str, *, user=None, label: str = "", ip=None,
                            note: str = "", at=None, extra_fields: tuple[str, ...] = ()) -> ManualPayment:
    """Move ``mp`` to ``to_status`` (caller holds its row lock, inside a transaction) and audit it."""
    from_status = mp.status
    if not can_transition(from_status, to_status):
        raise InvalidManualTransition(from_status, to_status)
    mp.status = to_status
    mp.save(update_fields=["status", "updated_at", *extra_fields])
    _record(mp, from_status, to_status, user=user, label=label, ip=ip, note=note, at=at)
    if to_status in COUNTED_OUTCOMES:  # payments_total (docs/operations.md), once committed
        transaction.on_commit(lambda: _count_outcome(mp, to_status))
    return mp


# The outcomes of a manual payment that payments_total counts, under the method's kind.
COUNTED_OUTCOMES = frozenset({M.CONFIRMED, M.REJECTED, M.EXPIRED})


def _count_outcome(mp: ManualPayment, outcome: str) -> None:
    # After the commit: reading the method's kind (when not loaded with the payment) is no query of the service.
    kind = (mp.method.kind if ManualPayment.method.is_cached(mp)
            else HostPaymentMethod.objects.filter(pk=mp.method_id).values_list("kind", flat=True).first())
    metrics.PAYMENTS.labels(method=metrics.bounded(kind, ManualMethodKind.values), outcome=outcome).inc()


def _lock(mp_id) -> ManualPayment:
    property_id = (ManualPayment.objects.filter(pk=mp_id).values_list("booking__property_id", flat=True).first())
    if property_id is None:
        raise ManualPaymentError("This manual payment does not exist.")
    booking_services.lock_property(property_id)
    return ManualPayment.objects.select_for_update(of=("self",)).select_related("booking", "method").get(pk=mp_id)


def new_code() -> str:
    return "".join(secrets.choice(CODE_ALPHABET) for _i in range(8))


def methods_for(booking: Booking):
    return HostPaymentMethod.objects.filter(owner_id=booking.property.owner_id, active=True)


def instructions_url(mp: ManualPayment) -> str:
    url = reverse("payments:manual", args=[mp.booking.reference, mp.code])
    return f"{url}?token={booking_access_token(mp.booking)}"


def is_overdue(mp: ManualPayment, now: datetime | None = None) -> bool:
    return mp.deadline <= (now or timezone.now())


# --- guest ---------------------------------------------------------------------------------------------


def choose_method(*, booking_id, method_id, actor: Actor, at: datetime | None = None) -> ManualPayment:
    """The guest picks a manual method: a pending payment for the booking's balance, the hold extended.

    Choosing again replaces an earlier pending (unclaimed) choice; a claimed one blocks a new choice."""
    now = at or timezone.now()
    with transaction.atomic():
        booking = Booking.objects.select_related("property").get(pk=booking_id)
        booking_services.lock_property(booking.property_id)
        booking.refresh_from_db()
        method = methods_for(booking).filter(pk=method_id).first()
        if method is None:
            raise PaymentNotAllowed(_("This payment method is not available."))
        due = amount_to_pay(booking, now)
        open_rows = list(ManualPayment.objects.select_for_update().filter(booking=booking, status__in=OPEN))
        if any(r.status != M.PENDING for r in open_rows):
            raise PaymentNotAllowed(_("You already told us a payment is on its way; we are checking it."))
        for row in open_rows:
            if row.method_id == method.pk:
                return row
            apply_manual_transition(row, M.EXPIRED, label=actor.label, note="Replaced by another method.", at=now)
        deadline = now + timedelta(hours=settings.MANUAL_PAYMENT_TIMEOUT_HOURS)
        if booking.status == S.RESERVED:  # a confirmed booking's balance holds no dates
            schedule.ensure_plan(booking, now)  # the deposit (or total) due now, as sold
            booking_services.extend_reservation(booking_id=booking.pk, until=deadline, actor=actor,
                                                reason=f"Manual payment by {method.get_kind_display()} chosen.",
                                                at=now)
        for _attempt in range(5):
            try:
                with transaction.atomic():
                    mp = ManualPayment.objects.create(
                        booking=booking, method=method, amount=due, currency=booking.currency, code=new_code(),
                        deadline=deadline, created_at=now)
                break
            except IntegrityError:  # a code collision: draw again
                continue
        else:  # pragma: no cover
            raise ManualPaymentError("Could not allocate a confirmation code.")
        _record(mp, "", M.PENDING, label=actor.label, note=f"{method.get_kind_display()} chosen.", at=now)
        return mp


def validate_proof(upload) -> tuple[bytes, str, str]:
    """The proof's bytes, content type and extension: a PNG, JPEG or WebP image by content, at most the size limit
    (the one upload rule, ``core.uploads``)."""
    try:
        return uploads.validate_upload(upload, max_bytes=settings.MANUAL_PAYMENT_PROOF_MAX_BYTES)
    except uploads.InvalidUpload as exc:
        raise InvalidProof(exc.detail) from None


def claim(*, mp_id, guest_reference: str, proof=None, actor: Actor, ip=None,
          at: datetime | None = None) -> ManualPayment:
    """The guest says the money was sent: ``pending → claimed``, staff emailed after commit. Once only."""
    now = at or timezone.now()
    proof_data = validate_proof(proof) if proof is not None else None
    with transaction.atomic():
        mp = _lock(mp_id)
        booking = mp.booking
        if mp.status == M.CLAIMED:
            raise ManualPaymentError(_("You already told us this payment was sent; we are checking it."))
        if mp.status != M.PENDING:
            raise ManualPaymentError(_("This payment is %(status)s.") % {"status": mp.get_status_display().lower()})
        if is_overdue(mp, now) or booking.status not in (S.RESERVED, *BALANCE_PAYABLE_STATUSES):
            raise ManualPaymentError(_("The time to send this payment has run out."))
        mp.guest_reference = guest_reference.strip()[:200]
        mp.claimed_at = now
        fields = ["guest_reference", "claimed_at"]
        if proof_data is not None:
            data, content_type, ext = proof_data
            mp.proof.save(f"{uuid.uuid4().hex}.{ext}", ContentFile(data), save=False)
            mp.proof_content_type = content_type
            fields += ["proof", "proof_content_type"]
        apply_manual_transition(mp, M.CLAIMED, label=actor.label, ip=ip, at=now, extra_fields=tuple(fields),
                                note=f"Guest reference: {mp.guest_reference or '—'}"
                                     + ("; proof uploaded." if proof_data else "."))
        _notify_staff(mp)
    return mp


def _notify_staff(mp: ManualPayment) -> None:
    booking = mp.booking
    prop = booking.property
    recipients = {prop.owner.email, *prop.staff.values_list("email", flat=True)}
    data = {"code": mp.code, "amount": str(mp.amount), "currency": mp.currency,
            "method": mp.method.get_kind_display(), "guest_reference": mp.guest_reference,
            "queue_url": absolute(reverse("admin:payments_manualpayment_queue"))}
    for email in sorted(e.strip() for e in recipients if e and e.strip()):
        queue(booking, Planned(Kind.STAFF_MANUAL_CLAIM, email, f"{Kind.STAFF_MANUAL_CLAIM}:{mp.pk}:{email}"),
              data=data)


# --- staff ---------------------------------------------------------------------------------------------


def parse_amount(value) -> Decimal | None:
    try:
        return Decimal(str(value).strip().replace(",", "")) if str(value).strip() else None
    except InvalidOperation:
        return None


def verify(*, mp_id, action: str, user, note: str = "", amount_received: Decimal | None = None, ip=None,
           at: datetime | None = None) -> ManualPayment:
    """A staff decision. ``confirm`` needs the amount received: equal → confirmed (booking confirmed and paid),
    different → flagged. ``reject`` / ``dispute`` / ``flag`` need a note. Audited with user and IP."""
    now = at or timezone.now()
    if action not in STAFF_ACTIONS:
        raise ManualPaymentError("Unknown action.")
    if action != "confirm" and not note.strip():
        raise ManualPaymentError("Please write a note for this decision.")
    label = getattr(user, "email", "") or "staff"
    with transaction.atomic():
        mp = _lock(mp_id)
        target = STAFF_ACTIONS[action]
        if not can_transition(mp.status, target):
            raise InvalidManualTransition(mp.status, target)
        mp.verified_by, mp.verified_at, mp.verified_from_ip = user, now, ip
        extra: tuple[str, ...] = ("verified_by", "verified_at", "verified_from_ip")
        if action != "confirm":
            return apply_manual_transition(mp, target, user=user, ip=ip, note=note, at=now, extra_fields=extra)
        if amount_received is None:
            raise ManualPaymentError("Enter the amount you received.")
        mp.amount_received = round_money(amount_received, mp.currency)
        extra += ("amount_received",)
        if mp.amount_received != mp.amount:
            return apply_manual_transition(
                mp, M.FLAGGED, user=user, ip=ip, at=now, extra_fields=extra,
                note=f"Amount mismatch: received {mp.amount_received}, expected {mp.amount} {mp.currency}. {note}")
        booking = Booking.objects.get(pk=mp.booking_id)
        actor = Actor.for_user(user)
        reason = f"Manual payment {mp.code} ({mp.method.get_kind_display()}) verified by {label}."
        if booking.status in BALANCE_PAYABLE_STATUSES and mp.amount > booking.balance_due:
            # The balance was paid meanwhile (card, another transfer): never record more than is owed.
            return apply_manual_transition(
                mp, M.FLAGGED, user=user, ip=ip, at=now, extra_fields=extra,
                note=f"More than still owed: {mp.amount} received, {booking.balance_due} {mp.currency} due. {note}")
        try:
            if booking.status in BALANCE_PAYABLE_STATUSES:
                pass  # a balance: the booking is confirmed already
            elif booking.awaits_payment(now):
                booking_services.confirm(booking_id=booking.pk, actor=actor, reason=reason, at=now)
            else:
                booking_services.confirm_late_payment(booking_id=booking.pk, actor=actor, reason=reason, at=now)
        except DomainError as exc:
            raise ManualPaymentError(
                f"The booking cannot be confirmed ({exc.detail}). Reject or dispute the payment and return the "
                "money to the guest.") from exc
        payment = Payment.objects.create(
            booking=booking, provider=Provider.MANUAL, attempt=next_attempt(booking),
            purpose=PaymentPurpose.BALANCE if booking.status in BALANCE_PAYABLE_STATUSES else PaymentPurpose.BOOKING,
            amount=mp.amount, currency=mp.currency,
            status=P.SUCCEEDED, provider_ref=f"manual-{mp.code}", idempotency_key=f"stayhold-manual-{mp.code}",
            created_at=now, succeeded_at=now)
        record_payment_event(payment, "", P.SUCCEEDED, actor, reason, at=now)
        sync_booking_totals(booking.pk, actor, f"Manual payment {mp.amount} {mp.currency} received ({mp.code}).")
        return apply_manual_transition(mp, M.CONFIRMED, user=user, ip=ip, note=note or "Confirmed.", at=now,
                                       extra_fields=extra)


# --- beat jobs -----------------------------------------------------------------------------------------


def send_reminders(*, at: datetime | None = None) -> int:
    """Remind guests whose manual payment is still pending at half the timeout (once each)."""
    now = at or timezone.now()
    half = timedelta(hours=settings.MANUAL_PAYMENT_TIMEOUT_HOURS) / 2
    count = 0
    for pk in ManualPayment.objects.filter(status=M.PENDING, reminded_at__isnull=True, deadline__gt=now,
                                           created_at__lte=now - half).values_list("pk", flat=True):
        with transaction.atomic():
            mp = (ManualPayment.objects.select_for_update(of=("self",))
                  .select_related("booking__guest", "booking__property", "method").get(pk=pk))
            if mp.status != M.PENDING or mp.reminded_at is not None or mp.booking.status != S.RESERVED:
                continue
            mp.reminded_at = now
            mp.save(update_fields=["reminded_at", "updated_at"])
            _record(mp, mp.status, mp.status, label="system:manual-payments", note="Reminder sent.", at=now)
            to = guest_address(mp.booking)
            if to:
                data = {"code": mp.code, "amount": str(mp.amount), "currency": mp.currency, "handle": mp.method.handle,
                        "method": mp.method.get_kind_display(),
                        "deadline": local_datetime(mp.deadline, mp.booking.property),  # "… (Europe/Lisbon time)"
                        "deadline_at": mp.deadline.isoformat(),  # the email writes it in the booking's language
                        "url": absolute(instructions_url(mp))}
                queue(mp.booking, Planned(Kind.MANUAL_PAYMENT_REMINDER, to,
                                          f"{Kind.MANUAL_PAYMENT_REMINDER}:{mp.pk}"), data=data)
                count += 1
    return count


def expire_overdue(*, at: datetime | None = None) -> int:
    """At the timeout: expire unclaimed manual payments and their booking (only while still unconfirmed).

    A claimed payment stays in the staff queue (overdue); its booking expires with its hold like any other,
    and confirming it later succeeds only if the dates are still free."""
    now = at or timezone.now()
    count = 0
    for pk in ManualPayment.objects.filter(status=M.PENDING, deadline__lte=now).values_list("pk", flat=True):
        with transaction.atomic():
            mp = _lock(pk)
            if mp.status != M.PENDING or mp.deadline > now:
                continue
            apply_manual_transition(mp, M.EXPIRED, label="system:manual-payments", at=now,
                                    note="Not sent within the time limit.")
            booking_services.expire(booking_id=mp.booking_id, at=now)  # no-op unless still reserved and overdue
            count += 1
    return count
