"""Domain errors of the booking engine (``core.errors.DomainError`` is their base, and that of the payment
errors): each has a stable ``code``; ``reasons`` carries every rule that failed (see
``bookings.availability.Reason``)."""

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from core.errors import DomainError


class BookingError(DomainError):
    code = "booking_error"
    http_status = 400
    default_detail: "str | Promise" = _("The booking could not be changed.")


class DatesUnavailable(BookingError):
    """The nights are taken: by a booking or hold, an owner block, or buffer days."""

    code = "dates_unavailable"
    http_status = 409
    default_detail: "str | Promise" = _("These dates are no longer available.")


class StayRuleViolation(BookingError):
    """The stay breaks a rule of the property (minimum stay, weekdays, guests, …)."""

    code = "stay_rule_violation"
    http_status = 400
    default_detail: "str | Promise" = _("These dates do not meet the property's booking rules.")


class PropertyUnavailable(BookingError):
    code = "property_unavailable"
    http_status = 409
    default_detail: "str | Promise" = _("This property is not accepting bookings.")


class InvalidTransition(BookingError):
    code = "invalid_transition"
    http_status = 409

    def __init__(self, from_status: str, to_status: str):
        super().__init__(f"A booking cannot go from '{from_status}' to '{to_status}'.")
        self.from_status = from_status
        self.to_status = to_status


class CheckInTooEarly(BookingError):
    """Checking a guest in before the arrival date (the property's local date): the booking's
    state does not allow it yet, so a conflict, like an invalid transition."""

    code = "check_in_too_early"
    http_status = 409
    default_detail: "str | Promise" = _("A guest cannot check in before the arrival date.")


class HoldMismatch(BookingError):
    code = "hold_mismatch"
    http_status = 409
    default_detail: "str | Promise" = _("The hold does not match this booking's property and dates.")


class HoldExpired(BookingError):
    code = "hold_expired"
    http_status = 409
    default_detail: "str | Promise" = _("The hold has expired; the dates may no longer be available.")


class ExternalBookingConflict(DatesUnavailable):
    code = "external_conflict"


class CancellationNotAllowed(BookingError):
    """The actor may not cancel this booking now (e.g. a guest on or after the arrival day)."""

    code = "cancellation_not_allowed"
    http_status = 409
    default_detail: "str | Promise" = _("This booking can no longer be cancelled here.")


class RefundNotAllowed(BookingError):
    """The refund asked for is outside what may be refunded (decided by ``bookings.services.cancel_with_terms``
    and ``payments.services``; importable from ``payments.errors`` too)."""

    code = "refund_not_allowed"
    http_status = 409
    default_detail: "str | Promise" = _("This refund is not allowed.")


class RefundChanged(BookingError):
    """Cancelling now would refund less than the amount the guest was shown and agreed to."""

    code = "refund_changed"
    http_status = 409
    default_detail: "str | Promise" = _("The refund has changed since it was shown; please confirm again.")

    def __init__(self, amount, currency: str):
        super().__init__()
        self.amount = amount
        self.currency = currency


class ChangeNotAllowed(BookingError):
    """This booking may not be changed here, or not by this person, or not now (e.g. a guest on the arrival day,
    a booking called off, a property that does not let guests change their bookings)."""

    code = "change_not_allowed"
    http_status = 409
    default_detail: "str | Promise" = _("This booking can no longer be changed here.")


class ChangeOnChannel(ChangeNotAllowed):
    """A channel booking changes on the platform that sold it: our copy follows its import."""

    code = "change_on_channel"

    def __init__(self, platform: str):
        from django.utils.translation import gettext

        super().__init__(gettext("This booking was made on %(platform)s: change it on %(platform)s. Our calendar "
                                 "follows the change automatically.") % {"platform": platform})
        self.platform = platform


class ChangePriceChanged(BookingError):
    """The change now costs (or refunds) something else than what was shown: nothing was changed."""

    code = "change_price_changed"
    http_status = 409
    default_detail: "str | Promise" = _("The price of this change has changed since it was shown; please look at it "
                                        "again.")

    def __init__(self, difference, refund, currency: str):
        from django.utils.translation import gettext

        super().__init__(gettext("The price of this change has changed since it was shown: the difference is now "
                                 "%(difference)s %(currency)s (refund %(refund)s %(currency)s). Please confirm "
                                 "again.") % {"difference": difference, "refund": refund, "currency": currency})
        self.difference = difference
        self.refund = refund
        self.currency = currency

    def as_dict(self) -> dict:
        return {**super().as_dict(), "difference": str(self.difference), "refund": str(self.refund),
                "currency": self.currency}


class GroupStayFailed(BookingError):
    """One stay of a group booking could not be reserved, so none was (``bookings.services.reserve_group``).

    ``index`` is the stay's position (0-based) in the request, ``stay_code`` the code of the error that stay hit
    (``dates_unavailable``, ``stay_rule_violation``, ``property_unavailable`` …); the detail names the stay."""

    code = "group_stay_failed"
    http_status = 409
    default_detail: "str | Promise" = _("One of the stays could not be reserved; nothing was booked.")

    def __init__(self, detail: str, *, index: int, stay_code: str, reasons=()):
        super().__init__(detail, reasons=reasons)
        self.index = index
        self.stay_code = stay_code

    def as_dict(self) -> dict:
        return {**super().as_dict(), "stay": self.index, "stay_code": self.stay_code}


class InvalidGroup(BookingError):
    """The group request itself is wrong: no stay, too many, two stays of one property on overlapping nights,
    or stays priced in different currencies (one card payment pays a group)."""

    code = "invalid_group"
    http_status = 400
    default_detail: "str | Promise" = _("This group booking cannot be made.")
