"""The Dask engine: count incidents per H3 cell (or ward) and period partition by partition on a
Dask cluster, and gather only those totals; `hotspots.ranking` then runs the same statistics on
them as for incidents counted in memory.

The incidents come from the month-partitioned store (only the files of the months asked for are
read, one partition each, with the category, time and study-area box pushed into the Parquet
read) or from an incident frame. The cluster is the scheduler named by the
`dask_scheduler` setting (or `hotspots ... --scheduler`), else the current `distributed.Client`,
else a local cluster started for the call.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import os
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

from hotspots import _parquet
from hotspots import cells as h3cells
from hotspots.crs import BNG
from hotspots.errors import InputError
from hotspots.periods import Period
from hotspots.schema import incident_xy
from hotspots.selection import (
    ANALYSIS_COLUMNS,
    Selection,
    Totals,
    check_incidents,
    check_precision,
    select_incidents,
)
from hotspots.settings import Settings
from hotspots.store import MANIFEST, IncidentStore

if TYPE_CHECKING:
    import dask.dataframe as dd
    from distributed import Client

    from hotspots.binning import StudyArea

log = logging.getLogger(__name__)


#: Seconds to wait for a named scheduler before giving up with an `InputError`.
SCHEDULER_TIMEOUT_S = 5
#: Columns the counting reads from the store.
COLUMNS: list[str] = ANALYSIS_COLUMNS

#: What each partition sends back: one row per (cell or ward position, period) it holds, position
#: -1 for incidents in no cell (ward) of the study area, `order` -1. In a period that spans
#: months, and so several partitions, each incident in a cell (ward) comes back as a row of its
#: own, `order` giving its place in the incidents, so that the client adds up harm in the same
#: order as the in-memory engine and gets the same floating-point sums.
_GROUP_META = pd.DataFrame({
    "pos": pd.Series([], dtype=np.int64), "slot": pd.Series([], dtype=np.int64),
    "count": pd.Series([], dtype=np.int64), "harm": pd.Series([], dtype=np.float64),
    "monthly": pd.Series([], dtype=np.int64), "violent": pd.Series([], dtype=np.int64),
    "order": pd.Series([], dtype=np.int64),
})
#: `order` of a store partition's row: its partition number times this, plus its row.
_PARTITION_STRIDE = 1 << 32


# --------------------------------------------------------------------------- the cluster


def _unreachable(address: str, exc: BaseException) -> InputError:
    reason = " ".join(str(exc).split()) or type(exc).__name__
    msg = (f"cannot reach the Dask scheduler at {address!r} ({reason}); check the `dask_scheduler` "
           "setting or --scheduler (tcp://host:port), or leave both empty to start a local cluster.")
    return InputError(msg)


def check_scheduler(address: str) -> None:
    """Fail fast when nothing answers at a scheduler address (a TCP connection attempt, so a
    closed port is refused at once instead of after the client's retries).

    Raises
    ------
    InputError
        The address is malformed or nothing accepts a connection there within
        `SCHEDULER_TIMEOUT_S`.
    """
    from distributed.comm import parse_address, parse_host_port
    from distributed.comm.registry import backends

    try:
        scheme, location = parse_address(address.strip())
        if scheme not in backends:
            msg = f"unknown address scheme {scheme!r}; expected tcp://host:port"
            raise ValueError(msg)
        if scheme not in ("tcp", "tls", "ws", "wss"):
            return  # transports not over TCP (inproc, ucx) are left to the client
        host, port = parse_host_port(location)
        if not port:
            msg = "no port given"
            raise ValueError(msg)
        with socket.create_connection((host, int(port)), timeout=SCHEDULER_TIMEOUT_S):
            pass
    except (OSError, ValueError, TypeError) as exc:
        raise _unreachable(address, exc) from None


def local_cluster(*, n_workers: int | None = None, processes: bool = True):
    """A `distributed.LocalCluster` for the counting: one thread per worker, no dashboard, its
    HTTP endpoints on a free port, quiet logs. The caller closes it."""
    from distributed import LocalCluster

    return LocalCluster(n_workers=n_workers, threads_per_worker=1, processes=processes,
                        dashboard_address=None, scheduler_kwargs={"dashboard_address": ":0"},
                        silence_logs=logging.WARNING)


@contextlib.contextmanager
def dask_client(settings: Settings) -> Iterator[Client]:
    """A `distributed.Client`: to the `dask_scheduler` setting's address, else the current client,
    else to a local cluster started here (closed again on exit).

    Raises
    ------
    InputError
        The scheduler named in the settings cannot be reached within `SCHEDULER_TIMEOUT_S`.
    """
    from distributed import Client

    address = settings.dask_scheduler.strip()
    if address:
        check_scheduler(address)
        try:
            client = Client(address, timeout=SCHEDULER_TIMEOUT_S, set_as_default=False)
        except (OSError, TimeoutError, ValueError, TypeError) as exc:
            raise _unreachable(address, exc) from None
        with client:
            log.info("counting on the Dask scheduler at %s", address)
            yield client
        return
    current = _current_client()
    if current is not None:
        yield current
        return
    with local_cluster() as cluster, Client(cluster, set_as_default=False) as client:
        log.info("counting on a local Dask cluster of %d workers", len(cluster.workers))
        yield client


def _current_client() -> Client | None:
    from distributed import default_client

    try:
        return default_client()
    except ValueError:  # no client yet
        return None


# --------------------------------------------------------------------------- the incidents


def resolve_source(incidents: Any, *, settings: Settings) -> IncidentStore | pd.DataFrame:
    """The incidents an engine reads: a checked incident frame, or an `IncidentStore` given as one
    or as the path of its instance folder or of its `store` folder."""
    if isinstance(incidents, IncidentStore):
        return incidents
    if isinstance(incidents, (str, os.PathLike)):
        path = Path(incidents).expanduser()
        if (path / MANIFEST).is_file():
            return IncidentStore(path.parent, settings=settings)
        if (path / "store" / MANIFEST).is_file():
            return IncidentStore(path, settings=settings)
        msg = (f"`incidents` {str(path)!r} is not an incident store: expected the instance folder "
               "(holding store/manifest.json) or the store folder itself.")
        raise InputError(msg)
    if not isinstance(incidents, pd.DataFrame):
        msg = (f"`incidents` must be a DataFrame of incidents, an IncidentStore or the path of "
               f"one, not {type(incidents).__name__}.")
        raise InputError(msg)
    check_incidents(incidents)
    return incidents


def _read(source: IncidentStore | pd.DataFrame, periods: list[Period], settings: Settings, *,
          category: str) -> dd.DataFrame:
    """The incidents a set of periods needs, as a Dask frame with one partition per month: for a
    store the committed files of the periods' months (reading only the category's rows in the
    periods: everywhere, so that incidents outside the study area are counted as in memory), for
    a frame its rows of each of those months (with their positions in the frame as `_order`)."""
    import dask.dataframe as dd

    months = sorted({m for p in periods for m in p.months()})
    if isinstance(source, pd.DataFrame):
        frame = source[[c for c in COLUMNS if c in source.columns]]
        if "x" not in frame.columns:
            x, y = incident_xy(source)
            frame = pd.DataFrame(frame).assign(x=x, y=y)
        parts = _month_parts(frame, months, settings.timezone)
        if not parts:
            return dd.from_pandas(frame.iloc[:0].assign(_order=np.int64(0)), npartitions=1)
        return dd.from_map(_identity, parts, meta=parts[0].iloc[:0], enforce_metadata=False)
    files = source.files(months)
    if not files:
        span = months[0] if len(months) == 1 else f"{months[0]} to {months[-1]}"
        msg = (f"the store at {source.path} holds no incidents in {span}; see `hotspots store "
               "summary` for what it holds.")
        raise InputError(msg)
    rows = _parquet.RowFilter(start=min(p.start for p in periods), end=max(p.end for p in periods),
                              categories=None if category == "all" else (category,))
    tz = settings.timezone
    meta = _parquet.to_frame([_parquet.read(files[0], columns=COLUMNS, tz=tz).slice(0, 0)])
    return dd.from_map(_read_month, [str(f) for f in files], columns=COLUMNS, rows=rows, tz=tz,
                       meta=meta, enforce_metadata=False)


def _read_month(path: str, *, columns: list[str], rows: _parquet.RowFilter, tz: str) -> pd.DataFrame:
    """One month file of the store: only the rows and columns the counting needs."""
    return _parquet.to_frame([_parquet.read(Path(path), columns=columns, rows=rows, tz=tz)])


def _identity(part: pd.DataFrame) -> pd.DataFrame:
    return part


def _month_parts(frame: pd.DataFrame, months: list[str], tz: str) -> list[pd.DataFrame]:
    """The rows of `frame` in each of `months` (local time), in frame order, with `_order`."""
    times = frame["occurred_at"]
    if times.dt.tz is None:
        times = times.dt.tz_localize(tz, ambiguous="NaT", nonexistent="shift_forward")
    local = times.dt.tz_convert(tz)
    ym = (local.dt.year * 100 + local.dt.month).to_numpy(dtype=np.float64, na_value=np.nan)
    parts = []
    for month in months:
        rows = np.flatnonzero(ym == int(month[:4]) * 100 + int(month[5:7]))
        if len(rows):
            parts.append(frame.iloc[rows].assign(_order=rows.astype(np.int64)))
    return parts


def _bbox(area: StudyArea) -> tuple[float, float, float, float]:
    """The study area's extent widened by more than a cell's width: points beyond it are in no
    study cell, so the partitions need not bin them."""
    return area.reach


def _groups(part: pd.DataFrame, sel: Selection, pos: np.ndarray, partition_info: dict | None) -> pd.DataFrame:
    """Count, harm and flags per (position, period) of one partition's selection (see
    `_GROUP_META`). Harm is summed in row order, as the in-memory engine sums it."""
    t = len(sel.periods)
    spans = np.array([len(p.months()) > 1 for p in sel.periods])
    alone = spans[sel.slot] & (pos >= 0)
    key = (pos + 1) * t + sel.slot
    uniq, inverse = np.unique(key[~alone], return_inverse=True)
    grouped = pd.DataFrame({
        "pos": uniq // t - 1,
        "slot": uniq % t,
        "count": np.bincount(inverse, minlength=len(uniq)).astype(np.int64),
        "harm": np.bincount(inverse, weights=sel.harm[~alone], minlength=len(uniq)),
        "monthly": np.bincount(inverse, weights=sel.monthly[~alone], minlength=len(uniq)).astype(np.int64),
        "violent": np.bincount(inverse, weights=sel.violent[~alone], minlength=len(uniq)).astype(np.int64),
        "order": np.full(len(uniq), -1, dtype=np.int64),
    })
    if not alone.any():
        return grouped
    if "_order" in part.columns:
        order = part["_order"].to_numpy()[sel.rows[alone]]
    else:
        number = (partition_info or {}).get("number", 0)
        order = number * _PARTITION_STRIDE + sel.rows[alone]
    single = pd.DataFrame({
        "pos": pos[alone], "slot": sel.slot[alone], "count": np.ones(int(alone.sum()), dtype=np.int64),
        "harm": sel.harm[alone], "monthly": sel.monthly[alone].astype(np.int64),
        "violent": sel.violent[alone].astype(np.int64), "order": order.astype(np.int64),
    })
    return pd.concat([grouped, single], ignore_index=True)


def _positions(sel: Selection, cells: np.ndarray, resolution: int,
               bbox: tuple[float, float, float, float]) -> np.ndarray:
    """Position of each selected incident's H3 cell in the sorted study-area `cells`, -1 for
    none (what `StudyArea.locate` gives, without binning points far from the study area)."""
    x0, y0, x1, y1 = bbox
    near = (sel.x >= x0) & (sel.x <= x1) & (sel.y >= y0) & (sel.y <= y1)
    pos = np.full(len(sel.x), -1, dtype=np.int64)
    if near.any() and len(cells):
        found = h3cells.xy_to_cells(sel.x[near], sel.y[near], crs=BNG, resolution=resolution)
        at = np.minimum(np.searchsorted(cells, found), len(cells) - 1)
        pos[near] = np.where(cells[at] == found, at, -1)
    return pos


def _cell_groups(part: pd.DataFrame, *, category: str, periods: list[Period], settings: Settings,
                 cells: np.ndarray, resolution: int, bbox: tuple[float, float, float, float],
                 partition_info: dict | None = None) -> pd.DataFrame:
    """One partition's totals per study-area cell (position in the sorted `cells`) and period."""
    sel = select_incidents(part, category=category, periods=periods, settings=settings, check=False)
    return _groups(part, sel, _positions(sel, cells, resolution, bbox), partition_info)


