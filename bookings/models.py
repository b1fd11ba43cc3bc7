"""Occupancy: bookings and holds with their status groups and audit trail, availability blocks, turnover tasks,
and what the booking path keeps beside them (idempotency keys, guest messages, the emails sent).

Bookings are written only by ``bookings.services``, blocks by ``bookings.blocks``, turnover tasks by
``bookings.turnover``. A hold is a booking row in status ``held``: it lives in the same table and under the same
exclusion constraint as bookings.
"""

import builtins
import uuid
from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from core.fields import UpwardReference
from core.models import AuditRow
from properties.models import DateRangeModel, Property


class BookingStatus(models.TextChoices):
    INQUIRY = "inquiry", _("Inquiry")
    HELD = "held", _("Held")
    RESERVED = "reserved", _("Reserved")
    CONFIRMED = "confirmed", _("Confirmed")
    CHECKED_IN = "checked_in", _("Checked in")
    CHECKED_OUT = "checked_out", _("Checked out")
    CANCELLED = "cancelled", _("Cancelled")
    EXPIRED = "expired", _("Expired")
    RELEASED = "released", _("Released")


# --- status groups ------------------------------------------------------------------------------------
# Every named group of booking statuses is defined here, once, and used everywhere (checks, querysets,
# pages). They belong with the transition table (``bookings.state_machine.TRANSITIONS``), but this module
# needs them itself (the exclusion constraint, ``is_occupying``, ``balance_due``) and ``state_machine``
# imports this module, so defining them there would be an import cycle: they sit beside ``BookingStatus``
# instead, and ``tests/bookings/test_status_groups.py`` checks that they agree with ``TRANSITIONS``.

# Statuses whose rows occupy their nights (the exclusion constraint's WHERE clause).
OCCUPYING_STATUSES = (
    BookingStatus.HELD,
    BookingStatus.RESERVED,
    BookingStatus.CONFIRMED,
    BookingStatus.CHECKED_IN,
    BookingStatus.CHECKED_OUT,
)
# Statuses that stop occupying once ``expires_at`` has passed, whether or not the
# expiry job has run yet (a hold and an unpaid reservation); only they carry an ``expires_at``.
EXPIRING_STATUSES = (BookingStatus.HELD, BookingStatus.RESERVED)
# A sold stay: confirmed, and the statuses a confirmed stay moves on to (checked in, checked out). These count in
# reports and turnovers, show as "confirmed" to the guest, and a second payment for one is refunded.
CONFIRMED_STATUSES = (BookingStatus.CONFIRMED, BookingStatus.CHECKED_IN, BookingStatus.CHECKED_OUT)
# Statuses that may move to ``cancelled`` (the transition table's sources of it). Whoever cancels adds
# their own conditions on top: a guest only before the arrival day and while a reservation still holds its
# dates (``services.guest_cancellation_refusal``), a channel feed only a future stay that still occupies
# (``channels.reconcile``); an owner needs nothing more.
CANCELLABLE_STATUSES = (BookingStatus.INQUIRY, BookingStatus.RESERVED, BookingStatus.CONFIRMED)
# Statuses a payment received confirms (the transition table's sources of ``confirmed``): a reservation, or an
# expired one whose dates are still free (``services.confirm_late_payment``; an owner confirms only a reservation).
CONFIRMABLE_BY_PAYMENT_STATUSES = (BookingStatus.RESERVED, BookingStatus.EXPIRED)
# Ended without a stay: cancelled, expired or released. Such a booking holds no nights and owes nothing
# (an expired one may still be revived by a late payment, see above).
CALLED_OFF_STATUSES = (BookingStatus.CANCELLED, BookingStatus.EXPIRED, BookingStatus.RELEASED)
# Statuses whose dates and guests may be changed (``bookings.services.change_booking``): a reservation that still
# holds its dates, or a confirmed stay before it starts. Once checked in the stay is under way; a called-off booking
# has nothing left to change. Not a transition (the status stays), so no source in ``TRANSITIONS`` defines it.
CHANGEABLE_STATUSES = (BookingStatus.RESERVED, BookingStatus.CONFIRMED)
# A confirmation email may be resent while the stay is confirmed or under way (not once it is over).
CONFIRMATION_RESEND_STATUSES = (BookingStatus.CONFIRMED, BookingStatus.CHECKED_IN)

