"""Inline SVG line charts for the HTML reports: no JavaScript library, no network.

Pure and deterministic (fixed decimals), so the same report renders the same bytes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from html import escape

WIDTH, HEIGHT = 720, 260
MARGIN_LEFT, MARGIN_RIGHT, MARGIN_TOP, MARGIN_BOTTOM = 64, 16, 28, 40
PALETTE = ("#2563eb", "#16a34a", "#9333ea", "#ea580c", "#0891b2")


@dataclass(frozen=True)
class Series:
    label: str
    points: list[tuple[float, float]]
    color: str = ""


def nice_ticks(low: float, high: float, count: int = 5) -> list[float]:
    """Round tick values covering [low, high]."""
    if high <= low:
        high = low + 1
    raw = (high - low) / count
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)
    first = math.floor(low / step + 1e-9)
    last = math.ceil(high / step - 1e-9)
    return [round(index * step, 10) for index in range(first, last + 1)]


def _fmt(value: float) -> str:
    return f"{value:.1f}"


def _label(value: float) -> str:
    return f"{value:g}" if abs(value) < 1e6 else f"{value:.2e}"


def line_chart(
    title: str,
    series: list[Series],
    x_label: str,
    y_label: str,
    threshold: tuple[str, float] | None = None,
    x_ticks: list[tuple[float, str]] | None = None,
    chart_id: str = "",
) -> str:
    """An SVG line chart; ``threshold`` draws a dashed horizontal line (the SLO)."""
    points = [p for s in series for p in s.points]
    xs = [x for x, _ in points] or [0.0, 1.0]
    ys = [y for _, y in points] or [0.0]
    x_low, x_high = min(xs), max(xs)
    if x_high == x_low:
        x_high = x_low + 1
    y_high = max([*ys, threshold[1] if threshold else 0.0]) * 1.1 or 1.0
    y_ticks = nice_ticks(0.0, y_high)
    y_high = max(y_ticks[-1], y_high)
    plot_w = WIDTH - MARGIN_LEFT - MARGIN_RIGHT
    plot_h = HEIGHT - MARGIN_TOP - MARGIN_BOTTOM

    def sx(x: float) -> float:
        return MARGIN_LEFT + (x - x_low) / (x_high - x_low) * plot_w

    def sy(y: float) -> float:
        return MARGIN_TOP + plot_h - (y / y_high) * plot_h

    parts = [
        (f'<svg class="chart" id="{escape(chart_id)}" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" '
        f'width="{WIDTH}" height="{HEIGHT}" role="img" aria-label="{escape(title)}">'),
        f'<text x="{MARGIN_LEFT}" y="18" class="title">{escape(title)}</text>',
    ]
    for tick in y_ticks:
        y = sy(tick)
        parts.append(f'<line x1="{MARGIN_LEFT}" x2="{WIDTH - MARGIN_RIGHT}" y1="{_fmt(y)}" y2="{_fmt(y)}" class="grid"/>')
        parts.append(f'<text x="{MARGIN_LEFT - 6}" y="{_fmt(y + 4)}" text-anchor="end" class="tick">{_label(tick)}</text>')
    for x_value, text in x_ticks or [(t, _label(t)) for t in nice_ticks(x_low, x_high) if x_low <= t <= x_high]:
        x = sx(x_value)
        parts.append(f'<text x="{_fmt(x)}" y="{HEIGHT - MARGIN_BOTTOM + 16}" text-anchor="middle" class="tick">{escape(text)}</text>')
    parts.append(f'<text x="{MARGIN_LEFT + plot_w / 2:.1f}" y="{HEIGHT - 6}" text-anchor="middle" class="axis">{escape(x_label)}</text>')
    parts.append(
        f'<text x="14" y="{MARGIN_TOP + plot_h / 2:.1f}" text-anchor="middle" class="axis" '
        f'transform="rotate(-90 14 {MARGIN_TOP + plot_h / 2:.1f})">{escape(y_label)}</text>'
    )
    if threshold:
        y = sy(threshold[1])
        parts.append(
            f'<line x1="{MARGIN_LEFT}" x2="{WIDTH - MARGIN_RIGHT}" y1="{_fmt(y)}" y2="{_fmt(y)}" class="threshold"/>'
            f'<text x="{WIDTH - MARGIN_RIGHT - 4}" y="{_fmt(y - 4)}" text-anchor="end" class="threshold-label">{escape(threshold[0])}</text>'
        )
    for index, item in enumerate(series):
        color = item.color or PALETTE[index % len(PALETTE)]
        coords = " ".join(f"{_fmt(sx(x))},{_fmt(sy(y))}" for x, y in item.points)
        if coords:
            parts.append(f'<polyline class="series" points="{coords}" fill="none" stroke="{color}" stroke-width="2"/>')
        legend_x = MARGIN_LEFT + 8 + index * 130
        parts.append(
            f'<rect x="{legend_x}" y="{MARGIN_TOP + 4}" width="10" height="10" fill="{color}"/>'
            f'<text x="{legend_x + 14}" y="{MARGIN_TOP + 13}" class="legend">{escape(item.label)}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def nines(percentile: float) -> float:
    """Position on a 'number of nines' axis: 90 -> 1, 99 -> 2, 99.9 -> 3."""
    return -math.log10(max(1e-6, 1 - percentile / 100))
