"""Where points meet the graph: the nodes a snapped point reaches (or is reached from) along its own edge
and at what cost, the same-segment shortcut between two points, and validation of point sets."""

from __future__ import annotations

import weakref
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from precinct.core.routing.errors import RoutingError
from precinct.core.routing.graph import RoadGraph
from precinct.core.routing.snapping import Snap, Snaps

Attachments = tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.float64], NDArray[np.float64]]


@dataclass(frozen=True)
class Prepared:
    """What a search needs about a set of points, computed once per (graph, point set).

    A dispatcher reuses the same unit positions for many incidents, so validation, edge attachments and
    the segment lookup (for the same-edge case) are paid once, not per query.
    """

    start: Attachments
    end: Attachments
    segment_sorted: NDArray[np.int64]
    segment_order: NDArray[np.int64]


# Keyed weakly on both objects, so neither a point set nor a replaced graph is kept alive by the cache.
_prepared_cache: weakref.WeakKeyDictionary[Snaps, weakref.WeakKeyDictionary[RoadGraph, Prepared]] = (
    weakref.WeakKeyDictionary()
)


def prepare(graph: RoadGraph, snaps: Snaps, what: str) -> Prepared:
    """Validate ``snaps`` and compute their attachments on ``graph`` (cached per pair of objects)."""
    per_graph = _prepared_cache.setdefault(snaps, weakref.WeakKeyDictionary())
    prepared = per_graph.get(graph)
    if prepared is None:
        check_snaps(graph, snaps, what)
        segment = segment_of(graph, snaps.edge_id.astype(np.int64))
        order = np.argsort(segment, kind="stable")
        prepared = Prepared(start_attachments(graph, snaps), end_attachments(graph, snaps), segment[order], order)
        per_graph[graph] = prepared
    return prepared


def segment_of(graph: RoadGraph, edge: NDArray[np.int64]) -> NDArray[np.int64]:
    """The segment id of each edge: the smaller edge id of its two directions."""
    rev = graph.reverse_edge[edge].astype(np.int64)
    return np.where((rev >= 0) & (rev < edge), rev, edge)


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


def single(snap: Snap) -> Snaps:
    return Snaps.of([snap])


def point_attachments(graph: RoadGraph, snap: Snap, kind: str) -> Attachments:
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


def check_point(graph: RoadGraph, snap: Snap, what: str) -> None:
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


def direct_against_set(
    graph: RoadGraph, point: Snap, points: Snaps, prepared: Prepared, *, point_is_start: bool
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Same-segment times between one point and a prepared set: inf except where they share a segment."""
    time_s = np.full(len(points), np.inf)
    length_m = np.full(len(points), np.inf)
    segment = int(segment_of(graph, np.array([point.edge_id], dtype=np.int64))[0])
    lo, hi = np.searchsorted(prepared.segment_sorted, [segment, segment + 1])
    if hi > lo:
        sharing = prepared.segment_order[lo:hi]
        one, many = single(point), points.take(sharing)
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
