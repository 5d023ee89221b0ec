"""Fast lookups on a street network: nearest node and street, travel-time matrices, street paths.

A networkx graph is turned once into arrays (a CSR matrix of the cheapest edge between each node
pair, node coordinates, a k-d tree and an R-tree of street lines); the arrays are cached per graph.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass

import networkx as nx
import numpy as np
import shapely
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import dijkstra
from scipy.spatial import cKDTree

#: Travel time standing for "cannot get there" in integer matrices (seconds; more than a day).
UNREACHABLE_S = 10**7


@dataclass
class GraphIndex:
    """Array form of a network. Node positions are indices into `nodes`."""

    nodes: np.ndarray  # node ids, int64 or object
    xy: np.ndarray  # (n, 2) metres
    time: csr_matrix  # cheapest travel time (s) from row node to column node
    length: csr_matrix  # length (m) of that cheapest edge
    edge_key: dict[tuple[int, int], object]  # (i, j) -> key of the cheapest parallel edge
    kdtree: cKDTree
    lines: np.ndarray  # street lines, one per undirected node pair
    line_tree: shapely.STRtree
    signature: tuple[int, int]

    def position(self, node: object) -> int:
        return self._pos[node]

    def __post_init__(self) -> None:
        self._pos = {n: i for i, n in enumerate(self.nodes.tolist())}


_CACHE: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def graph_index(graph: nx.MultiDiGraph, *, weight: str = "travel_time") -> GraphIndex:
    """The cached `GraphIndex` of a graph.

    The cache is keyed by the graph object and checked against its node count only (counting a
    multigraph's edges costs as much as a third of building the index): change a graph's edges in
    place after planning and the old index is used.
    """
    signature = (len(graph), 0)
    per_graph = _CACHE.setdefault(graph, {})
    found = per_graph.get(weight)
    if found is not None and found.signature == signature:
        return found
    index = _build_index(graph, weight=weight, signature=signature)
    per_graph[weight] = index
    return index


def _build_index(graph: nx.MultiDiGraph, *, weight: str, signature: tuple[int, int]) -> GraphIndex:
    nodes = list(graph.nodes)
    pos = {n: i for i, n in enumerate(nodes)}
    node_data = graph.nodes
    xy = np.array([(float(node_data[n]["x"]), float(node_data[n]["y"])) for n in nodes])
    rows: list[int] = []
    cols: list[int] = []
    costs: list[float] = []
    lengths: list[float] = []
    keys: list[object] = []
    shaped: list[object] = []  # street lines that carry their own geometry
    straight: list[tuple[int, int]] = []  # node pairs drawn as straight lines
    # networkx's own adjacency dicts: iterating them is several times faster than its views,
    # which matters on city-sized networks (about 1 s per 100,000 edges through the views).
    succ = graph._succ if graph.is_directed() else graph._adj
    for u, nbrs in succ.items():
        i = pos[u]
        for v, keydict in nbrs.items():
            if u == v:
                continue
            j = pos[v]
            first_of_pair = i < j or u not in succ[v]
            for k, data in keydict.items():
                rows.append(i)
                cols.append(j)
                costs.append(data[weight])
                lengths.append(data.get("length", 0.0))
                keys.append(k)
                if first_of_pair:
                    geom = data.get("geometry")
                    if geom is None:
                        straight.append((i, j))
                    else:
                        shaped.append(geom)
                    first_of_pair = False
    rows_a = np.asarray(rows, dtype=np.int64)
    cols_a = np.asarray(cols, dtype=np.int64)
    costs_a = np.asarray(costs, dtype=float)
    # Keep the cheapest of parallel edges: sort by cost, then take the first of each pair.
    order = np.lexsort((costs_a, cols_a, rows_a))
    rows_a, cols_a, costs_a = rows_a[order], cols_a[order], costs_a[order]
    lengths_a = np.asarray(lengths, dtype=float)[order]
    first = np.ones(len(rows_a), dtype=bool)
    first[1:] = (rows_a[1:] != rows_a[:-1]) | (cols_a[1:] != cols_a[:-1])
    kept = order[first]
    rows_a, cols_a = rows_a[first], cols_a[first]
    # A zero-cost edge would vanish from a sparse matrix; a tiny cost keeps it.
    costs_a = np.maximum(costs_a[first], 1e-6)
    lengths_a = lengths_a[first]
    edge_key = dict(zip(zip(rows_a.tolist(), cols_a.tolist(), strict=True),
                        [keys[i] for i in kept.tolist()], strict=True))
    n = len(nodes)
    time = csr_matrix((costs_a, (rows_a, cols_a)), shape=(n, n))
    length = csr_matrix((lengths_a, (rows_a, cols_a)), shape=(n, n))

    if straight:
        pairs = np.asarray(straight, dtype=np.int64)
        segs = shapely.linestrings(np.stack([xy[pairs[:, 0]], xy[pairs[:, 1]]], axis=1))
    else:
        segs = np.empty(0, dtype=object)
    lines_a = np.concatenate([np.asarray(shaped, dtype=object), np.asarray(segs, dtype=object)])
    node_array = np.asarray(nodes)
    return GraphIndex(nodes=node_array, xy=xy, time=time, length=length, edge_key=edge_key,
                      kdtree=cKDTree(xy), lines=lines_a, line_tree=shapely.STRtree(lines_a),
                      signature=signature)


def nearest_nodes(index: GraphIndex, xy: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Nearest network node of each point: (node positions, distances in metres)."""
    dist, pos = index.kdtree.query(np.asarray(xy, dtype=float).reshape(-1, 2))
    return np.asarray(pos, dtype=np.int64), np.asarray(dist, dtype=float)


def street_distances(index: GraphIndex, xy: np.ndarray) -> np.ndarray:
    """Distance in metres from each point to the nearest street line."""
    pts = shapely.points(np.asarray(xy, dtype=float).reshape(-1, 2))
    if len(pts) == 0:
        return np.zeros(0)
    (_, _), dist = index.line_tree.query_nearest(pts, return_distance=True, all_matches=False)
    return np.asarray(dist, dtype=float)


def travel_matrix(index: GraphIndex, positions: np.ndarray) -> tuple[np.ndarray, np.ndarray,
                                                                      np.ndarray]:
    """Shortest travel times between node positions, by Dijkstra from each distinct source.

    Returns
    -------
    (seconds, predecessors, sources)
        `seconds[i, j]` is the travel time from `positions[i]` to `positions[j]` (inf when
        unreachable); `predecessors` has one row per distinct source for path recovery, and
        `sources` the node position of each row.
    """
    positions = np.asarray(positions, dtype=np.int64)
    sources, inverse = np.unique(positions, return_inverse=True)
    dist, pred = dijkstra(index.time, directed=True, indices=sources, return_predecessors=True)
    seconds = dist[inverse][:, positions]
    return seconds, pred, sources


def path_positions(pred: np.ndarray, sources: np.ndarray, src: int, dst: int) -> list[int]:
    """The node positions of the shortest path from `src` to `dst` (both included)."""
    if src == dst:
        return [src]
    row = pred[int(np.searchsorted(sources, src))]
    out = [dst]
    cur = dst
    while cur != src:
        cur = int(row[cur])
        if cur < 0:
            msg = "no path between the two nodes"
            raise ValueError(msg)
        out.append(cur)
    out.reverse()
    return out


def path_line(graph: nx.MultiDiGraph, index: GraphIndex, positions: list[int]) -> tuple[
        list[tuple[float, float]], float]:
    """Coordinates (metres) of a node path following the streets' shapes, and its length (m)."""
    coords: list[tuple[float, float]] = [tuple(index.xy[positions[0]])]
    total = 0.0
    for a, b in zip(positions[:-1], positions[1:], strict=True):
        u, v = index.nodes[a], index.nodes[b]
        key = index.edge_key[(a, b)]
        data = graph.edges[u, v, key]
        total += float(data.get("length", 0.0))
        geom = data.get("geometry")
        if geom is None:
            pts = [tuple(index.xy[b])]
        else:
            pts = [tuple(p) for p in geom.coords]
            # A simplified edge's shape may run from v to u; orient it from u.
            start = np.asarray(pts[0])
            if np.hypot(*(start - index.xy[a])) > np.hypot(*(np.asarray(pts[-1]) - index.xy[a])):
                pts.reverse()
            pts = pts[1:]
        coords.extend(pts)
    return coords, total


def straight_matrix(xy: np.ndarray, *, speed_mps: float, circuity: float) -> tuple[np.ndarray,
                                                                                   np.ndarray]:
    """Straight-line estimates: (seconds, metres) between points, distance times `circuity`."""
    xy = np.asarray(xy, dtype=float).reshape(-1, 2)
    d = np.hypot(xy[:, None, 0] - xy[None, :, 0], xy[:, None, 1] - xy[None, :, 1]) * circuity
    return d / speed_mps, d
