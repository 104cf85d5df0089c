"""The road graph: compact CSR arrays of the directed driving network (forward and reverse), node coordinates,
and the report of how it was built. Query methods delegate to the snapping, search and route modules."""

from __future__ import annotations

import functools
import threading
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from precinct.core.routing.geo import LocalProjection

if TYPE_CHECKING:
    from precinct.core.routing.chains import SearchGraph
    from precinct.core.routing.queries import EtaMatch, Route, SearchWorkspace, TravelTimes
    from precinct.core.routing.snapping import SegmentIndex, Snap, Snaps

Int32Array = NDArray[np.int32]
Float32Array = NDArray[np.float32]
Float64Array = NDArray[np.float64]


@dataclass(frozen=True)
class BuildReport:
    """What the build kept and dropped.

    Only the largest strongly connected component is kept, so every node can reach every other; the rest
    (private yards, fragments cut by the extract's boundary, one-way dead ends) is dropped and counted here.
    ``intersections`` counts kept nodes whose undirected degree is not 2; the other nodes are shape points.
    """

    source: str
    nodes_read: int
    nodes_kept: int
    nodes_dropped: int
    edges_read: int
    edges_kept: int
    edges_dropped: int
    segments_kept: int
    intersections: int
    components: int
    one_way_segments: int
    edges_with_maxspeed: int
    build_time_s: float

    def to_dict(self) -> dict[str, Any]:
        """The report as plain values (for JSON)."""
        return asdict(self)


