"""Patrol plans from the form, save and assign, downloads (audited), the patrol log and dosage."""

from __future__ import annotations

import json
import re

import gpxpy
import pytest

from tests.webapp.conftest import csrf_token


def _audit(app, action: str | None = None) -> list:
    from webapp.db import AuditEntry, db_session

    with app.app_context():
        q = db_session().query(AuditEntry)
        if action:
            q = q.filter_by(action=action)
        return [(e.username, e.action, e.target, e.detail) for e in q.order_by(AuditEntry.id)]


#: Two of the teams seeded from the default `patrol_teams` setting (one per priority ward).
TWO_TEAMS = ["Gipton & Harehills", "Burmantofts & Richmond Hill"]


def test_plan_form_makes_a_plan(app, as_role):
    c = as_role("guardian")
    token = csrf_token(c, "/plans/")
    response = c.post("/plans/", data={"csrf_token": token, "period": "2025-W30", "category": "both",
                                       "teams": TWO_TEAMS, "date": "2025-08-04",
                                       "shift_start": "17:30", "shift_min": "120",
                                       "dwell_min": "12", "mode": "walk", "stops_per_ward": "3"})
    assert response.status_code == 302, response.get_data(as_text=True)[:800]
    page = c.get(response.headers["Location"]).get_data(as_text=True)
    assert "Approximate routes." in page  # no street network in tests
    assert "Demo data." in page
    assert "ASB and serious violence 2025-W30" in page
    assert "on foot" in page and "17:30" in page
    assert page.count('class="card team-route"') == 2
    assert "Shift:</strong> Mon 2025-08-04, 17:30-19:30" in page
    # How the plan was made: both rankings, and the empty cells the stop rules left out.
    assert "candidate stops from the asb ranking of 2025-W30" in page
    assert "candidate stops from the serious_violence ranking of 2025-W30" in page
    assert "cells with no incident in the period are not stops" in page


def test_plan_form_errors(as_role):
    c = as_role("guardian")
    token = csrf_token(c, "/plans/")
    base = {"csrf_token": token, "period": "2025-W30", "category": "asb", "teams": TWO_TEAMS,
            "shift_start": "16:00", "shift_min": "120", "dwell_min": "15", "mode": "drive",
            "stops_per_ward": "3"}
    response = c.post("/plans/", data={**base, "dwell_min": "25"})
    assert response.status_code == 400
    assert "Number must be between 10 and 16" in response.get_data(as_text=True)
    response = c.post("/plans/", data={**base, "period": "2031-W02"})
    assert response.status_code == 400
    assert "no data for 2031-W02: the store holds 2025-05..2025-07" in response.get_data(as_text=True)
    response = c.post("/plans/", data={**base, "teams": ["Nowhere"]})
    assert response.status_code == 400
    assert "team &#39;Nowhere&#39; does not exist; the active teams are" in response.get_data(as_text=True)


def test_save_and_assign_is_audited(app, as_role, saved_plan):
    c = as_role("guardian")
    page = c.get(f"/plans/{saved_plan}").get_data(as_text=True)
    assert '<option value="guardian"' in page
    token = csrf_token(c, f"/plans/{saved_plan}")
    response = c.post(f"/plans/{saved_plan}/save",
                      data={"csrf_token": token, "name": "Friday evening", "assign-0": "guardian",
                            "assign-1": ""})
    assert response.status_code == 302
    text = c.get(f"/plans/{saved_plan}").get_data(as_text=True)
    assert "Friday evening" in text and "Assigned to <strong>guardian</strong>" in text
    entries = _audit(app, "plan_saved")
    assert entries and entries[-1][0] == "guardian" and entries[-1][2] == f"plan {saved_plan}"
    assert entries[-1][3]["name"] == "Friday evening"
    bad = c.post(f"/plans/{saved_plan}/save", data={"csrf_token": token, "assign-0": "viewer"})
    assert bad.status_code == 400  # a viewer cannot be given a route


