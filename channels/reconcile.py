"""Turn one feed snapshot into bookings, channel blocks and conflicts: the feed is the truth for its window.

``apply_snapshot`` runs in one transaction under the property lock, and every
change goes through the services (``bookings.services.import_external``,
``bookings.blocks.replace_channel_blocks``), which write the audit rows and
the outbox events. Decisions:

* **Keys.** A connection's reservations are keyed by ``(property, source =
  platform, external_id = UID)``. A UID whose booking we cancelled (it left the
  feed, or the feed said ``STATUS:CANCELLED``) and that comes back as a live
  reservation is imported again under ``<UID>~<n>`` (the cancelled row keeps its
  id and history): a feed that hiccuped must not lose a stay for good.
  One connection per (property, platform) is assumed: two connections of the
  same platform on one property would see each other's stays as missing.
* **Past and started.** Events that end today or earlier are ignored (never
  created, moved or cancelled). A stay that has started (check-in today or
  earlier, or checked in) is never cancelled by a snapshot, not even by an
  explicit ``STATUS:CANCELLED``: the guest may be in the house; the owner decides.
  It can still be moved (an extension).
* **Cancelled by absence.** A confirmed or reserved stay imported from this
  platform that has not started (check-in after the property's today) and is
  not a reservation of the snapshot is cancelled: it left the feed's window.
  That window is not the span between the first and last event seen: every
  platform exports from today (or earlier) up to its horizon, which only grows,
  and every stay we hold was imported from inside it. Taking the events' span
  instead would never cancel a listing's next stay in a feed that starts today
  (Booking.com) nor its last one. Stays that have started are outside the rule
  (feeds drop past events). An empty VCALENDAR is distrusted (see the guard).
* **Guard.** The cancellations a snapshot implies (missing and explicitly
  cancelled) are counted first; if there are at least ``CHANNEL_CANCEL_GUARD_MIN``
  and they are more than ``CHANNEL_CANCEL_GUARD_SHARE`` of the connection's
  future live imported stays, the cancellations are *held back* and the result
  carries a ``warning``: a feed that suddenly lost most of its events is far more
  likely broken than a host losing most bookings at once. An **empty calendar**
  (no events at all) from a connection with future stays is held back the same
  way, whatever the number of stays (platforms serve empty feeds now and then).
  Holding back throws away no good news: new and moved stays of the snapshot are
  applied, and its channel blocks are *added* to the connection's (nothing is
  unblocked and no open conflict is resolved as gone by a snapshot we distrust).
  A held cancellation is applied when ``CHANNEL_CANCEL_CONFIRM_FETCHES`` (3)
  further consecutive snapshots still leave that stay out (counted per stay in
  ``ChannelConnection.held_cancellations``; a failed fetch does not count and
  does not reset), or at once when a snapshot no longer trips the guard.
* **Order.** Cancellations first (they free nights), then moves and new stays,
  retried while any succeed, so a snapshot in which one stay takes the nights
  another just left applies in any order.
* **What a platform sold always occupies its nights.** A reservation is
  imported whatever it collides with: no stay rule applies to it (minimum stay,
  weekdays, lead time, buffer days), and when another stay (of any source, or
  another event of the same feed) or an owner block is on its nights it is
  still recorded, as an *overbooking* (``bookings.services.import_external``:
  an overbooking lane keeps the exclusion constraint whole for everything else).
  Its nights are closed on our site and in every other connection's feed from
  that moment. The snapshot's stays are first fitted without overbooking,
  retried while any succeed (so a stay taking nights another just left is no
  overbooking whatever the order); only what still collides is overbooked.
* **Conflicts.** Each overbooking is one open ``SyncConflict`` per (connection,
  UID), updated on later runs, naming the imported stay and the other side (the
  first overlapping booking, else the owner block); a new one alerts the owner
  by email. The other booking is never touched: a direct booking is never
  cancelled automatically. It resolves itself ("gone") when the event leaves the
  feed or no longer collides (moved to free nights, the other side cancelled);
  the stay then returns to lane 0. A conflict the owner settled (relocated,
  accepted overbooking, declined) stays settled while the event keeps those
  dates: the stay stays recorded, its nights closed, and no new alert is sent.
* **Channel blocks** (the snapshot's non-reservation unavailability that has not
  ended) replace the connection's blocks as a whole, merged first; an unchanged
  set writes nothing.
* **Idempotent.** The same snapshot twice: the second run changes no booking or
  block and emits nothing (an open conflict's ``last_seen_at`` is refreshed).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from bookings import services as booking_services
from bookings.blocks import replace_channel_blocks
from bookings.errors import ExternalBookingConflict
from bookings.external import ExternalStay, fit_external_stays
from bookings.models import CANCELLABLE_STATUSES, OCCUPYING_STATUSES, AvailabilityBlock, Booking, BookingStatus
from guests.services import GuestInput
from properties.pricing import local_today

from .alerts import alert_owner_of_conflict
from .ical_parse import BLOCK, CANCELLED, RESERVATION, FeedEvent, Snapshot
from .models import SyncConflict

S = BookingStatus
REOPEN_SEPARATOR = "~"
SETTLED = (SyncConflict.Resolution.RELOCATED, SyncConflict.Resolution.ACCEPTED_OVERBOOKING,
           SyncConflict.Resolution.DECLINED_IMPORTED)


@dataclass
class ReconcileResult:
    created: int = 0
    changed: int = 0
    cancelled: int = 0
    unchanged: int = 0
    conflicts: int = 0
    blocks: int = 0
    warning: str = ""  # non-empty → cancellations were held back (the guard tripped, or an empty calendar)
    notice: str = ""  # held-back cancellations that were confirmed and applied in this run: the owner is told

    def as_dict(self) -> dict:
        return {"created": self.created, "changed": self.changed, "cancelled": self.cancelled,
                "unchanged": self.unchanged, "conflicts": self.conflicts, "blocks": self.blocks}


def base_uid(external_id: str) -> str:
    """The feed UID of an imported booking (``<UID>~<n>`` when it was imported again after a cancellation)."""
    head, sep, tail = external_id.rpartition(REOPEN_SEPARATOR)
    return head if sep and tail.isdigit() else external_id


def guest_for(connection, event: FeedEvent) -> GuestInput:
    return GuestInput(name=event.guest_name.strip()[:150] or f"{connection.get_platform_display()} guest")


def block_summary(event: FeedEvent) -> str:
    return "\n".join(part for part in (event.summary.strip(), event.description.strip()) if part)


def overlapped(outcome: booking_services.ImportResult) -> str:
    """What an imported stay overlaps, in the owner's words."""
    others = [f"booking {b.reference} ({b.get_source_display()}, {b.check_in:%d %b}–{b.check_out:%d %b %Y})"
              for b in outcome.overlapping_stays]
    others += [f"your block {b.start_date:%d %b}–{b.end_date:%d %b %Y}" for b in outcome.overlapping_blocks]
    return ", ".join(others)


