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
    chain_sorted: NDArray[np.int64]
    chain_point: NDArray[np.int64]


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
        chain, point = _chains_of(graph, snaps)
        order = np.argsort(chain, kind="stable")
        prepared = Prepared(start_attachments(graph, snaps), end_attachments(graph, snaps), chain[order], point[order])
        per_graph[graph] = prepared
    return prepared


def _chains_of(graph: RoadGraph, snaps: Snaps) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """The chains each point lies on (one per drivable direction of its segment), with the point index."""
    edge = snaps.edge_id.astype(np.int64)
    rev = graph.reverse_edge[edge].astype(np.int64)
    chain_of = graph.search_graph.edge_chain
    point = np.arange(len(snaps), dtype=np.int64)
    two_way = rev >= 0
    chain = np.concatenate([chain_of[edge], chain_of[rev[two_way]]]).astype(np.int64)
    return chain, np.concatenate([point, point[two_way]])


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
    """One snap as a one-element :class:`Snaps`."""
    return Snaps.of([snap])


def point_options(graph: RoadGraph, snap: Snap, *, start: bool) -> list[tuple[int, float, float, int]]:
    """Ways one point enters (``start``) or is entered from (not ``start``) the search graph.

    Each option is (core node, time, length, edge): the edge of the point's segment driven on that way,
    -1 when the point is itself the core node (fraction 0 or 1 of a one-way edge at an intersection).
    """
    sg = graph.search_graph
    e = int(snap.edge_id)
    r = int(graph.reverse_edge[e])
    f = float(snap.fraction)
    options = []
    for edge, ahead in ((e, 1.0 - f if start else f), (r, f if start else 1.0 - f)):
        if edge < 0:
            continue
        c = int(sg.edge_chain[edge])
        t_edge, l_edge = float(graph.travel_time_s[edge]), float(graph.length_m[edge])
        off_t, off_l = float(sg.edge_offset_time_s[edge]), float(sg.edge_offset_length_m[edge])
        if start:  # drive the rest of the edge, then the rest of its chain
            rest_t = float(sg.chain_time_s[c]) - off_t - t_edge
            rest_l = float(sg.chain_length_m[c]) - off_l - l_edge
            options.append((int(sg.chain_head[c]), ahead * t_edge + rest_t, ahead * l_edge + rest_l, edge))
        else:  # the chain up to the edge, then part of the edge
            options.append((int(sg.chain_tail[c]), off_t + ahead * t_edge, off_l + ahead * l_edge, edge))
    if r < 0:
        node = int(graph.edge_tail[e]) if start else int(graph.indices[e])
        if f == (0.0 if start else 1.0) and sg.is_core[node]:
            options.append((node, 0.0, 0.0, -1))
    return options


def point_attachments(graph: RoadGraph, snap: Snap, kind: str) -> Attachments:
    """Start or end attachments of one point, with scalar arithmetic (the per-incident fast path)."""
    rows = sorted(point_options(graph, snap, start=kind == "start"))
    return (
        np.array([row[0] for row in rows], dtype=np.int64),
        np.zeros(len(rows), dtype=np.int64),
        np.array([row[1] for row in rows], dtype=np.float64),
        np.array([row[2] for row in rows], dtype=np.float64),
    )


def check_point(graph: RoadGraph, snap: Snap, what: str) -> None:
    """Refuse a single point that is not a position on this graph."""
    if not (0.0 <= snap.fraction <= 1.0) or not (0 <= snap.edge_id < graph.edge_count):
        raise RoutingError(
            f"the {what} has no valid position on this graph (edge {snap.edge_id}, fraction {snap.fraction})"
        )


def start_attachments(graph: RoadGraph, snaps: Snaps) -> Attachments:
    """Core nodes reachable from each point along its own chain: (node, point, time, length).

    From a point on u→v one drives on to the end of the chain containing u→v, and, on a two-way street,
    back to the end of the chain containing v→u. A point at fraction 0 of a one-way edge is u itself.
    """
    return _attachments(graph, snaps, start=True)


def end_attachments(graph: RoadGraph, snaps: Snaps) -> Attachments:
    """Core nodes from which each point is reached along its own chain: (node, point, time, length).

    A point on u→v is reached from the start of the chain containing u→v, and, on a two-way street,
    from the start of the chain containing v→u. A point at fraction 1 of a one-way edge is v itself.
    """
    return _attachments(graph, snaps, start=False)


