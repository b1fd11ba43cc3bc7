"""Reads of privacy: whose data a reader may export (the scope), the export itself, what stops an erasure, and who is
due for erasure under the retention rule (docs/privacy.md)."""

from __future__ import annotations

from datetime import date, datetime, time

from django.conf import settings
from django.db.models import Max, Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from bookings.models import CALLED_OFF_STATUSES, Booking
from guests.models import Guest
from guests.selectors import verified_emails
from payments.models import OPEN_STATUSES, ManualPayment, ManualStatus, Payment, Refund, RefundStatus

from .models import PrivacyAction, PrivacyEvent
from .sections import EXPORT_SECTIONS, FORMAT, FORMAT_VERSION, ExportScope

# Manual payments whose money is still moving or being checked: the guest says they paid, staff have not decided.
OPEN_MANUAL_STATUSES = (ManualStatus.PENDING, ManualStatus.CLAIMED, ManualStatus.FLAGGED, ManualStatus.DISPUTED)


# --- scopes ----------------------------------------------------------------------------------------------------


def guest_scope(guests: list[Guest], *, account=None) -> ExportScope:
    """The guest reading their own data: every booking of their profiles, and their account."""
    ids = tuple(sorted(g.pk for g in guests))
    return ExportScope(guest_ids=ids, bookings=Booking.objects.filter(guest_id__in=ids), audience="guest",
                       account=account)


def back_office_scope(guest: Guest, user) -> ExportScope:
    """An owner (or their staff) reading a guest's data: only the bookings of the properties they manage. A guest who
    also stayed with other owners shows here with the profile they gave and this owner's bookings only; a
    superuser sees everything (``operator``)."""
    bookings = Booking.objects.filter(guest=guest)
    if user.is_superuser:
        return ExportScope(guest_ids=(guest.pk,), bookings=bookings, audience="operator")
    visible = Booking.objects.visible_to(user).filter(guest=guest).values("pk")
    return ExportScope(guest_ids=(guest.pk,), bookings=bookings.filter(pk__in=visible), audience="owner")


def guests_of_account(user) -> list[Guest]:
    """The guest profiles a signed-in account may act for: those linked to it, and those whose address is one of the
    account's VERIFIED addresses (the rule of the guest's "my bookings" page)."""
    if not getattr(user, "is_authenticated", False):
        return []
    return list(Guest.objects.filter(Q(user=user) | Q(email__in=verified_emails(user))).order_by("pk"))


def build_export(scope: ExportScope, *, at: datetime | None = None) -> dict:
    """The export's JSON document (docs/privacy.md "Export format"): a header, then one key per registered section."""
    document: dict = {"format": FORMAT, "version": FORMAT_VERSION,
                      "generated_at": (at or timezone.now()).isoformat(), "audience": scope.audience}
    for section in EXPORT_SECTIONS:
        document[section.key] = section.read(scope)
    return document


# --- erasure ----------------------------------------------------------------------------------------------------


def is_erased(guest_id) -> bool:
    return PrivacyEvent.objects.filter(action=PrivacyAction.ERASURE, guest_id=guest_id).exists()


def erasure_blockers(guest_ids, *, today: date | None = None) -> list[str]:
    """Why the guests' data cannot be erased now (empty: it can). Erasing would lose what a live contract and money
    on its way still need (docs/privacy.md "When erasure is refused"):

    * a stay that is not over: any booking not called off whose check-out is today or later (holds, reservations,
      inquiries included);
    * a card payment still open (pending, waiting for 3-D Secure);
    * a refund requested and not yet done;
    * a manual payment waiting for the guest or for staff (pending, claimed, flagged, disputed)."""
    today = today or timezone.localdate()
    bookings = Booking.objects.filter(guest_id__in=guest_ids)
    reasons = [_("stay %(reference)s (until %(date)s) is not over") % {"reference": b.reference, "date": b.check_out}
               for b in bookings.exclude(status__in=CALLED_OFF_STATUSES).filter(check_out__gte=today)
               .order_by("check_in")]
    if Payment.objects.filter(booking__in=bookings, status__in=OPEN_STATUSES).exists():
        reasons.append(_("a card payment is still in progress"))
    if Refund.objects.filter(payment__booking__in=bookings, status=RefundStatus.PENDING).exists():
        reasons.append(_("a refund is still on its way"))
    if ManualPayment.objects.filter(booking__in=bookings, status__in=OPEN_MANUAL_STATUSES).exists():
        reasons.append(_("a manual payment is waiting to be verified"))
    return reasons


def years_before(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year - years)
    except ValueError:  # 29 February
        return day.replace(year=day.year - years, day=28)


def retention_cutoff(today: date | None = None) -> date:
    """Stays that ended before this day are past the retention period (``GUEST_RETENTION_YEARS``)."""
    return years_before(today or timezone.localdate(), settings.GUEST_RETENTION_YEARS)


def retention_candidates(*, today: date | None = None) -> QuerySet[Guest]:
    """Guest profiles not erased yet whose last booking (of any status) ended before the cutoff, and profiles without
    any booking created before it. Whether anything is still pending is checked per guest when erasing."""
    cutoff = retention_cutoff(today)
    created_before = timezone.make_aware(datetime.combine(cutoff, time.min))
    erased = PrivacyEvent.objects.filter(action=PrivacyAction.ERASURE, guest__isnull=False).values("guest_id")
    return (Guest.objects.exclude(pk__in=erased).annotate(last_check_out=Max("bookings__check_out"))
            .filter(Q(last_check_out__lt=cutoff) | Q(last_check_out__isnull=True, created_at__lt=created_before))
            .order_by("pk"))
