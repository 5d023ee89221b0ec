"""The weekly briefing pack for the tasking meeting: what is new, persists or fades, the hotspot map
(an SVG with ward and street names and its own legend, readable in black and white), the ward
table, the register with dosage and impact, and the data coverage notes. The web page and
`hotspots brief` render the same model; the PDF is printed by the installed Chromium (headless).
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
from markupsafe import Markup, escape

from hotspots.errors import InputError
from webapp import _programme, register
from webapp._headlines import (
    FADING,
    NEW,
    PERSISTING,
    period_headlines,
    trend_headline,
    unnamed_cells,
)
from webapp.presentation import CLASSES
from webapp.services import CATEGORY_LABELS, SERIOUS_VIOLENCE_NOTE, get_data

CATEGORIES = ("asb", "serious_violence")
#: Fill and pattern of each map class: the pattern tells the classes apart on a black-and-white print.
PATTERNS = {"hot_new": "cross", "hot_persistent": "diag", "hot": "dots", "sporadic": "horiz",
            "fading": "vert", "incidents": None, "institution": None}


def brief_period(week: str | None, *, data=None):
    """(period, note): the week asked for, or when the data gives only months (police.uk) the
    month holding that week's Thursday, said so."""
    data = data or get_data()
    if not week:
        week = data.default_period("week") if data.weekly_ok() else None
    if week is None:
        period = data.parse_period(data.default_period("month"))
        return period, ("The data gives months only (police.uk), so this briefing covers "
                        f"{period.label}, the latest month in the store, not a week.")
    period = data.parse_period(week, name="week")
    if period.kind != "week":
        msg = f"`week` is {week!r}; expected an ISO week such as 2025-W23."
        raise InputError(msg)
    if data.weekly_ok():
        return period, ""
    thursday = (period.start + dt.timedelta(days=3)).date()
    month = data.parse_period(f"{thursday.year:04d}-{thursday.month:02d}")
    return month, (f"The data gives months only (police.uk), so this briefing for {period.label} "
                   f"covers the month {month.label}; weekly figures need a force export with dates.")


def brief_model(week: str | None, wards: Any = "priority") -> dict[str, Any]:
    """Everything the briefing shows (raises `InputError`/`ParameterError` naming a bad argument)."""
    from hotspots.areas import cell_labels
    from webapp.presentation import cell_hex, records

    data = get_data()
    if data.is_empty():
        msg = "the store is empty: load incidents first (hotspots ingest or hotspots demo)."
        raise InputError(msg)
    period, period_note = brief_period(week, data=data)
    sections = []
    shown_all = []
    for cat in CATEGORIES:
        q = data.query(category=cat, period=period.label, wards=wards)
        ranking = data.ranking(q)
        shown = data.shown(q)
        top = shown.head(12)
        labels = cell_labels(data.incidents(), dict.fromkeys(
            [cell_hex(c) for c in top["h3_cell"]] + unnamed_cells(ranking)))
        noun = "ASB" if cat == "asb" else "serious violence"
        sections.append({
            "category": cat, "label": CATEGORY_LABELS[cat], "query": q,
            "summary": period_headlines(ranking, data.ward_table(q), labels=labels, noun=noun),
            "headlines": [trend_headline(ranking, labels, NEW, "new", noun),
                          trend_headline(ranking, labels, PERSISTING, "persisting", noun),
                          trend_headline(ranking, labels, FADING, "fading", noun)],
            "wards": records(data.ward_table(q)),
            "top": [dict(r, street=labels.get(cell_hex(r["h3_cell"]), ""), cell=cell_hex(r["h3_cell"]))
                    for r in records(top, ["rank", "h3_cell", "ward_name", "count", "harm", "trend", "hot"])],
            "hot": int(ranking["hot"].fillna(False).astype(bool).sum()),
        })
        shown_all.append((cat, shown, labels))
    records_ = register.list_hotspots("open")
    label, rows = _programme.register_rows(records_)
    per_hotspot, _teams = _programme.dosage_report(records_)
    doses = {d.key: d for d in per_hotspot}
    for row in rows:
        d = doses.get(row["id"])
        row["last4"] = d.previous_total() if d is not None else None
    coverage = data.store.coverage()
    chosen_wards = data.wards_wgs84()
    chosen_wards = chosen_wards[chosen_wards["ward_code"].isin(sections[0]["query"].wards)]
    return {
        "period": period, "period_note": period_note, "sections": sections, "register": rows,
        "register_period": label, "demo": data.is_demo(),
        "coverage": coverage.describe(), "gaps": coverage.gaps(), "partial": coverage.partial(),
        "sv_note": SERIOUS_VIOLENCE_NOTE, "made": dt.datetime.now().strftime("%Y-%m-%d %H:%M"),
        "map": map_svg(shown_all, chosen_wards, records_),
    }


