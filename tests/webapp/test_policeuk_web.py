"""The web app and the JSON API on realistic police.uk files (`tests.policeuk`): no change or trend
claimed without data, a period with no data refused plainly, every Leeds incident in a ward."""

from __future__ import annotations

import pytest

from tests.webapp.conftest import add_role_users, login, make_app, make_token

GAP = ["2024-12", "2025-02"]


@pytest.fixture
def gap_app(policeuk_home):
    application = make_app(policeuk_home(GAP))
    add_role_users(application)
    return application


@pytest.fixture
def viewer(gap_app):
    c = gap_app.test_client()
    assert login(c, "viewer", gap_app.passwords["viewer"]).status_code == 302
    return c


@pytest.fixture
def api(gap_app):
    c = gap_app.test_client()
    headers = {"Authorization": f"Bearer {make_token(gap_app, 'analyst')}"}
    return lambda path: c.get(path, headers=headers)


def test_map_and_ward_pages_refuse_a_month_with_no_data(viewer):
    for page in ("/map", "/wards"):
        response = viewer.get(f"{page}?period=2025-01&category=asb")
        text = response.get_data(as_text=True)
        assert response.status_code == 400, page
        assert "no data for 2025-01: the store holds 2024-12, 2025-02." in text
        assert "too few" not in text


def test_map_and_ward_pages_say_there_is_no_baseline(viewer):
    for page in ("/map", "/wards"):
        response = viewer.get(f"{page}?period=2025-02&category=serious_violence")
        text = response.get_data(as_text=True)
        assert response.status_code == 200, page
        assert "no baseline: the store holds no data for 2025-01, so no change is shown." in text
    text = viewer.get("/map?period=2025-02&category=serious_violence").get_data(as_text=True)
    assert "no trend: the store holds 2 of the last 6 months" in text
    table = text.split('<table class="ranked">', 1)[1]
    assert "up " not in table and "down " not in table and "persistent" not in table


def test_api_hotspots_carry_the_notes_and_no_change_or_trend(api):
    response = api("/api/v1/hotspots?period=2025-02&category=serious_violence")
    assert response.status_code == 200
    body = response.get_json()
    assert "no baseline: the store holds no data for 2025-01, so no change is shown." in body["notes"]
    assert body["features"]
    for feature in body["features"]:
        props = feature["properties"]
        assert props["change"] is None and props["change_significant"] is None and props["trend"] is None
        assert props["count"] > 0 or props["near_hot"]
    error = api("/api/v1/hotspots?period=2025-01")
    assert error.status_code == 400
    assert error.get_json()["error"]["message"] == (
        "`period`: no data for 2025-01: the store holds 2024-12, 2025-02.")


def test_api_ward_table_puts_every_incident_in_a_ward(api):
    body = api("/api/v1/wards?period=2025-02&category=all&wards=all").get_json()
    assert body["outside_wards"] == 0 and body["snapped"] > 0
    assert all(w["change"] is None and w["previous_count"] is None for w in body["wards"])
    assert "no baseline: the store holds no data for 2025-01, so no change is shown." in body["notes"]


def test_api_evaluation_refuses_a_backtest_without_data(api):
    response = api("/api/v1/evaluation?period=2025-02&periods=2&category=asb")
    assert response.status_code == 400
    assert response.get_json()["error"]["message"].startswith(
        "no period of the backtest (2025-01 to 2025-02) has data for both its training and its test period")


def test_ward_trend_lines_break_where_the_store_holds_no_data(viewer):
    text = viewer.get("/wards?period=2025-02&category=all").get_data(as_text=True)
    # Eight months back from 2025-02: only 2024-12 and 2025-02 hold data, never drawn as zeros.
    assert "no data, no data, no data, no data, no data" in text
    assert ": no data, no data, no data, no data, no data, " in text


def test_sparkline_draws_runs_and_skips_gaps():
    from webapp._charts import sparkline

    svg = str(sparkline([1, 2, None, 4, 5, None, 3], label="x"))
    assert svg.count("<polyline") == 2  # 1-2 and 4-5; the lone 3 is a dot
    assert "x: 1, 2, no data, 4, 5, no data, 3" in svg
    assert str(sparkline([None, None], label="x")) == ""


def test_the_map_names_streets_and_marks_institutions(viewer):
    page = viewer.get("/map?period=2025-02&category=serious_violence").get_data(as_text=True)
    assert "Mostly at a police station, prison or hospital: no patrols" in page
    table = page.split('<table class="ranked">', 1)[1]
    assert table.count("<strong>") == 20  # every top cell named by its street
    frame = viewer.get("/map/frame?period=2025-02&category=serious_violence").get_data(as_text=True)
    assert "Police Station, Beeston \\u0026 Holbeck" in frame  # the tooltip title, JSON-escaped
    assert "#542788" in frame  # the institution colour


def test_api_hotspots_carry_places_and_flags(api):
    body = api("/api/v1/hotspots?period=2025-02&category=serious_violence").get_json()
    props = [f["properties"] for f in body["features"]]
    flagged = [p for p in props if p["institution"]]
    assert {p["place"] for p in flagged} == {"Police Station", "Prison", "Hospital"}
    assert all(p["map_class"] == "institution" for p in flagged)
    assert all(p["place"] for p in props if p["count"])


def test_a_misspelt_ward_gets_a_suggestion_on_the_page_and_in_the_api(viewer, api):
    page = viewer.get("/map?period=2025-02&wards=Armely")
    assert page.status_code == 400
    assert "did you mean &#39;Armley&#39;?" in page.get_data(as_text=True)
    error = api("/api/v1/wards?period=2025-02&wards=Gipton and Harehills")
    assert error.status_code == 400
    assert "did you mean 'Gipton & Harehills'?" in error.get_json()["error"]["message"]


def test_a_web_plan_skips_institutions_and_says_it_has_no_baseline(gap_app):
    from tests.webapp.conftest import csrf_token

    c = gap_app.test_client()
    assert login(c, "guardian", gap_app.passwords["guardian"]).status_code == 302
    token = csrf_token(c, "/plans/")
    response = c.post("/plans/", data={"csrf_token": token, "period": "2025-02", "category": "both",
                                       "teams": ["Beeston & Holbeck", "Hunslet & Riverside"],
                                       "any_ward": "y", "shift_start": "16:00", "shift_min": "120",
                                       "dwell_min": "15", "mode": "drive", "stops_per_ward": "3"})
    assert response.status_code == 302, response.get_data(as_text=True)[:800]
    page = c.get(response.headers["Location"]).get_data(as_text=True)
    import re

    places = re.findall(r'<td class="stop-place"[^>]*><strong>([^<]+)</strong>', page)
    assert places, page[:500]
    assert not {"Police Station", "Prison", "Hospital"} & set(places)
    assert not any(p.startswith("On or near") for p in places)
    reasons = re.findall(r'<td class="reason"[^>]*>([^<]*)</td>', page)
    assert len(reasons) >= len(places)
    assert "up " not in "".join(reasons)
