"""The reviews' domain errors (``core.errors.DomainError``: a stable ``code``; pages show the detail)."""

from django.utils.translation import gettext_lazy as _

from core.errors import DomainError


class ReviewError(DomainError):
    code = "review_error"
    http_status = 409
    default_detail = _("This review cannot be changed now.")


class NotReviewable(ReviewError):
    code = "stay_not_reviewable"
    default_detail = _("Only a stay that has been checked out can be reviewed.")


class AlreadyReviewed(ReviewError):
    code = "stay_already_reviewed"
    default_detail = _("This stay has already been reviewed.")


class InvalidReviewTransition(ReviewError):
    code = "invalid_review_transition"

    def __init__(self, from_status: str, to_status: str):
        super().__init__(f"A review cannot go from {from_status or 'nothing'} to {to_status}.")


class ReviewPermissionDenied(ReviewError):
    code = "review_permission_denied"
    http_status = 403
    default_detail = _("You may not do this to this review.")


class InvalidReviewInput(ReviewError):
    code = "invalid_review_input"
    http_status = 400
    default_detail = _("The review's input is not valid.")


class ReviewNotFound(ReviewError):
    code = "review_not_found"
    http_status = 404
    default_detail = _("There is no such review among the ones you manage.")
