"""Isochrones: which roads the units at some posts reach within 1, 3, 5 minutes, as reached segments (whole
and partial), total road length, and a buffered polygon, for all posts together and for each post."""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import shapely
from numpy.typing import NDArray
from scipy import ndimage

from precinct.core.routing import kernels
from precinct.core.routing.attachments import check_snaps, start_attachments
from precinct.core.routing.errors import RoutingError
from precinct.core.routing.graph import RoadGraph
from precinct.core.routing.queries import check_limit
from precinct.core.routing.snapping import Snaps

DEFAULT_THRESHOLDS_S = (60.0, 180.0, 300.0)
# The polygon raster has this many cells per buffer radius.
_CELLS_PER_BUFFER = 2
_NOT_REACHED = 255


@dataclass(eq=False)
class IsochroneLevel:
    """The roads reached within one threshold.

    Attributes
    ----------
    threshold_s : float
    reached_nodes : ndarray of int32
        Nodes with travel time at most the threshold.
    piece_edge, piece_start, piece_end : ndarray
        Reached road pieces: edge ``piece_edge[i]`` from fraction ``piece_start[i]`` to ``piece_end[i]``
        (0..1 for a fully reached segment; one piece per segment direction reached).
    reachable_length_m : float
        Total length of road reached (each segment counted once, whatever the directions).
    """

    threshold_s: float
    reached_nodes: NDArray[np.int32]
    piece_edge: NDArray[np.int64]
    piece_start: NDArray[np.float64]
    piece_end: NDArray[np.float64]
    reachable_length_m: float
    graph: RoadGraph = field(repr=False)
    buffer_m: float = 50.0
    _polygon: shapely.Geometry | None = field(default=None, repr=False)

    @property
    def polygon(self) -> shapely.Geometry:
        """The reached roads buffered by ``buffer_m`` as one (multi)polygon in lon/lat (computed once)."""
        if self._polygon is None:
            self._polygon = reach_polygon(self.graph, self, self.buffer_m)
        return self._polygon


@dataclass(eq=False)
class Isochrones:
    """Isochrones of a set of sources (posts) for several thresholds.

    ``union`` holds the levels for all sources together (computed eagerly, polygons included); ``source(i)``
    gives one source's levels, computed from its stored search on first use.
    """

    thresholds_s: tuple[float, ...]
    union: list[IsochroneLevel]
    sources: Snaps
    source_indptr: NDArray[np.int64]
    source_nodes: NDArray[np.int32]
    source_times_s: NDArray[np.float64]
    graph: RoadGraph = field(repr=False)
    buffer_m: float = 50.0
    timings_s: dict[str, float] = field(default_factory=dict)
    _per_source: dict[int, list[IsochroneLevel]] = field(default_factory=dict, repr=False)

    def source(self, i: int) -> list[IsochroneLevel]:
        """The levels of source ``i`` alone (one per threshold)."""
        if not 0 <= i < len(self.sources):
            raise RoutingError(f"there is no source {i}; there are {len(self.sources)}")
        if i not in self._per_source:
            lo, hi = self.source_indptr[i], self.source_indptr[i + 1]
            source = self.sources.take([i])
            nodes, times = _all_node_times(
                self.graph, self.source_nodes[lo:hi], self.source_times_s[lo:hi], source, self.thresholds_s[-1]
            )
            self._per_source[i] = _levels(self.graph, nodes, times, source, self.thresholds_s, self.buffer_m)
        return self._per_source[i]

    def source_reach_length_m(self, threshold_s: float) -> NDArray[np.float64]:
        """Reached road length per source for one of the thresholds."""
        level = self.thresholds_s.index(float(threshold_s))
        return np.array([self.source(i)[level].reachable_length_m for i in range(len(self.sources))])


