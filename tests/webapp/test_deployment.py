"""Plans use the register: the teams chosen from the teams table visit their designated hotspots
first (the CLI, the plan page and the API give the same plan), a designated hotspot no shift can
fit is reported everywhere, plans belong to a date and shift, teams keep to their home wards."""

from __future__ import annotations

import json
import shutil

import geopandas as gpd
import h3
import pytest
from click.testing import CliRunner

from tests.webapp.conftest import add_role_users, csrf_token, login, make_app, make_token

DATE = "2025-08-04"  # a Monday after the demo data ends
ARMLEY = "E05011385"


def _centre_cell(code: str) -> str:
    """The resolution-10 cell at the centre of a ward (where the ward's team is based)."""
    from hotspots.wards import load_wards

    wards = load_wards()
    centre = gpd.GeoSeries([wards.loc[wards["ward_code"] == code, "geometry"].iloc[0].centroid],
                           crs=wards.crs).to_crs("EPSG:4326").iloc[0]
    return h3.latlng_to_cell(centre.y, centre.x, 10)


#: A cell in Otley, 13 km north of Armley: no foot patrol from Armley reaches it in a shift.
OTLEY = h3.latlng_to_cell(53.9050, -1.6920, 10)


@pytest.fixture
def programme_home(home, demo_store):
    """An instance folder with the demo store and two active designated hotspots owned by the
    Armley team: one at the ward's centre (20 minutes a visit), one in Otley."""
    from webapp.register import create_hotspot

    shutil.copytree(demo_store, home / "store")
    application = make_app(home, SETTINGS={"web_plan_time_limit_s": 30})
    add_role_users(application)
    with application.app_context():
        for cells, name, minutes in (([_centre_cell(ARMLEY)], "Armley centre", 20),
                                     ([OTLEY], "Otley market", 15)):
            create_hotspot({"cells": cells, "name": name, "category": "asb", "status": "active",
                            "team": "Armley", "start_date": "2025-06-02",
                            "minutes_per_visit": minutes, "reason": "test"}, who="(test)")
    return home, application


def _designated(plan: dict) -> list[tuple]:
    return [(v["hotspot_id"], v["hotspot_name"], v["dwell_min"], v["start"])
            for r in plan["routes"] for v in r["visits"] if v.get("hotspot_id")]


