"""A guardian's shift: the landing page, stops named by street with plain reasons and map links,
progress, the question before a very short visit, and undo of the last tap."""

from __future__ import annotations

import html
import re

from tests.webapp.conftest import csrf_token, login

STATS_WORDS = ("Gi*", "z-score", "harm", "prize", "significant", "FDR")


def _cards(page: str) -> list[str]:
    return re.findall(r'<li id="stop-\d+".*?</li>', page, flags=re.S)


def test_guardian_lands_on_my_shift_with_streets_reasons_and_map_links(app, client, saved_plan):
    response = login(client, "guardian", app.passwords["guardian"])
    assert response.status_code == 302
    landing = client.get(response.headers["Location"], follow_redirects=True)
    assert landing.request.path == "/patrol/shift"
    page = landing.get_data(as_text=True)
    with app.app_context():
        from webapp.db import SavedPlan, db_session

        route = db_session().get(SavedPlan, saved_plan).plan["routes"][0]
    assert f"My shift: {html.escape(route['team']['name'])}" in page
    assert f"0 of {route['stops']} done" in page
    cards = _cards(page)
    assert len(cards) == route["stops"] >= 2
    assert "Next stop" in cards[0] and 'id="stop-1"' in cards[0]
    for card, stop in zip(cards, route["visits"], strict=True):
        street = html.unescape(re.search(r'<h2 class="street">([^<]+)</h2>', card).group(1))
        assert street and stop["stop_id"] not in card  # named by street, never by H3 id
        assert street != stop["ward_name"] and "On or near" not in street
        geo = re.search(r'href="(geo:[^"]+)"', card).group(1)
        assert geo.startswith(f"geo:{stop['lat']:.6f},{stop['lon']:.6f}")
        reason = re.search(r'<p class="reason">([^<]+)</p>', card).group(1)
        assert re.match(r"(\d+|No) (ASB|serious violence)[a-z ]* incidents? in the last 4 weeks", reason), reason
        assert not any(w in reason for w in STATS_WORDS), reason
    assert 'src="/patrol/' in page and "/map?" in page  # the small route map


def test_other_roles_land_on_the_map_and_team_members_come_from_the_teams_table(app, client, saved_plan):
    response = login(client, "viewer", app.passwords["viewer"])
    assert response.headers["Location"].endswith("/map")
    assert client.get("/").headers["Location"].endswith("/map")

    from webapp.db import PatrolTeam, SavedPlan, User, db_session

    with app.app_context():
        session = db_session()
        plan = session.get(SavedPlan, saved_plan)
        second = plan.plan["routes"][1]["team"]["name"]
        plan.assignments = {}
        session.get(User, session.query(User).filter_by(username="guardian").one().id).team = ""
        team = session.query(PatrolTeam).filter_by(name=second).one_or_none()
        if team is None:
            team = PatrolTeam(name=second, base="E05011388")
            session.add(team)
        team.members = ["someone", "Guardian"]
        session.commit()
    c = app.test_client()
    login(c, "guardian", app.passwords["guardian"])
    page = c.get("/patrol/shift").get_data(as_text=True)
    assert f"My shift: {html.escape(second)}" in page