def isochrones(
    graph: RoadGraph,
    sources: Snaps,
    thresholds_s: Sequence[float] = DEFAULT_THRESHOLDS_S,
    *,
    buffer_m: float = 50.0,
    polygons: bool = True,
) -> Isochrones:
    """Roads reachable from the sources within each threshold, together and per source.

    Parameters
    ----------
    graph : RoadGraph
    sources : Snaps
        Starting points (patrol posts, stations).
    thresholds_s : sequence of float
        Travel-time limits in seconds, e.g. ``(60, 180, 300)``.
    buffer_m : float
        Polygon buffer around the reached roads, in metres.
    polygons : bool
        Compute the union's polygons now (per-source polygons are always computed on demand).

    Returns
    -------
    Isochrones

    Raises
    ------
    RoutingError
        An empty source list, a source without a position, or thresholds that are not valid limits.
    """
    if len(thresholds_s) == 0:
        raise RoutingError("give at least one threshold in seconds, e.g. (60, 180, 300)")
    thresholds = tuple(sorted(check_limit(float(t)) for t in thresholds_s))
    if not (math.isfinite(buffer_m) and buffer_m > 0):
        raise RoutingError(f"buffer_m must be a positive number of metres, got {buffer_m}")
    check_snaps(graph, sources, "source")
    clock = [time.perf_counter()]
    timings: dict[str, float] = {}

    def lap(name: str) -> None:
        clock.append(time.perf_counter())
        timings[name] = clock[-1] - clock[-2]

    limit = thresholds[-1]
    node, point, time_s, _ = start_attachments(graph, sources)
    ws = graph.workspace()
    ws.ensure_heap(node.shape[0] + 1)
    sg = graph.search_graph
    csr = (sg.core_indptr, sg.core_indices, sg.core_chain, sg.core_time_s, sg.core_length_m)

    # All sources together: one multi-source search.
    empty_i, empty_f = np.empty(0, dtype=np.int64), np.empty(0)
    n_touched, _ = kernels.search(
        *csr, node, time_s, np.zeros_like(time_s), empty_i, empty_i, empty_f, empty_f,
        empty_f.copy(), empty_f.copy(), empty_i.copy(), 1, limit,
        ws.dist, ws.dist_len, ws.pred, ws.att_first, ws.touched, ws.heap_key, ws.heap_id, empty_i.copy(),
    )  # fmt: skip
    touched = ws.touched[:n_touched].copy()
    touched_time = ws.dist[touched]
    kernels.reset(ws.dist, ws.att_first, ws.touched, n_touched, empty_i)
    within = touched_time <= limit
    lap("union_search")
    all_nodes, all_times = _all_node_times(graph, touched[within], touched_time[within], sources, limit)
    union = _levels(graph, all_nodes, all_times, sources, thresholds, buffer_m)
    lap("union_reach")
    if polygons:
        for level, polygon in zip(union, reach_polygons(graph, union, buffer_m), strict=True):
            level._polygon = polygon
        lap("union_polygons")

    # Each source alone: one bounded search per source inside one compiled call.
    by_source = np.argsort(point, kind="stable")
    src_indptr = np.zeros(len(sources) + 1, dtype=np.int64)
    np.cumsum(np.bincount(point, minlength=len(sources)), out=src_indptr[1:])
    out_indptr = np.zeros(len(sources) + 1, dtype=np.int64)
    # Each source reaches part of the union's nodes; sources overlap, so allow for several times it.
    capacity = max(1 << 16, 8 * int(within.sum()))
    out_node = np.empty(capacity, dtype=np.int32)
    out_time = np.empty(capacity)
    done = 0
    while done < len(sources):
        done = kernels.bounded_per_source(
            *csr, src_indptr, node[by_source], time_s[by_source], limit, done,
            ws.dist, ws.dist_len, ws.pred, ws.att_first, ws.touched, ws.heap_key, ws.heap_id,
            out_indptr, out_node, out_time,
        )  # fmt: skip
        if done < len(sources):
            capacity = 2 * capacity + graph.node_count
            out_node = np.resize(out_node, capacity)
            out_time = np.resize(out_time, capacity)
    used = int(out_indptr[-1])
    lap("per_source_search")
    return Isochrones(
        thresholds, union, sources, out_indptr, out_node[:used], out_time[:used], graph, buffer_m, timings
    )


def _ranges(starts: NDArray[np.int64], counts: NDArray[np.int64]) -> NDArray[np.int64]:
    """Concatenated ``arange(start, start + count)`` for each pair, without a Python loop."""
    offsets = np.repeat(np.cumsum(counts) - counts, counts)
    return np.repeat(starts, counts) + np.arange(int(counts.sum())) - offsets


