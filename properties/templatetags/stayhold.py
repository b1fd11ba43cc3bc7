"""Template helpers of the guest pages."""

from django import template
from django.utils.formats import localize
from django.utils.html import conditional_escape
from django.utils.safestring import mark_safe
from django.utils.translation import gettext, ngettext, pgettext

from properties import display
from properties.forms import input_html
from properties.policies import localized_name, localized_summary

register = template.Library()


@register.filter
def money(amount, currency):
    """``{{ amount|money:currency }}`` → "€1,234.50" in English, "1.234,50 €" in German (``properties.display.money``:
    the one place money is written for guests; whole units for zero-decimal currencies)."""
    if amount in (None, ""):
        return ""
    return display.money(amount, currency)


@register.filter
def short_date(day):
    """``{{ day|short_date }}`` → "5 Mar", or "5 Mar 2025" in another year (``properties.display``)."""
    return "" if day in (None, "") else display.short_date(day)


@register.filter
def in_property_tz(moment, prop):
    """``{{ moment|in_property_tz:prop }}`` → "02:15 on 6 March (Europe/Lisbon time)", in the active language
    (``properties.display.local_datetime``): every moment a guest or owner reads goes through it."""
    return "" if moment in (None, "") else display.local_datetime(moment, prop)


local_datetime = register.filter("local_datetime", in_property_tz)  # its older name


@register.filter
def property_time(wall_clock, prop):
    """``{{ prop.check_in_time|property_time:prop }}`` → "15:00 (Europe/Lisbon time)"."""
    return "" if wall_clock in (None, "") else display.local_time(wall_clock, prop)


@register.filter
def zone_name(prop):
    """``{{ prop|zone_name }}`` → "Europe/Lisbon"."""
    return display.zone_label(prop)


@register.filter
def policy_name(snapshot):
    """``{{ policy|policy_name }}``: a cancellation policy snapshot's name in the active language."""
    return localized_name(snapshot) if snapshot else ""


@register.filter
def policy_summary(snapshot):
    """``{{ policy|policy_summary }}``: its sentence ("Full refund up to 5 days before check-in, …") in the active
    language, written from the tiers the booking was sold with."""
    return localized_summary(snapshot) if snapshot else ""


