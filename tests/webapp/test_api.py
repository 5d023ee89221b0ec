"""The JSON API: the one error shape, parameter checks, GeoJSON, plans, visits, evaluation, OpenAPI."""

from __future__ import annotations

import h3
import numpy as np
import pytest
import shapely
from shapely.geometry import shape

from tests.webapp.conftest import login, make_token


@pytest.fixture
def api(app, token_for):
    """A function `api(method, path, role="analyst", **kw)` calling the API with a token."""
    c = app.test_client()
    tokens = {}

    def call(method: str, path: str, role: str = "admin", **kw):
        if role not in tokens:
            tokens[role] = token_for(role)
        headers = {"Authorization": f"Bearer {tokens[role]}", **kw.pop("headers", {})}
        return c.open(path, method=method, headers=headers, **kw)

    return call


def assert_error_shape(response, status: int | None = None, code: str | None = None) -> dict:
    assert response.status_code >= 400
    if status is not None:
        assert response.status_code == status, response.get_data(as_text=True)[:500]
    assert response.is_json, response.get_data(as_text=True)[:300]
    body = response.get_json()
    assert set(body) == {"error"}
    err = body["error"]
    assert set(err) == {"code", "message", "details"}
    assert isinstance(err["code"], str) and err["code"]
    assert isinstance(err["message"], str) and err["message"]
    assert isinstance(err["details"], dict)
    if code is not None:
        assert err["code"] == code, err
    return err


# ----------------------------------------------------------------------------- the error shape


def test_every_api_error_has_one_shape(app, api, saved_plan):
    anonymous = app.test_client()
    cases = [
        (anonymous.get("/api/v1/hotspots"), 401, "unauthorized"),
        (anonymous.post("/api/v1/plans", json={}), 401, "unauthorized"),
        (anonymous.get("/api/v1/openapi.json"), 401, "unauthorized"),
        (api("GET", "/api/v1/evaluation", role="viewer"), 403, "forbidden"),
        (api("POST", "/api/v1/plans", role="viewer", json={}), 403, "forbidden"),
        (api("GET", "/api/v1/no-such-thing"), 404, "not_found"),
        (api("GET", f"/api/v1/plans/{saved_plan + 100}"), 404, "not_found"),
        (api("DELETE", "/api/v1/hotspots"), 405, "method_not_allowed"),
        (api("GET", "/api/v1/visits"), 405, "method_not_allowed"),
        (api("GET", "/api/v1/hotspots?period=2025-W77"), 400, "invalid_parameter"),
        (api("GET", "/api/v1/hotspots?period=yesterday"), 400, "invalid_parameter"),
        (api("GET", "/api/v1/hotspots?category=burglary"), 400, "invalid_parameter"),
        (api("GET", "/api/v1/hotspots?wards=E99999999"), 400, "invalid_parameter"),
        (api("GET", "/api/v1/hotspots?top=lots"), 400, "invalid_parameter"),
        (api("GET", "/api/v1/hotspots?top=0"), 400, "invalid_parameter"),
        (api("GET", "/api/v1/hotspots?resolution=15"), 400, "invalid_parameter"),
        (api("GET", "/api/v1/hotspots?resolution=ten"), 400, "invalid_parameter"),
        (api("GET", "/api/v1/hotspots?weight=votes"), 400, "invalid_parameter"),
        (api("GET", "/api/v1/hotspots?colour=red"), 400, "invalid_parameter"),
        (api("GET", "/api/v1/hotspots?period=2025-06-01..2025-06-03"), 400, "invalid_parameter"),
        (api("GET", "/api/v1/wards?period=2025-13"), 400, "invalid_parameter"),
        (api("GET", "/api/v1/evaluation?periods=0"), 400, "invalid_parameter"),
        (api("GET", "/api/v1/evaluation?method=guess"), 400, "invalid_parameter"),
        (api("GET", "/api/v1/plans?limit=-1"), 400, "invalid_parameter"),
        (api("POST", "/api/v1/plans", data="not json", content_type="text/plain"), 400, "invalid_body"),
        (api("POST", "/api/v1/plans", json=[1, 2]), 400, "invalid_body"),
        (api("POST", "/api/v1/plans", json={"teams": 99}), 400, "invalid_parameter"),
        (api("POST", "/api/v1/plans", json={"dwell_min": 30}), 400, "invalid_parameter"),
        (api("POST", "/api/v1/plans", json={"mode": "fly"}), 400, "invalid_parameter"),
        (api("POST", "/api/v1/plans", json={"shift_start": "25:00"}), 400, "invalid_parameter"),
        (api("POST", "/api/v1/plans", json={"boss": "me"}), 400, "invalid_parameter"),
        (api("POST", "/api/v1/visits", json={"plan_id": saved_plan, "team": 0, "stop": 99}), 400,
         "invalid_parameter"),
        (api("POST", "/api/v1/visits", json={"plan_id": saved_plan, "team": "nobody", "stop": 1}), 400,
         "invalid_parameter"),
        (api("POST", "/api/v1/visits", json={"plan_id": saved_plan, "team": 0, "stop": 1,
                                             "arrived_at": "teatime"}), 400, "invalid_parameter"),
        (api("POST", "/api/v1/visits", json={"plan_id": saved_plan, "team": 0, "stop": 1,
                                             "action": "depart"}), 400, "invalid_parameter"),
    ]
    for response, status, code in cases:
        assert_error_shape(response, status, code)


