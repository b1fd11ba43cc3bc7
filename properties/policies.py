"""Cancellation policies.

A policy is a list of tiers: cancelling at least ``days_before`` days before the
check-in time (in the property's time zone) refunds ``refund_percent`` of the
amount paid; the first tier that applies wins, and none means no refund. A
booking keeps a snapshot of its policy, so later edits never change what a
guest was sold.
"""

from datetime import datetime
from decimal import Decimal

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
CANCELLATION_POLICY_CHOICES = [(code, policy["name"]) for code, policy in POLICIES.items()]


def policy_snapshot(code: str) -> dict:
    return {"code": code, **POLICIES[code]}


def refund_percent(snapshot: dict, check_in_at: datetime, cancelled_at: datetime) -> Decimal:
    """Percent of the amount paid to refund when cancelling at ``cancelled_at``."""
    seconds_before = (check_in_at - cancelled_at).total_seconds()
    for tier in snapshot.get("tiers", []):
        if seconds_before >= tier["days_before"] * 86400:
            return Decimal(tier["refund_percent"])
    return Decimal(0)
