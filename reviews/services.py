"""The only writer of reviews: the guest writes one (:func:`submit_review`), the owner replies (:func:`set_reply`)
and flags (:func:`flag_review`), staff keep or hide (:func:`moderate_review`).

Every status change goes through :func:`apply_review_transition` (one table, :data:`TRANSITIONS`) and writes an
immutable :class:`~reviews.models.ReviewEvent`; replies write one too (status unchanged). Who may do what is
decided here, not only in the admin: the back office's user must manage the property (``core.tenancy``'s rule:
owner, assigned staff or superuser) and hold the action's permission (``guests.roles``); moderation must also be
independent of the property's owner (neither the owner nor someone who works for them: ``User.employer``), so an
owner cannot hide a review through a staff account of their own.

No outbox event: nothing below or beside reviews reacts to a review yet (``core.outbox.TOPICS`` is closed); the
owner sees new reviews in the back office.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from bookings.models import Booking, BookingStatus
from core.actor import Actor
from properties.tenancy import managed_properties

from .errors import (
    AlreadyReviewed,
    InvalidReviewInput,
    InvalidReviewTransition,
    NotReviewable,
    ReviewError,
    ReviewNotFound,
    ReviewPermissionDenied,
)
from .models import (
    BODY_MAX_LENGTH,
    BODY_MIN_LENGTH,
    CATEGORY_FIELDS,
    FLAG_REASON_MAX_LENGTH,
    MAX_RATING,
    MIN_RATING,
    REPLY_MAX_LENGTH,
    TITLE_MAX_LENGTH,
    Review,
    ReviewEvent,
)
from .models import ReviewStatus as R

Action = ReviewEvent.Action

TRANSITIONS: dict[str, frozenset[str]] = {
    "": frozenset({R.PUBLISHED}),  # written: public at once
    R.PUBLISHED: frozenset({R.FLAGGED, R.HIDDEN}),  # the owner flags; staff may hide without a flag
    R.FLAGGED: frozenset({R.PUBLISHED, R.HIDDEN}),  # staff keep or hide
    R.HIDDEN: frozenset({R.PUBLISHED}),  # staff restore
}
REVIEWABLE_STATUSES = (BookingStatus.CHECKED_OUT,)
REPLY_PERMISSION = "reviews.reply_review"
FLAG_PERMISSION = "reviews.flag_review"
MODERATE_PERMISSION = "reviews.moderate_review"
# Staff decisions: decision → (status it moves to, audit action).
DECISIONS: dict[str, tuple[str, str]] = {
    "keep": (R.PUBLISHED, Action.KEPT),
    "hide": (R.HIDDEN, Action.HIDDEN),
    "restore": (R.PUBLISHED, Action.RESTORED),
}


def can_transition(from_status: str, to_status: str) -> bool:
    return to_status in TRANSITIONS.get(from_status, frozenset())


def _record(review: Review, from_status: str, action: str, actor: Actor, reason: str = "", *,
            at: datetime | None = None) -> None:
    ReviewEvent.objects.create(review=review, from_status=from_status, to_status=review.status, action=action,
                               reason=reason, created_at=at or timezone.now(), **ReviewEvent.actor_fields(actor))


def apply_review_transition(review: Review, to_status: str, *, action: str, actor: Actor, reason: str = "",
                            extra_fields: tuple[str, ...] = ()) -> Review:
    """Move ``review`` to ``to_status`` (the caller holds its row lock, inside a transaction), with its audit row."""
    from_status = review.status
    if not can_transition(from_status, to_status):
        raise InvalidReviewTransition(from_status, to_status)
    review.status = to_status
    review.save(update_fields=["status", *extra_fields])
    _record(review, from_status, action, actor, reason)
    return review


def display_name(full_name: str) -> str:
    """"Anna K." from "Anna Kowalska"; "Anna" from "Anna"; "" for nothing usable. Never an email address."""
    words = [w for w in (full_name or "").split() if "@" not in w]
    if not words:
        return ""
    first = words[0][:40]
    return f"{first} {words[-1][0].upper()}." if len(words) > 1 else first


def _clean_ratings(ratings: Mapping[str, Any]) -> dict[str, int | None]:
    cleaned: dict[str, int | None] = {}
    for name in ("overall", *CATEGORY_FIELDS):
        value = ratings.get(name)
        if value in (None, "") and name != "overall":
            cleaned[name] = None
            continue
        if isinstance(value, bool) or not isinstance(value, int) or not MIN_RATING <= value <= MAX_RATING:
            raise InvalidReviewInput(_("%(name)s: a rating is a whole number from %(low)d to %(high)d.")
                                     % {"name": name, "low": MIN_RATING, "high": MAX_RATING})
        cleaned[name] = value
    return cleaned


def submit_review(*, booking_id: int, ratings: Mapping[str, Any], title: str, body: str, actor: Actor,
                  at: datetime | None = None) -> Review:
    """The guest's review of a checked-out stay: once per stay (the one-to-one column settles a race).
    ``at``: when it was written (the demo seed's history); now by default."""
    at = at or timezone.now()
    title, body = (title or "").strip(), (body or "").strip()
    if len(title) > TITLE_MAX_LENGTH or not BODY_MIN_LENGTH <= len(body) <= BODY_MAX_LENGTH:
        raise InvalidReviewInput(_("A review has a title of at most %(title)d characters and a text of %(low)d to "
                                   "%(high)d.") % {"title": TITLE_MAX_LENGTH, "low": BODY_MIN_LENGTH,
                                                   "high": BODY_MAX_LENGTH})
    cleaned = _clean_ratings(ratings)
    with transaction.atomic():
        booking = Booking.objects.select_related("guest").filter(pk=booking_id).first()
        if booking is None or booking.status not in REVIEWABLE_STATUSES:
            raise NotReviewable()
        if Review.objects.filter(booking_id=booking_id).exists():
            raise AlreadyReviewed()
        try:
            with transaction.atomic():
                review = Review.objects.create(
                    booking=booking, property_id=booking.property_id, title=title, body=body,
                    guest_display_name=display_name(booking.guest.name if booking.guest else ""),
                    status=R.PUBLISHED, created_at=at, **cleaned)
        except IntegrityError:  # a second submission of the same stay, committed in between
            raise AlreadyReviewed() from None
        _record(review, "", Action.CREATED, actor, at=at)
    return review


def _managed_review(review_id: int, user, permission: str) -> Review:
    """The review, row-locked, if ``user`` manages its property and holds ``permission``."""
    if user is None or not user.is_authenticated or not user.is_active:
        raise ReviewPermissionDenied()
    review = (Review.objects.select_for_update(of=("self",)).select_related("property")
              .filter(pk=review_id, property__in=managed_properties(user).values("pk")).first())
    if review is None:
        raise ReviewNotFound()
    if not user.has_perm(permission):
        raise ReviewPermissionDenied()
    return review


def is_independent_of(user, prop) -> bool:
    """Whether ``user`` may judge the reviews of ``prop``: not its owner, nor working for its owner."""
    if user.is_superuser:
        return True
    return user.pk != prop.owner_id and (user.employer_id is None or user.employer_id != prop.owner_id)


def set_reply(*, review_id: int, text: str, user) -> Review:
    """Write, edit or (with an empty text) remove the owner's public reply."""
    text = (text or "").strip()
    if len(text) > REPLY_MAX_LENGTH:
        raise InvalidReviewInput(f"A reply has at most {REPLY_MAX_LENGTH} characters.")
    with transaction.atomic():
        review = _managed_review(review_id, user, REPLY_PERMISSION)
        if text == review.reply:
            return review
        had_reply = bool(review.reply)
        review.reply = text
        review.replied_at = timezone.now() if text else None
        review.replied_by = user if text else None
        review.save(update_fields=["reply", "replied_at", "replied_by"])
        if text or had_reply:
            _record(review, review.status, Action.REPLIED if text else Action.REPLY_REMOVED, Actor.for_user(user),
                    text[:500])
    return review


def flag_review(*, review_id: int, reason: str, user) -> Review:
    """The owner (or whoever holds ``flag_review`` on the property) asks staff to look at an abusive review."""
    reason = (reason or "").strip()
    if not reason or len(reason) > FLAG_REASON_MAX_LENGTH:
        raise InvalidReviewInput(f"Say why the review is abusive (at most {FLAG_REASON_MAX_LENGTH} characters).")
    with transaction.atomic():
        review = _managed_review(review_id, user, FLAG_PERMISSION)
        if review.status == R.PUBLISHED and review.moderated_at is not None:
            raise ReviewError("Staff have already decided to keep this review; it cannot be flagged again.")
        review.flag_reason, review.flagged_at, review.flagged_by = reason, timezone.now(), user
        return apply_review_transition(review, R.FLAGGED, action=Action.FLAGGED, actor=Actor.for_user(user),
                                       reason=reason, extra_fields=("flag_reason", "flagged_at", "flagged_by"))


def moderate_review(*, review_id: int, decision: str, user, note: str = "") -> Review:
    """Staff decide: ``keep`` (a flagged review stays public), ``hide`` or ``restore`` (a hidden one)."""
    if decision not in DECISIONS:
        raise InvalidReviewInput(f"Unknown decision {decision!r}: keep, hide or restore.")
    note = (note or "").strip()[:FLAG_REASON_MAX_LENGTH]
    to_status, action = DECISIONS[decision]
    with transaction.atomic():
        review = _managed_review(review_id, user, MODERATE_PERMISSION)
        if not is_independent_of(user, review.property):
            raise ReviewPermissionDenied("The property's owner and their own staff cannot hide or keep its reviews; "
                                         "staff independent of the owner decide.")
        if decision == "restore" and review.status != R.HIDDEN or decision == "keep" and review.status != R.FLAGGED:
            raise InvalidReviewTransition(review.status, to_status)
        review.moderated_at, review.moderated_by, review.moderation_note = timezone.now(), user, note
        return apply_review_transition(review, to_status, action=action, actor=Actor.for_user(user), reason=note,
                                       extra_fields=("moderated_at", "moderated_by", "moderation_note"))


# --- privacy: a guest's erasure (privacy.sections) -------------------------------------------------------------------

ERASED_TEXT = "[erased]"


@transaction.atomic
def anonymise_reviews(*, booking_ids, pseudonym: str, secrets: list[str], actor: Actor) -> dict:
    """An erased guest's reviews (``privacy.services.erase_guest``): the ratings stay (they are about the property,
    and the averages other guests read must not move), the title and text the guest wrote are removed, the name shown
    becomes ``pseudonym``. The owner's public reply stays (the owner's words), with every quote of ``secrets`` (the
    guest's name, address, phone) replaced by ``pseudonym``, as in the reviews' audit rows. One audit row per review."""
    reviews = list(Review.objects.select_for_update().filter(booking_id__in=list(booking_ids)))
    for review in reviews:
        review.title, review.body, review.guest_display_name = "", ERASED_TEXT, pseudonym[:60]
        for secret in dict.fromkeys(s for s in secrets if s):
            review.reply = review.reply.replace(secret, pseudonym)
        review.save(update_fields=["title", "body", "guest_display_name", "reply"])
    redacted = ReviewEvent.objects.filter(review__in=reviews).redact(secrets=secrets, replacement=pseudonym)
    for review in reviews:
        _record(review, review.status, ReviewEvent.Action.ERASED, actor, "The guest's personal data was erased.")
    return {"reviews": len(reviews), "review_audit_rows_redacted": redacted}
