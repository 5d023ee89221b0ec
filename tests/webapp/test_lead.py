"""The policing lead's pages: headline sentences, a period picker from what the store covers, ward
cards with their hotspots, two periods compared (side by side or as a change map)."""

from __future__ import annotations

import html
import re

import pytest

from tests.webapp.conftest import add_role_users, login, make_app

GAP = ["2024-11", "2024-12", "2025-02"]


@pytest.fixture
def gap_viewer(policeuk_home):
    application = make_app(policeuk_home(GAP))
    add_role_users(application)
    c = application.test_client()
    assert login(c, "viewer", application.passwords["viewer"]).status_code == 302
    return c


def _options(page: str, select_id: str) -> dict[str, tuple[str, bool]]:
    block = re.search(rf'<select id="{select_id}".*?</select>', page, flags=re.S).group(0)
    return {m.group(1): (html.unescape(m.group(3)).strip(), bool(m.group(2)))
            for m in re.finditer(r'<option value="([^"]+)"(?: selected)?( disabled)?>([^<]+)</option>', block)}


def test_periods_are_picked_from_what_the_store_covers(gap_viewer):
    page = gap_viewer.get("/map?period=2025-02&category=asb").get_data(as_text=True)
    options = _options(page, "period")
    assert options["2025-01"] == ("2025-01 (no data)", True)  # marked, and cannot be chosen
    assert options["2025-02"][1] is False and options["2024-12"][1] is False
    assert "2024-10" not in options  # nothing before the first month held
    assert not [k for k in options if "W" in k]  # police.uk months: no weeks offered
    assert 'name="period" type="text"' not in page


def test_the_data_page_names_the_missing_month(policeuk_home):
    application = make_app(policeuk_home(GAP))
    add_role_users(application)
    c = application.test_client()
    assert login(c, "analyst", application.passwords["analyst"]).status_code == 302
    page = html.unescape(c.get("/data/").get_data(as_text=True))
    assert "2024-11 to 2025-02 (3 with data)" in page
    assert "police.uk 2024-11..2024-12, 2025-02 (2025-01 missing)" in page


def test_headlines_claim_no_change_without_a_baseline(gap_viewer):
    page = gap_viewer.get("/map?period=2025-02&category=serious_violence").get_data(as_text=True)
    box = re.search(r'<section class="headlines-box".*?</section>', page, flags=re.S).group(0)
    lines = [html.unescape(t).strip() for t in re.findall(r"<p>(.*?)</p>", box, flags=re.S)]
    assert 2 <= len(lines) <= 3
    assert re.match(r"(\d+|No) serious violence hotspots?", lines[0])
    assert lines[-1] == "No baseline: the store holds no data for 2025-01, so no change is shown."
    assert not any(re.search(r"\b(up|down) \d+%", line) for line in lines)
    page = gap_viewer.get("/map?period=2024-12&category=serious_violence").get_data(as_text=True)
    box = re.search(r'<section class="headlines-box".*?</section>', page, flags=re.S).group(0)
    said = re.search(r"(Biggest move: )?([A-Z][\w &]+) (up|down) \d+% on last month \((\d+) to (\d+) "
                     r"incidents\), (not significant|a significant change)\.", html.unescape(box))
    assert said and (said.group(1) is None) == (said.group(6) == "a significant change")
    table = gap_viewer.get("/api/v1/wards?period=2024-12&category=serious_violence&wards=priority")
    row = {r["ward_name"]: r for r in table.get_json()["wards"]}[said.group(2)]
    assert (row["previous_count"], row["count"]) == (int(said.group(4)), int(said.group(5)))


def test_map_page_headlines_and_ward_cards(app, as_role):
    c = as_role("viewer")
    page = c.get("/map?period=2025-W30&category=serious_violence").get_data(as_text=True)
    box = html.unescape(re.search(r'<section class="headlines-box".*?</section>', page, flags=re.S).group(0))
    first = re.search(r"<p>(.*?)</p>", box).group(1)
    total = int(re.match(r"(\d+) serious violence hotspots?", first).group(1))
    named = sum(int(n) for n in re.findall(r"(\d+) in [A-Z]", first)) or total
    assert named <= total and ("all in" in first or ":" in first or total == 1)
    assert re.search(r"(None new|\d+ new) this week", box)
    # The ward cards: each says how many hotspots it holds, and they add up to the map's total.
    wards = c.get("/wards?period=2025-W30&category=serious_violence").get_data(as_text=True)
    counts = [int(n) for n in re.findall(r'<p class="hot-count"><strong>(\d+) hotspots?</strong>', wards)]
    assert len(counts) == 6 and sum(counts) == total
    links = re.findall(r'<h2><a href="([^"]+)">', wards)
    assert len(links) == 6 and all("wards=E05" in link and "period=2025-W30" in link for link in links)
    one = c.get(html.unescape(links[0]))
    assert one.status_code == 200 and html.unescape(links[0]).split("wards=")[1][:9] in one.get_data(as_text=True)


