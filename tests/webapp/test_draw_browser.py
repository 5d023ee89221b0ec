"""Drawing a designated hotspot's area on the register's map (static/draw.js) in a real headless
Chromium: corners clicked over a known place become the stored hotspot's cells (and its audit
entry), undo drops the last corner, a crossed polygon gets the pasted polygon's error, the page
passes axe-core and fits a phone, and without JavaScript the page still takes a pasted polygon."""

from __future__ import annotations

import json

import numpy as np
import pytest

from tests.webapp.test_browser import CHROMIUM, _local, browser, live_app  # noqa: F401 - fixtures

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian chromium (/usr/bin/chromium) is not installed"),
]
DESK = {"viewport": {"width": 1280, "height": 900}}
PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True}


def _login(page, base, app, role="analyst"):
    page.goto(f"{base}/login")
    page.fill("#username", role)
    page.fill("#password", app.passwords[role])
    with page.expect_navigation():
        page.click("button[type=submit]")


def _known_place(app, *, half_m: float = 250.0):
    """A cell inside a priority ward, its six neighbours and the corners (longitude, latitude) of
    a square `half_m` metres each side of the cell's centre, anticlockwise from the south-west."""
    import geopandas as gpd
    from shapely.geometry import Point

    from hotspots.cells import cells_to_latlng, cells_to_str, grid_disk_pairs, latlng_to_cells
    from hotspots.crs import BNG, WGS84
    from webapp.services import get_data

    with app.app_context():
        data = get_data()
        wards = data.wards()
        ward = wards[wards["ward_code"] == data.resolve_wards("priority")[0]].geometry.iloc[0]
        resolution = data.settings.h3_resolution
    spot = gpd.GeoSeries([ward.representative_point()], crs=BNG).to_crs(WGS84).iloc[0]
    cell = latlng_to_cells([spot.y], [spot.x], resolution=resolution)
    lat, lng = cells_to_latlng(cell)
    centre = gpd.GeoSeries([Point(lng[0], lat[0])], crs=WGS84).to_crs(BNG).iloc[0]
    square = [(centre.x - half_m, centre.y - half_m), (centre.x + half_m, centre.y - half_m),
              (centre.x + half_m, centre.y + half_m), (centre.x - half_m, centre.y + half_m)]
    corners = gpd.GeoSeries([Point(x, y) for x, y in square], crs=BNG).to_crs(WGS84)
    _, ring = grid_disk_pairs(cell, k=1)
    expected = {str(c) for c in cells_to_str(np.concatenate([cell, ring]))}
    return expected, [(p.x, p.y) for p in corners]


def _click(page, lon: float, lat: float) -> None:
    """A real mouse click on the drawing map at a longitude/latitude."""
    x, y = page.evaluate("""([lat, lon]) => {
        const map = document.getElementById('draw').leafletMap;
        const p = map.latLngToContainerPoint([lat, lon]);
        const box = document.getElementById('draw-map').getBoundingClientRect();
        return [box.left + p.x, box.top + p.y];
    }""", [lat, lon])
    page.mouse.click(x, y)


def _open_form(browser, base, app, **context):  # noqa: F811 - the fixture's name
    requests: list[str] = []
    problems: list[str] = []
    ctx = browser.new_context(**(context or DESK))
    ctx.on("request", lambda r: requests.append(r.url))
    page = ctx.new_page()
    page.on("pageerror", lambda e: problems.append(str(e)))
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    _login(page, base, app)
    page.goto(f"{base}/register/new")
    page.locator("#draw-map .leaflet-overlay-pane path").first.wait_for(state="attached")
    page.locator("#draw-map").scroll_into_view_if_needed()
    return page, requests, problems


