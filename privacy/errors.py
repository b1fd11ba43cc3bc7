"""Privacy's domain errors (``core.errors.DomainError``)."""

from django.utils.translation import gettext_lazy as _

from core.errors import DomainError


class PrivacyError(DomainError):
    code = "privacy_error"


class ErasureRefused(PrivacyError):
    """Something is still pending: a current or future stay, or money in flight (docs/privacy.md)."""

    code = "erasure_refused"
    http_status = 409
    default_detail = _("This guest's data cannot be erased yet.")

    def __init__(self, blockers: list[str]):
        self.blockers = blockers
        super().__init__(str(_("The data cannot be erased yet: %(reasons)s")) % {"reasons": "; ".join(blockers)})


class AlreadyErased(PrivacyError):
    code = "already_erased"
    http_status = 409
    default_detail = _("This guest's personal data has already been erased.")


class OffboardingRefused(PrivacyError):
    code = "offboarding_refused"
    http_status = 409
    default_detail = _("This owner cannot be offboarded yet.")


class NotAGuestAccount(PrivacyError):
    code = "not_a_guest_account"
    http_status = 400
    default_detail = _("Back-office accounts are closed by an administrator, not from the guest pages.")
