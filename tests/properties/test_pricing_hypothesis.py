"""Property-based tests of the pure quote arithmetic (``compute_quote``; no database)."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.money import CURRENCY_EXPONENTS, minor_unit
from properties.pricing import KIND_ORDER, PriceOverride, PricingSpec, RuleSpec, compute_quote

# No deadline and no "too slow" health check: CI machines are busy, and the generated specs are rich.
SETTINGS = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
FEWER = settings(SETTINGS, max_examples=100)
START = date(2030, 1, 1)


def money(max_value=5000, places=2):
    return st.decimals(min_value=0, max_value=max_value, places=places, allow_nan=False, allow_infinity=False)


@st.composite
def rules(draw):
    n = draw(st.integers(0, 8))
    out = []
    for i in range(n):
        kind = draw(st.sampled_from(KIND_ORDER))
        adjustment = draw(st.sampled_from(["percent", "fixed"]))
        if adjustment == "percent":
            value = draw(st.decimals(min_value=-150, max_value=200, places=2))  # below -100: the cap still holds
        else:
            value = draw(st.decimals(min_value=-1000, max_value=1000, places=2))
        start = START + timedelta(days=draw(st.integers(0, 60)))
        out.append(RuleSpec(
            id=i + 1, name=f"r{i}", kind=kind, adjustment=adjustment, value=value,
            priority=draw(st.integers(-2, 2)), weekend_days=draw(st.integers(1, 127)),
            start_date=start, end_date=start + timedelta(days=draw(st.integers(1, 30))),
            days=draw(st.integers(0, 60)), min_nights=draw(st.integers(1, 14)),
        ))
    return tuple(out)


@st.composite
def overrides(draw):
    out = []
    for i in range(draw(st.integers(0, 4))):
        start = START + timedelta(days=draw(st.integers(0, 60)))
        out.append(PriceOverride(start, start + timedelta(days=draw(st.integers(1, 20))), draw(money(3000)), id=i + 1))
    return tuple(out)


@st.composite
def specs(draw, with_rules=True):
    return PricingSpec(
        currency=draw(st.sampled_from(sorted(CURRENCY_EXPONENTS))),
        base_price=draw(money()),
        cleaning_fee=draw(money(500)),
        extra_guest_fee=draw(money(100)),
        guests_included=draw(st.integers(1, 6)),
        tax_rate=draw(st.decimals(min_value=0, max_value=30, places=2)),
        rules=draw(rules()) if with_rules else (),
        price_overrides=draw(overrides()),
    )


stays = st.tuples(
    st.integers(0, 60).map(lambda d: START + timedelta(days=d)),  # check-in
    st.integers(1, 30),  # nights
    st.integers(1, 10),  # guests
    st.integers(-5, 90),  # days between "today" and check-in
)


def run(spec, stay):
    check_in, nights, guests, lead = stay
    return compute_quote(spec, check_in, check_in + timedelta(days=nights), guests, check_in - timedelta(days=lead))


def check_sum_of_parts(q):
    assert q.total == q.nightly_subtotal - q.discounts + q.fees_total + q.taxes
    assert sum((n.price for n in q.nights), Decimal(0)) == q.nightly_subtotal - q.discounts
    assert q.fees_total == sum((f.amount for f in q.fees), Decimal(0))
    for night in q.nights:
        assert night.price == night.base + sum((a.amount for a in night.adjustments), Decimal(0))


def check_never_negative(q):
    assert all(n.price >= 0 for n in q.nights)
    assert q.discounts >= 0 and q.taxes >= 0 and q.fees_total >= 0
    assert q.nightly_subtotal >= q.discounts
    assert q.total >= 0


def check_minor_unit(q):
    unit = minor_unit(q.currency)
    amounts = [q.nightly_subtotal, q.discounts, q.fees_total, q.taxes, q.total]
    amounts += [f.amount for f in q.fees]
    for n in q.nights:
        amounts += [n.base, n.price, *(a.amount for a in n.adjustments)]
    for amount in amounts:
        assert amount % unit == 0, (amount, q.currency)
        assert amount == amount.quantize(unit)


def check_nights(q, check_in, nights):
    assert q.night_count == nights == len(q.as_dict()["nights"])
    assert [n.date for n in q.nights] == [check_in + timedelta(days=i) for i in range(nights)]
    for night in q.nights:  # at most one adjustment per kind, in the documented order
        kinds = [a.kind for a in night.adjustments]
        assert len(kinds) == len(set(kinds))
        assert kinds == sorted(kinds, key=KIND_ORDER.index)


@SETTINGS
@given(specs(), stays)
def test_quote_invariants(spec, stay):
    """One generated example checks every invariant (generation is the expensive part)."""
    q = run(spec, stay)
    check_sum_of_parts(q)
    check_never_negative(q)
    check_minor_unit(q)
    check_nights(q, stay[0], stay[1])
    # Deterministic: the same input gives an equal quote, and equal JSON.
    again = run(spec, stay)
    assert again == q and again.as_dict() == q.as_dict()
    # Surcharges alone never discount; discounts alone never add to the subtotal.
    if all(r.value >= 0 for r in spec.rules):
        assert q.discounts == 0
    if all(r.value <= 0 for r in spec.rules):
        assert q.nightly_subtotal == sum((n.base for n in q.nights), Decimal(0))


@FEWER
@given(specs(), stays)
def test_rule_order_in_the_input_does_not_matter(spec, stay):
    reversed_spec = PricingSpec(**{**spec.__dict__, "rules": tuple(reversed(spec.rules)),
                                   "price_overrides": tuple(reversed(spec.price_overrides))})
    assert run(spec, stay) == run(reversed_spec, stay)


@FEWER
@given(specs(with_rules=False), stays)
def test_without_rules_the_total_grows_with_the_nights(spec, stay):
    check_in, nights, guests, lead = stay
    shorter = run(spec, stay)
    longer = run(spec, (check_in, nights + 1, guests, lead))
    assert longer.total >= shorter.total
    assert longer.nightly_subtotal >= shorter.nightly_subtotal
    assert shorter.discounts == longer.discounts == 0
