"""The deployment pipeline: rank -> stops -> plan, as the CLI, the web app and the API run it."""

from __future__ import annotations

import geopandas as gpd
import pytest

from hotspots import InputError
from hotspots.settings import get_settings
from hotspots.store import IncidentStore
from routing import default_teams, plan_deployment, prepare_deployment, solve_deployment

WEEK = "2025-W30"


@pytest.fixture(scope="module")
def store(demo_home):
    return IncidentStore(demo_home, settings=get_settings(demo_home))


def _route_stops(plan):
    return [[(v.stop_id, round(v.arrival_min, 3)) for v in r.visits] for r in plan.routes]


def test_plan_from_a_store(store):
    settings = store.settings
    teams = default_teams(2, shift_min=120, settings=settings)
    plan = plan_deployment(store, period=WEEK, teams=teams, category="both", per_ward=3,
                           network="none", settings=settings)
    assert plan.approximate and plan.visits >= 4
    ctx = plan.context
    assert ctx["period"] == WEEK and ctx["categories"] == ["asb", "serious_violence"]
    assert ctx["wards"] == sorted(settings.priority_wards)
    assert 4 <= ctx["candidate_stops"] <= 36
    # Cells with no incident were left out before the per-ward cut, and the notes say so.
    rules = {(r["category"], r["rule"]) for r in ctx["left_out"]}
    assert ("asb", "no incidents") in rules and ("serious_violence", "no incidents") in rules
    assert any("candidate stops from the asb ranking of 2025-W30" in n for n in plan.notes)
    assert any("no street network asked for" in n for n in plan.notes)
    assert plan.to_dict()["deployment"]["candidate_stops"] == ctx["candidate_stops"]


def test_store_and_frame_give_the_same_plan(store):
    """From a store only the trend window is read; the plan is that of every incident."""
    settings = store.settings
    teams = default_teams(3, shift_min=90, settings=settings)
    kwargs = {"period": WEEK, "teams": teams, "category": "serious_violence", "per_ward": 4,
              "network": "none", "settings": settings, "time_limit_s": 30}
    from_store = plan_deployment(store, **kwargs)
    from_frame = plan_deployment(store.load(), **kwargs)
    assert from_store.stats["stopped"] in ("no improvement", "search complete")
    assert _route_stops(from_store) == _route_stops(from_frame)
    assert from_store.context == from_frame.context


def test_empty_cells_only_when_asked(store):
    settings = store.settings
    teams = default_teams(1, shift_min=60, settings=settings)
    # Prized by Gi*, an empty cell beside a cluster is worth something; still no stop by default.
    asked = prepare_deployment(store, period=WEEK, teams=teams, category="asb", top=400,
                               prize="gi_z", with_empty=True, network="none", settings=settings)
    default = prepare_deployment(store, period=WEEK, teams=teams, category="asb", top=400,
                                 prize="gi_z", network="none", settings=settings)
    assert (default.stops["count"] > 0).all()
    assert (asked.stops["count"] == 0).any()
    assert not any(r["rule"] == "no incidents" for r in asked.left_out)


def test_nothing_to_patrol(store):
    settings = store.settings
    with pytest.raises(InputError, match="holds no anti-social behaviour incidents for 2031-W02"):
        prepare_deployment(store, period="2031-W02", teams=default_teams(1, settings=settings),
                           category="asb", settings=settings)
    # From a frame the ranking refuses a period the frame holds no data for.
    with pytest.raises(InputError, match=r"^no data for 2031-W02: the incidents hold 2025-05\.\.2025-07\.$"):
        prepare_deployment(store.load(), period="2031-W02", category="asb",
                           teams=default_teams(1, settings=settings), settings=settings)


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"category": "drugs"}, "`category` is 'drugs'; expected one of asb, serious_violence, both"),
    ({"teams": []}, "`teams` is empty"),
    ({"wards": "Nowhere"}, "ward 'Nowhere' is not in the boundary file"),
    ({"network": "missing.graphml"}, "missing.graphml: network file not found"),
])
def test_input_errors(store, kwargs, message):
    settings = store.settings
    args = {"period": WEEK, "teams": default_teams(1, settings=settings), "settings": settings,
            **kwargs}
    with pytest.raises(InputError, match=message):
        prepare_deployment(store, **args)


