"""Money helpers: amounts are ``Decimal`` in a currency, rounded to its minor unit.

Only currencies whose minor unit has 0 or 2 digits are offered (money columns
keep two decimal places); that covers every currency vacation rentals are
commonly sold in. Rounding is half-up, as card networks and invoices do.
"""

from decimal import ROUND_HALF_UP, Decimal

# ISO 4217 code -> digits of the minor unit.
CURRENCY_EXPONENTS = {
    "AUD": 2, "BRL": 2, "CAD": 2, "CHF": 2, "CZK": 2, "DKK": 2, "EUR": 2, "GBP": 2,
    "HKD": 2, "ISK": 0, "JPY": 0, "KRW": 0, "MXN": 2, "NOK": 2, "NZD": 2, "PLN": 2,
    "SEK": 2, "SGD": 2, "THB": 2, "USD": 2, "ZAR": 2,
}  # fmt: skip
CURRENCY_CHOICES = [(code, code) for code in sorted(CURRENCY_EXPONENTS)]
ZERO = Decimal("0")


def minor_unit(currency: str) -> Decimal:
    """The smallest amount of ``currency``: Decimal('0.01'), or Decimal('1') for JPY."""
    return Decimal(1).scaleb(-CURRENCY_EXPONENTS[currency])


def round_money(amount, currency: str) -> Decimal:
    return Decimal(amount).quantize(minor_unit(currency), rounding=ROUND_HALF_UP)


def to_minor_units(amount: Decimal, currency: str) -> int:
    """Integer amount in the minor unit, as payment providers want it (1234 for 12.34 USD)."""
    return int(round_money(amount, currency).scaleb(CURRENCY_EXPONENTS[currency]))


def format_money(amount: Decimal, currency: str) -> str:
    return f"{round_money(amount, currency):,} {currency}"
