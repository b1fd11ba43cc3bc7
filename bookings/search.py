"""Reads: search over all active properties, in two round trips.

On PostgreSQL (``_search_sql``) the page and its exact total are one statement over ``bookings_occupancy``, the
per-property bit strings of occupied nights that PostgreSQL triggers keep in step with bookings and blocks
(``bookings.models.Occupancy``, docs/performance-search.md): no night of a booking in the stay widened by the
property's buffer days, no blocked night, no live hold or unpaid reservation (checked beside the bits: they
depend on the clock), guests, stay length and check-in/check-out weekdays as in force on the arrival night
(rule-bearing date overrides included, in SQL), lead time and advance window. Then the page's amenities, photos,
pricing rules and date overrides, four statements sent as one (``_prefetch_page``). Never one per property.

Elsewhere (SQLite) ``_search_orm`` filters availability with the ORM: the same definition, the same results
(tests/properties/test_search.py and tests/bookings/test_occupancy.py check both). The price filter and the price
sort use the base nightly price (in the property's own currency); each result carries the full quote for the
dates.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal

from django.db import connections
from django.db.models import (
    BooleanField,
    Count,
    DateField,
    Exists,
    F,
    Func,
    IntegerField,
    Max,
    OuterRef,
    Prefetch,
    Q,
    Value,
    Window,
)
from django.utils import timezone

from properties.listing import SORTS
from properties.models import Amenity, DateOverride, PricingRule, Property, PropertyPhoto
from properties.pricing import Quote, quote
from properties.stay_rules import stay_rules_for

from .models import EXPIRING_STATUSES, AvailabilityBlock, Booking, occupying_q

DEFAULT_PAGE_SIZE = 20
MAX_PAGE_SIZE = 50


class RangeOverlaps(Func):
    """``[check_in, check_out)`` of the row overlaps the constant ``[start, end)``.

    On PostgreSQL this is written exactly like the exclusion constraint's GiST
    expression, so the planner answers it from that index (docs/architecture.md, "Measured facts").
    """

    output_field = BooleanField()
    conditional = True

    def __init__(self, start: date, end: date, prefix: str = ""):
        super().__init__(F(f"{prefix}check_in"), F(f"{prefix}check_out"), Value(start, DateField()),
                         Value(end, DateField()))

    def as_sql(self, compiler, conn, template=None, **extra):
        ci, co, start, end = (compiler.compile(e) for e in self.source_expressions)
        if conn.vendor == "postgresql":
            sql = f"daterange({ci[0]}, {co[0]}, '[)') && daterange({start[0]}::date, {end[0]}::date, '[)')"
        else:
            sql = f"({ci[0]} < {end[0]} AND {co[0]} > {start[0]})"
            return sql, [*ci[1], *end[1], *co[1], *start[1]]
        return sql, [*ci[1], *co[1], *start[1], *end[1]]


class RangeOverlapsWidenedByMaxBuffer(RangeOverlaps):
    """PostgreSQL only: the row's range overlaps ``[start - m, end + m)``, where ``m`` is the largest
    ``buffer_days`` of any active property, computed inside the same query (one InitPlan, answered
    from the ``property_status_buffer`` index) instead of in a separate round trip. The exact
    per-property buffer is then applied as a join filter."""

    def as_sql(self, compiler, conn, template=None, **extra):
        ci, co, start, end = (compiler.compile(e) for e in self.source_expressions)
        table = conn.ops.quote_name(Property._meta.db_table)
        max_buffer = f"SELECT COALESCE(MAX(buffer_days), 0) AS b FROM {table} WHERE status = %s"  # noqa: S608
        lo, hi = f"{start[0]}::date - mb.b", f"{end[0]}::date + mb.b"
        widened = f"SELECT daterange({lo}, {hi}, '[)') FROM ({max_buffer}) AS mb"  # noqa: S608
        sql = f"daterange({ci[0]}, {co[0]}, '[)') && ({widened})"
        return sql, [*ci[1], *co[1], *start[1], *end[1], Property.Status.ACTIVE.value]


class ShiftDays(Func):
    """A constant date shifted by an integer column of days (``date + n`` on PostgreSQL)."""

    output_field = DateField()

    def __init__(self, day: date, days_expr, sign: int):
        super().__init__(Value(day, DateField()), days_expr)
        self.sign = sign

    def as_sql(self, compiler, conn, **extra):
        (day_sql, day_params), (n_sql, n_params) = (compiler.compile(e) for e in self.source_expressions)
        op = "+" if self.sign > 0 else "-"
        if conn.vendor == "postgresql":
            return f"({day_sql}::date {op} {n_sql})", [*day_params, *n_params]
        return f"date({day_sql}, '{op}' || {n_sql} || ' days')", [*day_params, *n_params]


@dataclass(frozen=True)
class SearchQuery:
    check_in: date | None = None
    check_out: date | None = None
    guests: int = 1
    text: str = ""
    min_price: Decimal | None = None
    max_price: Decimal | None = None
    bedrooms: int | None = None
    amenities: tuple[str, ...] = ()
    sort: str = "price"
    page: int = 1
    page_size: int = DEFAULT_PAGE_SIZE

    @property
    def has_dates(self) -> bool:
        return self.check_in is not None and self.check_out is not None


@dataclass(frozen=True)
class SearchResult:
    property: Property
    quote: Quote | None


@dataclass(frozen=True)
class SearchPage:
    results: list[SearchResult]
    total: int
    page: int
    page_size: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.page_size))


def _available_filter(qs, q: SearchQuery, now: datetime):
    ci, co = q.check_in, q.check_out
    nights = (co - ci).days
    today = timezone.localdate(now)  # properties' own dates differ by at most a day; exact rules run at booking
    lead = (ci - today).days

    # Bookings overlapping the stay widened by the largest buffer of any property: a date range
    # the GiST index answers first; then the exact per-property buffer as a join filter.
    if connections[qs.db].vendor == "postgresql":
        max_buffer, overlaps = None, RangeOverlapsWidenedByMaxBuffer(ci, co)
    else:
        max_buffer = Property.objects.active().aggregate(m=Max("buffer_days"))["m"] or 0
        widen = timedelta(days=max_buffer)
        overlaps = RangeOverlaps(ci - widen, co + widen)
    taken = Booking.objects.filter(Q(property=OuterRef("pk")) & occupying_q(now)).filter(overlaps)
    if max_buffer != 0:
        taken = taken.filter(check_in__lt=ShiftDays(co, OuterRef("buffer_days"), +1),
                             check_out__gt=ShiftDays(ci, OuterRef("buffer_days"), -1))
    blocked = AvailabilityBlock.objects.filter(property=OuterRef("pk"), start_date__lt=co, end_date__gt=ci)
    qs = qs.filter(~Exists(taken), ~Exists(blocked), min_lead_days__lte=lead, max_advance_days__gte=lead)
    if lead < 0:
        return qs.none()

    # Stay rules: the property's own, except where an override covers the arrival night.
    # Price-only overrides leave the rules alone, so only rule-bearing ones are read.
    overridden = {}
    rule_fields = ("min_stay", "max_stay", "checkin_weekdays", "checkout_weekdays")
    overrides = (
        DateOverride.objects.filter(start_date__lte=ci, end_date__gt=ci)
        .exclude(**{f"{f}__isnull": True for f in rule_fields})
        .select_related("property")
        .only("property_id", "start_date", "end_date", *rule_fields, *(f"property__{f}" for f in rule_fields))
    )
    for o in overrides:
        overridden.setdefault(o.property_id, (o.property, []))[1].append(o)
    passing = [
        pid for pid, (prop, overrides) in overridden.items()
        if _rules_allow(stay_rules_for(prop, ci, overrides), ci, co, nights)
    ]
    ci_bit, co_bit = 1 << ci.weekday(), 1 << co.weekday()
    own_rules = Q(min_stay__lte=nights, max_stay__gte=nights) & ~Q(checkin_weekdays_bit=0) & ~Q(checkout_weekdays_bit=0)
    qs = qs.annotate(
        checkin_weekdays_bit=F("checkin_weekdays").bitand(Value(ci_bit, IntegerField())),
        checkout_weekdays_bit=F("checkout_weekdays").bitand(Value(co_bit, IntegerField())),
    )
    return qs.filter((own_rules & ~Q(pk__in=list(overridden))) | Q(pk__in=passing))


def _rules_allow(rules, ci: date, co: date, nights: int) -> bool:
    return (
        rules.min_stay <= nights <= rules.max_stay
        and bool(rules.checkin_weekdays & (1 << ci.weekday()))
        and bool(rules.checkout_weekdays & (1 << co.weekday()))
    )


def search(q: SearchQuery, *, at: datetime | None = None) -> SearchPage:
    now = at or timezone.now()
    if connections[Property.objects.db].vendor == "postgresql":
        return _search_sql(q, now)
    return _search_orm(q, now)


def _page_of(q: SearchQuery) -> tuple[int, int]:
    return max(1, q.page), max(1, min(q.page_size, MAX_PAGE_SIZE))


def _with_quotes(rows: list[Property], q: SearchQuery, now: datetime, total: int, page: int,
                 page_size: int) -> SearchPage:
    results = [
        SearchResult(p, quote(p, q.check_in, q.check_out, q.guests, at=now) if q.has_dates else None) for p in rows
    ]
    return SearchPage(results, total, page, page_size)


def _search_orm(q: SearchQuery, now: datetime) -> SearchPage:
    """The ORM definition of search (SQLite; on PostgreSQL the benchmark's "before" row and a test's reference)."""
    page, page_size = _page_of(q)
    qs = Property.objects.active().filter(max_guests__gte=max(1, q.guests))
    if q.text.strip():
        text = q.text.strip()
        qs = qs.filter(Q(name__icontains=text) | Q(city__icontains=text) | Q(region__icontains=text))
    if q.min_price is not None:
        qs = qs.filter(base_price__gte=q.min_price)
    if q.max_price is not None:
        qs = qs.filter(base_price__lte=q.max_price)
    if q.bedrooms:
        qs = qs.filter(bedrooms__gte=q.bedrooms)
    for code in q.amenities:
        qs = qs.filter(Exists(Property.amenities.through.objects.filter(property=OuterRef("pk"), amenity__code=code)))
    if q.has_dates:
        qs = _available_filter(qs, q, now)

    qs = qs.annotate(total_count=Window(Count("id"))).order_by(*SORTS.get(q.sort, SORTS["price"]))
    offset = (page - 1) * page_size
    if connections[qs.db].vendor == "postgresql":
        rows = list(qs[offset:offset + page_size])
        _prefetch_page(rows, qs.db, pricing=q.has_dates)
    else:
        rows = list(
            qs.prefetch_related(
                "amenities",
                Prefetch("photos", queryset=PropertyPhoto.objects.order_by("position", "id")),
                *(("pricing_rules", "date_overrides") if q.has_dates else ()),
            )[offset:offset + page_size]
        )
    total = rows[0].total_count if rows else (qs.count() if page > 1 else 0)
    return _with_quotes(rows, q, now, total, page, page_size)




# --- PostgreSQL: one statement over the occupancy bit strings ---------------------------------------------------

# Statuses frozen as SQL literals (bookings.models): the clock-dependent rows search checks beside the bits.
_EXPIRING_SQL = "(" + ", ".join(f"'{s.value}'" for s in EXPIRING_STATUSES) + ")"

# The stay rules in force on the arrival night: per attribute, the shortest (then newest) rule-bearing override
# covering it, else the property's own (properties.stay_rules.stay_rules_for). Few rows: only overrides that set
# a rule and cover the night.
_RULES_CTE = """
rules AS (
    SELECT property_id,
        (array_agg(min_stay ORDER BY end_date - start_date, id DESC) FILTER (WHERE min_stay IS NOT NULL))[1]
            AS min_stay,
        (array_agg(max_stay ORDER BY end_date - start_date, id DESC) FILTER (WHERE max_stay IS NOT NULL))[1]
            AS max_stay,
        (array_agg(checkin_weekdays ORDER BY end_date - start_date, id DESC)
            FILTER (WHERE checkin_weekdays IS NOT NULL))[1] AS checkin_weekdays,
        (array_agg(checkout_weekdays ORDER BY end_date - start_date, id DESC)
            FILTER (WHERE checkout_weekdays IS NOT NULL))[1] AS checkout_weekdays
    FROM properties_dateoverride
    WHERE start_date <= %(ci)s AND end_date > %(ci)s
      AND (min_stay IS NOT NULL OR max_stay IS NOT NULL OR checkin_weekdays IS NOT NULL
           OR checkout_weekdays IS NOT NULL)
    GROUP BY property_id
)"""

# Free for the stay: no night of a booking in [check-in - buffer, check-out + buffer) and no blocked night in
# [check-in, check-out) in the bit strings (substring clips to the string; nights outside it are free); and no
# live hold or unpaid reservation (expires_at still ahead) overlapping the widened stay.
_FREE_SQL = f"""
  AND p.min_lead_days <= %(lead)s AND p.max_advance_days >= %(lead)s
  AND coalesce(r.min_stay, p.min_stay) <= %(nights)s AND coalesce(r.max_stay, p.max_stay) >= %(nights)s
  AND coalesce(r.checkin_weekdays, p.checkin_weekdays) & %(ci_bit)s <> 0
  AND coalesce(r.checkout_weekdays, p.checkout_weekdays) & %(co_bit)s <> 0
  AND (o.property_id IS NULL OR (
      bit_count(substring(o.booked FROM %(ci)s::date - p.buffer_days - o.origin + 1
                                   FOR %(nights)s + 2 * p.buffer_days)) = 0
      AND bit_count(substring(o.blocked FROM %(ci)s::date - o.origin + 1 FOR %(nights)s)) = 0))
  AND NOT EXISTS (
      SELECT 1 FROM bookings_booking h
      WHERE h.property_id = p.id AND h.status IN {_EXPIRING_SQL} AND h.expires_at IS NOT NULL
        AND h.expires_at > %(now)s
        AND h.check_in < %(co)s::date + p.buffer_days AND h.check_out > %(ci)s::date - p.buffer_days)"""  # noqa: S608


def _order_sql(sort: str) -> str:
    parts = []
    for name in SORTS.get(sort, SORTS["price"]):
        field = Property._meta.pk if name.lstrip("-") == "id" else Property._meta.get_field(name.lstrip("-"))
        parts.append(f"p.{field.column}{' DESC' if name.startswith('-') else ''}")
    return ", ".join(parts)


def _search_sql(q: SearchQuery, now: datetime) -> SearchPage:
    """``search`` on PostgreSQL: the page and its exact total in one statement over ``bookings_occupancy``
    (kept by triggers, see ``bookings.models.Occupancy``), then the page's related rows (``_prefetch_page``).
    The same result as ``_search_orm``: tests/properties/test_search.py checks both against the slow definition."""
    page, page_size = _page_of(q)
    alias = Property.objects.db
    conn = connections[alias]
    fields = Property._meta.concrete_fields
    params: dict = {"status": Property.Status.ACTIVE.value, "guests": max(1, q.guests)}
    where = ["p.status = %(status)s", "p.max_guests >= %(guests)s"]
    text = q.text.strip()
    if text:
        params["text"] = f"%{conn.ops.prep_for_like_query(text)}%"
        where.append("(UPPER(p.name) LIKE UPPER(%(text)s) OR UPPER(p.city) LIKE UPPER(%(text)s) "
                     "OR UPPER(p.region) LIKE UPPER(%(text)s))")
    if q.min_price is not None:
        params["min_price"] = q.min_price
        where.append("p.base_price >= %(min_price)s")
    if q.max_price is not None:
        params["max_price"] = q.max_price
        where.append("p.base_price <= %(max_price)s")
    if q.bedrooms:
        params["bedrooms"] = q.bedrooms
        where.append("p.bedrooms >= %(bedrooms)s")
    for i, code in enumerate(q.amenities):
        params[f"amenity{i}"] = code
        where.append("EXISTS (SELECT 1 FROM properties_property_amenities l JOIN properties_amenity a "  # noqa: S608
                     f"ON a.id = l.amenity_id WHERE l.property_id = p.id AND a.code = %(amenity{i})s)")
    joins, ctes = "", ""
    if q.has_dates:
        ci, co = q.check_in, q.check_out
        lead = (ci - timezone.localdate(now)).days  # as _available_filter: exact rules run at booking
        if lead < 0:
            return SearchPage([], 0, page, page_size)
        params.update(ci=ci, co=co, nights=(co - ci).days, lead=lead, now=now,
                      ci_bit=1 << ci.weekday(), co_bit=1 << co.weekday())
        ctes = f"WITH {_RULES_CTE}\n"
        joins = ("LEFT JOIN bookings_occupancy o ON o.property_id = p.id "
                 "LEFT JOIN rules r ON r.property_id = p.id")
        where.append(_FREE_SQL.strip().removeprefix("AND "))
    params.update(limit=page_size, offset=(page - 1) * page_size)
    cols = ", ".join(f"p.{conn.ops.quote_name(f.column)}" for f in fields)
    body = f"FROM properties_property p {joins} WHERE {' AND '.join(where)}"
    order = _order_sql(q.sort)
    # The filter, the count and the sort run on narrow rows (ids and sort keys); only the page's rows are read
    # whole, by primary key.
    sql = (f"{ctes}{', ' if ctes else 'WITH '}hits AS MATERIALIZED ("  # noqa: S608
           f"SELECT p.id, count(*) OVER () AS total, row_number() OVER (ORDER BY {order}) AS n {body} "
           f"ORDER BY {order} LIMIT %(limit)s OFFSET %(offset)s) "
           f"SELECT {cols}, hits.total FROM hits JOIN properties_property p ON p.id = hits.id ORDER BY hits.n")
    names = [f.attname for f in fields]
    converters = [(i, f.from_db_value) for i, f in enumerate(fields) if hasattr(f, "from_db_value")]
    with conn.cursor() as cur:
        cur.execute(sql, params)
        fetched = cur.fetchall()
        if not fetched and page > 1:  # beyond the last page: the total still counts
            cur.execute(f"{ctes}SELECT count(*) {body}", params)  # noqa: S608
            total = cur.fetchone()[0]
        else:
            total = fetched[0][-1] if fetched else 0
    rows = []
    for row in fetched:
        values = list(row[:-1])
        for i, convert in converters:
            values[i] = convert(values[i], None, conn)
        rows.append(Property.from_db(alias, names, values))
    _prefetch_page(rows, alias, pricing=q.has_dates)
    return _with_quotes(rows, q, now, total, page, page_size)


# The reverse foreign keys _prefetch_page loads for each result on PostgreSQL (amenities come on their own).
_PAGE_RELATIONS = {"photos": PropertyPhoto, "pricing_rules": PricingRule, "date_overrides": DateOverride}


def _order_by_sql(model, conn, alias: str = "") -> str:
    """The model's ``Meta.ordering`` as SQL (what ``prefetch_related`` would order by), then the pk."""
    parts = []
    for name in [*model._meta.ordering, "pk"]:
        field = model._meta.pk if name.lstrip("-") == "pk" else model._meta.get_field(name.lstrip("-"))
        parts.append(f"{alias}{conn.ops.quote_name(field.column)}{' DESC' if name.startswith('-') else ''}")
    return ", ".join(parts)