# The permissions of ``Booking.Meta.permissions``, and which one a person needs to move a booking by hand to each
# status (the admin's buttons and actions, ``PATCH /api/v1/bookings/{reference}/status``): owners confirm and
# cancel, owners and staff check guests in and out.
MANAGE_BOOKING = "bookings.manage_booking"
CHECKIN_BOOKING = "bookings.checkin_booking"
HAND_MOVE_PERMISSIONS = {
    BookingStatus.CONFIRMED: MANAGE_BOOKING,
    BookingStatus.CANCELLED: MANAGE_BOOKING,
    BookingStatus.CHECKED_IN: CHECKIN_BOOKING,
    BookingStatus.CHECKED_OUT: CHECKIN_BOOKING,
}


class PaymentStatus(models.TextChoices):
    UNPAID = "unpaid", _("Unpaid")
    PARTIALLY_PAID = "partially_paid", _("Partially paid")
    PAID = "paid", _("Paid")
    PARTIALLY_REFUNDED = "partially_refunded", _("Partially refunded")
    REFUNDED = "refunded", _("Refunded")
    FAILED = "failed", _("Failed")


class Source(models.TextChoices):
    DIRECT = "direct", "Direct"
    AIRBNB = "airbnb", "Airbnb"
    BOOKING_COM = "booking_com", "Booking.com"
    EXPEDIA = "expedia", "Expedia"
    FEWO_DIREKT = "fewo_direkt", "FeWo-direkt / Vrbo"
    GOOGLE_VR = "google_vr", "Google Vacation Rentals"
    OTHER = "other", "Other channel"
    OWNER = "owner", "Owner / staff"


class Referral(models.TextChoices):
    """What brought the guest of a booking sold here to our site, when a landing link says so (the reports count
    bookings by it): Google's free booking links land on ``/go/google/<property>`` (``storefront.landing_views``),
    which remembers it in the session for the checkout. A booking's ``source`` stays where it was sold (direct)."""

    GOOGLE_VR = "google_vr", "Google Vacation Rentals (free booking link)"


CHANNEL_SOURCES = (Source.AIRBNB, Source.BOOKING_COM, Source.EXPEDIA, Source.FEWO_DIREKT, Source.GOOGLE_VR,
                   Source.OTHER)


def occupying_q(now=None, prefix: str = "") -> Q:
    """Rows that occupy their nights at ``now``: an expired hold or reservation is free
    even before the expiry job has marked it (docs/architecture.md, Invariant 3)."""
    now = now or timezone.now()
    p = prefix
    return Q(**{f"{p}status__in": OCCUPYING_STATUSES}) & ~Q(
        **{f"{p}status__in": EXPIRING_STATUSES, f"{p}expires_at__lte": now}
    )


class BookingQuerySet(models.QuerySet):
    def occupying(self, now=None):
        return self.filter(occupying_q(now))

    def overlapping(self, check_in, check_out):
        return self.filter(check_in__lt=check_out, check_out__gt=check_in)

    def stale(self, now=None):
        """Holds and reservations whose time ran out but that the expiry job has not marked yet."""
        return self.filter(status__in=EXPIRING_STATUSES, expires_at__lte=now or timezone.now())

    def visible_to(self, user):
        if user.is_superuser:
            return self
        return self.filter(Q(property__owner=user) | Q(property__staff=user)).distinct()


class BookingGroup(models.Model):
    """Several bookings a guest made in one checkout ("book all"): one per stay, reserved all-or-nothing by
    ``bookings.services.reserve_group`` and paid with one card payment (``payments.groups``). Each booking keeps
    its own status, price, policy snapshot and cancellation; the group only ties them together."""

    reference = models.CharField(max_length=20, unique=True, editable=False)
    lead_guest = models.ForeignKey("guests.Guest", on_delete=models.PROTECT, related_name="booking_groups")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self):
        return self.reference