def _ward_groups(part: pd.DataFrame, *, category: str, periods: list[Period], settings: Settings,
                 area: StudyArea, bbox: tuple[float, float, float, float],
                 partition_info: dict | None = None) -> pd.DataFrame:
    """One partition's totals per ward (position in `area.ward_codes`, plus the number of wards
    for points placed in the nearest ward from outside every ward) and period."""
    sel = select_incidents(part, category=category, periods=periods, settings=settings, check=False)
    del bbox  # the locator bins only points near the wards
    ward, snapped = area.place_points(sel.x, sel.y)
    return _groups(part, sel, np.where(snapped, ward + len(area.ward_codes), ward), partition_info)


def _ward_locator(area: StudyArea) -> StudyArea:
    """The study area without what `point_wards` does not use (hexagons, weights), for shipping
    to the workers."""
    return dataclasses.replace(area, polygons=np.empty(0, dtype=object), area_km2=np.empty(0),
                               neighbours=sp.csr_matrix((0, 0)), index=pd.Index([], dtype="uint64"))


def _totals(groups: pd.DataFrame, *, rows: int, periods: list[Period]) -> Totals:
    """Dense totals (rows x periods) from the gathered groups; checks the precision over all."""
    t = len(periods)
    check_precision(periods[-1], int(groups["monthly"].sum()))  # marked only where it matters
    # Single incidents in the order the in-memory engine meets them; a (row, period) is either
    # grouped or made of single incidents, never both, so adding the two sums is exact.
    alone = groups["order"].to_numpy() >= 0
    if alone.any():
        order = np.argsort(groups["order"].to_numpy()[alone], kind="stable")
        groups = pd.concat([groups.loc[~alone], groups.loc[alone].iloc[order]], ignore_index=True)
    pos = groups["pos"].to_numpy()
    slot = groups["slot"].to_numpy()
    inside = pos >= 0
    key = pos[inside] * t + slot[inside]
    counts = np.bincount(key, weights=groups["count"].to_numpy()[inside], minlength=rows * t)
    harm = np.bincount(key, weights=groups["harm"].to_numpy()[inside], minlength=rows * t)
    outside = int(groups["count"].to_numpy()[~inside & (slot == t - 1)].sum())
    return Totals(counts.reshape(rows, t).astype(np.int64), harm.reshape(rows, t), outside,
                  bool(groups["violent"].sum() > 0))


