"""Small inline SVG charts (no JavaScript, no inline styles: they pass the content security policy)."""

from __future__ import annotations

import math
import zlib
from collections.abc import Mapping, Sequence

from markupsafe import Markup, escape

#: Line colours for chart series (ColorBrewer Dark2: distinct, readable on white).
SERIES_COLOURS = ("#1b9e77", "#d95f02", "#7570b3", "#e7298a", "#66a61e", "#e6ab02")


def _finite(values: Sequence[float | None]) -> list[float]:
    return [float(v) for v in values if v is not None and math.isfinite(float(v))]


def sparkline(values: Sequence[float | None], *, width: int = 120, height: int = 28,
              label: str = "") -> Markup:
    """A tiny line of `values` (oldest first), last point marked; None (no data) breaks the line."""
    vals = [None if v is None or not math.isfinite(float(v)) else float(v) for v in values]
    known = [v for v in vals if v is not None]
    if len(vals) < 2 or not known:
        return Markup("")
    lo, hi = min(known), max(known)
    span = hi - lo or 1.0
    step = (width - 4) / (len(vals) - 1)
    pts = [None if v is None else (2 + i * step, height - 3 - (v - lo) / span * (height - 6))
           for i, v in enumerate(vals)]
    runs: list[list[tuple[float, float]]] = [[]]
    for p in pts:
        if p is None:
            if runs[-1]:
                runs.append([])
        else:
            runs[-1].append(p)
    lines = "".join(
        f'<polyline fill="none" stroke="#3b5b92" stroke-width="1.5" '
        f'points="{" ".join(f"{x:.1f},{y:.1f}" for x, y in run)}"/>' if len(run) > 1 else
        f'<circle cx="{run[0][0]:.1f}" cy="{run[0][1]:.1f}" r="1.5" fill="#3b5b92"/>'
        for run in runs if run)
    last = pts[-1]
    dot = "" if last is None else f'<circle cx="{last[0]:.1f}" cy="{last[1]:.1f}" r="2.5" fill="#a50026"/>'
    shown = ", ".join("no data" if v is None else f"{v:g}" for v in vals)
    return Markup(
        f'<svg class="spark" width="{width}" height="{height}" viewBox="0 0 {width} {height}" '
        f'role="img" aria-label="{escape(label)}"><title>{escape(label)}: {escape(shown)}</title>'
        f'{lines}{dot}</svg>'
    )


def line_chart(series: Mapping[str, Sequence[float | None]], x_labels: Sequence[str], *,
               title: str, y_label: str, width: int = 640, height: int = 260,
               reference: float | None = None) -> Markup:
    """A line chart with one line per series over `x_labels`, axes and a legend.

    `reference` draws a dashed horizontal line (e.g. PAI = 1, no better than chance).
    """
    left, right, top, bottom = 64, 150, 28, 46
    plot_w, plot_h = width - left - right, height - top - bottom
    values = [v for s in series.values() for v in _finite(s)]
    if reference is not None:
        values.append(reference)
    if not values or not x_labels:
        return Markup(f'<p class="muted">No data for “{escape(title)}”.</p>')
    hi = max(values) * 1.1 or 1.0
    lo = 0.0
    n = len(x_labels)

    def x_at(i: int) -> float:
        return left + (plot_w / 2 if n == 1 else i * plot_w / (n - 1))

    def y_at(v: float) -> float:
        return top + plot_h - (v - lo) / (hi - lo) * plot_h

    chart_id = f"chart-{zlib.crc32(title.encode()):08x}"
    parts = [f'<svg class="chart" viewBox="0 0 {width} {height}" role="img" '
             f'aria-labelledby="{chart_id}">',
             f'<title id="{chart_id}">{escape(title)}</title>',
             f'<text x="{left}" y="16" font-size="13" font-weight="600" fill="#1a1a1a">{escape(title)}</text>']
    for k in range(5):
        v = lo + (hi - lo) * k / 4
        y = y_at(v)
        parts.append(f'<line x1="{left}" x2="{left + plot_w}" y1="{y:.1f}" y2="{y:.1f}" stroke="#e3e6ea"/>')
        parts.append(f'<text x="{left - 6}" y="{y + 4:.1f}" font-size="11" text-anchor="end" '
                     f'fill="#555">{v:.3g}</text>')
    every = max(1, math.ceil(n / 8))
    for i, lab in enumerate(x_labels):
        if i % every == 0 or i == n - 1:
            parts.append(f'<text x="{x_at(i):.1f}" y="{top + plot_h + 16}" font-size="11" '
                         f'text-anchor="middle" fill="#555">{escape(lab)}</text>')
    parts.append(f'<text x="14" y="{top + plot_h / 2:.1f}" font-size="11" fill="#555" '
                 f'transform="rotate(-90 14 {top + plot_h / 2:.1f})" text-anchor="middle">{escape(y_label)}</text>')
    parts.append(f'<line x1="{left}" x2="{left}" y1="{top}" y2="{top + plot_h}" stroke="#888"/>')
    parts.append(f'<line x1="{left}" x2="{left + plot_w}" y1="{top + plot_h}" y2="{top + plot_h}" stroke="#888"/>')
    if reference is not None:
        y = y_at(reference)
        parts.append(f'<line x1="{left}" x2="{left + plot_w}" y1="{y:.1f}" y2="{y:.1f}" stroke="#666" '
                     f'stroke-dasharray="4 4"/>')
    for j, (name, vals) in enumerate(series.items()):
        colour = SERIES_COLOURS[j % len(SERIES_COLOURS)]
        pts = [(x_at(i), y_at(float(v))) for i, v in enumerate(vals)
               if v is not None and math.isfinite(float(v))]
        if len(pts) > 1:
            parts.append(f'<polyline fill="none" stroke="{colour}" stroke-width="2" points="'
                         + " ".join(f"{x:.1f},{y:.1f}" for x, y in pts) + '"/>')
        for x, y in pts:
            parts.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3" fill="{colour}"/>')
        ly = top + 10 + j * 18
        parts.append(f'<line x1="{left + plot_w + 14}" x2="{left + plot_w + 34}" y1="{ly}" y2="{ly}" '
                     f'stroke="{colour}" stroke-width="3"/>')
        parts.append(f'<text x="{left + plot_w + 40}" y="{ly + 4}" font-size="11" fill="#1a1a1a">'
                     f'{escape(name)}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))