def _all_node_times(
    graph: RoadGraph,
    core_nodes: NDArray[np.int32],
    core_times_s: NDArray[np.float64],
    sources: Snaps,
    limit_s: float,
) -> tuple[NDArray[np.int32], NDArray[np.float64]]:
    """Times of every node (shape points too) within ``limit_s``, from the searched core nodes' times.

    A shape point is reached along one of its chains: from the chain's start, or from a source lying on
    the chain itself.
    """
    sg = graph.search_graph
    dist = np.full(graph.node_count, np.inf)
    dist[core_nodes] = core_times_s
    starts = sg.core_indptr[core_nodes].astype(np.int64)
    chain = sg.core_chain[_ranges(starts, sg.core_indptr[core_nodes + 1].astype(np.int64) - starts)]
    first = sg.chain_indptr[chain]
    counts = sg.chain_indptr[chain + 1] - first
    edge = sg.chain_edges[_ranges(first, counts)]
    base = np.repeat(dist[sg.chain_tail[chain]], counts)
    np.minimum.at(dist, graph.indices[edge], base + sg.edge_offset_time_s[edge] + graph.travel_time_s[edge])
    rev = graph.reverse_edge
    for i in range(len(sources)):
        e, f = int(sources.edge_id[i]), float(sources.fraction[i])
        for drive, ahead in ((e, 1.0 - f), (int(rev[e]), f)):
            if drive < 0:
                continue
            lo, hi = sg.chain_indptr[sg.edge_chain[drive]], sg.chain_indptr[sg.edge_chain[drive] + 1]
            rest = sg.chain_edges[lo:hi]
            rest = rest[int(np.flatnonzero(rest == drive)[0]) :]
            time_s = ahead * float(graph.travel_time_s[drive]) + np.concatenate(
                [[0.0], np.cumsum(graph.travel_time_s[rest[1:]].astype(np.float64))]
            )
            np.minimum.at(dist, graph.indices[rest], time_s)
        if rev[e] < 0 and f == 0.0:
            dist[graph.edge_tail[e]] = 0.0  # the source is this node
    reached = np.flatnonzero(dist <= limit_s)
    return reached.astype(np.int32), dist[reached]


def _levels(
    graph: RoadGraph,
    nodes: NDArray[np.int32],
    times_s: NDArray[np.float64],
    sources: Snaps,
    thresholds: tuple[float, ...],
    buffer_m: float,
) -> list[IsochroneLevel]:
    """Reached pieces per threshold from node times (and the sources' own segments)."""
    dist = np.full(graph.node_count, np.inf)
    dist[nodes] = times_s
    levels = []
    for threshold in thresholds:
        reached = nodes[times_s <= threshold]
        edge, start, end = _pieces(graph, dist, reached, sources, threshold)
        length = float(np.sum((end - start) * graph.length_m[edge]))
        levels.append(IsochroneLevel(threshold, reached, edge, start, end, length, graph, buffer_m))
    return levels


def _pieces(
    graph: RoadGraph, dist: NDArray[np.float64], reached: NDArray[np.int32], sources: Snaps, threshold: float
) -> tuple[NDArray[np.int64], NDArray[np.float64], NDArray[np.float64]]:
    """Reached intervals of segments, in the frame of each segment's canonical (smaller-id) edge."""
    starts = graph.indptr[reached].astype(np.int64)
    counts = (graph.indptr[reached + 1] - graph.indptr[reached]).astype(np.int64)
    offsets = np.repeat(np.cumsum(counts) - counts, counts)
    edge = np.repeat(starts, counts) + np.arange(int(counts.sum())) - offsets
    t_edge = graph.travel_time_s[edge].astype(np.float64)
    slack = threshold - dist[graph.edge_tail[edge]]
    with np.errstate(divide="ignore", invalid="ignore"):
        reach = np.where(t_edge > 0, np.clip(slack / t_edge, 0.0, 1.0), 1.0)
    rev = graph.reverse_edge[edge].astype(np.int64)
    canonical = np.where((rev >= 0) & (rev < edge), rev, edge)
    is_canonical = canonical == edge
    # Dense per-edge arrays: each edge has one tail, so each canonical slot is written at most once per side.
    tail_reach = np.zeros(graph.edge_count)
    head_reach = np.zeros(graph.edge_count)
    tail_reach[canonical[is_canonical]] = reach[is_canonical]
    head_reach[canonical[~is_canonical]] = reach[~is_canonical]
    segment = np.flatnonzero((tail_reach > 0) | (head_reach > 0))
    from_tail, from_head = tail_reach[segment], head_reach[segment]
    full = from_tail + from_head >= 1.0
    head_part = ~full & (from_head > 0)
    tail_part = ~full & (from_tail > 0)
    piece_edge = np.concatenate([segment[full], segment[tail_part], segment[head_part]])
    piece_start = np.concatenate([np.zeros(int(full.sum())), np.zeros(int(tail_part.sum())), 1 - from_head[head_part]])
    piece_end = np.concatenate([np.ones(int(full.sum())), from_tail[tail_part], np.ones(int(head_part.sum()))])
    return _with_source_segments(graph, piece_edge, piece_start, piece_end, sources, threshold)


