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


def test_every_cell_is_labelled_with_its_majority_ward_whatever_wards_are_chosen(one_month, settings):
    every = rank_hotspots(one_month, category="all", period="2025-02", wards="all", settings=settings)
    truth = dict(zip(every["h3_cell"].tolist(), every["ward_code"], strict=True))
    for spec in ("priority", "E05011399", "Hunslet & Riverside,Little London & Woodhouse"):
        got = rank_hotspots(one_month, category="all", period="2025-02", wards=spec, settings=settings)
        assert all(truth[c] == w for c, w in zip(got["h3_cell"].tolist(), got["ward_code"], strict=True))
    hunslet = rank_hotspots(one_month, category="all", period="2025-02", wards="E05011399", settings=settings)
    assert (hunslet["ward_code"] == "E05011399").all()
    assert hunslet.attrs["cells_left_out"] > 0
    # Cells mostly in Little London & Woodhouse come back when it is chosen too.
    both = rank_hotspots(one_month, category="all", period="2025-02",
                         wards="E05011399,E05011403", settings=settings)
    centre = set(both.loc[both["ward_code"] == "E05011403", "h3_cell"])
    assert centre and not centre & set(hunslet["h3_cell"])


def test_the_ward_table_puts_every_leeds_incident_in_a_ward(one_month, settings):
    from hotspots.ranking import rank_wards

    table = rank_wards(one_month, category="all", period="2025-02", wards="all", settings=settings)
    assert table.attrs["unassigned"] == 0
    assert table.attrs["snapped"] > 0  # the snap points just past the city edge
    assert table["count"].sum() == len(one_month)
    import dataclasses

    strict = dataclasses.replace(settings, ward_snap_m=0.0)
    pip_only = rank_wards(one_month, category="all", period="2025-02", wards="all", settings=strict)
    assert pip_only.attrs["unassigned"] == table.attrs["snapped"]
    assert pip_only.attrs["snapped"] == 0
