"""The Dask engine (`engine="dask"`): input checks and scheduler errors first, then the contract:
the same frames as the in-memory engine on the same data, on a two-worker local cluster."""

from __future__ import annotations

import re
import socket
import time

import pandas as pd
import pytest
from click.testing import CliRunner
from geopandas.testing import assert_geodataframe_equal

from hotspots import InputError
from hotspots.demo import generate_demo
from hotspots.engines import check_scheduler, resolve_source
from hotspots.evaluation import evaluate_hotspots, rolling_backtest
from hotspots.ranking import rank_hotspots, rank_wards, window_period
from hotspots.settings import get_settings
from hotspots.store import IncidentStore

distributed = pytest.importorskip("distributed")

#: The last week of the demo data (ends on a Sunday), and the weeks whose history crosses months.
END = "2025-07-27"


def assert_same(got, expected):
    """Equal frames, and the numbers bit for bit (not just to a tolerance)."""
    assert_geodataframe_equal(got, expected)
    pd.testing.assert_frame_equal(pd.DataFrame(got.drop(columns="geometry")),
                                  pd.DataFrame(expected.drop(columns="geometry")), check_exact=True)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def demo_home(tmp_path_factory):
    """Ten weeks of demo incidents (day and minute precision) in a store of three month files."""
    home = tmp_path_factory.mktemp("dask-home")
    settings = get_settings(home)
    IncidentStore(home, settings=settings).add(generate_demo(seed=3, weeks=10, settings=settings))
    return home


@pytest.fixture(scope="module")
def client():
    """Two worker processes (threads if processes cannot start here), closed after the module."""
    try:
        cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                           dashboard_address=None,
                                           scheduler_kwargs={"dashboard_address": ":0"})
    except Exception:  # noqa: BLE001 - a sandbox without process spawning
        cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False,
                                           dashboard_address=None,
                                           scheduler_kwargs={"dashboard_address": ":0"})
    with cluster, distributed.Client(cluster) as c:
        yield c


# ----------------------------------------------------------------------------- input checks


def test_sources_are_checked(demo_home, tmp_path):
    settings = get_settings(demo_home)
    with pytest.raises(InputError, match=r"^`incidents` must be a DataFrame of incidents, an IncidentStore or the path of one, not int\.$"):
        resolve_source(5, settings=settings)
    with pytest.raises(InputError, match=r"is not an incident store: expected the instance folder"):
        resolve_source(tmp_path, settings=settings)
    # The instance folder and the store folder both name the store.
    assert resolve_source(demo_home, settings=settings).path == demo_home / "store"
    assert resolve_source(str(demo_home / "store"), settings=settings).path == demo_home / "store"
    with pytest.raises(InputError, match=r"^`engine` is 'spark'; allowed values: memory, dask\.$"):
        rank_hotspots(IncidentStore(demo_home, settings=settings), category="asb", period="2025-07",
                      settings=settings, engine="spark")
    # The in-memory engine reads a store too: only what it counts.
    store = IncidentStore(demo_home, settings=settings)
    assert_same(rank_hotspots(store, category="asb", period="2025-07", settings=settings),
                rank_hotspots(store.load(), category="asb", period="2025-07", settings=settings))
    assert_same(rank_wards(demo_home, category="all", period="2025-W29", settings=settings),
                rank_wards(store.load(), category="all", period="2025-W29", settings=settings))


def test_months_not_in_the_store(demo_home, client):
    settings = get_settings(demo_home)
    with pytest.raises(InputError, match=r"^no data for 2024-03: the store holds 2025-05\.\.2025-07\.$"):
        rank_hotspots(demo_home, category="asb", period="2024-03", settings=settings, engine="dask")


def test_a_scheduler_nobody_listens_on_is_one_line_within_seconds(demo_home):
    address = f"tcp://127.0.0.1:{_free_port()}"
    settings = get_settings(demo_home, dask_scheduler=address)
    start = time.monotonic()
    with pytest.raises(InputError) as info:
        rank_hotspots(demo_home, category="asb", period="2025-07", settings=settings, engine="dask")
    assert time.monotonic() - start < 10
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith(f"cannot reach the Dask scheduler at '{address}' (")
    assert message.endswith("check the `dask_scheduler` setting or --scheduler (tcp://host:port), "
                            "or leave both empty to start a local cluster.")
    with pytest.raises(InputError, match=r"unknown address scheme 'nonsense'"):
        check_scheduler("nonsense://host:1")
    with pytest.raises(InputError, match=r"^cannot reach the Dask scheduler at 'tcp://127\.0\.0\.1'"):
        check_scheduler("tcp://127.0.0.1")


def test_cli_scheduler_errors(demo_home):
    address = f"tcp://127.0.0.1:{_free_port()}"
    from webapp.cli import cli

    runner = CliRunner()
    for command in (["rank", "--month", "2025-07"], ["wards", "--month", "2025-07"],
                    ["evaluate", "--month", "2025-07"]):
        start = time.monotonic()
        result = runner.invoke(cli, ["--home", str(demo_home), *command, "--scheduler", address])
        assert result.exit_code == 2, result.output
        assert time.monotonic() - start < 10
        lines = result.output.strip().splitlines()
        assert lines[-1].startswith(f"error: cannot reach the Dask scheduler at '{address}'")
    result = runner.invoke(cli, ["--home", str(demo_home), "rank", "--month", "2025-07",
                                 "--engine", "memory", "--scheduler", address])
    assert result.exit_code == 2
    assert "error: --scheduler goes with --engine dask, not --engine memory." in result.output