def map_svg(layers, wards, designated, *, width: int = 760, height: int = 560) -> Markup:
    """The briefing map: ward outlines and names, hot and other cells of both categories (ASB
    filled, serious violence outlined in bold), designated hotspots numbered, the top cells'
    street names, and the legend, all in one SVG (the legend stays with the map when printed)."""
    import shapely

    from hotspots import cells as h3cells
    from webapp.presentation import cell_hex

    if wards is None or not len(wards):
        return Markup('<p class="muted">No wards to draw.</p>')
    legend_rows = -(-len(CLASSES) // 2)  # two legend entries a row
    legend_h = 60 + 20 * legend_rows
    plot_h = height - legend_h
    minx, miny, maxx, maxy = wards.total_bounds
    # Longitude squeezed by the cosine of the latitude: north up, distances true at Leeds.
    k = np.cos(np.radians((miny + maxy) / 2))
    span_x, span_y = (maxx - minx) * k, (maxy - miny)
    scale = min((width - 20) / span_x, (plot_h - 20) / span_y)
    ox = 10 + ((width - 20) - span_x * scale) / 2
    oy = 10 + ((plot_h - 20) - span_y * scale) / 2

    def pt(lon: float, lat: float) -> tuple[float, float]:
        return ox + (lon - minx) * k * scale, oy + (maxy - lat) * scale

    def path(geom) -> str:
        out = []
        for poly in getattr(geom, "geoms", [geom]):
            for ring in [poly.exterior, *poly.interiors]:
                xy = np.asarray(ring.coords)
                out.append("M" + " ".join("{:.1f},{:.1f}".format(*pt(x, y)) for x, y in xy) + "Z")
        return " ".join(out)

    colours = {key: colour for key, _label, colour in CLASSES}
    parts = [f'<svg class="brief-map" viewBox="0 0 {width} {height}" role="img" '
             'aria-labelledby="brief-map-title" xmlns="http://www.w3.org/2000/svg">',
             '<title id="brief-map-title">Hotspot map with ward names, street names and legend</title>',
             "<defs>",
             '<pattern id="p-cross" width="4" height="4" patternUnits="userSpaceOnUse"><path d="M0,0 L4,4 M4,0 L0,4" stroke="#000" stroke-width="0.8"/></pattern>',
             '<pattern id="p-diag" width="5" height="5" patternUnits="userSpaceOnUse"><path d="M0,5 L5,0" stroke="#000" stroke-width="0.8"/></pattern>',
             '<pattern id="p-dots" width="4" height="4" patternUnits="userSpaceOnUse"><circle cx="2" cy="2" r="0.8" fill="#000"/></pattern>',
             '<pattern id="p-horiz" width="4" height="4" patternUnits="userSpaceOnUse"><path d="M0,2 L4,2" stroke="#000" stroke-width="0.6"/></pattern>',
             '<pattern id="p-vert" width="4" height="4" patternUnits="userSpaceOnUse"><path d="M2,0 L2,4" stroke="#000" stroke-width="0.6"/></pattern>',
             "</defs>",
             f'<rect x="0" y="0" width="{width}" height="{plot_h}" fill="#fff" stroke="#999"/>']
    for geom in wards.geometry:
        parts.append(f'<path d="{path(geom)}" fill="#f7f7f7" stroke="#000" stroke-width="1.2" stroke-dasharray="5 3"/>')
    labelled: list[tuple[float, float, str]] = []
    for cat, shown, labels in layers:
        if not len(shown):
            continue
        cells = [cell_hex(c) for c in shown["h3_cell"]]
        polys = h3cells.cells_to_polygons(np.array(cells, dtype=object), crs=4326)
        for cell, poly, cls in zip(cells, polys, shown["map_class"].astype(str), strict=True):
            colour = colours.get(cls, "#d9d9d9")
            stroke = 'stroke="#000" stroke-width="1.6"' if cat == "serious_violence" else 'stroke="#333" stroke-width="0.5"'
            d = path(poly)
            parts.append(f'<path d="{d}" fill="{colour}" {stroke}/>')
            pattern = PATTERNS.get(cls)
            if pattern:
                parts.append(f'<path d="{d}" fill="url(#p-{pattern})" stroke="none"/>')
            if cell in labels and cls.startswith("hot") and len(labelled) < 10:
                c = poly.centroid
                x, y = pt(c.x, c.y)
                if all(abs(x - a) > 60 or abs(y - b) > 14 for a, b, _ in labelled):
                    labelled.append((x, y, labels[cell]))
    for rec in designated:
        outline = shapely.union_all(h3cells.cells_to_polygons(np.array(list(rec.cells), dtype=object), crs=4326))
        parts.append(f'<path d="{path(outline)}" fill="none" stroke="#1f3a68" stroke-width="3"/>')
        c = outline.centroid
        x, y = pt(c.x, c.y)
        parts.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="8" fill="#1f3a68"/>'
                     f'<text x="{x:.1f}" y="{y + 3.5:.1f}" font-size="10" text-anchor="middle" fill="#fff" '
                     f'font-weight="700">{rec.id}</text>')
    for _i, row in wards.iterrows():
        c = row.geometry.representative_point()
        x, y = pt(c.x, c.y)
        parts.append(f'<text x="{x:.1f}" y="{y:.1f}" font-size="13" font-weight="700" text-anchor="middle" '
                     f'fill="#000" stroke="#fff" stroke-width="3" paint-order="stroke">{escape(row["ward_name"])}</text>')
    for x, y, text in labelled:
        parts.append(f'<text x="{x + 6:.1f}" y="{y - 6:.1f}" font-size="10" fill="#000" stroke="#fff" '
                     f'stroke-width="2.5" paint-order="stroke">{escape(text)}</text>')
    # The legend, inside the SVG.
    y0 = plot_h + 14
    parts.append(f'<text x="10" y="{y0}" font-size="12" font-weight="700">Legend</text>')
    items = [(key, label, colours[key]) for key, label, _c in CLASSES]
    for i, (key, label, colour) in enumerate(items):
        col, row_ = i % 2, i // 2
        x, y = 10 + col * 370, y0 + 8 + row_ * 20
        parts.append(f'<rect x="{x}" y="{y}" width="22" height="14" fill="{colour}" stroke="#333"/>')
        if PATTERNS.get(key):
            parts.append(f'<rect x="{x}" y="{y}" width="22" height="14" fill="url(#p-{PATTERNS[key]})"/>')
        parts.append(f'<text x="{x + 30}" y="{y + 11}" font-size="11">{escape(label)}</text>')
    y = y0 + 8 + legend_rows * 20
    parts.append(f'<line x1="10" x2="32" y1="{y + 7}" y2="{y + 7}" stroke="#000" stroke-width="1.2" stroke-dasharray="5 3"/>'
                 f'<text x="40" y="{y + 11}" font-size="11">Ward boundary</text>'
                 f'<rect x="140" y="{y}" width="22" height="14" fill="#fff" stroke="#000" stroke-width="1.6"/>'
                 f'<text x="170" y="{y + 11}" font-size="11">Serious violence cell (bold edge); ASB cells thin</text>'
                 f'<circle cx="500" cy="{y + 7}" r="7" fill="#1f3a68"/><text x="512" y="{y + 11}" font-size="11">'
                 "Designated hotspot (register number)</text>")
    parts.append("</svg>")
    return Markup("".join(parts))


