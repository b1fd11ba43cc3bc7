"""Reports' figures against a hand-computed fixture (conftest.world), January–March 2024.

The fixture, owner A:
  Alpha (EUR, 100/night, 1 Feb at 150, cleaning 31, tax 10 %), active; blocked 28 Dec–3 Jan (1, 2 Jan in period)
  Beta  (EUR, 80/night, no fees), active; blocked 10–20 Jan (10 nights)
  Delta (USD, 200/night), active
  Draft (EUR), draft, no bookings: no available nights
  B1 Alpha direct  30 Jan–2 Feb confirmed: nights 30 Jan 100, 31 Jan 100, 1 Feb 150 (room 350);
                   cleaning 31 spread 10.34 + 10.33 + 10.33; taxes 38 not revenue
  B2 Alpha airbnb  10–15 Feb confirmed: 5 × 100 = 500; cleaning 31 = 5 × 6.20
  B3 Beta booking_com 27 Feb–3 Mar checked out: 27, 28, 29 Feb (3 × 80 = 240), 1, 2 Mar (160)
  B4 Beta direct   10–14 Mar confirmed then cancelled: a March cancellation, no nights, no money
  B5 Beta direct   20–22 Mar only reserved: nothing
  B6 Alpha owner   5–7 Mar confirmed: 2 × 100 = 200; cleaning 31 = 2 × 15.50
  D1 Delta direct  15–17 Jan confirmed: 2 × 200 = 400 USD
Owner B: Gamma (EUR) G1 5–8 Feb confirmed: never in owner A's figures.

Available nights (EUR): Alpha 31−2=29 | 29 | 31 = 89; Beta 31−10=21 | 29 | 31 = 81 → Jan 50, Feb 58, Mar 62 = 170.
Booked nights (EUR): Jan 2 (B1) | Feb 1 (B1) + 5 (B2) + 3 (B3) = 9 | Mar 2 (B3) + 2 (B6) = 4 → 15.
Room revenue (EUR): Jan 200 | Feb 150 + 500 + 240 = 890 | Mar 160 + 200 = 360 → 1450.
Revenue (EUR): Jan 200 + 10.34 + 10.33 = 220.67 | Feb 160.33 + 531 + 240 = 931.33 | Mar 160 + 231 = 391 → 1543.00.
Occupancy: Jan 2/50 = 4.0 % | Feb 9/58 = 15.52 → 15.5 % | Mar 4/62 = 6.45 → 6.5 % | total 15/170 = 8.82 → 8.8 %.
ADR: Jan 200/2 = 100.00 | Feb 890/9 = 98.89 | Mar 360/4 = 90.00 | total 1450/15 = 96.67.
RevPAR: Jan 200/50 = 4.00 | Feb 890/58 = 15.34 | Mar 360/62 = 5.81 | total 1450/170 = 8.53.
Bookings by arrival month: Jan 1 (B1) | Feb 2 (B2, B3) | Mar 1 (B6); cancellations: Mar 1 (B4).
"""

from datetime import date
from decimal import Decimal

import pytest

from backoffice.reports import build_report
from bookings import services
from core.actor import Actor

pytestmark = [pytest.mark.django_db, pytest.mark.sqlite]
D = Decimal
Q1 = {"from": "2024-01", "to": "2024-03"}
SYSTEM = Actor.system("test")


def sections_of(user, params=Q1):
    _filters, _props, sections = build_report(user, params, today=date(2024, 6, 15))
    return {s.currency: s for s in sections}


def month_figures(section):
    return [(m.month, f.booked_nights, f.available_nights, f.occupancy, f.adr, f.revpar, f.room_revenue, f.revenue,
             f.bookings, f.cancellations) for m, f in section.months]


