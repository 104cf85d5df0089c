"""Patrol coverage (1、3、5分钟巡逻防控圈): what a set of posts, or the units where they stand now, reach by road
within each threshold, and how much of each station's roads, area and past incidents that covers."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import shapely
from numpy.typing import NDArray
from shapely.geometry.base import BaseGeometry

from precinct.core.geo import LocalProjection
from precinct.core.routing import RoadGraph, RoutingError, Snap, Snaps
from precinct.core.routing.isochrones import IsochroneLevel, isochrones
from precinct.domains.incidents import service as incidents
from precinct.domains.orgs import service as orgs
from precinct.domains.roads import service as roads
from precinct.domains.units import service as units
from precinct.platform.context import Ctx
from precinct.platform.errors import InvalidInput

MAX_POSTS = 5000


@dataclass(frozen=True)
class StationCoverage:
    org_id: int
    code: str
    name: str
    threshold_s: float
    road_length_m: float
    road_covered_share: float | None
    area_covered_share: float | None
    incidents: int
    incidents_covered_share: float | None


@dataclass(frozen=True)
class Coverage:
    network: str
    sources: int
    skipped: list[str]
    levels: list[IsochroneLevel]
    stations: list[StationCoverage]


def coverage(
    ctx: Ctx,
    *,
    org_id: int | None,
    posts: Sequence[tuple[float, float]] | None,
    thresholds_s: Sequence[float] = (60, 180, 300),
) -> Coverage:
    """Isochrones from ``posts`` (or, when ``None``, from every on-duty unit's position) and their coverage of each
    station under ``org_id`` (every station when ``None``)."""
    if not thresholds_s or len(thresholds_s) > 6 or any(not 0 < t <= 3600 for t in thresholds_s):
        raise InvalidInput("give one to six thresholds, each more than 0 and at most 3,600 seconds")
    if posts is not None and len(posts) > MAX_POSTS:
        raise InvalidInput(f"{len(posts)} posts is more than the {MAX_POSTS} a request may carry")
    network, graph = roads.active_graph(ctx)
    points, skipped = _sources(ctx, posts)
    snaps, skipped = _snap(ctx, graph, points, skipped)
    if not snaps:
        raise InvalidInput("no post or unit lies on the road network: " + "; ".join(skipped[:5]))
    try:
        reach = isochrones(graph, Snaps.of(snaps), sorted(float(t) for t in thresholds_s))
    except RoutingError as error:
        raise InvalidInput(str(error)) from error
    stations = _stations(ctx, org_id)
    return Coverage(
        network=network.name,
        sources=len(snaps),
        skipped=skipped,
        levels=reach.union,
        stations=_station_figures(ctx, graph, reach.union, stations),
    )


def _sources(ctx: Ctx, posts: Sequence[tuple[float, float]] | None) -> tuple[list[tuple[str, float, float]], list[str]]:
    if posts is not None:
        return [(f"post {i}", lon, lat) for i, (lon, lat) in enumerate(posts)], []
    found, skipped = [], []
    for unit in units.list_units(ctx, on_duty=True):
        if unit.lon is None or unit.lat is None:
            skipped.append(f"unit {unit.call_sign} has reported no position")
        else:
            found.append((f"unit {unit.call_sign}", unit.lon, unit.lat))
    return found, skipped


def _snap(
    ctx: Ctx, graph: RoadGraph, points: list[tuple[str, float, float]], skipped: list[str]
) -> tuple[list[Snap], list[str]]:
    snaps = []
    for label, lon, lat in points:
        try:
            snaps.append(graph.snap(lon, lat, max_distance_m=ctx.settings.snap_max_distance_m))
        except RoutingError as error:
            skipped.append(f"{label}: {error}")
    return snaps, skipped


def _stations(ctx: Ctx, org_id: int | None) -> list[tuple[int, str, str, BaseGeometry]]:
    wanted = set(orgs.subtree_ids(ctx, org_id)) if org_id is not None else None
    found = []
    for org in orgs.list_orgs(ctx):
        if org.level == "station" and (wanted is None or org.id in wanted) and ctx.scope.sees_org(org.id):
            boundary = orgs.org_boundary(ctx, org.id)
            if boundary is not None:
                found.append((org.id, org.code, org.name, boundary))
    return found


def _station_figures(
    ctx: Ctx, graph: RoadGraph, levels: list[IsochroneLevel], stations: list[tuple[int, str, str, BaseGeometry]]
) -> list[StationCoverage]:
    segment, seg_length = _segments(graph)
    mid_lon, mid_lat = _midpoints(graph)
    past = incidents.incident_points(ctx, [s[0] for s in stations])
    figures = []
    for org_id, code, name, boundary in stations:
        inside = shapely.contains_xy(boundary, mid_lon, mid_lat)
        in_station = np.zeros(seg_length.shape[0], dtype=bool)
        in_station[segment[inside]] = True
        total_m = float(seg_length[in_station].sum())
        projection = LocalProjection(*boundary.representative_point().coords[0])
        station_area = projection.project(boundary).area
        lons, lats = past.get(org_id, ([], []))
        for level in levels:
            reached = _reached_fraction(graph, level, segment, seg_length.shape[0])
            covered_m = float((reached * seg_length)[in_station].sum())
            polygon = level.polygon
            covered_area = (
                projection.project(shapely.intersection(polygon, boundary)).area if not polygon.is_empty else 0.0
            )
            hits = int(shapely.contains_xy(polygon, np.asarray(lons), np.asarray(lats)).sum()) if lons else 0
            figures.append(
                StationCoverage(
                    org_id=org_id,
                    code=code,
                    name=name,
                    threshold_s=level.threshold_s,
                    road_length_m=total_m,
                    road_covered_share=covered_m / total_m if total_m else None,
                    area_covered_share=covered_area / station_area if station_area else None,
                    incidents=len(lons),
                    incidents_covered_share=hits / len(lons) if lons else None,
                )
            )
    return figures


def _segments(graph: RoadGraph) -> tuple[NDArray[np.int64], NDArray[np.float64]]:
    """Each directed edge's undirected segment number, and each segment's length (a two-way street counts once)."""
    edges = np.arange(graph.edge_count)
    reverse = graph.reverse_edge.astype(np.int64)
    key = np.where(reverse >= 0, np.minimum(edges, reverse), edges)
    unique, segment = np.unique(key, return_inverse=True)
    return segment.astype(np.int64), graph.length_m[unique].astype(np.float64)


def _midpoints(graph: RoadGraph) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    tail, head = graph.edge_tail, graph.indices
    return (
        0.5 * (graph.node_lon[tail] + graph.node_lon[head]),
        0.5 * (graph.node_lat[tail] + graph.node_lat[head]),
    )


def _reached_fraction(
    graph: RoadGraph, level: IsochroneLevel, segment: NDArray[np.int64], segments: int
) -> NDArray[np.float64]:
    """The share of each segment reached, from either direction (pieces from both ends add up, at most 1)."""
    fraction = np.zeros(segments)
    np.add.at(fraction, segment[level.piece_edge], level.piece_end - level.piece_start)
    return np.minimum(fraction, 1.0)
