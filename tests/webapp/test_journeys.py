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
