"""Server-side SVG charts for the back office: no JavaScript, no CDN, readable by screen readers.

A pure module (standard library only): it turns numbers and labels into an SVG
string, so it can be unit-tested without a database or templates. Every piece of
text that goes into the SVG is XML-escaped here, which is why callers may mark
the result safe. Each chart carries ``role="img"`` with a ``<title>`` and a
``<desc>`` (the figures in words) that screen readers announce.

Scaling: the value axis runs from 0 to a "nice" ceiling (1, 2, 2.5, 5 × 10ⁿ at
or above the largest value) with four gridlines; all-zero data draws an empty
axis from 0 to 1 and says "No data" instead of dividing by zero.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from decimal import Decimal
from html import escape

Number = int | float | Decimal

# One colour per booking source, shared by the calendar legend, the charts and the tables' swatches.
SOURCE_COLORS = {
    "direct": "#2e7d32",
    "owner": "#6d4c41",
    "airbnb": "#e2545b",
    "booking_com": "#1e4fa3",
    "expedia": "#f2b705",
    "fewo_direkt": "#0aa3b5",
    "google_vr": "#7b4fc9",
    "other": "#8a8a8a",
}
BAR_COLOR = "#417690"  # the admin's own blue
GRID_COLOR = "#d9d9d9"
TEXT_COLOR = "#333333"
FONT = 'font-family="system-ui, -apple-system, Segoe UI, Roboto, sans-serif"'


def source_color(source: str) -> str:
    return SOURCE_COLORS.get(source, SOURCE_COLORS["other"])


def _text(value) -> str:
    return escape(str(value), quote=True)


def nice_ceiling(value: Number) -> float:
    """The smallest of 1, 2, 2.5, 5 × 10ⁿ that is ≥ ``value``; 1 for zero or negative values."""
    value = float(value)
    if value <= 0:
        return 1.0
    exponent = math.floor(math.log10(value))
    for step in (1, 2, 2.5, 5, 10):
        candidate = step * 10**exponent
        if candidate >= value * (1 - 1e-12):
            return float(candidate)
    return float(10 ** (exponent + 1))  # pragma: no cover - the loop always returns


def axis_max(largest: Number, *, fixed: Number | None = None, integer: bool = False) -> float:
    """Top of the value axis (4 gridline steps): ``fixed`` if given; for counts (``integer``) a whole
    step of at least 1, so that ticks never read 0.25 bookings; else the nice ceiling."""
    if fixed:
        return float(fixed)
    if not integer:
        return nice_ceiling(largest)
    step = max(1, math.ceil(nice_ceiling(float(largest) / 4)))
    return float(step * 4)


def _default_label(value: Number) -> str:
    value = float(value)
    return f"{value:,.0f}" if value == int(value) else f"{value:,.2f}"


def _svg_open(chart_id: str, width: int, height: int, title: str, desc: str) -> list[str]:
    cid = _text(chart_id)
    return [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" id="{cid}" role="img" '
        f'aria-labelledby="{cid}-title {cid}-desc" viewBox="0 0 {width} {height}" width="{width}" height="{height}">',
        f'<title id="{cid}-title">{_text(title)}</title>',
        f'<desc id="{cid}-desc">{_text(desc)}</desc>',
        f'<text x="{width / 2:.1f}" y="18" text-anchor="middle" font-size="14" font-weight="bold" '
        f'fill="{TEXT_COLOR}" {FONT}>{_text(title)}</text>',
    ]


def column_chart(
    *,
    chart_id: str,
    title: str,
    labels: Sequence[str],
    values: Sequence[Number],
    y_label: str,
    value_label: Callable[[Number], str] = _default_label,
    max_value: Number | None = None,
    integer: bool = False,
    color: str = BAR_COLOR,
    width: int = 720,
    height: int = 280,
) -> str:
    """Vertical bars, one per label (e.g. revenue per month), with the value above each bar.

    ``max_value`` fixes the top of the axis (100 for percentages); see :func:`axis_max`."""
    if len(labels) != len(values):
        raise ValueError("labels and values must have the same length")
    desc = "; ".join(f"{label}: {value_label(value)}" for label, value in zip(labels, values, strict=True))
    parts = _svg_open(chart_id, width, height, title, desc or "No data.")
    left, right, top, bottom = 64, 16, 34, 52
    plot_w, plot_h = width - left - right, height - top - bottom
    largest = max((float(v) for v in values), default=0.0)
    ceiling = axis_max(largest, fixed=max_value, integer=integer)
    # Axis, gridlines and tick labels.
    for i in range(5):
        tick = ceiling * i / 4
        y = top + plot_h - plot_h * i / 4
        parts.append(f'<line x1="{left}" y1="{y:.1f}" x2="{left + plot_w}" y2="{y:.1f}" stroke="{GRID_COLOR}"/>')
        parts.append(
            f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end" font-size="11" fill="{TEXT_COLOR}" {FONT}>'
            f"{_text(value_label(tick))}</text>"
        )
    parts.append(
        f'<text transform="translate(14 {top + plot_h / 2:.1f}) rotate(-90)" text-anchor="middle" font-size="11" '
        f'fill="{TEXT_COLOR}" {FONT}>{_text(y_label)}</text>'
    )
    if not values or largest <= 0:
        parts.append(
            f'<text x="{left + plot_w / 2:.1f}" y="{top + plot_h / 2:.1f}" text-anchor="middle" font-size="13" '
            f'fill="#777" {FONT}>No data</text>'
        )
    slot = plot_w / max(len(values), 1)
    bar_w = max(min(slot * 0.7, 60), 2)
    for index, (label, value) in enumerate(zip(labels, values, strict=True)):
        x_mid = left + slot * index + slot / 2
        bar_h = plot_h * min(float(value), ceiling) / ceiling if float(value) > 0 else 0
        y = top + plot_h - bar_h
        if bar_h > 0:
            parts.append(
                f'<rect x="{x_mid - bar_w / 2:.1f}" y="{y:.1f}" width="{bar_w:.1f}" height="{bar_h:.1f}" '
                f'fill="{_text(color)}"><title>{_text(label)}: {_text(value_label(value))}</title></rect>'
            )
            parts.append(
                f'<text x="{x_mid:.1f}" y="{y - 4:.1f}" text-anchor="middle" font-size="10" fill="{TEXT_COLOR}" '
                f"{FONT}>{_text(value_label(value))}</text>"
            )
        parts.append(
            f'<text x="{x_mid:.1f}" y="{top + plot_h + 16:.1f}" text-anchor="middle" font-size="11" '
            f'fill="{TEXT_COLOR}" {FONT}>{_text(label)}</text>'
        )
    parts.append(
        f'<line x1="{left}" y1="{top + plot_h}" x2="{left + plot_w}" y2="{top + plot_h}" stroke="{TEXT_COLOR}"/>'
    )
    parts.append("</svg>")
    return "".join(parts)


def bar_chart(
    *,
    chart_id: str,
    title: str,
    items: Sequence[tuple[str, Number, str]],
    x_label: str,
    value_label: Callable[[Number], str] = _default_label,
    integer: bool = False,
    width: int = 720,
    row_height: int = 26,
) -> str:
    """Horizontal bars, one per ``(label, value, colour)`` item (e.g. bookings by source)."""
    desc = "; ".join(f"{label}: {value_label(value)}" for label, value, _color in items)
    left, right, top, bottom = 150, 60, 34, 36
    height = top + bottom + row_height * max(len(items), 1)
    parts = _svg_open(chart_id, width, height, title, desc or "No data.")
    plot_w = width - left - right
    plot_h = row_height * max(len(items), 1)
    largest = max((float(v) for _label, v, _color in items), default=0.0)
    ceiling = axis_max(largest, integer=integer)
    for i in range(5):
        x = left + plot_w * i / 4
        parts.append(f'<line x1="{x:.1f}" y1="{top}" x2="{x:.1f}" y2="{top + plot_h}" stroke="{GRID_COLOR}"/>')
        parts.append(
            f'<text x="{x:.1f}" y="{top + plot_h + 14}" text-anchor="middle" font-size="11" fill="{TEXT_COLOR}" '
            f"{FONT}>{_text(value_label(ceiling * i / 4))}</text>"
        )
    parts.append(
        f'<text x="{left + plot_w / 2:.1f}" y="{height - 4}" text-anchor="middle" font-size="11" '
        f'fill="{TEXT_COLOR}" {FONT}>{_text(x_label)}</text>'
    )
    if not items or largest <= 0:
        parts.append(
            f'<text x="{left + plot_w / 2:.1f}" y="{top + plot_h / 2 + 4:.1f}" text-anchor="middle" font-size="13" '
            f'fill="#777" {FONT}>No data</text>'
        )
    for index, (label, value, color) in enumerate(items):
        y = top + row_height * index
        bar_w = plot_w * float(value) / ceiling if float(value) > 0 else 0
        parts.append(
            f'<text x="{left - 8}" y="{y + row_height / 2 + 4:.1f}" text-anchor="end" font-size="12" '
            f'fill="{TEXT_COLOR}" {FONT}>{_text(label)}</text>'
        )
        if bar_w > 0:
            parts.append(
                f'<rect x="{left}" y="{y + 4}" width="{bar_w:.1f}" height="{row_height - 8}" fill="{_text(color)}">'
                f"<title>{_text(label)}: {_text(value_label(value))}</title></rect>"
            )
        parts.append(
            f'<text x="{left + bar_w + 6:.1f}" y="{y + row_height / 2 + 4:.1f}" font-size="11" fill="{TEXT_COLOR}" '
            f"{FONT}>{_text(value_label(value))}</text>"
        )
    parts.append("</svg>")
    return "".join(parts)
