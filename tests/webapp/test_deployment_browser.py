"""In a real headless Chromium: designate cells from the map, plan the owner team's shift, and see
the designated stop on the plan page (the app served by waitress on loopback, no internet)."""

from __future__ import annotations

import pytest

from tests.webapp.test_browser import CHROMIUM, _local
from tests.webapp.test_programme_browser import _login, browser, live_app  # noqa: F401

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian chromium (/usr/bin/chromium) is not installed"),
]


def test_designate_from_the_map_then_plan_the_shift(live_app, browser, tmp_path):  # noqa: F811
    app, base = live_app
    requests: list[str] = []
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.on("request", lambda r: requests.append(r.url))
    page = context.new_page()
    _login(page, base, app, "analyst")

    # Designate the map's top cell for the Armley team.
    boxes = page.locator("table.ranked input[type=checkbox][form=designate-form]")
    cell = boxes.nth(0).get_attribute("value")
    boxes.nth(0).check()
    page.click("text=Designate the ticked cells as a hotspot")
    page.wait_for_url(f"{base}/register/new*")
    page.fill("#name", "Top of the map")
    page.select_option("#team", "Armley")
    page.fill("#minutes_per_visit", "20")
    page.fill("#start_date", "2025-06-02")
    page.fill("#reason", "browser test")
    page.click("form.card button.primary")
    page.wait_for_url(f"{base}/register/1")

    # Plan the Armley team's shift on a given day: the form shows the team's hotspot.
    page.goto(f"{base}/plans/")
    armley = page.locator("fieldset.teams-choice label", has_text="Armley")
    assert "1 designated hotspot" in armley.inner_text()
    armley.locator("input[type=checkbox]").check()
    page.fill("#date", "2025-08-05")
    page.fill("#shift_min", "180")
    page.click("button.primary:has-text('Plan the patrols')")
    page.wait_for_url(f"{base}/plans/*", timeout=120_000)
    page.screenshot(path=tmp_path / "plan.png", full_page=True)

    assert page.locator(".plan-shift").inner_text().startswith("Shift: Tue 2025-08-05, 16:00-19:00")
    routes = page.locator("section.team-route")
    assert routes.count() == 1 and "Armley" in routes.nth(0).locator("h2").inner_text()
    tag = routes.nth(0).locator("span.tag.designated")
    assert tag.count() == 1
    assert tag.inner_text() == "Designated: Top of the map"
    assert tag.get_attribute("data-hotspot") == "1"
    row = tag.locator("xpath=ancestor::tr")
    assert "20 min" in row.inner_text()  # the dosage target's minutes
    # The stop is the designated cell, so a visit logged there counts towards its dosage.
    with app.app_context():
        from webapp.db import SavedPlan, db_session

        plan = db_session().query(SavedPlan).order_by(SavedPlan.id.desc()).first()
        stops = [v for r in plan.plan["routes"] for v in r["visits"] if v.get("hotspot_id") == 1]
        assert [v["stop_id"] for v in stops] == [cell]
        assert plan.shift_date.isoformat() == "2025-08-05"
    assert all(_local(u) for u in requests), [u for u in requests if not _local(u)]