def test_bad_parameter_is_named(api):
    for query, name in [("period=2025-W77", "period"), ("category=x", "category"),
                        ("wards=Narnia", "wards"), ("top=x", "top"), ("resolution=99", "resolution"),
                        ("weight=x", "weight"), ("colour=red", "colour")]:
        err = assert_error_shape(api("GET", f"/api/v1/hotspots?{query}"), 400)
        assert err["details"]["parameter"] == name
        assert f"`{name}`" in err["message"]


def test_csrf_failure_has_the_error_shape(app, saved_plan):
    c = app.test_client()
    login(c, "guardian", app.passwords["guardian"])
    response = c.post("/api/v1/visits", json={"plan_id": saved_plan, "team": 0, "stop": 1})
    assert_error_shape(response, 400, "csrf_failed")


def test_too_large_has_the_error_shape(app, api):
    app.config["MAX_CONTENT_LENGTH"] = 1000
    response = api("POST", "/api/v1/plans", data="x" * 5000, content_type="application/json")
    err = assert_error_shape(response, 413, "payload_too_large")
    assert "upload_limit_mb" in err["message"]


def test_server_error_has_the_error_shape(app, api, monkeypatch):
    data = app.extensions["hotspots_data"]

    def broken(*_a, **_k):
        raise RuntimeError("boom")

    monkeypatch.setattr(data, "hotspots_geojson", broken)
    err = assert_error_shape(api("GET", "/api/v1/hotspots"), 500, "internal_error")
    assert "boom" not in err["message"]  # no internals leak


def test_weekly_period_on_monthly_data_is_a_clear_400(monthly_app):
    c = monthly_app.test_client()
    headers = {"Authorization": f"Bearer {make_token(monthly_app, 'viewer')}"}
    err = assert_error_shape(c.get("/api/v1/hotspots?period=2025-W28", headers=headers), 400)
    assert err["details"]["parameter"] == "period"
    assert "month" in err["message"] and "2025-07" in err["message"]
    ok = c.get("/api/v1/hotspots?period=2025-06", headers=headers)
    assert ok.status_code == 200 and ok.get_json()["features"]


# ----------------------------------------------------------------------------- hotspots


def test_hotspots_geojson_follows_rfc7946(api):
    response = api("GET", "/api/v1/hotspots?category=asb&wards=priority", role="viewer")
    assert response.status_code == 200
    assert response.mimetype == "application/geo+json"
    assert response.headers["X-Hotspots-Demo"] == "true"
    doc = response.get_json()
    assert doc["type"] == "FeatureCollection" and "crs" not in doc
    assert len(doc["features"]) > 10
    ranks = [f["properties"]["rank"] for f in doc["features"]]
    assert ranks == sorted(ranks)
    for feature in doc["features"]:
        assert feature["type"] == "Feature"
        props = feature["properties"]
        cell = props["h3_cell"]
        assert isinstance(cell, str) and h3.is_valid_cell(cell) and h3.get_resolution(cell) == 10
        assert feature["id"] == cell
        for key in ("ward_code", "count", "harm", "gi_z", "hot", "trend", "rank", "reason"):
            assert key in props
        geom = shape(feature["geometry"])
        assert geom.geom_type == "Polygon" and geom.is_valid
        ring = np.asarray(feature["geometry"]["coordinates"][0])
        assert (ring[0] == ring[-1]).all()
        assert (-2.0 < ring[:, 0]).all() and (ring[:, 0] < -1.2).all()  # longitude first
        assert (53.6 < ring[:, 1]).all() and (ring[:, 1] < 54.0).all()
        assert shapely.is_ccw(geom.exterior)
        # The hexagon is the H3 cell itself.
        lat, lng = h3.cell_to_latlng(cell)
        assert geom.contains(shapely.Point(lng, lat))


