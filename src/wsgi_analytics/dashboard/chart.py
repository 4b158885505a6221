"""The traffic chart as inline SVG: one bar per hour or day, a nice y scale, sparse x labels."""

from __future__ import annotations

import math
from html import escape

from ..reading.snapshot import Series

__all__ = ["chart"]

WIDTH, HEIGHT = 960, 260
LEFT, RIGHT, TOP, BOTTOM = 52, 12, 14, 30
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def _nice_ceiling(value: int) -> tuple[int, int]:
    """A round axis maximum at or above ``value`` and its tick step (1-2-5 steps, 4-5 ticks)."""
    if value <= 4:
        return 4, 1
    raw = value / 4
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 5, 10) if m * magnitude >= raw)
    return int(step * math.ceil(value / step)), int(step)


def _short(n: int) -> str:
    if n >= 1_000_000:
        return f"{n / 1_000_000:.1f}M".replace(".0M", "M")
    if n >= 10_000:
        return f"{n / 1000:.0f}k"
    if n >= 1000:
        return f"{n / 1000:.1f}k".replace(".0k", "k")
    return str(n)


def _x_label(label: str, unit: str) -> str:
    if unit == "hour":
        return f"{label[-2:]}:00"
    return f"{_MONTHS[int(label[5:7]) - 1]} {int(label[8:10])}"


def chart(series: Series, slots: int = 0) -> str:
    """The ``<svg>`` element for a series (an empty series draws an empty frame). ``slots``
    widens the x axis beyond the points: today's chart keeps room for the hours to come."""
    points = series.points
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    peak, step = _nice_ceiling(max((n for _, n in points), default=0))
    parts = [
        f'<svg id="traffic-chart" class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
        f'aria-label="page views per {series.unit}" xmlns="http://www.w3.org/2000/svg">'
    ]
    for tick in range(0, peak + 1, step):
        y = TOP + plot_h - plot_h * tick / peak
        parts.append(
            f'<line class="grid" x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y:.1f}" y2="{y:.1f}"/>'
            f'<text class="axis" x="{LEFT - 8}" y="{y + 4:.1f}" text-anchor="end">'
            f"{_short(tick)}</text>"
        )
    if not points:
        parts.append(
            f'<text class="empty" x="{WIDTH / 2}" y="{HEIGHT / 2}" text-anchor="middle">'
            "no page views in this range yet</text></svg>"
        )
        return "".join(parts)
    slots = max(slots, len(points))
    slot = plot_w / slots
    gap = min(slot * 0.2, 4.0) if slot > 3 else 0.0
    every = max(1, math.ceil(slots / 12))
    for index, (label, count) in enumerate(points):
        x = LEFT + index * slot
        h = plot_h * count / peak
        y = TOP + plot_h - h
        what = escape(f"{label.replace('T', ' ')}{':00' if series.unit == 'hour' else ''}")
        if count:
            parts.append(
                f'<rect class="bar" x="{x + gap / 2:.2f}" y="{y:.2f}" width="{slot - gap:.2f}" '
                f'height="{max(h, 0.0):.2f}"><title>{what}: {count:,} page views</title></rect>'
            )
        if index % every == 0:
            parts.append(
                f'<text class="axis" x="{x + slot / 2:.1f}" y="{HEIGHT - 10}" '
                f'text-anchor="middle">{escape(_x_label(label, series.unit))}</text>'
            )
    if series.unit == "hour":  # the hours to come (today's chart): labels only
        parts.extend(
            f'<text class="axis" x="{LEFT + (index + 0.5) * slot:.1f}" y="{HEIGHT - 10}" '
            f'text-anchor="middle">{index % 24:02d}:00</text>'
            for index in range(len(points), slots)
            if index % every == 0
        )
    parts.append(
        f'<line class="baseline" x1="{LEFT}" x2="{WIDTH - RIGHT}" '
        f'y1="{TOP + plot_h}" y2="{TOP + plot_h}"/></svg>'
    )
    return "".join(parts)
