"""Writes of privacy (docs/privacy.md): exports (audited), erasure of a guest's personal data, a guest's own erasure
request, the retention job, and the offboarding of an owner who leaves.

Every action writes one immutable :class:`~privacy.models.PrivacyEvent`. An erasure runs the registered steps
(``privacy.sections.ERASURE_STEPS``), each through its domain's own service, in one transaction per guest, under the
locks of the guest's properties (taken in id order, as every multi-property writer does) and then the guest's row.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import date

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from bookings.models import CALLED_OFF_STATUSES, Booking
from bookings.services import lock_property
from core.actor import Actor, ActorType
from core.models import AuditRow
from guests.models import Guest, User
from properties.models import Property

from .errors import AlreadyErased, ErasureRefused, NotAGuestAccount, OffboardingRefused
from .models import ErasureRequest, PrivacyAction, PrivacyChannel, PrivacyEvent
from .sections import ERASURE_STEPS, ErasureContext, ExportScope, guest_secrets
from .selectors import (
    build_export,
    erasure_blockers,
    guests_of_account,
    is_erased,
    retention_candidates,
    retention_cutoff,
)

logger = logging.getLogger(__name__)


def pseudonym_for(guest: Guest) -> str:
    """What replaces the person in every record kept: stable, naming nobody, unique per profile."""
    return f"Erased guest G{guest.pk}"


def _event(*, action: str, channel: str, actor: Actor, guest: Guest | None = None, subject_user=None,
           reason: str = "", detail: dict | None = None) -> PrivacyEvent:
    return PrivacyEvent.objects.create(action=action, channel=channel, guest=guest, subject_user=subject_user,
                                       reason=reason, detail=detail or {}, **AuditRow.actor_fields(actor))


# --- export ----------------------------------------------------------------------------------------------------


@transaction.atomic
def export_data(*, scope: ExportScope, actor: Actor, channel: str, reason: str = "") -> dict:
    """The export document for ``scope`` (``privacy.selectors.build_export``), with one audit row per guest profile
    exported: who, whose, when, through which channel, why, and how many rows of each section went out."""
    document = build_export(scope)
    counts = {key: (len(value) if isinstance(value, list) else int(value is not None))
              for key, value in document.items() if key not in ("format", "version", "generated_at", "audience")}
    detail = {"audience": scope.audience, "format_version": document["version"], "sections": counts}
    for guest in Guest.objects.filter(pk__in=scope.guest_ids).order_by("pk"):
        _event(action=PrivacyAction.EXPORT, channel=channel, actor=actor, guest=guest,
               subject_user=scope.account if scope.audience == "guest" else None, reason=reason, detail=detail)
    return document


# --- erasure -----------------------------------------------------------------------------------------------------


def erase_guest(*, guest_id, actor: Actor, channel: str, reason: str = "", today: date | None = None) -> PrivacyEvent:
    """Erase one guest profile's personal data, keeping the financial records with a pseudonym (docs/privacy.md).

    Refused (:class:`~privacy.errors.ErasureRefused`, with every reason) while a stay is not over or money is in
    flight; :class:`~privacy.errors.AlreadyErased` the second time. One transaction: every step or none."""
    with transaction.atomic():
        property_ids = sorted(set(Booking.objects.filter(guest_id=guest_id).values_list("property_id", flat=True)))
        for property_id in property_ids:
            lock_property(property_id)
        guest = Guest.objects.select_for_update().get(pk=guest_id)
        if is_erased(guest.pk):
            raise AlreadyErased()
        blockers = erasure_blockers([guest.pk], today=today)
        if blockers:
            raise ErasureRefused(blockers)
        booking_ids = list(Booking.objects.filter(guest=guest).order_by("property_id", "pk")
                           .values_list("pk", flat=True))
        ctx = ErasureContext(guest=guest, booking_ids=booking_ids, pseudonym=pseudonym_for(guest),
                             secrets=guest_secrets(guest), actor=actor)
        for step in ERASURE_STEPS:
            ctx.counts[step.name] = step.run(ctx)
        return _event(action=PrivacyAction.ERASURE, channel=channel, actor=actor, guest=guest, reason=reason,
                      detail={"pseudonym": ctx.pseudonym, "steps": ctx.counts})


def _erase_account(user, *, actor: Actor, channel: str, reason: str) -> PrivacyEvent:
    """Erase every guest profile of the account (not erased yet), then the account itself."""
    from guests.services import erase_account

    with transaction.atomic():
        erased = []
        for guest in guests_of_account(user):
            if not is_erased(guest.pk):
                erase_guest(guest_id=guest.pk, actor=actor, channel=channel, reason=reason)
                erased.append(guest.pk)
        erase_account(user)
        ErasureRequest.objects.filter(user=user, status=ErasureRequest.Status.PENDING).update(
            status=ErasureRequest.Status.DONE, completed_at=timezone.now())
        return _event(action=PrivacyAction.ERASURE, channel=channel, actor=actor, subject_user=user, reason=reason,
                      detail={"account": True, "guest_profiles": erased})


def guest_actor(user=None) -> Actor:
    """The guest acting on their own data: their account if signed in, never their address in the label."""
    return Actor(ActorType.GUEST, user=user if getattr(user, "pk", None) else None, label="")


@dataclass(frozen=True)
class AccountErasure:
    """The outcome of a guest's request: erased now, or recorded until what ``blockers`` names is over."""

    erased: bool
    request: ErasureRequest | None = None
    blockers: list[str] = field(default_factory=list)