def test_eur_per_month_and_total(owner_a, world):
    eur = sections_of(owner_a)["EUR"]
    assert month_figures(eur) == [
        (1, 2, 50, D("4.0"), D("100.00"), D("4.00"), D("200.00"), D("220.67"), 1, 0),
        (2, 9, 58, D("15.5"), D("98.89"), D("15.34"), D("890.00"), D("931.33"), 2, 0),
        (3, 4, 62, D("6.5"), D("90.00"), D("5.81"), D("360.00"), D("391.00"), 1, 1),
    ]
    t = eur.total
    assert (t.booked_nights, t.available_nights, t.occupancy, t.adr, t.revpar) == (15, 170, D("8.8"), D("96.67"),
                                                                                  D("8.53"))
    assert (t.room_revenue, t.revenue, t.bookings, t.cancellations) == (D("1450.00"), D("1543.00"), 4, 1)


def test_currencies_are_separate_sections(owner_a, world):
    sections = sections_of(owner_a)
    assert sorted(sections) == ["EUR", "USD"]
    usd = sections["USD"]
    # Delta: 91 nights available (31 + 29 + 31), 2 booked in January at 200.
    assert month_figures(usd)[0] == (1, 2, 31, D("6.5"), D("200.00"), D("12.90"), D("400.00"), D("400.00"), 1, 0)
    assert (usd.total.available_nights, usd.total.occupancy, usd.total.revpar) == (91, D("2.2"), D("4.40"))
    assert [r.label for r in usd.by_property] == ["Delta"]


def test_by_source(owner_a, world):
    eur = sections_of(owner_a)["EUR"]
    rows = {r.key: r.total for r in eur.by_source}
    # direct: B1 (3 nights, 350, 381.00) and the cancelled B4; airbnb B2; booking_com B3; owner B6.
    assert {k: (f.bookings, f.cancellations, f.booked_nights, f.room_revenue, f.revenue, f.adr)
            for k, f in rows.items()} == {
        "direct": (1, 1, 3, D("350.00"), D("381.00"), D("116.67")),
        "airbnb": (1, 0, 5, D("500.00"), D("531.00"), D("100.00")),
        "booking_com": (1, 0, 5, D("400.00"), D("400.00"), D("80.00")),
        "owner": (1, 0, 2, D("200.00"), D("231.00"), D("100.00")),
    }
    assert [r.key for r in eur.by_source] == ["direct", "airbnb", "booking_com", "owner"]  # Source order
    assert all(f.available_nights is None and f.occupancy is None for f in rows.values())
    direct = next(r for r in eur.by_source if r.key == "direct")
    assert [(f.bookings, f.cancellations) for f in direct.months] == [(1, 0), (0, 0), (0, 1)]


def test_by_property(owner_a, world):
    eur = sections_of(owner_a)["EUR"]
    rows = {r.label: r for r in eur.by_property}
    assert list(rows) == ["Alpha", "Beta"]  # Draft is not active and has no bookings; Gamma is owner B's
    alpha, beta = rows["Alpha"].total, rows["Beta"].total
    # Alpha: 10 nights / 89 = 11.2 %, room 1050 → ADR 105.00, RevPAR 1050/89 = 11.80, revenue 1143.00.
    assert (alpha.booked_nights, alpha.available_nights, alpha.occupancy, alpha.adr, alpha.revpar) == (
        10, 89, D("11.2"), D("105.00"), D("11.80"))
    assert (alpha.revenue, alpha.bookings, alpha.cancellations) == (D("1143.00"), 3, 0)
    # Beta: 5 nights / 81 = 6.2 %, room 400 → ADR 80.00, RevPAR 4.94; one cancellation in March.
    assert (beta.booked_nights, beta.available_nights, beta.occupancy, beta.adr, beta.revpar) == (
        5, 81, D("6.2"), D("80.00"), D("4.94"))
    assert (beta.revenue, beta.bookings, beta.cancellations) == (D("400.00"), 1, 1)
    assert [(f.booked_nights, f.available_nights) for f in rows["Beta"].months] == [(0, 21), (3, 29), (2, 31)]


def test_owner_b_sees_only_gamma(owner_b, world):
    sections = sections_of(owner_b)
    assert list(sections) == ["EUR"]
    eur = sections["EUR"]
    assert [r.label for r in eur.by_property] == ["Gamma"]
    # G1: 3 February nights at 90; 91 nights available.
    assert (eur.total.booked_nights, eur.total.available_nights, eur.total.room_revenue) == (3, 91, D("270.00"))


