"""Exact travel-time queries between snapped points: one-to-many, many-to-one, the k units that reach an
incident first (one reverse search), matrices and routes. Partial edges are counted at both ends."""

from __future__ import annotations

import math
import weakref
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
from numpy.typing import NDArray

from precinct.core.routing import kernels
from precinct.core.routing.errors import RoutingError
from precinct.core.routing.graph import RoadGraph
from precinct.core.routing.snapping import Snap, Snaps

MAX_LIMIT_S = 24 * 3600.0
_FORWARD = "forward"
_REVERSE = "reverse"

Attachments = tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.float64], NDArray[np.float64]]


@dataclass(frozen=True)
class _Prepared:
    """What a search needs about a set of points, computed once per (graph, point set).

    A dispatcher reuses the same unit positions for many incidents, so validation, edge attachments and
    the segment lookup (for the same-edge case) are paid once, not per query.
    """

    start: Attachments
    end: Attachments
    segment_sorted: NDArray[np.int64]
    segment_order: NDArray[np.int64]


_prepared_cache: weakref.WeakKeyDictionary[Snaps, dict[int, _Prepared]] = weakref.WeakKeyDictionary()


def _prepare(graph: RoadGraph, snaps: Snaps, what: str) -> _Prepared:
    per_graph = _prepared_cache.setdefault(snaps, {})
    prepared = per_graph.get(id(graph))
    if prepared is None:
        check_snaps(graph, snaps, what)
        segment = _segment_of(graph, snaps.edge_id.astype(np.int64))
        order = np.argsort(segment, kind="stable")
        prepared = _Prepared(start_attachments(graph, snaps), end_attachments(graph, snaps), segment[order], order)
        per_graph[id(graph)] = prepared
    return prepared


def _segment_of(graph: RoadGraph, edge: NDArray[np.int64]) -> NDArray[np.int64]:
    """The segment id of each edge: the smaller edge id of its two directions."""
    rev = graph.reverse_edge[edge].astype(np.int64)
    return np.where((rev >= 0) & (rev < edge), rev, edge)


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
        self.pred = np.full(n, -1, dtype=np.int64)
        self.att_first = np.full(n, -1, dtype=np.int64)
        self.touched = np.zeros(n, dtype=np.int64)
        self._extra = 0
        self.heap_key = np.empty(0)
        self.heap_id = np.empty(0, dtype=np.int64)
        self._edges = graph.edge_count
        self.ensure_heap(1024)

    def ensure_heap(self, extra: int) -> None:
        """Make the heap hold every possible push: one per edge relaxation plus ``extra`` (sources, units)."""
        if extra > self._extra:
            self._extra = max(extra, 2 * self._extra)
            self.heap_key = np.empty(self._edges + self._extra + 1)
            self.heap_id = np.empty(self._edges + self._extra + 1, dtype=np.int64)


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


def check_snaps(graph: RoadGraph, snaps: Snaps, what: str) -> None:
    """Refuse an empty list and positions that are missing or not on this graph."""
    if len(snaps) == 0:
        raise RoutingError(f"the list of {what}s is empty")
    bad = np.flatnonzero(~np.isfinite(snaps.fraction) | (snaps.fraction < 0) | (snaps.fraction > 1))
    if bad.size:
        raise RoutingError(f"{what} {int(bad[0])} has no position (its fraction along the edge is not in 0..1)")
    bad = np.flatnonzero((snaps.edge_id < 0) | (snaps.edge_id >= graph.edge_count))
    if bad.size:
        raise RoutingError(f"{what} {int(bad[0])} refers to edge {snaps.edge_id[bad[0]]}, not in this graph")


def _single(snap: Snap) -> Snaps:
    return Snaps.of([snap])


def _point_attachments(graph: RoadGraph, snap: Snap, kind: str) -> Attachments:
    """Start or end attachments of one point, with scalar arithmetic (the per-incident fast path)."""
    e = int(snap.edge_id)
    r = int(graph.reverse_edge[e])
    f = float(snap.fraction)
    tail, head = int(graph.edge_tail[e]), int(graph.indices[e])
    t_e, l_e = float(graph.travel_time_s[e]), float(graph.length_m[e])
    t_r = float(graph.travel_time_s[r]) if r >= 0 else 0.0
    l_r = float(graph.length_m[r]) if r >= 0 else 0.0
    if kind == "start":
        rows = [(head, (1 - f) * t_e, (1 - f) * l_e)]
        if r >= 0 or f == 0.0:  # at fraction 0 the point is the tail itself
            rows.append((tail, f * t_r, f * l_r))
    else:
        rows = [(tail, f * t_e, f * l_e)]
        if r >= 0 or f == 1.0:  # at fraction 1 the point is the head itself
            rows.append((head, (1 - f) * t_r, (1 - f) * l_r))
    rows.sort()
    return (
        np.array([row[0] for row in rows], dtype=np.int64),
        np.zeros(len(rows), dtype=np.int64),
        np.array([row[1] for row in rows], dtype=np.float64),
        np.array([row[2] for row in rows], dtype=np.float64),
    )


