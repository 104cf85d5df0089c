"""Exact travel-time queries between snapped points: one-to-many, many-to-one, the k units that reach an
incident first (one reverse search), matrices and routes. Partial edges are counted at both ends."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
from numpy.typing import NDArray

from precinct.core.routing import kernels
from precinct.core.routing.attachments import (
    Attachments,
    check_point,
    check_snaps,
    direct_against_set,
    direct_times,
    point_attachments,
    point_options,
    prepare,
    single,
)
from precinct.core.routing.errors import RoutingError
from precinct.core.routing.graph import RoadGraph
from precinct.core.routing.snapping import Snap, Snaps

MAX_LIMIT_S = 24 * 3600.0
_FORWARD = "forward"
_REVERSE = "reverse"


class EtaMatch(NamedTuple):
    """One candidate of a k-nearest answer: its index in the candidate list, ETA and road distance."""

    candidate_index: int
    eta_s: float
    distance_m: float


@dataclass(frozen=True)
class TravelTimes:
    """Travel times and road distances of the fastest paths, ``inf`` where not reached within the limit."""

    travel_time_s: NDArray[np.float64]
    distance_m: NDArray[np.float64]


@dataclass(frozen=True)
class Route:
    """The fastest route between two snapped points.

    Attributes
    ----------
    travel_time_s, distance_m : float
        Totals, partial first and last edges included.
    geometry : list of (lon, lat)
        From the origin's snapped point through every node passed to the target's snapped point.
    edge_ids : list of int
        The directed edges driven, first and last possibly in part.
    """

    travel_time_s: float
    distance_m: float
    geometry: list[tuple[float, float]]
    edge_ids: list[int]


class SearchWorkspace:
    """Buffers reused by every search on one graph: node-sized arrays are reset only where a search wrote.

    Not thread-safe; :meth:`RoadGraph.workspace` gives each thread its own.
    """

    def __init__(self, graph: RoadGraph) -> None:
        n = graph.node_count
        self.dist = np.full(n, np.inf)
        self.dist_len = np.zeros(n)
        # int32 halves the memory traffic of the node-sized arrays, which dominates the search's cost.
        self.pred = np.full(n, -1, dtype=np.int32)
        self.att_first = np.full(n, -1, dtype=np.int32)
        self.touched = np.zeros(n, dtype=np.int32)
        self._extra = 0
        self.heap_key = np.empty(0)
        self.heap_id = np.empty(0, dtype=np.int32)
        self._edges = graph.edge_count
        self.ensure_heap(1024)

    def ensure_heap(self, extra: int) -> None:
        """Make the heap hold every possible push: one per edge relaxation plus ``extra`` (sources, units)."""
        if extra > self._extra:
            self._extra = max(extra, 2 * self._extra)
            self.heap_key = np.empty(self._edges + self._extra + 1)
            self.heap_id = np.empty(self._edges + self._extra + 1, dtype=np.int32)


def check_limit(limit_s: float | None) -> float:
    """Validate a time limit in seconds (``None`` means no limit)."""
    if limit_s is None:
        return math.inf
    value = float(limit_s)
    if math.isnan(value) or value < 0:
        raise RoutingError(f"limit_s must be a non-negative number of seconds, got {limit_s}")
    if value > MAX_LIMIT_S:
        raise RoutingError(f"limit_s of {value:.0f} s is over 24 hours; pass None for no limit")
    return value


@dataclass
class _Result:
    cand_time: NDArray[np.float64]
    cand_len: NDArray[np.float64]
    cand_via: NDArray[np.int64]
    settled: NDArray[np.int64]


def _run(
    graph: RoadGraph,
    direction: str,
    sources: Attachments,
    attachments: Attachments,
    direct: tuple[NDArray[np.float64], NDArray[np.float64]],
    k_stop: int,
    limit_s: float,
    *,
    keep_tree: bool = False,
) -> tuple[_Result, int]:
    """Run one search and reset the workspace (unless ``keep_tree``, for route reconstruction)."""
    ws = graph.workspace()
    count = direct[0].shape[0]
    ws.ensure_heap(sources[0].shape[0] + attachments[0].shape[0] + count + 1)
    sg = graph.search_graph
    if direction == _FORWARD:
        csr = (sg.core_indptr, sg.core_indices, sg.core_chain, sg.core_time_s, sg.core_length_m)
    else:
        csr = (sg.core_rev_indptr, sg.core_rev_indices, sg.core_rev_chain, sg.core_rev_time_s, sg.core_rev_length_m)
    result = _Result(direct[0].copy(), direct[1].copy(), np.full(count, -1, dtype=np.int64), np.empty(count, np.int64))
    n_touched, done = kernels.search(
        *csr,
        sources[0], sources[2], sources[3],
        attachments[0], attachments[1], attachments[2], attachments[3],
        result.cand_time, result.cand_len, result.cand_via,
        k_stop, limit_s,
        ws.dist, ws.dist_len, ws.pred, ws.att_first, ws.touched, ws.heap_key, ws.heap_id, result.settled,
    )  # fmt: skip
    result.settled = result.settled[:done]
    if not keep_tree:
        kernels.reset(ws.dist, ws.att_first, ws.touched, n_touched, attachments[0])
    return result, n_touched


def _chain_part(graph: RoadGraph, edge: int, *, from_edge: bool) -> list[int]:
    """The edges of ``edge``'s chain from ``edge`` to the chain's end, or from its start up to ``edge``."""
    sg = graph.search_graph
    edges: list[int] = sg.chain_slice(int(sg.edge_chain[edge])).tolist()
    i = edges.index(edge)
    return edges[i:] if from_edge else edges[: i + 1]


def _direct_edges(graph: RoadGraph, origin: Snap, target: Snap) -> list[int]:
    """Edges driven between two points on one chain (the search found no shorter way through a node)."""
    rev = graph.reverse_edge
    for drive, frac_s in ((int(origin.edge_id), origin.fraction), (int(rev[origin.edge_id]), 1.0 - origin.fraction)):
        if drive < 0:
            continue
        rest = _chain_part(graph, drive, from_edge=True)
        for end, frac_t in ((int(target.edge_id), target.fraction), (int(rev[target.edge_id]), 1.0 - target.fraction)):
            if end >= 0 and end in rest and (rest.index(end) > 0 or frac_t >= frac_s):
                return rest[: rest.index(end) + 1]
    return [int(origin.edge_id)]


def _pick(options: list[tuple[int, float, float, int]], node: int) -> int:
    """The point-side edge of the cheapest option that meets the search graph at ``node``."""
    return min((option for option in options if option[0] == node), key=lambda option: option[1])[3]


def _unsettled_to_inf(result: _Result) -> TravelTimes:
    time_s = np.full(result.cand_time.shape[0], np.inf)
    length_m = np.full(result.cand_time.shape[0], np.inf)
    time_s[result.settled] = result.cand_time[result.settled]
    length_m[result.settled] = result.cand_len[result.settled]
    return TravelTimes(time_s, length_m)


def travel_times_from(graph: RoadGraph, origin: Snap, targets: Snaps, *, limit_s: float | None = None) -> TravelTimes:
    """Fastest travel times from one point to many (one forward search).

    Parameters
    ----------
    graph : RoadGraph
    origin : Snap
        The departure point.
    targets : Snaps
        The destinations.
    limit_s : float, optional
        Stop searching beyond this time; targets not reached within it get ``inf``.

    Returns
    -------
    TravelTimes
        Per target, in the order given.
    """
    limit = check_limit(limit_s)
    check_point(graph, origin, "origin")
    prepared = prepare(graph, targets, "target")
    direct = direct_against_set(graph, origin, targets, prepared, point_is_start=True)
    sources = point_attachments(graph, origin, "start")
    result, _ = _run(graph, _FORWARD, sources, prepared.end, direct, len(targets), limit)
    return _unsettled_to_inf(result)


def travel_times_to(graph: RoadGraph, origins: Snaps, target: Snap, *, limit_s: float | None = None) -> TravelTimes:
    """Fastest travel times from many points to one (one search on the reverse graph).

    Parameters
    ----------
    graph : RoadGraph
    origins : Snaps
        The departure points (units).
    target : Snap
        The destination (an incident).
    limit_s : float, optional
        Stop searching beyond this time; origins that cannot arrive within it get ``inf``.

    Returns
    -------
    TravelTimes
        Per origin, in the order given.
    """
    limit = check_limit(limit_s)
    check_point(graph, target, "target")
    prepared = prepare(graph, origins, "origin")
    direct = direct_against_set(graph, target, origins, prepared, point_is_start=False)
    sources = point_attachments(graph, target, "end")
    result, _ = _run(graph, _REVERSE, sources, prepared.start, direct, len(origins), limit)
    return _unsettled_to_inf(result)


def nearest_by_eta(
    graph: RoadGraph, incident: Snap, candidates: Snaps, k: int, *, limit_s: float | None = None
) -> list[EtaMatch]:
    """The ``k`` candidates (units) that can reach the incident first, by one reverse search.

    The search runs backwards from the incident and stops as soon as ``k`` candidates are settled, so its
    cost depends on how far the k-th unit is, not on the size of the graph.

    Parameters
    ----------
    graph : RoadGraph
    incident : Snap
        Where the units must drive to.
    candidates : Snaps
        Positions of the available units. Reuse the same object across incidents: its edge attachments
        are computed once.
    k : int
        How many to return (fewer if fewer can arrive within ``limit_s``).
    limit_s : float, optional
        Ignore units that need longer than this.

    Returns
    -------
    list of EtaMatch
        ``(candidate_index, eta_s, distance_m)`` by increasing ETA.

    Raises
    ------
    RoutingError
        ``k`` below 1, an invalid limit, an empty candidate list or a candidate without a position.
    """
    if not isinstance(k, (int, np.integer)) or isinstance(k, bool) or k <= 0:
        raise RoutingError(f"k must be a positive whole number of units, got {k!r}")
    limit = check_limit(limit_s)
    check_point(graph, incident, "incident")
    prepared = prepare(graph, candidates, "candidate")
    direct = direct_against_set(graph, incident, candidates, prepared, point_is_start=False)
    sources = point_attachments(graph, incident, "end")
    result, _ = _run(graph, _REVERSE, sources, prepared.start, direct, int(k), limit)
    return [EtaMatch(int(c), float(result.cand_time[c]), float(result.cand_len[c])) for c in result.settled.tolist()]


def travel_time_matrix(graph: RoadGraph, origins: Snaps, targets: Snaps) -> NDArray[np.float64]:
    """Travel times in seconds from every origin (rows) to every target (columns).

    One forward search per origin, each stopping when all targets are settled.
    """
    check_snaps(graph, origins, "origin")
    prepared = prepare(graph, targets, "target")
    matrix = np.full((len(origins), len(targets)), np.inf)
    for i in range(len(origins)):
        origin = origins[i]
        direct = direct_against_set(graph, origin, targets, prepared, point_is_start=True)
        sources = point_attachments(graph, origin, "start")
        result, _ = _run(graph, _FORWARD, sources, prepared.end, direct, len(targets), math.inf)
        matrix[i] = _unsettled_to_inf(result).travel_time_s
    return matrix


def route(graph: RoadGraph, origin: Snap, target: Snap) -> Route:
    """The fastest route from ``origin`` to ``target`` with its geometry for display.

    Raises
    ------
    RoutingError
        If either point is invalid, or the target cannot be reached (impossible within one component).
    """
    check_point(graph, origin, "origin")
    check_point(graph, target, "target")
    direct = direct_times(graph, single(origin), single(target))
    sources = point_attachments(graph, origin, "start")
    ends = point_attachments(graph, target, "end")
    result, n_touched = _run(graph, _FORWARD, sources, ends, direct, 1, math.inf, keep_tree=True)
    ws = graph.workspace()
    try:
        if result.settled.shape[0] == 0:
            raise RoutingError("the target cannot be reached from the origin")
        via = int(result.cand_via[0])
        sg = graph.search_graph
        edges: list[int] = []
        if via >= 0:
            chains: list[int] = []
            node = via
            while ws.pred[node] >= 0:
                chain = int(ws.pred[node])
                chains.append(chain)
                node = int(sg.chain_tail[chain])
            first = _pick(point_options(graph, origin, start=True), node)
            last = _pick(point_options(graph, target, start=False), via)
            # An option without an edge is a point lying exactly on the core node.
            edges = _chain_part(graph, first, from_edge=True) if first >= 0 else []
            for chain in reversed(chains):
                edges += sg.chain_slice(chain).tolist()
            edges += _chain_part(graph, last, from_edge=False) if last >= 0 else []
        else:
            edges = _direct_edges(graph, origin, target)
        nodes = [int(graph.indices[e]) for e in edges[:-1]]
        geometry = [(origin.lon, origin.lat)]
        geometry += [(float(graph.node_lon[x]), float(graph.node_lat[x])) for x in nodes]
        geometry.append((target.lon, target.lat))
    finally:
        kernels.reset(ws.dist, ws.att_first, ws.touched, n_touched, ends[0])
    return Route(float(result.cand_time[0]), float(result.cand_len[0]), geometry, edges)
