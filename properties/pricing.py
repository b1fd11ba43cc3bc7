"""Quotes: what a stay costs, night by night, computed on the server in ``Decimal``.

Stacking order (deterministic, documented in README.md):

1. **Base** of each night: the nightly price of the ``DateOverride`` covering it
   (shortest range, then newest), else the property's base price.
2. **Adjustments**, in this fixed order of kinds: seasonal → weekend →
   length of stay → early bird → last minute. Of each kind at most *one* rule
   applies to a night: among the active rules that match, the one with the
   highest ``priority`` (ties: the oldest). Seasonal and weekend rules match
   per night; the other three match the whole stay (nights, days between the
   quote and arrival) and then adjust every night. A percentage applies to the
   running price of the night (so adjustments compound in the order above); a
   fixed amount is per night. Each adjustment is rounded to the currency's minor
   unit, and a night's price never goes below zero.
3. **Fees**: cleaning fee once per stay; extra-guest fee per night for each guest
   above ``guests_included``.
4. **Taxes**: ``tax_rate`` percent of (nights after adjustments + fees), rounded once.

``nightly_subtotal`` is the nights before discounts (bases plus surcharges);
``discounts`` is the sum of the negative adjustments as a positive amount; so
``total = nightly_subtotal - discounts + fees_total + taxes``, exactly.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal

from django.utils import timezone

from core.money import ZERO, round_money

KIND_ORDER = ("seasonal", "weekend", "length_of_stay", "early_bird", "last_minute")
NIGHT_KINDS = ("seasonal", "weekend")


@dataclass(frozen=True)
class RuleSpec:
    id: int
    name: str
    kind: str
    adjustment: str  # "percent" | "fixed"
    value: Decimal
    priority: int = 0
    weekend_days: int = 0b0110000
    start_date: date | None = None
    end_date: date | None = None
    days: int | None = None
    min_nights: int | None = None

    def matches_night(self, night: date) -> bool:
        if self.kind == "seasonal":
            return self.start_date is not None and self.end_date is not None and (
                self.start_date <= night < self.end_date)
        if self.kind == "weekend":
            return bool(self.weekend_days & (1 << night.weekday()))
        return False

    def matches_stay(self, nights: int, lead_days: int) -> bool:
        if self.kind == "length_of_stay":
            return self.min_nights is not None and nights >= self.min_nights
        if self.kind == "early_bird":
            return self.days is not None and lead_days >= self.days
        if self.kind == "last_minute":
            return self.days is not None and lead_days <= self.days
        return False


@dataclass(frozen=True)
class PriceOverride:
    start_date: date
    end_date: date
    price: Decimal
    id: int = 0

    def covers(self, night: date) -> bool:
        return self.start_date <= night < self.end_date


@dataclass(frozen=True)
class PricingSpec:
    """Everything a quote depends on, as plain values (so the arithmetic is pure)."""

    currency: str
    base_price: Decimal
    cleaning_fee: Decimal = ZERO
    extra_guest_fee: Decimal = ZERO
    guests_included: int = 2
    tax_rate: Decimal = ZERO
    rules: tuple[RuleSpec, ...] = ()
    price_overrides: tuple[PriceOverride, ...] = ()


@dataclass(frozen=True)
class AdjustmentLine:
    rule_id: int
    kind: str
    name: str
    amount: Decimal


@dataclass(frozen=True)
class NightLine:
    date: date
    base: Decimal
    adjustments: tuple[AdjustmentLine, ...]
    price: Decimal


@dataclass(frozen=True)
class FeeLine:
    code: str
    label: str
    amount: Decimal


@dataclass(frozen=True)
class Quote:
    check_in: date
    check_out: date
    guests: int
    currency: str
    nights: tuple[NightLine, ...]
    nightly_subtotal: Decimal
    discounts: Decimal
    fees: tuple[FeeLine, ...]
    fees_total: Decimal
    tax_rate: Decimal
    taxes: Decimal
    total: Decimal
    lead_days: int = field(default=0)

    @property
    def night_count(self) -> int:
        return len(self.nights)

    @property
    def nights_total(self) -> Decimal:
        return self.nightly_subtotal - self.discounts

    def as_dict(self) -> dict:
        """JSON-safe form (money as decimal strings) stored on bookings and sent by the API."""
        return {
            "check_in": self.check_in.isoformat(),
            "check_out": self.check_out.isoformat(),
            "guests": self.guests,
            "currency": self.currency,
            "nights": [
                {
                    "date": n.date.isoformat(),
                    "base": str(n.base),
                    "adjustments": [
                        {"rule_id": a.rule_id, "kind": a.kind, "name": a.name, "amount": str(a.amount)}
                        for a in n.adjustments
                    ],
                    "price": str(n.price),
                }
                for n in self.nights
            ],
            "nightly_subtotal": str(self.nightly_subtotal),
            "discounts": str(self.discounts),
            "fees": [{"code": f.code, "label": f.label, "amount": str(f.amount)} for f in self.fees],
            "fees_total": str(self.fees_total),
            "tax_rate": str(self.tax_rate),
            "taxes": str(self.taxes),
            "total": str(self.total),
        }


def _best(rules) -> RuleSpec | None:
    """Highest priority wins; among equals the oldest (lowest id)."""
    best = None
    for rule in rules:
        if best is None or (rule.priority, -rule.id) > (best.priority, -best.id):
            best = rule
    return best


def _base_for(night: date, spec: PricingSpec) -> Decimal:
    covering = [o for o in spec.price_overrides if o.covers(night)]
    if not covering:
        return round_money(spec.base_price, spec.currency)
    chosen = min(covering, key=lambda o: ((o.end_date - o.start_date).days, -o.id))
    return round_money(chosen.price, spec.currency)


def compute_quote(spec: PricingSpec, check_in: date, check_out: date, guests: int, today: date) -> Quote:
    """The pure arithmetic of a quote. ``today`` is the property's local date at quoting time."""
    nights = (check_out - check_in).days
    if nights < 1:
        raise ValueError("check_out must be after check_in")
    if guests < 1:
        raise ValueError("guests must be at least 1")
    currency = spec.currency
    lead_days = (check_in - today).days

    stay_rules = {
        kind: _best(r for r in spec.rules if r.kind == kind and r.matches_stay(nights, lead_days))
        for kind in KIND_ORDER
        if kind not in NIGHT_KINDS
    }

    lines = []
    subtotal = discounts = ZERO
    for offset in range(nights):
        night = check_in + timedelta(days=offset)
        base = _base_for(night, spec)
        price = base
        adjustments = []
        for kind in KIND_ORDER:
            if kind in NIGHT_KINDS:
                rule = _best(r for r in spec.rules if r.kind == kind and r.matches_night(night))
            else:
                rule = stay_rules[kind]
            if rule is None:
                continue
            if rule.adjustment == "percent":
                amount = round_money(price * rule.value / 100, currency)
            else:
                amount = round_money(rule.value, currency)
            amount = max(amount, -price)  # a night never costs less than nothing
            if amount == 0:
                continue
            price += amount
            adjustments.append(AdjustmentLine(rule.id, rule.kind, rule.name, amount))
            if amount > 0:
                subtotal += amount
            else:
                discounts -= amount
        subtotal += base
        lines.append(NightLine(night, base, tuple(adjustments), price))

    fees = []
    cleaning = round_money(spec.cleaning_fee, currency)
    if cleaning > 0:
        fees.append(FeeLine("cleaning", "Cleaning fee", cleaning))
    extra_guests = max(0, guests - spec.guests_included)
    extra_fee = round_money(spec.extra_guest_fee, currency) * extra_guests * nights
    if extra_fee > 0:
        fees.append(FeeLine("extra_guests", f"Extra guests ({extra_guests} × {nights} nights)", extra_fee))
    fees_total = sum((f.amount for f in fees), ZERO)

    taxable = subtotal - discounts + fees_total
    taxes = round_money(taxable * spec.tax_rate / 100, currency)
    return Quote(
        check_in=check_in,
        check_out=check_out,
        guests=guests,
        currency=currency,
        nights=tuple(lines),
        # Quantized so that zero reads "0.00" (or "0" for JPY) like every other amount.
        nightly_subtotal=round_money(subtotal, currency),
        discounts=round_money(discounts, currency),
        fees=tuple(fees),
        fees_total=round_money(fees_total, currency),
        tax_rate=spec.tax_rate,
        taxes=taxes,
        total=round_money(taxable + taxes, currency),
        lead_days=lead_days,
    )