def test_compare_two_periods(app, as_role):
    c = as_role("viewer")
    page = c.get("/compare?period=2025-W30&view=change&category=asb").get_data(as_text=True)
    assert "2025-W30 against 2025-W29" in page and "/compare/frame?" in page
    assert re.search(r"\d+ incidents in 2025-W30 against \d+ in 2025-W29 \((up|down) \d+, "
                     r"(not significant|larger than chance)\)|no change\)", page)
    frame = c.get(re.search(r'src="(/compare/frame[^"]+)"', page).group(1).replace("&amp;", "&"))
    assert frame.status_code == 200 and "Change from 2025-W29 to 2025-W30" in frame.get_data(as_text=True)
    side = c.get("/compare?period=2025-W30&versus=2025-W27").get_data(as_text=True)
    assert side.count('class="map-frame"') == 2 and "period=2025-W27" in side
    assert c.get("/compare?period=2025-W30&versus=2025-W19").status_code == 400  # no data
    assert c.get("/compare?period=2025-W30&versus=2025-07").status_code == 400
    assert c.get("/compare?period=2025-W30&versus=2025-W30").status_code == 400


def test_compare_steps_over_a_month_with_no_data(gap_viewer):
    # GAP holds 2024-11, 2024-12 and 2025-02: the map of 2025-02 offers to compare with 2024-12,
    # and that comparison says why it is not with 2025-01.
    page = gap_viewer.get("/map?period=2025-02&category=asb").get_data(as_text=True)
    link = html.unescape(re.search(r'<a class="button secondary" href="([^"]+)">Compare with 2024-12</a>',
                                   page).group(1))
    assert "versus=2024-12" in link
    compared = gap_viewer.get(link)
    text = html.unescape(compared.get_data(as_text=True))
    assert compared.status_code == 200
    assert ("The store holds no data for 2025-01, so 2025-02 is compared with 2024-12, the latest "
            "period before it with data.") in text
    assert re.search(r"\d+ incidents in 2025-02 against \d+ in 2024-12", text)
    # Without `versus` the same: the latest month with data, not a 400 for the missing one.
    assert "compared with 2024-12" in html.unescape(
        gap_viewer.get("/compare?period=2025-02&category=asb").get_data(as_text=True))
    # The first month held has nothing before it: no button, and the page says so.
    first = gap_viewer.get("/map?period=2024-11&category=asb").get_data(as_text=True)
    assert "Compare with" not in first
    alone = gap_viewer.get("/compare?period=2024-11&category=asb")
    assert alone.status_code == 400
    assert "the store holds no period before 2024-11 to compare it with" in alone.get_data(as_text=True)


def test_compare_says_when_a_period_may_be_partial(policeuk_home):
    application = make_app(policeuk_home(["2025-01", "2025-02", "2025-03"], partial={"2025-02": 0.3}))
    add_role_users(application)
    c = application.test_client()
    login(c, "viewer", application.passwords["viewer"])
    page = c.get("/compare?period=2025-02&view=change").get_data(as_text=True)
    assert "2025-02 may be partial" in page and "/compare/frame?" in page
    picker = _options(page, "period")
    assert picker["2025-02"][0] == "2025-02 (possibly partial)"



