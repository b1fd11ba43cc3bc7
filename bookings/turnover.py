"""Turnover (cleaning) tasks: one per stay, due on its check-out, open until the next check-in.

:func:`sync_turnover_for_booking` derives the task of one booking from the
booking's current state, so it is idempotent and can run any number of times:

* a ``confirmed``, ``checked_in`` or ``checked_out`` booking has exactly one task,
  due on its check-out day (created, or moved when the dates change; a task
  already done is left as it is);
* any other status (cancelled, expired, released, …) has no open task: an open
  one is removed, a done one is kept as history;
* every open task of the property gets its ``window_end`` recomputed (the next
  stay's check-in, or the day after the due date), so the task of the previous
  stay follows when a booking appears, moves or disappears.

It runs from the ``turnover`` outbox consumer (at least once per booking event,
registered in ``BookingsConfig.ready``), never from views. Staff mark tasks
done with :func:`mark_done` (audited by ``done_by`` / ``done_at``).
"""

from __future__ import annotations

from datetime import timedelta

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.utils import timezone

from core import outbox
from core.models import OutboxEvent
from properties.models import Property

from .models import CONFIRMED_STATUSES, Booking, BookingStatus, TurnoverTask

S = BookingStatus


def default_assignee(prop: Property):
    """The property's first assigned staff member (by id), or None."""
    return prop.staff.order_by("pk").first()


def sync_turnover_for_booking(booking_id) -> TurnoverTask | None:
    """Make the booking's task match the booking (idempotent). Returns its task, or None when it has none."""
    with transaction.atomic():
        booking = Booking.objects.filter(pk=booking_id).only("pk", "property_id", "status", "check_out").first()
        if booking is None:
            return None
        # One sync per property at a time (the booking services take the same lock).
        prop = Property.objects.select_for_update().get(pk=booking.property_id)
        task = TurnoverTask.objects.select_for_update().filter(booking_id=booking.pk).first()
        if booking.status in CONFIRMED_STATUSES:
            if task is None:
                task = TurnoverTask.objects.create(
                    property=prop, booking_id=booking.pk, due_date=booking.check_out,
                    window_end=booking.check_out + timedelta(days=1), assignee=default_assignee(prop),
                )
            elif task.status == TurnoverTask.Status.OPEN and task.due_date != booking.check_out:
                task.due_date = booking.check_out
                task.save(update_fields=["due_date", "updated_at"])
        elif task is not None:
            if task.status == TurnoverTask.Status.OPEN:
                task.delete()
            task = None
        recompute_windows(prop)
    if task is not None:
        task.refresh_from_db()
    return task


def recompute_windows(prop: Property) -> int:
    """Set ``window_end`` of every open task of ``prop`` to the next stay's check-in (or the day after)."""
    check_ins = sorted(
        Booking.objects.filter(property=prop, status__in=CONFIRMED_STATUSES).values_list("check_in", "pk")
    )
    changed = []
    for task in TurnoverTask.objects.filter(property=prop, status=TurnoverTask.Status.OPEN):
        nxt = next((ci for ci, pk in check_ins if ci >= task.due_date and pk != task.booking_id), None)
        window_end = nxt or task.due_date + timedelta(days=1)
        if task.window_end != window_end:
            task.window_end = window_end
            changed.append(task)
    if changed:
        TurnoverTask.objects.bulk_update(changed, ["window_end"])
    return len(changed)


def mark_done(*, task_id, user, notes: str = "", at=None) -> TurnoverTask:
    """Mark a task done by ``user`` (who must manage its property) at ``at`` (default now; history written
    afterwards, e.g. ``seed_demo``, passes when it was done). Marking a done task again changes nothing."""
    with transaction.atomic():
        task = (TurnoverTask.objects.select_for_update()
                .filter(pk=task_id, property__in=Property.objects.managed_by(user).values("pk")).first())
        if task is None:
            raise PermissionDenied("No such turnover task.")
        if task.status != TurnoverTask.Status.DONE:
            task.status = TurnoverTask.Status.DONE
            task.done_at = at or timezone.now()
            task.done_by = user
            if notes:
                task.notes = f"{task.notes}\n{notes}".strip()
            task.save(update_fields=["status", "done_at", "done_by", "notes", "updated_at"])
        return task


@outbox.consumer("turnover", topics=("booking.created", "booking.updated", "booking.cancelled"))
def on_booking_event(event: OutboxEvent) -> None:
    """The outbox consumer: bring the booking's turnover task up to date (idempotent)."""
    booking_id = event.payload.get("booking_id")
    if booking_id is not None:
        sync_turnover_for_booking(booking_id)


def redact_guest_notes(*, booking_ids, secrets: list[str], replacement: str) -> int:
    """Privacy erasure (``privacy.services.erase_guest``): the cleaners' notes of the guest's stays may name them;
    each quote of ``secrets`` becomes ``replacement``. Returns the tasks changed."""
    secrets = [s for s in secrets if s]
    changed = 0
    for task in TurnoverTask.objects.filter(booking_id__in=booking_ids).exclude(notes=""):
        notes = task.notes
        for secret in secrets:
            notes = notes.replace(secret, replacement)
        if notes != task.notes:
            task.notes = notes
            task.save(update_fields=["notes", "updated_at"])
            changed += 1
    return changed
