"""Self-contained SVG charts (lines, stacked bars): axes, tick labels, a title, a legend, data per point.

Standard library only, so a simulated agent can also write this file next to a script and run it.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from xml.sax.saxutils import escape, quoteattr

WIDTH, HEIGHT = 800, 450
LEFT, TOP, BOTTOM = 80, 60, 70
RIGHT, LEGEND_WIDTH, INSET = 40, 170, 24
PALETTE = ("#2f6fdf", "#d9480f", "#2b8a3e", "#ae3ec9", "#e8590c", "#0c8599", "#5c7cfa", "#c92a2a")
MAX_X_TICKS = 6
MIN_TICK_GAP = 84
FONT = 'font-family="sans-serif"'

Scale = Callable[[float], float]


@dataclass
class Series:
    """One named series: a value per x position, and optional data attributes for each point."""

    name: str
    values: list[float]
    point_data: list[dict[str, str]] = field(default_factory=list)

    def data(self, index: int) -> str:
        """The data-* attributes of one point, as SVG attribute text."""
        attrs = self.point_data[index] if index < len(self.point_data) else {}
        return "".join(f" data-{key}={quoteattr(value)}" for key, value in attrs.items())


@dataclass(frozen=True)
class Frame:
    """The plot area inside the margins, narrower when a legend sits to its right."""

    left: float = LEFT
    top: float = TOP
    right: float = WIDTH - RIGHT
    bottom: float = HEIGHT - BOTTOM

    @classmethod
    def for_series(cls, count: int) -> Frame:
        return cls(right=WIDTH - RIGHT - (LEGEND_WIDTH if count > 1 else 0))


def line_chart(
    title: str, xs: list[float], x_labels: list[str], series: list[Series], *, x_title: str, y_title: str
) -> str:
    """An SVG line chart of `series` over `xs` (labelled by `x_labels`), with a legend when several."""
    _check(xs, x_labels, series)
    frame = Frame.for_series(len(series))
    values = [v for s in series for v in s.values]
    y_ticks = nice_ticks(min(0.0, min(values)), max(values), integer=_all_integers(values))
    to_x = _scale(min(xs), max(xs), frame.left + INSET, frame.right - INSET)
    to_y = _scale(y_ticks[0], y_ticks[-1], frame.bottom, frame.top)
    parts = [_open(title), _axes(frame, y_ticks, to_y, x_title, y_title)]
    parts += _x_ticks(frame, [to_x(x) for x in xs], x_labels)
    for index, line in enumerate(series):
        parts += _line(line, [to_x(x) for x in xs], to_y, PALETTE[index % len(PALETTE)])
    parts += _legend(frame, series) + ["</svg>\n"]
    return "\n".join(parts)


def stacked_bars(title: str, x_labels: list[str], series: list[Series], *, x_title: str, y_title: str) -> str:
    """An SVG of one bar per x label, stacked by series, with a legend when several."""
    _check(x_labels, x_labels, series)
    frame = Frame.for_series(len(series))
    totals = [sum(s.values[i] for s in series) for i in range(len(x_labels))]
    y_ticks = nice_ticks(0.0, max(totals), integer=_all_integers(totals))
    slot = (frame.right - frame.left) / len(x_labels)
    to_y = _scale(y_ticks[0], y_ticks[-1], frame.bottom, frame.top)
    centres = [frame.left + slot * (i + 0.5) for i in range(len(x_labels))]
    parts = [_open(title), _axes(frame, y_ticks, to_y, x_title, y_title)]
    parts += _x_ticks(frame, centres, x_labels)
    width = min(60.0, slot * 0.6)
    base = [0.0] * len(x_labels)
    for index, bars in enumerate(series):
        colour = PALETTE[index % len(PALETTE)]
        parts.append(f'<g class="series" data-series={quoteattr(bars.name)}>')
        for i, value in enumerate(bars.values):
            if value:
                top, bottom = to_y(base[i] + value), to_y(base[i])
                parts.append(
                    f'<rect class="bar" x="{centres[i] - width / 2:.1f}" y="{top:.1f}" width="{width:.1f}" '
                    f'height="{bottom - top:.1f}" fill="{colour}"{bars.data(i)}/>'
                )
                base[i] += value
        parts.append("</g>")
    parts += _legend(frame, series) + ["</svg>\n"]
    return "\n".join(parts)


def message_chart(title: str, message: str) -> str:
    """An SVG with a title and one centred message, for when there is nothing to plot."""
    return "\n".join(
        [
            _open(title),
            f'<text x="{WIDTH / 2:.0f}" y="{HEIGHT / 2:.0f}" text-anchor="middle" font-size="18" '
            f'fill="#555" {FONT}>{escape(message)}</text>',
            "</svg>\n",
        ]
    )


def nice_ticks(low: float, high: float, count: int = 5, *, integer: bool = False) -> list[float]:
    """Round tick values covering low..high in about `count` steps (whole steps for counts)."""
    if high <= low:
        high = low + 1
    raw = (high - low) / count
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)
    step = max(1.0, round(step)) if integer else step
    start = math.floor(low / step) * step
    ticks = [start]
    while ticks[-1] < high:
        ticks.append(ticks[-1] + step)
    return ticks


def _check(xs: list, x_labels: list[str], series: list[Series]) -> None:
    if not xs or not series or len(xs) != len(x_labels) or any(len(s.values) != len(xs) for s in series):
        raise ValueError("svgplot: xs, x_labels and every series need the same, non-zero length")


def _all_integers(values: list[float]) -> bool:
    return all(float(v).is_integer() for v in values)


def _scale(low: float, high: float, out_low: float, out_high: float) -> Scale:
    if high == low:
        return lambda _value: (out_low + out_high) / 2
    return lambda value: out_low + (value - low) * (out_high - out_low) / (high - low)


def _open(title: str) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" '
        f'width="{WIDTH}" height="{HEIGHT}" role="img" aria-label={quoteattr(title)}>\n'
        f"<title>{escape(title)}</title>\n"
        f'<rect width="{WIDTH}" height="{HEIGHT}" fill="#ffffff"/>\n'
        f'<text x="{WIDTH / 2:.0f}" y="32" text-anchor="middle" font-size="20" font-weight="bold" '
        f"{FONT}>{escape(title)}</text>"
    )


def _axes(frame: Frame, y_ticks: list[float], to_y: Scale, x_title: str, y_title: str) -> str:
    left, top, right, bottom = frame.left, frame.top, frame.right, frame.bottom
    lines = [
        f'<line class="axis" x1="{left}" y1="{top}" x2="{left}" y2="{bottom}" stroke="#333"/>',
        f'<line class="axis" x1="{left}" y1="{bottom}" x2="{right}" y2="{bottom}" stroke="#333"/>',
    ]
    for tick in y_ticks:
        y = to_y(tick)
        lines.append(f'<line x1="{left}" y1="{y:.1f}" x2="{right}" y2="{y:.1f}" stroke="#e5e5e5"/>')
        lines.append(
            f'<text x="{left - 8}" y="{y + 4:.1f}" text-anchor="end" font-size="12" {FONT}>{_number(tick)}</text>'
        )
    middle_y = (top + bottom) / 2
    lines.append(
        f'<text x="{(left + right) / 2:.0f}" y="{HEIGHT - 18}" text-anchor="middle" font-size="14" '
        f"{FONT}>{escape(x_title)}</text>"
    )
    lines.append(
        f'<text x="20" y="{middle_y:.0f}" text-anchor="middle" font-size="14" '
        f'transform="rotate(-90 20 {middle_y:.0f})" {FONT}>{escape(y_title)}</text>'
    )
    return "\n".join(lines)


def _x_ticks(frame: Frame, positions: list[float], labels: list[str]) -> list[str]:
    last = len(positions) - 1
    shown: list[int] = []
    for index in sorted({round(i * last / (MAX_X_TICKS - 1)) for i in range(MAX_X_TICKS)}):
        if shown and positions[index] - positions[shown[-1]] < MIN_TICK_GAP:
            if index != last:
                continue
            shown.pop()
        shown.append(index)
    return [
        f'<text x="{positions[i]:.1f}" y="{frame.bottom + 20}" text-anchor="middle" font-size="12" '
        f"{FONT}>{escape(labels[i])}</text>"
        for i in shown
    ]


def _line(series: Series, xs: list[float], to_y: Scale, colour: str) -> list[str]:
    coords = [(x, to_y(v)) for x, v in zip(xs, series.values)]
    points = " ".join(f"{x:.1f},{y:.1f}" for x, y in coords)
    parts = [f'<g class="series" data-series={quoteattr(series.name)}>']
    parts.append(f'<polyline fill="none" stroke="{colour}" stroke-width="2" points="{points}"/>')
    for index, (x, y) in enumerate(coords):
        parts.append(f'<circle class="point" cx="{x:.1f}" cy="{y:.1f}" r="3.5" fill="{colour}"{series.data(index)}/>')
    parts.append("</g>")
    return parts


def _legend(frame: Frame, series: list[Series]) -> list[str]:
    if len(series) < 2:
        return []
    parts = ['<g class="legend">']
    x = frame.right + 20
    for index, entry in enumerate(series):
        y = frame.top + 8 + index * 20
        parts.append(f'<rect x="{x}" y="{y - 10}" width="12" height="12" fill="{PALETTE[index % len(PALETTE)]}"/>')
        parts.append(f'<text x="{x + 18}" y="{y}" font-size="12" {FONT}>{escape(entry.name)}</text>')
    parts.append("</g>")
    return parts


def _number(value: float) -> str:
    return f"{value:,.0f}" if value == int(value) else f"{value:,.1f}"
