"""The reports page and CSV: permissions, tenant boundaries, bad input, query count, CSV = page figures."""

import csv
import io
from datetime import date, timedelta

import pytest
from django.contrib.auth.models import Permission
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from tests.factories import OwnerFactory, PropertyFactory, SuperuserFactory, UserFactory

from .conftest import at, confirmed

pytestmark = pytest.mark.django_db
URL, CSV_URL = reverse("admin:reports"), reverse("admin:reports-csv")
Q1 = {"from": "2024-01", "to": "2024-03"}


def get(client, user, url=URL, params=None):
    client.force_login(user)
    return client.get(url, params or {})


def parse_csv(response) -> list[dict]:
    return list(csv.DictReader(io.StringIO(response.content.decode())))


# --- permissions and tenant boundaries -------------------------------------------------------------------


def test_owner_sees_page_with_figures_charts_and_definitions(client, owner_a, world):
    response = get(client, owner_a, params=Q1)
    assert response.status_code == 200
    html = response.content.decode()
    assert 'id="report-EUR"' in html and 'id="report-USD"' in html
    assert "931.33 EUR" in html and "15.5%" in html and "98.89 EUR" in html  # February, from test_figures
    assert html.count("<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"chart\"") == 6  # 3 per currency
    assert "<title id=\"chart-revenue-EUR-title\">Revenue per month (EUR)</title>" in html
    assert "How these figures are defined" in html and "RevPAR (revenue per available night)" in html
    assert "Gamma" not in html  # owner B's property


@pytest.mark.parametrize("url", [URL, CSV_URL])
def test_staff_get_403(client, staff_a, url):
    assert get(client, staff_a, url).status_code == 403


def test_staff_user_without_permission_gets_403(client, db):
    assert get(client, UserFactory(is_staff=True)).status_code == 403


def test_permission_alone_is_enough(client, world):
    """Without the Owners group: a staff user granted bookings.view_reports passes, seeing only their properties."""
    user = UserFactory(is_staff=True)
    user.user_permissions.add(Permission.objects.get(codename="view_reports"))
    response = get(client, user, params=Q1)
    assert response.status_code == 200
    assert "You have no properties to report on yet." in response.content.decode()


@pytest.mark.parametrize("url", [URL, CSV_URL])
def test_anonymous_is_sent_to_login(client, url):
    response = client.get(url)
    assert response.status_code == 302
    assert reverse("admin:login") in response["Location"]


def test_superuser_sees_every_owner(client, world):
    html = get(client, SuperuserFactory(), params=Q1).content.decode()
    assert "Gamma" in html and "Alpha" in html


def test_owner_b_never_sees_owner_a_figures(client, owner_b, world):
    html = get(client, owner_b, params=Q1).content.decode()
    assert "Alpha" not in html and "Beta" not in html and 'id="report-USD"' not in html
    rows = parse_csv(get(client, owner_b, CSV_URL, Q1))
    assert {r["property"] for r in rows if r["section"] == "property"} == {"Gamma"}


@pytest.mark.parametrize("url", [URL, CSV_URL])
def test_tampered_property_id_is_404(client, owner_b, world, url):
    response = get(client, owner_b, url, {**Q1, "property": world["alpha"].pk})
    assert response.status_code == 404
    assert b"1143" not in response.content


def test_nonexistent_property_id_is_404(client, owner_a, world):
    assert get(client, owner_a, params={"property": 999999}).status_code == 404


# --- bad input and empty periods -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "params, note",
    [
        ({"year": "abcd"}, "is not a year"),
        ({"year": "99999"}, "is not a year"),
        ({"from": "2024-13", "to": "2024-02"}, "Months are written YYYY-MM"),
        ({"from": "2024/01"}, "Months are written YYYY-MM"),
        ({"property": "x'--"}, "Unknown property"),
        ({"source": "<script>"}, "Unknown source"),
    ],
)
def test_bad_parameters_fall_back_with_a_message(client, owner_a, world, params, note):
    response = get(client, owner_a, params=params)
    assert response.status_code == 200
    assert note in response.content.decode()
    assert b"<script>" not in response.content
    assert get(client, owner_a, CSV_URL, params).status_code == 200


def test_swapped_and_too_long_ranges(client, owner_a, world):
    filters = get(client, owner_a, params={"from": "2024-03", "to": "2024-01"}).context["filters"]
    assert (filters.start, filters.end) == (date(2024, 1, 1), date(2024, 4, 1))
    filters = get(client, owner_a, params={"from": "2010-01", "to": "2024-12"}).context["filters"]
    assert (filters.start, len(filters.months)) == (date(2022, 1, 1), 36)


def test_default_period_is_last_12_months(client, owner_a, world):
    filters = get(client, owner_a).context["filters"]
    today = timezone.localdate()
    assert len(filters.months) == 12
    assert filters.last_month == today.replace(day=1)
    assert filters.start == (date(today.year - 1, today.month + 1, 1) if today.month < 12 else date(today.year, 1, 1))


