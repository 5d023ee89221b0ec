"""Each person's job end to end in a real headless Chromium, at the sizes they use: the guardian on
a phone (390x844), the policing lead and the analyst at a desk (1366x900). Every page visited is
checked with axe-core (no serious or critical violation) and, on the phone, for sideways scrolling.
"""

from __future__ import annotations

import re

import pytest

from tests.webapp.conftest import _plan_fields
from tests.webapp.test_browser import CHROMIUM, _local, browser, live_app  # noqa: F401 - fixtures

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian chromium (/usr/bin/chromium) is not installed"),
]
PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True}
DESK = {"viewport": {"width": 1366, "height": 900}}
STATS_WORDS = ("Gi*", "z-score", "harm", "prize", "significant")


def _axe():
    return pytest.importorskip("axe_playwright_python.sync_playwright").Axe()


def check_page(page, axe, *, width: int | None = None) -> None:
    """No serious or critical axe-core violation; no sideways scrolling at `width`."""
    found = axe.run(page, options={"resultTypes": ["violations"], "iframes": False}).response
    bad = [(v["id"], v["impact"], [n["target"] for n in v["nodes"][:3]])
           for v in found["violations"] if v["impact"] in ("serious", "critical")]
    assert not bad, f"{page.url}: {bad}"
    if width is not None:
        assert page.evaluate("document.documentElement.scrollWidth") <= width, page.url
    # Keyboard: every form can be sent with Enter or its button, and no control is kept out of
    # the tab order or made of a clickable element the keyboard cannot reach.
    problems = page.evaluate("""() => {
      const out = [];
      for (const form of document.querySelectorAll('form')) {
        const fields = form.querySelectorAll('input:not([type=hidden]), select, textarea, button');
        const sent = form.querySelector('button:not([type=button]):not([type=reset]), input[type=submit]')
          || (form.id && document.querySelector(`button[form="${form.id}"]`));
        if (fields.length && !sent) out.push('form without a submit button: ' + (form.action || form.id));
      }
      for (const el of document.querySelectorAll('a[href], button, input, select, textarea, summary')) {
        if (el.getAttribute('tabindex') && Number(el.getAttribute('tabindex')) < 0) out.push('out of tab order: ' + el.outerHTML.slice(0, 80));
      }
      for (const el of document.querySelectorAll('[onclick], div[role=button], span[role=button]')) {
        out.push('not a native control: ' + el.outerHTML.slice(0, 80));
      }
      return out;
    }""")
    assert not problems, f"{page.url}: {problems}"


def login(page, base, app, role):
    page.goto(f"{base}/login")
    page.fill("#username", role)
    page.fill("#password", app.passwords[role])
    with page.expect_navigation():
        page.keyboard.press("Enter")  # the form works from the keyboard


def _saved_plan(app) -> int:
    from webapp.db import SavedPlan, db_session

    with app.app_context():
        record = SavedPlan(**_plan_fields(app))
        session = db_session()
        session.add(record)
        session.commit()
        return record.id


