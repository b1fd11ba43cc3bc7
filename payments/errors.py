"""Payment errors: ``core.errors.DomainError`` subclasses, so views map them like every other domain error."""

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from bookings.errors import RefundNotAllowed as RefundNotAllowed  # decided with the cancellation (bookings.services)
from core.errors import DomainError


class PaymentError(DomainError):
    code = "payment_error"
    http_status = 400
    default_detail: "str | Promise" = _("The payment could not be processed.")


class PaymentNotAllowed(PaymentError):
    """The booking cannot be paid now (not reserved, hold expired, already paid)."""

    code = "payment_not_allowed"
    http_status = 409
    default_detail: "str | Promise" = _("This booking cannot be paid now.")


class TooManyAttempts(PaymentError):
    code = "too_many_attempts"
    http_status = 409
    default_detail: "str | Promise" = _("Too many payment attempts; the reservation was released.")


class ProviderError(PaymentError):
    """The payment provider failed or could not be reached (not a decline).

    ``retryable`` is False when the provider refused the request itself (an invalid
    request: repeating it would be refused again), True for outages and timeouts."""

    code = "provider_error"
    http_status = 502
    default_detail: "str | Promise" = _("The payment service is unavailable; please try again.")

    def __init__(self, detail: str | None = None, *, retryable: bool = True, reasons=()):
        super().__init__(detail, reasons=reasons)
        self.retryable = retryable