def test_downloads_are_audited(app, as_role, saved_plan):
    c = as_role("guardian")
    gpx = c.get(f"/exports/plans/{saved_plan}.gpx")
    assert gpx.status_code == 200 and gpx.mimetype == "application/gpx+xml"
    assert "attachment" in gpx.headers["Content-Disposition"]
    parsed = gpxpy.parse(gpx.get_data(as_text=True))
    assert len(parsed.routes) == 2 and parsed.waypoints
    team = json.loads(c.get(f"/api/v1/plans/{saved_plan}").get_data(as_text=True))["plan"]["routes"][0]["team"]["name"]
    one = gpxpy.parse(c.get(f"/exports/plans/{saved_plan}.gpx", query_string={"team": team}).get_data(as_text=True))
    assert len(one.routes) == 1 and one.routes[0].name == team
    assert c.get(f"/exports/plans/{saved_plan}.gpx?team=Nobody").status_code == 404
    geo = c.get(f"/exports/plans/{saved_plan}.geojson").get_json()
    assert geo["type"] == "FeatureCollection" and geo["approximate"] is True
    analyst = as_role("analyst")
    csv = analyst.get("/exports/hotspots.csv?period=2025-W30&category=asb&top=5")
    lines = csv.get_data(as_text=True).strip().splitlines()
    assert lines[0].startswith("h3_cell,rank") and len(lines) == 6
    assert "longitude" in lines[0]
    gj = analyst.get("/exports/hotspots.geojson?period=2025-W30")
    assert gj.mimetype == "application/geo+json" and "crs" not in gj.get_json()
    exports = _audit(app, "export")
    assert [e[2] for e in exports] == [
        f"patrol-plan-{saved_plan}-all-teams-demo.gpx",
        f"patrol-plan-{saved_plan}-{re.sub(r'[^a-z0-9]+', '-', team.lower()).strip('-')}-demo.gpx",
        f"patrol-plan-{saved_plan}-demo.geojson",
        "hotspots-asb-2025-W30-demo.csv", "hotspots-asb-2025-W30-demo.geojson"]
    assert {e[0] for e in exports} == {"guardian", "analyst"}


def test_printable_sheet(as_role, saved_plan):
    response = as_role("guardian").get(f"/plans/{saved_plan}/sheet")
    html = response.get_data(as_text=True)
    nonce = re.search(r"'nonce-([^']+)'", response.headers["Content-Security-Policy"]).group(1)
    assert f'<style nonce="{nonce}">' in html
    assert "APPROXIMATE" in html and "<table>" in html


def test_plan_map_has_numbered_stops_and_team_colours(as_role, saved_plan):
    html = as_role("guardian").get(f"/plans/{saved_plan}/map").get_data(as_text=True)
    assert '\\u003cspan class=\\"stop-num team-0\\"\\u003e1\\u003c/span\\u003e' in html
    assert "team-1" in html
    assert "#1b9e77" in html and "#d95f02" in html  # one colour per team
    assert "dashArray" in html  # approximate routes are dashed


