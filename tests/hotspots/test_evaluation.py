"""evaluate_hotspots and the rolling backtest: input checks first, then hit rate, PAI and PEI by hand."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from hotspots import InputError
from hotspots.binning import study_area
from hotspots.evaluation import (
    EVALUATION_COLUMNS,
    evaluate_hotspots,
    rolling_backtest,
    summarise_backtest,
)
from hotspots.stats import gi_star
from tests.hotspots.hexes import (
    ASB,
    VIOLENCE,
    WHOLE_2025,
    centre,
    incidents,
    two_wards,
    week_day,
    whole_months,
)


@pytest.fixture
def wards():
    return two_wards()


A = centre(53.7945, -1.5410)
B = centre(53.7945, -1.5205)
C_ = centre(53.7970, -1.5330)
D = centre(53.7930, -1.5300)


def at(week, day=2):
    return week_day(week, day, hour=13)


def frame(rows, settings):
    return incidents(rows, settings, prefix="e")


@pytest.fixture
def data(settings):
    # Train (W22): A 10, B 5 violent (high harm), C 1. Test (W23): A 4, C 6, D 2.
    return frame([(A, at("2025-W22"), ASB, 10), (B, at("2025-W22"), VIOLENCE, 5), (C_, at("2025-W22"), ASB, 1),
                  (A, at("2025-W23"), ASB, 4), (C_, at("2025-W23"), ASB, 6), (D, at("2025-W23"), ASB, 2)],
                 settings)


def run(data, wards, settings, **kw):
    args = {"category": "all", "train_period": "2025-W22", "test_period": "2025-W23", "wards": wards,
            "settings": settings, "coverages": (0.001,), "method": "count"}
    args.update(kw)
    return evaluate_hotspots(data, **args)


# ----------------------------------------------------------------------------- input checks


def test_arguments_are_checked(data, wards, settings):
    with pytest.raises(InputError, match=r"^`method` is 'kde'; allowed values: gistar, count, harm\.$"):
        run(data, wards, settings, method="kde")
    with pytest.raises(InputError, match=r"^`coverages` is empty; give shares of the area such as \(0\.001, 0\.005, 0\.01, 0\.05\)\.$"):
        run(data, wards, settings, coverages=())
    with pytest.raises(InputError, match=r"^`coverages` holds 5\.0; coverages are shares of the study area above 0 and at most 1 \(0\.01 is 1%\)\.$"):
        run(data, wards, settings, coverages=(0.01, 5))
    with pytest.raises(InputError, match=r"^`coverages` must be numbers between 0 and 1, such as \(0\.001, 0\.01\), not 'x'\.$"):
        run(data, wards, settings, coverages="x")
    with pytest.raises(InputError, match=r"^`category` is 'burglary'; allowed values: asb, serious_violence, other, all\.$"):
        run(data, wards, settings, category="burglary")
    with pytest.raises(InputError, match=r"^`incidents` contains zero rows\. Has a filter removed every row\?$"):
        run(data.iloc[:0], wards, settings)
    with pytest.raises(InputError, match=r"^`periods` must be a whole number from 1 to 520, not 0\.$"):
        rolling_backtest(data, category="asb", period="2025-W23", periods=0, wards=wards, settings=settings)


# ----------------------------------------------------------------------------- output contract


def test_hit_rate_pai_pei_by_hand(data, wards, settings):
    area = study_area(wards, resolution=10)
    cell_km2 = dict(zip(area.cells.tolist(), area.area_km2, strict=True))
    total = area.total_area_km2
    got = run(data, wards, settings, coverages=(0.001, 0.005))
    assert got.columns.tolist() == EVALUATION_COLUMNS
    assert got["cells"].tolist() == [1, 2]  # 256 cells: 0.1% is one cell, 0.5% two
    one, two = got.iloc[0], got.iloc[1]
    # One cell: A (10 in training) catches 4 of 12; the best single cell was C with 6.
    assert (one["hits"], one["test_incidents"], one["best_hits"]) == (4, 12, 6)
    share = cell_km2[A[2]] / total
    np.testing.assert_allclose([one["hit_rate"], one["area_share"], one["pai"]], [4 / 12, share, (4 / 12) / share])
    best_pai = (6 / 12) / (cell_km2[C_[2]] / total)
    np.testing.assert_allclose(one["pei"], one["pai"] / best_pai)
    # Two cells: A and B catch 4; the best two (C, A) would have caught 10.
    assert (two["hits"], two["best_hits"]) == (4, 10)
    np.testing.assert_allclose(two["area_share"], (cell_km2[A[2]] + cell_km2[B[2]]) / total)
    assert got["train_period"].tolist() == ["2025-W22"] * 2 and got["test_period"].tolist() == ["2025-W23"] * 2


def test_methods_rank_cells_differently(data, wards, settings):
    by_harm = run(data, wards, settings, method="harm").iloc[0]
    assert by_harm["hits"] == 0  # B (violent, highest harm) had nothing in the test week
    by_count = run(data, wards, settings, method="count").iloc[0]
    assert by_count["hits"] == 4
    area = study_area(wards, resolution=10)
    train = np.zeros(area.n)
    for (_, _, cell), n in ((A, 10), (B, 5), (C_, 1)):
        train[area.locate(np.array([cell], dtype=np.uint64))[0]] = n
    z, _ = gi_star(train, area.neighbours)
    top = area.cells[np.lexsort((area.cells, -train, -z))[0]]
    test = {A[2]: 4, C_[2]: 6, D[2]: 2}
    assert run(data, wards, settings, method="gistar").iloc[0]["hits"] == test.get(int(top), 0)


def test_full_coverage_is_perfect(data, wards, settings):
    got = run(data, wards, settings, coverages=(1.0,)).iloc[0]
    assert got["cells"] == study_area(wards, resolution=10).n
    np.testing.assert_allclose([got["hit_rate"], got["pai"], got["pei"], got["area_share"]], 1.0)


def test_no_test_incidents_gives_nan(data, wards, settings):
    got = run(data, wards, settings, test_period="2025-W30", coverage=WHOLE_2025).iloc[0]
    assert got["test_incidents"] == 0 and np.isnan(got["hit_rate"]) and np.isnan(got["pai"]) and np.isnan(got["pei"])


def test_a_period_without_data_is_refused_naming_what_is_held(data, wards, settings):
    held = whole_months("2025-05", "2025-06")
    with pytest.raises(InputError, match=r"^no data for the test period 2025-W30: the store holds 2025-05\.\.2025-06\.$"):
        run(data, wards, settings, test_period="2025-W30", coverage=held)
    with pytest.raises(InputError, match=r"^no data for the training period 2025-04: the store holds 2025-05\.\.2025-06\.$"):
        run(data, wards, settings, train_period="2025-04", test_period="2025-06", coverage=held)
    # Without a coverage, what the incidents themselves hold.
    with pytest.raises(InputError, match=r"^no data for the test period 2025-W30: the incidents hold 2025-05\.\.2025-06\.$"):
        run(data, wards, settings, test_period="2025-W30")


def test_a_backtest_scores_only_pairs_with_data_in_both_periods(data, wards, settings):
    gap = whole_months("2025-02", "2025-03", "2025-05", "2025-06")
    got = rolling_backtest(data, category="all", period="2025-06", periods=4, wards=wards,
                           coverages=(0.01,), method="count", settings=settings, coverage=gap)
    assert got["test_period"].tolist() == ["2025-03", "2025-06"]
    assert got.attrs["periods_used"] == 2 and got.attrs["left_out"] == ["2025-04", "2025-05"]
    assert got.attrs["notes"] == ["2 of 4 periods scored: 2025-04, 2025-05 left out (the store holds "
                                  "no data for it or the period before it)."]
    summary = summarise_backtest(got)
    assert summary["periods"].tolist() == [2] and summary.attrs["periods_used"] == 2
    with pytest.raises(InputError, match=r"^no period of the backtest \(2025-05 to 2025-05\) has data for both"):
        rolling_backtest(data, category="all", period="2025-05", periods=1, wards=wards,
                         settings=settings, coverage=gap)


def test_rolling_backtest(data, wards, settings):
    got = rolling_backtest(data, category="all", period="2025-W23", periods=3, wards=wards,
                           coverages=(0.001, 0.01), method="count", settings=settings,
                           coverage=WHOLE_2025)
    assert got.columns.tolist() == EVALUATION_COLUMNS
    assert got["test_period"].tolist() == ["2025-W21", "2025-W21", "2025-W22", "2025-W22", "2025-W23", "2025-W23"]
    assert got["train_period"].tolist() == ["2025-W20", "2025-W20", "2025-W21", "2025-W21", "2025-W22", "2025-W22"]
    last = got[got["test_period"] == "2025-W23"].reset_index(drop=True)
    single = run(data, wards, settings, coverages=(0.001, 0.01))
    pd.testing.assert_frame_equal(last, single)
    summary = summarise_backtest(got)
    assert summary["coverage"].tolist() == [0.001, 0.01]
    assert summary["periods"].tolist() == [3, 3]
    np.testing.assert_allclose(summary["hit_rate"], got.groupby("coverage")["hit_rate"].mean().to_numpy())
    default = rolling_backtest(data, category="asb", period="2025-W23", wards=wards, settings=settings,
                               coverage=WHOLE_2025)
    assert default["test_period"].nunique() == settings.trend_weeks