def test_source_filter_narrows_bookings_not_availability(owner_a, world):
    eur = sections_of(owner_a, {**Q1, "source": "airbnb"})["EUR"]
    # B2 only: 5 nights of 170 available = 2.9 %, RevPAR 500/170 = 2.94.
    assert (eur.total.booked_nights, eur.total.available_nights, eur.total.occupancy, eur.total.revpar) == (
        5, 170, D("2.9"), D("2.94"))
    assert [r.key for r in eur.by_source] == ["airbnb"]


def test_property_filter(owner_a, world):
    sections = sections_of(owner_a, {**Q1, "property": str(world["beta"].pk)})
    assert list(sections) == ["EUR"]
    assert (sections["EUR"].total.booked_nights, sections["EUR"].total.available_nights) == (5, 81)


def test_stay_split_across_period_boundary(owner_a, world):
    """Only February: B1 contributes its 1 February night (150 + 10.33), B3 its three February nights."""
    eur = sections_of(owner_a, {"from": "2024-02", "to": "2024-02"})["EUR"]
    assert (eur.total.booked_nights, eur.total.room_revenue, eur.total.revenue) == (9, D("890.00"), D("931.33"))
    # B1 arrived in January: not a February booking.
    assert (eur.total.bookings, eur.total.cancellations) == (2, 0)


def test_empty_period_is_all_zeros(owner_a, world):
    sections = sections_of(owner_a, {"year": "2030"})
    eur = sections["EUR"]
    assert eur.is_empty
    assert (eur.total.booked_nights, eur.total.available_nights, eur.total.room_revenue) == (0, 365 * 2, D("0"))
    assert (eur.total.occupancy, eur.total.adr, eur.total.revpar) == (D("0.0"), None, D("0.00"))


def test_by_referral_counts_the_bookings_a_landing_link_brought(owner_a, world):
    from .conftest import at, confirmed, reserve

    # Two stays of guests Google's free booking links brought: one confirmed, one cancelled (both arriving in
    # January), and one that is only reserved (no booking yet).
    g1 = confirmed(world["beta"], date(2024, 1, 22), date(2024, 1, 24), at(2023, 12, 10, 10), 20, referral="google_vr")
    g2 = confirmed(world["beta"], date(2024, 1, 25), date(2024, 1, 26), at(2023, 12, 11, 10), 21, referral="google_vr")
    services.cancel(booking_id=g2.pk, actor=SYSTEM, reason="Plans changed.", at=at(2023, 12, 12, 10))
    reserve(world["beta"], date(2024, 1, 27), date(2024, 1, 28), at(2024, 1, 1, 10), 22, referral="google_vr")
    assert g1.referral == "google_vr" and g1.source == "direct"

    eur = sections_of(owner_a)["EUR"]

    (row,) = eur.by_referral  # bookings without a referral have no row
    assert (row.key, row.label) == ("google_vr", "Google Vacation Rentals (free booking link)")
    f = row.total
    assert (f.bookings, f.cancellations, f.booked_nights, f.room_revenue, f.available_nights) == (
        1, 1, 2, D("160.00"), None)
    assert [(m.bookings, m.cancellations) for m in row.months] == [(1, 1), (0, 0), (0, 0)]
    # Still counted under its source (direct) and in the totals, as before.
    direct = next(r.total for r in eur.by_source if r.key == "direct")
    assert (direct.bookings, direct.cancellations) == (2, 2)
    assert sections_of(owner_a)["USD"].by_referral == []


def test_the_page_shows_the_referral_table_only_when_there_is_one(client, owner_a, world):
    from django.urls import reverse

    from .conftest import at, confirmed

    client.force_login(owner_a)
    assert 'id="referrals-EUR"' not in client.get(reverse("admin:reports"), Q1).content.decode()
    confirmed(world["beta"], date(2024, 1, 22), date(2024, 1, 24), at(2023, 12, 10, 10), 20, referral="google_vr")

    html = client.get(reverse("admin:reports"), Q1).content.decode()
    assert 'id="referrals-EUR"' in html and 'data-referral="google_vr"' in html