def test_patrol_log_arrive_and_leave(app, as_role, saved_plan):
    c = as_role("guardian")
    index = c.get("/patrol/").get_data(as_text=True)
    assert f"/patrol/{saved_plan}/0" in index  # the guardian's own route is listed
    page = c.get(f"/patrol/{saved_plan}/0").get_data(as_text=True)
    assert "Arrived at stop 1" in page
    token = csrf_token(c, f"/patrol/{saved_plan}/0")
    response = c.post(f"/patrol/{saved_plan}/0/visit", data={"csrf_token": token, "stop": "1",
                                                             "action": "arrive"})
    assert response.status_code == 302 and response.headers["Location"].endswith("#stop-1")
    page = c.get(f"/patrol/{saved_plan}/0").get_data(as_text=True)
    assert "Left stop 1" in page and "still there" in page
    response = c.post(f"/patrol/{saved_plan}/0/visit", data={"csrf_token": token, "stop": "1",
                                                             "action": "depart"})
    # Leaving within two minutes of arriving is asked about first, and nothing is stored yet.
    assert response.status_code == 302 and "confirm=1" in response.headers["Location"]
    page = c.get(response.headers["Location"]).get_data(as_text=True)
    assert "Leave stop 1 already?" in page and "still there" in page
    response = c.post(f"/patrol/{saved_plan}/0/visit", data={"csrf_token": token, "stop": "1",
                                                             "action": "depart", "confirm": "yes"})
    assert response.status_code == 302 and "confirm" not in response.headers["Location"]
    page = c.get(f"/patrol/{saved_plan}/0").get_data(as_text=True)
    assert "Arrived at stop 1" in page and ", left " in page
    bad = c.post(f"/patrol/{saved_plan}/0/visit", data={"csrf_token": token, "stop": "1",
                                                        "action": "depart"})
    assert bad.status_code == 400  # nothing open to leave
    assert c.post(f"/patrol/{saved_plan}/0/visit", data={"csrf_token": token, "stop": "999",
                                                         "action": "arrive"}).status_code == 400
    assert c.get(f"/patrol/{saved_plan}/7").status_code == 404


def test_dosage_report(app, api_visit, saved_plan, as_role):
    # Stop 1: 16 + 12 minutes in two visits; stop 2: 8 minutes (short of the 15-minute target).
    api_visit(saved_plan, 1, "2025-07-21T16:00:00Z", "2025-07-21T16:16:00Z")
    api_visit(saved_plan, 1, "2025-07-29T16:00:00Z", "2025-07-29T16:12:00Z")
    api_visit(saved_plan, 2, "2025-07-29T17:00:00Z", "2025-07-29T17:08:00Z")
    from webapp.db import Visit, db_session
    from webapp.patrol_log import dosage

    with app.app_context():
        visits = db_session().query(Visit).all()
        report = dosage(visits, target_min=15, tz="Europe/London")
    cells = {c["visits"]: c for c in report["cells"]}
    assert cells[2]["minutes"] == 28 and cells[2]["mean_min"] == 14 and cells[2]["on_target"] == 1
    assert cells[1]["minutes"] == 8 and not cells[1]["meets_target"]
    assert report["weeks"] == [{"week": "2025-W30", "visits": 1}, {"week": "2025-W31", "visits": 2}]
    page = as_role("guardian").get("/patrol/dosage?weeks=104")
    text = page.get_data(as_text=True)
    assert page.status_code == 200 and "15 minutes" in text
    assert "<meter" in text and "<progress" in text
    assert as_role("guardian").get("/patrol/dosage?weeks=abc").status_code == 400


def test_visits_are_kept_per_team(app, api_visit, saved_plan):
    api_visit(saved_plan, 1, "2025-07-21T16:00:00Z", None, team=0)
    api_visit(saved_plan, 1, "2025-07-21T16:00:00Z", None, team=1, role="analyst")
    from webapp.db import Visit, db_session

    with app.app_context():
        teams = {v.team for v in db_session().query(Visit)}
    assert len(teams) == 2



@pytest.fixture
def api_visit(app, token_for):
    c = app.test_client()

    def post(plan_id, stop, arrived, departed, team=0, role="guardian"):
        body = {"plan_id": plan_id, "team": team, "stop": stop, "arrived_at": arrived}
        if departed:
            body["departed_at"] = departed
        headers = {"Authorization": f"Bearer {token_for(role)}"}
        response = c.post("/api/v1/visits", json=body, headers=headers)
        assert response.status_code == 201, response.get_json()
        return response.get_json()

    return post


