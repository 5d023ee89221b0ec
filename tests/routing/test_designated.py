"""Designated hotspots in the deployment pipeline: must-visit stops with their dosage's dwell, a
stop no shift can fit reported with why, teams kept to their home wards, owner teams, and the
seeded variation of when consecutive shifts visit them."""

from __future__ import annotations

import datetime as dt
import json
import re

import geopandas as gpd
import h3
import numpy as np
import pytest

from hotspots import InputError
from hotspots.wards import load_wards
from routing import Team, plan_deployment, prepare_deployment
from routing.designated import designated_stops, shift_slots
from tests.routing.conftest import ranking_frame

LITTLE_LONDON = "E05011403"  # Little London & Woodhouse: most of the city-centre extract
HUNSLET = "E05011399"  # Hunslet & Riverside: its south-east corner
ARMLEY = "E05011385"
DAY = dt.date(2025, 8, 11)


def _cell(lon: float, lat: float) -> str:
    return h3.latlng_to_cell(lat, lon, 10)


def _wards_of(points):
    wards = load_wards()
    pts = gpd.GeoSeries(gpd.points_from_xy(*zip(*points, strict=True)), crs="EPSG:4326").to_crs(
        wards.crs)
    out = []
    for p in pts:
        hit = wards[wards.contains(p)]
        out.append((str(hit["ward_code"].iloc[0]), str(hit["ward_name"].iloc[0])))
    return out


def _ranking(pts, harm):
    wards = _wards_of(pts)
    frame = ranking_frame(pts, harm=harm, ward_code=[c for c, _ in wards],
                          ward_name=[n for _, n in wards], category="asb")
    frame.attrs.update({"category": "asb", "period": "2025-W30"})
    return frame


@pytest.fixture(scope="module")
def city_ranking():
    """A ranking of 20 cells north of the river in central Leeds, where the OSM extract's
    streets are (Little London & Woodhouse)."""
    rng = np.random.default_rng(4)
    pts = list(zip(rng.uniform(-1.570, -1.550, 20), rng.uniform(53.801, 53.808, 20), strict=True))
    frame = _ranking(pts, rng.lognormal(3, 1, 20))
    assert set(frame["ward_code"]) == {LITTLE_LONDON}
    return frame


@pytest.fixture(scope="module")
def ward_ranking():
    """A ranking of 24 cells in three wards around the city centre: 14 north of the river
    (Little London & Woodhouse), 6 south of it (Hunslet & Riverside), 4 west (Armley); those
    south and west are worth the most."""
    rng = np.random.default_rng(4)
    boxes = [(14, -1.568, -1.550, 53.799, 53.805), (6, -1.562, -1.548, 53.7938, 53.7962),
             (4, -1.586, -1.582, 53.796, 53.802)]
    pts = [p for n, x0, x1, y0, y1 in boxes
           for p in zip(rng.uniform(x0, x1, n), rng.uniform(y0, y1, n), strict=True)]
    frame = _ranking(pts, rng.lognormal(3, 1, 24) * np.repeat([1, 10, 10], [14, 6, 4]))
    assert list(frame["ward_code"]) == [LITTLE_LONDON] * 14 + [HUNSLET] * 6 + [ARMLEY] * 4
    return frame


def _team(name, base, home=(), day=DAY, start=16, shift=120, mode="drive"):
    return Team(name, base, dt.datetime.combine(day, dt.time(start)), shift, mode, tuple(home))


def _visits(plan):
    return {r.team.name: [v for v in r.visits] for r in plan.routes}


# ------------------------------------------------------------------ designated stops


def test_designated_stops_from_plain_records(settings):
    a = _cell(-1.5600, 53.8050)
    area = sorted(h3.grid_disk(_cell(-1.5500, 53.8000), 1))
    stops = designated_stops([
        {"id": 7, "name": "Woodhouse Lane", "category": "asb", "cells": [a], "team": "North",
         "dwell_min": 20},
        {"id": 8, "name": "Park Row", "category": "serious_violence", "cells": area},
    ], settings=settings)
    assert list(stops["hotspot_id"]) == [7, 8]
    assert stops["must_visit"].all()
    # One cell: that cell; seven cells: the middle one (its centre is the area's centroid).
    assert list(stops["stop_id"]) == [a, _cell(-1.5500, 53.8000)]
    np.testing.assert_allclose(stops["dwell_min"], [20.0, settings.hotspot_minutes_per_visit])
    assert stops["teams"].iloc[0] == ("North",) and stops["teams"].iloc[1] is None
    assert list(stops["ward_code"]) == [LITTLE_LONDON, LITTLE_LONDON]
    assert stops["reason"].iloc[0].startswith("designated hotspot 7: Woodhouse Lane")
    assert stops.crs == "EPSG:27700"


