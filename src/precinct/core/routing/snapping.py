"""Snapping: the exact nearest point on the nearest road segment, found with a k-d tree over points sampled
along every segment and an exact point-to-segment projection in the graph's local metric projection."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray
from scipy.spatial import cKDTree

from precinct.core.routing import kernels
from precinct.core.routing.errors import RoutingError, SnapError
from precinct.core.routing.geo import EARTH_RADIUS_M, LocalProjection, haversine_m

if TYPE_CHECKING:
    from precinct.core.routing.graph import RoadGraph

# Samples are at most this far apart along a segment, so a sample lies within half of it from any point of
# the segment; that bound is what lets the search stop with a proof that no other segment is nearer.
SAMPLE_SPACING_M = 20.0
_FIRST_CANDIDATES = 8
# Where many short segments meet, 8 samples may all lie within half a spacing; the fast path widens first.
_FAST_PATH_CANDIDATES = (12, 48)
# The single-point fast path skips the far-point handling, so it is used only when the limit is not tiny.
_FAST_PATH_MIN_LIMIT_M = 1.0


def _haversine_scalar_m(lon1: float, lat1: float, lon2: float, lat2: float) -> float:
    """:func:`haversine_m` for one pair, without array overhead (the single-point snap is latency-bound)."""
    phi1, phi2 = math.radians(lat1), math.radians(lat2)
    h = (
        math.sin((phi2 - phi1) / 2) ** 2
        + math.cos(phi1) * math.cos(phi2) * math.sin(math.radians(lon2 - lon1) / 2) ** 2
    )
    return 2.0 * EARTH_RADIUS_M * math.asin(math.sqrt(min(1.0, h)))


@dataclass(frozen=True)
class Snap:
    """A position on the road network.

    Attributes
    ----------
    edge_id : int
        The directed edge the point lies on (from ``edge_tail[edge_id]`` to ``indices[edge_id]``). On a
        two-way street the point lies on ``reverse_edge[edge_id]`` too, at ``1 - fraction``.
    fraction : float
        Position along the edge, 0 at its tail and 1 at its head.
    distance_m : float
        Great-circle distance from the query point to the snapped point.
    lon, lat : float
        The snapped point.
    """

    edge_id: int
    fraction: float
    distance_m: float
    lon: float
    lat: float


@dataclass(frozen=True, eq=False)
class Snaps:
    """Many snapped positions as arrays (see :class:`Snap` for the fields)."""

    edge_id: NDArray[np.int32]
    fraction: NDArray[np.float64]
    distance_m: NDArray[np.float64]
    lon: NDArray[np.float64]
    lat: NDArray[np.float64]

    def __len__(self) -> int:
        return int(self.edge_id.shape[0])

    def __getitem__(self, i: int) -> Snap:
        return Snap(
            int(self.edge_id[i]),
            float(self.fraction[i]),
            float(self.distance_m[i]),
            float(self.lon[i]),
            float(self.lat[i]),
        )

    def take(self, positions: NDArray[Any] | list[int]) -> Snaps:
        """The subset at ``positions`` (in that order)."""
        idx = np.asarray(positions, dtype=np.int64)
        return Snaps(self.edge_id[idx], self.fraction[idx], self.distance_m[idx], self.lon[idx], self.lat[idx])

    @classmethod
    def of(cls, snaps: list[Snap] | tuple[Snap, ...]) -> Snaps:
        """Pack single snaps into arrays."""
        return cls(
            np.array([s.edge_id for s in snaps], dtype=np.int32),
            np.array([s.fraction for s in snaps], dtype=np.float64),
            np.array([s.distance_m for s in snaps], dtype=np.float64),
            np.array([s.lon for s in snaps], dtype=np.float64),
            np.array([s.lat for s in snaps], dtype=np.float64),
        )


@dataclass(frozen=True, eq=False)
class SegmentIndex:
    """The spatial index of a graph's segments (one per two-way pair or one-way edge)."""

    projection: LocalProjection
    segment_edge: NDArray[np.int64]
    ax: NDArray[np.float64]
    ay: NDArray[np.float64]
    bx: NDArray[np.float64]
    by: NDArray[np.float64]
    sample_segment: NDArray[np.int64]
    tree: cKDTree
    bounds: tuple[float, float, float, float]

    @classmethod
    def build(cls, graph: RoadGraph) -> SegmentIndex:
        """Sample every segment of ``graph`` and index the samples."""
        projection = graph.projection
        reverse = graph.reverse_edge.astype(np.int64)
        edge = np.arange(graph.edge_count, dtype=np.int64)
        segment_edge = edge[(reverse < 0) | (edge < reverse)]
        x, y = projection.to_xy(graph.node_lon, graph.node_lat)
        tail = graph.edge_tail[segment_edge]
        head = graph.indices[segment_edge]
        ax, ay, bx, by = x[tail], y[tail], x[head], y[head]
        length = np.hypot(bx - ax, by - ay)
        per_segment = np.maximum(1, np.ceil(length / SAMPLE_SPACING_M)).astype(np.int64)
        sample_segment = np.repeat(np.arange(segment_edge.shape[0]), per_segment)
        first = np.cumsum(per_segment) - per_segment
        rank = np.arange(sample_segment.shape[0]) - first[sample_segment]
        t = (rank + 0.5) / per_segment[sample_segment]
        sx = ax[sample_segment] + t * (bx - ax)[sample_segment]
        sy = ay[sample_segment] + t * (by - ay)[sample_segment]
        tree = cKDTree(np.column_stack([sx, sy]), balanced_tree=False, compact_nodes=False)
        return cls(projection, segment_edge, ax, ay, bx, by, sample_segment, tree, graph.bounds)

    def snap(self, lon: float, lat: float, *, max_distance_m: float = 500.0) -> Snap:
        """Snap one point; see :meth:`snap_many` (this is its fast path for a single incident)."""
        x, y = float(lon), float(lat)
        if not (math.isfinite(x) and math.isfinite(y) and max_distance_m >= _FAST_PATH_MIN_LIMIT_M):
            return self.snap_many(np.array([x]), np.array([y]), max_distance_m=max_distance_m)[0]
        min_lon, min_lat, max_lon, max_lat = self.bounds
        if not (min_lon <= x <= max_lon and min_lat <= y <= max_lat):
            return self.snap_many(np.array([x]), np.array([y]), max_distance_m=max_distance_m)[0]
        px = (x - self.projection.lon0) * self.projection.kx_m_per_deg
        py = (y - self.projection.lat0) * self.projection.ky_m_per_deg
        for k in _FAST_PATH_CANDIDATES:
            sample_d, sample_i = self.tree.query((px, py), k=k)
            best_seg, best_t, best_d = kernels.nearest_segment(
                px, py, self.sample_segment[sample_i], self.ax, self.ay, self.bx, self.by
            )
            if best_d > 0.5 * max_distance_m:
                # Possibly beyond the limit: the general path refuses it with the full message.
                return self.snap_many(np.array([x]), np.array([y]), max_distance_m=max_distance_m)[0]
            if sample_d[-1] - 0.5 * SAMPLE_SPACING_M >= best_d:
                break  # proven nearest
        else:
            return self.snap_many(np.array([x]), np.array([y]), max_distance_m=max_distance_m)[0]
        sx = self.ax[best_seg] + best_t * (self.bx[best_seg] - self.ax[best_seg])
        sy = self.ay[best_seg] + best_t * (self.by[best_seg] - self.ay[best_seg])
        snap_lon = float(sx / self.projection.kx_m_per_deg + self.projection.lon0)
        snap_lat = float(sy / self.projection.ky_m_per_deg + self.projection.lat0)
        distance_m = _haversine_scalar_m(x, y, snap_lon, snap_lat)
        return Snap(int(self.segment_edge[best_seg]), best_t, distance_m, snap_lon, snap_lat)

    def snap_many(
        self, lon: NDArray[Any], lat: NDArray[Any], *, max_distance_m: float = 500.0, what: str = "point"
    ) -> Snaps:
        """Snap points to the nearest point of the nearest road segment.

        Parameters
        ----------
        lon, lat : array_like
            Coordinates in degrees (WGS 84).
        max_distance_m : float
            Points farther than this from every road are refused.
        what : str
            How to name a point in error messages ("unit", "candidate", ...).

        Returns
        -------
        Snaps

        Raises
        ------
        RoutingError
            A coordinate is missing (NaN) or invalid, or lies outside the graph's area.
        SnapError
            A point is farther than ``max_distance_m`` from the nearest road.
        """
        lon_arr = np.atleast_1d(np.asarray(lon, dtype=np.float64))
        lat_arr = np.atleast_1d(np.asarray(lat, dtype=np.float64))
        if lon_arr.shape != lat_arr.shape or lon_arr.ndim != 1:
            raise RoutingError("longitudes and latitudes must be 1-D arrays of the same length")
        if not (math.isfinite(max_distance_m) and max_distance_m > 0):
            raise RoutingError(f"max_distance_m must be a positive number of metres, got {max_distance_m}")
        self._check_positions(lon_arr, lat_arr, max_distance_m, what)
        px, py = self.projection.to_xy(lon_arr, lat_arr)
        best_seg, best_t = self._nearest(px, py, max_distance_m)
        sx = self.ax[best_seg] + best_t * (self.bx[best_seg] - self.ax[best_seg])
        sy = self.ay[best_seg] + best_t * (self.by[best_seg] - self.ay[best_seg])
        snap_lon, snap_lat = self.projection.to_lonlat(sx, sy)
        distance_m = haversine_m(lon_arr, lat_arr, snap_lon, snap_lat)
        too_far = np.flatnonzero(distance_m > max_distance_m)
        if too_far.size:
            i = int(too_far[0])
            label = f"{what} {i} " if lon_arr.shape[0] > 1 else f"{what} "
            raise SnapError(
                f"{label}({lon_arr[i]:.5f}, {lat_arr[i]:.5f}) is {distance_m[i]:.0f} m from the nearest road; "
                f"the limit is {max_distance_m:.0f} m",
                distance_m=float(distance_m[i]),
                max_distance_m=max_distance_m,
            )
        return Snaps(self.segment_edge[best_seg].astype(np.int32), best_t, distance_m, snap_lon, snap_lat)

    def _check_positions(
        self, lon: NDArray[np.float64], lat: NDArray[np.float64], max_distance_m: float, what: str
    ) -> None:
        """Refuse missing, impossible and out-of-area coordinates with a message naming the point."""

        def name(i: int) -> str:
            return f"{what} {i}" if lon.shape[0] > 1 else what

        bad = np.flatnonzero(~(np.isfinite(lon) & np.isfinite(lat)))
        if bad.size:
            raise RoutingError(f"{name(int(bad[0]))} has no position (longitude/latitude is NaN or infinite)")
        bad = np.flatnonzero((np.abs(lat) > 90) | (np.abs(lon) > 180))
        if bad.size:
            i = int(bad[0])
            raise RoutingError(
                f"{name(i)} has an impossible position ({lon[i]}, {lat[i]}); expected longitude, latitude in degrees"
            )
        min_lon, min_lat, max_lon, max_lat = self.bounds
        margin_lat = max_distance_m / 111_000.0
        margin_lon = margin_lat / max(math.cos(math.radians(self.projection.lat0)), 0.01)
        outside = (
            (lon < min_lon - margin_lon)
            | (lon > max_lon + margin_lon)
            | (lat < min_lat - margin_lat)
            | (lat > max_lat + margin_lat)
        )
        bad = np.flatnonzero(outside)
        if bad.size:
            i = int(bad[0])
            raise RoutingError(
                f"{name(i)} ({lon[i]:.5f}, {lat[i]:.5f}) is outside the road network's area "
                f"(lon {min_lon:.4f}..{max_lon:.4f}, lat {min_lat:.4f}..{max_lat:.4f}); is it in the right city, "
                "and are longitude and latitude in that order?"
            )

    def _nearest(
        self, px: NDArray[np.float64], py: NDArray[np.float64], max_distance_m: float
    ) -> tuple[NDArray[np.int64], NDArray[np.float64]]:
        """Exact nearest segment and fraction for each point, widening the candidate set until proven.

        A point whose nearest sample is already beyond ``max_distance_m`` (plus the sampling slack) will be
        refused anyway, so its search stops early with the best candidate seen, for the error message.
        """
        count = px.shape[0]
        best_seg = np.zeros(count, dtype=np.int64)
        best_t = np.zeros(count, dtype=np.float64)
        best_d = np.full(count, np.inf)
        pending = np.arange(count)
        k = _FIRST_CANDIDATES
        total = self.sample_segment.shape[0]
        while pending.size:
            k_now = min(k, total)
            sample_d, sample_i = self.tree.query(np.column_stack([px[pending], py[pending]]), k=k_now)
            sample_d = np.asarray(sample_d).reshape(pending.size, k_now)
            seg = self.sample_segment[np.asarray(sample_i).reshape(pending.size, k_now)]
            d, t = self._project(px[pending, None], py[pending, None], seg)
            pick = np.argmin(d, axis=1)
            rows = np.arange(pending.size)
            best_d[pending] = d[rows, pick]
            best_seg[pending] = seg[rows, pick]
            best_t[pending] = t[rows, pick]
            # Any segment not among the candidates has all samples beyond the last one found, so it is at
            # least that far minus half a sample spacing away; if that cannot beat the best, we are done.
            proven = (sample_d[:, -1] - 0.5 * SAMPLE_SPACING_M >= best_d[pending]) | (k_now >= total)
            proven |= sample_d[:, 0] - 0.5 * SAMPLE_SPACING_M > max_distance_m
            pending = pending[~proven]
            k *= 4
        return best_seg, best_t

    def _project(
        self, px: NDArray[np.float64], py: NDArray[np.float64], seg: NDArray[np.int64]
    ) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """Distance from points to segments and the fraction of the foot point along each segment."""
        ax, ay = self.ax[seg], self.ay[seg]
        dx, dy = self.bx[seg] - ax, self.by[seg] - ay
        length_sq = dx * dx + dy * dy
        with np.errstate(invalid="ignore", divide="ignore"):
            t = np.where(length_sq > 0, ((px - ax) * dx + (py - ay) * dy) / length_sq, 0.0)
        t = np.clip(t, 0.0, 1.0)
        return np.hypot(ax + t * dx - px, ay + t * dy - py), t
