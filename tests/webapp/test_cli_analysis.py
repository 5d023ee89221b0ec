"""`hotspots rank`, `hotspots wards` and `hotspots evaluate`: errors first, then what they print."""

from __future__ import annotations

import io
import json

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from hotspots.periods import parse_period
from hotspots.schema import make_incidents
from hotspots.settings import get_settings
from hotspots.store import IncidentStore
from hotspots.wards import load_wards
from webapp.cli import cli

HUNSLET = "E05011399"
ARMLEY = "E05011385"


def _points(settings, code, n, rng):
    ward = load_wards(settings=settings).set_index("ward_code").loc[code, "geometry"]
    p = ward.representative_point()
    return p.x + rng.normal(0, 60, n), p.y + rng.normal(0, 60, n)


def _frame(settings, *, weeks=("2025-W20", "2025-W21", "2025-W22", "2025-W23"), precision="minute", seed=0):
    rng = np.random.default_rng(seed)
    xs, ys, times, types = [], [], [], []
    for k, week in enumerate(weeks):
        start = parse_period(week).start.tz_localize(None)
        for code, n, crime in ((HUNSLET, 6 + 3 * k, "Anti-social behaviour"), (ARMLEY, 3, "Anti-social behaviour"),
                               (HUNSLET, 2, "Violence and sexual offences")):
            x, y = _points(settings, code, n, rng)
            xs += list(x)
            ys += list(y)
            times += [start + pd.Timedelta(days=int(d), hours=20) for d in rng.integers(0, 7, n)]
            types += [crime] * n
    if precision == "month":
        times = [pd.Timestamp(t.year, t.month, 1) for t in times]
    return make_incidents(incident_id=[f"t{seed}-{i}" for i in range(len(xs))], occurred_at=pd.Series(times),
                          time_precision=precision, crime_type=types, x=xs, y=ys, source="test",
                          settings=settings)


@pytest.fixture
def store_home(home):
    settings = get_settings(home)
    IncidentStore(home, settings=settings).add(_frame(settings))
    return home


def run(home, *args):
    result = CliRunner().invoke(cli, ["--home", str(home), *args], catch_exceptions=False)
    return result


# ----------------------------------------------------------------------------- errors


def test_empty_store(home):
    result = run(home, "rank")
    assert result.exit_code == 2
    assert result.stderr == "error: the store is empty: run `hotspots demo` or `hotspots ingest FILE` first.\n"


def test_period_options_are_checked(store_home):
    result = run(store_home, "rank", "--week", "2025-W23", "--month", "2025-06")
    assert result.exit_code == 2
    assert result.stderr == "error: give one of --week, --month, --period or --from/--to, not several.\n"
    result = run(store_home, "wards", "--from", "2025-06-01")
    assert result.stderr == "error: give both --from and --to (e.g. --from 2025-06-01 --to 2025-06-14).\n"
    result = run(store_home, "rank", "--week", "2025-06")
    assert result.stderr == ("error: --week '2025-06' is not an ISO week such as 2025-W23 (for the month "
                             "use --month 2025-06; for ISO week 6, 2025-W06).\n")
    result = run(store_home, "rank", "--month", "2025-W23")
    assert result.stderr == "error: --month '2025-W23' is not a month such as 2025-06.\n"
    result = run(store_home, "rank", "--week", "2025-W60")
    assert result.stderr == "error: period '2025-W60': 2025 has no ISO week 60.\n"


def test_no_incidents_in_the_period(store_home):
    result = run(store_home, "rank", "--week", "2024-W10")
    assert result.exit_code == 2
    assert result.stderr == "error: no data for 2024-W10: the store holds 2025-05..2025-06.\n"