class Booking(models.Model):
    reference = models.CharField(max_length=20, unique=True, editable=False)
    group = models.ForeignKey(BookingGroup, null=True, blank=True, on_delete=models.PROTECT, related_name="bookings",
                              help_text="The group booking this stay was reserved with, if any.")
    property = models.ForeignKey("properties.Property", on_delete=models.PROTECT, related_name="bookings")
    guest = models.ForeignKey("guests.Guest", null=True, blank=True, on_delete=models.PROTECT, related_name="bookings")
    source = models.CharField(max_length=20, choices=Source.choices, default=Source.DIRECT)
    external_id = models.CharField(max_length=255, blank=True, help_text="The booking's id on its channel.")
    referral = models.CharField(
        max_length=30, choices=Referral.choices, blank=True, default="", db_default="",
        help_text="What brought the guest to our site (a landing link), for bookings sold here; empty when unknown.")

    language = models.CharField(
        max_length=8, choices=settings.LANGUAGES, default="en", db_default="en",
        help_text="The language the guest booked in: every email to the guest is written in it (docs/i18n.md).")

    check_in = models.DateField()
    check_out = models.DateField()
    adults = models.PositiveSmallIntegerField(default=1)
    children = models.PositiveSmallIntegerField(default=0)

    status = models.CharField(max_length=20, choices=BookingStatus.choices, db_index=True)
    payment_status = models.CharField(max_length=20, choices=PaymentStatus.choices, default=PaymentStatus.UNPAID)

    currency = models.CharField(max_length=3)
    quote = models.JSONField(default=dict, blank=True, help_text="The quote this booking was sold at.")
    subtotal = models.DecimalField(max_digits=12, decimal_places=2, default=0, help_text="Nights before discounts.")
    fees = models.DecimalField(max_digits=12, decimal_places=2, default=0)
    discounts = models.DecimalField(max_digits=12, decimal_places=2, default=0)
    taxes = models.DecimalField(max_digits=12, decimal_places=2, default=0)
    total = models.DecimalField(max_digits=12, decimal_places=2, default=0)
    amount_paid = models.DecimalField(max_digits=12, decimal_places=2, default=0)
    amount_refunded = models.DecimalField(max_digits=12, decimal_places=2, default=0)
    # A channel booking's price is what the platform charged the guest; ours (total, from our quote) is what the
    # nights are worth here. Empty for direct bookings and iCal imports, which carry no price.
    platform_total = models.DecimalField(
        max_digits=12, decimal_places=2, null=True, blank=True,
        help_text="What the platform charged the guest, in the booking's currency (API imports).")
    cancellation_policy = models.JSONField(default=dict, blank=True, help_text="Snapshot of the policy sold.")

    expires_at = models.DateTimeField(null=True, blank=True, help_text="Held and reserved rows free their dates then.")
    special_requests = models.TextField(blank=True)
    cancellation_reason = models.TextField(blank=True)
    rules_overridden = models.BooleanField(default=False, help_text="Stay rules were overridden by an owner.")
    # 0 for everything we sell and for every channel stay that collided with nothing. A channel stay that arrived
    # on nights another stay already occupies is still recorded (the platform sold it: an overbooking the owner
    # must resolve, ``channels.reconcile``) and takes the lowest lane >= 1 that none of the stays it overlaps
    # uses. The exclusion constraint ``booking_no_overlap`` forbids overlaps within a lane, so it keeps holding
    # for all our own sales (lane 0 only: ``booking_lane_channel_only``); availability, search, calendars and
    # feeds ignore lanes and treat every occupying row's nights as taken. README: "What a platform sold".
    overbooking_lane = models.PositiveSmallIntegerField(
        default=0, db_default=0,  # db_default: raw writers (the benchmark's COPY) need not know the column
        help_text="0, or the lane of a channel stay that overlaps another stay (an overbooking).")
    access_version = models.PositiveIntegerField(
        default=0, help_text="Embedded in the guest's magic links; bumping it revokes every link issued before."
    )

    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    held_at = models.DateTimeField(null=True, blank=True)
    reserved_at = models.DateTimeField(null=True, blank=True)
    confirmed_at = models.DateTimeField(null=True, blank=True)
    checked_in_at = models.DateTimeField(null=True, blank=True)
    checked_out_at = models.DateTimeField(null=True, blank=True)
    cancelled_at = models.DateTimeField(null=True, blank=True)
    expired_at = models.DateTimeField(null=True, blank=True)
    released_at = models.DateTimeField(null=True, blank=True)

    objects = BookingQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        # Role permissions beyond view/add/change/delete (granted to groups in guests.roles).
        permissions = [
            ("manage_booking", "Can confirm, cancel and refund bookings and take owner bookings"),
            ("checkin_booking", "Can check guests in and out and resend confirmations"),
            ("view_reports", "Can view reports (occupancy, ADR, RevPAR, revenue)"),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(check_out__gt=models.F("check_in")), name="booking_dates_valid"),
            # Only a stay another platform sold may sit outside lane 0: whatever we sell ourselves stays under the
            # exclusion constraint's guarantee against every other lane-0 row.
            models.CheckConstraint(condition=Q(overbooking_lane=0) | Q(source__in=[s.value for s in CHANNEL_SOURCES]),
                                   name="booking_lane_channel_only"),
            models.UniqueConstraint(
                fields=["property", "source", "external_id"],
                condition=~Q(external_id=""),
                name="booking_unique_external_id",
            ),
            # The exclusion constraint against double-booking is created on
            # PostgreSQL by migration 0002 (raw SQL: its column order matters
            # for search speed; see docs/architecture.md "Measured facts").
        ]
        indexes = [
            models.Index(fields=["property", "check_in"]),
            models.Index(fields=["status", "expires_at"]),
        ]

    def __str__(self):
        return self.reference

    @builtins.property  # `property` is the FK field in this class body
    def nights(self) -> int:
        return (self.check_out - self.check_in).days

    @builtins.property  # `property` is the FK field in this class body
    def guests(self) -> int:
        return self.adults + self.children

    @builtins.property  # `property` is the FK field in this class body
    def is_hold(self) -> bool:
        return self.status == BookingStatus.HELD

    @builtins.property  # `property` is the FK field in this class body
    def is_overbooked(self) -> bool:
        """Recorded on nights another stay occupies too (a channel stay the owner must resolve)."""
        return self.overbooking_lane > 0

    @builtins.property  # `property` is the FK field in this class body
    def balance_due(self) -> Decimal:
        """What the guest still owes: ``total - amount_paid``, never below zero, and zero once the booking is
        called off (cancelled, expired or released). Every page, email, API answer and payment uses this.

        Decisions: a negative difference (paid more than the total, e.g. a second payment before its automatic
        refund) is a credit owed to the guest, returned as a refund, not a negative debt, so the balance is
        zero. Refunds do not raise it: a refund gives back money the guest is no longer charged, it does not
        make the stay owe it again (``amount_paid`` counts what was captured, refunded or not). A called-off
        booking owes nothing: what its cancellation policy keeps was settled when it was cancelled.
        """
        if self.status in CALLED_OFF_STATUSES:
            return Decimal(0)
        return max(Decimal(self.total) - Decimal(self.amount_paid), Decimal(0))

    def awaits_payment(self, now=None) -> bool:
        """A reservation that still holds its dates and waits for the guest's payment (the pay link works, a
        manual payment may be chosen, the hold may be extended). Once ``expires_at`` has passed it no longer
        does, whether or not the expiry job has run; a payment that arrives then is a late one."""
        return self.status == BookingStatus.RESERVED and self.is_occupying(now)

    def time_ran_out(self, now=None) -> bool:
        """A hold or reservation whose ``expires_at`` has passed: it no longer occupies its nights, whether or not
        the expiry job has marked it ``expired`` yet (the same rule as ``occupying_q`` and ``stale()`` in SQL)."""
        return (self.status in EXPIRING_STATUSES and self.expires_at is not None
                and self.expires_at <= (now or timezone.now()))

    def is_occupying(self, now=None) -> bool:
        return self.status in OCCUPYING_STATUSES and not self.time_ran_out(now)


