"""How the catalogue can be ordered: each sort key and the ``Property`` columns behind it.

Shared by the guest search form, the API and ``bookings.search`` (which applies
it); the trailing ``id`` makes every order total, so pages never repeat a row.
"""

SORTS = {
    "price": ("base_price", "id"),
    "-price": ("-base_price", "id"),
    "newest": ("-created_at", "-id"),
    "name": ("name", "id"),
    "bedrooms": ("-bedrooms", "base_price", "id"),
}
