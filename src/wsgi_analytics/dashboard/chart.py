"""The traffic chart as inline SVG, drawn three times for three widths of screen.

An SVG scales with its box, text included: one drawing made for 1000 px shows 4 px labels on a
phone. So the page carries a wide, a medium and a narrow drawing of the same series (each with
its own proportions and its own number of labels) and the stylesheet shows the one that fits the
screen (`style.css`, ``.chart-*``); no script is needed or allowed. Long ranges are drawn as one
bar per several days, so that a bar never gets thinner than a couple of pixels, and an hourly
day is cropped to the hours around its traffic (a burst at 14:00 is a few bars in a window of
its hours, not one bar on an empty 24-hour axis).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from html import escape

from ..reading.snapshot import Series

__all__ = ["LAYOUTS", "Layout", "caption", "chart", "charts", "crop_hours"]

_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
MARGIN_HOURS = 2  # quiet hours kept on each side of a day's traffic
MIN_HOURS = 12  # a cropped day still shows at least this many hours


@dataclass(frozen=True)
class Layout:
    """One drawing: its viewBox size (about the pixels it is shown at, so text stays readable),
    how many x labels fit, and the most bars before days are grouped."""

    name: str
    width: int
    height: int
    labels: int
    bars: int
    font: int


LAYOUTS = (
    Layout("wide", 1100, 270, 12, 200, 12),
    Layout("medium", 720, 250, 8, 120, 12),
    Layout("narrow", 340, 220, 4, 60, 11),
)
TOP, BOTTOM, RIGHT = 14, 28, 10


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


def _day(label: str) -> str:
    return f"{_MONTHS[int(label[5:7]) - 1]} {int(label[8:10])}"


def _words(label: str, unit: str) -> str:
    """A point's label as a reader says it: "Dec 1, 14:00" or "Dec 1, 2026"."""
    if unit == "hour":
        return f"{_day(label)}, {label[11:13]}:00"
    return f"{_day(label)}, {label[:4]}"


def crop_hours(points: list[tuple[str, int]]) -> list[tuple[str, int]]:
    """The hours around the traffic: from ``MARGIN_HOURS`` before the first hour with page
    views to as many after the last, widened to ``MIN_HOURS`` (to the right first, then to the
    left) when the traffic is one short burst. No traffic: the points as they are."""
    busy = [index for index, (_, count) in enumerate(points) if count]
    if not busy or len(points) <= MIN_HOURS:
        return points
    first = max(0, busy[0] - MARGIN_HOURS)
    end = min(len(points), busy[-1] + 1 + MARGIN_HOURS)
    missing = MIN_HOURS - (end - first)
    if missing > 0:
        grow = min(missing, len(points) - end)
        end += grow
        first = max(0, first - (missing - grow))
    return points[first:end]


@dataclass(frozen=True)
class _Bar:
    first: str  # label of the first point in the bar
    last: str  # label of the last point (the same for one point a bar)
    count: int


def _group(points: list[tuple[str, int]], most: int) -> tuple[list[_Bar], int]:
    """Consecutive points summed into at most ``most`` bars; returns the bars and the number
    of points per bar."""
    per = max(1, math.ceil(len(points) / most))
    bars = [
        _Bar(chunk[0][0], chunk[-1][0], sum(n for _, n in chunk))
        for chunk in (points[i : i + per] for i in range(0, len(points), per))
    ]
    return bars, per


def _bar_words(bar: _Bar, unit: str) -> str:
    if bar.first == bar.last:
        return _words(bar.first, unit)
    return f"{_words(bar.first, unit)} \u2013 {_words(bar.last, unit)}"


def _x_label(bar: _Bar, unit: str) -> str:
    return f"{bar.first[11:13]}:00" if unit == "hour" else _day(bar.first)


def _label_every(count: int, labels: int, per: int, unit: str) -> int:
    """Label every n-th bar: at most ``labels`` labels, and on round steps (every 1, 2, 3, 6
    hours; every 1, 2, 7, 14 days...) so that they read as a scale."""
    steps = (1, 2, 3, 4, 6, 8, 12, 24) if unit == "hour" and per == 1 else (1, 2, 5, 7, 14, 28)
    wanted = max(1, math.ceil(count / labels))
    return next((s for s in steps if s >= wanted), wanted)