@pytest.mark.parametrize(("record", "message"), [
    ({"name": "x", "cells": ["8a194ad32a57fff"]}, "record 1 has no `id`"),
    ({"id": 3, "cells": []}, "designated hotspot 3 has no `cells`"),
    ({"id": 3, "cells": ["nothex"]}, "designated hotspot 3: 'nothex' is not an H3 cell"),
    ({"id": 3, "cells": ["8a194ad32a57fff"], "dwell_min": 300}, "a visit of 300 minutes"),
])
def test_designated_record_errors(settings, record, message):
    with pytest.raises(InputError, match=re.escape(message)):
        designated_stops([record], settings=settings)


# ------------------------------------------------------------------ in the plan


def test_must_visit_included_before_the_ranked_cells(settings, city_ranking, city_drive):
    """On the real street network: the team's designated hotspots are in its route with their
    dwell, the rest of the shift holds top-ranked cells, and the ranked cells inside a
    designated area join its stop."""
    ranked = city_ranking.sort_values("rank")
    inside = ranked.iloc[0]  # the best cell becomes (part of) a designated area
    lon, lat = h3.cell_to_latlng(h3.int_to_str(int(inside["h3_cell"])))[::-1]
    area = [h3.int_to_str(int(inside["h3_cell"]))]
    low = ranked.iloc[-1]  # the worst cell: a plan would never choose it on its own
    low_cell = h3.int_to_str(int(low["h3_cell"]))
    team = _team("Centre", (-1.5530, 53.7985), shift=90)
    records = [{"id": 1, "name": "Top cell", "category": "asb", "cells": area, "team": "Centre",
                "dwell_min": 25},
               {"id": 2, "name": "Quiet corner", "category": "asb", "cells": [low_cell],
                "team": "Centre", "dwell_min": 12}]
    plan = plan_deployment(None, period="2025-W30", teams=[team], category="asb", top=24,
                           rankings={"asb": city_ranking}, designated=records,
                           network=city_drive, any_ward=True, settings=settings,
                           time_limit_s=5)
    assert not plan.approximate
    visits = plan.routes[0].visits
    by_hotspot = {v.hotspot_id: v for v in visits if v.hotspot_id is not None}
    assert set(by_hotspot) == {1, 2}
    assert by_hotspot[1].dwell_min == 25 and by_hotspot[2].dwell_min == 12
    assert by_hotspot[1].stop_id == area[0] and by_hotspot[2].stop_id == low_cell
    assert by_hotspot[1].must_visit and by_hotspot[1].hotspot_name == "Top cell"
    # The designated cells are no longer stops of their own.
    assert sum(v.stop_id in (area[0], low_cell) for v in visits) == 2
    # The rest of the shift is filled with ranked cells.
    assert len(visits) > 2
    assert plan.missed == []
    ctx = plan.context
    assert {d["hotspot_id"] for d in ctx["designated"]} == {1, 2}
    assert ctx["shift"]["date"] == DAY.isoformat() and ctx["shift"]["start"] == "16:00"
    feature = next(f for f in json.loads(plan.to_geojson())["features"]
                   if f["properties"].get("hotspot_id") == 1)
    assert feature["properties"]["hotspot_name"] == "Top cell"
    assert feature["properties"]["must_visit"] is True