def test_plans_are_solved_in_a_worker_process(app, as_role):
    from webapp._planner import Planner

    planner = Planner(workers=1)
    app.extensions["hotspots_planner"] = planner
    try:
        c = as_role("guardian")
        token = csrf_token(c, "/plans/")
        response = c.post("/plans/", data={"csrf_token": token, "period": "2025-W30", "category": "asb",
                                           "teams": "Armley", "shift_start": "16:00", "shift_min": "60",
                                           "dwell_min": "15", "mode": "drive", "stops_per_ward": "2"})
        assert response.status_code == 302, response.get_data(as_text=True)[:500]
        assert planner._pool is not None  # the solve went to the pool
    finally:
        planner.shutdown()


def test_busy_planner_refuses_with_503(app, token_for):
    gate = app.extensions["hotspots_plan_gate"]
    taken = 0
    while gate.acquire(blocking=False):
        taken += 1
    try:
        c = app.test_client()
        response = c.post("/api/v1/plans", json={"teams": 1},
                          headers={"Authorization": f"Bearer {token_for('guardian')}"})
        assert response.status_code == 503
        assert response.get_json()["error"]["code"] == "planner_busy"
    finally:
        for _ in range(taken):
            gate.release()


# ------------------------------------------------------------------ one pipeline everywhere

#: Two priority wards the city-centre extract reaches (Armley's east end, Hunslet's north), two
#: teams based inside the extract; most of the wards' stops lie beyond its streets.
_SAME_PLAN_TOML = """\
priority_wards = ["E05011385", "E05011399"]
patrol_teams = ["Kirkstall Road=-1.5700 53.8020", "Station=-1.5474 53.7955"]
"""


@pytest.mark.parametrize("network", ["city-centre extract", "straight lines"])
def test_cli_web_and_api_make_the_same_plan(home, demo_store, network):
    """The CLI, the plan form and the API run one pipeline: same stops, order and times."""
    import shutil

    from click.testing import CliRunner

    from tests.routing.conftest import CITY_CENTRE
    from tests.webapp.conftest import add_role_users, login, make_app, make_token
    from webapp.cli import cli

    shutil.copytree(demo_store, home / "store")
    home.joinpath("hotspots.toml").write_text(_SAME_PLAN_TOML, encoding="utf-8")
    runner = CliRunner()
    if network == "city-centre extract":
        if not CITY_CENTRE.is_file():
            pytest.skip(f"the central Leeds OSM extract is not at {CITY_CENTRE}")
        imported = runner.invoke(cli, ["--home", str(home), "network", "import", str(CITY_CENTRE),
                                       "--mode", "drive"], catch_exceptions=False)
        assert imported.exit_code == 0, imported.output

    form = {"period": "2025-W30", "category": "both", "teams": ["Kirkstall Road", "Station"],
            "date": "2025-08-04", "shift_start": "17:00", "shift_min": "150", "dwell_min": "12",
            "mode": "drive", "stops_per_ward": "40", "seed": "3"}
    # Generous ceilings: every search below stops by itself (checked), so no clock decides.
    result = runner.invoke(cli, ["--home", str(home), "plan", "--week", "2025-W30", "--category",
                                 "both", "--team", "Kirkstall Road", "--team", "Station",
                                 "--date", "2025-08-04", "--start", "17:00", "--shift", "150",
                                 "--dwell", "12", "--mode", "drive", "--per-ward", "40",
                                 "--seed", "3", "--time-limit", "60", "--json"],
                           catch_exceptions=False)
    assert result.exit_code == 0, result.output
    from_cli = json.loads(result.output[result.output.index("{"):])

    app = make_app(home, SETTINGS={"web_plan_time_limit_s": 60})
    add_role_users(app)
    browser = app.test_client()
    login(browser, "guardian", app.passwords["guardian"])
    token = csrf_token(browser, "/plans/")
    page = browser.post("/plans/", data={"csrf_token": token, **form})
    assert page.status_code == 302, page.get_data(as_text=True)[:500]
    plan_id = int(page.headers["Location"].rstrip("/").rsplit("/", 1)[1])
    api = app.test_client()
    headers = {"Authorization": f"Bearer {make_token(app, 'guardian')}"}
    from_web = api.get(f"/api/v1/plans/{plan_id}", headers=headers).get_json()["plan"]
    body = {k: (v if k in ("period", "category", "shift_start", "mode", "teams", "date")
                else float(v) if k == "dwell_min" else int(v)) for k, v in form.items()}
    made = api.post("/api/v1/plans", json=body, headers=headers)
    assert made.status_code == 201, made.get_json()
    from_api = made.get_json()["plan"]

    plans = {"cli": from_cli, "web": from_web, "api": from_api}
    for name, plan in plans.items():
        assert plan["stats"]["stopped"] in ("no improvement", "search complete"), (name, plan)
        assert plan["stats"]["time_limit_s"] == 60
    visits = {name: [[(v["stop_id"], v["arrival"], v["departure"]) for v in r["visits"]]
                     for r in plan["routes"]] for name, plan in plans.items()}
    assert sum(len(r) for r in visits["cli"]) >= 4
    assert visits["web"] == visits["cli"]
    assert visits["api"] == visits["cli"]
    # Everything else too: team totals, paths' lengths, left-out stops, the stop rules' counts.
    for plan in plans.values():
        plan.pop("stats")
    assert from_web == from_cli
    assert from_api == from_cli
    assert from_cli["approximate"] is (network == "straight lines")
    assert from_cli["deployment"]["wards"] == ["E05011385", "E05011399"]
    assert from_cli["deployment"]["categories"] == ["asb", "serious_violence"]
    if network == "city-centre extract":
        # The wards' hotspots all lie beyond the extract's streets: every leg is a straight line,
        # and the page says so instead of failing.
        assert from_cli["approximate_legs"] == from_cli["legs"] > 0
        page = browser.get(f"/plans/{plan_id}").get_data(as_text=True)
        assert "Approximate routes." in page and "every leg starts or ends more than 250 m" in page
        assert "Off the street network: reached by straight lines" in page
        assert "covers them poorly" in page