def _check_point(graph: RoadGraph, snap: Snap, what: str) -> None:
    if not (0.0 <= snap.fraction <= 1.0) or not (0 <= snap.edge_id < graph.edge_count):
        raise RoutingError(
            f"the {what} has no valid position on this graph (edge {snap.edge_id}, fraction {snap.fraction})"
        )


def start_attachments(graph: RoadGraph, snaps: Snaps) -> Attachments:
    """Nodes reachable from each point without passing another node: (node, point, time, length).

    From a point on u→v one reaches v along the edge, and u when the segment is two-way. A point at
    fraction 0 *is* u, so it also reaches u at no cost on a one-way edge.
    """
    return _attachments(graph, snaps, start=True)


def end_attachments(graph: RoadGraph, snaps: Snaps) -> Attachments:
    """Nodes from which each point is reached without passing another node: (node, point, time, length).

    A point on u→v is reached from u along the edge, and from v when the segment is two-way. A point at
    fraction 1 *is* v, so it is also reached from v at no cost on a one-way edge.
    """
    return _attachments(graph, snaps, start=False)


def _attachments(graph: RoadGraph, snaps: Snaps, *, start: bool) -> Attachments:
    edge = snaps.edge_id.astype(np.int64)
    rev = graph.reverse_edge[edge].astype(np.int64)
    safe_rev = np.where(rev >= 0, rev, 0)
    # Work in the frame of the way the edge is driven: "ahead" is the part still to drive (start) or
    # the part already driven (end).
    f = snaps.fraction
    ahead = 1.0 - f if start else f
    along_node = graph.indices[edge] if start else graph.edge_tail[edge]
    other_node = graph.edge_tail[edge] if start else graph.indices[edge]
    at_other_end = ahead == 1.0
    other = (rev >= 0) | at_other_end
    other_time = np.where(rev >= 0, (1.0 - ahead) * graph.travel_time_s[safe_rev], 0.0)
    other_len = np.where(rev >= 0, (1.0 - ahead) * graph.length_m[safe_rev], 0.0)
    point = np.arange(len(snaps), dtype=np.int64)
    node = np.concatenate([along_node, other_node[other]]).astype(np.int64)
    time_s = np.concatenate([ahead * graph.travel_time_s[edge], other_time[other]])
    length_m = np.concatenate([ahead * graph.length_m[edge], other_len[other]])
    return _sorted(node, np.concatenate([point, point[other]]), time_s, length_m)


def _sorted(
    node: NDArray[np.int64],
    point: NDArray[np.int64],
    time_s: NDArray[np.float64],
    length_m: NDArray[np.float64],
) -> Attachments:
    order = np.argsort(node, kind="stable")
    return node[order], point[order], time_s[order].astype(np.float64), length_m[order].astype(np.float64)