def overbooking_detail(outcome: booking_services.ImportResult) -> str:
    """A conflict's ``detail``: what the stay overlaps and what that means (the conflict page and the alert)."""
    return (f"It overlaps {overlapped(outcome)}. The platform has sold it, so it is recorded and its nights are "
            "closed here and on every other channel; both are kept until you resolve it.")


def record_overbooking(connection, *, uid: str, summary: str, description: str,
                       outcome: booking_services.ImportResult, now: datetime,
                       open_conflict: SyncConflict | None = None) -> SyncConflict | None:
    """Record (or refresh) the open conflict of an imported stay that collides, and alert the owner of a new one;
    None when the owner already settled a conflict of this stay with these very dates. iCal snapshots and API
    reservations both record their overbookings here. Caller holds the property lock."""
    stay = outcome.booking
    conflict = open_conflict or SyncConflict.objects.filter(connection=connection, uid=uid,
                                                            resolved_at__isnull=True).first()
    if conflict is None and SyncConflict.objects.filter(
            connection=connection, uid=uid, resolved_at__isnull=False, resolution__in=SETTLED,
            check_in=stay.check_in, check_out=stay.check_out).exists():
        return None
    fields = {"check_in": stay.check_in, "check_out": stay.check_out, "summary": summary,
              "description": description, "imported_booking": stay,
              "other_booking": (outcome.overlapping_stays or (None,))[0],
              "other_block": (outcome.overlapping_blocks or (None,))[0],
              "detail": overbooking_detail(outcome), "property_id": stay.property_id}
    if conflict is None:
        conflict = SyncConflict.objects.create(connection=connection, uid=uid, detected_at=now, last_seen_at=now,
                                               **fields)
        alert_owner_of_conflict(conflict)  # a new conflict only: a re-seen one was announced already
        return conflict
    for name, value in fields.items():
        setattr(conflict, name, value)
    conflict.last_seen_at = now
    conflict.save()
    return conflict