def request_account_erasure(*, user) -> AccountErasure:
    """A signed-in guest asks to be erased. Decision (docs/privacy.md): immediate when nothing is pending (no stay
    that is not over, no money in flight); otherwise an :class:`~privacy.models.ErasureRequest` is recorded (once)
    and the daily retention job completes it the day nothing is pending any more. Back-office accounts are closed
    by an administrator (``offboard_owner``), never from here."""
    if user.is_staff or user.is_superuser:
        raise NotAGuestAccount()
    guests = guests_of_account(user)
    blockers = erasure_blockers([g.pk for g in guests])
    if not blockers:
        _erase_account(user, actor=guest_actor(user), channel=PrivacyChannel.ACCOUNT,
                       reason="The guest erased their account.")
        return AccountErasure(erased=True)
    with transaction.atomic():
        request, created = ErasureRequest.objects.get_or_create(
            user=user, status=ErasureRequest.Status.PENDING, defaults={"blockers": "; ".join(blockers)})
        if created:
            _event(action=PrivacyAction.ERASURE_REQUESTED, channel=PrivacyChannel.ACCOUNT, actor=guest_actor(user),
                   subject_user=user, reason="The guest asked to be erased.", detail={"blockers": len(blockers)})
    return AccountErasure(erased=False, request=request, blockers=blockers)


def complete_erasure_requests(*, today: date | None = None) -> int:
    """Erase the accounts whose pending request has nothing pending any more. Returns how many."""
    done = 0
    for request in ErasureRequest.objects.filter(status=ErasureRequest.Status.PENDING).select_related("user"):
        user = request.user
        if erasure_blockers([g.pk for g in guests_of_account(user)], today=today):
            continue
        try:
            _erase_account(user, actor=Actor.system("privacy: erasure request"), channel=PrivacyChannel.REQUEST,
                           reason=f"The guest's erasure request #{request.pk} of {request.created_at:%Y-%m-%d}.")
        except (ErasureRefused, AlreadyErased):  # something started in between: next run
            continue
        done += 1
    return done


@dataclass
class RetentionRun:
    erased: int = 0
    skipped: int = 0
    requests_completed: int = 0
    channel_summaries_forgotten: int = 0


