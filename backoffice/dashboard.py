"""The owner dashboard shown on the admin index: what needs attention today.

:func:`dashboard_context` is merged into the admin index context by
``backoffice.admin_site.StayholdAdminSite.index``; ``templates/admin/index.html``
shows it above the app list. Everything is scoped to the properties the user
manages (``Property.objects.managed_by``; a superuser sees all) and read with a
fixed number of queries, each list capped, so a large portfolio costs the same
round trips as a small one.

"Today" for arrivals and departures is each *property's* local date (stays are
in local dates, see ``properties.pricing.local_today``). Turnover tasks use the
site's date, as the staff task list does (``bookings.turnover_admin.DueFilter``),
so the dashboard and the list it links to agree.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, timedelta

from django.db.models import Count, F, Q, Sum
from django.urls import reverse
from django.utils import timezone
from django.utils.http import urlencode
from django.utils.text import Truncator

from bookings.models import CONFIRMED_STATUSES, EXPIRING_STATUSES, Booking, BookingStatus, TurnoverTask, occupying_q
from core.tenancy import scope_to_user
from messaging.selectors import unread_count
from payments.selectors import balance_state, deposits_to_settle, outstanding_balances, verification_queue
from properties.display import short_date
from properties.pricing import local_today

EXPIRING_WITHIN = timedelta(hours=2)
UPCOMING_DAYS = 7
LIST_LIMIT = 10
ARRIVALS_LIMIT = 50

ARRIVING_STATUSES = (BookingStatus.RESERVED, BookingStatus.CONFIRMED, BookingStatus.CHECKED_IN)


@dataclass
class Dashboard:
    today: date
    now: object
    arrivals: list = field(default_factory=list)
    departures: list = field(default_factory=list)
    in_house_stays: int = 0
    in_house_guests: int = 0
    pending_payments: list = field(default_factory=list)
    pending_payments_count: int = 0
    expiring: list = field(default_factory=list)
    expiring_count: int = 0
    tasks_today: list = field(default_factory=list)
    tasks_overdue: list = field(default_factory=list)
    tasks_overdue_count: int = 0
    upcoming_arrivals: int = 0
    sync_problems: list = field(default_factory=list)
    unread_messages: int = 0
    balances: list = field(default_factory=list)
    balances_count: int = 0
    deposits: list = field(default_factory=list)
    deposits_count: int = 0
    links: dict = field(default_factory=dict)


@dataclass
class SyncProblem:
    """One line of the dashboard's channel panel: what is wrong, where, and the admin page that fixes it."""

    kind: str  # "failing" | "warning" | "stale" | "conflict"
    label: str
    property_name: str
    platform: str
    detail: str
    url: str
    since: object = None


class SyncProblems(list):
    """The panel's lines, plus what the empty text and the "more" links need."""

    has_connections: bool = True
    more_connections: int = 0
    more_conflicts: int = 0
    links: dict