def test_hotspots_top_and_category(api):
    doc = api("GET", "/api/v1/hotspots?top=5&category=serious_violence").get_json()
    assert len(doc["features"]) == 5
    assert "serious violence" in doc["features"][0]["properties"]["reason"]


def test_hotspots_for_chosen_wards(api):
    doc = api("GET", "/api/v1/hotspots?wards=E05011385").get_json()
    assert {f["properties"]["ward_code"] for f in doc["features"]} == {"E05011385"}
    doc = api("GET", "/api/v1/hotspots?wards=Armley&wards=E05011399").get_json()
    assert {f["properties"]["ward_code"] for f in doc["features"]} <= {"E05011385", "E05011399"}


def test_hotspots_are_cached_per_store_version(app, api):
    data = app.extensions["hotspots_data"]
    api("GET", "/api/v1/hotspots?top=3")
    misses = data.cache.misses
    api("GET", "/api/v1/hotspots?top=3")
    assert data.cache.misses == misses


# ----------------------------------------------------------------------------- wards


def test_wards(api):
    body = api("GET", "/api/v1/wards?category=asb", role="viewer").get_json()
    assert body["demo"] is True and body["category"] == "asb"
    assert len(body["wards"]) == 6
    row = body["wards"][0]
    for key in ("ward_code", "ward_name", "count", "harm", "count_per_km2", "change", "share_pct"):
        assert key in row
    assert "geometry" not in row
    assert abs(sum(r["share_pct"] for r in body["wards"]) - 100) < 1e-6


# ----------------------------------------------------------------------------- plans and visits


def test_plan_post_then_get(api):
    response = api("POST", "/api/v1/plans", role="guardian",
                   json={"category": "asb", "teams": 2, "shift_min": 90, "stops_per_ward": 3})
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert response.headers["Location"] == f"/api/v1/plans/{body['id']}"
    assert body["status"] == "draft" and body["approximate"] is True and body["demo"] is True
    assert len(body["plan"]["routes"]) == 2
    again = api("GET", body["links"]["self"], role="guardian").get_json()
    assert again["id"] == body["id"] and again["plan"] == body["plan"]
    listed = api("GET", "/api/v1/plans", role="guardian").get_json()["plans"]
    assert body["id"] in [p["id"] for p in listed]
    assert "plan" not in listed[0]


def test_visit_arrive_then_depart(api, saved_plan):
    arrive = api("POST", "/api/v1/visits", role="guardian",
                 json={"plan_id": saved_plan, "team": 0, "stop": 1,
                       "arrived_at": "2025-07-28T16:05:00+01:00"})
    assert arrive.status_code == 201
    depart = api("POST", "/api/v1/visits", role="guardian",
                 json={"plan_id": saved_plan, "team": 0, "stop": 1, "action": "depart",
                       "departed_at": "2025-07-28T16:21:00+01:00"})
    body = depart.get_json()
    assert depart.status_code == 201 and body["id"] == arrive.get_json()["id"]
    assert body["arrived_at"] == "2025-07-28T15:05:00Z"
    assert body["minutes"] == 16.0


def test_visit_with_both_times_at_once(api, saved_plan):
    body = api("POST", "/api/v1/visits", role="guardian",
               json={"plan_id": saved_plan, "team": 0, "stop": 2,
                     "arrived_at": "2025-07-28T17:00:00Z", "departed_at": "2025-07-28T17:12:00Z"}).get_json()
    assert body["minutes"] == 12.0


# ----------------------------------------------------------------------------- evaluation, OpenAPI


def test_evaluation(api):
    body = api("GET", "/api/v1/evaluation?periods=3&category=asb", role="analyst").get_json()
    assert body["periods"] == 3 and body["demo"] is True
    tests = {r["test_period"] for r in body["rows"]}
    assert len(tests) == 3
    coverages = sorted({r["coverage"] for r in body["rows"]})
    assert coverages == [0.001, 0.005, 0.01, 0.05]
    for r in body["rows"]:
        assert r["hit_rate"] is None or 0 <= r["hit_rate"] <= 1


def test_openapi_describes_every_endpoint(app, api):
    doc = api("GET", "/api/v1/openapi.json", role="viewer").get_json()
    assert doc["openapi"].startswith("3.")
    paths = set(doc["paths"])
    for rule in app.url_map.iter_rules():
        if rule.endpoint.startswith("api.") and rule.endpoint not in ("api.index", "api.openapi"):
            path = rule.rule.removeprefix("/api/v1").replace("<int:plan_id>", "{plan_id}")
            assert path in paths, path
    assert doc["components"]["schemas"]["Error"]["properties"]["error"]["required"] == [
        "code", "message", "details"]
