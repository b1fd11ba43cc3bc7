"""The timeline's pure layout: placement and clipping, lanes, rows, markers, header, parameters. No database."""

from datetime import date
from types import SimpleNamespace as NS

import pytest

from backoffice.timeline import (
    FIRST_DAY_COLUMN,
    FIRST_PROPERTY_ROW,
    Placement,
    Window,
    add_months,
    assign_lanes,
    build_rows,
    day_columns,
    month_spans,
    parse_days,
    parse_page,
    parse_start,
    place,
    render_items,
)

W = Window(date(2025, 3, 1), 60)  # 1 Mar … 29 Apr 2025 (end exclusive: 30 Apr)
TODAY = date(2025, 3, 10)
URLS = NS(booking=lambda pk: f"/b/{pk}/", block=lambda pk: f"/k/{pk}/", task=lambda pk: f"/t/{pk}/",
          property=lambda pk: f"/p/{pk}/")


def col(day: date) -> int:
    return FIRST_DAY_COLUMN + (day - W.start).days


def stay(pk, prop_id, check_in, check_out, status="confirmed", source="direct", guest="Ada Lovelace", lane=0):
    return NS(pk=pk, property_id=prop_id, check_in=check_in, check_out=check_out, status=status, source=source,
              reference=f"PMS-2025-{pk:05d}", guest_name=guest, overbooking_lane=lane)


def block(pk, prop_id, start, end, reason="owner_use", note=""):
    return NS(pk=pk, property_id=prop_id, start_date=start, end_date=end, reason=reason, note=note)


def task(pk, prop_id, due, status="open"):
    return NS(pk=pk, property_id=prop_id, due_date=due, status=status, assignee_name="",
              assignee_email="cleaner@x.test", booking_reference="PMS-2025-00042")


PROPS = [NS(pk=1, name="Alpha", city="Lisbon"), NS(pk=2, name="Bravo", city="Porto")]


# --- placement -----------------------------------------------------------------------------------


def test_window_end_is_exclusive():
    assert W.end == date(2025, 4, 30)
    assert len(W.dates()) == 60 and W.dates()[-1] == date(2025, 4, 29)


def test_a_stay_covers_its_nights_and_not_its_check_out_day():
    p = place(date(2025, 3, 5), date(2025, 3, 8), W)
    assert p == Placement(column=col(date(2025, 3, 5)), span=3, clipped_start=False, clipped_end=False)


def test_a_stay_starting_before_the_window_is_clipped_at_the_first_column():
    p = place(date(2025, 2, 25), date(2025, 3, 3), W)
    assert p == Placement(column=FIRST_DAY_COLUMN, span=2, clipped_start=True, clipped_end=False)


def test_a_stay_ending_after_the_window_is_clipped_at_the_last_column():
    p = place(date(2025, 4, 27), date(2025, 5, 4), W)
    assert p.column == col(date(2025, 4, 27)) and p.span == 3  # 27, 28, 29 April
    assert (p.clipped_start, p.clipped_end) == (False, True)


def test_a_stay_covering_the_whole_window_is_clipped_both_sides():
    p = place(date(2025, 1, 1), date(2025, 6, 1), W)
    assert (p.column, p.span, p.clipped_start, p.clipped_end) == (FIRST_DAY_COLUMN, 60, True, True)


def test_a_stay_ending_on_the_window_end_is_not_clipped():
    p = place(date(2025, 4, 28), date(2025, 4, 30), W)
    assert (p.span, p.clipped_end) == (2, False)


@pytest.mark.parametrize("start, end", [
    (date(2025, 2, 20), date(2025, 3, 1)),  # checks out on the first day: no night in the window
    (date(2025, 4, 30), date(2025, 5, 3)),  # arrives on the (exclusive) end day
])
def test_stays_without_a_night_in_the_window_are_not_placed(start, end):
    assert place(start, end, W) is None


# --- lanes ---------------------------------------------------------------------------------------


def bar_at(column, span):
    return NS(column=column, span=span, lane=None)


def test_back_to_back_stays_share_a_lane():
    bars = [bar_at(2, 3), bar_at(5, 2), bar_at(7, 1)]
    assert assign_lanes(bars) == 1
    assert [b.lane for b in bars] == [0, 0, 0]


def test_overlapping_items_get_separate_lanes():
    a, b, c = bar_at(2, 5), bar_at(4, 2), bar_at(6, 4)
    assert assign_lanes([a, b, c]) == 2
    assert (a.lane, b.lane, c.lane) == (0, 1, 1)


def test_no_bars_still_has_one_lane():
    assert assign_lanes([]) == 1


# --- rows ----------------------------------------------------------------------------------------


def test_rows_follow_the_property_order_with_their_grid_rows():
    rows = build_rows(PROPS, [], [], [], W, TODAY, URLS)
    assert [(r.name, r.grid_row, r.url) for r in rows] == [("Alpha", FIRST_PROPERTY_ROW, "/p/1/"),
                                                           ("Bravo", FIRST_PROPERTY_ROW + 1, "/p/2/")]