class BookingEvent(AuditRow):
    """One row per status change of a booking (``core.models.AuditRow``). Never updated or deleted."""

    booking = models.ForeignKey(Booking, on_delete=models.PROTECT, related_name="events")

    class Meta(AuditRow.Meta):
        pass

    def __str__(self):
        return f"{self.booking_id}: {self.from_status or '∅'} → {self.to_status}"



class IdempotencyKey(models.Model):
    """A client's ``Idempotency-Key`` and the response it got, kept for 24 hours."""

    scope = models.CharField(max_length=200, help_text="Endpoint and client the key belongs to.")
    key = models.CharField(max_length=255)
    request_hash = models.CharField(max_length=64)
    # Written in the same transaction as the effect; 0 only inside that transaction.
    response_status = models.PositiveSmallIntegerField(default=0)
    response_body = models.JSONField(default=dict)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["scope", "key"], name="idempotency_key_unique")]

    def __str__(self):
        return f"{self.scope} {self.key}"


class GuestMessage(models.Model):
    """A message the guest sent the owner from the guest portal (the owner reads it in the admin)."""

    booking = models.ForeignKey(Booking, on_delete=models.CASCADE, related_name="messages")
    sender = models.CharField(max_length=254, help_text="The guest's email address (or name) as shown on the booking.")
    body = models.TextField()
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self):
        return f"{self.booking_id}: {self.sender}"