def _attachments(graph: RoadGraph, snaps: Snaps, *, start: bool) -> Attachments:
    sg = graph.search_graph
    edge = snaps.edge_id.astype(np.int64)
    rev = graph.reverse_edge[edge].astype(np.int64)
    f = snaps.fraction
    point = np.arange(len(snaps), dtype=np.int64)
    nodes, points, times, lengths = [], [], [], []
    two_way = rev >= 0
    for drive, ahead, rows in (
        (edge, 1.0 - f if start else f, point),
        (rev[two_way], (f if start else 1.0 - f)[two_way], point[two_way]),
    ):
        c = sg.edge_chain[drive]
        t_edge = graph.travel_time_s[drive].astype(np.float64)
        l_edge = graph.length_m[drive].astype(np.float64)
        off_t, off_l = sg.edge_offset_time_s[drive], sg.edge_offset_length_m[drive]
        if start:
            nodes.append(sg.chain_head[c])
            times.append(ahead * t_edge + (sg.chain_time_s[c] - off_t - t_edge))
            lengths.append(ahead * l_edge + (sg.chain_length_m[c] - off_l - l_edge))
        else:
            nodes.append(sg.chain_tail[c])
            times.append(off_t + ahead * t_edge)
            lengths.append(off_l + ahead * l_edge)
        points.append(rows)
    at_node = graph.edge_tail[edge] if start else graph.indices[edge]
    is_node = ~two_way & (f == (0.0 if start else 1.0)) & sg.is_core[at_node]
    nodes.append(at_node[is_node])
    points.append(point[is_node])
    times.append(np.zeros(int(is_node.sum())))
    lengths.append(np.zeros(int(is_node.sum())))
    return _sorted(
        np.concatenate(nodes).astype(np.int64), np.concatenate(points), np.concatenate(times), np.concatenate(lengths)
    )


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
    """Same-chain times between one point and a prepared set: inf except where they share a chain."""
    time_s = np.full(len(points), np.inf)
    length_m = np.full(len(points), np.inf)
    chains, _ = _chains_of(graph, single(point))
    sharing_parts = []
    for chain in chains.tolist():
        lo, hi = np.searchsorted(prepared.chain_sorted, [chain, chain + 1])
        sharing_parts.append(prepared.chain_point[lo:hi])
    sharing = np.unique(np.concatenate(sharing_parts))
    if sharing.size:
        one, many = single(point), points.take(sharing)
        t, length = direct_times(graph, one, many) if point_is_start else direct_times(graph, many, one)
        time_s[sharing] = t
        length_m[sharing] = length
    return time_s, length_m


def direct_times(graph: RoadGraph, start: Snaps, end: Snaps) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Time and length from ``start[i]`` to ``end[i]`` along a chain they share (inf if none).

    Either side may hold one point (broadcast). The end must lie ahead of the start on a chain that is
    driven that way; any other path passes a core node, and the search finds it.
    """
    sg = graph.search_graph
    rev = graph.reverse_edge.astype(np.int64)
    e_s, f_s = start.edge_id.astype(np.int64), start.fraction
    e_t, f_t = end.edge_id.astype(np.int64), end.fraction
    r_t = rev[e_t]

    def position(edge: NDArray[np.int64], frac: NDArray[np.float64]) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        safe = np.where(edge >= 0, edge, 0)
        pos_t = sg.edge_offset_time_s[safe] + frac * graph.travel_time_s[safe]
        pos_l = sg.edge_offset_length_m[safe] + frac * graph.length_m[safe]
        return pos_t, pos_l

    def chain(edge: NDArray[np.int64]) -> NDArray[np.int64]:
        return np.where(edge >= 0, sg.edge_chain[np.where(edge >= 0, edge, 0)], -1)

    end_on = ((chain(e_t), *position(e_t, f_t)), (chain(r_t), *position(r_t, 1.0 - f_t)))
    best_t = np.full(np.broadcast(e_s, e_t).shape, np.inf)
    best_l = best_t.copy()
    for drive, frac in ((e_s, f_s), (rev[e_s], 1.0 - f_s)):
        c_s = chain(drive)
        s_t, s_l = position(drive, frac)
        for c_t, t_t, t_l in end_on:
            ok = (c_s >= 0) & (c_t == c_s) & (t_t >= s_t)
            better = ok & (t_t - s_t < best_t)
            best_t = np.where(better, t_t - s_t, best_t)
            best_l = np.where(better, t_l - s_l, best_l)
    return best_t, best_l
