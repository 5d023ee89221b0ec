"""The hotspot programme in the web app and the API: designate (from the map's cells, a form, a
GeoJSON polygon, the API), change and close with who and why, teams, dosage from the patrol log,
impact on the page and in the API, exports, and old database files."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json

import h3
import pytest

from tests.webapp.conftest import HOTSPOT_START, busiest_cells, csrf_token


def _audit(app, target: str) -> list:
    from webapp.db import AuditEntry, db_session

    with app.app_context():
        rows = db_session().query(AuditEntry).filter_by(target=target).order_by(AuditEntry.id)
        return [(e.username, e.action, e.detail) for e in rows]


def _count(app) -> int:
    from webapp.db import DesignatedHotspot, db_session

    with app.app_context():
        return db_session().query(DesignatedHotspot).count()


@pytest.fixture
def api(app, token_for):
    c = app.test_client()
    tokens: dict[str, str] = {}

    def call(method: str, path: str, role: str = "analyst", **kw):
        if role not in tokens:
            tokens[role] = token_for(role)
        return c.open(path, method=method, headers={"Authorization": f"Bearer {tokens[role]}"}, **kw)

    return call


# --------------------------------------------------------------------------- designate


def test_the_map_offers_designation_to_analysts_only(app, as_role):
    page = as_role("analyst").get("/map").get_data(as_text=True)
    assert 'id="designate-form"' in page and 'form="designate-form"' in page
    assert "/register/new" in page
    viewer = as_role("viewer").get("/map").get_data(as_text=True)
    assert "designate-form" not in viewer


def test_designate_from_ticked_cells(app, as_role):
    cells = busiest_cells(app, n=2)
    c = as_role("analyst")
    form = c.get("/register/new", query_string={"cells": cells, "category": "asb"})
    page = form.get_data(as_text=True)
    assert form.status_code == 200
    assert cells[0] in page and cells[1] in page
    token = csrf_token(c, "/register/new")
    response = c.post("/register/new", data={
        "csrf_token": token, "cells": cells, "category": "asb", "name": "", "team": "Armley",
        "tactic": "problem-solving", "status": "active", "visits_per_week": "5",
        "minutes_per_visit": "12", "start_date": "2025-06-16", "review_date": "", "notes": "",
        "reason": "tasking meeting 16 June"})
    assert response.status_code == 302, response.get_data(as_text=True)[:600]
    shown = c.get(response.headers["Location"]).get_data(as_text=True)
    # The demo's street labels name it; the review date defaults to 12 weeks on.
    assert "On or near" not in shown.split("<h1>")[1][:200]
    assert "problem-solving" in shown and "5 visits a week of 12 minutes" in shown
    assert "2025-09-08" in shown
    assert "tasking meeting 16 June" in shown  # the history
    [(who, action, detail)] = _audit(app, "hotspot 1")
    assert (who, action) == ("analyst", "hotspot_designated")
    assert detail["reason"] == "tasking meeting 16 June" and sorted(detail["cells"]) == sorted(cells)
    listing = c.get("/register/").get_data(as_text=True)
    assert "problem-solving" in listing


def test_bad_designation_is_a_400_naming_the_field_and_stores_nothing(app, as_role, saved_hotspot):
    c = as_role("analyst")
    token = csrf_token(c, "/register/new")
    base = {"csrf_token": token, "category": "asb", "status": "active", "tactic": "patrol",
            "visits_per_week": "7", "minutes_per_visit": "15", "start_date": "2025-06-16"}
    before = _count(app)
    cases = [({"cells": "not-a-cell"}, "`cells`: &#39;not-a-cell&#39; is not an H3 cell"),
             ({"cells": ""}, "needs an area"),
             ({"cells": busiest_cells(app)[0]}, "is already in hotspot"),
             ({"cells": "8a194254508ffff", "visits_per_week": "0"}, "`visits_per_week` is &#39;0&#39;"),
             ({"cells": "8a194254508ffff", "review_date": "2025-01-01"}, "`review_date` (2025-01-01) is before"),
             ({"cells": "8a194254508ffff", "team": "Nobody"}, "there is no team &#39;Nobody&#39;"),
             ({"cells": "8a194254508ffff", "polygon": '{"type": "Point", "coordinates": [0, 0]}'},
              "not both"),
             ({"polygon": '{"type": "Point", "coordinates": [-1.5, 53.8]}'}, "expected a Polygon")]
    for extra, words in cases:
        response = c.post("/register/new", data={**base, **extra})
        text = response.get_data(as_text=True)
        assert response.status_code == 400, extra
        assert words in text, (extra, text[text.find("callout error"):][:300])
    assert _count(app) == before


def test_designate_from_an_uploaded_geojson_polygon(app, as_role):
    lat, lng = h3.cell_to_latlng(busiest_cells(app, n=3)[2])
    half = 0.0025
    ring = [[lng - half, lat - half], [lng + half, lat - half], [lng + half, lat + half],
            [lng - half, lat + half], [lng - half, lat - half]]
    geojson = json.dumps({"type": "Feature", "properties": {},
                          "geometry": {"type": "Polygon", "coordinates": [ring]}})
    c = as_role("analyst")
    token = csrf_token(c, "/register/new")
    response = c.post("/register/new", data={
        "csrf_token": token, "category": "serious_violence", "status": "proposed",
        "polygon_file": (io.BytesIO(geojson.encode()), "area.geojson"), "name": "Drawn area"},
        content_type="multipart/form-data")
    text = response.get_data(as_text=True)
    assert response.status_code == 302, text[text.find("<main"):][:800]
    from webapp.db import DesignatedHotspot, db_session

    with app.app_context():
        record = db_session().query(DesignatedHotspot).one()
        assert record.polygon["type"] == "Polygon"
        assert len(record.cells) >= 3
        assert h3.latlng_to_cell(lat, lng, 10) in record.cells
    page = c.get(response.headers["Location"]).get_data(as_text=True)
    assert "from a drawn polygon" in page
    assert "Not started: impact is measured once the hotspot is active." in page


# --------------------------------------------------------------------------- change and close


def test_change_needs_a_reason_and_is_kept_with_who_and_why(app, as_role, saved_hotspot):
    c = as_role("analyst")
    token = csrf_token(c, f"/register/{saved_hotspot}")
    form = {"csrf_token": token, "name": "Town Street", "category": "asb", "team": "Armley",
            "tactic": "patrol", "status": "under review", "visits_per_week": "7",
            "minutes_per_visit": "15", "start_date": HOTSPOT_START.isoformat(),
            "review_date": "2025-09-01", "notes": "", "cells": busiest_cells(app)[0]}
    refused = c.post(f"/register/{saved_hotspot}/edit", data={**form, "reason": ""})
    assert refused.status_code == 400
    assert "say why (`reason`)" in refused.get_data(as_text=True)
    ok = c.post(f"/register/{saved_hotspot}/edit", data={**form, "reason": "ready to review"})
    assert ok.status_code == 302
    entries = _audit(app, f"hotspot {saved_hotspot}")
    who, action, detail = entries[-1]
    assert (who, action) == ("analyst", "hotspot_changed")
    assert detail["reason"] == "ready to review"
    assert detail["changes"]["status"] == ["active", "under review"]
    assert detail["changes"]["name"][1] == "Town Street"
    page = c.get(f"/register/{saved_hotspot}").get_data(as_text=True)
    assert "ready to review" in page and "active → under review" in page
    closed = c.post(f"/register/{saved_hotspot}/close", data={"csrf_token": token, "reason": "done"})
    assert closed.status_code == 302
    assert _audit(app, f"hotspot {saved_hotspot}")[-1][1] == "hotspot_closed"
    again = c.post(f"/register/{saved_hotspot}/close", data={"csrf_token": token, "reason": "again"})
    assert again.status_code == 400 and "already closed" in again.get_data(as_text=True)
    # A viewer sees the hotspot but cannot change it.
    viewer = as_role("viewer")
    assert "Change this hotspot" not in viewer.get(f"/register/{saved_hotspot}").get_data(as_text=True)


def test_overdue_reviews_stand_out_and_the_list_sorts(app, as_role, saved_hotspot):
    from webapp.register import create_hotspot

    with app.app_context():
        create_hotspot({"cells": busiest_cells(app, n=2)[1:], "category": "asb", "status": "active",
                        "name": "Aardvark Lane", "start_date": "2025-06-02",
                        "review_date": "2099-01-01"}, who="(test)")
    c = as_role("viewer")
    page = c.get("/register/").get_data(as_text=True)
    # The fixture's review (12 weeks after a 2025 start) has passed: it stands out, first.
    assert page.count('class="overdue"') == 1
    assert page.index('class="overdue"') < page.index("Aardvark Lane")
    by_name = c.get("/register/?sort=name&order=asc").get_data(as_text=True)
    assert 'aria-sort="ascending"' in by_name
    assert by_name.index("Aardvark Lane") < by_name.index(f"#{saved_hotspot},")
    bad = c.get("/register/?sort=colour")
    assert bad.status_code == 400 and "`sort` is &#39;colour&#39;" in bad.get_data(as_text=True)


def test_register_exports(app, as_role, saved_hotspot):
    c = as_role("analyst")
    rows = list(csv.DictReader(io.StringIO(c.get("/register/export.csv").get_data(as_text=True))))
    assert [r["id"] for r in rows] == [str(saved_hotspot)]
    assert rows[0]["team"] == "Armley" and rows[0]["status"] == "active"
    geo = json.loads(c.get("/register/export.geojson").get_data(as_text=True))
    feature = geo["features"][0]
    assert feature["geometry"]["type"] == "Polygon"
    lon, lat = feature["geometry"]["coordinates"][0][0]
    assert -2 < lon < -1 and 53 < lat < 54
    assert _audit(app, "register.csv")[-1][1] == "export"
    assert as_role("viewer").get("/register/export.csv").status_code == 403


# --------------------------------------------------------------------------- impact and dosage


def test_show_page_has_impact_and_dosage(app, as_role, saved_hotspot):
    page = as_role("viewer").get(f"/register/{saved_hotspot}").get_data(as_text=True)
    assert "Impact since designation" in page
    # The demo store holds 10 weeks; the hotspot started 5 weeks before its end.
    assert "ASB incidents" in page and "days before the start" in page
    assert "Buffer ring" in page
    assert "Days without a visit" in page and 'class="chart dosage-chart"' in page
    assert 'class="area-svg"' in page


def test_visits_on_the_patrol_log_count_towards_the_hotspot(app, as_role, saved_plan):
    """A plan's stop that lies in a designated hotspot: its logged visits are the hotspot's dosage."""
    from webapp.db import SavedPlan, db_session
    from webapp.register import create_hotspot

    with app.app_context():
        plan = db_session().get(SavedPlan, saved_plan)
        stop = plan.plan["routes"][0]["visits"][0]
        create_hotspot({"cells": [str(stop["stop_id"])], "category": "asb", "status": "active",
                        "team": "Armley", "start_date": "2025-01-06"}, who="(test)")
    guardian = as_role("guardian")
    token = csrf_token(guardian, f"/patrol/{saved_plan}/0")
    for action in ("arrive", "depart"):
        assert guardian.post(f"/patrol/{saved_plan}/0/visit",
                             data={"csrf_token": token, "stop": str(stop["seq"]), "action": action,
                                   "confirm": "yes"}).status_code == 302
    page = guardian.get("/dosage/").get_data(as_text=True)
    assert 'data-visits="1"' in page
    body = as_role("viewer").get("/api/v1/dosage").get_json()
    [hotspot] = body["hotspots"]
    assert hotspot["this_week"]["visits"] == 1 and hotspot["this_week"]["complete"] == 1
    assert [t["name"] for t in body["teams"]] == ["Armley"]
    rows = list(csv.DictReader(io.StringIO(guardian.get("/dosage/?format=csv").get_data(as_text=True))))
    assert {r["kind"] for r in rows} == {"hotspot", "team"}
    assert sum(int(r["visits"]) for r in rows if r["kind"] == "hotspot") == 1


# --------------------------------------------------------------------------- teams


def test_teams_are_seeded_from_the_setting_and_managed(app, as_role):
    c = as_role("analyst")
    page = c.get("/teams/").get_data(as_text=True)
    for name in ("Gipton &amp; Harehills", "Armley", "Hunslet &amp; Riverside"):
        assert name in page
    token = csrf_token(c, "/teams/")
    added = c.post("/teams/", data={"csrf_token": token, "name": "City centre foot patrol",
                                    "base": "-1.5491 53.7997", "mode": "walk",
                                    "members": "pcso1, pcso2", "home_wards": "Hunslet & Riverside"})
    assert added.status_code == 302, added.get_data(as_text=True)[:500]
    teams = {t["name"]: t for t in as_role("viewer").get("/api/v1/teams").get_json()["teams"]}
    foot = teams["City centre foot patrol"]
    assert foot["mode"] == "walk" and foot["members"] == ["pcso1", "pcso2"]
    assert foot["home_wards"] == ["E05011399"]
    assert teams["Armley"]["home_wards"] == ["E05011385"]
    dup = c.post("/teams/", data={"csrf_token": token, "name": "armley", "base": "E05011385"})
    assert dup.status_code == 400 and "already a team called" in dup.get_data(as_text=True)
    bad = c.post("/teams/", data={"csrf_token": token, "name": "X", "base": "53.8 -1.5"})
    assert bad.status_code == 400 and "`base`" in bad.get_data(as_text=True)
    viewer = as_role("viewer")
    assert viewer.post("/teams/", data={"csrf_token": csrf_token(viewer, "/teams/"), "name": "Y",
                                        "base": "E05011385"}).status_code == 403


# --------------------------------------------------------------------------- the API


def test_api_designate_change_and_read(app, api):
    cells = busiest_cells(app, n=3)
    created = api("POST", "/api/v1/register", json={
        "cells": cells[:2], "category": "asb", "team": "Armley", "status": "active",
        "start_date": "2025-06-16", "reason": "from the API"})
    assert created.status_code == 201, created.get_data(as_text=True)
    body = created.get_json()
    assert created.headers["Location"].endswith(f"/api/v1/register/{body['id']}")
    assert body["target"] == {"visits_per_week": 7, "minutes_per_visit": 15.0}
    hid = body["id"]
    assert api("POST", "/api/v1/register", role="viewer", json={"cells": cells[2:], "category": "asb"}).status_code == 403
    no_reason = api("PATCH", f"/api/v1/register/{hid}", json={"review_date": "2025-08-01"})
    assert no_reason.status_code == 400
    assert no_reason.get_json()["error"]["details"]["parameter"] == "reason"
    changed = api("PATCH", f"/api/v1/register/{hid}", json={"review_date": "2025-08-01",
                                                           "reason": "earlier review"})
    assert changed.status_code == 200
    assert changed.get_json()["changes"] == {"review_date": ["2025-09-08", "2025-08-01"]}
    one = api("GET", f"/api/v1/register/{hid}", role="viewer").get_json()
    assert [h["reason"] for h in one["history"]] == ["from the API", "earlier review"]
    assert one["history"][0]["by"] == "analyst"
    assert one["impact"]["status"] in ("measured", "too_short")
    assert one["impact"]["reading"]
    assert one["dosage"]["this_week"]["target_visits"] == 7
    listing = api("GET", "/api/v1/register", role="viewer").get_json()
    assert listing["count"] == 1 and listing["hotspots"][0]["trend"]
    programme = api("GET", "/api/v1/impact?comparison=matched", role="viewer").get_json()
    assert programme["hotspots"][0]["comparison_kind"] == "matched"
    assert "asb" in programme["pooled"]


@pytest.mark.parametrize(("method", "path", "kw", "status", "parameter"), [
    ("GET", "/api/v1/register?status=lost", {}, 400, "status"),
    ("GET", "/api/v1/register?colour=red", {}, 400, "colour"),
    ("GET", "/api/v1/register/999", {}, 404, None),
    ("GET", "/api/v1/impact?comparison=guess", {}, 400, "comparison"),
    ("GET", "/api/v1/impact?as_of=soon", {}, 400, "as_of"),
    ("GET", "/api/v1/dosage?weeks=99", {}, 400, "weeks"),
    ("POST", "/api/v1/register", {"json": {"category": "asb"}}, 400, "cells"),
    ("POST", "/api/v1/register", {"json": {"cells": ["8a194254508ffff"], "category": "burglary"}}, 400, "category"),
    ("POST", "/api/v1/register", {"json": {"cells": [1, 2], "category": "asb"}}, 400, "cells"),
    ("POST", "/api/v1/register", {"json": {"cells": ["8a194254508ffff"], "category": "asb", "tactic": "shouting"}}, 400, "tactic"),
    ("POST", "/api/v1/register", {"json": {"cells": ["8a194254508ffff"], "category": "asb", "owner": "me"}}, 400, "owner"),
    ("POST", "/api/v1/register", {"json": {"cells": ["8a194254508ffff"], "category": "asb", "minutes_per_visit": "long"}}, 400, "minutes_per_visit"),
    ("POST", "/api/v1/register", {"data": "nope", "content_type": "text/plain"}, 400, None),
])
def test_api_errors_have_the_one_shape_and_name_the_parameter(app, api, method, path, kw, status, parameter):
    response = api(method, path, **kw)
    assert response.status_code == status, response.get_data(as_text=True)
    err = response.get_json()["error"]
    assert set(err) == {"code", "message", "details"}
    if parameter is not None:
        assert err["details"]["parameter"] == parameter
        assert f"`{parameter}`" in err["message"]
    assert _count(app) == 0


def test_impact_of_a_proposed_hotspot_is_refused_plainly(app, api):
    hid = api("POST", "/api/v1/register", json={"cells": busiest_cells(app), "category": "asb",
                                                "status": "proposed"}).get_json()["id"]
    response = api("GET", f"/api/v1/register/{hid}/impact", role="viewer")
    assert response.status_code == 409
    assert "once it is active" in response.get_json()["error"]["message"]


# --------------------------------------------------------------------------- old database files


def test_an_instance_database_from_before_the_programme_keeps_working(home, demo_store):
    """A SQLite file made before the register existed: the app adds the new tables and keeps the
    old rows."""
    import shutil

    import sqlalchemy as sa

    from tests.webapp.conftest import make_app
    from webapp.db import Base

    shutil.copytree(demo_store, home / "store")
    home.mkdir(parents=True, exist_ok=True)
    engine = sa.create_engine(f"sqlite:///{home / 'hotspots.db'}")
    old = [t for name, t in Base.metadata.tables.items() if name not in ("teams", "designated_hotspots")]
    Base.metadata.create_all(engine, tables=old)
    with engine.begin() as conn:
        conn.execute(sa.text("INSERT INTO users (username, password_hash, role, team, active, created_at) "
                             "VALUES ('old', 'x', 'admin', '', 1, '2024-01-01 00:00:00')"))
    engine.dispose()
    app = make_app(home)
    with app.app_context():
        from webapp.db import User, db_session
        from webapp.register import list_teams

        assert db_session().query(User).filter_by(username="old").one().role == "admin"
        assert len(list_teams()) == 6
    tables = set(sa.inspect(sa.create_engine(f"sqlite:///{home / 'hotspots.db'}")).get_table_names())
    assert {"teams", "designated_hotspots", "users"} <= tables


def test_dates_are_checked_for_review(app):
    from webapp.errors import ParameterError
    from webapp.register import check_hotspot

    with app.test_request_context():
        out = check_hotspot({"cells": busiest_cells(app), "category": "asb", "start_date": "2025-06-02"})
        assert out["review_date"] == dt.date(2025, 8, 25)
        with pytest.raises(ParameterError, match="`start_date` is '2 June'"):
            check_hotspot({"cells": busiest_cells(app), "category": "asb", "start_date": "2 June"})


def test_openapi_describes_the_programme_endpoints(app, api):
    doc = api("GET", "/api/v1/openapi.json", role="viewer").get_json()
    for rule in app.url_map.iter_rules():
        if rule.endpoint.startswith("programme_api."):
            path = rule.rule.removeprefix("/api/v1").replace("<int:hotspot_id>", "{hotspot_id}")
            assert path in doc["paths"], path
    assert "patch" in doc["paths"]["/register/{hotspot_id}"]
