"""Patrol stops from rankings of realistic police.uk files (`tests.policeuk`)."""

from __future__ import annotations

import pytest

from hotspots.ranking import rank_hotspots
from hotspots.store import IncidentStore
from routing.stops import sparse_advisory, stops_from_ranking


@pytest.fixture
def one_month(policeuk_home, settings):
    return IncidentStore(policeuk_home(["2025-02"]), settings=settings).load()


@pytest.mark.parametrize("category", ["serious_violence", "asb"])
def test_no_stop_in_a_cell_without_incidents(one_month, settings, category):
    ranking = rank_hotspots(one_month, category=category, period="2025-02", settings=settings)
    assert ranking["near_hot"].any() or category == "asb"
    stops = stops_from_ranking(ranking, category=category, prize="gi_z", settings=settings)
    assert (stops["count"] >= 1).all()
    assert not set(stops["h3_cell"]) & set(ranking.loc[ranking["count"] == 0, "h3_cell"])


def test_a_month_of_asb_is_too_sparse_to_plan_on_and_the_plan_says_so(one_month, settings):
    asb = rank_hotspots(one_month, category="asb", period="2025-02", settings=settings)
    text = sparse_advisory(stops_from_ranking(asb, category="asb", settings=settings), period="2025-02")
    assert text is not None and "too sparse" in text and "longer period" in text
    sv = rank_hotspots(one_month, category="serious_violence", period="2025-02", settings=settings)
    assert sparse_advisory(stops_from_ranking(sv, category="serious_violence", settings=settings)) is None


def test_institution_cells_are_no_stops_unless_asked(one_month, settings):
    ranking = rank_hotspots(one_month, category="serious_violence", period="2025-02", settings=settings)
    flagged = set(ranking.loc[ranking["institution"], "h3_cell"])
    assert len(flagged) == 4
    def covered(stops):  # every cell of every stop, a stop's joined neighbours included
        return {int(c, 16) for cells in stops["cells"] for c in cells.split(",")}

    stops = stops_from_ranking(ranking, category="serious_violence", per_ward=200, settings=settings)
    assert not flagged & covered(stops)
    [rule] = [r for r in stops.attrs["left_out"] if r["rule"] == "institution"]
    assert rule["cells"] == 4 and "police station, prison or hospital" in rule["note"]
    kept = stops_from_ranking(ranking, category="serious_violence", per_ward=200,
                              with_institutions=True, settings=settings)
    assert flagged <= covered(kept)
    import dataclasses

    allow = dataclasses.replace(settings, patrol_skip_institutions=False)
    assert flagged <= covered(stops_from_ranking(ranking, category="serious_violence", per_ward=200,
                                                 settings=allow))


def test_a_plan_names_its_stops_by_street_and_skips_institutions(policeuk_home, settings):
    from routing import default_teams, plan_deployment

    store = IncidentStore(policeuk_home(["2025-02"]), settings=settings)
    plan = plan_deployment(store, period="2025-02", category="serious_violence", per_ward=3,
                           teams=default_teams(2, shift_min=120, settings=settings),
                           network="none", settings=settings)
    visits = [v for r in plan.routes for v in r.visits]
    assert visits and all(v.place and not v.place.startswith("On or near") for v in visits)
    assert not {"Police Station", "Prison", "Hospital"} & {v.place for v in visits}
    assert any(r["rule"] == "institution" for r in plan.context["left_out"])
    gpx = plan.to_gpx()
    assert all(f"{v.seq:02d} {v.place}" in gpx for v in visits)
    sheet = plan.to_sheet_html()
    assert all(v.place in sheet for v in visits)
    assert plan.to_dict()["routes"][0]["visits"][0]["place"] == plan.routes[0].visits[0].place
