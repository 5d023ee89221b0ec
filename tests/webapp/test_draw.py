"""The register's drawing map as served (the page, its data and its edges) and the one check a
drawn polygon adds to a pasted one: an area over none of the wards is refused, from the page and
the API alike, and nothing is stored."""

from __future__ import annotations

import json
import re

from tests.webapp.conftest import csrf_token, make_token


def _square(lon: float, lat: float, half: float = 0.002) -> str:
    ring = [[lon - half, lat - half], [lon + half, lat - half], [lon + half, lat + half],
            [lon - half, lat + half], [lon - half, lat - half]]
    return json.dumps({"type": "Polygon", "coordinates": [ring]})


def _count(app) -> tuple[int, int]:
    from sqlalchemy import func, select

    from webapp.db import AuditEntry, DesignatedHotspot, db_session

    with app.app_context():
        session = db_session()
        return (session.scalar(select(func.count()).select_from(DesignatedHotspot)),
                session.scalar(select(func.count()).select_from(AuditEntry).where(
                    AuditEntry.action == "hotspot_designated")))


def test_the_new_hotspot_page_carries_the_drawing_map(as_role):
    page = as_role("analyst").get("/register/new").get_data(as_text=True)
    assert re.search(r'<div class="draw" id="draw" data-field="polygon" data-tiles="" [^>]* hidden>', page)
    wards = json.loads(re.search(r'<script type="application/json" id="draw-wards">(.*?)</script>',
                                 page, re.S).group(1))
    names = sorted(f["properties"]["ward"] for f in wards["features"])
    assert names == sorted(["Armley", "Beeston & Holbeck", "Burmantofts & Richmond Hill",
                            "Gipton & Harehills", "Hunslet & Riverside", "Killingbeck & Seacroft"])
    lon, lat = wards["features"][0]["geometry"]["coordinates"][0][0][:2]
    assert -1.8 < lon < -1.3 and 53.7 < lat < 53.95  # longitude first
    for button in ("Undo last corner", "Clear", "Finish the polygon"):
        assert re.search(rf'<button type="button" class="secondary" id="draw-\w+">{button}</button>', page)
    assert "/static/draw.js" in page and "/assets/leaflet/" in page


def test_a_polygon_over_no_ward_is_refused_by_page_and_api(app, as_role):
    sea = _square(1.5, 54.5)  # the North Sea
    c = as_role("analyst")
    response = c.post("/register/new", data={"csrf_token": csrf_token(c, "/register/new"),
                                             "category": "asb", "polygon": sea})
    text = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "`polygon` lies outside the wards (its centre is at longitude 1.50000, latitude 54.50000)" in text
    token = make_token(app, "analyst")
    api = app.test_client().post("/api/v1/register", json={"category": "asb", "polygon": sea},
                                 headers={"Authorization": f"Bearer {token}"})
    assert api.status_code == 400
    error = api.get_json()["error"]
    assert error["details"]["parameter"] == "polygon"
    assert error["message"].startswith("`polygon` lies outside the wards")
    assert _count(app) == (0, 0)
    # Over a ward, the same polygon form is taken.
    leeds = _square(-1.5492, 53.7997)
    response = c.post("/register/new", data={"csrf_token": csrf_token(c, "/register/new"),
                                             "category": "asb", "polygon": leeds})
    assert response.status_code == 302, response.get_data(as_text=True)[:500]
    assert _count(app) == (1, 1)
