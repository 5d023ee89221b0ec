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
