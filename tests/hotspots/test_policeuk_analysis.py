"""The analysis on realistic police.uk files (`tests.policeuk`): what it calls a hotspot, which
ward a cell is in, what the places are, and that it claims no change or trend without data."""

from __future__ import annotations

import pytest

from hotspots.ranking import rank_hotspots
from hotspots.store import IncidentStore

ONE_MONTH = ["2025-02"]


@pytest.fixture
def one_month(policeuk_home, settings):
    home = policeuk_home(ONE_MONTH)
    return IncidentStore(home, settings=settings).load()


@pytest.mark.parametrize("category", ["serious_violence", "asb"])
def test_hot_cells_hold_incidents_and_empty_cells_rank_last(one_month, settings, category):
    got = rank_hotspots(one_month, category=category, period="2025-02", settings=settings)
    assert got["hot"].any()
    assert (got.loc[got["hot"], "count"] >= settings.hot_min_count).all()
    near = got[got["near_hot"]]
    assert (near["count"] == 0).all()
    assert not near["reason"].str.contains("; a hotspot").any()
    busy = int((got["count"] > 0).sum())
    assert (got["count"].iloc[:busy] > 0).all() and (got["count"].iloc[busy:] == 0).all()


def test_hot_min_count_raises_the_bar(one_month, settings):
    import dataclasses

    strict = dataclasses.replace(settings, hot_min_count=5)
    got = rank_hotspots(one_month, category="serious_violence", period="2025-02", settings=strict)
    assert got["hot"].any()
    assert (got.loc[got["hot"], "count"] >= 5).all()
    assert (got.loc[got["near_hot"], "count"] < 5).all()
    assert got.attrs["hot_min_count"] == 5