def test_streets_of_a_loaded_network_are_drawn_under_the_cells(app, as_role):
    from routing.network import import_network
    from tests.routing.conftest import GRID_LAT0, GRID_LON0, GRID_XML

    c = as_role("viewer")
    frame = c.get("/map/frame?period=2025-W30").get_data(as_text=True)
    assert "hsStreets(" not in frame and c.get("/map/streets.geojson").status_code == 404
    import_network(GRID_XML, mode="walk", area="priority", settings=app.config["HOTSPOTS_SETTINGS"])
    frame = c.get("/map/frame?period=2025-W30").get_data(as_text=True)
    url = re.search(r'hsStreets\([^,]+, "([^"]+)"\)', frame).group(1)
    response = c.get(url)
    assert response.status_code == 200 and "max-age" in response.headers["Cache-Control"]
    [feature] = response.get_json()["features"]
    lines = feature["geometry"]["coordinates"]
    assert feature["geometry"]["type"] == "MultiLineString" and len(lines) >= 20
    lons = [lon for line in lines for lon, _lat in line]
    lats = [lat for line in lines for _lon, lat in line]
    assert GRID_LON0 - 0.003 < min(lons) and max(lons) < GRID_LON0 + 0.01
    assert GRID_LAT0 - 0.003 < min(lats) and max(lats) < GRID_LAT0 + 0.01
    page = c.get("/map?period=2025-W30").get_data(as_text=True)
    assert "Streets (the loaded street network)" in page


def _ward_rows(rows):
    import pandas as pd

    table = pd.DataFrame(rows, columns=["ward_name", "previous_count", "count", "change_significant"])
    table["change_pct"] = (table["count"] - table["previous_count"]) / table["previous_count"] * 100
    table.attrs["baseline"] = True
    return table


def _quiet_ranking():
    import pandas as pd

    ranking = pd.DataFrame({"h3_cell": ["8a1942c4a22ffff"], "hot": [False], "ward_name": ["Armley"],
                            "trend": ["none"]})
    ranking.attrs.update(period="2025-02", trend_used=0)
    return ranking


def test_the_ward_change_headline_prefers_what_chance_does_not_explain():
    from webapp._headlines import period_headlines

    # A large percentage of a small count, within chance, against a smaller, significant move.
    wards = _ward_rows([("Armley", 10, 4, False), ("Beeston & Holbeck", 200, 260, True),
                        ("Gipton & Harehills", 100, 130, True)])
    said = period_headlines(_quiet_ranking(), wards)[-1]
    assert said == ("Beeston & Holbeck up 30% on last month (200 to 260 incidents), a significant "
                    "change. 1 other ward also changed more than chance explains.")
    wards = _ward_rows([("Armley", 10, 4, False), ("Beeston & Holbeck", 200, 230, False)])
    said = period_headlines(_quiet_ranking(), wards)[-1]
    assert said == "Biggest move: Armley down 60% on last month (10 to 4 incidents), not significant."
    said = period_headlines(_quiet_ranking(), _ward_rows([("Armley", 10, 4, False)]))[-1]
    assert said == "Armley down 60% on last month (10 to 4 incidents), not significant."


def test_a_fading_cell_is_named_by_its_street_from_other_periods(policeuk_home):
    import pandas as pd

    from hotspots import cells as h3cells
    from hotspots.areas import cell_labels
    from hotspots.crs import BNG
    from hotspots.settings import get_settings
    from hotspots.store import IncidentStore
    from webapp._headlines import FADING, trend_headline, unnamed_cells
    from webapp.presentation import cell_hex

    home = policeuk_home(GAP)
    incidents = IncidentStore(home, settings=get_settings(home)).load()
    # Two cells the store has incidents in: one hot with its own place this period, one fading
    # with no incident now (so no place of its own).
    of = h3cells.xy_to_cells(incidents["x"].to_numpy(), incidents["y"].to_numpy(), crs=BNG,
                             resolution=10)
    first, second = pd.unique(of)[:2]
    ranking = pd.DataFrame({"h3_cell": [cell_hex(first), cell_hex(second)], "hot": [True, False],
                            "trend": ["new", "historical"], "place": ["Roundhay Road", None],
                            "ward_name": ["Armley", "Armley"]})
    assert unnamed_cells(ranking) == [cell_hex(second)]
    labels = cell_labels(incidents, unnamed_cells(ranking))
    line = trend_headline(ranking, labels, FADING, "fading", "ASB")
    assert line == f"Fading: 1 ASB hotspot cell, {labels[cell_hex(second)]} (Armley)."
    assert trend_headline(ranking, {}, FADING, "fading", "ASB") == \
        "Fading: 1 ASB hotspot cell, a cell in Armley."
