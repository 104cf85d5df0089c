"""Movement along roads, pure: a timed path (where a unit is a number of seconds after it set off), built from a
route of the road graph at each road's speed or from the API's route line, and the choice of patrol targets."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from precinct.core.routing import RoadGraph, Route
from precinct.core.routing.geo import haversine_m

FloatArray = NDArray[np.float64]


@dataclass(frozen=True, eq=False)
class TimedPath:
    """A polyline with the time each of its points is passed; between two points the unit moves evenly.

    Attributes
    ----------
    lon, lat : array of float
        The points, in degrees.
    at_s : array of float
        Seconds after setting off at which each point is passed: 0 first, never decreasing.
    """

    lon: FloatArray
    lat: FloatArray
    at_s: FloatArray

    @property
    def duration_s(self) -> float:
        return float(self.at_s[-1])

    @property
    def end(self) -> tuple[float, float]:
        return float(self.lon[-1]), float(self.lat[-1])

    def position_at(self, elapsed_s: float) -> tuple[float, float]:
        """Where the unit is ``elapsed_s`` seconds after setting off (the start before 0, the end after the end)."""
        if elapsed_s <= 0:
            return float(self.lon[0]), float(self.lat[0])
        if elapsed_s >= self.duration_s:
            return self.end
        # The segment being driven: from the last point passed to the next one.
        i = int(np.searchsorted(self.at_s, elapsed_s, side="right")) - 1
        span_s = float(self.at_s[i + 1] - self.at_s[i])
        share = (elapsed_s - float(self.at_s[i])) / span_s if span_s > 0 else 1.0
        return (
            float(self.lon[i] + share * (self.lon[i + 1] - self.lon[i])),
            float(self.lat[i] + share * (self.lat[i + 1] - self.lat[i])),
        )


def standing(lon: float, lat: float) -> TimedPath:
    """A path that stays at one point (a unit already where it must be)."""
    return TimedPath(np.array([lon]), np.array([lat]), np.zeros(1))


def straight(start: tuple[float, float], end: tuple[float, float], speed_m_s: float) -> TimedPath:
    """A straight line at ``speed_m_s``: how a unit off the road network is moved when no road route exists."""
    lon, lat = np.array([start[0], end[0]]), np.array([start[1], end[1]])
    return TimedPath(lon, lat, np.array([0.0, float(segment_lengths_m(lon, lat)[0]) / speed_m_s]))


def segment_lengths_m(lon: FloatArray, lat: FloatArray) -> FloatArray:
    """Great-circle length of each segment of a polyline."""
    return haversine_m(lon[:-1], lat[:-1], lon[1:], lat[1:])


def path_along(points: list[tuple[float, float]] | list[list[float]], travel_time_s: float) -> TimedPath:
    """A polyline driven in ``travel_time_s`` at one even speed (the API's route gives only its total time).

    Parameters
    ----------
    points : list of (lon, lat)
        At least one point.
    travel_time_s : float
        Time to drive the whole line; a line of no length takes no time.
    """
    lon = np.array([float(p[0]) for p in points])
    lat = np.array([float(p[1]) for p in points])
    if lon.size == 0:
        raise ValueError("a path needs at least one point")
    lengths_m = segment_lengths_m(lon, lat)
    total_m = float(lengths_m.sum())
    if total_m <= 0 or travel_time_s <= 0:
        return TimedPath(lon, lat, np.zeros(lon.size))
    at_s = np.concatenate([[0.0], np.cumsum(lengths_m) * (travel_time_s / total_m)])
    return TimedPath(lon, lat, at_s)


def path_from_route(graph: RoadGraph, route: Route) -> TimedPath:
    """A route driven at each road's own speed.

    The route's line starts at the origin's snapped point, passes the head of every edge but the last and ends at
    the target's snapped point, so its segment ``i`` lies on ``route.edge_ids[i]`` (the first and last possibly in
    part) and is driven at that edge's speed. The times are then scaled to add up to the route's travel time.
    """
    if len(route.edge_ids) != len(route.geometry) - 1:
        return path_along(route.geometry, route.travel_time_s)
    lon = np.array([p[0] for p in route.geometry], dtype=np.float64)
    lat = np.array([p[1] for p in route.geometry], dtype=np.float64)
    edges = np.asarray(route.edge_ids, dtype=np.int64)
    edge_time_s = graph.travel_time_s[edges].astype(np.float64)
    speed_m_s = np.where(edge_time_s > 0, graph.length_m[edges] / np.maximum(edge_time_s, 1e-9), np.inf)
    seconds = segment_lengths_m(lon, lat) / speed_m_s
    total_s = float(seconds.sum())
    if total_s > 0 and route.travel_time_s > 0:
        seconds *= route.travel_time_s / total_s
    return TimedPath(lon, lat, np.concatenate([[0.0], np.cumsum(seconds)]))


def patrol_targets(
    graph: RoadGraph, home_lon: float, home_lat: float, radius_m: float, *, nearest_m: float = 300.0
) -> NDArray[np.int64]:
    """The road nodes a unit patrolling around ``home`` drives to: those between ``nearest_m`` and ``radius_m``
    away, or, where the network is thin, the nearest of all."""
    n = graph.node_count
    distance_m = haversine_m(graph.node_lon, graph.node_lat, np.full(n, home_lon), np.full(n, home_lat))
    ring = np.flatnonzero((distance_m >= nearest_m) & (distance_m <= radius_m))
    if ring.size:
        return ring.astype(np.int64)
    return np.argsort(distance_m)[: min(50, n)].astype(np.int64)