def dask_cell_totals(source: IncidentStore | pd.DataFrame, *, category: str,
                     period_sets: list[list[Period]], area: StudyArea, settings: Settings) -> list[Totals]:
    """`Totals` per study-area cell for each list of consecutive periods, counted on the cluster.

    The files are read once for all period lists; each partition bins its incidents with
    `hotspots.cells` and sends back one row per (cell, period) it holds.
    """
    bbox = _bbox(area)
    ddf = _read(source, [p for periods in period_sets for p in periods], settings, category=category)
    with dask_client(settings) as client:
        [cells] = client.scatter([np.asarray(area.cells)], broadcast=True)
        parts = [ddf.map_partitions(_cell_groups, category=category, periods=periods, settings=settings,
                                    cells=cells, resolution=area.resolution, bbox=bbox,
                                    meta=_GROUP_META, enforce_metadata=False)
                 for periods in period_sets]
        gathered = client.compute(parts, sync=True)
    return [_totals(groups, rows=area.n, periods=periods)
            for groups, periods in zip(gathered, period_sets, strict=True)]


def dask_ward_totals(source: IncidentStore | pd.DataFrame, *, category: str,
                     periods: list[Period], area: StudyArea, settings: Settings) -> Totals:
    """`Totals` per ward of `area` over consecutive `periods`, counted on the cluster (points
    placed by point in polygon on the real boundaries, as in memory)."""
    bbox = _bbox(area)
    ddf = _read(source, periods, settings, category=category)
    with dask_client(settings) as client:
        [locator] = client.scatter([_ward_locator(area)], broadcast=True, hash=False)
        part = ddf.map_partitions(_ward_groups, category=category, periods=periods, settings=settings,
                                  area=locator, bbox=bbox, meta=_GROUP_META, enforce_metadata=False)
        [groups] = client.compute([part], sync=True)
    n_w = len(area.ward_codes)
    both = _totals(groups, rows=2 * n_w, periods=periods)
    return dataclasses.replace(both, counts=both.counts[:n_w] + both.counts[n_w:],
                               harm=both.harm[:n_w] + both.harm[n_w:],
                               snapped=int(both.counts[n_w:, -1].sum()))


__all__ = [
    "SCHEDULER_TIMEOUT_S",
    "check_scheduler",
    "dask_cell_totals",
    "dask_client",
    "dask_ward_totals",
    "local_cluster",
    "resolve_source",
]
