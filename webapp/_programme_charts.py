"""Server-rendered SVG for the programme pages: a dosage chart and a hotspot's area (no JavaScript,
no inline styles; readable in black and white when printed)."""

from __future__ import annotations

import datetime as dt
import math
import zlib
from typing import Any

from markupsafe import Markup, escape


def dosage_chart(d: Any, *, width: int = 640, height: int = 200) -> Markup:
    """Visits per day over the weeks of a `hotspots.dosage.Dosage`, with the daily target as a
    dashed line and a cross under each active day without a visit."""
    days = list(d.daily)
    if not days:
        return Markup('<p class="muted">No days to show.</p>')
    left, right, top, bottom = 40, 12, 26, 44
    plot_w, plot_h = width - left - right, height - top - bottom
    targets: dict[dt.date, float] = {}
    for w in d.weeks:
        per_day = w.target_visits / w.active_days if w.active_days else 0.0
        for k in range(7):
            targets[w.start + dt.timedelta(days=k)] = per_day
    hi = max([x.visits for x in days] + [max(targets.values(), default=0.0), 1.0]) * 1.15
    n = len(days)
    step = plot_w / n
    bar = max(2.0, step * 0.7)

    def y_at(v: float) -> float:
        return top + plot_h - v / hi * plot_h

    title = f"Visits per day: {d.name}"
    cid = f"dose-{zlib.crc32(title.encode()):08x}"
    parts = [f'<svg class="chart dosage-chart" viewBox="0 0 {width} {height}" role="img" '
             f'aria-labelledby="{cid}">',
             f'<title id="{cid}">{escape(title)}; dashed line: the target per day; x: a day without a visit</title>',
             f'<text x="{left}" y="16" font-size="12" font-weight="600" fill="#1a1a1a">{escape(title)}</text>']
    for k in range(int(math.floor(hi)) + 1):
        if hi > 8 and k % max(1, int(hi // 4)):
            continue
        y = y_at(k)
        parts.append(f'<line x1="{left}" x2="{left + plot_w}" y1="{y:.1f}" y2="{y:.1f}" stroke="#e3e6ea"/>')
        parts.append(f'<text x="{left - 6}" y="{y + 4:.1f}" font-size="10" text-anchor="end" fill="#555">{k}</text>')
    for i, x in enumerate(days):
        cx = left + i * step + step / 2
        if x.visits:
            y = y_at(x.visits)
            parts.append(f'<rect x="{cx - bar / 2:.1f}" y="{y:.1f}" width="{bar:.1f}" '
                         f'height="{top + plot_h - y:.1f}" fill="#3b5b92"><title>{x.day.isoformat()}: '
                         f'{x.visits} visit(s), {x.minutes:.0f} min</title></rect>')
        elif x.active:
            parts.append(f'<text x="{cx:.1f}" y="{top + plot_h + 12}" font-size="10" text-anchor="middle" '
                         f'fill="#a50026">×<title>{x.day.isoformat()}: no visit</title></text>')
        if x.day.weekday() == 0:
            label = x.day.strftime("%d %b")
            parts.append(f'<line x1="{cx - step / 2:.1f}" x2="{cx - step / 2:.1f}" y1="{top}" '
                         f'y2="{top + plot_h}" stroke="#c9ced6" stroke-dasharray="2 3"/>')
            parts.append(f'<text x="{cx - step / 2 + 2:.1f}" y="{top + plot_h + 28}" font-size="10" '
                         f'fill="#555">{escape(label)}</text>')
    # The target per day, week by week.
    pts = []
    for i, x in enumerate(days):
        t = targets.get(x.day, 0.0)
        pts.append((left + i * step, y_at(t)))
        pts.append((left + (i + 1) * step, y_at(t)))
    parts.append('<polyline fill="none" stroke="#1a1a1a" stroke-width="1.5" stroke-dasharray="5 3" points="'
                 + " ".join(f"{px:.1f},{py:.1f}" for px, py in pts) + '"/>')
    parts.append(f'<line x1="{left}" x2="{left + plot_w}" y1="{top + plot_h}" y2="{top + plot_h}" stroke="#888"/>')
    parts.append("</svg>")
    return Markup("".join(parts))


def area_svg(record: Any, *, size: int = 260, buffer_k: int = 1) -> Markup:
    """The hotspot's cells (filled), the buffer ring around them (dashed) and a drawn polygon
    (outline), in British National Grid metres, north up."""
    import numpy as np
    import shapely

    from hotspots import cells as h3cells
    from hotspots.crs import BNG

    cells = np.array(list(record.cells), dtype=object)
    if not len(cells):
        return Markup("")
    hexes = h3cells.cells_to_polygons(cells, crs=BNG)
    _o, disk = h3cells.grid_disk_pairs(cells, k=buffer_k)
    ring = np.setdiff1d(np.unique(disk), h3cells.str_to_cells(list(cells)))
    ring_hexes = h3cells.cells_to_polygons(ring, crs=BNG) if len(ring) else np.zeros(0, dtype=object)
    drawn = None
    if record.polygon:
        import geopandas as gpd
        from shapely.geometry import shape

        drawn = gpd.GeoSeries([shape(record.polygon)], crs=4326).to_crs(BNG).iloc[0]
    everything = shapely.union_all(np.concatenate([hexes, ring_hexes] + ([np.array([drawn])] if drawn is not None else [])))
    minx, miny, maxx, maxy = everything.bounds
    span = max(maxx - minx, maxy - miny) or 1.0
    pad = 8
    scale = (size - 2 * pad) / span

    def path(geom) -> str:
        out = []
        polys = getattr(geom, "geoms", [geom])
        for poly in polys:
            for ring_ in [poly.exterior, *poly.interiors]:
                xy = np.asarray(ring_.coords)
                pts = " ".join(f"{pad + (x - minx) * scale:.1f},{pad + (maxy - y) * scale:.1f}" for x, y in xy)
                out.append(f"M{pts}Z")
        return " ".join(out)

    label = f"Area of hotspot {record.id}: {len(cells)} cell(s), buffer ring dashed"
    parts = [f'<svg class="area-svg" viewBox="0 0 {size} {size}" width="{size}" height="{size}" role="img" '
             f'aria-label="{escape(label)}"><title>{escape(label)}</title>']
    for h in ring_hexes:
        parts.append(f'<path d="{path(h)}" fill="none" stroke="#777" stroke-dasharray="3 3"/>')
    for h in hexes:
        parts.append(f'<path d="{path(h)}" fill="#d73027" fill-opacity="0.55" stroke="#1a1a1a"/>')
    if drawn is not None:
        parts.append(f'<path d="{path(drawn)}" fill="none" stroke="#1f3a68" stroke-width="2"/>')
    parts.append("</svg>")
    return Markup("".join(parts))
