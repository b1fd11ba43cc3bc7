"""Server-rendered guest pages: search (the home page) and the property page.

Thin: a form parses the query string, ``bookings.search`` /
``storefront.selectors`` read, the template renders. Bad input re-renders
the form with its messages (status 200); it never reaches a selector.
"""

from django.http import Http404
from django.shortcuts import render
from django.utils import timezone

from bookings.search import SearchQuery, search
from core.replica import reads_from_replica
from guests.countries import country_name
from properties.forms import SearchForm, parse_month, stay_from_get, stay_query
from properties.models import ALL_WEEKDAYS
from properties.pricing import local_today
from properties.stay_rules import weekdays_phrase
from reviews.selectors import REVIEWS_PER_PAGE, averages_for, rating_summary, review_page

from .fragments import card_bodies, property_about
from .selectors import (
    amenity_choices,
    empty_state,
    policy_info,
    property_calendar,
    property_for_page,
    result_cards,
    stay_quote,
)


def _page_links(current: int, pages: int) -> list[int | None]:
    """Page numbers to link: the first, the last and two either side of the current one (None = a gap)."""
    wanted = sorted({1, pages, *range(max(1, current - 2), min(pages, current + 2) + 1)})
    links: list[int | None] = []
    for number in wanted:
        if links and number - (links[-1] or 0) > 1:
            links.append(None)
        links.append(number)
    return links


@reads_from_replica  # search results may be a moment old (docs/deployment.md "Read replica")
def home(request):
    """Search: place, dates, guests, filters, sort and pages; cards with the quote for the dates."""
    now = timezone.now()
    form = SearchForm(request.GET or None, amenity_choices=amenity_choices())
    context = {"form": form, "searched": form.is_bound}
    if form.is_bound and not form.is_valid():
        return render(request, "properties/search.html", context)
    data = form.cleaned_data if form.is_bound else {}
    guests = data.get("guests") or 1
    q = SearchQuery(
        check_in=data.get("check_in"), check_out=data.get("check_out"), guests=guests, text=data.get("q") or "",
        min_price=data.get("min_price"), max_price=data.get("max_price"), bedrooms=data.get("bedrooms"),
        amenities=tuple(data.get("amenities") or ()), sort=data.get("sort") or "price", page=data.get("page") or 1,
    )
    page = search(q, at=now)
    cards = result_cards(page, guests)
    ratings = averages_for(card.property.pk for card in cards)  # one grouped query for the page's cards
    for card in cards:
        card.property.review_summary = ratings.get(card.property.pk)  # (average, count) or None, for the card
    cards = card_bodies(cards)  # what a card shows of the property: cached by content; its price is not in it
    context.update({
        "query": q, "page": page, "cards": cards, "page_links": _page_links(page.page, page.pages),
        "nights": (q.check_out - q.check_in).days if q.has_dates else None,
        "filters_used": any([q.min_price is not None, q.max_price is not None, q.bedrooms, q.amenities]),
        # the stay every card's "Add to group booking" link carries: written once, not twice a card
        "group_add_query": (f"check_in={q.check_in:%Y-%m-%d}&check_out={q.check_out:%Y-%m-%d}&adults={q.guests}"
                            if q.has_dates else ""),
    })
    if not page.results and page.page == 1 and (q.has_dates or q.text):
        context["empty"] = empty_state(q, at=now)
    return render(request, "properties/search.html", context)


def _reviews_context(request, prop) -> dict:
    """The reviews section: the summary (one aggregate query) and one page of reviews (one query, none when there
    are no reviews). ``?reviews_page=N`` pages through them ("show more"); a bad or too large N shows the last."""
    summary = rating_summary(prop.pk)
    pages = max(1, -(-summary.count // REVIEWS_PER_PAGE))
    raw = request.GET.get("reviews_page", "")
    number = min(int(raw), pages) if raw.isdigit() and 0 < len(raw) < 6 and int(raw) > 0 else 1
    return {"rating": summary, "reviews": review_page(prop.pk, page=number) if summary.count else [],
            "reviews_page": number, "reviews_pages": pages,
            "reviews_next": number + 1 if number < pages else None, "reviews_prev": number - 1 if number > 1 else None}


@reads_from_replica  # the calendar and quote shown; reserving re-checks on the primary under the lock
def property_detail(request, slug):
    """A property: gallery, facts, rules, policy, a two-month calendar and the booking widget."""
    prop = property_for_page(slug)
    if prop is None:
        raise Http404("No such property.")
    now = timezone.now()
    form = stay_from_get(request.GET, prop=prop)
    stay = None
    quote_info = None
    if form.is_bound and form.has_stay:
        data = form.cleaned_data
        stay = (data["check_in"], data["check_out"])
        quote_info = stay_quote(prop, *stay, data["adults"] + data["children"], at=now)
    default_month = (stay[0] if stay else local_today(prop, now)).replace(day=1)
    guests = form.cleaned_data if form.is_bound and form.is_valid() else {"adults": 2, "children": 0}
    cal = property_calendar(prop, parse_month(request.GET.get("month"), default_month), at=now, stay=stay,
                            adults=guests["adults"], children=guests["children"] or 0)
    book_query = ""
    if quote_info is not None and quote_info.bookable:
        book_query = stay_query(stay[0], stay[1], form.cleaned_data["adults"], form.cleaned_data["children"])
    policy = policy_info(prop)
    reviews = _reviews_context(request, prop)
    # The top of the page (facts, photos, description, rules, policy, location): cached by content, no price in it.
    about = property_about(
        prop=prop, photos=list(prop.photos.all()), amenities=list(prop.amenities.all()), policy=policy,
        rating=reviews["rating"], country_name=country_name(prop.country),
        checkin_days=weekdays_phrase(prop.checkin_weekdays) if prop.checkin_weekdays != ALL_WEEKDAYS else "")
    return render(request, "properties/detail.html", {
        "prop": prop, "about": about, "form": form, "quote": quote_info, "policy": policy, "calendar": cal,
        "book_query": book_query, "stay": stay, **reviews,
    })