def test_guardian_shift_on_a_phone(live_app, browser, tmp_path):  # noqa: F811
    app, base = live_app
    plan_id = _saved_plan(app)
    axe = _axe()
    context = browser.new_context(**PHONE)
    requests: list[str] = []
    context.on("request", lambda r: requests.append(r.url))
    page = context.new_page()
    login(page, base, app, "guardian")
    assert page.url == f"{base}/patrol/shift"

    # My shift: the route of the guardian's team, the next stop first, named by street.
    stops = page.locator("ol.stop-list > li")
    total = stops.count()
    assert total >= 2
    assert page.locator(".progress-line").inner_text().startswith(f"0 of {total} done")
    first = stops.nth(0)
    assert first.locator(".kicker").inner_text().lower() == "next stop"
    street = first.locator("h2.street").inner_text()
    assert street and not re.search(r"\b8[0-9a-f]{14}\b", street)
    assert first.locator("a.maps-link").get_attribute("href").startswith("geo:53.")
    reasons = page.locator("ol.stop-list .reason").all_inner_texts()
    assert len(reasons) == total and not [r for r in reasons if any(w in r for w in STATS_WORDS)]
    frame = page.frame_locator("iframe.route-map")
    frame.locator(".stop-num").first.wait_for(timeout=20_000)
    assert frame.locator(".stop-num").count() == total
    check_page(page, axe, width=390)
    page.screenshot(path=tmp_path / "01-shift.png", full_page=True)

    # Arrive, then leave at once: asked first; yes stores it; the next stop moves up.
    page.click("text=Arrived at stop 1")
    assert stops.nth(0).locator(".kicker").inner_text().lower() == "you are here"
    page.click("text=Left stop 1")
    assert page.locator("#confirm-title").inner_text() == "Leave stop 1 already?"
    check_page(page, axe, width=390)
    page.click("text=Yes, I left stop 1")
    assert page.locator(".progress-line").inner_text().startswith(f"1 of {total} done")
    assert stops.nth(0).get_attribute("id") == "stop-2"
    assert stops.nth(total - 1).get_attribute("id") == "stop-1"  # done stops go last

    # Undo the last tap from the keyboard: stop 1 is open again.
    page.focus(".undo-bar button")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert page.locator(".progress-line").inner_text().startswith(f"0 of {total} done")
    assert stops.nth(0).locator(".kicker").inner_text().lower() == "you are here"
    page.screenshot(path=tmp_path / "02-undone.png", full_page=True)

    # The other guardian pages fit the phone too, tables as cards.
    for path in ("/patrol/", "/patrol/dosage", f"/plans/{plan_id}", "/plans/", "/dosage/",
                 "/register/", "/brief/"):
        page.goto(f"{base}{path}")
        check_page(page, axe, width=390)
    cards = page.locator("table.cards")
    page.goto(f"{base}/plans/{plan_id}")
    assert cards.first.locator("thead").bounding_box()["height"] <= 1  # headers hidden: cards
    context.close()
    assert all(_local(u) for u in requests), [u for u in requests if not _local(u)]


def _boxes_overlap(boxes: list[dict]) -> list[tuple[int, int]]:
    out = []
    for i, a in enumerate(boxes):
        for j, b in enumerate(boxes[:i]):
            dx = min(a["x"] + a["width"], b["x"] + b["width"]) - max(a["x"], b["x"])
            dy = min(a["y"] + a["height"], b["y"] + b["height"]) - max(a["y"], b["y"])
            if dx > 2 and dy > 2:
                out.append((j, i))
    return out


def test_lead_week_at_a_glance_compare_and_print(live_app, browser, tmp_path):  # noqa: F811
    import pypdfium2 as pdfium

    app, base = live_app
    axe = _axe()
    context = browser.new_context(**DESK)
    requests: list[str] = []
    context.on("request", lambda r: requests.append(r.url))
    page = context.new_page()
    login(page, base, app, "viewer")
    assert page.url == f"{base}/map"

    # Headline sentences first; ward names on the map; the legend beside it.
    lines = page.locator(".headlines-box p").all_inner_texts()
    assert 2 <= len(lines) <= 3 and re.match(r"(\d+|No) ASB hotspots?", lines[0])
    frame = page.frame_locator("iframe.map-frame")
    frame.locator(".ward-label").first.wait_for(timeout=20_000)
    assert sorted(frame.locator(".ward-label").all_inner_texts()) == sorted(
        n for _c, n, p in app.extensions["hotspots_data"].ward_choices() if p)
    options = page.locator("#period option").all_inner_texts()
    assert options[0].startswith("2025-W30") and not page.locator("input[name=period]").count()
    check_page(page, axe)

    # The periods from the picker, chosen with the keyboard: the map of the month.
    page.select_option("#period", "2025-06")
    page.focus(".picker button[type=submit]")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert "period=2025-06" in page.url and "2025-06" in page.locator("h1").inner_text()
    page.screenshot(path=tmp_path / "01-map.png")

    # Print on A4: the headlines, the legend and the map on the first page.
    pdf = tmp_path / "map.pdf"
    page.pdf(path=pdf, format="A4", print_background=True)
    doc = pdfium.PdfDocument(pdf)
    width, height = doc[0].get_size()
    assert abs(width - 595) < 2 and abs(height - 842) < 2 and len(doc) <= 4
    first = doc[0].get_textpage().get_text_range()
    assert "Legend" in first and "Hotspot: new or intensifying" in first and "ASB hotspot" in first
    assert "Show" not in first.split()  # the picker's button is not printed
    assert "Gipton" in first  # ward names on the printed map

    # Ward cards: hotspots per ward, each linking to its ward's map; the page prints too.
    page.goto(f"{base}/wards?period=2025-06&category=asb")
    counts = page.locator(".hot-count strong").all_inner_texts()
    assert len(counts) == 6 and all(re.fullmatch(r"\d+ hotspots?", c) for c in counts)
    check_page(page, axe)
    page.pdf(path=tmp_path / "wards.pdf", format="A4")
    assert len(pdfium.PdfDocument(tmp_path / "wards.pdf")) <= 2
    page.click(".ward-card h2 a >> nth=0")
    assert "wards=E05" in page.url and page.locator(".headlines-box").count() == 1

    # Compare the last two weeks as a change map, then side by side.
    page.goto(f"{base}/compare?period=2025-W30&view=change")
    assert re.match(r"\d+ incidents in 2025-W30 against \d+ in 2025-W29",
                    page.locator(".headlines-box p").first.inner_text())
    page.frame_locator("iframe.map-frame").locator(".leaflet-overlay-pane path.leaflet-interactive").first.wait_for(timeout=20_000)
    check_page(page, axe)
    page.check("input[name=view][value=side]")
    page.click("form.picker-row button.primary")
    page.wait_for_load_state()
    assert page.locator("iframe.map-frame").count() == 2
    check_page(page, axe)
    page.screenshot(path=tmp_path / "02-compare.png")
    context.close()
    assert all(_local(u) for u in requests), [u for u in requests if not _local(u)]