def test_short_visit_is_asked_about_and_the_last_tap_can_be_undone(app, as_role, saved_plan):
    c = as_role("guardian")
    token = csrf_token(c, "/patrol/shift")
    visit = f"/patrol/{saved_plan}/0/visit"
    r = c.post(visit, data={"csrf_token": token, "stop": "2", "action": "arrive", "from": "shift"})
    assert r.headers["Location"].startswith("/patrol/shift")
    # A second tap on the same button (a double click) records nothing more.
    c.post(visit, data={"csrf_token": token, "stop": "2", "action": "arrive", "from": "shift"})
    page = c.get("/patrol/shift").get_data(as_text=True)
    assert "You are here" in _cards(page)[0] and 'id="stop-2"' in _cards(page)[0]
    assert "Last tap: arrived at stop 2" in page

    # Leaving at once: a question, nothing stored.
    r = c.post(visit, data={"csrf_token": token, "stop": "2", "action": "depart", "from": "shift"})
    assert "confirm=2" in r.headers["Location"]
    page = c.get(r.headers["Location"]).get_data(as_text=True)
    assert "Leave stop 2 already?" in page and "under 2 minutes" in page
    with app.app_context():
        from webapp.db import Visit, db_session

        assert [v.departed_at for v in db_session().query(Visit)] == [None]

    # Undo the arrival: the visit is gone.
    vid = re.search(r'name="visit" value="(\d+)"', page).group(1)
    r = c.post(f"/patrol/{saved_plan}/0/undo", data={"csrf_token": token, "visit": vid,
                                                     "action": "arrive", "from": "shift"})
    assert r.status_code == 302
    with app.app_context():
        from webapp.db import AuditEntry, Visit, db_session

        assert db_session().query(Visit).count() == 0
        assert db_session().query(AuditEntry).filter_by(action="visit_undone").count() == 1
    # A stale undo (the tap it names is gone) changes nothing and says so.
    r = c.post(f"/patrol/{saved_plan}/0/undo", data={"csrf_token": token, "visit": vid,
                                                     "action": "arrive"}, follow_redirects=True)
    assert "Nothing undone" in r.get_data(as_text=True)

    # Arrive, leave (confirmed), then undo the leaving: the visit is open again.
    c.post(visit, data={"csrf_token": token, "stop": "1", "action": "arrive"})
    c.post(visit, data={"csrf_token": token, "stop": "1", "action": "depart", "confirm": "yes"})
    page = c.get(f"/patrol/{saved_plan}/0").get_data(as_text=True)
    assert "1 of " in page and "Last tap: left stop 1" in page
    vid = re.search(r'name="visit" value="(\d+)"', page).group(1)
    c.post(f"/patrol/{saved_plan}/0/undo", data={"csrf_token": token, "visit": vid, "action": "depart"})
    page = c.get(f"/patrol/{saved_plan}/0").get_data(as_text=True)
    assert "0 of " in page and "still there" in page and "Left stop 1" in page


def test_undo_is_refused_on_another_teams_route(app, as_role, saved_plan):
    from webapp.db import SavedPlan, db_session

    with app.app_context():
        plan = db_session().get(SavedPlan, saved_plan)
        other = plan.plan["routes"][1]["team"]["name"]
    analyst = as_role("analyst")
    token = csrf_token(analyst, f"/patrol/{saved_plan}/1")
    analyst.post(f"/patrol/{saved_plan}/1/visit", data={"csrf_token": token, "stop": "1", "action": "arrive"})
    page = analyst.get(f"/patrol/{saved_plan}/1").get_data(as_text=True)
    vid = re.search(r'name="visit" value="(\d+)"', page).group(1)
    g = as_role("guardian")
    token = csrf_token(g, "/patrol/shift")
    r = g.post(f"/patrol/{saved_plan}/1/undo", data={"csrf_token": token, "visit": vid, "action": "arrive"})
    assert r.status_code == 403 and html.escape(other) in r.get_data(as_text=True)


def test_a_stop_that_joined_its_neighbours_counts_their_incidents(app):
    """A stop's plain reason counts the incidents of every cell it covers (`cells`), not only its
    own: the neighbours that joined it are patrolled from the same spot."""
    import pandas as pd

    from hotspots import cells as h3cells
    from hotspots.crs import BNG
    from webapp._shift import plain_reasons

    with app.test_request_context():
        data = app.extensions["hotspots_data"]
        period = data.parse_period(data.default_period())
        frame = data.incidents()
        recent = frame[((frame["occurred_at"] >= period.shift(-3).start)
                        & (frame["occurred_at"] < period.end)
                        & (frame["category"] == "asb")).to_numpy()]
        cells = h3cells.xy_to_cells(recent["x"].to_numpy(), recent["y"].to_numpy(), crs=BNG,
                                    resolution=10)
        busy = pd.Series(cells).value_counts()
        # Two cells with ASB incidents in the last 4 weeks.
        own, other = (format(int(c), "x") for c in busy.index[:2])
        n_own, n_other = (int(n) for n in busy.iloc[:2])
        alone = {"stop_id": own, "category": "asb"}
        joined = {"stop_id": own, "category": "asb", "cells": [own, other]}
        said = plain_reasons([alone], data=data, period_label=period.label, ranking_rows={})
        assert said[own].startswith(f"{n_own} ASB incident")
        said = plain_reasons([joined], data=data, period_label=period.label, ranking_rows={})
        assert said[own].startswith(f"{n_own + n_other:,} ASB incidents")