def chart(series: Series, layout: Layout, *, caption: str) -> str:
    """One ``<svg>`` drawing of ``series`` in ``layout`` (an empty series draws an empty
    frame). ``caption`` is its accessible name."""
    width, height = layout.width, layout.height
    bars, per = _group(series.points, layout.bars)
    peak, step = _nice_ceiling(max((bar.count for bar in bars), default=0))
    ticks = list(range(0, peak + 1, step))
    # Room for the longest tick label (digits are about 0.6 em wide), and a small gap.
    left = 10 + math.ceil(0.62 * layout.font * max(len(_short(tick)) for tick in ticks))
    plot_w, plot_h = width - left - RIGHT, height - TOP - BOTTOM
    parts = [
        f'<svg class="chart chart-{layout.name}" viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="{escape(caption)}" xmlns="http://www.w3.org/2000/svg" '
        f'style="font-size:{layout.font}px">'
    ]
    for tick in ticks:
        y = TOP + plot_h - plot_h * tick / peak
        parts.append(
            f'<line class="grid" x1="{left}" x2="{width - RIGHT}" y1="{y:.1f}" y2="{y:.1f}"/>'
            f'<text class="axis y" x="{left - 6}" y="{y + 4:.1f}" text-anchor="end">'
            f"{_short(tick)}</text>"
        )
    if not bars:
        parts.append(
            f'<text class="empty" x="{left + plot_w / 2:.0f}" y="{height / 2:.0f}" '
            'text-anchor="middle">no page views in this range</text></svg>'
        )
        return "".join(parts)
    slot = plot_w / len(bars)
    gap = min(slot * 0.25, 6.0) if slot > 3 else 0.0
    bar_w = min(slot - gap, 48.0)  # a few fat bars would look like blocks: keep them slim
    every = _label_every(len(bars), layout.labels, per, series.unit)
    for index, bar in enumerate(bars):
        x = left + index * slot + (slot - bar_w) / 2
        h = plot_h * bar.count / peak
        noun = "page view" if bar.count == 1 else "page views"
        if bar.count:
            parts.append(
                f'<rect class="bar" x="{x:.2f}" y="{TOP + plot_h - h:.2f}" width="{bar_w:.2f}" '
                f'height="{h:.2f}"><title>{escape(_bar_words(bar, series.unit))}: '
                f"{bar.count:,} {noun}</title></rect>"
            )
        if index % every == 0:
            anchor = "start" if index == 0 and slot < 30 else "middle"
            tx = left + index * slot + (0 if anchor == "start" else slot / 2)
            parts.append(
                f'<text class="axis x" x="{tx:.1f}" y="{height - 9}" text-anchor="{anchor}">'
                f"{escape(_x_label(bar, series.unit))}</text>"
            )
    parts.append(
        f'<line class="baseline" x1="{left}" x2="{width - RIGHT}" '
        f'y1="{TOP + plot_h}" y2="{TOP + plot_h}"/></svg>'
    )
    return "".join(parts)


def caption(series: Series) -> str:
    """The chart in one sentence, for screen readers: the unit, the span and the peak."""
    points = series.points
    if not points:
        return f"Page views per {series.unit}: none in this range"
    label, most = max(points, key=lambda point: point[1])
    span = f"{_words(points[0][0], series.unit)} to {_words(points[-1][0], series.unit)}"
    total = sum(n for _, n in points)
    return (
        f"Page views per {series.unit}, {span}: {total:,} in all, "
        f"most on {_words(label, series.unit)} ({most:,})"
    )


def charts(series: Series) -> str:
    """The three drawings of ``series`` (the stylesheet shows one): an hourly series is first
    cropped to the hours around its traffic."""
    if series.unit == "hour":
        series = Series(series.unit, crop_hours(series.points))
    text = caption(series)
    drawings = "".join(chart(series, layout, caption=text) for layout in LAYOUTS)
    return f'<div id="traffic-chart" class="charts">{drawings}</div>'
