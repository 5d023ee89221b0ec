"""Stops from a hotspot ranking: choice, prize, dwell, windows, merging and snapping."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pytest
from geopandas.testing import assert_geodataframe_equal, assert_geoseries_equal

from hotspots import InputError
from routing import merge_stops, parse_window, snap_stops, stops_from_ranking
from routing.stops import STOP_COLUMNS
from tests.routing.conftest import grid_lonlat, ranking_frame


@pytest.fixture
def settings(home):
    """These small rankings put hotspots in touching cells to test one thing at a time, so each
    cell stays its own stop here; joining neighbours is tested on its own (test_stops.py)."""
    from hotspots.settings import get_settings

    return get_settings(home, patrol_join_ring=0)


def _two_wards():
    pts = [grid_lonlat(r + 0.3, c + 0.4) for r in range(2) for c in range(4)]
    codes = ["E05011399"] * 4 + ["E05012647"] * 4
    names = ["Hunslet & Riverside"] * 4 + ["Beeston & Holbeck"] * 4
    harm = [50, 40, 30, 20, 90, 80, 70, 60]
    return ranking_frame(pts, harm=harm, ward_code=codes, ward_name=names)


# ------------------------------------------------------------------ input checks


def test_empty_ranking(settings):
    empty = _two_wards().iloc[0:0]
    with pytest.raises(InputError, match="zero rows.*filter removed every row"):
        stops_from_ranking(empty, settings=settings)


def test_not_a_frame(settings):
    with pytest.raises(InputError, match="must be a GeoDataFrame"):
        stops_from_ranking([1, 2], settings=settings)


def test_no_crs(settings):
    frame = _two_wards()
    frame = gpd.GeoDataFrame(frame.drop(columns="geometry"), geometry=list(frame.geometry))
    with pytest.raises(InputError, match="no CRS"):
        stops_from_ranking(frame, settings=settings)


def test_unknown_prize(settings):
    with pytest.raises(InputError, match="`prize` is 'score'; expected one of harm, gi_z, count"):
        stops_from_ranking(_two_wards(), prize="score", settings=settings)


def test_missing_prize_column(settings):
    with pytest.raises(InputError, match="no column 'gi_z'"):
        stops_from_ranking(_two_wards().drop(columns="gi_z"), prize="gi_z", settings=settings)


@pytest.mark.parametrize("dwell", [9, 16.5, 30, "long"])
def test_dwell_outside_koper_range(dwell, settings):
    with pytest.raises(InputError, match="outside the 10 to 16 minutes"):
        stops_from_ranking(_two_wards(), dwell_min=dwell, settings=settings)


@pytest.mark.parametrize("window", ["16-23", "25:00-23:00", "evening"])
def test_bad_window(window, settings):
    with pytest.raises(InputError, match="HH:MM-HH:MM"):
        stops_from_ranking(_two_wards(), windows=window, settings=settings)


def test_per_ward_below_one(settings):
    with pytest.raises(InputError, match="`per_ward` must be at least 1"):
        stops_from_ranking(_two_wards(), per_ward=0, settings=settings)


def test_hot_only_with_no_hot_cell(settings):
    frame = _two_wards()
    frame["hot"] = False
    with pytest.raises(InputError, match="no cell of `ranking` is hot"):
        stops_from_ranking(frame, hot_only=True, settings=settings)


# ------------------------------------------------------------------ output contract


def test_contract(settings):
    stops = stops_from_ranking(_two_wards(), settings=settings)
    assert list(stops.columns) == [*STOP_COLUMNS, "geometry"]
    assert stops.crs == "EPSG:27700"
    assert (stops.geom_type == "Point").all()
    assert (stops["dwell_min"] == 15.0).all()
    assert (stops["prize_by"] == "harm").all()
    assert stops["window_start_min"].isna().all()
    # The stop is the hexagon's centre; its id is the H3 cell in hex.
    ranking = _two_wards().sort_values("rank")
    np.testing.assert_allclose(stops.geometry.x, ranking.geometry.centroid.x)
    assert stops["stop_id"].iloc[0] == format(int(ranking["h3_cell"].iloc[0]), "x")


def test_does_not_change_its_input(settings):
    frame = _two_wards()
    before = frame.copy()
    stops_from_ranking(frame, per_ward=2, settings=settings)
    assert_geodataframe_equal(frame, before)


def test_top_per_ward(settings):
    stops = stops_from_ranking(_two_wards(), per_ward=2, settings=settings)
    assert len(stops) == 4
    assert sorted(stops["harm"]) == [40, 50, 80, 90]
    assert stops["ward_code"].value_counts().to_dict() == {"E05011399": 2, "E05012647": 2}


def test_top_overall(settings):
    stops = stops_from_ranking(_two_wards(), top=3, settings=settings)
    assert list(stops["harm"]) == [90, 80, 70]
    assert list(stops["rank"]) == [1, 2, 3]


def test_prize_choices(settings):
    frame = _two_wards()
    assert list(stops_from_ranking(frame, top=2, settings=settings)["prize"]) == [90, 80]
    counts = stops_from_ranking(frame, top=2, prize="count", settings=settings)["prize"]
    assert list(counts) == [9, 8]
    gi = stops_from_ranking(frame, prize="gi_z", settings=settings)
    assert (gi["prize"] > 0).all()  # cells with z <= 0 are no stops
    assert len(gi) == (frame["gi_z"] > 0).sum()


def test_nothing_to_win(settings):
    frame = _two_wards()
    frame["harm"] = 0.0
    with pytest.raises(InputError, match="no cell of `ranking` has a harm above 0"):
        stops_from_ranking(frame, settings=settings)


def test_prize_setting_is_the_default(tmp_path):
    from hotspots.settings import get_settings

    s = get_settings(tmp_path, patrol_prize="count", patrol_stops_per_ward=1)
    stops = stops_from_ranking(_two_wards(), settings=s)
    assert list(stops["prize_by"]) == ["count", "count"]
    assert len(stops) == 2


def test_windows_by_category(settings):
    asb = stops_from_ranking(_two_wards(), category="asb", windows={"asb": "16:00-23:00"},
                             settings=settings)
    assert (asb["window_start_min"] == 16 * 60).all()
    assert (asb["window_end_min"] == 23 * 60).all()
    sv = stops_from_ranking(_two_wards(), category="serious_violence",
                            windows={"asb": "16:00-23:00"}, settings=settings)
    assert sv["window_start_min"].isna().all()


def test_window_across_midnight():
    assert parse_window("22:00-02:00") == (22 * 60, 26 * 60)


def test_merge_adds_prizes_of_the_same_cell(settings):
    frame = _two_wards()
    asb = stops_from_ranking(frame, top=3, category="asb", settings=settings)
    sv = stops_from_ranking(frame, top=2, category="serious_violence", settings=settings)
    both = merge_stops(asb, sv)
    assert len(both) == 3
    first = both.iloc[0]
    assert first["prize"] == 180
    assert first["category"] == "asb+serious_violence"
    assert both["stop_id"].is_unique


def test_merge_nothing():
    with pytest.raises(InputError, match="no stops to merge"):
        merge_stops()


def test_snap_reports_far_hotspots_and_does_not_move_them(grid_drive, settings):
    near = grid_lonlat(1.5, 1.5)
    far = grid_lonlat(-9, 2)  # about 800 m south of the grid
    stops = stops_from_ranking(ranking_frame([near, far]), top=2, settings=settings)
    before = stops.geometry.copy()
    snapped = snap_stops(stops, grid_drive)
    assert list(snapped["on_network"]) == [True, False]
    assert snapped["street_m"].iloc[0] < 100
    assert snapped["street_m"].iloc[1] > 500
    assert snapped["node"].iloc[0] in grid_drive
    assert_geoseries_equal(stops.geometry, before)


def test_empty_cells_are_no_stops_by_default(settings):
    frame = _two_wards()
    frame.loc[frame["harm"] == 90, "count"] = 0  # beside a cluster, but nothing happened there
    frame["hot"] = False
    frame.loc[frame["harm"] == 90, "hot"] = False
    stops = stops_from_ranking(frame, prize="gi_z", settings=settings)
    assert 90 not in stops["harm"].tolist()
    with_empty = stops_from_ranking(frame, prize="gi_z", with_empty=True, settings=settings)
    assert 90 in with_empty["harm"].tolist()
    frame["count"] = 0
    with pytest.raises(InputError, match="no cell of `ranking` holds an incident"):
        stops_from_ranking(frame, settings=settings)


def test_stops_carry_whether_their_cell_is_hot(settings):
    frame = _two_wards()
    stops = stops_from_ranking(frame, top=8, settings=settings).set_index("harm")
    by_harm = frame.set_index("harm")["hot"]
    assert stops["hot"].to_dict() == by_harm.loc[stops.index].to_dict()
    merged = merge_stops(stops.reset_index().assign(hot=False),
                         stops.reset_index().assign(category="serious_violence"))
    assert merged["hot"].tolist() == stops.sort_values("prize", ascending=False)["hot"].tolist()


def test_sparse_advisory_when_most_stops_are_single_chance_incidents(settings):
    from routing.stops import sparse_advisory

    frame = _two_wards()
    frame["hot"] = False
    frame["count"] = [1, 1, 1, 1, 1, 1, 3, 2]
    stops = stops_from_ranking(frame, top=8, settings=settings)
    text = sparse_advisory(stops, period="2025-W23")
    assert text == ("6 of 8 candidate stops hold a single incident per cell and are not a "
                    "significant hotspot: this period is too sparse to show where incidents "
                    "persist; plan on a "
                    "longer period, such as the month 2025-06 or the four weeks "
                    "2025-05-12..2025-06-08.")
    assert "the three months 2025-04-01..2025-06-30" in sparse_advisory(stops, period="2025-06")
    # Hot single-incident cells are real clusters; half or fewer singles is no warning.
    assert sparse_advisory(stops.assign(hot=True), period="2025-W23") is None
    frame["count"] = [1, 1, 1, 1, 2, 2, 3, 2]
    assert sparse_advisory(stops_from_ranking(frame, top=8, settings=settings)) is None
    assert sparse_advisory(stops.iloc[0:0]) is None


# ------------------------------------------------------------------ stop rules and must-visit places


def test_cells_without_incidents_are_no_stops(settings):
    from routing import select_stop_cells

    frame = _two_wards()
    frame.loc[frame.index[[0, 4]], "count"] = 0  # the best cell of each ward is empty
    cells, left_out = select_stop_cells(frame, settings=settings)
    assert len(cells) == 6 and (cells["count"] > 0).all()
    assert left_out == [{"rule": "no incidents", "cells": 2, "note": left_out[0]["note"]}]
    assert "2 cells with no incident" in left_out[0]["note"]
    frame.loc[frame.index[4], "count"] = 3  # one empty cell left: said in the singular
    _, left_out = select_stop_cells(frame, settings=settings)
    assert left_out[0]["note"].startswith("1 cell with no incident in the period is not a stop (it ")
    frame.loc[frame.index[4], "count"] = 0
    # The rule runs before the per-ward cut, so each ward still gets its two best real cells.
    stops = stops_from_ranking(frame, per_ward=2, settings=settings)
    assert sorted(stops["harm"]) == [30, 40, 70, 80]
    assert stops.attrs["left_out"][0]["rule"] == "no incidents"
    # Only when asked for.
    assert len(stops_from_ranking(frame, per_ward=2, with_empty=True, settings=settings)) == 4
    assert 90 in set(stops_from_ranking(frame, per_ward=2, with_empty=True,
                                        settings=settings)["harm"])


def test_a_ranking_of_empty_cells_gives_no_stops(settings):
    frame = _two_wards()
    frame["count"] = 0
    with pytest.raises(InputError, match="no stops.*8 cells with no incident"):
        stops_from_ranking(frame, settings=settings)
    empty = stops_from_ranking(frame, allow_empty=True, settings=settings)
    assert len(empty) == 0 and list(empty.columns) == [*STOP_COLUMNS, "geometry"]
    assert empty.attrs["left_out"][0]["cells"] == 8


def _places(points, **columns):
    return gpd.GeoDataFrame(columns, geometry=gpd.points_from_xy(*zip(*points, strict=True)),
                            crs="EPSG:4326")


def test_must_visit_stops_contract(settings):
    from routing import must_visit_stops

    must = must_visit_stops(_places([grid_lonlat(1, 1), grid_lonlat(2, 2)],
                                    stop_id=["Park", "Parade"], dwell_min=[20.0, np.nan]),
                            settings=settings)
    assert list(must.columns) == [*STOP_COLUMNS, "geometry"]
    assert must.crs == "EPSG:27700" and must["must_visit"].all()
    assert list(must["dwell_min"]) == [20.0, 15.0]  # its own dwell, else the setting
    assert list(must["stop_id"]) == ["Park", "Parade"]


@pytest.mark.parametrize(("columns", "message"), [
    ({"dwell_min": [0.0]}, "row 0: a dwell of 0 minutes is outside 0 to 240"),
    ({"dwell_min": [300.0]}, "row 0: a dwell of 300 minutes"),
])
def test_must_visit_input_errors(settings, columns, message):
    from routing import must_visit_stops

    with pytest.raises(InputError, match=message):
        must_visit_stops(_places([grid_lonlat(1, 1)], **columns), settings=settings)
    with pytest.raises(InputError, match="used more than once"):
        must_visit_stops(_places([grid_lonlat(1, 1), grid_lonlat(2, 2)], stop_id=["a", "a"]),
                         settings=settings)


def test_must_visit_place_in_a_ranked_cell_merges_with_its_stop(settings):
    from routing import add_must_visit, must_visit_stops

    stops = stops_from_ranking(_two_wards(), top=3, settings=settings)
    cell = format(int(stops["h3_cell"].iloc[2]), "x")  # an H3 cell as text
    must = must_visit_stops(_places([grid_lonlat(3, 3), grid_lonlat(1, 1)], h3_cell=[cell, None],
                                    dwell_min=[20.0, 10.0], reason=["Designated: Parade", ""]),
                            settings=settings)
    joined = add_must_visit(stops, must)
    assert len(joined) == 4  # one merged, one added
    merged = joined.iloc[2]
    assert merged["must_visit"] and merged["dwell_min"] == 20.0
    assert merged["reason"].startswith("Designated: Parade; ")
    assert merged["prize"] == stops["prize"].iloc[2]
    assert not joined["must_visit"].iloc[:2].any() and joined["must_visit"].iloc[3]


# ------------------------------------------------------------------ neighbouring cells join


def _at_cells(cells, harm, **kw):
    import h3

    points = [h3.cell_to_latlng(c)[::-1] for c in cells]
    frame = ranking_frame(points, harm=harm, **kw)
    assert [format(int(c), "x") for c in frame["h3_cell"]] == list(cells)
    return frame


def test_touching_cells_join_the_best_ones_stop(tmp_path):
    import h3

    from hotspots.settings import get_settings

    centre = h3.latlng_to_cell(53.7905, -1.5400, 10)
    ring = sorted(h3.grid_ring(centre, 1))
    far = sorted(h3.grid_ring(centre, 4))[0]
    beyond = sorted(c for c in h3.grid_ring(centre, 2) if h3.grid_distance(c, ring[0]) == 1)[0]
    cells = [ring[0], centre, ring[3], far, beyond]
    harm = [50.0, 90.0, 30.0, 70.0, 20.0]  # the centre is best: it takes in ring[0] and ring[3]
    frame = _at_cells(cells, harm)
    stops = stops_from_ranking(frame, settings=get_settings(tmp_path))  # default: one step
    assert list(stops["stop_id"]) == [centre, far, beyond]
    assert list(stops["cells"]) == [f"{centre},{ring[0]},{ring[3]}", far, beyond]
    # The place holds the incidents, harm and prize of all its cells; its point is the best's.
    counts = dict(zip(frame["h3_cell"].map(lambda c: format(int(c), "x")), frame["count"], strict=True))
    assert stops["count"].iloc[0] == counts[centre] + counts[ring[0]] + counts[ring[3]]
    assert stops["harm"].iloc[0] == 90 + 50 + 30 and stops["prize"].iloc[0] == 170
    assert stops["reason"].iloc[0] == (
        f"harm 90 days; with 2 neighbouring cells: {counts[ring[0]] + counts[ring[3]]} more incidents")
    lat, lon = h3.cell_to_latlng(centre)
    centre_xy = gpd.GeoSeries.from_xy([lon], [lat], crs="EPSG:4326").to_crs(27700).iloc[0]
    assert stops.geometry.iloc[0].distance(centre_xy) < 1
    # `beyond` touches ring[0], already in the centre's stop, not the centre: its own stop.
    # per_ward and top count places, not cells.
    assert len(stops_from_ranking(frame, per_ward=2, settings=get_settings(tmp_path))) == 2
    assert list(stops_from_ranking(frame, top=1, settings=get_settings(tmp_path))["cells"]) == [
        f"{centre},{ring[0]},{ring[3]}"]
    # Off, every cell is its own stop.
    apart = stops_from_ranking(frame, settings=get_settings(tmp_path, patrol_join_ring=0))
    assert len(apart) == 5 and list(apart["cells"]) == [apart["stop_id"].iloc[i] for i in range(5)]


def test_cells_of_another_ward_never_join(tmp_path):
    import h3

    from hotspots.settings import get_settings

    centre = h3.latlng_to_cell(53.7905, -1.5400, 10)
    ring = sorted(h3.grid_ring(centre, 1))
    frame = _at_cells([centre, ring[0], ring[1]], [90.0, 50.0, 40.0],
                      ward_code=["E05011399", "E05011399", "E05012647"],
                      ward_name=["Hunslet & Riverside", "Hunslet & Riverside", "Beeston & Holbeck"])
    stops = stops_from_ranking(frame, settings=get_settings(tmp_path))
    assert list(stops["cells"]) == [f"{centre},{ring[0]}", ring[1]]


def test_an_asb_stop_beside_a_violence_stop_is_one_place(tmp_path):
    import h3

    from hotspots.settings import get_settings
    from routing import join_neighbours, must_visit_stops

    settings = get_settings(tmp_path)
    centre = h3.latlng_to_cell(53.7905, -1.5400, 10)
    ring = sorted(h3.grid_ring(centre, 1))
    asb = stops_from_ranking(_at_cells([centre], [5.0], category="asb"), settings=settings)
    sv = stops_from_ranking(_at_cells([ring[2]], [900.0], category="serious_violence"),
                            settings=settings)
    merged = merge_stops(asb, sv)
    assert len(merged) == 2  # two cells: merge_stops joins only the same cell
    joined = join_neighbours(merged, ring=1)
    assert len(joined) == 1
    one = joined.iloc[0]
    assert one["stop_id"] == ring[2]  # the better prize keeps its place
    assert one["cells"] == f"{ring[2]},{centre}" and one["prize"] == 905.0
    assert one["category"] == "serious_violence+asb"
    assert one["reason"] == "harm 900 days; beside it: harm 5 days"
    assert joined.attrs == merged.attrs
    # A must-visit place neither joins nor takes in a neighbour.
    lat, lon = h3.cell_to_latlng(ring[3])
    must = must_visit_stops(gpd.GeoDataFrame({"h3_cell": [ring[3]]},
                                             geometry=gpd.points_from_xy([lon], [lat]),
                                             crs="EPSG:4326"), settings=settings)
    kept = join_neighbours(merge_stops(merged, must), ring=1)
    assert len(kept) == 2 and kept["must_visit"].sum() == 1
    assert join_neighbours(merged, ring=0) is merged
