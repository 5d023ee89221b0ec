"""Every download carries its context (period, category, wards, weighting, settings, generation
time, sources and their coverage, the synthetic flag) and says `demo` in its name for demo data."""

from __future__ import annotations

import csv
import io


def _rows(text: str) -> list[dict]:
    return list(csv.DictReader(io.StringIO(text)))


def test_hotspot_downloads_carry_their_context(app, as_role):
    c = as_role("analyst")
    gj = c.get("/exports/hotspots.geojson?period=2025-W30&category=serious_violence&top=5")
    assert gj.headers["Content-Disposition"].endswith('hotspots-serious-violence-2025-W30-demo.geojson"')
    doc = gj.get_json()
    ctx = doc["context"]
    assert doc["synthetic"] is True and ctx["synthetic"] is True
    assert (ctx["kind"], ctx["period"], ctx["category"], ctx["weight"]) == (
        "hotspots", "2025-W30", "serious_violence", "harm")
    assert sorted(ctx["wards"]) == sorted(app.config["HOTSPOTS_SETTINGS"].priority_wards)
    assert ctx["settings"]["fdr_alpha"] == 0.05 and ctx["sources"][0]["source"] == "demo"
    assert ctx["sources"][0]["months"] and ctx["generated_at"].endswith("Z")
    assert len(doc["features"]) == 5
    assert {f["properties"]["category"] for f in doc["features"]} == {"serious_violence"}
    rows = _rows(c.get("/exports/hotspots.csv?period=2025-W30&top=3").get_data(as_text=True))
    assert len(rows) == 3 and {r["synthetic"] for r in rows} == {"True"}
    assert {r["period"] for r in rows} == {"2025-W30"} and rows[0]["generated_at"]
    side = c.get("/exports/hotspots.context.json?period=2025-W30")
    assert side.headers["Content-Disposition"].endswith('hotspots-asb-2025-W30-demo.context.json"')
    assert side.get_json()["period"] == "2025-W30" and side.get_json()["kind"] == "hotspots"
    # The API's GeoJSON is the same document.
    api = c.get("/api/v1/hotspots?period=2025-W30&top=2").get_json()
    assert api["context"]["kind"] == "hotspots" and api["synthetic"] is True


def test_evaluation_table_downloads_as_csv(as_role):
    c = as_role("analyst")
    response = c.get("/exports/evaluation.csv?period=2025-W30&periods=2&method=count")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert response.headers["Content-Disposition"].endswith('evaluation-asb-2025-W30-demo.csv"')
    rows = _rows(response.get_data(as_text=True))
    assert len(rows) == 2 * 4
    assert {"train_period", "test_period", "coverage", "hit_rate", "pai", "pei"} <= set(rows[0])
    assert {r["synthetic"] for r in rows} == {"True"} and {r["period"] for r in rows} == {"2025-W30"}
    page = c.get("/evaluation/?period=2025-W30&periods=2").get_data(as_text=True)
    assert "/exports/evaluation.csv?" in page
    assert c.get("/exports/evaluation.csv?periods=999").status_code == 400


def test_plan_downloads_carry_the_plans_context(app, as_role, saved_plan):
    c = as_role("guardian")
    with app.app_context():
        from webapp.db import SavedPlan, db_session

        plan = db_session().get(SavedPlan, saved_plan)
        routes = plan.plan["routes"]
    response = c.get(f"/exports/plans/{saved_plan}.csv")
    assert response.headers["Content-Disposition"].endswith(f'patrol-plan-{saved_plan}-demo.csv"')
    rows = _rows(response.get_data(as_text=True))
    assert len(rows) == sum(r["stops"] for r in routes)
    first = routes[0]["visits"][0]
    assert (rows[0]["team"], rows[0]["seq"], rows[0]["stop_id"]) == (
        routes[0]["team"]["name"], "1", first["stop_id"])
    assert rows[0]["street"] and not rows[0]["street"].startswith("On or near")
    assert {r["synthetic"] for r in rows} == {"True"} and {r["plan_category"] for r in rows} == {"asb"}
    assert {r["approximate"] for r in rows} == {"True"}
    doc = c.get(f"/exports/plans/{saved_plan}.geojson").get_json()
    assert doc["context"]["kind"] == "plan" and doc["context"]["plan_id"] == saved_plan
    assert doc["context"]["teams"][0]["name"] == routes[0]["team"]["name"]
    assert doc["synthetic"] is True and doc["approximate"] is True
    assert all(f["properties"]["synthetic"] is True for f in doc["features"])
    gpx = c.get(f"/exports/plans/{saved_plan}.gpx").get_data(as_text=True)
    assert "DEMO DATA: synthetic incidents" in gpx and plan.period in gpx
    page = c.get(f"/plans/{saved_plan}").get_data(as_text=True)
    assert f"/exports/plans/{saved_plan}.csv" in page