# ----------------------------------------------------------------------------- who may log visits


def _set_plan(app, plan_id, **fields):
    from webapp.db import SavedPlan, db_session

    with app.app_context():
        session = db_session()
        plan = session.get(SavedPlan, plan_id)
        for name, value in fields.items():
            setattr(plan, name, value)
        session.commit()
        return [r["team"]["name"] for r in plan.plan["routes"]]


def _api_visit(app, token, plan_id, team):
    c = app.test_client()
    return c.post("/api/v1/visits", json={"plan_id": plan_id, "team": team, "stop": 1},
                  headers={"Authorization": f"Bearer {token}"})


def test_guardians_log_visits_only_on_their_own_teams_routes(app, as_role, saved_plan, token_for):
    teams = _set_plan(app, saved_plan)
    token = token_for("guardian")
    assert _api_visit(app, token, saved_plan, 0).status_code == 201  # assigned to the guardian
    refused = _api_visit(app, token, saved_plan, 1)  # another team's route
    assert refused.status_code == 403
    err = refused.get_json()["error"]
    assert err["code"] == "forbidden" and "own team" in err["message"]
    c = as_role("guardian")
    page = c.get(f"/patrol/{saved_plan}/1").get_data(as_text=True)
    assert "belongs to another team" in page and "Arrived at stop 1" not in page
    form = c.post(f"/patrol/{saved_plan}/1/visit", data={"csrf_token": csrf_token(c, f"/patrol/{saved_plan}/0"),
                                                         "stop": "1", "action": "arrive"})
    assert form.status_code == 403
    # A guardian whose account names the route's team logs on it, assigned or not.
    from webapp.db import User, db_session

    with app.app_context():
        session = db_session()
        session.query(User).filter_by(username="guardian").one().team = teams[1]
        session.commit()
    app.extensions["hotspots_users"].clear()
    assert _api_visit(app, token, saved_plan, 1).status_code == 201


