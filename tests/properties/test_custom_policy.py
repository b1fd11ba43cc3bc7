"""Custom cancellation tiers: validation, the guest-facing summary, the snapshot taken at booking time,
refunds by tier, and where guests see the policy (search card, property page, details page, admin form)."""

from datetime import datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.core.exceptions import ValidationError

from bookings.services import check_in_datetime
from payments.services import refund_quote
from properties.policies import clean_tiers, policy_snapshot, policy_snapshot_for, refund_percent, tiers_summary
from tests.factories import PropertyFactory, UserFactory, future
from tests.pages.conftest import text
from tests.test_admin import property_form

TWO_TIERS = [{"days_before": 14, "refund_percent": 100}, {"days_before": 3, "refund_percent": 50}]
SUMMARY = "Full refund up to 14 days before check-in, 50% up to 3 days, none after."


def custom_prop(tiers=TWO_TIERS, **kwargs):
    return PropertyFactory(cancellation_policy="custom", custom_cancellation_tiers=tiers, **kwargs)


# --- validation (pure) ------------------------------------------------------------------------------


def test_clean_tiers_sorts_by_days_before_descending():
    assert clean_tiers(list(reversed(TWO_TIERS))) == TWO_TIERS
    assert clean_tiers(None) == [] and clean_tiers([]) == []


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ({"days_before": 3}, "Enter a list of tiers"),
        ("14:100", "Enter a list of tiers"),
        ([{"days_before": 3}], 'Tier 1: give exactly "days_before" and "refund_percent".'),
        ([{"days_before": 3, "refund_percent": 50, "x": 1}], 'Tier 1: give exactly'),
        ([{"days_before": -1, "refund_percent": 50}], "Tier 1: days_before must be a whole number of days"),
        ([{"days_before": 1.5, "refund_percent": 50}], "Tier 1: days_before must be a whole number of days"),
        ([{"days_before": "3", "refund_percent": 50}], "Tier 1: days_before must be a whole number of days"),
        ([{"days_before": 3, "refund_percent": 101}], "Tier 1: refund_percent must be a whole number from 0 to 100"),
        ([{"days_before": 3, "refund_percent": True}], "Tier 1: refund_percent must be a whole number"),
        ([{"days_before": 9, "refund_percent": 50}, {"days_before": 3, "refund_percent": 80}],
         "The refund may not grow closer to check-in: 80% at 3 days is more than 50% at 9 days."),
        ([{"days_before": 3, "refund_percent": 80}, {"days_before": 3, "refund_percent": 50}],
         "Two tiers start 3 days before check-in; keep one."),
        ([{"days_before": d, "refund_percent": 100 - d} for d in range(7)], "Use at most 6 tiers (got 7)."),
    ],
)  # fmt: skip
def test_clean_tiers_rejects_bad_input_with_a_clear_message(value, message):
    with pytest.raises(ValidationError) as exc:
        clean_tiers(value)
    assert any(m.startswith(message) for m in exc.value.messages), exc.value.messages


@pytest.mark.django_db
def test_property_clean_requires_tiers_for_the_custom_policy_and_normalizes_them():
    prop = PropertyFactory(cancellation_policy="custom", custom_cancellation_tiers=None)
    with pytest.raises(ValidationError) as exc:
        prop.full_clean()
    assert exc.value.message_dict["custom_cancellation_tiers"] == ["A custom policy needs at least one tier."]

    prop.custom_cancellation_tiers = list(reversed(TWO_TIERS))
    prop.full_clean()
    assert prop.custom_cancellation_tiers == TWO_TIERS  # stored sorted

    prop.custom_cancellation_tiers = [{"days_before": 2, "refund_percent": 10}, {"days_before": 9, "refund_percent": 5}]
    with pytest.raises(ValidationError) as exc:
        prop.full_clean()
    assert "may not grow" in exc.value.message_dict["custom_cancellation_tiers"][0]


@pytest.mark.django_db
def test_a_fixed_policy_needs_no_tiers():
    prop = PropertyFactory(cancellation_policy="strict", custom_cancellation_tiers=None)
    prop.full_clean()
    assert policy_snapshot_for(prop) == policy_snapshot("strict")


# --- summary ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("tiers", "summary"),
    [
        (TWO_TIERS, SUMMARY),
        ([{"days_before": 7, "refund_percent": 100}, {"days_before": 0, "refund_percent": 25}],
         "Full refund up to 7 days before check-in, 25% after that."),
        ([{"days_before": 1, "refund_percent": 100}], "Full refund up to 1 day before check-in, none after."),
        ([{"days_before": 0, "refund_percent": 100}], "Full refund up to check-in."),
        ([{"days_before": 10, "refund_percent": 60}], "60% refund up to 10 days before check-in, none after."),
        ([{"days_before": 30, "refund_percent": 100}, {"days_before": 14, "refund_percent": 100},
          {"days_before": 2, "refund_percent": 30}, {"days_before": 1, "refund_percent": 0}],
         "Full refund up to 14 days before check-in, 30% up to 2 days, none after."),
        ([{"days_before": 5, "refund_percent": 0}], "No refund after booking."),
        ([], "No refund after booking."),
    ],
)  # fmt: skip
def test_summary_reads_like_a_sentence(tiers, summary):
    assert tiers_summary(tiers) == summary