def _with_source_segments(
    graph: RoadGraph,
    piece_edge: NDArray[np.int64],
    piece_start: NDArray[np.float64],
    piece_end: NDArray[np.float64],
    sources: Snaps,
    threshold: float,
) -> tuple[NDArray[np.int64], NDArray[np.float64], NDArray[np.float64]]:
    """Add the stretch a source reaches along its own segment without passing a node, merging overlaps."""
    extra: dict[int, list[tuple[float, float]]] = {}
    for i in range(len(sources)):
        e = int(sources.edge_id[i])
        rev = int(graph.reverse_edge[e])
        canonical, f = (rev, 1.0 - float(sources.fraction[i])) if 0 <= rev < e else (e, float(sources.fraction[i]))
        other = int(graph.reverse_edge[canonical])
        intervals = extra.setdefault(canonical, [])
        t_c = float(graph.travel_time_s[canonical])
        intervals.append((f, 1.0 if t_c == 0 else min(1.0, f + threshold / t_c)))
        if other >= 0:
            t_o = float(graph.travel_time_s[other])
            intervals.append((0.0 if t_o == 0 else max(0.0, f - threshold / t_o), f))
    if not extra:
        return piece_edge, piece_start, piece_end
    touched = np.isin(piece_edge, np.fromiter(extra, dtype=np.int64))
    for e, s, t in zip(
        piece_edge[touched].tolist(), piece_start[touched].tolist(), piece_end[touched].tolist(), strict=True
    ):
        extra[e].append((s, t))
    merged: list[tuple[int, float, float]] = []
    for e, intervals in extra.items():
        intervals.sort()
        current_start, current_end = intervals[0]
        for s, t in intervals[1:]:
            if s > current_end:
                merged.append((e, current_start, current_end))
                current_start = s
            current_end = max(current_end, t)
        merged.append((e, current_start, current_end))
    edges = [row[0] for row in merged]
    starts = [row[1] for row in merged]
    ends = [row[2] for row in merged]
    keep = ~touched
    return (
        np.concatenate([piece_edge[keep], np.array(edges, dtype=np.int64)]),
        np.concatenate([piece_start[keep], np.array(starts)]),
        np.concatenate([piece_end[keep], np.array(ends)]),
    )


def reach_polygon(graph: RoadGraph, level: IsochroneLevel, buffer_m: float) -> shapely.Geometry:
    """The reached pieces of one level buffered by ``buffer_m``, as a (multi)polygon in lon/lat."""
    return reach_polygons(graph, [level], buffer_m)[0]