def test_guardians_log_visits_only_on_saved_plans(app, saved_plan, token_for):
    _set_plan(app, saved_plan, status="draft")
    refused = _api_visit(app, token_for("guardian"), saved_plan, 0)
    assert refused.status_code == 403 and "draft" in refused.get_json()["error"]["message"]
    from webapp.db import Visit, db_session

    with app.app_context():
        assert db_session().query(Visit).count() == 0


def test_analysts_and_admins_may_correct_any_route(app, saved_plan, token_for):
    _set_plan(app, saved_plan, status="draft")
    for role in ("analyst", "admin"):
        for team in (0, 1):
            assert _api_visit(app, token_for(role), saved_plan, team).status_code == 201, (role, team)


def test_plan_map_dashes_only_the_straight_legs(settings):
    """A plan on a network with a base off its streets: the two legs to and from the base are
    dashed on the map, the legs along the streets are not."""
    import geopandas as gpd

    from routing import Team, load_network, plan_patrols, stops_from_ranking
    from tests.routing.conftest import GRID_XML, grid_lonlat, ranking_frame
    from webapp import _maps

    graph = load_network(GRID_XML, settings=settings)
    pts = [grid_lonlat(r + 0.5, c + 0.5) for r, c in [(0, 0), (2, 2), (3, 3)]]
    stops = stops_from_ranking(ranking_frame(pts), top=3, join_ring=0, settings=settings)
    plan = plan_patrols(stops, [Team("Far", grid_lonlat(-20, 0), "16:00", 120)], network=graph,
                        settings=settings)
    assert plan.routes[0].legs_approximate == [True, False, False, True]
    page = _maps.plan_map(json.loads(plan.to_geojson()), gpd.GeoDataFrame(geometry=[], crs=4326),
                          assets={"leaflet_js": "/l.js", "leaflet_css": "/l.css", "map_css": "/m.css"},
                          tiles=("", ""))
    assert page.count('"dashArray": "8 6"') == 2
    assert page.count("a straight line, not streets") == 2
    assert "Far: to stop 2" in page and "Far: back to base" in page


def test_a_plan_form_sent_twice_makes_one_plan(app, as_role):
    import threading
    import time

    from webapp.db import SavedPlan, db_session

    planner = app.extensions["hotspots_planner"]
    solve = planner.solve

    def slow_solve(*args, **kwargs):
        time.sleep(1.0)  # the second request arrives while the first is being planned
        return solve(*args, **kwargs)

    planner.solve = slow_solve
    c = as_role("analyst")
    page = c.get("/plans/").get_data(as_text=True)
    token = re.search(r'name="once" value="([^"]+)"', page).group(1)
    form = {"csrf_token": csrf_token(c, "/plans/"), "once": token, "period": "2025-W30",
            "category": "asb", "teams": TWO_TEAMS[:1], "date": "2025-08-04",
            "shift_start": "16:00", "shift_min": "60",
            "dwell_min": "15", "mode": "drive", "stops_per_ward": "2"}
    answers = []
    threads = [threading.Thread(target=lambda: answers.append(c.post("/plans/", data=form)))
               for _ in range(2)]
    for t in threads:
        t.start()
        time.sleep(0.2)
    for t in threads:
        t.join()
    assert [a.status_code for a in answers] == [302, 302]
    assert answers[0].headers["Location"] == answers[1].headers["Location"]
    with app.app_context():
        assert db_session().query(SavedPlan).count() == 1
    # A new form (a new token) makes a new plan.
    token2 = re.search(r'name="once" value="([^"]+)"', c.get("/plans/").get_data(as_text=True)).group(1)
    assert token2 != token
    assert c.post("/plans/", data={**form, "once": token2}).status_code == 302
    with app.app_context():
        assert db_session().query(SavedPlan).count() == 2