# --- snapshot and refunds -----------------------------------------------------------------------------


def test_refund_percent_with_custom_tiers():
    snapshot = policy_snapshot("custom", TWO_TIERS)
    check_in = datetime(2030, 6, 20, 15, 0, tzinfo=ZoneInfo("Europe/Lisbon"))
    assert snapshot["summary"] == SUMMARY
    assert refund_percent(snapshot, check_in, check_in - timedelta(days=14)) == 100
    assert refund_percent(snapshot, check_in, check_in - timedelta(days=14) + timedelta(minutes=1)) == 50
    assert refund_percent(snapshot, check_in, check_in - timedelta(days=3)) == 50
    assert refund_percent(snapshot, check_in, check_in - timedelta(days=3) + timedelta(minutes=1)) == 0
    # tiers stored out of order in the snapshot source still apply the right one
    assert refund_percent(policy_snapshot("custom", list(reversed(TWO_TIERS))), check_in,
                          check_in - timedelta(days=20)) == 100


@pytest.mark.django_db
def test_booking_snapshots_the_custom_tiers_and_later_edits_do_not_change_its_refund(book):
    prop = custom_prop()
    booking = book(prop, start=40, nights=3)
    assert booking.cancellation_policy == {"code": "custom", "name": "Custom", "summary": SUMMARY,
                                           "tiers": TWO_TIERS}
    at = check_in_datetime(booking) - timedelta(days=5)
    assert refund_quote(booking, at).percent == 50

    prop.custom_cancellation_tiers = [{"days_before": 1, "refund_percent": 100}]
    prop.save()
    booking.refresh_from_db()
    assert refund_quote(booking, at).percent == 50  # the snapshot, not the edited property
    assert book(prop, start=60, nights=2).cancellation_policy["tiers"] == [{"days_before": 1, "refund_percent": 100}]


# --- pages --------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_search_card_property_page_and_details_page_show_the_custom_summary(client):
    prop = custom_prop(name="Tier House", city="Porto", base_price=Decimal("90.00"))
    stay = {"check_in": future(20).isoformat(), "check_out": future(23).isoformat(), "adults": "2"}

    search = client.get("/", {"q": "porto", **stay})
    assert "Custom cancellation" in text(search)
    assert f'title="{SUMMARY}"' in search.content.decode()

    page = text(client.get(f"/properties/{prop.slug}/", stay))
    assert f"Custom {SUMMARY}" in page  # the policy section: badge + summary
    assert f"Custom cancellation: {SUMMARY}" in page  # the booking widget

    details = client.get(f"/book/{prop.slug}/", stay)
    assert details.status_code == 200
    assert f"Custom cancellation: {SUMMARY}" in text(details)


# --- admin --------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_admin_form_saves_custom_tiers_and_shows_a_clear_error_for_bad_ones(client):
    prop = PropertyFactory(cancellation_policy="moderate")
    client.force_login(UserFactory(email="root@example.com", is_staff=True, is_superuser=True))
    url = f"/admin/properties/property/{prop.pk}/change/"

    form = client.get(url).content.decode()
    assert 'name="custom_cancellation_tiers"' in form and "Only used when the cancellation policy" in form

    missing = client.post(url, property_form(prop, cancellation_policy="custom", custom_cancellation_tiers=""))
    assert missing.status_code == 200 and "A custom policy needs at least one tier." in missing.content.decode()

    growing = client.post(url, property_form(prop, cancellation_policy="custom", custom_cancellation_tiers=(
        '[{"days_before": 9, "refund_percent": 50}, {"days_before": 3, "refund_percent": 80}]')))
    assert growing.status_code == 200
    assert "The refund may not grow closer to check-in: 80% at 3 days is more than 50% at 9 days." in text(growing)

    bad_json = client.post(url, property_form(prop, cancellation_policy="custom", custom_cancellation_tiers="[{"))
    assert bad_json.status_code == 200 and "Enter a valid JSON." in bad_json.content.decode()
    prop.refresh_from_db()
    assert prop.cancellation_policy == "moderate" and prop.custom_cancellation_tiers is None

    saved = client.post(url, property_form(prop, cancellation_policy="custom", custom_cancellation_tiers=(
        '[{"days_before": 3, "refund_percent": 50}, {"days_before": 14, "refund_percent": 100}]')))
    assert saved.status_code == 302
    prop.refresh_from_db()
    assert prop.cancellation_policy == "custom" and prop.custom_cancellation_tiers == TWO_TIERS
    assert policy_snapshot_for(prop)["summary"] == SUMMARY