def test_bookings_and_blocks_land_in_their_property_row():
    rows = build_rows(PROPS, [stay(7, 2, date(2025, 3, 5), date(2025, 3, 9))],
                      [block(3, 1, date(2025, 3, 20), date(2025, 3, 22))], [], W, TODAY, URLS)
    alpha, bravo = rows
    assert [(b.kind, b.url, b.column, b.span) for b in alpha.bars] == [("block", "/k/3/", col(date(2025, 3, 20)), 2)]
    assert [(b.kind, b.url, b.column, b.span) for b in bravo.bars] == [("booking", "/b/7/", col(date(2025, 3, 5)), 4)]
    assert "bar-block" in alpha.bars[0].css and "Owner use" in alpha.bars[0].title


def test_channel_blocks_show_their_platform_and_tentative_ones_are_dashed():
    firm = NS(pk=4, property_id=1, start_date=date(2025, 3, 10), end_date=date(2025, 3, 14), reason="channel",
              note="", platform="airbnb", tentative=False)
    maybe = NS(pk=5, property_id=1, start_date=date(2025, 3, 20), end_date=date(2025, 3, 23), reason="channel",
               note="", platform="fewo_direkt", tentative=True)
    rows = build_rows(PROPS, [], [firm, maybe], [], W, TODAY, URLS)
    firm_bar, maybe_bar = rows[0].bars
    assert "src-airbnb" in firm_bar.css and "block-channel" in firm_bar.css
    assert "Airbnb: not available" in firm_bar.title and "block-tentative" not in firm_bar.css
    assert "block-tentative" in maybe_bar.css and "FeWo-direkt / Vrbo: not available (tentative)" in maybe_bar.title


def test_rows_ignore_items_of_properties_not_shown():
    rows = build_rows(PROPS[:1], [stay(1, 99, date(2025, 3, 5), date(2025, 3, 9))],
                      [block(1, 99, date(2025, 3, 5), date(2025, 3, 9))], [task(1, 99, date(2025, 3, 9))],
                      W, TODAY, URLS)
    assert rows[0].bars == [] and rows[0].markers == []


def test_booking_bar_classes_title_and_label():
    rows = build_rows(PROPS, [
        stay(1, 1, date(2025, 3, 2), date(2025, 3, 6), source="airbnb"),
        stay(2, 1, date(2025, 3, 10), date(2025, 3, 11), status="held", source="owner", guest=None),
        stay(3, 1, date(2025, 3, 12), date(2025, 3, 15), status="reserved", source="vrbo_new_channel"),
    ], [], [], W, TODAY, URLS)
    first, hold, reserved = rows[0].bars
    assert "src-airbnb" in first.css and "bar-hold" not in first.css
    assert first.label == "Ada Lovelace"
    assert first.title == ("PMS-2025-00001 · Ada Lovelace · 2 Mar 2025 → 6 Mar 2025 (4 nights) · Confirmed · Airbnb")
    assert "bar-hold" in hold.css and "src-owner" in hold.css
    assert hold.label == ""  # one night: too narrow for text, the tooltip has it
    assert "no guest" in hold.title
    assert "bar-hold" in reserved.css and "src-other" in reserved.css  # unknown source: neutral colour
    assert not any("bar-overbooked" in bar.css for bar in (first, hold, reserved))


def test_an_overbooked_stay_is_outlined_and_says_so():
    rows = build_rows(PROPS, [stay(1, 1, date(2025, 3, 2), date(2025, 3, 6)),
                              stay(2, 1, date(2025, 3, 4), date(2025, 3, 8), source="airbnb", lane=1)],
                      [], [], W, TODAY, URLS)
    direct, overbooked = sorted(rows[0].bars, key=lambda b: b.url)
    assert "bar-overbooked" in overbooked.css and overbooked.title.endswith("· OVERBOOKED")
    assert "bar-overbooked" not in direct.css and {direct.lane, overbooked.lane} == {0, 1}


def test_clipped_bars_carry_the_clip_classes():
    rows = build_rows(PROPS, [stay(1, 1, date(2025, 2, 26), date(2025, 3, 3)),
                              stay(2, 1, date(2025, 4, 28), date(2025, 5, 2))], [], [], W, TODAY, URLS)
    early, late = rows[0].bars
    assert "clip-start" in early.css and "clip-end" not in early.css
    assert "clip-end" in late.css and "clip-start" not in late.css


