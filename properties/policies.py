"""Cancellation policies.

A policy is a list of tiers: cancelling at least ``days_before`` days before the
check-in time (in the property's time zone) refunds ``refund_percent`` of the
amount paid; the first tier that applies wins, and none means no refund. A
booking keeps a snapshot of its policy, so later edits never change what a
guest was sold.

Besides the fixed policies below, a property may use ``custom`` tiers of its
own (``Property.custom_cancellation_tiers``); :func:`policy_snapshot_for` is the
one place that turns a property into the snapshot (name, summary, tiers) shown
to guests and stored on bookings.
"""

from datetime import datetime
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext, override

POLICIES = {
    "flexible": {
        "name": "Flexible",
        "summary": "Full refund up to 1 day before check-in.",
        "tiers": [{"days_before": 1, "refund_percent": 100}],
    },
    "moderate": {
        "name": "Moderate",
        "summary": "Full refund up to 5 days before check-in, 50% after that.",
        "tiers": [{"days_before": 5, "refund_percent": 100}, {"days_before": 0, "refund_percent": 50}],
    },
    "strict": {
        "name": "Strict",
        "summary": "Full refund up to 30 days before check-in, 50% up to 14 days, none after.",
        "tiers": [{"days_before": 30, "refund_percent": 100}, {"days_before": 14, "refund_percent": 50}],
    },
    "non_refundable": {
        "name": "Non-refundable",
        "summary": "No refund after booking.",
        "tiers": [],
    },
}
CUSTOM = "custom"
CUSTOM_NAME = "Custom"
MAX_CUSTOM_TIERS = 6
CANCELLATION_POLICY_CHOICES = [(code, policy["name"]) for code, policy in POLICIES.items()] + [
    (CUSTOM, "Custom tiers")
]
# The names guests read, in their language; a booking's snapshot keeps the English name (the record), the pages
# show :func:`localized_name` / :func:`localized_summary` of it (template filters ``policy_name``, ``policy_summary``).
LOCALIZED_NAMES = {
    "flexible": gettext_lazy("Flexible"),
    "moderate": gettext_lazy("Moderate"),
    "strict": gettext_lazy("Strict"),
    "non_refundable": gettext_lazy("Non-refundable"),
    CUSTOM: gettext_lazy("Custom"),
}
LOCALIZED_SUMMARIES = {
    "flexible": gettext_lazy("Full refund up to 1 day before check-in."),
    # xgettext:no-python-format
    "moderate": gettext_lazy("Full refund up to 5 days before check-in, 50% after that."),
    # xgettext:no-python-format
    "strict": gettext_lazy("Full refund up to 30 days before check-in, 50% up to 14 days, none after."),
    "non_refundable": gettext_lazy("No refund after booking."),
}
CUSTOM_TIERS_HELP = (
    'Only used when the cancellation policy is "Custom tiers". A JSON list of up to 6 tiers, e.g. '
    '[{"days_before": 14, "refund_percent": 100}, {"days_before": 3, "refund_percent": 50}] '
    "= full refund up to 14 days before check-in, 50% up to 3 days, none after. "
    "Whole numbers; the refund may not grow as check-in comes closer."
)


def _whole(value, low: int, high: int | None) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= low and (high is None or value <= high)


def clean_tiers(value) -> list[dict]:
    """Validate custom tiers and return them sorted by ``days_before``, descending.

    Raises ``ValidationError`` with one message per problem (tiers numbered as given)."""
    if value in (None, ""):
        return []
    if not isinstance(value, list):
        raise ValidationError('Enter a list of tiers, e.g. [{"days_before": 14, "refund_percent": 100}].')
    errors = []
    if len(value) > MAX_CUSTOM_TIERS:
        errors.append(f"Use at most {MAX_CUSTOM_TIERS} tiers (got {len(value)}).")
    tiers = []
    for n, tier in enumerate(value, start=1):
        if not isinstance(tier, dict) or set(tier) != {"days_before", "refund_percent"}:
            errors.append(f'Tier {n}: give exactly "days_before" and "refund_percent".')
            continue
        days, percent = tier["days_before"], tier["refund_percent"]
        if not _whole(days, 0, 3650):
            errors.append(f"Tier {n}: days_before must be a whole number of days from 0 to 3650 (got {days!r}).")
        if not _whole(percent, 0, 100):
            errors.append(f"Tier {n}: refund_percent must be a whole number from 0 to 100 (got {percent!r}).")
        tiers.append({"days_before": days, "refund_percent": percent})
    if errors:
        raise ValidationError(errors)
    tiers.sort(key=lambda t: t["days_before"], reverse=True)
    for earlier, later in zip(tiers, tiers[1:], strict=False):
        if earlier["days_before"] == later["days_before"]:
            errors.append(f"Two tiers start {later['days_before']} days before check-in; keep one.")
        elif later["refund_percent"] > earlier["refund_percent"]:
            errors.append(
                f"The refund may not grow closer to check-in: {later['refund_percent']}% at "
                f"{later['days_before']} days is more than {earlier['refund_percent']}% at "
                f"{earlier['days_before']} days."
            )
    if errors:
        raise ValidationError(errors)
    return tiers


