"""The map, ward summary and evaluation pages; offline map assets; demo labels."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import webapp

NONCE = re.compile(r"'nonce-([^']+)'")


def test_map_page(as_role):
    c = as_role("viewer")
    response = c.get("/map")
    text = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "Demo data." in text  # the demo store is labelled
    assert '<iframe class="map-frame" src="/map/frame?' in text
    assert text.count('<tr>\n      <td>') == 20  # the top 20 cells
    assert "Legend" in text and "Hotspot: new or intensifying" in text
    assert "Download GeoJSON" not in text  # exports are for analysts
    analyst = as_role("analyst").get("/map").get_data(as_text=True)
    assert "Download GeoJSON" in analyst and "Download CSV" in analyst


def test_map_page_for_chosen_wards_and_month(as_role):
    c = as_role("viewer")
    text = c.get("/map?period=2025-06&category=serious_violence&wards=E05011385").get_data(as_text=True)
    assert "Serious violence (proxy), 2025-06" in text
    assert "proxy for the Home Office definition" in text
    assert "wards=E05011385" in text  # the frame and downloads keep the wards


@pytest.mark.parametrize("query, name", [("period=2025-W99", "period"), ("category=fraud", "category"),
                                         ("wards=Atlantis", "wards"), ("resolution=3", "resolution")])
def test_map_page_bad_parameter_is_a_400_with_the_form(as_role, query, name):
    response = as_role("viewer").get(f"/map?{query}")
    text = response.get_data(as_text=True)
    assert response.status_code == 400
    assert f"`{name}`" in text
    assert 'class="picker"' in text  # the user can correct it in place


def test_weekly_map_on_monthly_data_says_so(monthly_app):
    from tests.webapp.conftest import login

    c = monthly_app.test_client()
    login(c, "viewer", monthly_app.passwords["viewer"])
    response = c.get("/map?period=2025-W28")
    text = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "give only the month" in text and "2025-07" in text
    ok = c.get("/map")  # the default is a month for such data
    assert ok.status_code == 200
    assert "2025-07" in ok.get_data(as_text=True)
    assert "weeks are not offered" in ok.get_data(as_text=True)
    assert c.get("/wards?period=2025-W28").status_code == 400


def test_map_frame_works_offline(as_role):
    c = as_role("viewer")
    response = c.get("/map/frame?period=2025-W30&category=asb&wards=priority")
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    # Only the app's own assets: no CDN, no tiles, no other origin.
    assert not re.search(r"(src|href)=\"(https?:)?//", html)
    assert "cdn" not in html.lower() and "tile.openstreetmap" not in html
    assert "/assets/leaflet/" in html and "jquery" not in html.lower() and "bootstrap" not in html.lower()
    # Every inline script and style carries this response's nonce.
    nonce = NONCE.search(response.headers["Content-Security-Policy"]).group(1)
    for tag in re.findall(r"<(?:script|style)(?:\s[^>]*)?>", html):
        assert f'nonce="{nonce}"' in tag or 'src="' in tag, tag
    assert html.count('"type": "Polygon"') + html.count('"type":"Polygon"') > 10
    assert "reason" in html  # the tooltips carry the reason sentence


def test_map_frame_nonce_changes_per_response(as_role):
    c = as_role("viewer")
    a = c.get("/map/frame").headers["Content-Security-Policy"]
    b = c.get("/map/frame").headers["Content-Security-Policy"]
    assert NONCE.search(a).group(1) != NONCE.search(b).group(1)


def test_leaflet_is_served_from_the_installed_package(client):
    import xstatic.pkg.leaflet as leaflet

    for name in ("leaflet.js", "leaflet.css", "images/layers.png"):
        response = client.get(f"/assets/leaflet/{leaflet.VERSION}/{name}")
        assert response.status_code == 200
        assert response.data == (Path(leaflet.BASE_DIR) / name).read_bytes()
    assert client.get("/assets/leaflet/0.0.1/leaflet.js").status_code == 404
    assert client.get(f"/assets/leaflet/{leaflet.VERSION}/../../__init__.py").status_code == 404


def test_folium_and_leaflet_versions_agree():
    import folium
    import xstatic.pkg.leaflet as leaflet

    wanted = re.search(r"leaflet@([\d.]+)", dict(folium.Map.default_js)["leaflet"]).group(1)
    assert leaflet.VERSION == wanted


def test_no_cdn_or_external_url_in_webapp():
    root = Path(webapp.__file__).parent
    pattern = re.compile(r"https?://(?!127\.0\.0\.1|localhost)[\w.-]+", re.IGNORECASE)
    offenders = []
    for path in root.rglob("*"):
        if path.suffix not in (".py", ".html", ".css", ".js", ".svg") or "commands" in path.parts:
            continue
        text = path.read_text(encoding="utf-8")
        for match in pattern.finditer(text):
            if match.group(0) != "http://www.w3.org":  # the SVG namespace is a name, not a request
                offenders.append((path.name, match.group(0)))
        if re.search(r"cdn(js)?\.", text, re.IGNORECASE):
            offenders.append((path.name, "cdn"))
    assert not offenders, offenders


def test_configured_tiles_are_used_and_allowed(home, demo_store):
    import shutil

    from tests.webapp.conftest import add_role_users, login, make_app

    shutil.copytree(demo_store, home / "store")
    application = make_app(home, SETTINGS={"map_tiles_url": "https://tiles.example.org/{z}/{x}/{y}.png",
                                           "map_tiles_attribution": "Example tiles"})
    add_role_users(application)
    c = application.test_client()
    login(c, "viewer", application.passwords["viewer"])
    response = c.get("/map/frame")
    assert "tiles.example.org" in response.get_data(as_text=True)
    assert "img-src 'self' data: https://tiles.example.org" in response.headers["Content-Security-Policy"]
    assert "Example tiles" in c.get("/map").get_data(as_text=True)


def test_ward_summary(as_role):
    response = as_role("viewer").get("/wards?category=asb")
    text = response.get_data(as_text=True)
    assert response.status_code == 200
    for name in ("Gipton &amp; Harehills", "Burmantofts &amp; Richmond Hill", "Beeston &amp; Holbeck",
                 "Killingbeck &amp; Seacroft", "Armley", "Hunslet &amp; Riverside"):
        assert name in text
    assert text.count('<article class="card ward-card">') == 6
    assert text.count('<svg class="spark"') == 6
    assert "Per km²" in text and "Demo data." in text


def test_evaluation_page(as_role):
    response = as_role("analyst").get("/evaluation/?periods=3")
    text = response.get_data(as_text=True)
    assert response.status_code == 200
    assert text.count('<svg class="chart"') == 3
    assert "Predictive accuracy index" in text and "Every period" in text
    bad = as_role("analyst").get("/evaluation/?periods=500")
    assert bad.status_code == 400 and "`periods`" in bad.get_data(as_text=True)


def test_empty_store_pages(empty_app):
    from tests.webapp.conftest import login

    c = empty_app.test_client()
    login(c, "admin", empty_app.passwords["admin"])
    text = c.get("/map").get_data(as_text=True)
    assert "The incident store is empty" in text
    assert "Demo data." not in text
    assert c.get("/data/").status_code == 200


def test_empty_store_never_breaks(empty_app):
    from tests.webapp.conftest import csrf_token, login

    c = empty_app.test_client()
    login(c, "admin", empty_app.passwords["admin"])
    # Pages open and say the store is empty; requests for data are a 400 saying the same.
    for path in ("/map", "/wards", "/evaluation/"):
        response = c.get(path)
        assert response.status_code == 200, (path, response.get_data(as_text=True)[:300])
        assert "The incident store is empty" in response.get_data(as_text=True), path
    for path in ("/plans/", "/patrol/", "/patrol/dosage"):
        assert c.get(path).status_code == 200, path
    for path in ("/map/frame", "/exports/hotspots.csv"):
        response = c.get(path)
        assert response.status_code == 400, path
        assert "The incident store is empty" in response.get_data(as_text=True), path
    for path in ("/api/v1/hotspots", "/api/v1/wards", "/api/v1/evaluation"):
        response = c.get(path)
        assert response.status_code == 400, path
        assert response.get_json()["error"]["message"].startswith("The incident store is empty"), path
    plan = c.post("/api/v1/plans", json={}, headers={"X-CSRFToken": csrf_token(c, "/account")})
    assert plan.status_code == 400
    assert plan.get_json()["error"]["message"].startswith("The incident store is empty")


def test_map_says_when_no_cell_is_significant(as_role):
    c = as_role("viewer")
    sparse = c.get("/map?period=2025-W30&category=asb&wards=E05011385").get_data(as_text=True)
    dense = c.get("/map?period=2025-07&category=serious_violence").get_data(as_text=True)
    found = re.search(r"(\d+) hotspot cells? in the chosen wards", sparse)
    assert found and found.group(1) == "0"
    assert "No cell passes the significance test" in sparse and "Try the month view" in sparse
    found = re.search(r"(\d+) hotspot cells? in the chosen wards", dense)
    assert found and int(found.group(1)) > 0
    assert "No cell passes the significance test" not in dense
