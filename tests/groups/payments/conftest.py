"""Group payments run against the session's localstripe like tests/payments (its fixtures, reused)."""

from tests.payments.conftest import authenticate, card, post_event, run_on_commit, stripe_settings  # noqa: F401