def chromium() -> str:
    """The installed Chromium (`HOTSPOTS_CHROMIUM`, else `chromium` on the PATH, else /usr/bin/chromium)."""
    for candidate in (os.environ.get("HOTSPOTS_CHROMIUM"), shutil.which("chromium"),
                      shutil.which("chromium-browser"), "/usr/bin/chromium"):
        if candidate and Path(candidate).is_file():
            return candidate
    msg = ("no Chromium found to print the PDF: install it (apt-get install chromium) or set "
           "HOTSPOTS_CHROMIUM to its path; the briefing page can still be printed from a browser.")
    raise InputError(msg)


def html_to_pdf(html: str, out: Path, *, timeout_s: float = 120) -> Path:
    """Print a standalone HTML document to an A4 PDF with headless Chromium (no network needed)."""
    exe = chromium()
    with tempfile.TemporaryDirectory(prefix="hotspots-brief-") as tmp:
        page = Path(tmp) / "brief.html"
        page.write_text(html, encoding="utf-8")
        target = Path(tmp) / "brief.pdf"
        cmd = [exe, "--headless", "--no-sandbox", "--disable-gpu", "--disable-extensions",
               "--no-first-run", "--no-pdf-header-footer", f"--user-data-dir={tmp}/profile",
               f"--print-to-pdf={target}", page.as_uri()]
        try:
            done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout_s, check=False)
        except subprocess.TimeoutExpired:
            msg = f"Chromium did not finish printing the briefing within {timeout_s:.0f} s."
            raise InputError(msg) from None
        if not target.is_file() or target.stat().st_size == 0:
            msg = f"Chromium could not print the briefing (exit code {done.returncode}): {done.stderr.strip()[-300:]}"
            raise InputError(msg)
        out = Path(out)
        out.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(target, out)
    return out


def standalone_html(model: dict[str, Any]) -> str:
    """The briefing as one self-contained HTML document (styles inline), for printing to PDF."""
    from flask import current_app, render_template

    css = Path(current_app.root_path, "static", "brief.css").read_text(encoding="utf-8")
    return render_template("brief_document.html", css=Markup(css), **model)