def test_a_stop_that_cannot_fit_is_reported(settings, city_ranking):
    """A designated hotspot in Otley, 15 km away, cannot fit a 60-minute foot patrol from the
    city centre: it is reported with why in the plan, its dict, GeoJSON and sheet."""
    far = _cell(-1.6920, 53.9050)
    team = _team("Centre", (-1.5530, 53.7985), shift=60, mode="walk")
    records = [{"id": 4, "name": "Otley market", "category": "asb", "cells": [far],
                "team": "Centre"}]
    plan = plan_deployment(None, period="2025-W30", teams=[team], category="asb", top=5,
                           rankings={"asb": city_ranking}, designated=records, network="none",
                           any_ward=True, settings=settings, time_limit_s=2)
    assert [u["hotspot_id"] for u in plan.missed] == [4]
    missed = plan.missed[0]
    assert missed["stop_id"] == far and missed["hotspot_name"] == "Otley market"
    assert re.search(r"Centre: going there and back takes \d+ min and the visit 15 min, more "
                     r"than the 60-minute shift", missed["why"])
    assert all(v.hotspot_id is None for v in plan.routes[0].visits)
    assert plan.visits >= 1  # the ranked cells still fill the shift
    assert any("1 must-visit stop fits no shift: designated hotspot 4 (Otley market)" in n
               for n in plan.notes)
    as_dict = plan.to_dict()
    assert as_dict["missed_must_visit"][0]["hotspot_id"] == 4
    doc = json.loads(plan.to_geojson())
    assert doc["missed_must_visit"][0]["why"] == missed["why"]
    point = next(f for f in doc["features"] if f["properties"]["kind"] == "missed")
    assert point["properties"]["hotspot_id"] == 4
    np.testing.assert_allclose(point["geometry"]["coordinates"],
                               h3.cell_to_latlng(far)[::-1], atol=1e-5)
    assert "designated hotspot 4 (Otley market)" in plan.to_sheet_html()


def test_home_wards_are_respected(settings, ward_ranking):
    import dataclasses

    settings = dataclasses.replace(settings, patrol_join_ring=0)  # one stop per cell, counted below
    north = _team("North", (-1.5530, 53.8040), home=[LITTLE_LONDON], shift=120)
    south = _team("South", (-1.5474, 53.7955), home=[HUNSLET], shift=120)
    kwargs = {"period": "2025-W30", "teams": [north, south], "category": "asb", "top": 24,
              "rankings": {"asb": ward_ranking}, "network": "none", "settings": settings,
              "time_limit_s": 3}
    wards = {"North": LITTLE_LONDON, "South": HUNSLET}
    plan = plan_deployment(None, **kwargs, wards=[LITTLE_LONDON, HUNSLET, ARMLEY])
    visited = {r.team.name: {v.ward_code for v in r.visits} for r in plan.routes}
    assert visited["North"] == {LITTLE_LONDON}
    assert visited["South"] <= {HUNSLET} and visited["South"]
    # Cells in the other wards of the ranking are left out, and the notes say so.
    others = (~ward_ranking["ward_code"].isin(list(wards.values()))).sum()
    assert others > 0
    assert any(f"{others} candidate stops lie outside the chosen teams' home wards" in n
               for n in plan.notes)
    # Asked otherwise, the teams go anywhere: North crosses to the richer wards.
    free = plan_deployment(None, **kwargs, any_ward=True)
    crossed = {v.ward_code for v in free.route("North").visits} - {LITTLE_LONDON}
    assert crossed


def test_home_wards_choose_the_wards_ranked(settings, city_ranking):
    north = _team("North", (-1.5530, 53.8040), home=[LITTLE_LONDON, HUNSLET])
    dep = prepare_deployment(None, period="2025-W30", teams=[north], category="asb", top=24,
                             rankings={"asb": city_ranking}, network="none", settings=settings)
    assert dep.ward_codes == tuple(sorted([LITTLE_LONDON, HUNSLET]))


def test_an_owned_hotspot_goes_to_its_team(settings, city_ranking):
    cell, other = _cell(-1.5600, 53.8050), _cell(-1.5650, 53.8030)
    north = _team("North", (-1.5530, 53.8040), home=[LITTLE_LONDON])
    south = _team("South", (-1.5474, 53.7955), home=[LITTLE_LONDON])
    records = [{"id": 9, "name": "Owned", "category": "asb", "cells": [cell], "team": "South"},
               {"id": 10, "name": "Elsewhere", "category": "asb", "cells": [other],
                "team": "East"}]
    plan = plan_deployment(None, period="2025-W30", teams=[north, south], category="asb",
                           top=10, rankings={"asb": city_ranking}, designated=records,
                           network="none", settings=settings, time_limit_s=2)
    owners = {v.hotspot_id: r.team.name for r in plan.routes for v in r.visits if v.hotspot_id}
    assert owners == {9: "South"}
    left = plan.context["designated_left_out"]
    assert [(r["hotspot_id"], r["why"]) for r in left] == [(10, "its team East is not on this plan")]
    assert any("designated hotspot 10 (Elsewhere) is not in this plan" in n for n in plan.notes)