def erase_expired_guests(*, today: date | None = None, batch_size: int = 100, limit: int = 1000) -> RetentionRun:
    """The retention job: erase the guests whose last stay ended more than ``GUEST_RETENTION_YEARS`` ago and who
    have nothing pending, at most ``limit`` per run, read ``batch_size`` ids at a time, one transaction per guest
    (a failure rolls back that guest only). Idempotent: an erased guest is no candidate any more, so running it
    twice erases what running it once does. Also completes the erasure requests that can be, and empties the
    imported summaries of channel blocks older than the retention period."""
    run = RetentionRun()
    last_id = 0
    while run.erased < limit:
        ids = list(retention_candidates(today=today).filter(pk__gt=last_id).values_list("pk", flat=True)[:batch_size])
        if not ids:
            break
        for guest_id in ids:
            last_id = guest_id
            try:
                erase_guest(guest_id=guest_id, actor=Actor.system("privacy: retention job"),
                            channel=PrivacyChannel.RETENTION, today=today,
                            reason="Retention period over (GUEST_RETENTION_YEARS after the last stay).")
            except (ErasureRefused, AlreadyErased) as exc:
                logger.info("Retention: guest %s not erased: %s", guest_id, exc)
                run.skipped += 1
                continue
            run.erased += 1
            if run.erased >= limit:
                break
    run.requests_completed = complete_erasure_requests(today=today)
    from bookings.blocks import forget_old_channel_summaries

    run.channel_summaries_forgotten = forget_old_channel_summaries(ended_before=retention_cutoff(today))
    return run


# --- an owner who leaves ----------------------------------------------------------------------------------------


def offboard_owner(*, owner_id, actor: Actor, reason: str = "", today: date | None = None) -> PrivacyEvent:
    """Close the account of an owner who leaves (docs/privacy.md "An owner who leaves").

    Refused while one of their properties has a stay that is not over (cancel or hand those over first). Otherwise,
    in one transaction: every channel connection of their properties is deleted through ``channels.services``
    (which frees its channel blocks through the booking service and takes the encrypted import address, API
    credentials and export token with it: the feed URLs the platforms hold answer 404), their properties are
    archived (off the site), their manual payment methods switched off, their staff accounts and their own account
    deactivated (every session ends at its next request). Their guests' data is then erased by the retention rule
    like everyone's (or at once by an administrator, guest by guest)."""
    from channels.models import ChannelConnection
    from channels.services import delete_connection
    from payments.models import HostPaymentMethod

    today = today or timezone.localdate()
    with transaction.atomic():
        owner = User.objects.select_for_update().get(pk=owner_id)
        if owner.is_superuser:
            raise OffboardingRefused(_("A superuser account is not an owner's: it cannot be offboarded."))
        properties = Property.objects.filter(owner=owner)
        live = (Booking.objects.filter(property__in=properties).exclude(status__in=CALLED_OFF_STATUSES)
                .filter(check_out__gte=today).count())
        if live:
            raise OffboardingRefused(_("%(count)d stay(s) on this owner's properties are not over: cancel or hand "
                                       "them over first.") % {"count": live})
        connections = list(ChannelConnection.objects.filter(property__in=properties).order_by("pk"))
        for connection in connections:
            delete_connection(connection)
        archived = properties.exclude(status=Property.Status.ARCHIVED).update(status=Property.Status.ARCHIVED)
        methods = HostPaymentMethod.objects.filter(owner=owner, active=True).update(active=False)
        staff = User.objects.filter(employer=owner, is_active=True).update(is_active=False)
        owner.is_active = False
        owner.save(update_fields=["is_active"])
        return _event(action=PrivacyAction.OWNER_OFFBOARDED, channel=PrivacyChannel.ADMIN, actor=actor,
                      subject_user=owner, reason=reason,
                      detail={"connections_deleted": len(connections), "properties_archived": archived,
                              "payment_methods_disabled": methods, "staff_deactivated": staff})
