"""The app in a real headless Chromium, served by waitress on a loopback port.

Logs in, opens the map and counts the hexagons drawn, makes a plan and downloads its GPX, saves
and assigns it, logs a visit on a phone-sized screen. Every request the browser makes is recorded;
any that leaves localhost fails the test. Screenshots go to the test's temporary folder.
"""

from __future__ import annotations

import shutil
import threading
from pathlib import Path
from urllib.parse import urlsplit

import gpxpy
import pytest

from tests.webapp.conftest import add_role_users, make_app

CHROMIUM = Path("/usr/bin/chromium")
pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian chromium (/usr/bin/chromium) is not installed"),
]
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--no-first-run", "--disable-sync"]


@pytest.fixture
def live_app(home, demo_store):
    from waitress.server import create_server

    shutil.copytree(demo_store, home / "store")
    application = make_app(home)
    add_role_users(application)
    server = create_server(application, host="127.0.0.1", port=0, threads=4)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    yield application, f"http://127.0.0.1:{server.effective_port}"
    server.close()


@pytest.fixture
def browser():
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        yield b
        b.close()


def _local(url: str) -> bool:
    if url.startswith(("data:", "about:", "blob:")):
        return True
    return urlsplit(url).hostname in ("127.0.0.1", "localhost")


def test_map_plan_gpx_and_visit_in_a_browser(live_app, browser, tmp_path):
    from playwright.sync_api import expect

    app, base = live_app
    context = browser.new_context(accept_downloads=True, viewport={"width": 1280, "height": 900})
    requests: list[str] = []
    problems: list[str] = []
    context.on("request", lambda r: requests.append(r.url))
    page = context.new_page()
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(str(e)))

    # Log in.
    page.goto(f"{base}/login")
    page.screenshot(path=tmp_path / "01-login.png")
    page.fill("#username", "guardian")
    page.fill("#password", app.passwords["guardian"])
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/patrol/shift")  # a guardian starts with their shift
    page.goto(f"{base}/map")

    # The map: hexagons drawn as SVG paths inside the Folium frame, one per cell the API lists.
    frame = page.frame_locator("iframe.map-frame")
    cells = frame.locator(".leaflet-overlay-pane path.leaflet-interactive")
    cells.first.wait_for(state="attached", timeout=20_000)
    api = page.request.get(f"{base}/api/v1/hotspots").json()
    assert cells.count() == len(api["features"]) > 10
    ward_lines = frame.locator(".leaflet-overlay-pane path:not(.leaflet-interactive)")
    assert ward_lines.count() == 6  # the six priority wards' outlines
    cells.first.hover(force=True)
    tooltip = frame.locator(".leaflet-tooltip")
    tooltip.wait_for(timeout=10_000)
    assert "incident" in tooltip.inner_text()
    assert page.locator("table.ranked tbody tr").count() == 20
    page.screenshot(path=tmp_path / "02-map.png", full_page=True)

    # A plan: the form, then the plan page with its map, then the GPX.
    page.goto(f"{base}/plans/")
    for team in ("Gipton & Harehills", "Burmantofts & Richmond Hill"):
        page.locator("fieldset.teams-choice label", has_text=team).locator("input").check()
    page.fill("#shift_min", "120")
    page.fill("#stops_per_ward", "3")
    page.click("form button.primary")
    page.wait_for_url(f"{base}/plans/*")
    expect(page.locator("body")).to_contain_text("Approximate routes.")
    stops = page.frame_locator("iframe.map-frame").locator(".stop-num")
    stops.first.wait_for(timeout=20_000)
    assert stops.count() >= 2
    page.screenshot(path=tmp_path / "03-plan.png", full_page=True)
    with page.expect_download() as info:
        page.click("text=GPX (all teams)")
    gpx_path = tmp_path / "plan.gpx"
    info.value.save_as(gpx_path)
    gpx = gpxpy.parse(gpx_path.read_text(encoding="utf-8"))
    assert len(gpx.routes) == 2 and len(gpx.waypoints) == stops.count()

    # Save and assign the first route to this guardian, then log a visit on a phone.
    page.select_option("#assign-0", "guardian")
    page.click("text=Save and assign >> nth=-1")
    # Assertions that wait: the form's page comes when the server has answered, not at once.
    expect(page.locator("body")).to_contain_text("Plan saved and assigned.")
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(f"{base}/patrol/")
    page.click(".stop-list a >> nth=0")
    page.click("text=Arrived at stop 1")
    expect(page.locator("body")).to_contain_text("still there")
    page.click("text=Left stop 1")
    page.click("text=Yes, I left stop 1")  # a visit under 2 minutes is asked about first
    expect(page.locator("body")).to_contain_text(", left ")
    page.screenshot(path=tmp_path / "04-patrol-log.png", full_page=True)
    page.goto(f"{base}/patrol/dosage")
    expect(page.locator("body")).to_contain_text("1 visit logged,")
    page.screenshot(path=tmp_path / "05-dosage.png", full_page=True)
    context.close()

    outside = [u for u in requests if not _local(u)]
    assert not outside, f"requests left localhost: {outside}"
    assert not [p for p in problems if "Content Security Policy" in p or "Refused" in p], problems
    assert any("/assets/leaflet/" in u for u in requests)
    for name in ("01-login", "02-map", "03-plan", "04-patrol-log", "05-dosage"):
        assert (tmp_path / f"{name}.png").stat().st_size > 5_000
