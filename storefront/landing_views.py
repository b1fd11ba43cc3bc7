"""Landing links: where an outside site sends a guest to one of our property pages with the stay filled in.

**Google's free booking links** (Google Vacation Rentals; the prices come from ``channels.adapters.google_vr``).
Google builds each link from the partner's landing-page file (a ``PointsOfSale`` XML uploaded in Hotel Center, not
pushed over the API) by filling in its variables. The owner (or our operator, for a shared partner account) gives
Google the file of ``channels.adapters.google_vr.points_of_sale_xml`` (its connection's admin page shows the
template), whose one URL template is ``GOOGLE_URL_TEMPLATE``::

    <SITE_URL>/go/google/(PARTNER-HOTEL-ID)?checkin=(CHECKINYEAR)-(CHECKINMONTH)-(CHECKINDAY)&nights=(LENGTH)
        &adults=(NUM-ADULTS)&children=(NUM-CHILDREN)&currency=(USER-CURRENCY)&price=(PRICE-DISPLAYED-TOTAL)

The parameter names follow Google's variables (``LENGTH`` = nights, ``NUM-ADULTS``, ``NUM-CHILDREN``,
``USER-CURRENCY``, ``PRICE-DISPLAYED-TOTAL`` = the total Google showed, in the user's currency: that last meaning is
from third-party copies of Google's table, not Google's own text). ``(PARTNER-HOTEL-ID)`` is the property id Google
knows: our property's slug by default (``GoogleVrAdapter.property_id``); another id set on the Google connection
(``remote_property_id``) is found too. The same URL without parameters is the dateless "website link" Google also
requires for every listing.

:func:`google` validates the parameters, remembers the referral in the session (``storefront.referrals``: the
checkout records it on the booking, ``Booking.referral``, which the reports count), and redirects (302) to the
property page with the stay in its own query parameters (``check_in``, ``check_out``, ``adults``, ``children``:
``properties.forms.stay_query``), where the quote shows the total. Anything that is not a valid stay — a missing or
malformed date, nights or guests out of range, an arrival in the past — lands on the property page without dates
(never an error page); an unknown property is a 404. Google's price is not trusted or shown: the property page
prices the stay itself; when Google's price is in the property's currency and differs from our quote, that is
logged (the expected gap of a stay-level discount is explained in ``channels.adapters.google_vr``).
"""

from __future__ import annotations

import logging
import re
from datetime import date, timedelta
from decimal import Decimal, InvalidOperation

from django.http import Http404, HttpResponseRedirect
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from bookings.models import Referral
from channels.models import ChannelConnection, Transport
from properties.forms import MAX_GUESTS, MAX_STAY_NIGHTS, StayForm, stay_query
from properties.models import Property
from properties.pricing import quote

from .referrals import remember

log = logging.getLogger(__name__)
ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")

def _property(property_id: str) -> Property | None:
    prop = Property.objects.active().filter(slug=property_id).first()
    if prop is None:
        connection = (ChannelConnection.objects.select_related("property")
                      .filter(transport=Transport.GOOGLE_VR, remote_property_id=property_id,
                              property__status=Property.Status.ACTIVE).first())
        prop = connection.property if connection is not None else None
    return prop


def _int(value: str | None, default: int | None, low: int, high: int) -> int | None:
    if not value:
        return default
    try:
        number = int(value)
    except ValueError:
        return None
    return number if low <= number <= high else None


def _stay(params, prop: Property) -> tuple[date, date, int, int] | None:
    """The stay a landing link asks for, or None when it is not a valid stay (the page then shows no dates)."""
    raw = params.get("checkin") or ""
    if not ISO_DATE.fullmatch(raw):  # date.fromisoformat alone also takes 20270301 and week dates
        return None
    try:
        check_in = date.fromisoformat(raw)
    except ValueError:
        return None
    nights = _int(params.get("nights"), None, 1, MAX_STAY_NIGHTS)
    adults = _int(params.get("adults"), 2, 1, MAX_GUESTS)  # Google's default party: 2 adults
    children = _int(params.get("children"), 0, 0, MAX_GUESTS)
    if nights is None or adults is None or children is None:
        return None
    check_out = check_in + timedelta(days=nights)
    form = StayForm({"check_in": check_in.isoformat(), "check_out": check_out.isoformat(), "adults": adults,
                     "children": children}, prop=prop)
    return (check_in, check_out, adults, children) if form.has_stay else None


def _log_price_gap(params, prop: Property, stay: tuple[date, date, int, int]) -> None:
    """Google's displayed total against our quote, when both are in the property's currency (price accuracy)."""
    if (params.get("currency") or "").upper() != prop.currency or not params.get("price"):
        return
    try:
        shown = Decimal(params["price"])
    except InvalidOperation:
        return
    ours = quote(prop, stay[0], stay[1], stay[2] + stay[3]).total
    if shown != ours:
        log.info("Google showed %s %s for %s %s–%s (%s guests); our quote is %s", shown, prop.currency, prop.slug,
                 stay[0], stay[1], stay[2] + stay[3], ours)


@never_cache
@require_GET
def google(request, property_id):
    """``GET /go/google/<property id>?checkin=&nights=&adults=&children=&currency=&price=`` (see the module
    docstring): remember the referral, redirect to the property page with the stay filled in."""
    prop = _property(property_id)
    if prop is None:
        raise Http404("No such property.")
    remember(request, Referral.GOOGLE_VR)
    url = reverse("properties:detail", args=[prop.slug])
    stay = _stay(request.GET, prop)
    if stay is None:
        return HttpResponseRedirect(url)
    _log_price_gap(request.GET, prop, stay)
    return HttpResponseRedirect(f"{url}?{stay_query(*stay)}")