@dataclass(eq=False)
class RoadGraph:
    """A directed driving network in compressed sparse row form.

    Every edge is a straight segment between two consecutive OSM nodes, so a position on an edge is fully
    described by the edge id and the fraction along it. Edge ``e`` goes from ``edge_tail[e]`` to
    ``indices[e]``; the edges leaving node ``u`` are ``indptr[u]:indptr[u + 1]``. ``reverse_edge[e]`` is the
    edge of the same segment in the other direction, or -1 on a one-way street. The reverse CSR lists, per
    node, the edges arriving at it (``rev_indices`` are their tails, ``rev_edge`` their edge ids) with their
    weights copied into search order. Searches run on :attr:`search_graph`, where chains of shape points
    are contracted into single edges, and map back to these edges.
    """

    node_lon: Float64Array
    node_lat: Float64Array
    node_osm_id: NDArray[np.int64]
    indptr: Int32Array
    indices: Int32Array
    travel_time_s: Float32Array
    length_m: Float32Array
    edge_tail: Int32Array
    reverse_edge: Int32Array
    edge_way_id: NDArray[np.int64]
    rev_indptr: Int32Array
    rev_indices: Int32Array
    rev_edge: Int32Array
    rev_travel_time_s: Float32Array
    rev_length_m: Float32Array
    build_report: BuildReport
    _segment_index: SegmentIndex | None = field(default=None, init=False, repr=False)
    _local: threading.local = field(default_factory=threading.local, init=False, repr=False)

    @property
    def node_count(self) -> int:
        """Number of nodes (intersections and shape points)."""
        return int(self.node_lon.shape[0])

    @property
    def edge_count(self) -> int:
        """Number of directed edges."""
        return int(self.indices.shape[0])

    @functools.cached_property
    def search_graph(self) -> SearchGraph:
        """The contracted graph the searches run on (built on first use, about 0.1 s for a metro area)."""
        from precinct.core.routing.chains import SearchGraph, build_chains

        return SearchGraph(
            build_chains(
                self.indptr,
                self.indices,
                self.edge_tail,
                self.travel_time_s,
                self.length_m,
                self.rev_indptr,
                self.rev_indices,
            )
        )

    @property
    def projection(self) -> LocalProjection:
        """The local metric projection used for snapping and polygons (centred on the graph's bounds)."""
        lon0 = 0.5 * (float(self.node_lon.min()) + float(self.node_lon.max()))
        lat0 = 0.5 * (float(self.node_lat.min()) + float(self.node_lat.max()))
        return LocalProjection(lon0, lat0)

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        """(min lon, min lat, max lon, max lat) of the nodes."""
        return (
            float(self.node_lon.min()),
            float(self.node_lat.min()),
            float(self.node_lon.max()),
            float(self.node_lat.max()),
        )

    def arrays(self) -> dict[str, NDArray[Any]]:
        """The graph's arrays by name (what the cache stores)."""
        return {name: getattr(self, name) for name in ARRAY_FIELDS}

    @property
    def segment_index(self) -> SegmentIndex:
        """The spatial index used for snapping, built on first use (about 0.1–0.3 s for a metro area)."""
        if self._segment_index is None:
            from precinct.core.routing.snapping import SegmentIndex

            self._segment_index = SegmentIndex.build(self)
        return self._segment_index

    def workspace(self) -> SearchWorkspace:
        """This thread's reusable search buffers (each thread gets its own, so queries are thread-safe)."""
        from precinct.core.routing.queries import SearchWorkspace

        workspace: SearchWorkspace | None = getattr(self._local, "workspace", None)
        if workspace is None:
            workspace = SearchWorkspace(self)
            self._local.workspace = workspace
        return workspace

    # Query methods: thin delegations so callers need only the graph object.

    def snap(self, lon: float, lat: float, *, max_distance_m: float = 500.0) -> Snap:
        """Snap one point to the nearest road segment; see :meth:`SegmentIndex.snap_many`."""
        return self.segment_index.snap(lon, lat, max_distance_m=max_distance_m)

    def snap_many(
        self, lon: NDArray[Any], lat: NDArray[Any], *, max_distance_m: float = 500.0, what: str = "point"
    ) -> Snaps:
        """Snap many points at once; see :meth:`SegmentIndex.snap_many`."""
        return self.segment_index.snap_many(lon, lat, max_distance_m=max_distance_m, what=what)

    def travel_times_from(self, origin: Snap, targets: Snaps, *, limit_s: float | None = None) -> TravelTimes:
        """Travel times from one point to many; see :func:`precinct.core.routing.queries.travel_times_from`."""
        from precinct.core.routing.queries import travel_times_from

        return travel_times_from(self, origin, targets, limit_s=limit_s)

    def travel_times_to(self, origins: Snaps, target: Snap, *, limit_s: float | None = None) -> TravelTimes:
        """Travel times from many points to one; see :func:`precinct.core.routing.queries.travel_times_to`."""
        from precinct.core.routing.queries import travel_times_to

        return travel_times_to(self, origins, target, limit_s=limit_s)

    def nearest_by_eta(
        self, incident: Snap, candidates: Snaps, k: int, *, limit_s: float | None = None
    ) -> list[EtaMatch]:
        """The ``k`` candidates that reach the incident first; see :func:`queries.nearest_by_eta`."""
        from precinct.core.routing.queries import nearest_by_eta

        return nearest_by_eta(self, incident, candidates, k, limit_s=limit_s)

    def travel_time_matrix(self, origins: Snaps, targets: Snaps) -> Float64Array:
        """Origins × targets travel times in seconds; see :func:`queries.travel_time_matrix`."""
        from precinct.core.routing.queries import travel_time_matrix

        return travel_time_matrix(self, origins, targets)

    def route(self, origin: Snap, target: Snap) -> Route:
        """The fastest route between two points; see :func:`precinct.core.routing.queries.route`."""
        from precinct.core.routing.queries import route

        return route(self, origin, target)


ARRAY_FIELDS: tuple[str, ...] = (
    "node_lon",
    "node_lat",
    "node_osm_id",
    "indptr",
    "indices",
    "travel_time_s",
    "length_m",
    "edge_tail",
    "reverse_edge",
    "edge_way_id",
    "rev_indptr",
    "rev_indices",
    "rev_edge",
    "rev_travel_time_s",
    "rev_length_m",
)

ARRAY_DTYPES: dict[str, type[np.generic]] = {
    "node_lon": np.float64,
    "node_lat": np.float64,
    "node_osm_id": np.int64,
    "indptr": np.int32,
    "indices": np.int32,
    "travel_time_s": np.float32,
    "length_m": np.float32,
    "edge_tail": np.int32,
    "reverse_edge": np.int32,
    "edge_way_id": np.int64,
    "rev_indptr": np.int32,
    "rev_indices": np.int32,
    "rev_edge": np.int32,
    "rev_travel_time_s": np.float32,
    "rev_length_m": np.float32,
}