def _direct_against_set(
    graph: RoadGraph, point: Snap, points: Snaps, prepared: _Prepared, *, point_is_start: bool
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Same-segment times between one point and a prepared set: inf except where they share a segment."""
    time_s = np.full(len(points), np.inf)
    length_m = np.full(len(points), np.inf)
    segment = int(_segment_of(graph, np.array([point.edge_id], dtype=np.int64))[0])
    lo, hi = np.searchsorted(prepared.segment_sorted, [segment, segment + 1])
    if hi > lo:
        sharing = prepared.segment_order[lo:hi]
        one, many = _single(point), points.take(sharing)
        t, length = direct_times(graph, one, many) if point_is_start else direct_times(graph, many, one)
        time_s[sharing] = t
        length_m[sharing] = length
    return time_s, length_m


def direct_times(graph: RoadGraph, start: Snaps, end: Snaps) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Time and length from ``start[i]`` to ``end[i]`` along their shared segment (inf if none).

    Either side may hold one point (broadcast). The end must lie ahead of the start in a direction that
    may be driven; otherwise the path goes through nodes and the search finds it.
    """
    rev = graph.reverse_edge
    e_s, f_s = start.edge_id.astype(np.int64), start.fraction
    e_t, f_t = end.edge_id.astype(np.int64), end.fraction
    best_t = np.full(np.broadcast(e_s, e_t).shape, np.inf)
    best_l = best_t.copy()
    for drive, pos_s in ((e_s, f_s), (rev[e_s].astype(np.int64), 1.0 - f_s)):
        pos_t = np.where(e_t == drive, f_t, np.where(rev[e_t] == drive, 1.0 - f_t, np.nan))
        ok = (drive >= 0) & (pos_t >= pos_s)
        safe = np.where(drive >= 0, drive, 0)
        t = np.where(ok, (pos_t - pos_s) * graph.travel_time_s[safe], np.inf)
        better = t < best_t
        best_t = np.where(better, t, best_t)
        best_l = np.where(better, (pos_t - pos_s) * graph.length_m[safe], best_l)
    return best_t, best_l


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
    if direction == _FORWARD:
        csr = (graph.indptr, graph.indices, graph.forward_edge_ids, graph.travel_time_s, graph.length_m)
    else:
        csr = (
            graph.rev_indptr,
            graph.rev_indices,
            graph.rev_edge,
            graph.rev_travel_time_s,
            graph.rev_length_m,
        )
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


def _edge_between(graph: RoadGraph, edge_id: int, *, tail: int | None, head: int | None) -> int:
    """The direction of ``edge_id``'s segment that starts at ``tail`` or ends at ``head``."""
    if (tail is not None and int(graph.edge_tail[edge_id]) == tail) or (
        head is not None and int(graph.indices[edge_id]) == head
    ):
        return int(edge_id)
    return int(graph.reverse_edge[edge_id])


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
    _check_point(graph, origin, "origin")
    prepared = _prepare(graph, targets, "target")
    direct = _direct_against_set(graph, origin, targets, prepared, point_is_start=True)
    sources = _point_attachments(graph, origin, "start")
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
    _check_point(graph, target, "target")
    prepared = _prepare(graph, origins, "origin")
    direct = _direct_against_set(graph, target, origins, prepared, point_is_start=False)
    sources = _point_attachments(graph, target, "end")
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
    _check_point(graph, incident, "incident")
    prepared = _prepare(graph, candidates, "candidate")
    direct = _direct_against_set(graph, incident, candidates, prepared, point_is_start=False)
    sources = _point_attachments(graph, incident, "end")
    result, _ = _run(graph, _REVERSE, sources, prepared.start, direct, int(k), limit)
    return [EtaMatch(int(c), float(result.cand_time[c]), float(result.cand_len[c])) for c in result.settled.tolist()]


def travel_time_matrix(graph: RoadGraph, origins: Snaps, targets: Snaps) -> NDArray[np.float64]:
    """Travel times in seconds from every origin (rows) to every target (columns).

    One forward search per origin, each stopping when all targets are settled.
    """
    check_snaps(graph, origins, "origin")
    prepared = _prepare(graph, targets, "target")
    matrix = np.full((len(origins), len(targets)), np.inf)
    for i in range(len(origins)):
        origin = origins[i]
        direct = _direct_against_set(graph, origin, targets, prepared, point_is_start=True)
        sources = _point_attachments(graph, origin, "start")
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
    _check_point(graph, origin, "origin")
    _check_point(graph, target, "target")
    direct = direct_times(graph, _single(origin), _single(target))
    sources = _point_attachments(graph, origin, "start")
    ends = _point_attachments(graph, target, "end")
    result, n_touched = _run(graph, _FORWARD, sources, ends, direct, 1, math.inf, keep_tree=True)
    ws = graph.workspace()
    try:
        if result.settled.shape[0] == 0:
            raise RoutingError("the target cannot be reached from the origin")
        via = int(result.cand_via[0])
        edges: list[int] = []
        nodes: list[int] = []
        if via >= 0:
            node = via
            while ws.pred[node] >= 0:
                nodes.append(node)
                edge = int(ws.pred[node])
                edges.append(edge)
                node = int(graph.edge_tail[edge])
            nodes.append(node)
            nodes.reverse()
            first = _edge_between(graph, origin.edge_id, tail=None, head=node)
            last = _edge_between(graph, target.edge_id, tail=via, head=None)
            # A point exactly on a node of a one-way edge enters or leaves there: no partial edge.
            edges = [e for e in (first, *reversed(edges), last) if e >= 0]
        else:
            on_same = int(target.edge_id) == int(origin.edge_id)
            ahead = (target.fraction if on_same else 1.0 - target.fraction) >= origin.fraction
            edges = [origin.edge_id if ahead else int(graph.reverse_edge[origin.edge_id])]
        geometry = [(origin.lon, origin.lat)]
        geometry += [(float(graph.node_lon[x]), float(graph.node_lat[x])) for x in nodes]
        geometry.append((target.lon, target.lat))
    finally:
        kernels.reset(ws.dist, ws.att_first, ws.touched, n_touched, ends[0])
    return Route(float(result.cand_time[0]), float(result.cand_len[0]), geometry, edges)