def sync_problems(user, now=None) -> SyncProblems:
    """Channel problems of ``user``'s properties: connections failing, warning or stale (no success for 3 poll
    intervals, ``channels.health``), then open conflicts; each links to its admin page.

    At most 4 queries whatever the portfolio: the two capped lists, a count when a list is full, and whether
    any connection exists (only when there is no problem, for the empty text)."""
    from channels.admin import redact
    from channels.health import PROBLEM_STATUSES, open_conflicts, problem_connections

    now = now or timezone.now()
    problems = SyncProblems()
    problems.links = {"connections": reverse("admin:channel_sync_channelconnection_changelist") + "?health=attention",
                      "conflicts": reverse("admin:channel_sync_syncconflict_changelist") + "?state=open"}
    connections = problem_connections(user, now).select_related("property").defer("export_token")
    rows = list(connections[:LIST_LIMIT + 1])
    if len(rows) > LIST_LIMIT:
        problems.more_connections = connections.count() - LIST_LIMIT
    for conn in rows[:LIST_LIMIT]:
        if conn.sync_enabled and conn.status in PROBLEM_STATUSES:
            kind, label = conn.status, conn.get_status_display()
            detail = Truncator(redact(conn.last_error, conn.import_url)).chars(140) or "See the last runs."
        else:
            kind, label = "stale", "Stale"
            detail = "Never synced successfully."
            if conn.last_success_at:
                since = timezone.localtime(conn.last_success_at)
                detail = f"No successful sync since {short_date(since)} {since:%H:%M}."
        problems.append(SyncProblem(kind=kind, label=label, property_name=conn.property.name,
                                    platform=conn.get_platform_display(), detail=detail, since=conn.last_success_at,
                                    url=reverse("admin:channel_sync_channelconnection_change", args=[conn.pk])))
    conflicts = open_conflicts(user).select_related("property", "connection", "other_booking").defer(
        "connection__import_url", "connection__export_token")
    rows = list(conflicts[:LIST_LIMIT + 1])
    if len(rows) > LIST_LIMIT:
        problems.more_conflicts = conflicts.count() - LIST_LIMIT
    for conflict in rows[:LIST_LIMIT]:
        other = conflict.other_booking.reference if conflict.other_booking_id else "a block"
        problems.append(SyncProblem(
            kind="conflict", label="Conflict", property_name=conflict.property.name,
            platform=conflict.connection.get_platform_display(),
            detail=f"{conflict.check_in:%d %b} – {conflict.check_out:%d %b %Y} overlaps {other}.",
            since=conflict.detected_at, url=reverse("admin:channel_sync_syncconflict_change", args=[conflict.pk])))
    if not problems:
        from channels.models import ChannelConnection

        problems.has_connections = scope_to_user(ChannelConnection.objects.all(), user, "property").exists()
    return problems


def arrivals_and_departures(user, now) -> tuple[list[Booking], list[Booking]]:
    """Stays arriving and leaving on each property's local today (one query).

    Every local date is within a day of the UTC date, so the query reads the three candidate days
    and Python keeps the rows whose date is the property's own today."""
    utc_today = now.astimezone(UTC).date()
    days = [utc_today - timedelta(days=1), utc_today, utc_today + timedelta(days=1)]
    rows = (scope_to_user(Booking.objects.all(), user, "property")
            .filter(occupying_q(now))
            .filter(Q(check_in__in=days, status__in=ARRIVING_STATUSES)
                    | Q(check_out__in=days, status__in=CONFIRMED_STATUSES))
            .select_related("property", "guest")
            .only("pk", "reference", "status", "check_in", "check_out", "adults", "children", "source",
                  "property", "property__name", "property__timezone", "property__check_in_time",
                  "property__check_out_time", "guest", "guest__name")
            .order_by("property__name", "check_in", "pk"))
    arrivals, departures = [], []
    local_days = {}
    for booking in rows:
        tz = booking.property.timezone
        if tz not in local_days:
            local_days[tz] = local_today(booking.property, now)
        today = local_days[tz]
        if booking.check_in == today and booking.status in ARRIVING_STATUSES:
            arrivals.append(booking)
        if booking.check_out == today and booking.status in CONFIRMED_STATUSES:
            departures.append(booking)
    return arrivals, departures


def expiring_reservations(user, now, within: timedelta = EXPIRING_WITHIN):
    """Holds and unpaid reservations whose dates free up within ``within`` (soonest first)."""
    return (scope_to_user(Booking.objects.all(), user, "property")
            .filter(status__in=EXPIRING_STATUSES, expires_at__gt=now, expires_at__lte=now + within)
            .order_by("expires_at", "pk"))