def _prefetch_page(rows: list[Property], alias: str, *, pricing: bool) -> None:
    """``prefetch_related("amenities", "photos", "pricing_rules", "date_overrides")`` for one page,
    with one plain SQL read per relation, sent in one round trip (PostgreSQL).

    The result is what ``prefetch_related`` leaves behind: each property's related managers
    return the loaded rows from ``.all()`` (and query properly on ``.filter()``). It skips
    the ORM's per-relation query building and per-object bookkeeping, about 15 % of a
    search's CPU time (see the Benchmarks section of README.md).
    """
    if not rows:
        return
    conn = connections[alias]
    through = Property.amenities.through._meta
    amenity_fields = Amenity._meta.concrete_fields
    reads = [("amenities", Amenity, [f.attname for f in amenity_fields], (
        "SELECT l.property_id, {cols} FROM {through} l JOIN {amenity} a ON a.id = l.amenity_id "  # noqa: S608
        "WHERE l.property_id = ANY(%(ids)s) ORDER BY {order}".format(
            cols=", ".join(f"a.{conn.ops.quote_name(f.column)}" for f in amenity_fields),
            through=conn.ops.quote_name(through.db_table), amenity=conn.ops.quote_name(Amenity._meta.db_table),
            order=_order_by_sql(Amenity, conn, "a."),
        )))]
    for relation, model in _PAGE_RELATIONS.items():
        if relation != "photos" and not pricing:
            continue
        fields = model._meta.concrete_fields
        cols = ", ".join(conn.ops.quote_name(f.column) for f in fields)
        table = conn.ops.quote_name(model._meta.db_table)
        sql = f"SELECT {cols} FROM {table} WHERE property_id = ANY(%(ids)s) ORDER BY {_order_by_sql(model, conn)}"  # noqa: S608
        reads.append((relation, model, [f.attname for f in fields], sql))
    params = {"ids": [p.pk for p in rows]}
    with conn.cursor() as cur:
        # One round trip for all the reads where the driver binds parameters on the client (Django's default
        # with psycopg 3): the statements go as one string, their results come back one set after the other.
        if not conn.settings_dict.get("OPTIONS", {}).get("server_side_binding"):
            cur.execute("; ".join(sql for *_, sql in reads), params)
            results = [cur.fetchall()]
            while cur.nextset():
                results.append(cur.fetchall())
        else:
            results = []
            for *_, sql in reads:
                cur.execute(sql, params)
                results.append(cur.fetchall())
    loaded: dict[str, dict[int, list]] = {}
    for (relation, model, names, _sql), fetched in zip(reads, results, strict=True):
        loaded[relation] = by_property = defaultdict(list)
        if model is Amenity:
            for pid, *values in fetched:
                by_property[pid].append(Amenity.from_db(alias, names, values))
            continue
        fields = model._meta.concrete_fields
        at = names.index("property_id")
        # A raw cursor skips the fields' own conversions (a JSONField comes back as its text): apply them.
        converters = [(i, f.from_db_value) for i, f in enumerate(fields) if hasattr(f, "from_db_value")]
        for row in fetched:
            values = list(row)
            for i, convert in converters:
                values[i] = convert(values[i], None, conn)
            by_property[values[at]].append(model.from_db(alias, names, values))
    for prop in rows:
        cache = prop.__dict__.setdefault("_prefetched_objects_cache", {})
        for relation, by_property in loaded.items():
            items = by_property.get(prop.pk, [])
            if relation in _PAGE_RELATIONS:  # reverse foreign keys: item.property is this property, no query
                fk = _PAGE_RELATIONS[relation]._meta.get_field("property")
                for item in items:
                    fk.set_cached_value(item, prop)
            related = getattr(prop, relation).get_queryset()  # filtered to this property, not evaluated
            related._result_cache = items
            related._prefetch_done = True
            cache[relation] = related
