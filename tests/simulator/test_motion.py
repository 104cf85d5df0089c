"""Driving along roads: a unit on a timed path is on the route, at the place the route's speeds put it."""

from __future__ import annotations

import numpy as np
import pytest

from precinct.core.routing import RoadGraph, Route
from precinct.core.routing.geo import haversine_m
from precinct.simulator.motion import (
    TimedPath,
    path_along,
    path_from_route,
    patrol_targets,
    segment_lengths_m,
    standing,
    straight,
)

DOWNTOWN = (-122.6765, 45.5231)
ACROSS_THE_RIVER = (-122.6500, 45.5300)


def _drive_across(graph: RoadGraph) -> tuple[TimedPath, Route]:
    route = graph.route(graph.snap(*DOWNTOWN), graph.snap(*ACROSS_THE_RIVER))
    return path_from_route(graph, route), route


def test_a_route_is_driven_at_each_roads_speed(portland: RoadGraph) -> None:
    path, route = _drive_across(portland)
    assert len(route.geometry) > 10
    assert path.duration_s == pytest.approx(route.travel_time_s, rel=1e-9)
    # Each point of the route is passed at its time.
    for i in range(len(route.geometry)):
        assert path.position_at(float(path.at_s[i])) == pytest.approx(route.geometry[i], abs=1e-9)
    # Each whole segment lies on one edge and takes that edge's time (times scaled by at most a few per cent to
    # add up to the route's own total, which counts the partial edges at the ends exactly).
    lengths_m = segment_lengths_m(path.lon, path.lat)
    for i in range(1, len(route.edge_ids) - 1):
        edge = route.edge_ids[i]
        expected_s = float(portland.travel_time_s[edge]) * lengths_m[i] / float(portland.length_m[edge])
        assert path.at_s[i + 1] - path.at_s[i] == pytest.approx(expected_s, rel=0.03, abs=1e-3)


def test_between_two_points_the_unit_moves_evenly_and_stays_on_the_road(portland: RoadGraph) -> None:
    path, _ = _drive_across(portland)
    i = len(path.at_s) // 2
    while path.at_s[i + 1] == path.at_s[i]:
        i += 1
    middle_s = 0.5 * (path.at_s[i] + path.at_s[i + 1])
    assert path.position_at(middle_s) == pytest.approx(
        (0.5 * (path.lon[i] + path.lon[i + 1]), 0.5 * (path.lat[i] + path.lat[i + 1])), abs=1e-9
    )
    for elapsed_s in np.linspace(0, path.duration_s, 97):
        assert portland.snap(*path.position_at(float(elapsed_s))).distance_m < 0.5  # on a road
    assert path.position_at(-5) == (path.lon[0], path.lat[0])
    assert path.position_at(path.duration_s + 60) == path.end


def test_a_line_with_a_total_time_is_shared_by_length() -> None:
    # Three points on a meridian: 1 km, then 3 km, driven in 400 s.
    lat_per_km = 1 / 111.195
    path = path_along([(-122.6, 45.5), (-122.6, 45.5 + lat_per_km), (-122.6, 45.5 + 4 * lat_per_km)], 400.0)
    assert path.at_s == pytest.approx([0.0, 100.0, 400.0], rel=1e-3)
    assert path.position_at(250.0)[1] == pytest.approx(45.5 + 2.5 * lat_per_km, abs=1e-7)
    assert path_along([(-122.6, 45.5)], 30.0).duration_s == 0
    assert standing(-122.6, 45.5).position_at(10.0) == (-122.6, 45.5)
    off_road = straight((-122.6, 45.5), (-122.6, 45.5 + lat_per_km), speed_m_s=10.0)
    assert off_road.duration_s == pytest.approx(100.0, rel=1e-3)


def test_patrol_targets_lie_around_home(portland: RoadGraph) -> None:
    targets = patrol_targets(portland, *DOWNTOWN, radius_m=1500.0)
    assert targets.size > 100
    home = np.ones(targets.size)
    distance_m = haversine_m(
        portland.node_lon[targets], portland.node_lat[targets], home * DOWNTOWN[0], home * DOWNTOWN[1]
    )
    assert distance_m.min() >= 300.0
    assert distance_m.max() <= 1500.0
