"""The base of every domain error. Each subclass has a stable ``code`` that the API, forms and admin map to their
own messages (the API answers ``{"code", "detail"}``), an ``http_status``, and ``reasons``: every rule that
failed (for example ``bookings.availability.Reason``), each with its own ``as_dict``."""

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _


class DomainError(Exception):
    code = "error"
    http_status = 400
    default_detail: "str | Promise" = _("The request could not be carried out.")

    def __init__(self, detail: str | None = None, *, reasons=()):
        self.detail = str(detail or self.default_detail)  # a lazy default in the language active when raised
        self.reasons = list(reasons)
        super().__init__(self.detail)

    def as_dict(self) -> dict:
        body: dict[str, object] = {"code": self.code, "detail": self.detail}
        if self.reasons:
            body["reasons"] = [reason.as_dict() for reason in self.reasons]
        return body
