"""Read-only answers: for the payment page (``payments.views.pay_page``), what the guest can do now; for staff,
the manual payments waiting for a decision (:func:`verification_queue`).

Nothing here writes. The amount due is the booking's balance (``Booking.balance_due``),
never anything from the browser.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.conf import settings
from django.db.models import Count, F, Q

from bookings.models import CHANNEL_SOURCES, CONFIRMED_STATUSES, Booking, BookingStatus
from properties.policies import policy_snapshot_for

from .models import CAPTURED_STATUSES, Payment
from .models import PaymentStatus as P
from .schedule import current_terms, due_at_booking

S = BookingStatus


class PageState:
    PAYABLE = "payable"  # the card form
    CONFIRMED = "confirmed"  # paid and confirmed: link to the confirmation
    PROCESSING = "processing"  # money received, confirmation under way (rare: the same request confirms)
    EXPIRED = "expired"  # the hold ran out
    CANCELLED = "cancelled"  # released (e.g. after the last failed attempt) or cancelled
    NO_ATTEMPTS = "no_attempts"  # every allowed attempt failed
    CLOSED = "closed"  # any other status (inquiry, hold, released …)


@dataclass(frozen=True)
class PaymentPage:
    booking: Booking
    state: str
    amount_due: Decimal
    attempts_left: int
    max_attempts: int
    seconds_left: int
    policy: dict
    is_balance: bool = False  # paying a confirmed booking's balance (not the booking itself)
    balance_later: Decimal | None = None  # a deposit now, this much later
    balance_due_on: object = None
    saves_card: bool = False

    @property
    def payable(self) -> bool:
        return self.state == PageState.PAYABLE

    @property
    def minutes_left(self) -> int:
        return self.seconds_left // 60


def payment_page(booking: Booking, now: datetime) -> PaymentPage:
    """The state of ``booking``'s payment page at ``now`` (one query for its attempts, only while payable)."""
    max_attempts = settings.PAYMENT_MAX_ATTEMPTS
    policy = booking.cancellation_policy or policy_snapshot_for(booking.property)
    due = booking.balance_due
    seconds_left = 0
    attempts_left = 0
    balance_payable = (booking.status in (S.CONFIRMED, S.CHECKED_IN) and booking.source not in CHANNEL_SOURCES
                       and due > 0)
    if balance_payable:
        # A confirmed booking with a balance (deposit paid, balance not yet): the guest pays it here.
        state = PageState.PAYABLE
        attempts_left = max_attempts
    elif booking.status in CONFIRMED_STATUSES:
        state = PageState.CONFIRMED
    elif booking.status == S.CANCELLED:
        state = PageState.CANCELLED
    elif booking.status == S.EXPIRED or (booking.status == S.RESERVED and not booking.is_occupying(now)):
        state = PageState.EXPIRED
    elif booking.status == S.RESERVED:
        counts = Payment.objects.filter(booking=booking).aggregate(
            failed=Count("pk", filter=Q(status=P.FAILED)),
            captured=Count("pk", filter=Q(status__in=CAPTURED_STATUSES)),
        )
        attempts_left = max(max_attempts - counts["failed"], 0)
        if counts["captured"] or due <= 0:
            state = PageState.PROCESSING
        elif attempts_left > 0:
            state = PageState.PAYABLE
            due = min(due, due_at_booking(booking, now))
        else:
            state = PageState.NO_ATTEMPTS
        if booking.expires_at is not None:
            seconds_left = max(int((booking.expires_at - now).total_seconds()), 0)
    else:
        state = PageState.CLOSED
    extra: dict = {}
    if state == PageState.PAYABLE:
        terms = current_terms(booking, now)
        extra = {"is_balance": balance_payable, "saves_card": terms.has_balance or terms.security_deposit > 0}
        if not balance_payable and terms.has_balance:
            extra.update(balance_later=booking.balance_due - due, balance_due_on=terms.balance_due_on)
    return PaymentPage(booking=booking, state=state, amount_due=due, attempts_left=attempts_left,
                       max_attempts=max_attempts, seconds_left=seconds_left, policy=policy, **extra)


def visible_payment_methods(user):
    """Payout methods of the owners whose properties ``user`` manages (an owner: their own)."""
    from properties.tenancy import managed_properties

    from .models import HostPaymentMethod

    if user.is_superuser:
        return HostPaymentMethod.objects.all()
    if not user.is_authenticated:
        return HostPaymentMethod.objects.none()
    owners = managed_properties(user).values("owner_id")
    return HostPaymentMethod.objects.filter(Q(owner=user) | Q(owner__in=owners))


def verification_queue(user, now: datetime):
    """Manual payments of ``user``'s properties that wait for staff: claimed, flagged and disputed ones, and
    pending ones past their deadline; oldest claim first. The queue page and the dashboard both show this."""
    from core.tenancy import scope_to_user

    from .manual import OPEN
    from .models import ManualPayment, ManualStatus

    return (scope_to_user(ManualPayment.objects.all(), user, "booking__property")
            .filter(status__in=OPEN)
            .exclude(status=ManualStatus.PENDING, deadline__gt=now)
            .order_by(F("claimed_at").asc(nulls_last=True), "created_at", "pk"))


# --- balances and security deposits for the back office (backoffice.dashboard) ---------------------------------

BALANCE_DUE_SOON_DAYS = 7


def outstanding_balances(user, now: datetime, within_days: int = BALANCE_DUE_SOON_DAYS):
    """Confirmed bookings of ``user``'s properties with a balance due within ``within_days`` days, overdue, or
    flagged at the owner's deadline: the plan rows (booking, property, guest joined; one query), flagged first,
    then by due date. ``plan.state``-like labels come from :func:`balance_state`."""
    from datetime import timedelta

    from core.tenancy import scope_to_user

    from .models import PaymentPlan

    horizon = now.date() + timedelta(days=within_days)
    return (scope_to_user(PaymentPlan.objects.all(), user, "booking__property")
            .filter(balance_due_on__isnull=False, balance_due_on__lte=horizon,
                    booking__status__in=(S.CONFIRMED, S.CHECKED_IN), booking__amount_paid__lt=F("booking__total"))
            .select_related("booking__property", "booking__guest")
            .order_by(F("flagged_at").desc(nulls_last=True), "balance_due_on", "pk"))


def balance_state(plan, today) -> str:
    if plan.flagged_at is not None:
        return "flagged"
    if plan.balance_failed_at is not None or plan.balance_due_on < today:
        return "overdue"
    return "due soon"


def deposits_to_settle(user, now: datetime):
    """Security deposits held on ``user``'s bookings (to release or claim), soonest release first."""
    from core.tenancy import scope_to_user

    from .models import DepositStatus, SecurityDeposit

    return (scope_to_user(SecurityDeposit.objects.all(), user, "booking__property")
            .filter(status=DepositStatus.HELD).select_related("booking__property", "booking__guest")
            .order_by("release_on", "pk"))