# ----------------------------------------------------------------------------- the same results


@pytest.mark.parametrize(("category", "period", "weight"), [
    ("all", "2025-07", "harm"),                    # months: one partition per period
    ("serious_violence", "2025-W30", "harm"),      # weeks whose history crosses month files
    ("asb", "2025-06-09..2025-07-20", "count"),    # date ranges across months
])
def test_rank_hotspots_same_as_in_memory(demo_home, client, category, period, weight):
    settings = get_settings(demo_home)
    store = IncidentStore(demo_home, settings=settings)
    frame = store.load(period=window_period(period, settings=settings))
    # The frame is the window only: the coverage is the store's (as the commands pass it).
    expected = rank_hotspots(frame, category=category, period=period, weight=weight, settings=settings,
                             coverage=store.coverage())
    got = rank_hotspots(store, category=category, period=period, weight=weight, settings=settings,
                        engine="dask")
    assert_same(got, expected)
    assert got.attrs == expected.attrs
    assert expected["count"].sum() > 0
    # A frame counted on the cluster gives the same, too.
    from_frame = rank_hotspots(frame, category=category, period=period, weight=weight,
                               settings=settings, engine="dask", top=25)
    assert_same(from_frame, expected.iloc[:25])


@pytest.mark.parametrize("period", ["2025-07", "2025-W27"])
def test_rank_wards_same_as_in_memory(demo_home, client, period):
    settings = get_settings(demo_home)
    store = IncidentStore(demo_home, settings=settings)
    frame = store.load(period=window_period(period, n=2, settings=settings))
    expected = rank_wards(frame, category="asb", period=period, wards="all", settings=settings,
                          coverage=store.coverage())
    got = rank_wards(demo_home / "store", category="asb", period=period, wards="all",
                     settings=settings, engine="dask")
    assert_same(got, expected)
    assert got.attrs == expected.attrs
    assert expected.attrs["unassigned"] == 0 and expected["count"].sum() > 0


def test_evaluation_same_as_in_memory(demo_home, client):
    settings = get_settings(demo_home)
    frame = IncidentStore(demo_home, settings=settings).load()
    kw = {"category": "asb", "settings": settings}
    expected = evaluate_hotspots(frame, train_period="2025-W26", test_period="2025-W28", **kw)
    got = evaluate_hotspots(demo_home, train_period="2025-W26", test_period="2025-W28", engine="dask", **kw)
    pd.testing.assert_frame_equal(got, expected, check_exact=True)
    expected = rolling_backtest(frame, period="2025-W30", periods=4, method="harm", **kw)
    got = rolling_backtest(demo_home, period="2025-W30", periods=4, method="harm", engine="dask", **kw)
    pd.testing.assert_frame_equal(got, expected, check_exact=True)
    assert (expected["test_incidents"] > 0).all()


def test_a_week_of_monthly_data_is_refused_with_the_total(tmp_path, client):
    settings = get_settings(tmp_path)
    demo = generate_demo(seed=4, weeks=9, settings=settings)
    local = demo["occurred_at"].dt.tz_localize(None)
    demo["occurred_at"] = local.dt.to_period("M").dt.start_time.dt.tz_localize(settings.timezone)
    demo["time_precision"] = pd.Categorical(["month"] * len(demo), dtype=demo["time_precision"].dtype)
    store = IncidentStore(tmp_path, settings=settings)
    store.add(demo)
    with pytest.raises(InputError, match=r"^period '2025-W27' is a week, but [\d,]+ of the incidents") as memory:
        rank_hotspots(store.load(), category="asb", period="2025-W27", settings=settings)
    with pytest.raises(InputError) as dask:
        rank_hotspots(store, category="asb", period="2025-W27", settings=settings, engine="dask")
    assert str(dask.value) == str(memory.value)


def test_cli_engine_dask_prints_what_memory_prints(demo_home, client):
    from webapp.cli import cli

    runner = CliRunner()
    for command in (["rank", "--week", "2025-W30", "--format", "csv"],
                    ["wards", "--month", "2025-07", "--format", "csv"],
                    ["evaluate", "--week", "2025-W30", "--backtest", "3", "--format", "csv"]):
        memory = runner.invoke(cli, ["--home", str(demo_home), "-q", *command], catch_exceptions=False)
        dask = runner.invoke(cli, ["--home", str(demo_home), "-q", *command, "--engine", "dask"],
                             catch_exceptions=False)
        assert memory.exit_code == 0 and dask.exit_code == 0, dask.output
        # The same rows; only the export's generation time (its last column) may differ.
        stamp = re.compile(r",\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$", flags=re.M)
        assert stamp.search(memory.stdout)
        assert stamp.sub("", dask.stdout) == stamp.sub("", memory.stdout)