def test_two_hotspots_on_one_cell_share_a_stop(settings):
    cell = _cell(-1.5600, 53.8050)
    stops = designated_stops([
        {"id": 1, "name": "ASB", "category": "asb", "cells": [cell], "dwell_min": 10},
        {"id": 2, "name": "SV", "category": "serious_violence", "cells": [cell], "dwell_min": 20},
    ], settings=settings)
    assert len(stops) == 1
    assert stops["hotspot_name"].iloc[0] == "ASB + SV" and stops["dwell_min"].iloc[0] == 20
    with pytest.raises(InputError, match="designated hotspots of different teams share the cell"):
        designated_stops([{"id": 1, "cells": [cell], "team": "A"},
                          {"id": 2, "cells": [cell], "team": "B"}], settings=settings)


def test_an_unowned_hotspot_outside_every_home_ward_is_reported(settings, city_ranking):
    north = _team("North", (-1.5530, 53.8040), home=[LITTLE_LONDON])
    armley = _cell(-1.6155, 53.7990)
    dep = prepare_deployment(None, period="2025-W30", teams=[north], category="asb", top=10,
                             rankings={"asb": city_ranking}, network="none", settings=settings,
                             designated=[{"id": 5, "name": "Town Street", "cells": [armley]}])
    assert dep.designated_left_out[0]["hotspot_id"] == 5
    assert "outside every chosen team's home wards" in dep.designated_left_out[0]["why"]


# ------------------------------------------------------------------ variation


@pytest.mark.parametrize("k", [1, 2, 3, 4, 6])
def test_consecutive_shifts_never_repeat(k):
    slots = [shift_slots("team|960|a|b", day, k) for day in range(739000, 739060)]
    n = max(k, 3)
    for a, b in zip(slots[:-1], slots[1:], strict=True):
        assert len(set(a)) == k and all(0 <= s < n for s in a)
        if k == 1:
            assert a != b
        else:
            # The stops' order by slot differs.
            assert np.argsort(a).tolist() != np.argsort(b).tolist()
    assert slots == [shift_slots("team|960|a|b", day, k) for day in range(739000, 739060)]
    assert len(set(slots)) > 2  # not just two alternating patterns


def test_consecutive_shifts_vary_order_with_the_same_dosage(settings, city_ranking):
    cells = [_cell(lon, lat) for lon, lat in [(-1.5680, 53.8010), (-1.5620, 53.8060),
                                              (-1.5560, 53.8000), (-1.5500, 53.8050)]]
    records = [{"id": i + 1, "name": f"H{i + 1}", "category": "asb", "cells": [c],
                "team": "North", "dwell_min": 10 + i} for i, c in enumerate(cells)]

    def plan_for(day):
        team = _team("North", (-1.5530, 53.8040), home=[LITTLE_LONDON], day=day, shift=240)
        return plan_deployment(None, period="2025-W30", teams=[team], category="asb", top=8,
                               rankings={"asb": city_ranking}, designated=records,
                               network="none", settings=settings, time_limit_s=3)

    def designated(plan):
        return [(v.hotspot_id, v.dwell_min, round(v.start_min)) for v in plan.routes[0].visits
                if v.hotspot_id is not None]

    monday, tuesday = plan_for(DAY), plan_for(DAY + dt.timedelta(days=1))
    a, b = designated(monday), designated(tuesday)
    assert [h for h, _, _ in a] != [h for h, _, _ in b]  # another order
    assert sorted((h, d) for h, d, _ in a) == sorted((h, d) for h, d, _ in b)  # same dosage
    assert len(a) == 4
    assert {h: t for h, _, t in a} != {h: t for h, _, t in b}  # at other times
    assert designated(plan_for(DAY)) == a  # reproducible
    # Each visit starts in its drawn slot.
    windows = {d["hotspot_id"]: d["window"] for d in monday.context["designated"]}
    assert all(windows.values())
    # Without variation, both days give the same plan.
    fixed = [plan_deployment(None, period="2025-W30", category="asb", top=8, vary=False,
                             teams=[_team("North", (-1.5530, 53.8040), home=[LITTLE_LONDON],
                                          day=d, shift=240)],
                             rankings={"asb": city_ranking}, designated=records,
                             network="none", settings=settings, time_limit_s=3)
             for d in (DAY, DAY + dt.timedelta(days=1))]
    assert [h for h, _, _ in designated(fixed[0])] == [h for h, _, _ in designated(fixed[1])]