def test_turnover_on_the_overlapping_day_sits_in_the_next_stays_first_column():
    """Stay 1 leaves on the 8th, stay 2 arrives on the 8th: the bars touch, the task marker is on the 8th."""
    rows = build_rows(PROPS, [stay(1, 1, date(2025, 3, 5), date(2025, 3, 8)),
                              stay(2, 1, date(2025, 3, 8), date(2025, 3, 12))],
                      [], [task(5, 1, date(2025, 3, 8))], W, TODAY, URLS)
    row = rows[0]
    first, second = row.bars
    assert first.column + first.span == second.column == col(date(2025, 3, 8))
    assert row.lanes == 1  # no overlap: one lane
    (marker,) = row.markers
    assert marker.column == second.column and marker.url == "/t/5/"
    assert not marker.done and marker.overdue  # due 8 March, open, today is 10 March


def test_turnover_markers_done_open_overdue_and_outside_the_window():
    rows = build_rows(PROPS, [], [], [task(1, 1, date(2025, 3, 3), status="done"), task(2, 1, date(2025, 3, 4)),
                                      task(3, 1, date(2025, 3, 20)), task(4, 1, date(2025, 4, 30))],
                      W, TODAY, URLS)
    markers = rows[0].markers
    assert [(m.done, m.overdue) for m in markers] == [(True, False), (False, True), (False, False)]
    assert markers[0].title == "Turnover 3 Mar 2025 · done · cleaner@x.test · after PMS-2025-00042"
    assert "open" in markers[1].title


def test_a_block_overlapping_a_stay_gets_its_own_lane_and_taller_row():
    rows = build_rows(PROPS, [stay(1, 1, date(2025, 3, 5), date(2025, 3, 9))],
                      [block(1, 1, date(2025, 3, 7), date(2025, 3, 10))], [], W, TODAY, URLS)
    assert rows[0].lanes == 2
    assert sorted(b.lane for b in rows[0].bars) == [0, 1]


def test_render_items_escapes_and_places_every_item():
    rows = build_rows(PROPS, [stay(1, 1, date(2025, 3, 5), date(2025, 3, 9), guest="<b>Eve</b>")], [],
                      [task(2, 1, date(2025, 3, 9))], W, TODAY, URLS)
    html = render_items(rows[0])
    assert "&lt;b&gt;Eve&lt;/b&gt;" in html and "<b>Eve" not in html
    assert f'grid-area:{FIRST_PROPERTY_ROW}/{col(date(2025, 3, 5))}/span 1/span 4' in html
    assert 'href="/b/1/"' in html and 'href="/t/2/"' in html


# --- header --------------------------------------------------------------------------------------


def test_day_columns_mark_weekends_today_and_month_starts():
    cols = day_columns(W, TODAY)
    assert len(cols) == 60 and cols[0].column == FIRST_DAY_COLUMN
    by_day = {c.day: c for c in cols}
    assert "weekend" in by_day[date(2025, 3, 1)].css  # a Saturday
    assert "weekend" not in by_day[date(2025, 3, 3)].css
    assert "today" in by_day[TODAY].css and sum("today" in c.css for c in cols) == 1
    assert "month-start" in by_day[date(2025, 4, 1)].css


def test_month_spans_cover_the_window():
    spans = month_spans(W)
    assert [(s.label, s.column, s.span) for s in spans] == [("March 2025", FIRST_DAY_COLUMN, 31),
                                                           ("April 2025", FIRST_DAY_COLUMN + 31, 29)]
    mid = month_spans(Window(date(2025, 1, 20), 15))
    assert [(s.label, s.span) for s in mid] == [("January 2025", 12), ("February 2025", 3)]


# --- parameters ----------------------------------------------------------------------------------


@pytest.mark.parametrize("value, expected", [
    ("2025-07-14", date(2025, 7, 14)),
    ("2025-07", date(2025, 7, 1)),
    (" 2025-07-14 ", date(2025, 7, 14)),
    (None, date(2025, 3, 1)),
    ("", date(2025, 3, 1)),
    ("yesterday", date(2025, 3, 1)),
    ("2025-02-30", date(2025, 3, 1)),
    ("9999-12-31", date(2025, 3, 1)),  # would overflow date.max with the window added
    ("0001-01-01", date(2025, 3, 1)),
    ("2025-13", date(2025, 3, 1)),
])
def test_parse_start_falls_back_to_the_first_of_the_month(value, expected):
    assert parse_start(value, TODAY) == expected


@pytest.mark.parametrize("value, expected", [("30", 30), ("90", 90), (None, 60), ("x", 60), ("0", 60),
                                             ("-5", 60), ("1000", 60)])
def test_parse_days(value, expected):
    assert parse_days(value) == expected


@pytest.mark.parametrize("value, expected", [("2", 2), (None, 1), ("0", 1), ("-1", 1), ("abc", 1)])
def test_parse_page(value, expected):
    assert parse_page(value) == expected


def test_add_months_goes_to_the_first_of_the_month_across_years():
    assert add_months(date(2025, 12, 15), 1) == date(2026, 1, 1)
    assert add_months(date(2025, 1, 1), -1) == date(2024, 12, 1)
    assert add_months(date(2025, 3, 17), 0) == date(2025, 3, 1)
