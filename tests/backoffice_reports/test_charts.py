"""The SVG chart module: scaling, zero data, one month, escaping, accessibility."""

import re
from decimal import Decimal
from xml.etree import ElementTree

import pytest

from backoffice import charts

NS = "{http://www.w3.org/2000/svg}"


def parse(svg: str) -> ElementTree.Element:
    return ElementTree.fromstring(svg)  # also proves the SVG is well-formed XML


@pytest.mark.parametrize(
    "value, ceiling",
    [(0, 1), (-5, 1), (0.3, 0.5), (1, 1), (1.01, 2), (7, 10), (21, 25), (240, 250), (931.33, 1000), (1001, 2000)],
)
def test_nice_ceiling(value, ceiling):
    assert charts.nice_ceiling(value) == pytest.approx(ceiling)


@pytest.mark.parametrize(
    "largest, integer, top", [(1, True, 4), (0, True, 4), (5, True, 8), (9, True, 12), (30, True, 40),
                              (1, False, 1), (0.3, False, 0.5)],
)
def test_axis_max_gives_whole_ticks_for_counts(largest, integer, top):
    assert charts.axis_max(largest, integer=integer) == pytest.approx(top)
    if integer:
        assert (top / 4) == int(top / 4)


def test_count_chart_ticks_are_whole_numbers():
    svg = charts.bar_chart(chart_id="n", title="Bookings", items=[("Direct", 1, "#000")], x_label="Bookings",
                           value_label=lambda v: f"{v:g}", integer=True)
    ticks = [t.text for t in parse(svg).iter(f"{NS}text")][1:6]
    assert ticks == ["0", "1", "2", "3", "4"]


def bar_heights(root) -> list[float]:
    return [float(r.get("height")) for r in root.iter(f"{NS}rect")]


def test_column_chart_scales_bars_to_the_nice_ceiling():
    svg = charts.column_chart(chart_id="c", title="Revenue", labels=["Jan", "Feb"], values=[Decimal("50"), 200],
                              y_label="EUR", height=280)
    root = parse(svg)
    # Plot height = 280 - 34 - 52 = 194; ceiling of 200 is 200 → 200 fills it, 50 a quarter.
    assert bar_heights(root) == pytest.approx([48.5, 194.0])
    ticks = [t.text for t in root.iter(f"{NS}text")]
    assert ticks[1:6] == ["0", "50", "100", "150", "200"]  # after the title


def test_column_chart_fixed_max_for_percentages():
    root = parse(charts.column_chart(chart_id="o", title="Occupancy", labels=["Jan"], values=[25], y_label="%",
                                     max_value=100))
    assert bar_heights(root) == pytest.approx([194 / 4])


def test_zero_data_draws_an_axis_and_says_no_data():
    svg = charts.column_chart(chart_id="z", title="Revenue", labels=["Jan", "Feb"], values=[0, 0], y_label="EUR")
    root = parse(svg)
    assert bar_heights(root) == []
    assert "No data" in svg
    assert "nan" not in svg.lower() and "inf" not in svg.lower()
    empty = charts.bar_chart(chart_id="s", title="Sources", items=[], x_label="Bookings")
    assert "No data" in empty and "<desc" in empty
    parse(empty)


def test_one_month():
    root = parse(charts.column_chart(chart_id="one", title="T", labels=["Mar 24"], values=[3], y_label="n",
                                     width=300))
    (rect,) = root.iter(f"{NS}rect")
    # One slot spans the plot (300 - 64 - 16 = 220); the bar is centred and at most 60 wide.
    assert float(rect.get("width")) == 60
    assert float(rect.get("x")) + 30 == pytest.approx(64 + 110)


def test_labels_and_titles_are_escaped():
    evil = '<script>alert("x")</script> & Co'
    svg = charts.column_chart(chart_id='x" onload="alert(1)', title=evil, labels=[evil], values=[1], y_label=evil)
    svg += charts.bar_chart(chart_id="h", title=evil, items=[(evil, 2, 'red" onclick="x')], x_label=evil)
    assert "<script>" not in svg
    assert 'onload="alert(1)"' not in svg and 'onclick="x"' not in svg
    assert "&lt;script&gt;" in svg and "&amp; Co" in svg


def test_title_and_desc_for_screen_readers():
    svg = charts.bar_chart(chart_id="src", title="Bookings by source",
                           items=[("Direct", 3, charts.source_color("direct")), ("Airbnb", 1, "#000")],
                           x_label="Bookings")
    root = parse(svg)
    assert root.get("role") == "img"
    assert root.get("aria-labelledby") == "src-title src-desc"
    assert root.find(f"{NS}title").text == "Bookings by source"
    assert root.find(f"{NS}desc").text == "Direct: 3; Airbnb: 1"
    # Bars use the source colours; widths scale to the nice ceiling (3 → 5 over 720 - 150 - 60 = 510).
    rects = list(root.iter(f"{NS}rect"))
    assert [r.get("fill") for r in rects] == [charts.SOURCE_COLORS["direct"], "#000"]
    assert [float(r.get("width")) for r in rects] == pytest.approx([306.0, 102.0])


def test_every_source_has_a_colour_and_unknown_ones_fall_back():
    from bookings.models import Source

    assert all(re.fullmatch(r"#[0-9a-f]{6}", charts.source_color(s)) for s in Source.values)
    assert len({charts.source_color(s) for s in Source.values}) == len(Source.values)
    assert charts.source_color("carrier-pigeon") == charts.SOURCE_COLORS["other"]


def test_mismatched_lengths_are_refused():
    with pytest.raises(ValueError):
        charts.column_chart(chart_id="m", title="T", labels=["a"], values=[1, 2], y_label="y")
