"""The reads of messaging: the inbox, unread counts, a thread's timeline, the guest's view of a thread.

Each is a fixed number of queries whatever the number of threads or messages (the inbox: one query for the page
of threads with their unread counts and last message; a thread: messages and emails, one query each)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db.models import Count, OuterRef, Q, QuerySet, Subquery
from django.db.models.functions import Left

from bookings.models import SentEmail
from core.tenancy import scope_to_user

from .models import Direction, Message, Thread

UNREAD_BY_OWNER = Q(messages__direction=Direction.GUEST, messages__owner_read_at__isnull=True)


def inbox_threads(user) -> QuerySet[Thread]:
    """The threads of the properties ``user`` manages, newest message first, each with ``unread`` (guest messages
    the owner side has not read) and ``last_body`` (the start of the last message)."""
    last = Message.objects.filter(thread=OuterRef("pk")).order_by("-created_at", "-pk")
    return (scope_to_user(Thread.objects.all(), user, "property")
            .annotate(unread=Count("messages", filter=UNREAD_BY_OWNER),
                      last_body=Subquery(last.annotate(start=Left("body", 140)).values("start")[:1]),
                      last_direction=Subquery(last.values("direction")[:1]))
            .select_related("booking__guest", "property")
            .order_by("-last_message_at", "-pk"))


def unread_count(user) -> int:
    """Guest messages not yet read by the owner side, over the properties ``user`` manages (one query)."""
    unread = Message.objects.filter(direction=Direction.GUEST, owner_read_at__isnull=True)
    return scope_to_user(unread, user, "thread__property").count()


@dataclass(frozen=True)
class TimelineEntry:
    at: datetime
    kind: str  # "message" | "email"
    item: Any


def timeline(thread: Thread) -> list[TimelineEntry]:
    """The thread's messages and every email sent for its booking, oldest first (two queries)."""
    messages = thread.messages.select_related("author_user").all()
    emails = (SentEmail.objects.filter(booking_id=thread.booking_id)
              .only("pk", "kind", "to", "status", "created_at", "sent_at", "booking_id"))
    entries = [TimelineEntry(m.created_at, "message", m) for m in messages]
    entries += [TimelineEntry(e.created_at, "email", e) for e in emails]
    return sorted(entries, key=lambda e: (e.at, e.kind != "email"))


def guest_messages(booking) -> list[Message]:
    """The whole thread as the guest sees it (both sides and the automatic messages), oldest first."""
    return list(Message.objects.filter(thread__booking=booking).order_by("created_at", "pk"))
