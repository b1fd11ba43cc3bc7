"""Quotes, worked by hand: every rule kind, the stacking order, overrides, fees, taxes and rounding.

Dates are fixed (March 2030) so the weekdays are known: 2030-03-04 is a Monday,
the 8th a Friday and the 9th a Saturday (the default weekend nights).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal as D

import pytest

from properties.models import PricingRule
from properties.pricing import PriceOverride, PricingSpec, RuleSpec, compute_quote, quote
from tests.factories import DateOverrideFactory, PricingRuleFactory, PropertyFactory

MON = date(2030, 3, 4)
FRI = date(2030, 3, 8)
SAT = date(2030, 3, 9)
SUN = date(2030, 3, 10)
NEXT_MON = date(2030, 3, 11)
TODAY = MON - timedelta(days=30)  # 30 days of lead time unless a test says otherwise


def rule(id, kind, value, adjustment="percent", priority=0, **kw):
    return RuleSpec(id=id, name=f"{kind} {id}", kind=kind, adjustment=adjustment, value=D(value), priority=priority,
                    **kw)


def spec(base="100.00", currency="EUR", rules=(), overrides=(), **kw):
    return PricingSpec(currency=currency, base_price=D(base), rules=tuple(rules), price_overrides=tuple(overrides),
                       **kw)


def prices(q):
    return [n.price for n in q.nights]


def check_parts(q):
    assert q.total == q.nightly_subtotal - q.discounts + q.fees_total + q.taxes
    assert sum(prices(q), D(0)) == q.nightly_subtotal - q.discounts


# --- Each rule kind on its own ---------------------------------------------------------------------------


def test_no_rules_is_base_times_nights():
    q = compute_quote(spec(), MON, NEXT_MON, 2, TODAY)
    assert prices(q) == [D("100.00")] * 7
    assert (q.nightly_subtotal, q.discounts, q.fees_total, q.taxes, q.total) == (D("700.00"), 0, 0, D("0.00"),
                                                                                  D("700.00"))
    assert q.night_count == 7 and q.currency == "EUR"
    check_parts(q)


def test_weekend_rule_touches_only_friday_and_saturday_nights():
    q = compute_quote(spec(rules=[rule(1, "weekend", "25")]), MON, NEXT_MON, 2, TODAY)
    assert prices(q) == [D("100.00")] * 4 + [D("125.00"), D("125.00"), D("100.00")]
    assert q.nightly_subtotal == D("750.00") and q.discounts == 0
    fri = q.nights[4]
    assert fri.date == FRI and fri.base == D("100.00")
    assert [(a.kind, a.amount) for a in fri.adjustments] == [("weekend", D("25.00"))]
    check_parts(q)


def test_weekend_days_are_configurable():
    sunday_only = rule(1, "weekend", "10", weekend_days=1 << 6)
    q = compute_quote(spec(rules=[sunday_only]), FRI, NEXT_MON, 1, TODAY)
    assert prices(q) == [D("100.00"), D("100.00"), D("110.00")]


def test_seasonal_rule_covers_start_to_end_exclusive():
    high = rule(1, "seasonal", "50", start_date=date(2030, 3, 5), end_date=date(2030, 3, 7))
    q = compute_quote(spec(rules=[high]), MON, FRI, 1, TODAY)
    assert prices(q) == [D("100.00"), D("150.00"), D("150.00"), D("100.00")]


def test_length_of_stay_applies_to_every_night_from_n_nights():
    weekly = rule(1, "length_of_stay", "-10", min_nights=7)
    assert prices(compute_quote(spec(rules=[weekly]), MON, NEXT_MON, 1, TODAY)) == [D("90.00")] * 7
    six = compute_quote(spec(rules=[weekly]), MON, SUN, 1, TODAY)
    assert prices(six) == [D("100.00")] * 6 and six.discounts == 0


def test_early_bird_needs_at_least_n_days_of_lead():
    early = rule(1, "early_bird", "-15", days=30)
    at_30 = compute_quote(spec(rules=[early]), MON, MON + timedelta(days=2), 1, MON - timedelta(days=30))
    at_29 = compute_quote(spec(rules=[early]), MON, MON + timedelta(days=2), 1, MON - timedelta(days=29))
    assert prices(at_30) == [D("85.00")] * 2 and at_30.discounts == D("30.00")
    assert prices(at_29) == [D("100.00")] * 2
    assert at_30.lead_days == 30


def test_last_minute_needs_arrival_within_n_days():
    late = rule(1, "last_minute", "-20", days=3)
    within = compute_quote(spec(rules=[late]), MON, MON + timedelta(days=1), 1, MON - timedelta(days=3))
    today = compute_quote(spec(rules=[late]), MON, MON + timedelta(days=1), 1, MON)
    outside = compute_quote(spec(rules=[late]), MON, MON + timedelta(days=1), 1, MON - timedelta(days=4))
    assert prices(within) == prices(today) == [D("80.00")]
    assert prices(outside) == [D("100.00")]


# --- Percent vs fixed, priority ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("adjustment", "value", "expected"),
    [
        ("percent", "-10", "90.00"),
        ("percent", "12.5", "112.50"),
        ("fixed", "-10", "90.00"),
        ("fixed", "12.5", "112.50"),
        ("fixed", "0.333", "100.33"),  # fixed amounts are rounded to the minor unit too
        ("percent", "0", "100.00"),
    ],
)
def test_percent_and_fixed(adjustment, value, expected):
    r = rule(1, "length_of_stay", value, adjustment=adjustment, min_nights=1)
    q = compute_quote(spec(rules=[r]), MON, MON + timedelta(days=1), 1, TODAY)
    assert prices(q) == [D(expected)]
    if D(value) == 0:
        assert q.nights[0].adjustments == ()  # a zero adjustment is not listed


def test_percent_and_fixed_differ_on_a_different_base():
    pct = rule(1, "length_of_stay", "-10", min_nights=1)
    fixed = rule(1, "length_of_stay", "-10", adjustment="fixed", min_nights=1)
    assert prices(compute_quote(spec("250", rules=[pct]), MON, TUE(), 1, TODAY)) == [D("225.00")]
    assert prices(compute_quote(spec("250", rules=[fixed]), MON, TUE(), 1, TODAY)) == [D("240.00")]


def TUE():
    return MON + timedelta(days=1)


def test_within_a_kind_only_the_highest_priority_rule_applies():
    low = rule(1, "weekend", "10", priority=1)
    high = rule(2, "weekend", "30", priority=5)
    q = compute_quote(spec(rules=[low, high]), FRI, SUN, 1, TODAY)
    assert prices(q) == [D("130.00")] * 2
    assert [a.rule_id for a in q.nights[0].adjustments] == [2]


def test_priority_ties_go_to_the_oldest_rule():
    older = rule(3, "length_of_stay", "-5", min_nights=2)
    newer = rule(9, "length_of_stay", "-20", min_nights=2)
    q = compute_quote(spec(rules=[newer, older]), MON, MON + timedelta(days=2), 1, TODAY)
    assert prices(q) == [D("95.00")] * 2


def test_a_non_matching_high_priority_rule_does_not_hide_a_matching_one():
    long_stay = rule(1, "length_of_stay", "-30", priority=10, min_nights=14)
    short_stay = rule(2, "length_of_stay", "-10", priority=0, min_nights=3)
    q = compute_quote(spec(rules=[long_stay, short_stay]), MON, MON + timedelta(days=3), 1, TODAY)
    assert prices(q) == [D("90.00")] * 3


# --- Stacking order ---------------------------------------------------------------------------------------------


def test_stacking_order_compounds_seasonal_weekend_los_early_bird_last_minute():
    rules = [
        # Deliberately listed in reverse order: the order comes from the kinds, not the list.
        rule(5, "last_minute", "-10", days=60),
        rule(4, "early_bird", "-5", days=10),
        rule(3, "length_of_stay", "-10", min_nights=1),
        rule(2, "weekend", "10"),
        rule(1, "seasonal", "20", start_date=FRI, end_date=SUN),
    ]
    q = compute_quote(spec(rules=rules), FRI, SAT, 1, FRI - timedelta(days=30))
    (night,) = q.nights
    # 100 → +20% = 120 → +10% = 132 → -10% = 118.80 → -5% (5.94) = 112.86 → -10% (11.286 → 11.29) = 101.57
    assert [(a.kind, a.amount) for a in night.adjustments] == [
        ("seasonal", D("20.00")),
        ("weekend", D("12.00")),
        ("length_of_stay", D("-13.20")),
        ("early_bird", D("-5.94")),
        ("last_minute", D("-11.29")),
    ]
    assert night.price == D("101.57")
    assert q.nightly_subtotal == D("132.00")  # base + surcharges
    assert q.discounts == D("30.43")  # 13.20 + 5.94 + 11.29
    check_parts(q)


def test_fixed_then_percent_compounds_on_the_running_price():
    rules = [rule(1, "seasonal", "50", adjustment="fixed", start_date=MON, end_date=NEXT_MON),
             rule(2, "length_of_stay", "-10", min_nights=1)]
    q = compute_quote(spec(rules=rules), MON, TUE(), 1, TODAY)
    assert prices(q) == [D("135.00")]  # (100 + 50) × 0.9


def test_a_night_never_goes_below_zero():
    rules = [rule(1, "length_of_stay", "-150", adjustment="fixed", min_nights=1),
             rule(2, "early_bird", "-10", adjustment="fixed", days=1)]
    q = compute_quote(spec(rules=rules), MON, MON + timedelta(days=2), 1, TODAY)
    assert prices(q) == [D("0.00")] * 2
    assert [a.amount for a in q.nights[0].adjustments] == [D("-100.00")]  # capped; the early bird has nothing left
    assert q.discounts == D("200.00") and q.total == 0
    check_parts(q)


def test_minus_100_percent_is_free_not_negative():
    q = compute_quote(spec(rules=[rule(1, "length_of_stay", "-100", min_nights=1)]), MON, TUE(), 1, TODAY)
    assert prices(q) == [D("0.00")] and q.total == 0


# --- Price overrides ------------------------------------------------------------------------------------------


def test_price_override_replaces_the_base_night_by_night():
    o = PriceOverride(date(2030, 3, 5), date(2030, 3, 7), D("180"), id=1)
    q = compute_quote(spec(overrides=[o]), MON, FRI, 1, TODAY)
    assert [n.base for n in q.nights] == [D("100.00"), D("180.00"), D("180.00"), D("100.00")]


def test_the_shortest_override_wins_then_the_newest():
    month = PriceOverride(date(2030, 3, 1), date(2030, 4, 1), D("150"), id=1)
    week = PriceOverride(MON, NEXT_MON, D("200"), id=2)
    day_old = PriceOverride(FRI, SAT, D("300"), id=3)
    day_new = PriceOverride(FRI, SAT, D("333"), id=4)
    q = compute_quote(spec(overrides=[day_old, month, day_new, week]), date(2030, 3, 3), date(2030, 3, 12), 1, TODAY)
    assert [n.base for n in q.nights] == [
        D("150.00"),  # Sun 3: only the month
        *[D("200.00")] * 4,  # Mon 4 – Thu 7: the week
        D("333.00"),  # Fri 8: two one-night overrides, the newest wins
        D("200.00"), D("200.00"),  # Sat 9, Sun 10: the week
        D("150.00"),  # Mon 11: only the month
    ]


def test_rules_apply_on_top_of_an_override():
    o = PriceOverride(FRI, SUN, D("200"), id=1)
    q = compute_quote(spec(rules=[rule(1, "weekend", "10")], overrides=[o]), FRI, SAT, 1, TODAY)
    assert prices(q) == [D("220.00")]


# --- Fees and taxes -------------------------------------------------------------------------------------


def test_cleaning_fee_once_and_extra_guests_per_night():
    s = spec(cleaning_fee=D("60"), extra_guest_fee=D("15"), guests_included=2)
    q = compute_quote(s, MON, MON + timedelta(days=3), 5, TODAY)
    assert [(f.code, f.amount) for f in q.fees] == [("cleaning", D("60.00")), ("extra_guests", D("135.00"))]
    assert q.fees_total == D("195.00")  # 60 + 15 × 3 guests × 3 nights
    assert q.total == D("495.00")
    check_parts(q)


def test_no_extra_guest_fee_up_to_the_included_guests():
    s = spec(cleaning_fee=D("0"), extra_guest_fee=D("15"), guests_included=2)
    q = compute_quote(s, MON, MON + timedelta(days=3), 2, TODAY)
    assert q.fees == () and q.fees_total == 0


def test_taxes_apply_to_nights_after_discounts_plus_fees_rounded_once():
    s = spec("99.99", cleaning_fee=D("25.55"), tax_rate=D("7.7"),
             rules=[rule(1, "length_of_stay", "-10", min_nights=3)])
    q = compute_quote(s, MON, MON + timedelta(days=3), 2, TODAY)
    # nights: 99.99 - 10.00 (9.999 → 10.00) = 89.99 × 3 = 269.97; + 25.55 = 295.52; 7.7% = 22.75504 → 22.76
    assert prices(q) == [D("89.99")] * 3
    assert q.taxes == D("22.76")
    assert q.total == D("318.28")
    check_parts(q)


def test_half_up_rounding_of_a_percentage():
    q = compute_quote(spec("10.10", rules=[rule(1, "length_of_stay", "-5", min_nights=1)]), MON, TUE(), 1, TODAY)
    assert prices(q) == [D("9.59")]  # 0.505 rounds half up to 0.51


def test_jpy_has_no_decimals():
    s = spec("12345", currency="JPY", cleaning_fee=D("3000.4"), tax_rate=D("10"),
             rules=[rule(1, "length_of_stay", "-7", min_nights=1)])
    q = compute_quote(s, MON, MON + timedelta(days=2), 2, TODAY)
    # 12345 × 7% = 864.15 → 864; night 11481; ×2 = 22962; + 3000 = 25962; 10% = 2596.2 → 2596
    assert prices(q) == [D("11481")] * 2
    assert q.fees_total == D("3000")
    assert q.taxes == D("2596")
    assert q.total == D("28558")
    for amount in (*prices(q), q.nightly_subtotal, q.discounts, q.fees_total, q.taxes, q.total):
        assert amount == amount.to_integral_value() and amount.as_tuple().exponent >= 0, amount


def test_invalid_input_is_refused():
    with pytest.raises(ValueError):
        compute_quote(spec(), MON, MON, 1, TODAY)
    with pytest.raises(ValueError):
        compute_quote(spec(), MON, TUE(), 0, TODAY)


# --- quote() reads the property ----------------------------------------------------------------------------------


@pytest.mark.sqlite
@pytest.mark.django_db
def test_quote_reads_rules_overrides_fees_and_taxes_from_the_property():
    prop = PropertyFactory(base_price=D("100"), cleaning_fee=D("50"), extra_guest_fee=D("10"), guests_included=2,
                           tax_rate=D("10"), currency="USD")
    PricingRuleFactory(property=prop, kind=PricingRule.Kind.WEEKEND, value=D("20"))
    PricingRuleFactory(property=prop, kind=PricingRule.Kind.LENGTH_OF_STAY, value=D("-50"), min_nights=2,
                       active=False)  # inactive: ignored
    DateOverrideFactory(property=prop, start_date=MON, end_date=TUE(), nightly_price=D("80"))
    DateOverrideFactory(property=prop, start_date=TUE(), end_date=FRI, min_stay=2)  # rules only, no price
    at = datetime(2030, 2, 1, 12, tzinfo=UTC)

    q = quote(prop, MON, NEXT_MON, 3, at=at)

    assert prices(q) == [D("80.00"), D("100.00"), D("100.00"), D("100.00"), D("120.00"), D("120.00"), D("100.00")]
    assert q.fees_total == D("120.00")  # 50 + 10 × 1 × 7
    assert q.taxes == D("84.00")  # 10% of 720 + 120
    assert q.total == D("924.00") and q.currency == "USD"
    assert q.lead_days == (MON - at.date()).days
    check_parts(q)
    d = q.as_dict()
    assert d["total"] == "924.00" and len(d["nights"]) == 7 and d["nights"][4]["adjustments"][0]["kind"] == "weekend"


@pytest.mark.django_db
def test_quote_uses_the_propertys_local_date_for_lead_time():
    """11:00 UTC on 2 March is already 3 March in Auckland: a 'within 1 day' rule depends on it."""
    prop = PropertyFactory(timezone="Pacific/Auckland")
    PricingRuleFactory(property=prop, kind=PricingRule.Kind.LAST_MINUTE, value=D("-10"), days=1)
    at = datetime(2030, 3, 2, 11, tzinfo=UTC)

    assert quote(prop, MON, TUE(), 1, at=at).lead_days == 1
    assert prices(quote(prop, MON, TUE(), 1, at=at)) == [D("90.00")]
    prop.timezone = "UTC"
    assert prices(quote(prop, MON, TUE(), 1, at=at)) == [D("100.00")]


@pytest.mark.django_db
def test_quote_is_pure_and_repeatable(django_assert_max_num_queries):
    prop = PropertyFactory()
    PricingRuleFactory(property=prop, kind=PricingRule.Kind.WEEKEND, value=D("15"))
    at = datetime(2030, 2, 1, tzinfo=UTC)
    with django_assert_max_num_queries(2):
        first = quote(prop, MON, NEXT_MON, 2, at=at)
    assert quote(prop, MON, NEXT_MON, 2, at=at) == first