@register.filter
def plural_count(value):
    """A number as the count that picks a plural form: a whole value as itself, 1.5 (bathrooms) as 2."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        return 0
    return int(number) if number == int(number) else 2


@register.filter
def startswith(value, prefix):
    """``{% if next|startswith:admin_url %}``: False for no value."""
    return bool(value) and bool(prefix) and str(value).startswith(str(prefix))


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


@register.simple_tag
def calendar_day(cell):
    """One day of the property calendar (``storefront.selectors.CalendarCell``): a link when a stay can start
    that day, else a span. A tag rather than template markup because a page shows ~60 days and the
    same markup spelled out in the template cost ~10 ms a page; the output is the same."""
    label = conditional_escape(cell.label)
    if cell.href:
        opening, closing = f'<a href="{conditional_escape(cell.href)}"', "a"
    else:
        opening, closing = "<span", "span"
    hint = f'<small class="cal-min">{cell.min_stay_hint}+</small>' if cell.min_stay_hint else ""
    day = cell.day.date
    return mark_safe(  # noqa: S308 - every value is escaped above or is a number / a date
        f'{opening} class="cal-day {conditional_escape(cell.classes)}" data-date="{day.isoformat()}" '
        f'title="{label}"><span aria-hidden="true">{day.day}{hint}</span>'
        f'<span class="visually-hidden">{label}</span></{closing}>'
    )


# The weekday columns of the calendar: (full name, its abbreviation with context "weekday"), Monday first.
WEEKDAY_HEADERS = (("Monday", "Mo"), ("Tuesday", "Tu"), ("Wednesday", "We"), ("Thursday", "Th"), ("Friday", "Fr"),
                   ("Saturday", "Sa"), ("Sunday", "Su"))


@register.simple_tag
def calendar_weekday_headers():
    """The ``<th>`` cells of a calendar month, two to a source line as the template spelled them (the same bytes
    as ``{% translate 'Monday' %}`` / ``{% translate "Mo" context "weekday" %}`` …, without 28 template nodes)."""
    cells = [f'<th scope="col"><abbr title="{conditional_escape(gettext(name))}">'
             f'{conditional_escape(pgettext("weekday", short))}</abbr></th>' for name, short in WEEKDAY_HEADERS]
    return mark_safe(  # noqa: S308 - translations escaped above
        "\n            ".join("".join(cells[i:i + 2]) for i in range(0, 7, 2)))


@register.simple_tag
def calendar_weeks(month):
    """The week rows of a calendar month (``storefront.selectors.CalendarMonth``): what the template's two nested
    loops over weeks and days wrote, built in one function (a month is ~40 cells; ~4 ms a page otherwise)."""
    rows = []
    for week in month.weeks:
        cells = "".join(f"<td>{calendar_day(cell)}</td>" if cell else "<td></td>" for cell in week)
        rows.append(f"<tr>\n              {cells}\n            </tr>")
    return mark_safe("".join(rows))  # noqa: S308 - calendar_day escapes every value


def _translated(message: str, fallback: str, values: dict) -> str:
    """``message % values`` as ``{% blocktranslate %}`` does it, including its fallback: a translation whose
    placeholders do not fit is replaced by the English text."""
    try:
        return message % values
    except (KeyError, ValueError):
        return fallback % values


@register.simple_tag
def card_price(card, nights):
    """The price lines of a search card (``storefront.selectors.ResultCard``): with a quote the average per night
    and the total for ``nights``, else "From … / night". The same bytes as the three ``{% blocktranslate %}``
    blocks it replaces (values escaped and localized as ``{{ }}`` does), about a tenth of their Python calls."""
    price = {"price": conditional_escape(localize(card.per_night))}
    if not card.quote:
        english = "From <strong>%(price)s</strong> / night"
        return mark_safe(  # noqa: S308 - the values are escaped above, the message is ours
            "\n                  <p class=\"price\">"
            f"{_translated(gettext('From <strong>%(price)s</strong> / night'), english, price)}</p>\n                ")
    per_night = _translated(gettext("<strong>%(price)s</strong> / night"), "<strong>%(price)s</strong> / night", price)
    values = {"total": conditional_escape(localize(card.total)), "counter": conditional_escape(localize(nights))}
    singular, plural = "%(total)s total for %(counter)s night", "%(total)s total for %(counter)s nights"
    total = _translated(ngettext("%(total)s total for %(counter)s night", "%(total)s total for %(counter)s nights",
                                 nights), singular if nights == 1 else plural, values)
    return mark_safe(  # noqa: S308 - the values are escaped above, the messages are ours
        f'\n                  <p class="price">{per_night}</p>'
        f'\n                  <p class="total">{total}</p>\n                ')


@register.simple_tag
def option_input(box):
    """``{{ box.tag }}`` of one check box or radio button (a ``BoundWidget``): the same ``<input>`` that
    Django's ``input_option.html`` / ``input.html`` / ``attrs.html`` templates give, built here because the
    search form has 20 amenity boxes and rendering them through three templates each cost ~3 ms a page."""
    return mark_safe(input_html(box.data))  # noqa: S308 - input_html escapes every value


@register.simple_tag
def photo_picture(photo, alt, sizes, first=False):
    """A property photo as ``<picture>``: its WebP renditions in a ``srcset`` with ``sizes`` (the width the
    layout gives it), the original as the ``<img>`` fallback with its real ``width``/``height`` (the box is
    reserved before the bytes arrive: no layout shift). ``first``: the page's main image, fetched at high
    priority; every other one is ``loading="lazy"``. Without renditions (not made yet) the original alone.
    A tag for the same reason as ``calendar_day``: a search page shows many cards."""
    renditions = photo.renditions if photo.has_current_renditions() else {}
    storage = photo.image.storage
    width, height = renditions.get("width", 1200), renditions.get("height", 800)
    loading = 'fetchpriority="high"' if first else 'loading="lazy"'
    img = (f'<img src="{conditional_escape(photo.image.url)}" alt="{conditional_escape(alt)}" width="{int(width)}" '
           f'height="{int(height)}" {loading} decoding="async">')
    webp = renditions.get("webp") or []
    if not webp:
        return mark_safe(img)  # noqa: S308 - every value is escaped above or is a number
    srcset = ", ".join(f"{storage.url(r['name'])} {int(r['width'])}w" for r in webp)
    return mark_safe(  # noqa: S308 - every value is escaped above or is a number
        f'<picture><source type="image/webp" srcset="{conditional_escape(srcset)}" '
        f'sizes="{conditional_escape(sizes)}">{img}</picture>'
    )


@register.simple_tag
def described_widget(field):
    """``{% described_widget field %}``: the field's widget with ``aria-describedby`` naming the elements that
    ``templates/_field.html`` writes under it: its help text (``<auto_id>_helptext``, the id Django itself
    points at) and its error message (``<auto_id>_error``), so a screen reader reads both with the field.
    Plain ``{{ field }}`` names the help text only, and only when it has one."""
    ids = []
    if field.help_text:
        ids.append(f"{field.auto_id}_helptext")
    if field.errors:
        ids.append(f"{field.auto_id}_error")
    return field.as_widget(attrs={"aria-describedby": " ".join(ids)} if ids and field.auto_id else None)


@register.inclusion_tag("bookings/_hold_countdown.html")
def hold_countdown(booking, prop):
    """``{% hold_countdown booking prop %}``: "23 h 59 min left (until 02:08, Lisbon time, 8 Dec)", kept current
    by static/js/booking.js (``properties.display.hold_countdown``)."""
    return {"countdown": display.hold_countdown(booking.expires_at, prop)}