def test_draw_a_polygon_over_a_known_place_and_designate_it(live_app, browser, tmp_path):  # noqa: F811
    app, base = live_app
    expected, corners = _known_place(app)
    page, requests, problems = _open_form(browser, base, app)
    assert page.locator("#draw").is_visible()
    assert page.locator("#draw-finish").is_disabled()
    for lon, lat in corners:
        _click(page, lon, lat)
    assert page.text_content("#draw-status").startswith("4 corners")
    assert page.input_value("#polygon") == ""  # nothing written before Finish
    page.click("#draw-finish")
    assert page.text_content("#draw-status").startswith("Finished")
    page.screenshot(path=tmp_path / "drawn.png", full_page=True)
    drawn = json.loads(page.input_value("#polygon"))
    ring = drawn["coordinates"][0]
    assert drawn["type"] == "Polygon" and len(ring) == 5 and ring[0] == ring[-1]
    # Longitude first, anticlockwise (RFC 7946), each corner within a few pixels of the click.
    area2 = sum(a[0] * b[1] - b[0] * a[1] for a, b in zip(ring, ring[1:], strict=False))
    assert area2 > 0
    np.testing.assert_allclose(sorted(ring[:4]), sorted(corners), atol=0.002)

    page.fill("#reason", "drawn in the browser test")
    with page.expect_navigation():
        page.click("form.card button[type=submit]")
    assert "/register/1" in page.url, page.text_content("main")

    from sqlalchemy import select

    from webapp.db import AuditEntry, DesignatedHotspot, db_session

    with app.app_context():
        record = db_session().get(DesignatedHotspot, 1)
        assert expected <= set(record.cells), (sorted(expected - set(record.cells)), record.cells)
        assert len(record.cells) < 40  # the square, not the ward
        assert record.polygon["type"] == "Polygon"
        entry = db_session().scalars(select(AuditEntry).where(
            AuditEntry.action == "hotspot_designated", AuditEntry.target == "hotspot 1")).one()
        assert entry.username == "analyst"
        assert entry.detail["reason"] == "drawn in the browser test"
        assert sorted(entry.detail["cells"]) == sorted(record.cells)
    assert "from a drawn polygon" in page.text_content("main")
    assert not problems, problems
    assert all(_local(u) for u in requests), [u for u in requests if not _local(u)]


def test_undo_removes_the_last_corner_and_clear_starts_again(live_app, browser):  # noqa: F811
    app, base = live_app
    _, corners = _known_place(app)
    page, _, problems = _open_form(browser, base, app)
    sw, se, ne, nw = corners
    for lon, lat in (sw, se, ne):
        _click(page, lon, lat)
    page.click("#draw-undo")
    assert page.text_content("#draw-status").startswith("2 corners")
    assert page.locator("#draw-finish").is_disabled()  # two corners make no polygon
    assert page.locator("#draw-map path.draw-corner").count() == 2
    _click(page, *nw)
    page.click("#draw-finish")
    ring = json.loads(page.input_value("#polygon"))["coordinates"][0]
    assert len(ring) == 4
    np.testing.assert_allclose(sorted(ring[:3]), sorted([sw, se, nw]), atol=0.002)  # ne undone
    # Undo after Finish reopens the polygon and takes back what it wrote.
    page.click("#draw-undo")
    assert page.input_value("#polygon") == ""
    assert page.text_content("#draw-status").startswith("2 corners")
    page.click("#draw-clear")
    assert page.text_content("#draw-status") == "No corners yet."
    assert page.locator("#draw-undo").is_disabled()
    assert not problems, problems


def test_a_crossed_drawing_gets_the_pasted_polygons_error(live_app, browser):  # noqa: F811
    app, base = live_app
    _, (sw, se, ne, nw) = _known_place(app)
    page, _, _ = _open_form(browser, base, app)
    for lon, lat in (sw, ne, se, nw):  # a bow tie
        _click(page, lon, lat)
    with page.expect_navigation():  # sent unfinished: the drawing is finished on the way
        page.click("form.card button[type=submit]")
    assert "not a valid polygon" in page.text_content("[role=alert]")
    # The form comes back with the drawing on the map, finished, to undo or clear.
    assert page.text_content("#draw-status").startswith("Finished: a polygon of 4 corners")
    from sqlalchemy import func, select

    from webapp.db import DesignatedHotspot, db_session

    with app.app_context():
        assert db_session().scalar(select(func.count()).select_from(DesignatedHotspot)) == 0


def test_the_drawing_page_passes_axe_and_fits_a_phone(live_app, browser):  # noqa: F811
    axe = pytest.importorskip("axe_playwright_python.sync_playwright").Axe()
    app, base = live_app
    _, corners = _known_place(app)
    for context in (DESK, PHONE):
        page, _, problems = _open_form(browser, base, app, **context)
        for lon, lat in corners[:3]:
            _click(page, lon, lat)
        found = axe.run(page, options={"resultTypes": ["violations"]}).response
        bad = [(v["id"], v["impact"], [n["target"] for n in v["nodes"][:3]])
               for v in found["violations"] if v["impact"] in ("serious", "critical")]
        assert not bad, bad
        width = context["viewport"]["width"]
        assert page.evaluate("document.documentElement.scrollWidth") <= width
        assert page.evaluate("document.getElementById('draw-map').getBoundingClientRect().right") <= width
        for name in ("Undo last corner", "Clear", "Finish the polygon"):
            assert page.get_by_role("button", name=name).is_visible()
        assert page.get_by_role("region", name="Or draw the area on the map").is_visible()
        assert not problems, problems


