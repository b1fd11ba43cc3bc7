"""What a personal-data export contains and what an erasure does, table by table: the ONE place to register them.

* ``EXPORT_SECTIONS``: each :class:`ExportSection` names a key of the export's JSON and the function that reads it for
  an :class:`ExportScope` (which guest profiles, which of their bookings the reader may see, whether the reader is
  the guest). Adding a domain (e.g. ``messaging``'s threads, ``reviews``) is one function and one line here.
* ``ERASURE_STEPS``: each :class:`ErasureStep` names a step and the function that erases one guest's personal data
  from its tables through that domain's own service, in the erasure's transaction (``privacy.services.erase_guest``),
  returning counts for the audit row. Adding a domain is one function and one line here.

The format is versioned (``FORMAT_VERSION``, docs/privacy.md "Export format"): a new section is a compatible
change (readers ignore keys they do not know); renaming or removing a key bumps the version.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.db.models import QuerySet

from bookings.models import Booking, SentEmail
from core.actor import Actor
from guests.models import Guest
from payments.models import ManualPayment, Payment, Refund

FORMAT = "stayhold-personal-data"
FORMAT_VERSION = 1


@dataclass(frozen=True)
class ExportScope:
    """Whose data, and how much of it the reader may see.

    ``guest_ids``: the guest profiles exported. ``bookings``: their bookings the reader may see (all of them for the
    guest and superusers; for an owner or their staff only those of the properties they manage, ``Booking.visible_to``).
    ``account``: the guest's own account, exported only to the guest themselves. ``audience``: ``guest``, ``owner``
    or ``operator``."""

    guest_ids: tuple[int, ...]
    bookings: QuerySet[Booking]
    audience: str
    account: Any = None

    @property
    def guest_emails(self) -> list[str]:
        return sorted({e.lower() for e in Guest.objects.filter(pk__in=self.guest_ids).values_list("email", flat=True)
                       if e})


def _iso(value) -> str | None:
    return value.isoformat() if value is not None else None


def _money(value) -> str | None:
    return str(value) if value is not None else None


def export_profile(scope: ExportScope) -> list[dict]:
    return [{"id": g.pk, "name": g.name, "email": g.email, "phone": g.phone, "country": g.country,
             "created_at": _iso(g.created_at), "updated_at": _iso(g.updated_at)}
            for g in Guest.objects.filter(pk__in=scope.guest_ids).order_by("pk")]


def export_account(scope: ExportScope) -> dict | None:
    user = scope.account
    if user is None or scope.audience != "guest":
        return None
    from allauth.account.models import EmailAddress

    return {"email": user.email, "full_name": user.full_name, "date_joined": _iso(user.date_joined),
            "last_login": _iso(user.last_login),
            "email_addresses": [{"email": e.email, "verified": e.verified, "primary": e.primary}
                                for e in EmailAddress.objects.filter(user=user).order_by("email")]}


def export_bookings(scope: ExportScope) -> list[dict]:
    bookings = scope.bookings.select_related("property").prefetch_related("events").order_by("check_in", "pk")
    return [{
        "reference": b.reference, "guest_id": b.guest_id, "property": b.property.name, "source": b.source,
        "check_in": _iso(b.check_in), "check_out": _iso(b.check_out), "adults": b.adults, "children": b.children,
        "status": b.status, "payment_status": b.payment_status, "currency": b.currency,
        "subtotal": _money(b.subtotal), "fees": _money(b.fees), "discounts": _money(b.discounts),
        "taxes": _money(b.taxes), "total": _money(b.total), "amount_paid": _money(b.amount_paid),
        "amount_refunded": _money(b.amount_refunded), "special_requests": b.special_requests,
        "cancellation_reason": b.cancellation_reason, "created_at": _iso(b.created_at),
        # who changed the status is said by kind only (guest, owner, channel, system): the staff's names and
        # addresses are theirs, not the guest's
        "status_history": [{"at": _iso(e.created_at), "from": e.from_status, "to": e.to_status,
                            "by": e.actor_type, "reason": e.reason} for e in b.events.all()],
    } for b in bookings]


def export_messages(scope: ExportScope) -> list[dict]:
    """The conversations of the bookings (``messaging``): both sides and the automatic messages, with the name of
    any attached file (the file itself is on the booking's page). Messages of the old portal table
    (``bookings.GuestMessage``) were carried over into the threads by messaging's migration 0002."""
    from messaging.models import Message

    return [{"booking": m.thread.booking.reference, "at": _iso(m.created_at), "from": m.direction,
             "sender": m.author_label if m.direction == "guest" else m.get_direction_display(), "body": m.body,
             "attachment": m.attachment_name or None}
            for m in Message.objects.filter(thread__booking__in=scope.bookings).select_related("thread__booking")
            .order_by("created_at", "pk")]


def export_reviews(scope: ExportScope) -> list[dict]:
    """The reviews the guest wrote of their stays (``reviews``), with the owner's public reply."""
    from reviews.models import RATING_FIELDS, Review

    return [{"booking": r.booking.reference, "property": r.property.name, "created_at": _iso(r.created_at),
             "status": r.status, "ratings": {name: getattr(r, name) for name in RATING_FIELDS},
             "title": r.title, "body": r.body, "shown_as": r.guest_display_name, "owner_reply": r.reply or None}
            for r in Review.objects.filter(booking__in=scope.bookings).select_related("booking", "property")
            .order_by("created_at", "pk")]


def export_payments(scope: ExportScope) -> list[dict]:
    """Card and manual payments: method, amount, currency, status, dates. No card data exists here to leak (Stripe
    keeps it); the provider's ids and our idempotency keys are left out (they identify nothing of the guest's and
    would only help somebody replay calls)."""
    card = [{"booking": p.booking.reference, "method": p.provider, "attempt": p.attempt, "amount": _money(p.amount),
             "currency": p.currency, "status": p.status, "amount_refunded": _money(p.amount_refunded),
             "created_at": _iso(p.created_at), "succeeded_at": _iso(p.succeeded_at)}
            for p in Payment.objects.filter(booking__in=scope.bookings).select_related("booking")
            .order_by("created_at", "pk")]
    manual = [{"booking": m.booking.reference, "method": m.method.kind, "payment_code": m.code,
               "amount": _money(m.amount), "currency": m.currency, "status": m.status,
               "amount_received": _money(m.amount_received), "your_reference": m.guest_reference,
               "proof_uploaded": bool(m.proof), "created_at": _iso(m.created_at), "claimed_at": _iso(m.claimed_at),
               "verified_at": _iso(m.verified_at)}
              for m in ManualPayment.objects.filter(booking__in=scope.bookings).select_related("booking", "method")
              .order_by("created_at", "pk")]
    return card + manual


def export_refunds(scope: ExportScope) -> list[dict]:
    return [{"booking": r.payment.booking.reference, "amount": _money(r.amount), "currency": r.currency,
             "status": r.status, "reason": r.reason, "created_at": _iso(r.created_at)}
            for r in Refund.objects.filter(payment__booking__in=scope.bookings).select_related("payment__booking")
            .order_by("created_at", "pk")]


def export_emails(scope: ExportScope) -> list[dict]:
    """The emails sent to the guest (kind and dates; their text is made from the data above)."""
    emails = scope.guest_emails
    if not emails:
        return []
    return [{"booking": e.booking.reference if e.booking else None, "kind": e.kind, "to": e.to,
             "status": e.status, "created_at": _iso(e.created_at), "sent_at": _iso(e.sent_at)}
            for e in SentEmail.objects.filter(booking__in=scope.bookings, to__in=emails).select_related("booking")
            .order_by("created_at", "pk")]


@dataclass(frozen=True)
class ExportSection:
    key: str
    read: Callable[[ExportScope], Any]


EXPORT_SECTIONS: list[ExportSection] = [
    ExportSection("profile", export_profile),
    ExportSection("account", export_account),
    ExportSection("bookings", export_bookings),
    ExportSection("messages", export_messages),
    ExportSection("payments", export_payments),
    ExportSection("refunds", export_refunds),
    ExportSection("emails", export_emails),
    ExportSection("reviews", export_reviews),
]


# --- erasure ------------------------------------------------------------------------------------------------


@dataclass
class ErasureContext:
    """One guest's erasure: the profile, its bookings (ids, in property order: the locks' stable order), the
    pseudonym that replaces the person, every spelling of what identified them (``secrets``), who erases."""

    guest: Guest
    booking_ids: list[int]
    pseudonym: str
    secrets: list[str]
    actor: Actor
    counts: dict[str, Any] = field(default_factory=dict)


def erase_bookings(ctx: ErasureContext) -> dict:
    from bookings.services import erase_guest_details

    totals: dict[str, int] = {}
    for booking_id in ctx.booking_ids:
        done = erase_guest_details(booking_id=booking_id, pseudonym=ctx.pseudonym, secrets=ctx.secrets,
                                   actor=ctx.actor)
        for key, value in dataclasses.asdict(done).items():
            totals[key] = totals.get(key, 0) + value
    totals["bookings"] = len(ctx.booking_ids)
    return totals


def erase_payments(ctx: ErasureContext) -> dict:
    from payments.services import erase_guest_payment_data

    return dataclasses.asdict(erase_guest_payment_data(booking_ids=ctx.booking_ids, pseudonym=ctx.pseudonym,
                                                       secrets=ctx.secrets))


def erase_channel_texts(ctx: ErasureContext) -> dict:
    from channels.services import erase_guest_texts

    return {"conflicts": erase_guest_texts(booking_ids=ctx.booking_ids, secrets=ctx.secrets,
                                           replacement=ctx.pseudonym)}


def erase_channel_block_summaries(ctx: ErasureContext) -> dict:
    from bookings.blocks import redact_channel_summaries

    property_ids = set(Booking.objects.filter(pk__in=ctx.booking_ids).values_list("property_id", flat=True))
    return {"channel_blocks": redact_channel_summaries(property_ids=property_ids, secrets=ctx.secrets,
                                                       replacement=ctx.pseudonym)}



def erase_turnover_notes(ctx: ErasureContext) -> dict:
    from bookings.turnover import redact_guest_notes

    return {"turnover_tasks": redact_guest_notes(booking_ids=ctx.booking_ids, secrets=ctx.secrets,
                                                 replacement=ctx.pseudonym)}


def erase_threads(ctx: ErasureContext) -> dict:
    from messaging.services import erase_guest_messages

    return erase_guest_messages(booking_ids=ctx.booking_ids, pseudonym=ctx.pseudonym, secrets=ctx.secrets)


def erase_reviews(ctx: ErasureContext) -> dict:
    from reviews.services import anonymise_reviews

    return anonymise_reviews(booking_ids=ctx.booking_ids, pseudonym=ctx.pseudonym, secrets=ctx.secrets,
                             actor=ctx.actor)


def erase_accounts(ctx: ErasureContext) -> dict:
    """The guest's account: the one linked to the profile, and any whose VERIFIED address is the profile's (the
    account that sees these bookings on "my bookings"). Back-office accounts are never touched here."""
    from allauth.account.models import EmailAddress

    from guests.models import User
    from guests.services import erase_account

    ids = {ctx.guest.user_id} if ctx.guest.user_id else set()
    if ctx.guest.email:
        ids |= set(EmailAddress.objects.filter(email__iexact=ctx.guest.email, verified=True)
                   .values_list("user_id", flat=True))
    users = list(User.objects.filter(pk__in=ids, is_staff=False, is_superuser=False))
    for user in users:
        erase_account(user)
    return {"accounts": len(users)}


def erase_profile(ctx: ErasureContext) -> dict:
    from guests.services import erase_guest_profile

    erase_guest_profile(ctx.guest, pseudonym=ctx.pseudonym)
    return {"profile": 1}


@dataclass(frozen=True)
class ErasureStep:
    name: str
    run: Callable[[ErasureContext], dict]


ERASURE_STEPS: list[ErasureStep] = [
    ErasureStep("bookings", erase_bookings),  # texts, messages, emails, links, booking audit rows
    ErasureStep("turnovers", erase_turnover_notes),  # the cleaners' notes of the stays
    ErasureStep("payments", erase_payments),  # proofs, guest references, payment audit rows
    ErasureStep("channels", erase_channel_texts),  # conflicts: what the platforms' feeds said about the stay
    ErasureStep("channel_blocks", erase_channel_block_summaries),  # imported "not available" summaries
    ErasureStep("messaging", erase_threads),  # the conversations: the guest's texts and files, their name in others
    ErasureStep("reviews", erase_reviews),  # the guest's review texts and shown name (the ratings stay)
    ErasureStep("accounts", erase_accounts),  # the guest's own account, anonymised and closed
    ErasureStep("profile", erase_profile),  # last: the steps above read the profile's address and name
]


def guest_secrets(guest: Guest) -> list[str]:
    """Every spelling of what identified the guest in free text: address (as stored and lower-cased), phone, name.
    A name shorter than 4 characters is left out: replacing "Al" everywhere would mangle other words."""
    values = [guest.email, guest.email.lower(), guest.phone]
    if len(guest.name.strip()) >= 4:
        values.append(guest.name.strip())
    return [v for v in dict.fromkeys(values) if v]