def test_a_ranking_passed_in_must_match_the_plan(store):
    from hotspots.ranking import rank_hotspots

    settings = store.settings
    other_week = rank_hotspots(store.load(), category="asb", period="2025-W29", settings=settings)
    with pytest.raises(InputError, match="ranking passed in is of period '2025-W29'"):
        prepare_deployment(store, period=WEEK, category="asb", rankings={"asb": other_week},
                           teams=default_teams(1, settings=settings), settings=settings)


def test_must_visit_places_join_the_plan(store):
    settings = store.settings
    teams = default_teams(2, shift_min=120, settings=settings)
    # A designated place in Armley (no hotspot needed) with a 20-minute dosage.
    place = gpd.GeoDataFrame({"stop_id": ["Armley Town Street"], "dwell_min": [20.0]},
                             geometry=gpd.points_from_xy([-1.6155], [53.7990]), crs="EPSG:4326")
    dep = prepare_deployment(store, period=WEEK, teams=teams, category="asb", per_ward=2,
                             must_visit=place, network="none", settings=settings)
    assert dep.stops["must_visit"].sum() == 1
    plan = solve_deployment(dep)
    visit = next(v for r in plan.routes for v in r.visits if v.stop_id == "Armley Town Street")
    assert visit.must_visit and visit.dwell_min == 20.0
    assert plan.context["must_visit"] == 1 and plan.missed == []


def test_six_priority_wards_on_the_city_centre_extract(store, city_drive, tmp_path):
    """The extract barely reaches the six wards: the plan is made all the same, every leg to a
    stop or base off its streets a straight line marked approximate in every output."""
    import html
    import json

    import gpxpy

    from routing.network import import_network, save_network

    settings = get_settings(tmp_path / "home")
    extract = save_network(city_drive, tmp_path / "leeds_city_centre.graphml")
    done = import_network(extract, mode="drive", settings=settings)
    assert done.coverage["share"] < 0.01 and "WARNING" in done.sentences()[0]

    teams = default_teams(3, shift_min=180, settings=settings)  # bases at ward centroids
    plan = plan_deployment(store, period=WEEK, teams=teams, category="both", per_ward=5,
                           settings=settings, time_limit_s=30)
    assert any("covers them poorly" in n for n in plan.notes)
    assert any("legs are straight lines (approximate)" in n for n in plan.notes)
    assert not plan.approximate and plan.visits >= 6
    assert 0 < plan.approximate_legs <= plan.legs
    bases = [u for u in plan.off_network if u["kind"] == "base"]
    assert sorted(u["team"] for u in bases) == sorted(t.name for t in teams)
    # Per leg, in every output.
    doc = json.loads(plan.to_geojson())
    legs = [f for f in doc["features"] if f["properties"]["kind"] == "leg"]
    assert len(legs) == plan.legs
    assert sum(f["properties"]["approximate"] for f in legs) == plan.approximate_legs
    stops = [f for f in doc["features"] if f["properties"]["kind"] == "stop"]
    by_id = {v.stop_id: v for r in plan.routes for v in r.visits}
    for f in stops:
        assert f["properties"]["approximate"] == by_id[f["properties"]["stop_id"]].approximate
    every = plan.approximate_legs == plan.legs
    assert doc["note"] == plan.note and "more than 250 m from the street network" in plan.note
    assert plan.note.startswith("APPROXIMATE: every leg" if every else "PARTLY APPROXIMATE")
    gpx = gpxpy.parse(plan.to_gpx())
    assert gpx.name == ("Patrol plan (APPROXIMATE)" if every else
                        "Patrol plan (PARTLY APPROXIMATE)")
    assert all("legs APPROXIMATE" in r.description or "(APPROXIMATE)" in r.description
               for r in gpx.routes)
    assert any("reached by a straight line" in w.description for w in gpx.waypoints)
    sheet = plan.to_sheet_html()
    assert html.escape(plan.note) in sheet and "straight line: approximate" in sheet
    assert "Off the street network (reached by straight lines)" in sheet