def resolve_gone(conflict: SyncConflict, now: datetime) -> None:
    """The stay left the platform, or nothing else is on its nights any more: the conflict resolves itself."""
    conflict.resolved_at = now
    conflict.resolution = SyncConflict.Resolution.GONE
    conflict.resolution_note = "The event left the feed, or nothing else is on its nights any more."
    conflict.save(update_fields=["resolved_at", "resolution", "resolution_note"])


def apply_snapshot(connection, snapshot: Snapshot, *, at: datetime | None = None) -> ReconcileResult:
    """Make the connection's stays and channel blocks match ``snapshot`` (see the module docstring)."""
    now = at or timezone.now()
    with transaction.atomic():
        prop = booking_services.lock_property(connection.property_id)
        return _Reconciler(connection, prop, snapshot, now).run()


class _Reconciler:
    # The first fit of a snapshot's stays goes through the set-based service (``bookings.external``); False: one
    # ``import_external`` per stay and pass, the reference the equivalence tests compare it with.
    set_based = True

    def __init__(self, connection, prop, snapshot: Snapshot, now: datetime):
        self.connection, self.prop, self.snapshot, self.now = connection, prop, snapshot, now
        self.today = local_today(prop, now)
        self.source = connection.platform
        self.result = ReconcileResult()
        rows = Booking.objects.filter(property=prop, source=self.source).exclude(external_id="").order_by("pk")
        self.by_uid: dict[str, list[Booking]] = {}
        for booking in rows:
            self.by_uid.setdefault(base_uid(booking.external_id), []).append(booking)
        self.open_conflicts = {c.uid: c for c in SyncConflict.objects.filter(connection=connection,
                                                                              resolved_at__isnull=True)}

    # --- what the snapshot says ---------------------------------------------------------------

    def live_booking(self, uid: str) -> Booking | None:
        live = [b for b in self.by_uid.get(uid, []) if b.status in OCCUPYING_STATUSES and b.is_occupying(self.now)]
        return live[-1] if live else None

    def cancellable(self, booking: Booking) -> bool:
        """Whether the snapshot may cancel this imported stay: its status is one the state machine lets cancel
        (``CANCELLABLE_STATUSES``, the same rule as for guests and owners), it has not begun and it still
        occupies its nights. Imports are created confirmed, so in practice this is a future confirmed stay."""
        return booking.status in CANCELLABLE_STATUSES and booking.check_in > self.today and booking.is_occupying(
            self.now)

    def planned_cancellations(self, reservations: dict[str, FeedEvent]) -> list[Booking]:
        """Future stays that are not (or no longer) reservations of the snapshot: missing or cancelled."""
        plan = []
        for uid in self.by_uid:
            booking = self.live_booking(uid)
            if booking is not None and self.cancellable(booking) and uid not in reservations:
                plan.append(booking)
        return plan

    def future_live_count(self) -> int:
        return sum(1 for uid in self.by_uid if (b := self.live_booking(uid)) is not None and self.cancellable(b))

    # --- the run ------------------------------------------------------------------------------

    def run(self) -> ReconcileResult:
        events = self.snapshot.events
        reservations = {e.uid: e for e in events if e.kind == RESERVATION and e.end > self.today}
        cancelled = {e.uid for e in events if e.kind == CANCELLED}
        past = sum(1 for e in events if e.kind == RESERVATION and e.end <= self.today)

        plan = self.planned_cancellations(reservations)
        total = self.future_live_count()
        platform = self.connection.get_platform_display()
        if plan and not events:
            hold = f"{platform} sent an empty calendar although {total} upcoming stays were imported from it"
        elif len(plan) >= settings.CHANNEL_CANCEL_GUARD_MIN and len(plan) > settings.CHANNEL_CANCEL_GUARD_SHARE * total:
            hold = f"This feed would cancel {len(plan)} of {total} upcoming stays from {platform} at once"
        else:
            hold = ""
        plan, held = self.hold_back(plan) if hold else (plan, {})
        if held:
            self.result.warning = (
                f"{hold}; {len(held)} cancellation(s) were held back (new and changed stays were applied). "
                f"They are applied if the next {settings.CHANNEL_CANCEL_CONFIRM_FETCHES} fetches agree; if these "
                "stays really were cancelled, you can also cancel them here by hand.")
        elif hold and plan:
            self.result.notice = (
                f"{len(plan)} stay(s) cancelled: {platform} left them out of "
                f"{settings.CHANNEL_CANCEL_CONFIRM_FETCHES + 1} fetches in a row.")
        if held != (self.connection.held_cancellations or {}):
            type(self.connection).objects.filter(pk=self.connection.pk).update(held_cancellations=held)
            self.connection.held_cancellations = held

        for booking in plan:
            self.cancel(booking)
        planned = {base_uid(b.external_id) for b in plan} | {base_uid(external_id) for external_id in held}
        self.result.unchanged += past + sum(1 for uid in cancelled if uid not in planned)
        self.import_reservations(reservations)
        blocks = [(e.start, e.end, e.tentative, block_summary(e)) for e in events
                  if e.kind == BLOCK and e.end > self.today]
        if held:  # a distrusted snapshot adds blocks and resolves nothing as gone
            blocks += [(b.start_date, b.end_date, b.tentative, b.external_summary) for b in
                       AvailabilityBlock.objects.filter(connection=self.connection, end_date__gt=self.today)]
        else:
            for uid, conflict in list(self.open_conflicts.items()):
                if uid not in reservations:
                    self.resolve_gone(conflict)
        self.result.blocks = replace_channel_blocks(connection=self.connection, blocks=blocks)
        return self.result

    def hold_back(self, plan: list[Booking]) -> tuple[list[Booking], dict[str, int]]:
        """Split the planned cancellations: those left out of enough snapshots in a row now, and the rest (held)."""
        before = self.connection.held_cancellations or {}
        confirmed, held = [], {}
        for booking in plan:
            seen = before.get(booking.external_id, 0)
            if seen >= settings.CHANNEL_CANCEL_CONFIRM_FETCHES:
                confirmed.append(booking)
            else:
                held[booking.external_id] = seen + 1
        return confirmed, held

    def cancel(self, booking: Booking) -> None:
        outcome = booking_services.import_external(
            property_id=self.prop.pk, source=self.source, external_id=booking.external_id,
            check_in=booking.check_in, check_out=booking.check_out, guest=GuestInput(name=""), cancelled=True,
            at=self.now)
        booking.status = outcome.booking.status
        self.result.cancelled += outcome.action == "cancelled"

    def import_reservations(self, reservations: dict[str, FeedEvent]) -> None:
        pending: list[FeedEvent] = []
        for event in sorted(reservations.values(), key=lambda e: (e.start, e.uid)):
            booking = self.live_booking(event.uid)
            if booking is not None and (booking.status == S.CHECKED_OUT or (
                    (booking.check_in, booking.check_out) == (event.start, event.end)
                    and not booking.overbooking_lane and event.uid not in self.open_conflicts)):
                self.result.unchanged += 1
                continue
            pending.append(event)

        pending = self.fit_set(pending) if self.set_based else self.fit(pending)
        overbooked: list[FeedEvent] = []
        while pending:  # what still collides was sold all the same: recorded as an overbooking, one at a time,
            event = pending.pop(0)  # since the nights it leaves may let the others fit (two stays swapping nights)
            self.count(self.record(event, allow_overlap=True))
            overbooked.append(event)
            pending = self.fit(pending)
        for event in overbooked:  # once the whole snapshot is in: still colliding? (again: no count)
            self.settle(event, self.record(event, allow_overlap=True))

    def fit(self, pending: list[FeedEvent]) -> list[FeedEvent]:
        """Import the events that fit without overbooking, retried while any succeed; returns the rest."""
        while pending:
            still = []
            for event in pending:
                try:
                    outcome = self.record(event, allow_overlap=False)
                except ExternalBookingConflict:
                    still.append(event)
                    continue
                self.count(outcome)
                self.settle(event, outcome)
            if len(still) == len(pending):
                break
            pending = still
        return pending

    def identity(self, event: FeedEvent) -> tuple[Booking | None, str, int, int]:
        """The live booking the event is (or None), and the external id, adults and children it imports with: the
        booking's own, or, for a new stay, the UID (with a suffix when a stay of that UID was cancelled before)."""
        booking = self.live_booking(event.uid)
        if booking is not None:
            return booking, booking.external_id, booking.adults, booking.children
        previous = len(self.by_uid.get(event.uid, []))
        return None, event.uid if not previous else f"{event.uid}{REOPEN_SEPARATOR}{previous + 1}", 1, 0

    def fit_set(self, pending: list[FeedEvent]) -> list[FeedEvent]:
        """``fit``, decided and written as a set by ``bookings.external.fit_external_stays`` (the same stays fit,
        in the same order; then each is counted and settled as ``fit`` does)."""
        if not pending:
            return []
        stays, live = [], []
        for event in pending:
            booking, external_id, adults, children = self.identity(event)
            stays.append(ExternalStay(external_id, event.start, event.end, guest_for(self.connection, event),
                                      adults, children))
            live.append(booking)
        outcome = fit_external_stays(property_id=self.prop.pk, source=self.source, stays=stays, at=self.now)
        for index, result in outcome.fitted:
            event, booking = pending[index], live[index]
            if booking is None:
                self.by_uid.setdefault(event.uid, []).append(result.booking)
            else:
                booking.check_in, booking.check_out = result.booking.check_in, result.booking.check_out
                booking.overbooking_lane = result.booking.overbooking_lane
            self.count(result)
            self.settle(event, result)
        return [pending[index] for index in outcome.rest]

    def record(self, event: FeedEvent, *, allow_overlap: bool) -> booking_services.ImportResult:
        """Import one reservation (create, move, or settle its lane) through the booking service."""
        booking, external_id, adults, children = self.identity(event)
        outcome = booking_services.import_external(
            property_id=self.prop.pk, source=self.source, external_id=external_id, check_in=event.start,
            check_out=event.end, guest=guest_for(self.connection, event), adults=adults, children=children,
            allow_overlap=allow_overlap, at=self.now)
        if booking is None:
            self.by_uid.setdefault(event.uid, []).append(outcome.booking)
        else:
            booking.check_in, booking.check_out = outcome.booking.check_in, outcome.booking.check_out
            booking.overbooking_lane = outcome.booking.overbooking_lane
        return outcome

    def count(self, outcome: booking_services.ImportResult) -> None:
        if outcome.action == "created":
            self.result.created += 1
        elif outcome.action == "changed":
            self.result.changed += 1
        else:
            self.result.unchanged += 1

    def settle(self, event: FeedEvent, outcome: booking_services.ImportResult) -> None:
        """Record the conflict of a stay that collides, resolve the one of a stay that no longer does."""
        if outcome.collides:
            self.record_conflict(event, outcome)
        else:
            self.resolve_gone_if_open(event.uid)

    # --- conflicts ----------------------------------------------------------------------------

    def record_conflict(self, event: FeedEvent, outcome: booking_services.ImportResult) -> None:
        conflict = record_overbooking(self.connection, uid=event.uid, summary=event.summary,
                                      description=event.description, outcome=outcome, now=self.now,
                                      open_conflict=self.open_conflicts.get(event.uid))
        if conflict is not None:
            self.open_conflicts[event.uid] = conflict
            self.result.conflicts += 1

    def resolve_gone_if_open(self, uid: str) -> None:
        conflict = self.open_conflicts.get(uid)
        if conflict is not None:
            self.resolve_gone(conflict)

    def resolve_gone(self, conflict: SyncConflict) -> None:
        resolve_gone(conflict, self.now)
        self.open_conflicts.pop(conflict.uid, None)

def import_stay(connection, *, uid: str, check_in, check_out, guest_name: str = "", at: datetime | None = None):
    """Import (create or move) one reservation of ``connection`` keyed as a sync keys it; for conflict resolution.

    Returns ``bookings.services.ImportResult`` (``collides`` when it is recorded as an overbooking)."""
    rows = [b for b in Booking.objects.filter(property_id=connection.property_id, source=connection.platform)
            .exclude(external_id="").order_by("pk") if base_uid(b.external_id) == uid]
    now = at or timezone.now()
    live = [b for b in rows if b.is_occupying(now)]
    if live:
        external_id, adults, children = live[-1].external_id, live[-1].adults, live[-1].children
    else:
        external_id = uid if not rows else f"{uid}{REOPEN_SEPARATOR}{len(rows) + 1}"
        adults, children = 1, 0
    event = FeedEvent(uid, check_in, check_out, RESERVATION, False, "", "", guest_name)
    return booking_services.import_external(
        property_id=connection.property_id, source=connection.platform, external_id=external_id,
        check_in=check_in, check_out=check_out, guest=guest_for(connection, event), adults=adults,
        children=children, at=now)