def test_analyst_downloads_keep_their_context(live_app, browser, tmp_path):  # noqa: F811
    """The analyst at a desk: the map's GeoJSON and CSV, the context sidecar and the evaluation
    table, downloaded by clicking, each say what they are of and that the data is demo."""
    import csv
    import io
    import json

    app, base = live_app
    axe = _axe()
    context = browser.new_context(accept_downloads=True, **DESK)
    page = context.new_page()
    login(page, base, app, "analyst")
    page.goto(f"{base}/map?period=2025-06&category=asb")
    check_page(page, axe)

    def download(link_text: str):
        with page.expect_download() as info:
            page.get_by_role("link", name=link_text).click()
        item = info.value
        target = tmp_path / item.suggested_filename
        item.save_as(target)
        return item.suggested_filename, target.read_text(encoding="utf-8")

    name, text = download("Download GeoJSON")
    assert "demo" in name and name.endswith(".geojson")
    doc = json.loads(text)
    ctx = doc["context"]
    assert ctx["period"] == "2025-06" and ctx["category"] == "asb" and ctx["synthetic"] is True
    assert ctx["kind"] == "hotspots" and ctx["generated_at"].endswith("Z")
    assert ctx["sources"] and ctx["sources"][0]["months"] and "h3_resolution" in ctx["settings"]
    assert doc["features"] and all(f["properties"]["period"] == "2025-06" for f in doc["features"])

    name, text = download("Download CSV")
    assert "demo" in name and name.endswith(".csv")
    rows = list(csv.DictReader(io.StringIO(text)))
    assert rows and {r["period"] for r in rows} == {"2025-06"} and {r["synthetic"] for r in rows} == {"True"}

    name, text = download("About the data (JSON)")
    about = json.loads(text)
    assert about["period"] == "2025-06" and about["synthetic"] is True and about["wards"]

    page.goto(f"{base}/evaluation/?periods=2")
    check_page(page, axe)
    name, text = download("Download the table (CSV)")
    assert "demo" in name
    rows = list(csv.DictReader(io.StringIO(text)))
    assert rows and {r["synthetic"] for r in rows} == {"True"} and all(r["category"] for r in rows)
    context.close()


@pytest.fixture
def slow_planner_app(home, demo_store):
    """The live app with a planner that takes its time (2 s more a plan), as on a busy server."""
    import shutil
    import threading
    import time

    from waitress.server import create_server

    from tests.webapp.conftest import add_role_users, make_app

    shutil.copytree(demo_store, home / "store")
    application = make_app(home)
    add_role_users(application)
    planner = application.extensions["hotspots_planner"]
    solve = planner.solve

    def slow_solve(*args, **kwargs):
        time.sleep(2.0)  # a busy server: the real solver, started late
        return solve(*args, **kwargs)

    planner.solve = slow_solve
    server = create_server(application, host="127.0.0.1", port=0, threads=4)
    threading.Thread(target=server.run, daemon=True).start()
    yield application, f"http://127.0.0.1:{server.effective_port}"
    server.close()