def test_a_week_of_monthly_data_suggests_the_month(home):
    settings = get_settings(home)
    IncidentStore(home, settings=settings).add(_frame(settings, precision="month"))
    result = run(home, "rank", "--week", "2025-W22")
    assert result.exit_code == 2
    assert result.stderr.startswith("error: period '2025-W22' is a week, but ")
    assert result.stderr.endswith("carry only their month (police.uk publishes months, not days); analyse the "
                                  "month instead, e.g. '2025-05'.\n")
    # By default it picks the latest month.
    result = run(home, "rank")
    assert result.exit_code == 0, result.stderr
    assert "period: 2025-06 (the latest complete month in the store" in result.stderr


def test_gpkg_needs_a_path_and_wards_must_exist(store_home):
    result = run(store_home, "rank", "--week", "2025-W23", "--format", "gpkg")
    assert result.exit_code == 2
    assert result.stderr == "error: a GeoPackage is a binary file: give an output path (--out hotspots.gpkg).\n"
    result = run(store_home, "rank", "--week", "2025-W23", "--wards", "Nowhere")
    assert result.exit_code == 2
    assert result.stderr.startswith("error: ward 'Nowhere' is not in the boundary file; use a ward code such as")


def test_evaluate_options_are_checked(store_home):
    result = run(store_home, "evaluate", "--week", "2025-W23", "--coverages", "0.01,lots")
    assert result.exit_code == 2
    assert result.stderr == "error: --coverages '0.01,lots' must be numbers separated by commas, e.g. 0.001,0.01,0.05.\n"
    result = run(store_home, "evaluate", "--week", "2025-W23", "--backtest", "2", "--train", "2025-W20")
    assert result.stderr == ("error: --train and --backtest do not go together: a backtest trains each period "
                             "on the one before.\n")
    result = run(store_home, "evaluate", "--week", "2025-W23", "--coverages", "0.5,2")
    assert result.stderr == ("error: `coverages` holds 2.0; coverages are shares of the study area above 0 "
                             "and at most 1 (0.01 is 1%).\n")


# ----------------------------------------------------------------------------- output


def test_rank_table_with_the_default_period(store_home):
    result = run(store_home, "rank", "--top", "5")
    assert result.exit_code == 0, result.stderr
    assert "period: 2025-W23 (the latest complete week in the store; choose another with --week or --month)" in result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith("ASB hotspots, 2025-W23 (vs 2025-W22), 6 ward(s), H3 resolution 10, weighted by harm: ")
    # The store holds four weeks: the trend says it uses only them.
    assert lines.pop(1) == ("note: trend over the 4 weeks with data of the last 8 (2025-W16, 2025-W17, "
                            "2025-W18, 2025-W19 missing).")
    assert lines[1].split() == ["rank", "place", "ward", "count", "harm", "z", "change", "trend", "reason"]
    assert len(lines) == 2 + 5 + 1
    assert "Hunslet & Riverside" in lines[2]
    assert lines[2].lstrip().startswith("1")


def test_rank_exports(store_home, tmp_path):
    result = run(store_home, "rank", "--week", "2025-W23", "--format", "csv", "--top", "3")
    assert result.exit_code == 0, result.stderr
    table = pd.read_csv(io.StringIO(result.stdout), dtype={"h3_cell": str})
    assert table["rank"].tolist() == [1, 2, 3]
    assert table.columns[-7:].tolist() == ["longitude", "latitude", "period", "category", "weight",
                                           "synthetic", "generated_at"]
    assert set(table["period"]) == {"2025-W23"} and not table["synthetic"].any()
    assert table["h3_cell"].str.fullmatch(r"8a[0-9a-f]{13}").all()
    result = run(store_home, "rank", "--week", "2025-W23", "--format", "geojson", "--category", "all")
    doc = json.loads(result.stdout)
    assert doc["type"] == "FeatureCollection" and "crs" not in doc
    assert sum(f["properties"]["count"] for f in doc["features"]) == 15 + 3 + 2
    out = tmp_path / "h.gpkg"
    result = run(store_home, "rank", "--week", "2025-W23", "--format", "gpkg", "--out", str(out))
    assert result.exit_code == 0, result.stderr
    back = gpd.read_file(out, layer="hotspots")
    assert back.crs.to_epsg() == 27700 and len(back) > 1000


