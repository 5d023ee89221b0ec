"""The hotspot programme in a real headless Chromium (the app served by waitress on loopback):
designate from the map, log visits on a phone-sized page and see the dosage update, print the
briefing and check the PDF's pages (rendered as images) hold the map and its legend."""

from __future__ import annotations

import shutil
import threading

import numpy as np
import pytest

from tests.webapp.conftest import add_role_users, make_app
from tests.webapp.test_browser import ARGS, CHROMIUM, _local

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian chromium (/usr/bin/chromium) is not installed"),
]


@pytest.fixture
def live_app(home, demo_store):
    from waitress.server import create_server

    shutil.copytree(demo_store, home / "store")
    application = make_app(home)
    add_role_users(application)
    server = create_server(application, host="127.0.0.1", port=0, threads=4)
    threading.Thread(target=server.run, daemon=True).start()
    yield application, f"http://127.0.0.1:{server.effective_port}"
    server.close()


@pytest.fixture
def browser():
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        yield b
        b.close()


def _login(page, base, app, role):
    page.goto(f"{base}/login")
    page.fill("#username", role)
    page.fill("#password", app.passwords[role])
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/patrol/shift" if role == "guardian" else f"{base}/map")


def test_designate_from_the_map_then_dosage_on_a_phone(live_app, browser, tmp_path):
    app, base = live_app
    requests: list[str] = []
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.on("request", lambda r: requests.append(r.url))
    page = context.new_page()
    _login(page, base, app, "analyst")

    # Tick the two top cells of the map's table and designate them.
    boxes = page.locator("table.ranked input[type=checkbox][form=designate-form]")
    assert boxes.count() == 20
    cells = [boxes.nth(i).get_attribute("value") for i in range(2)]
    boxes.nth(0).check()
    boxes.nth(1).check()
    page.click("text=Designate the ticked cells as a hotspot")
    page.wait_for_url(f"{base}/register/new*")
    assert sorted(page.input_value("#cells").split()) == sorted(cells)
    page.select_option("#team", "Armley")
    page.fill("#start_date", "2025-06-02")
    page.fill("#reason", "browser test")
    page.click("form.card button.primary")
    page.wait_for_url(f"{base}/register/1")
    assert "Designated hotspot 1" in page.content()
    assert "browser test" in page.content()
    page.screenshot(path=tmp_path / "01-designated.png", full_page=True)

    # A plan whose first stop becomes a designated hotspot too, assigned to the guardian.
    from tests.webapp.conftest import _plan_fields
    from webapp.db import SavedPlan, db_session
    from webapp.register import create_hotspot

    with app.app_context():
        record = SavedPlan(**_plan_fields(app))
        session = db_session()
        session.add(record)
        session.commit()
        stop = record.plan["routes"][0]["visits"][0]
        designated = create_hotspot({"cells": [str(stop["stop_id"])], "category": "asb",
                                     "status": "active", "team": "Armley",
                                     "start_date": "2025-01-06"}, who="(test)")
        plan_id = record.id

    # The guardian logs an arrival and a departure at that stop on a phone-sized screen.
    phone = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
    phone.on("request", lambda r: requests.append(r.url))
    p = phone.new_page()
    _login(p, base, app, "guardian")
    p.goto(f"{base}/dosage/")
    row = p.locator(f"#dose-{designated.id} td[data-visits]")
    assert row.get_attribute("data-visits") == "0"
    p.goto(f"{base}/patrol/{plan_id}/0")
    p.click(f"text=Arrived at stop {stop['seq']}")
    p.wait_for_load_state()
    p.click(f"text=Left stop {stop['seq']}")
    p.click(f"text=Yes, I left stop {stop['seq']}")  # a visit under 2 minutes is asked about
    p.wait_for_load_state()
    p.goto(f"{base}/dosage/")
    assert p.locator(f"#dose-{designated.id} td[data-visits]").get_attribute("data-visits") == "1"
    p.screenshot(path=tmp_path / "02-dosage-phone.png", full_page=True)
    assert all(_local(u) for u in requests), [u for u in requests if not _local(u)]


def test_print_the_briefing_with_map_and_legend(live_app, browser, tmp_path):
    pdfium = pytest.importorskip("pypdfium2")
    app, base = live_app
    context = browser.new_context(accept_downloads=True, viewport={"width": 1280, "height": 900})
    page = context.new_page()
    _login(page, base, app, "viewer")
    page.goto(f"{base}/brief/")
    assert page.locator("#print-brief").is_visible()
    assert page.locator("svg.brief-map").count() == 1
    assert "SYNTHETIC DEMO DATA" in page.content()
    # The boundaries' attribution once on screen (the page's footer), and on paper (the footer
    # is not printed, the briefing's own line is).
    credit = page.get_by_text("Ward boundaries: Office for National Statistics")
    assert sum(credit.nth(i).is_visible() for i in range(credit.count())) == 1
    printed = tmp_path / "printed.pdf"
    page.pdf(path=printed, format="A4")
    paper = pdfium.PdfDocument(str(printed))
    paper_text = "\n".join(paper[i].get_textpage().get_text_range() for i in range(len(paper)))
    assert paper_text.count("Ward boundaries: Office for National Statistics") == 1
    with page.expect_download(timeout=120_000) as info:
        page.click("text=Download PDF")
    path = tmp_path / "brief.pdf"
    info.value.save_as(path)

    pdf = pdfium.PdfDocument(str(path))
    text = "\n".join(pdf[i].get_textpage().get_text_range() for i in range(len(pdf)))
    for words in ("Hotspot briefing", "Headlines", "Legend", "Hotspot: new or intensifying",
                  "Ward boundary", "Designated hotspot", "Armley", "Data coverage",
                  "SYNTHETIC DEMO DATA", "Ward boundaries: Office for National Statistics"):
        assert words in text, words
    # Each page as an image: the page with the legend also holds the map, drawn (many
    # non-white pixels in several shades) and above the legend.
    found = False
    for i in range(len(pdf)):
        tp = pdf[i].get_textpage()
        if "Legend" not in tp.get_text_range():
            continue
        image = pdf[i].render(scale=1.5, grayscale=True).to_numpy()
        grey = image[..., 0] if image.ndim == 3 else image
        rows = np.flatnonzero((grey < 200).sum(axis=1) > 40)
        assert len(rows) > 200  # the map's drawing spans hundreds of pixel rows
        shades = np.unique(grey[grey < 250] // 32)
        assert len(shades) >= 4  # fills, patterns, lines and text in distinct greys
        found = True
    assert found