def reach_polygons(graph: RoadGraph, levels: Sequence[IsochroneLevel], buffer_m: float) -> list[shapely.Geometry]:
    """The reached pieces of nested levels buffered by ``buffer_m``, as (multi)polygons in lon/lat.

    A vector buffer of tens of thousands of segments takes minutes in GEOS, so the buffer is rasterised:
    every cell of ``buffer_m / 2`` that a reached road crosses gets the index of the first level reaching
    it, a minimum filter over a disc of ``buffer_m`` spreads it, and the outline of the cells at or below
    each level is traced back into polygons. One raster serves all levels. The outline is exact to about
    half of ``buffer_m``, plenty for a map layer.
    """
    if not levels or all(level.piece_edge.shape[0] == 0 for level in levels):
        return [shapely.Polygon() for _ in levels]
    cell_m = buffer_m / _CELLS_PER_BUFFER
    projection = graph.projection
    piece_edge = np.concatenate([level.piece_edge for level in levels])
    label = np.concatenate([np.full(level.piece_edge.shape[0], k, dtype=np.uint8) for k, level in enumerate(levels)])
    s = np.concatenate([level.piece_start for level in levels])
    t = np.concatenate([level.piece_end for level in levels])
    ends = np.concatenate([graph.edge_tail[piece_edge], graph.indices[piece_edge]])
    x, y = projection.to_xy(graph.node_lon[ends], graph.node_lat[ends])
    count = piece_edge.shape[0]
    x0, y0, dx, dy = x[:count], y[:count], x[count:] - x[:count], y[count:] - y[:count]
    ax, ay, bx, by = x0 + s * dx, y0 + s * dy, x0 + t * dx, y0 + t * dy
    pad = _CELLS_PER_BUFFER + 2
    origin_x = min(float(ax.min()), float(bx.min())) - pad * cell_m
    origin_y = min(float(ay.min()), float(by.min())) - pad * cell_m
    ax, bx, ay, by = ax - origin_x, bx - origin_x, ay - origin_y, by - origin_y
    rows = int(max(float(ay.max()), float(by.max())) / cell_m) + pad + 1
    cols = int(max(float(ax.max()), float(bx.max())) / cell_m) + pad + 1
    grid = np.full((rows, cols), _NOT_REACHED, dtype=np.uint8)
    kernels.rasterize_segments(ax, ay, bx, by, label, cell_m, grid)
    r = _CELLS_PER_BUFFER
    disc = np.hypot(*np.mgrid[-r : r + 1, -r : r + 1]) <= r
    grid = ndimage.grey_erosion(grid, footprint=disc, mode="constant", cval=_NOT_REACHED)

    def to_lonlat(xy: NDArray[np.float64]) -> NDArray[np.float64]:
        lon, lat = projection.to_lonlat(xy[:, 1] * cell_m + origin_x, xy[:, 0] * cell_m + origin_y)
        return np.column_stack([lon, lat])

    result = []
    for k, level in enumerate(levels):
        if level.piece_edge.shape[0] == 0:
            result.append(shapely.Polygon())
        else:
            result.append(shapely.transform(_mask_to_polygon(grid <= k), to_lonlat))
    return result


def _mask_to_polygon(mask: NDArray[np.bool_]) -> shapely.Geometry:
    """Polygons covering the True cells, in (row, col) cell-corner units."""
    padded = np.pad(mask, 1)
    # Cells touching only by a corner would make rings that touch themselves (invalid polygons); filling
    # such 2×2 blocks changes the outline by at most a cell.
    while True:
        a, b, c, d = padded[:-1, :-1], padded[:-1, 1:], padded[1:, :-1], padded[1:, 1:]
        saddle = (a == d) & (b == c) & (a != b)
        if not saddle.any():
            break
        r, col = np.nonzero(saddle)
        padded[r, col] = padded[r, col + 1] = padded[r + 1, col] = padded[r + 1, col + 1] = True
    width = padded.shape[1]
    out_dir = kernels.outline_directions(padded)
    rows, cols, offsets = kernels.trace_rings(out_dir.ravel(), width + 1)
    ring_of_vertex = np.repeat(np.arange(offsets.shape[0] - 1), np.diff(offsets))
    xy = np.column_stack([rows - 1.0, cols - 1.0])  # undo the padding
    rings = shapely.linearrings(xy, indices=ring_of_vertex)
    # Each ring has a filled cell on its left; the 4-connected region of that cell owns the ring. A region
    # has one counter-clockwise outer ring (positive shoelace area, x = col, y = row) and maybe holes.
    regions, _ = ndimage.label(padded)
    first = offsets[:-1]
    r0, c0 = rows[first], cols[first]
    direction = out_dir[r0, c0]
    left_row = r0 - (direction >= 2)
    left_col = c0 - ((direction == 1) | (direction == 2))
    owner = regions[left_row, left_col]
    x, y = cols.astype(np.float64), rows.astype(np.float64)
    following = np.arange(rows.shape[0]) + 1
    following[offsets[1:] - 1] = first
    signed = np.bincount(ring_of_vertex, weights=x * y[following] - x[following] * y)
    # shapely.polygons takes the first ring of each index as the shell: sort shells before their holes.
    order = np.lexsort((signed < 0, owner))
    _, polygon_of_ring = np.unique(owner[order], return_inverse=True)
    polygons = shapely.polygons(rings[order], indices=polygon_of_ring)
    return polygons[0] if polygons.shape[0] == 1 else shapely.multipolygons(polygons)
