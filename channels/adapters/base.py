"""The adapter interface: everything platform-specific about an API connection, and nothing else.

An adapter turns our values into the platform's requests and the platform's answers into ours. What it does
not do is shared by every platform (``channels.api_sync``): the queue of changes, coalescing and range
compression, rate limits, retries with backoff, the circuit breaker, applying reservations through the booking
services, acknowledging after commit, reconciliation and the audit trail. Adding a platform means writing one
adapter (and one emulator, ``channels.emulators``) and registering it in ``channels.adapters.ADAPTERS``.

Adapters make HTTP calls and must be called with no transaction open (docs/architecture.md, Rule 4); every call
has the timeouts of ``CHANNEL_API_TIMEOUT_SECONDS``. Failures are :class:`AdapterError` with a stable ``code``:
``retryable`` ones (timeouts, 5xx, 429 with ``retry_after``) are retried with backoff, the others (bad
credentials, a mapping the platform does not know) open the breaker until the owner fixes the connection.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import requests
from django.conf import settings

from ..ari import NightAvailability, NightRestrictions, Run

# The header a platform's webhook carries the connection's secret in (``channels.webhooks`` compares its digest).
WEBHOOK_TOKEN_HEADER = "X-Stayhold-Token"  # noqa: S105 - a header name, not a secret


class AdapterError(Exception):
    def __init__(self, code: str, detail: str, *, retryable: bool = False, retry_after: float | None = None,
                 status: int | None = None):
        super().__init__(detail)
        self.code, self.detail, self.retryable, self.retry_after, self.status = (
            code, detail, retryable, retry_after, status)

    def __str__(self) -> str:
        return f"{self.code}: {self.detail}"


@dataclass(frozen=True)
class LimitScope:
    """A documented request limit: at most ``requests`` per ``seconds``, shared by every worker (``key``)."""

    key: str
    requests: int
    seconds: int


@dataclass
class PushResult:
    requests: int = 0
    warnings: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class RemoteProperty:
    """A property as the platform lists it (the admin's connect step)."""

    property_id: str
    title: str
    currency: str = ""
    room_type_id: str = ""
    rate_plan_id: str = ""


@dataclass(frozen=True)
class RemoteReservation:
    """One reservation message from a platform, in our terms."""

    message_id: str  # unique per message (a Channex revision id, a Booking.com message id)
    remote_booking_id: str  # the reservation's stable id on the platform (our booking's external id)
    kind: str  # "new" | "modified" | "cancelled"
    source: str  # a bookings.models.Source value: the platform the guest booked on
    remote_property_id: str
    check_in: date
    check_out: date
    adults: int = 1
    children: int = 0
    total: Decimal | None = None
    currency: str = ""
    guest_name: str = ""
    guest_email: str = ""
    guest_phone: str = ""
    revision_at: datetime | None = None  # the platform's time of this version (messages are applied in its order)
    unmapped: bool = False  # on a room or rate the connection does not map
    language: str = ""  # the guest's language if the platform says it ("de", "fr-FR"); else the property's default


class Adapter(ABC):
    """The interface; each method documents what the shared code expects. The four abstract methods are what
    every platform must do; the others have the behaviour of a platform that lacks the feature."""

    name = ""
    label = ""
    horizon_days = 365  # how far ahead the platform takes availability and rates
    pushes_reservations = True  # False: the platform sends no reservations (Google: guests book on our site)
    # How often the beat job pulls reservations: a platform with webhooks only needs the safety net, one that is
    # polled (Booking.com: "about every 20 seconds") needs its own pace.
    pull_interval_seconds = 60
    # Which AriChange kinds this platform takes (bit 1 availability, bit 2 rates and restrictions).
    kinds = 3

    # --- set-up ---------------------------------------------------------------------------------------------

    @abstractmethod
    def credential_fields(self) -> list[tuple[str, str]]:
        """``[(key, label)]`` of the secrets the owner enters (stored encrypted as JSON)."""

    @abstractmethod
    def list_properties(self, connection) -> list[RemoteProperty]:
        """What the credentials can see, for the owner to pick from; an empty list when the platform lists
        nothing (the ids are typed), after checking the credentials where it can. Raises AdapterError."""

    def register_webhook(self, connection, callback_url: str, token: str) -> None:
        """Ask the platform to call ``callback_url`` with ``token`` (no-op where the platform has no webhooks)."""
        return None

    # --- outbound -------------------------------------------------------------------------------------------

    def limits(self, connection, kind: int) -> list[LimitScope]:
        """The limit scopes one push request of ``kind`` counts against."""
        return []

    @abstractmethod
    def push_availability(self, connection, runs: list[Run[NightAvailability]]) -> PushResult:
        """Send availability for the runs of nights (one or more requests). Raises AdapterError."""

    @abstractmethod
    def push_restrictions(self, connection, runs: list[Run[NightRestrictions]]) -> PushResult:
        """Send rates and stay rules for the runs of nights (one or more requests). Raises AdapterError."""

    def read_availability(self, connection, start: date, end: date) -> dict[date, int] | None:
        """What the platform shows for nights [start, end), for reconciliation; None when it cannot be read."""
        return None

    # --- inbound --------------------------------------------------------------------------------------------

    def pull_reservations(self, connection) -> list[RemoteReservation]:
        """Messages the platform has not had acknowledged, oldest first."""
        return []

    def recover_reservations(self, connection, today: date) -> list[RemoteReservation]:
        """Every reservation of the connection's property that has not ended by ``today``, as its latest version
        (the daily reconciliation applies what the feed never delivered; a version applied already is a no-op).
        Default: nothing (the platform's queue keeps unacknowledged messages until they are acknowledged)."""
        return []

    def acknowledge(self, connection, message_id: str) -> None:
        """Tell the platform the message is recorded (called after our commit). Idempotent."""
        return None


# --- shared HTTP ---------------------------------------------------------------------------------------------


def http_session() -> requests.Session:
    session = requests.Session()
    session.trust_env = False  # no proxy from the environment: base URLs are settings
    return session


def timeouts() -> tuple[float, float]:
    return (settings.CHANNEL_API_CONNECT_TIMEOUT_SECONDS, settings.CHANNEL_API_TIMEOUT_SECONDS)


def send(session: requests.Session, method: str, url: str, **kwargs: Any) -> requests.Response:
    """One HTTP call with the timeouts; transport failures become retryable AdapterErrors."""
    try:
        return session.request(method, url, timeout=timeouts(), allow_redirects=False, **kwargs)
    except requests.Timeout as exc:
        raise AdapterError("timeout", f"The platform did not answer in time ({exc.__class__.__name__}).",
                           retryable=True) from exc
    except requests.RequestException as exc:
        raise AdapterError("unreachable", f"The platform could not be reached ({exc.__class__.__name__}).",
                           retryable=True) from exc


def retry_after(response: requests.Response) -> float | None:
    value = response.headers.get("Retry-After")
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None


def status_error(response: requests.Response, detail: str) -> AdapterError:
    """An AdapterError for a non-success HTTP status: 429 and 5xx are retryable, 401/403 are credentials."""
    status = response.status_code
    if status == 429:
        return AdapterError("rate_limited", detail or "Too many requests.", retryable=True,
                            retry_after=retry_after(response) or 60.0, status=status)
    if status >= 500:
        return AdapterError("platform_error", detail or f"The platform answered {status}.", retryable=True,
                            retry_after=retry_after(response), status=status)
    if status in (401, 403):
        return AdapterError("bad_credentials" if status == 401 else "forbidden",
                            detail or "The platform refused the credentials.", status=status)
    return AdapterError("rejected", detail or f"The platform answered {status}.", status=status)