def test_cli_web_and_api_plan_the_designated_stops_alike(programme_home):
    home, app = programme_home
    runner = CliRunner()
    args = ["--home", str(home), "plan", "--week", "2025-W30", "--category", "asb",
            "--team", "Armley", "--date", DATE, "--start", "16:00", "--shift", "180",
            "--mode", "walk", "--per-ward", "6", "--network", "none", "--time-limit", "30"]
    result = runner.invoke(cli_group(), [*args, "--json"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    from_cli = json.loads(result.output[result.output.index("{"):])
    text = runner.invoke(cli_group(), args, catch_exceptions=False)
    assert text.exit_code == 0, text.output

    form = {"period": "2025-W30", "category": "asb", "teams": ["Armley"], "date": DATE,
            "shift_start": "16:00", "shift_min": "180", "dwell_min": "15", "mode": "walk",
            "stops_per_ward": "6", "vary": "y", "seed": "0"}
    browser = app.test_client()
    login(browser, "guardian", app.passwords["guardian"])
    page = browser.post("/plans/", data={"csrf_token": csrf_token(browser, "/plans/"), **form})
    assert page.status_code == 302, page.get_data(as_text=True)[:800]
    plan_id = int(page.headers["Location"].rstrip("/").rsplit("/", 1)[1])
    api = app.test_client()
    headers = {"Authorization": f"Bearer {make_token(app, 'guardian')}"}
    saved = api.get(f"/api/v1/plans/{plan_id}", headers=headers).get_json()
    body = {**{k: v for k, v in form.items() if k != "vary"}, "shift_min": 180,
            "dwell_min": 15.0, "stops_per_ward": 6, "seed": 0, "vary": True}
    made = api.post("/api/v1/plans", json=body, headers=headers)
    assert made.status_code == 201, made.get_json()

    plans = {"cli": from_cli, "web": saved["plan"], "api": made.get_json()["plan"]}
    # The Armley team visits its designated hotspot at the ward's centre, for 20 minutes ...
    for name, plan in plans.items():
        [(hid, hname, dwell, _start)] = _designated(plan)
        assert (hname, dwell) == ("Armley centre", 20.0), name
        # ... and fills the shift with the top cells of its home ward (Armley).
        others = [v for v in plan["routes"][0]["visits"] if not v.get("hotspot_id")]
        assert others and {v["ward_code"] for v in others} == {ARMLEY}, name
        # The Otley hotspot cannot fit: reported with why.
        [missed] = plan["missed_must_visit"]
        assert missed["hotspot_name"] == "Otley market", name
        assert "Armley: going there and back takes" in missed["why"]
        assert plan["deployment"]["shift"]["label"] == "Mon 2025-08-04, 16:00-19:00"
    assert _designated(plans["web"]) == _designated(plans["cli"]) == _designated(plans["api"])
    visits = {n: [(v["stop_id"], v["arrival"]) for r in p["routes"] for v in r["visits"]]
              for n, p in plans.items()}
    assert visits["web"] == visits["cli"] == visits["api"]

    # Reported in the CLI's table, on the plan page, in the GeoJSON export and the sheet.
    assert "shift: Mon 2025-08-04, 16:00-19:00" in text.output
    assert f"designated: hotspot {hid} (Armley centre) by Armley" in text.output
    assert "cannot fit: designated hotspot 2 (Otley market)" in text.output
    shown = browser.get(f"/plans/{plan_id}").get_data(as_text=True)
    assert "Shift:</strong> Mon 2025-08-04, 16:00-19:00" in shown
    assert f'data-hotspot="{hid}">Designated: Armley centre' in shown
    assert "Must-visit stops no shift can fit" in shown and "Otley market" in shown
    doc = json.loads(browser.get(f"/exports/plans/{plan_id}.geojson").get_data(as_text=True))
    assert doc["shift"]["date"] == DATE
    kinds = {f["properties"]["kind"] for f in doc["features"]}
    assert "missed" in kinds
    missed_point = next(f for f in doc["features"] if f["properties"]["kind"] == "missed")
    assert missed_point["properties"]["hotspot_name"] == "Otley market"
    stop = next(f for f in doc["features"] if f["properties"].get("hotspot_id") == hid)
    assert stop["properties"]["arrival_at"].startswith(DATE)
    assert "Otley market" in browser.get(f"/plans/{plan_id}/sheet").get_data(as_text=True)
    # The plan belongs to its date and shift.
    assert saved["shift_date"] == DATE and saved["shift"] == "Mon 2025-08-04, 16:00-19:00"
    listing = browser.get("/plans/").get_data(as_text=True)
    assert "Mon 2025-08-04, 16:00-19:00" in listing


def cli_group():
    from webapp.cli import cli

    return cli


def test_plan_form_lists_the_teams_with_their_designated_hotspots(programme_home):
    _home, app = programme_home
    c = app.test_client()
    login(c, "guardian", app.passwords["guardian"])
    page = c.get("/plans/").get_data(as_text=True)
    assert 'name="teams" value="Armley"' in page
    assert "home wards Armley; 2 designated hotspots" in page
    assert 'name="any_ward"' in page and 'name="vary"' in page


def test_a_plan_keeps_teams_in_their_home_wards_unless_asked(programme_home):
    _home, app = programme_home
    c = app.test_client()
    headers = {"Authorization": f"Bearer {make_token(app, 'guardian')}"}
    body = {"period": "2025-W30", "category": "asb", "teams": ["Armley", "Gipton & Harehills"],
            "date": DATE, "shift_min": 120, "stops_per_ward": 5}
    home_only = c.post("/api/v1/plans", json=body, headers=headers).get_json()["plan"]
    for route in home_only["routes"]:
        wards = {v["ward_code"] for v in route["visits"] if not v.get("hotspot_id")}
        assert wards == set(route["team"]["home_wards"]), route["team"]["name"]
    # Two teams with home wards: the plan ranks just those two wards.
    assert home_only["deployment"]["wards"] == sorted([ARMLEY, "E05011394"])
    anywhere = c.post("/api/v1/plans", json={**body, "any_ward": True}, headers=headers)
    assert anywhere.get_json()["plan"]["deployment"]["any_ward"] is True
    assert anywhere.get_json()["plan"]["deployment"]["wards"] == sorted(
        app.extensions["hotspots_data"].settings.priority_wards)


@pytest.mark.parametrize(("body", "message"), [
    ({"teams": ["Nowhere"]}, "`teams`: team 'Nowhere' does not exist"),
    ({"teams": 9}, "`teams` is 9; there are 6 active teams"),
    ({"teams": [3]}, "`teams` must be team names"),
    ({"date": "04/08/2025"}, "`date` is '04/08/2025'; expected a date such as 2025-06-02"),
    ({"any_ward": "maybe"}, "`any_ward` is 'maybe'; expected true or false"),
])
def test_plan_request_errors(programme_home, body, message):
    _home, app = programme_home
    c = app.test_client()
    headers = {"Authorization": f"Bearer {make_token(app, 'guardian')}"}
    response = c.post("/api/v1/plans", json={"period": "2025-W30", **body}, headers=headers)
    assert response.status_code == 400
    assert message in response.get_json()["error"]["message"]


def test_consecutive_shifts_visit_the_designated_hotspots_in_another_order(programme_home):
    """Through the API: the Armley team's shifts on two consecutive days visit the same
    designated hotspots, each for the same minutes, in a different order."""
    from webapp.register import create_hotspot

    _home, app = programme_home
    ring = sorted(h3.grid_ring(_centre_cell(ARMLEY), 3))
    with app.app_context():
        for i, cell in enumerate(ring[:2]):
            create_hotspot({"cells": [cell], "name": f"Ring {i + 1}", "category": "asb",
                            "status": "active", "team": "Armley", "start_date": "2025-06-02",
                            "minutes_per_visit": 12 + i, "reason": "test"}, who="(test)")
    c = app.test_client()
    headers = {"Authorization": f"Bearer {make_token(app, 'guardian')}"}

    def designated(day: str) -> list[tuple]:
        body = {"period": "2025-W30", "category": "asb", "teams": ["Armley"], "date": day,
                "shift_min": 240, "stops_per_ward": 3}
        made = c.post("/api/v1/plans", json=body, headers=headers)
        assert made.status_code == 201, made.get_json()
        return [(v["hotspot_id"], v["dwell_min"]) for r in made.get_json()["plan"]["routes"]
                for v in r["visits"] if v.get("hotspot_id")]

    monday, tuesday = designated("2025-08-04"), designated("2025-08-05")
    assert len(monday) >= 3
    assert sorted(monday) == sorted(tuesday)  # the same hotspots, the same minutes
    assert monday != tuesday  # in another order
    assert designated("2025-08-04") == monday  # reproducible