def test_exports_carry_their_context_and_demo_files_say_so(home, tmp_path):
    settings = get_settings(home)
    frame = _frame(settings)
    frame["source"] = "demo"
    IncidentStore(home, settings=settings).add(frame)
    out = tmp_path / "hotspots.csv"
    result = run(home, "rank", "--week", "2025-W23", "--format", "csv", "--out", str(out))
    assert result.exit_code == 0, result.stderr
    assert not out.exists() and "hotspots-demo.csv" in result.stderr
    table = pd.read_csv(tmp_path / "hotspots-demo.csv")
    assert table["synthetic"].all() and set(table["category"]) == {"asb"}
    context = json.loads((tmp_path / "hotspots-demo.context.json").read_text())
    assert context["kind"] == "hotspots" and context["synthetic"] is True
    assert context["period"] == "2025-W23" and context["previous_period"] == "2025-W22"
    assert context["weight"] == "harm" and context["harm_weights"].startswith("Cambridge")
    assert context["settings"]["h3_resolution"] == 10 and "trend_weeks" in context["settings"]
    assert "trend_months" not in context["settings"]
    assert context["sources"] == [{"source": "demo", "months": ["2025-05", "2025-06"], "gaps": [],
                                   "partial": context["sources"][0]["partial"]}]
    assert sorted(context["wards"]) == sorted(settings.priority_wards)
    assert context["generated_at"].endswith("Z")
    result = run(home, "evaluate", "--week", "2025-W23", "--format", "csv", "--out",
                 str(tmp_path / "eval-demo.csv"))
    assert result.exit_code == 0, result.stderr
    context = json.loads((tmp_path / "eval-demo.context.json").read_text())
    assert context["kind"] == "evaluation" and context["method"] == "gistar"
    assert pd.read_csv(tmp_path / "eval-demo.csv")["synthetic"].all()
    doc = json.loads(run(home, "wards", "--week", "2025-W23", "--format", "geojson").stdout)
    assert doc["synthetic"] is True and doc["context"]["kind"] == "wards"
    assert {f["properties"]["period"] for f in doc["features"]} == {"2025-W23"}


def test_wards_table(store_home):
    result = run(store_home, "wards", "--week", "2025-W23", "--weight", "count")
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "ASB by ward, 2025-W23 (vs 2025-W22), ranked by count: 18 incident(s) in the wards"
    assert lines[2].split() == ["1", "Hunslet", "&", "Riverside", "15", "1.7", "15", "+3", "(+25%)", "83.3%"]
    assert lines[3].split() == ["2", "Armley", "3", "0.5", "3", "+0", "(+0%)", "16.7%"]
    assert len(lines) == 2 + 6 + 1
    result = run(store_home, "wards", "--week", "2025-W23", "--format", "csv", "--category", "serious_violence")
    table = pd.read_csv(io.StringIO(result.stdout))
    assert table.loc[0, "ward_code"] == HUNSLET and table.loc[0, "count"] == 2


def test_evaluate(store_home):
    result = run(store_home, "evaluate", "--week", "2025-W23", "--method", "count")
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["train", "test", "coverage", "cells", "hits", "of", "hit", "rate", "PAI", "PEI"]
    assert lines[1].startswith("2025-W22   2025-W23       0.1%")
    assert len(lines) == 1 + 4 + 1
    result = run(store_home, "evaluate", "--week", "2025-W23", "--backtest", "2", "--format", "json")
    payload = json.loads(result.stdout)
    assert [r["test_period"] for r in payload["rows"]] == ["2025-W22"] * 4 + ["2025-W23"] * 4
    assert [r["coverage"] for r in payload["summary"]] == [0.001, 0.005, 0.01, 0.05]
