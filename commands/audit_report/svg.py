"""Inline SVG charts for the audit report: no scripts, no fonts to fetch, print as vectors."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from html import escape
from typing import Final

from schemas.money import ORE_PER_SEK

ORE_PER_MSEK: Final = ORE_PER_SEK * 1_000_000
CHART_WIDTH: Final = 720
PLOT_HEIGHT: Final = 220
MARGIN_LEFT: Final = 64
MARGIN_BOTTOM: Final = 28
MARGIN_TOP: Final = 24
BAR_GAP: Final = 2
ROW_HEIGHT: Final = 14
LABEL_WIDTH: Final = 150
TICKS: Final = 4


@dataclass(frozen=True, slots=True)
class Series:
    """One coloured series of a chart: a name and a value (öre) per category."""

    name: str
    colour: str
    values_ore: Sequence[int]


def _msek(amount_ore: int) -> str:
    return f"{amount_ore / ORE_PER_MSEK:,.0f}".replace(",", " ")


def _legend(series: Sequence[Series], y: int) -> list[str]:
    parts, x = [], MARGIN_LEFT
    for one in series:
        parts.append(f'<rect x="{x}" y="{y - 9}" width="10" height="10" fill="{one.colour}"/>')
        parts.append(f'<text x="{x + 14}" y="{y}" class="legend">{escape(one.name)}</text>')
        x += 16 + 7 * len(one.name) + 18
    return parts


def grouped_bars(title: str, categories: Sequence[str], series: Sequence[Series]) -> str:
    """Vertical bars per category (e.g. a year), one per series; negative values go below 0."""
    values = [v for one in series for v in one.values_ore] or [0]
    top, bottom = max(*values, 0), min(*values, 0)
    span = (top - bottom) or 1
    height = MARGIN_TOP + PLOT_HEIGHT + MARGIN_BOTTOM + 20

    def y_of(value: int) -> float:
        return MARGIN_TOP + (top - value) / span * PLOT_HEIGHT

    plot_width = CHART_WIDTH - MARGIN_LEFT - 8
    group = plot_width / max(len(categories), 1)
    bar = max((group - 8) / max(len(series), 1) - BAR_GAP, 1)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" role="img" viewBox="0 0 {CHART_WIDTH} {height}" '
        f'width="{CHART_WIDTH}" height="{height}"><title>{escape(title)}</title>'
    ]
    for tick in range(TICKS + 1):
        value = bottom + span * tick // TICKS
        y = y_of(value)
        parts.append(
            f'<line x1="{MARGIN_LEFT}" x2="{CHART_WIDTH - 8}" y1="{y:.1f}" y2="{y:.1f}" '
            'class="grid"/>'
        )
        parts.append(
            f'<text x="{MARGIN_LEFT - 6}" y="{y + 4:.1f}" class="axis" text-anchor="end">'
            f"{_msek(value)}</text>"
        )
    zero = y_of(0)
    for index, category in enumerate(categories):
        x0 = MARGIN_LEFT + index * group + 4
        for number, one in enumerate(series):
            value = one.values_ore[index]
            x = x0 + number * (bar + BAR_GAP)
            y, h = (y_of(value), zero - y_of(value)) if value >= 0 else (zero, y_of(value) - zero)
            parts.append(
                f'<rect x="{x:.1f}" y="{y:.1f}" width="{bar:.1f}" height="{max(h, 0.5):.1f}" '
                f'fill="{one.colour}"><title>{escape(one.name)} {escape(category)}: '
                f"{_msek(value)} MSEK</title></rect>"
            )
        parts.append(
            f'<text x="{x0 + (group - 8) / 2:.1f}" y="{MARGIN_TOP + PLOT_HEIGHT + 16}" '
            f'class="axis" text-anchor="middle">{escape(category)}</text>'
        )
    parts.append(
        f'<line x1="{MARGIN_LEFT}" x2="{CHART_WIDTH - 8}" y1="{zero:.1f}" y2="{zero:.1f}" '
        'class="zero"/>'
    )
    parts.append('<text x="4" y="14" class="axis">MSEK</text>')
    parts += _legend(series, height - 6)
    parts.append("</svg>")
    return "".join(parts)


def horizontal_bars(title: str, labels: Sequence[str], series: Sequence[Series]) -> str:
    """One row per label (e.g. a municipality), the series' bars overlaid, widest first."""
    values = [v for one in series for v in one.values_ore] or [0]
    top = max(*values, 1)
    plot_width = CHART_WIDTH - LABEL_WIDTH - 70
    height = MARGIN_TOP + len(labels) * ROW_HEIGHT + 30
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" role="img" viewBox="0 0 {CHART_WIDTH} {height}" '
        f'width="{CHART_WIDTH}" height="{height}"><title>{escape(title)}</title>'
    ]
    for row, label in enumerate(labels):
        y = MARGIN_TOP + row * ROW_HEIGHT
        parts.append(
            f'<text x="{LABEL_WIDTH - 6}" y="{y + ROW_HEIGHT - 4}" class="axis" '
            f'text-anchor="end">{escape(label)}</text>'
        )
        for number, one in enumerate(series):
            value = max(one.values_ore[row], 0)
            inset = number * 3
            width = value / top * plot_width
            parts.append(
                f'<rect x="{LABEL_WIDTH}" y="{y + 1 + inset}" width="{width:.1f}" '
                f'height="{ROW_HEIGHT - 2 - 2 * inset}" fill="{one.colour}"><title>'
                f"{escape(label)} {escape(one.name)}: {_msek(one.values_ore[row])} MSEK"
                "</title></rect>"
            )
        parts.append(
            f'<text x="{LABEL_WIDTH + plot_width + 6}" y="{y + ROW_HEIGHT - 4}" class="axis">'
            f"{_msek(series[0].values_ore[row])}</text>"
        )
    parts += _legend(series, height - 6)
    parts.append("</svg>")
    return "".join(parts)
