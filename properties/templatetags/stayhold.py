"""Template helpers of the guest pages."""

from django import template

from properties.money import format_money

register = template.Library()


@register.filter
def money(amount, currency):
    """``{{ amount|money:currency }}`` → "1,234.50 EUR" (whole units for zero-decimal currencies)."""
    if amount in (None, ""):
        return ""
    return format_money(amount, currency)


@register.simple_tag(takes_context=True)
def query_with(context, **changes):
    """The current query string with some parameters replaced (``None`` or "" removes them)."""
    params = context["request"].GET.copy()
    for key, value in changes.items():
        if value in (None, ""):
            params.pop(key, None)
        else:
            params[key] = str(value)
    encoded = params.urlencode()
    return f"?{encoded}" if encoded else "?"