def test_planner_makes_one_plan_from_a_double_click(slow_planner_app, browser, tmp_path):  # noqa: F811
    from webapp.db import SavedPlan, db_session

    app, base = slow_planner_app
    axe = _axe()
    context = browser.new_context(**DESK)
    page = context.new_page()
    login(page, base, app, "analyst")
    page.goto(f"{base}/plans/")
    check_page(page, axe)
    for name, value in (("teams", "2"), ("shift_min", "120"), ("stops_per_ward", "3")):
        if page.locator(f"input#{name}").count():
            page.fill(f"#{name}", value)
    boxes = page.locator("input[type=checkbox][name=teams]")
    for i in range(min(2, boxes.count())):
        boxes.nth(i).check()
    # Two clicks, the second while the first is being planned (the request already sent).
    page.click("form[method=post] button.primary", no_wait_after=True)
    page.wait_for_timeout(500)
    page.click("form[method=post] button.primary", force=True, no_wait_after=True)
    page.wait_for_url(re.compile(r".*/plans/\d+$"), timeout=60_000)
    page.wait_for_timeout(2500)  # time for a second plan to be stored, were one asked for
    with app.app_context():
        assert db_session().query(SavedPlan).count() == 1  # two clicks, one plan

    # The plan map: a legend per team; numbered stops never pile up at any zoom.
    frame = page.frame_locator("iframe.map-frame")
    frame.locator(".leaflet-marker-icon .stop-num").first.wait_for(timeout=20_000)
    teams = page.locator("section.team-route h2").count()
    assert frame.locator(".map-legend li").count() == teams >= 1
    numbers = frame.locator(".leaflet-marker-icon .stop-num")
    for zoom_out in range(3):
        page.wait_for_timeout(400)
        boxes = [numbers.nth(i).bounding_box() for i in range(numbers.count())]
        assert not _boxes_overlap(boxes), f"stop numbers overlap after {zoom_out} zoom-outs"
        frame.locator(".leaflet-control-zoom-out").click()
    check_page(page, axe)

    # On a phone the plan's tables are cards and nothing scrolls sideways.
    page.set_viewport_size({"width": 390, "height": 844})
    page.reload()
    check_page(page, axe, width=390)
    page.screenshot(path=tmp_path / "plan-phone.png", full_page=True)
    context.close()


#: Every page of the app, the least role that sees it.
PAGES = {
    "viewer": ["/map", "/wards", "/compare?view=change", "/register/", "/teams/", "/dosage/",
               "/brief/", "/account"],
    "guardian": ["/patrol/shift", "/patrol/", "/patrol/dosage", "/plans/", "/plans/{plan}",
                 "/patrol/{plan}/0"],
    "analyst": ["/evaluation/?periods=2", "/data/", "/register/new?cells={cell}",
                "/register/{hotspot}"],
    "admin": ["/admin/users", "/admin/audit"],
}


def test_every_page_passes_axe_for_every_role(live_app, browser):  # noqa: F811
    from tests.webapp.conftest import busiest_cells
    from webapp.register import create_hotspot

    app, base = live_app
    plan = _saved_plan(app)
    cell = busiest_cells(app)[0]
    with app.app_context():
        hotspot = create_hotspot({"cells": [cell], "category": "asb", "status": "active",
                                  "team": "Armley", "start_date": "2025-06-02"}, who="(test)").id
    axe = _axe()
    anonymous = browser.new_context(**DESK).new_page()
    anonymous.goto(f"{base}/login")
    check_page(anonymous, axe)
    roles = list(PAGES)
    for k, role in enumerate(roles):
        page = browser.new_context(**(PHONE if role == "guardian" else DESK)).new_page()
        login(page, base, app, role)
        for least in roles[:k + 1]:
            for path in PAGES[least]:
                page.goto(base + path.format(plan=plan, cell=cell, hotspot=hotspot))
                assert page.url.startswith(base) and "/login" not in page.url
                check_page(page, axe, width=390 if role == "guardian" else None)
        page.context.close()
