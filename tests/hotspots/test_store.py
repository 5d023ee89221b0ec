"""The incident store: input checks, then the contract (round trip, idempotence, atomicity)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from hotspots import InputError
from hotspots.schema import INCIDENT_COLUMNS, make_incidents, to_geodataframe
from hotspots.store import IncidentStore

# Points inside Gipton & Harehills (E05011394) and Armley (E05011385), in EPSG:27700.
HAREHILLS = (432150.0, 435000.0)
ARMLEY = (426500.0, 433500.0)


def incidents(settings, n=6, *, start="2025-05-28 18:00", prefix="i", where=HAREHILLS,
              types=("Anti-social behaviour", "Robbery", "Burglary")):
    times = pd.date_range(start, periods=n, freq="37h")
    return make_incidents(
        incident_id=[f"{prefix}{k}" for k in range(n)],
        occurred_at=times,
        time_precision="minute",
        crime_type=[types[k % len(types)] for k in range(n)],
        x=[where[0] + 10 * k for k in range(n)],
        y=[where[1] + 5 * k for k in range(n)],
        source="test",
        settings=settings,
    )


# ---------------------------------------------------------------- input checks


def test_add_refuses_missing_columns(home, settings):
    frame = incidents(settings).drop(columns=["harm"])
    with pytest.raises(InputError, match=r"lacks the column\(s\) harm; found: incident_id"):
        IncidentStore(home, settings=settings).add(frame)


def test_add_refuses_wrong_crs(home, settings):
    frame = to_geodataframe(incidents(settings)).to_crs("EPSG:4326")
    with pytest.raises(InputError, match=r"EPSG:4326, not EPSG:27700; reproject"):
        IncidentStore(home, settings=settings).add(frame)
    with pytest.raises(InputError, match=r"no CRS; incidents must be in EPSG:27700"):
        IncidentStore(home, settings=settings).add(frame.set_crs(None, allow_override=True))


def test_add_refuses_missing_ids_and_points(home, settings):
    frame = incidents(settings)
    frame.loc[2, "incident_id"] = None
    with pytest.raises(InputError, match=r"1 row\(s\) with no incident_id \(first at index 2\)"):
        IncidentStore(home, settings=settings).add(frame)
    frame = incidents(settings)
    frame.loc[3, "x"] = np.nan
    with pytest.raises(InputError, match=r"1 row\(s\) without a point location \(first at index 3\)"):
        IncidentStore(home, settings=settings).add(frame)
    points = to_geodataframe(incidents(settings))
    points.loc[4, "geometry"] = None
    with pytest.raises(InputError, match=r"1 row\(s\) without a point location \(first at index 4\)"):
        IncidentStore(home, settings=settings).add(points)
    assert not (home / "store" / "manifest.json").exists()


def test_add_refuses_non_frames(home, settings):
    with pytest.raises(InputError, match="must be a DataFrame of incidents, not list"):
        IncidentStore(home, settings=settings).add([1, 2])
    with pytest.raises(InputError, match=r"lacks the column\(s\) incident_id, .*, x, y; found: a"):
        IncidentStore(home, settings=settings).add(pd.DataFrame({"a": [1]}))


def test_load_refuses_unknown_category_and_bad_period(home, settings):
    store = IncidentStore(home, settings=settings)
    with pytest.raises(InputError, match="unknown category 'violence'"):
        store.load(categories=["violence"])
    with pytest.raises(InputError, match="period '2025-W60'"):
        store.load(period="2025-W60")
    with pytest.raises(InputError, match="unknown column 'geometry'; the store holds incident_id"):
        store.load(columns=["x", "geometry"])


def test_corrupt_manifest_is_reported(home, settings):
    store = IncidentStore(home, settings=settings)
    store.add(incidents(settings))
    (home / "store" / "manifest.json").write_text("{not json")
    with pytest.raises(InputError, match="manifest cannot be read"):
        store.months()


# ---------------------------------------------------------------- contract


def test_empty_store(home, settings):
    store = IncidentStore(home, settings=settings)
    assert store.months() == []
    frame = store.load()
    assert list(frame.columns) == INCIDENT_COLUMNS and len(frame) == 0
    assert store.summary()["incidents"] == 0


def test_round_trip_keeps_columns_dtypes_and_values(home, settings):
    frame = incidents(settings, n=10)
    store = IncidentStore(home, settings=settings)
    report = store.add(frame)
    assert (report.added, report.duplicates) == (10, 0)
    back = store.load()
    assert list(back.columns) == INCIDENT_COLUMNS
    assert type(back) is pd.DataFrame
    assert str(back["occurred_at"].dtype) == "datetime64[ns, Europe/London]"
    assert back["category"].dtype == frame["category"].dtype
    assert back["time_precision"].dtype == frame["time_precision"].dtype
    assert (back["x"].dtype, back["y"].dtype) == (np.float64, np.float64)
    pd.testing.assert_frame_equal(back, frame.sort_values("occurred_at", ignore_index=True),
                                  check_categorical=False)
    # A GeoDataFrame of points (EPSG:27700) is stored the same, and made on request.
    again = IncidentStore(home / "again", settings=settings)
    again.add(to_geodataframe(frame))
    pd.testing.assert_frame_equal(again.load(), back, check_categorical=False)
    points = to_geodataframe(back)
    assert points.crs == "EPSG:27700" and "x" not in points.columns
    np.testing.assert_allclose(points.geometry.x.to_numpy(), back["x"].to_numpy())


def test_load_reads_only_the_columns_and_rows_asked_for(home, settings):
    store = IncidentStore(home, settings=settings)
    store.add(incidents(settings, n=30, prefix="h"))
    store.add(incidents(settings, n=30, prefix="a", where=ARMLEY))
    part = store.load(columns=["category", "x", "y"], categories="asb", period="2025-06")
    assert list(part.columns) == ["category", "x", "y"] and set(part["category"]) == {"asb"}
    full = store.load(period="2025-06")
    assert len(part) == int((full["category"] == "asb").sum()) > 0
    box = (ARMLEY[0] - 1, ARMLEY[1] - 1, ARMLEY[0] + 1000, ARMLEY[1] + 1000)
    armley = store.load(bbox=box)
    assert len(armley) == 30 and armley["incident_id"].str.startswith("a").all()
    assert armley["occurred_at"].is_monotonic_increasing


def test_a_store_written_with_point_geometries_reads_the_same(home, settings):
    """Stores written before `x`/`y` hold GeoParquet (a `geometry` column, no `location`)."""
    frame = incidents(settings, n=30)
    store = IncidentStore(home, settings=settings)
    store.add(frame)
    expected = store.load()
    manifest = json.loads((store.path / "manifest.json").read_text())
    for month, rel in manifest["months"].items():
        old = to_geodataframe(store.load(period=month)).drop(columns=["location"])
        old.to_parquet(store.path / rel, index=False, geometry_encoding="geoarrow" if month != "2025-06" else "WKB")
    back = store.load()
    pd.testing.assert_frame_equal(back, expected, check_categorical=False)
    assert set(back["location"]) == {""}
    box = (HAREHILLS[0] - 1, HAREHILLS[1] - 1, HAREHILLS[0] + 50, HAREHILLS[1] + 100)
    np.testing.assert_array_equal(store.load(bbox=box)["incident_id"].to_numpy(),
                                  expected.loc[expected["x"] <= HAREHILLS[0] + 50, "incident_id"].to_numpy())
    assert len(store.load(columns=["x"], period="2025-06", categories="asb")) == int(
        ((expected["category"] == "asb") & (expected["occurred_at"].dt.month == 6)).sum())
    # Adding to such a store rewrites the months it touches in the current layout.
    report = store.add(incidents(settings, n=2, prefix="new", start="2025-06-10 12:00"))
    assert report.added == 2 and len(store.load()) == 32
    june = pq.read_schema(store.files(["2025-06"])[0])
    assert "x" in june.names and "geometry" not in june.names


def test_partitioned_by_month(home, settings):
    store = IncidentStore(home, settings=settings)
    report = store.add(incidents(settings, n=30))  # 30 x 37 h spans May to July 2025
    assert store.months() == ["2025-05", "2025-06", "2025-07"] == report.months
    parts = sorted(p.parent.name for p in (home / "store").glob("month=*/*.parquet"))
    assert parts == ["month=2025-05", "month=2025-06", "month=2025-07"]
    # Each file is plain Parquet that any reader takes.
    one = pd.read_parquet(next((home / "store").glob("month=2025-06/*.parquet")))
    assert list(one.columns) == INCIDENT_COLUMNS
    assert len(one) == store.summary()["by_month"]["2025-06"]["total"]


def test_reingest_is_idempotent(home, settings):
    store = IncidentStore(home, settings=settings)
    frame = incidents(settings, n=20)
    store.add(frame)
    before = store.load()
    report = store.add(frame)
    assert (report.added, report.duplicates) == (0, 20)
    pd.testing.assert_frame_equal(store.load(), before)
    # Overlapping batch: only the new ids are added.
    more = pd.concat([frame.iloc[:5], incidents(settings, n=3, prefix="new")], ignore_index=True)
    report = store.add(more)
    assert (report.added, report.duplicates) == (3, 5)
    assert len(store.load()) == 23


def test_duplicates_within_a_batch_are_counted(home, settings):
    frame = incidents(settings, n=4)
    doubled = pd.concat([frame, frame], ignore_index=True)
    report = IncidentStore(home, settings=settings).add(doubled)
    assert (report.added, report.duplicates) == (4, 4)


def test_load_filters_period_category_wards_source(home, settings):
    store = IncidentStore(home, settings=settings)
    store.add(incidents(settings, n=30, prefix="h"))
    store.add(incidents(settings, n=30, prefix="a", where=ARMLEY))
    week = store.load(period="2025-W23")  # Monday 2 June to Sunday 8 June 2025
    assert len(week) > 0
    assert week["occurred_at"].min() >= pd.Timestamp("2025-06-02", tz="Europe/London")
    assert week["occurred_at"].max() < pd.Timestamp("2025-06-09", tz="Europe/London")
    asb = store.load(categories="asb")
    assert set(asb["category"]) == {"asb"} and len(asb) == 20
    both = store.load(categories=["asb", "serious_violence"])
    assert len(both) == 40
    harehills = store.load(wards="E05011394")
    assert len(harehills) == 30 and harehills["incident_id"].str.startswith("h").all()
    assert len(store.load(wards="priority")) == 60
    assert len(store.load(sources="nothing")) == 0


def test_remove_source(home, settings):
    store = IncidentStore(home, settings=settings)
    store.add(incidents(settings, n=10))
    other = incidents(settings, n=4, prefix="o")
    other["source"] = "demo"
    store.add(other)
    assert store.is_demo()
    assert store.remove(source="demo") == 4
    assert not store.is_demo() and len(store.load()) == 10


def test_dry_run_stores_nothing(home, settings):
    store = IncidentStore(home, settings=settings)
    report = store.add(incidents(settings), dry_run=True)
    assert report.added == 6 and store.months() == []


def test_orphan_files_are_ignored_and_collected(home, settings):
    store = IncidentStore(home, settings=settings)
    store.add(incidents(settings, n=5))
    orphan = home / "store" / "month=2025-05" / "part-orphan.parquet"
    orphan.write_bytes(b"half a file")
    assert len(store.load()) == 5  # readers go by the manifest
    store.add(incidents(settings, n=2, prefix="z"))
    assert not orphan.exists()


# ---------------------------------------------------------------- crash safety

WRITER = textwrap.dedent(
    """
    import sys
    import numpy as np, pandas as pd
    from hotspots.settings import get_settings
    from hotspots.schema import make_incidents
    from hotspots.store import IncidentStore

    home = sys.argv[1]
    settings = get_settings(home)
    n = 60_000
    rng = np.random.default_rng(1)
    times = pd.Timestamp("2025-01-01") + pd.to_timedelta(rng.integers(0, 300 * 86400, n), unit="s")
    frame = make_incidents(
        incident_id=[f"big{k}" for k in range(n)], occurred_at=times, time_precision="minute",
        crime_type=rng.choice(["Anti-social behaviour", "Robbery"], n),
        x=rng.uniform(425000, 435000, n), y=rng.uniform(430000, 436000, n),
        source="test", settings=settings)
    print("ready", flush=True)
    IncidentStore(home, settings=settings).add(frame)
    print("done", flush=True)
    """
)


def _snapshot(home: Path):
    store = IncidentStore(home)
    return store.load(), json.loads((home / "store" / "manifest.json").read_text())


def _run_writer(home: Path, env_extra: dict[str, str]) -> subprocess.Popen:
    env = {**os.environ, "HOTSPOTS_HOME": str(home), **env_extra}
    return subprocess.Popen([sys.executable, "-c", WRITER, str(home)], env=env,
                            stdout=subprocess.PIPE, text=True)


@pytest.mark.parametrize("point", ["after-first-month", "before-commit"])
def test_sigkill_during_add_leaves_store_unchanged(home, settings, tmp_path, point):
    store = IncidentStore(home, settings=settings)
    store.add(incidents(settings, n=40, start="2025-01-03 10:00"))
    before, manifest_before = _snapshot(home)
    marker = tmp_path / f"{point}.marker"
    proc = _run_writer(home, {"HOTSPOTS_STORE_CHECKPOINT": f"{point}:{marker}"})
    try:
        deadline = time.monotonic() + 120
        while not marker.exists():
            assert proc.poll() is None, "the writer ended before reaching the checkpoint"
            assert time.monotonic() < deadline, "the writer never reached the checkpoint"
            time.sleep(0.05)
        # New month files exist on disk now, but the commit has not happened.
        assert len(list((home / "store").glob("month=*/*.parquet"))) > len(manifest_before["months"])
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == -signal.SIGKILL
    after, manifest_after = _snapshot(home)
    assert manifest_after == manifest_before
    pd.testing.assert_frame_equal(after, before)
    # The next writer cleans up the orphans and works normally.
    report = store.add(incidents(settings, n=2, prefix="next", start="2025-01-05 10:00"))
    assert report.added == 2
    held = {str(home / "store" / rel) for rel in IncidentStore(home).files()}
    assert {str(p) for p in (home / "store").glob("month=*/*.parquet")} == {str(Path(p)) for p in held}


def test_sigkill_at_random_moments_never_half_commits(home, settings):
    store = IncidentStore(home, settings=settings)
    store.add(incidents(settings, n=40, start="2025-01-03 10:00"))
    before, _ = _snapshot(home)
    rng = np.random.default_rng(7)
    for delay in sorted(rng.uniform(0.0, 1.5, size=3)):
        proc = _run_writer(home, {})
        assert proc.stdout.readline().strip() == "ready"
        time.sleep(delay)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
        after = IncidentStore(home).load()
        # Either nothing of the big batch is visible, or all of it is.
        big = after["incident_id"].str.startswith("big").sum()
        assert big in (0, 60_000)
        if big == 0:
            pd.testing.assert_frame_equal(after, before)
        else:
            break


def test_attrs_are_not_written(home, settings):
    from hotspots.report import ReadReport

    frame = incidents(settings)
    frame.attrs["read_report"] = ReadReport(files=["x.csv"], rows_read=6)
    store = IncidentStore(home, settings=settings)
    assert store.add(frame).rows_read == 6
    assert store.load().attrs == {}


def test_a_report_in_attrs_is_read_as_a_dict_and_a_bad_one_ignored(home, settings, caplog):
    from hotspots.report import ReadReport

    store = IncidentStore(home, settings=settings)
    frame = incidents(settings)
    frame.attrs["read_report"] = ReadReport(files=["x.csv"], rows_read=9,
                                            excluded={"no location": 3}).to_dict()
    added = store.add(frame)
    assert (added.rows_read, added.no_location, added.added) == (9, 3, 6)
    other = incidents(settings, prefix="j")
    other.attrs["read_report"] = {"rows_read": "many"}
    added = store.add(other)
    assert (added.rows_read, added.added, added.read) == (6, 6, None)
    assert "ignoring the frame's attrs['read_report']" in caplog.text
    assert len(store.load()) == 12


def test_location_defaults_to_empty_and_frames_without_it_are_stored(home, settings):
    frame = incidents(settings, n=3)
    assert frame["location"].tolist() == ["", "", ""]
    labelled = make_incidents(incident_id=["a"], occurred_at=pd.Series([pd.Timestamp("2025-05-28 18:00")]),
                              time_precision="minute", crime_type=["Robbery"], x=[430000.0],
                              y=[433000.0], source="test", settings=settings,
                              location="On or near Roundhay Road")
    store = IncidentStore(home, settings=settings)
    store.add(frame.drop(columns=["location"]))  # a frame made before the column existed
    store.add(labelled)
    back = store.load()
    assert dict(zip(back["incident_id"], back["location"], strict=True)) == {
        **{i: "" for i in frame["incident_id"]}, "a": "On or near Roundhay Road"}