def pricing_spec(prop) -> PricingSpec:
    """Read a property's pricing into a ``PricingSpec``. Uses prefetched
    ``pricing_rules`` and ``date_overrides`` when the caller prefetched them."""
    rules = tuple(
        RuleSpec(
            id=r.pk, name=r.name, kind=r.kind, adjustment=r.adjustment, value=r.value, priority=r.priority,
            weekend_days=r.weekend_days, start_date=r.start_date, end_date=r.end_date, days=r.days,
            min_nights=r.min_nights,
        )
        for r in prop.pricing_rules.all()
        if r.active
    )
    overrides = tuple(
        PriceOverride(o.start_date, o.end_date, o.nightly_price, o.pk)
        for o in prop.date_overrides.all()
        if o.nightly_price is not None
    )
    return PricingSpec(
        currency=prop.currency, base_price=prop.base_price, cleaning_fee=prop.cleaning_fee,
        extra_guest_fee=prop.extra_guest_fee, guests_included=prop.guests_included, tax_rate=prop.tax_rate,
        rules=rules, price_overrides=overrides,
    )


def local_today(prop, at: datetime | None = None) -> date:
    """The property's local date at ``at`` (default now): stays are in local dates."""
    return timezone.localtime(at or timezone.now(), prop.tz).date()


def quote(prop, check_in: date, check_out: date, guests: int, at: datetime | None = None) -> Quote:
    """The price of a stay at ``prop``, as of ``at`` (default now). Reads only."""
    return compute_quote(pricing_spec(prop), check_in, check_out, guests, local_today(prop, at))