def test_without_javascript_the_polygon_is_pasted(live_app, browser):  # noqa: F811
    app, base = live_app
    expected, corners = _known_place(app)
    ctx = browser.new_context(java_script_enabled=False, **DESK)
    page = ctx.new_page()
    _login(page, base, app)
    page.goto(f"{base}/register/new")
    assert not page.locator("#draw").is_visible()
    ring = [list(c) for c in corners] + [list(corners[0])]
    page.fill("#polygon", json.dumps({"type": "Polygon", "coordinates": [ring]}))
    with page.expect_navigation():
        page.click("form.card button[type=submit]")
    assert "/register/1" in page.url
    from webapp.db import DesignatedHotspot, db_session

    with app.app_context():
        assert expected <= set(db_session().get(DesignatedHotspot, 1).cells)


def test_change_a_hotspots_area_by_drawing(live_app, browser):  # noqa: F811
    app, base = live_app
    expected, corners = _known_place(app, half_m=150.0)
    from webapp.register import create_hotspot

    with app.app_context():
        first = sorted(expected)[0]
        create_hotspot({"cells": [first], "category": "asb", "start_date": "2025-01-06"}, who="(test)")
    ctx = browser.new_context(**DESK)
    page = ctx.new_page()
    problems: list[str] = []
    page.on("pageerror", lambda e: problems.append(str(e)))
    _login(page, base, app)
    page.goto(f"{base}/register/1")
    assert not page.locator("#draw-map").is_visible()  # inside the closed "Change" section
    page.click("text=Change this hotspot")
    page.locator("#draw-map").scroll_into_view_if_needed()
    assert page.locator("#draw-map").is_visible()
    assert page.locator("#draw-map path").count() >= 2  # the wards and the area now
    for lon, lat in corners:
        _click(page, lon, lat)
    page.click("#draw-finish")
    assert json.loads(page.input_value("#edit-polygon"))["type"] == "Polygon"
    page.fill("#edit-reason", "grew along the street")
    with page.expect_navigation():
        page.click("text=Save the change")
    assert "Hotspot 1 changed" in page.text_content("main")

    from sqlalchemy import select

    from webapp.db import AuditEntry, DesignatedHotspot, db_session

    with app.app_context():
        record = db_session().get(DesignatedHotspot, 1)
        assert expected <= set(record.cells) and len(record.cells) > 1
        entry = db_session().scalars(select(AuditEntry).where(AuditEntry.action == "hotspot_changed")).one()
        assert entry.detail["reason"] == "grew along the street"
        assert entry.detail["changes"]["cells"] == [[first], record.cells]
    assert not problems, problems


def test_tiles_only_when_a_tile_url_is_set(live_app, browser):  # noqa: F811
    app, base = live_app
    page, requests, _ = _open_form(browser, base, app)
    assert page.locator("#draw-map .leaflet-tile").count() == 0
    assert not [u for u in requests if "tile=" in u]
    # A tile server on loopback (the app's own icon stands in for the tiles).
    app.config["MAP_TILES_URL"] = base + "/static/favicon.svg?tile={z}/{x}/{y}"
    app.config["MAP_TILES_ATTRIBUTION"] = "Loopback tiles"
    page, requests, problems = _open_form(browser, base, app)
    page.locator("#draw-map img.leaflet-tile").first.wait_for(state="attached")
    assert [u for u in requests if "/static/favicon.svg?tile=" in u]
    assert "Loopback tiles" in page.text_content("#draw-map .leaflet-control-attribution")
    assert not problems, problems


def test_viewers_get_no_drawing_map(live_app, browser):  # noqa: F811
    app, base = live_app
    from webapp.register import create_hotspot

    with app.app_context():
        create_hotspot({"cells": ["8a1942c58b4ffff"], "category": "asb"}, who="(test)")
    page = browser.new_context(**DESK).new_page()
    _login(page, base, app, "viewer")
    page.goto(f"{base}/register/1")
    assert "#1" in page.text_content("h1")
    assert page.locator("#draw").count() == 0
    assert page.locator("script[src*='draw.js']").count() == 0