def tiers_summary(tiers: list[dict]) -> str:
    """A sentence for guests, e.g. "Full refund up to 14 days before check-in, 50% up to 3 days, none after.", in the
    active language."""
    # Tiers refunding nothing, and a tier made redundant by a later one with the same refund, say nothing.
    shown = []
    for tier in sorted(tiers, key=lambda t: t["days_before"], reverse=True):
        if tier["refund_percent"] <= 0:
            break
        if shown and shown[-1]["refund_percent"] == tier["refund_percent"]:
            shown[-1] = tier
        else:
            shown.append(tier)
    if not shown:
        return _("No refund after booking.")
    parts = []
    for i, tier in enumerate(shown):
        days, percent = tier["days_before"], tier["refund_percent"]
        values = {"days": days, "percent": percent}
        if i == 0 and percent == 100:
            parts.append(_("Full refund up to check-in") if days == 0 else ngettext(
                "Full refund up to %(days)d day before check-in",
                "Full refund up to %(days)d days before check-in", days) % values)
        elif i == 0:
            parts.append(_("%(percent)d%% refund up to check-in") % values if days == 0 else ngettext(
                "%(percent)d%% refund up to %(days)d day before check-in",
                "%(percent)d%% refund up to %(days)d days before check-in", days) % values)
        else:
            parts.append(_("%(percent)d%% after that") % values if days == 0 else ngettext(
                "%(percent)d%% up to %(days)d day", "%(percent)d%% up to %(days)d days", days) % values)
    if shown[-1]["days_before"] > 0:
        parts.append(_("none after"))
    return _("%(parts)s.") % {"parts": ", ".join(parts)}


def localized_name(snapshot: dict) -> str:
    """The policy's name in the active language (the snapshot's own, English, name for an unknown code)."""
    name = LOCALIZED_NAMES.get(snapshot.get("code", ""))
    return str(name) if name is not None else snapshot.get("name", "")


def localized_summary(snapshot: dict) -> str:
    """The policy's sentence in the active language, written from the snapshot's tiers (what was sold)."""
    code = snapshot.get("code", "")
    if code in LOCALIZED_SUMMARIES and snapshot.get("tiers") == POLICIES[code]["tiers"]:
        return str(LOCALIZED_SUMMARIES[code])
    if code == CUSTOM and "tiers" in snapshot:
        return tiers_summary(snapshot["tiers"])
    return snapshot.get("summary", "")


def policy_snapshot(code: str, tiers: list[dict] | None = None) -> dict:
    """The snapshot of a fixed policy, or of the ``custom`` one with ``tiers``."""
    if code == CUSTOM:
        tiers = sorted(tiers or [], key=lambda t: t["days_before"], reverse=True)
        with override("en"):  # the record is English whatever the guest reads (localized_summary)
            summary = tiers_summary(tiers)
        return {"code": CUSTOM, "name": CUSTOM_NAME, "summary": summary, "tiers": tiers}
    return {"code": code, **POLICIES[code]}


def policy_snapshot_for(prop) -> dict:
    """The policy ``prop`` sells now (code, name, summary, tiers): shown to guests and stored on bookings."""
    return policy_snapshot(prop.cancellation_policy, prop.custom_cancellation_tiers)


def refund_percent(snapshot: dict, check_in_at: datetime, cancelled_at: datetime) -> Decimal:
    """Percent of the amount paid to refund when cancelling at ``cancelled_at``."""
    seconds_before = (check_in_at - cancelled_at).total_seconds()
    for tier in snapshot.get("tiers", []):
        if seconds_before >= tier["days_before"] * 86400:
            return Decimal(tier["refund_percent"])
    return Decimal(0)