class EmailStatus(models.TextChoices):
    """Where one decided email is on its way to the mail server (``bookings.notifications.send``)."""

    PENDING = "pending", "Pending"
    SENDING = "sending", "Sending (claimed by a worker)"
    SENT = "sent", "Sent"
    UNKNOWN = "unknown", "Unknown: check with the recipient"
    FAILED = "failed", "Failed: given up"


class SentEmail(models.Model):
    """One email the system decided to send, keyed so that it is sent at most once.

    The row is written in the same transaction as the decision (the outbox
    consumer's, or the guest message's), ``pending``. Sending claims it first in
    a committed step of its own (``sending``, ``claimed_at``), then talks to the
    mail server, then records the result (``sent`` and ``sent_at``; back to
    ``pending`` when the server surely did not take it). A claim that is never
    confirmed (the worker died between the server's acceptance and the record)
    becomes ``unknown`` and is not sent again automatically (at most once, see
    ``bookings.notifications``). A unique ``dedupe_key`` makes a replayed or
    redelivered event decide nothing new; ``uid`` makes the email's stable
    ``Message-ID``."""

    booking = models.ForeignKey(Booking, null=True, blank=True, on_delete=models.CASCADE, related_name="emails")
    kind = models.CharField(max_length=40, db_index=True)
    dedupe_key = models.CharField(max_length=200, unique=True)
    event_id = models.UUIDField(null=True, blank=True, help_text="The outbox event that caused it, if any.")
    uid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False,
                           help_text="Globally unique: the left part of the email's Message-ID, the same on every try.")
    to = models.EmailField()
    data = models.JSONField(default=dict, blank=True)
    status = models.CharField(max_length=10, choices=EmailStatus.choices, default=EmailStatus.PENDING)
    created_at = models.DateTimeField(default=timezone.now)
    claimed_at = models.DateTimeField(null=True, blank=True, help_text="When a worker last claimed it to send it.")
    sent_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    last_error = models.TextField(blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["created_at"], condition=Q(status__in=["pending", "sending"]),
                                name="sentemail_unsent")]

    def __str__(self):
        return f"{self.kind} → {self.to}"


# --- blocks and turnovers (moved from properties; tables keep their names) -------------------------------