def test_empty_period_shows_zeros_and_a_message(client, owner_a, world):
    response = get(client, owner_a, params={"year": "2031"})
    html = response.content.decode()
    assert response.status_code == 200
    assert "No bookings in this period: every figure is zero." in html
    assert "No data" in html  # charts say so instead of drawing nothing
    rows = parse_csv(get(client, owner_a, CSV_URL, {"year": "2031"}))
    total = next(r for r in rows if r["section"] == "total" and r["currency"] == "EUR")
    assert (total["booked_nights"], total["occupancy_pct"], total["adr"], total["revenue"]) == ("0", "0.0", "", "0.00")


def test_inactive_property_without_bookings(client, owner_a, world):
    response = get(client, owner_a, params={**Q1, "property": world["draft"].pk})
    assert response.status_code == 200
    assert "Nothing to report: no active property and no bookings in this period." in response.content.decode()


def test_owner_without_properties(client, db):
    response = get(client, OwnerFactory(), params=Q1)
    assert "You have no properties to report on yet." in response.content.decode()


# --- CSV ---------------------------------------------------------------------------------------------------


@pytest.mark.sqlite
def test_csv_matches_page_figures(client, owner_a, world):
    response = get(client, owner_a, CSV_URL, Q1)
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert response["Content-Disposition"] == 'attachment; filename="stayhold-report-2024-01-to-2024-03.csv"'
    rows = parse_csv(response)
    assert list(rows[0]) == ["section", "currency", "month", "source", "property", "booked_nights",
                             "available_nights", "occupancy_pct", "adr", "revpar", "room_revenue", "revenue",
                             "bookings", "cancellations"]
    months = [r for r in rows if r["section"] == "month" and r["currency"] == "EUR"]
    # The hand-computed figures of test_figures.py.
    assert [(r["month"], r["booked_nights"], r["available_nights"], r["occupancy_pct"], r["adr"], r["revpar"],
             r["room_revenue"], r["revenue"], r["bookings"], r["cancellations"]) for r in months] == [
        ("2024-01", "2", "50", "4.0", "100.00", "4.00", "200.00", "220.67", "1", "0"),
        ("2024-02", "9", "58", "15.5", "98.89", "15.34", "890.00", "931.33", "2", "0"),
        ("2024-03", "4", "62", "6.5", "90.00", "5.81", "360.00", "391.00", "1", "1"),
    ]
    total = next(r for r in rows if r["section"] == "total" and r["currency"] == "EUR")
    assert (total["revenue"], total["occupancy_pct"], total["revpar"]) == ("1543.00", "8.8", "8.53")
    direct = next(r for r in rows if r["section"] == "source" and r["source"] == "direct" and not r["month"])
    assert (direct["bookings"], direct["cancellations"], direct["revenue"], direct["available_nights"]) == (
        "1", "1", "381.00", "")
    beta_march = next(r for r in rows if r["property"] == "Beta" and r["month"] == "2024-03")
    assert (beta_march["booked_nights"], beta_march["available_nights"], beta_march["cancellations"]) == (
        "2", "31", "1")
    usd_total = next(r for r in rows if r["section"] == "total" and r["currency"] == "USD")
    assert usd_total["room_revenue"] == "400.00"
    # The page shows the same numbers.
    page = get(client, owner_a, params=Q1)
    eur = next(item["section"] for item in page.context["sections"] if item["section"].currency == "EUR")
    assert str(eur.total.revenue) == total["revenue"] and str(eur.total.revpar) == total["revpar"]


def test_csv_neutralises_formulas_in_property_names(client, owner_a, db):
    PropertyFactory(owner=owner_a, name="=HYPERLINK(\"http://evil\")")
    rows = parse_csv(get(client, owner_a, CSV_URL, Q1))
    assert {r["property"] for r in rows if r["section"] == "property"} == {"'=HYPERLINK(\"http://evil\")"}


# --- query count ---------------------------------------------------------------------------------------------


def _count(client, user, url, params) -> int:
    client.force_login(user)
    with CaptureQueriesContext(connection) as ctx:
        assert client.get(url, params).status_code == 200
    return len(ctx.captured_queries)


@pytest.mark.parametrize("url", [URL, CSV_URL])
def test_query_count_is_independent_of_bookings(client, owner_a, world, url, django_assert_max_num_queries):
    before = _count(client, owner_a, url, Q1)
    for n in range(12):  # 12 more stays, some across a month boundary
        arrival = date(2024, 1, 21) + timedelta(days=2 * n)
        confirmed(world["beta"], arrival, arrival + timedelta(days=2), at(2023, 12, 20, 10), 100 + n)
    for n in range(5):
        PropertyFactory(owner=owner_a)
    after = _count(client, owner_a, url, Q1)
    assert after == before
    with django_assert_max_num_queries(12):
        client.get(url, Q1)
