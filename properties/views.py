"""Server-rendered pages. Thin: read through querysets/selectors, render."""

from django.db.models import Prefetch
from django.shortcuts import render

from .models import Property, PropertyPhoto
from .money import format_money


def home(request):
    """The active properties with their first photo and nightly price (three queries whatever the count)."""
    properties = list(
        Property.objects.active()
        .order_by("city", "name")
        .prefetch_related(
            Prefetch("photos", queryset=PropertyPhoto.objects.order_by("position", "id"), to_attr="photo_list"),
            "amenities",
        )
    )
    for prop in properties:
        prop.first_photo = prop.photo_list[0] if prop.photo_list else None
        prop.price_display = format_money(prop.base_price, prop.currency)
    cities = sorted({prop.city for prop in properties})
    return render(request, "properties/home.html", {"properties": properties, "cities": cities})