def build_dashboard(user, now=None) -> Dashboard:
    now = now or timezone.now()
    today = timezone.localdate(now)
    board = Dashboard(today=today, now=now)

    arrivals, departures = arrivals_and_departures(user, now)
    board.arrivals, board.departures = arrivals[:ARRIVALS_LIMIT], departures[:ARRIVALS_LIMIT]

    in_house = (scope_to_user(Booking.objects.all(), user, "property")
                .filter(status=BookingStatus.CHECKED_IN)
                .aggregate(stays=Count("pk"), guests=Sum(F("adults") + F("children"))))
    board.in_house_stays, board.in_house_guests = in_house["stays"] or 0, in_house["guests"] or 0

    payments = verification_queue(user, now)
    board.pending_payments = list(payments.select_related("booking__property", "booking__guest", "method")
                                  [:LIST_LIMIT])
    board.pending_payments_count = payments.count()

    expiring = expiring_reservations(user, now)
    board.expiring = list(expiring.select_related("property", "guest")[:LIST_LIMIT])
    board.expiring_count = expiring.count()

    tasks = scope_to_user(TurnoverTask.objects.all(), user, "property").select_related("property", "assignee",
                                                                                         "booking")
    board.tasks_today = list(tasks.filter(due_date=today).order_by("-status", "property__name", "pk")[:ARRIVALS_LIMIT])
    overdue = tasks.filter(status=TurnoverTask.Status.OPEN, due_date__lt=today).order_by("due_date", "pk")
    board.tasks_overdue = list(overdue[:LIST_LIMIT])
    board.tasks_overdue_count = overdue.count()

    upcoming_from, upcoming_to = today + timedelta(days=1), today + timedelta(days=UPCOMING_DAYS)
    board.upcoming_arrivals = (scope_to_user(Booking.objects.all(), user, "property")
                               .filter(occupying_q(now), status__in=ARRIVING_STATUSES,
                                       check_in__gte=upcoming_from, check_in__lte=upcoming_to)
                               .count())

    board.sync_problems = sync_problems(user, now)
    board.unread_messages = unread_count(user)

    # One query per list while it is short (the count is its length), a count query only beyond LIST_LIMIT.
    balances = outstanding_balances(user, now)
    plans = list(balances[:LIST_LIMIT + 1])
    board.balances = [{"plan": p, "booking": p.booking, "state": balance_state(p, today),
                       "due": p.booking.balance_due} for p in plans[:LIST_LIMIT]]
    board.balances_count = len(plans) if len(plans) <= LIST_LIMIT else balances.count()
    deposits = deposits_to_settle(user, now)
    held = list(deposits[:LIST_LIMIT + 1])
    board.deposits = held[:LIST_LIMIT]
    board.deposits_count = len(held) if len(held) <= LIST_LIMIT else deposits.count()

    bookings = reverse("admin:bookings_booking_changelist")
    tasks_list = reverse("admin:bookings_turnovertask_changelist")
    board.links = {
        "arrivals": f"{bookings}?{urlencode({'check_in': today.isoformat()})}",
        "departures": f"{bookings}?{urlencode({'check_out': today.isoformat()})}",
        "in_house": f"{bookings}?{urlencode({'status__exact': BookingStatus.CHECKED_IN})}",
        "upcoming": f"{bookings}?" + urlencode({"check_in__gte": upcoming_from.isoformat(),
                                                 "check_in__lte": upcoming_to.isoformat()}),
        "payments_queue": reverse("admin:payments_manualpayment_queue"),
        "tasks_today": f"{tasks_list}?due=today",
        "tasks_overdue": f"{tasks_list}?due=overdue",
        "calendar": reverse("admin:calendar"),
        "inbox": reverse("admin:messaging_thread_changelist") + "?unread=yes",
    }
    return board


def dashboard_context(request) -> dict:
    """``{"dashboard": Dashboard}`` for back-office users who may view bookings; ``{}`` otherwise
    (the index then shows Django's app list alone)."""
    user = request.user
    if not (user.is_active and user.is_staff and user.has_perm("bookings.view_booking")):
        return {}
    return {"dashboard": build_dashboard(user)}