class AvailabilityBlock(DateRangeModel):
    """Nights taken off the market: the owner's own blocks, and a platform's "not available" dates (channel
    blocks). Written only through ``bookings.blocks`` (owner blocks: checked against bookings under the
    property lock). Moved here from ``properties`` with state-only migrations: the table keeps its name."""

    class Reason(models.TextChoices):
        BLOCKED = "blocked", "Blocked"
        MAINTENANCE = "maintenance", "Maintenance"
        OWNER_USE = "owner_use", "Owner use"
        CHANNEL = "channel", "Not available on a channel"

    property = models.ForeignKey(Property, on_delete=models.CASCADE, related_name="blocks")
    reason = models.CharField(max_length=20, choices=Reason.choices, default=Reason.BLOCKED)
    note = models.CharField(max_length=200, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True)
    # A *channel block*: a platform's "not available" dates, owned by the connection that imported them and
    # replaced as a whole on each of its snapshots (channels.reconcile). Null for the owner's own blocks.
    # The id of a ``channel_sync.ChannelConnection``: channels is a layer above, so no foreign key (core.fields);
    # channels binds it (``block.connection``, ``connection__platform``) and deletes a connection's blocks
    # with it (channels.models, pre_delete).
    connection = UpwardReference(null=True, blank=True, db_index=True)
    tentative = models.BooleanField(default=False, help_text="Tentative on the platform (e.g. Vrbo 'Provisoire').")
    external_summary = models.TextField(blank=True, help_text="The event's summary and description as imported.")

    class Meta:
        db_table = "properties_availabilityblock"
        ordering = ["start_date", "id"]
        indexes = [models.Index(fields=["property", "start_date", "end_date"], name="properties__propert_a6b84d_idx")]
        constraints = [
            models.CheckConstraint(condition=models.Q(end_date__gt=models.F("start_date")),
                                   name="block_range_valid"),
        ]

    def __str__(self):
        return f"{self.get_reason_display()} {self.start_date}–{self.end_date}"


class TurnoverTask(models.Model):
    """The cleaning between a stay's check-out and the next check-in on the same property.

    Written only by ``bookings.turnover`` (the ``turnover`` outbox consumer and
    :func:`~bookings.turnover.mark_done`): one task per stay.
    """

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        DONE = "done", "Done"

    property = models.ForeignKey(Property, on_delete=models.CASCADE, related_name="turnover_tasks")
    booking = models.OneToOneField(Booking, on_delete=models.CASCADE, related_name="turnover_task",
                                   help_text="The stay that ends on the due date.")
    due_date = models.DateField(db_index=True, help_text="The stay's check-out day.")
    window_end = models.DateField(help_text="The next stay's check-in on this property, or the day after.")
    assignee = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
                                 related_name="turnover_tasks")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OPEN, db_index=True)
    done_at = models.DateTimeField(null=True, blank=True)
    done_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
                                related_name="+")
    notes = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "properties_turnovertask"
        ordering = ["due_date", "pk"]
        indexes = [models.Index(fields=["property", "due_date"], name="properties__propert_728bb0_idx")]

    def __str__(self):
        return f"Turnover {self.due_date} · {self.property}"


# --- occupancy, kept by the database for search ----------------------------------------------------------------


class NightBitsField(models.Field):
    """A bit string, one bit per night from ``Occupancy.origin`` (``varbit`` on PostgreSQL; text elsewhere, unused)."""

    description = "Bit string of nights"

    def db_type(self, connection):
        return "varbit" if connection.vendor == "postgresql" else "text"


class Occupancy(models.Model):
    """Each property's occupied nights as bit strings, for search (docs/performance-search.md).

    Written only by PostgreSQL triggers on ``bookings_booking`` and ``properties_availabilityblock`` (migration
    ``bookings.0018_occupancy``), in the same statement as every write that changes occupancy, whatever code path
    makes it; never by Python. Bit ``i`` of ``booked`` is the night ``origin + i``: set when a booking that occupies
    for good covers it (an occupying status, and not a hold or reservation with an ``expires_at``: those depend on
    the clock and are checked beside it); ``blocked`` likewise for availability blocks. Nights outside a string are
    free. A property without occupied nights has no row. Empty on SQLite (search reads it only on PostgreSQL).
    """

    property = models.OneToOneField(Property, primary_key=True, on_delete=models.DO_NOTHING, db_constraint=False,
                                    related_name="+")
    origin = models.DateField()
    booked = NightBitsField()
    blocked = NightBitsField()

    class Meta:
        db_table = "bookings_occupancy"
        default_permissions = ()

    def __str__(self):
        return f"occupancy of property {self.property_id} from {self.origin}"
