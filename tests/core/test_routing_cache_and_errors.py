"""The graph cache (reuse, invalidation, corrupt files) and every refusal of the routing engine, each with a
message that says what was wrong."""

from __future__ import annotations

import importlib.util
import math
import shutil
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from scipy.spatial import cKDTree

from precinct.core.routing import (
    RoadGraph,
    RoutingError,
    Snap,
    SnapError,
    Snaps,
    SpeedTable,
    build_graph,
    isochrones,
    load_or_build,
    nearest_by_eta,
)
from precinct.core.routing.graph import ARRAY_FIELDS

PORTLAND = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "osm" / "portland-central-filtered.osm.pbf"


@pytest.fixture(scope="module")
def portland_pbf() -> Path:
    if not PORTLAND.exists():
        pytest.skip(f"shared OSM data not found at {PORTLAND}; these tests need ../shared/data/osm")
    return PORTLAND


@pytest.fixture(scope="module")
def graph(portland_pbf: Path, tmp_path_factory: pytest.TempPathFactory) -> RoadGraph:
    return load_or_build(portland_pbf, tmp_path_factory.mktemp("cache"))


def _synthetic_module() -> Any:
    """The PBF writer of test_routing_synthetic.py, loaded by path (tests are not a package)."""
    path = Path(__file__).with_name("test_routing_synthetic.py")
    spec = importlib.util.spec_from_file_location("routing_synthetic_pbf", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _same_arrays(a: RoadGraph, b: RoadGraph) -> bool:
    return all(np.array_equal(getattr(a, name), getattr(b, name)) for name in ARRAY_FIELDS)


# --- cache --------------------------------------------------------------------------------------------------


def test_second_load_is_identical_and_faster(portland_pbf: Path, tmp_path: Path) -> None:
    started = time.perf_counter()
    built = load_or_build(portland_pbf, tmp_path)
    build_s = time.perf_counter() - started
    started = time.perf_counter()
    loaded = load_or_build(portland_pbf, tmp_path)
    load_s = time.perf_counter() - started
    assert _same_arrays(built, loaded)
    assert loaded.build_report == built.build_report
    stored, derived = loaded.search_graph.arrays, built.search_graph.arrays
    assert all(np.array_equal(stored[name], derived[name]) for name in derived)
    assert load_s < build_s
    assert load_s < 1.0
    assert len(list(tmp_path.glob("*.npz"))) == 1


def test_changed_source_or_speeds_rebuild(portland_pbf: Path, tmp_path: Path) -> None:
    synthetic = _synthetic_module()
    extract = tmp_path / "city.osm.pbf"
    shutil.copyfile(portland_pbf, extract)
    first = load_or_build(extract, tmp_path / "cache")
    # Same path, new content: the hash changes, so the graph is rebuilt rather than served stale.
    synthetic.write_pbf(extract, synthetic._grid_nodes(), [(1, [1, 2, 3], {"highway": "residential"})])
    second = load_or_build(extract, tmp_path / "cache")
    assert second.node_count == 3 != first.node_count
    slow = SpeedTable.from_text("highway,speed_kmh\ndefault,15\n", source="slow")
    third = load_or_build(extract, tmp_path / "cache", speeds=slow)
    assert third.travel_time_s[0] == pytest.approx(2 * second.travel_time_s[0], rel=1e-5)
    assert len(list((tmp_path / "cache").glob("*.npz"))) == 3


@pytest.mark.parametrize("damage", ["garbage", "truncated", "tampered"])
def test_corrupt_cache_is_rebuilt_not_trusted(portland_pbf: Path, tmp_path: Path, damage: str) -> None:
    good = load_or_build(portland_pbf, tmp_path)
    (cache_file,) = tmp_path.glob("*.npz")
    if damage == "garbage":
        cache_file.write_bytes(np.random.default_rng(0).bytes(4096))
    elif damage == "truncated":
        cache_file.write_bytes(cache_file.read_bytes()[: cache_file.stat().st_size // 2])
    else:
        arrays = dict(np.load(cache_file, allow_pickle=False))
        arrays["indices"] = arrays["indices"] + 10**6  # points past the last node
        with cache_file.open("wb") as handle:
            np.savez(handle, **arrays)
    again = load_or_build(portland_pbf, tmp_path)
    assert _same_arrays(good, again)
    assert _same_arrays(good, load_or_build(portland_pbf, tmp_path))  # and the cache was rewritten


# --- build errors -------------------------------------------------------------------------------------------


def test_missing_empty_and_corrupt_extracts(tmp_path: Path) -> None:
    with pytest.raises(RoutingError, match="not found"):
        build_graph(tmp_path / "absent.osm.pbf")
    with pytest.raises(RoutingError, match="not found"):
        load_or_build(tmp_path / "absent.osm.pbf", tmp_path)
    empty = tmp_path / "empty.osm.pbf"
    empty.write_bytes(b"")
    with pytest.raises(RoutingError, match="empty"):
        build_graph(empty)
    noise = tmp_path / "noise.osm.pbf"
    noise.write_bytes(np.random.default_rng(1).bytes(20_000))
    with pytest.raises(RoutingError, match=r"could not be read as an \.osm\.pbf"):
        build_graph(noise)
    assert issubclass(RoutingError, ValueError)


# --- snapping errors ----------------------------------------------------------------------------------------


def _farthest_point_inside(graph: RoadGraph) -> tuple[float, float, float]:
    """The point of a grid over the graph's bounds that is farthest from any node (and its distance)."""
    projection = graph.projection
    tree = cKDTree(np.column_stack(projection.to_xy(graph.node_lon, graph.node_lat)))
    min_lon, min_lat, max_lon, max_lat = graph.bounds
    lon, lat = np.meshgrid(np.linspace(min_lon, max_lon, 120), np.linspace(min_lat, max_lat, 120))
    distance, _ = tree.query(np.column_stack(projection.to_xy(lon.ravel(), lat.ravel())))
    i = int(np.argmax(distance))
    return float(lon.ravel()[i]), float(lat.ravel()[i]), float(distance[i])


def test_point_far_from_roads_says_how_far(graph: RoadGraph) -> None:
    lon, lat, distance = _farthest_point_inside(graph)
    assert distance > 600
    with pytest.raises(SnapError, match=r"is \d+ m from the nearest road; the limit is 500 m") as raised:
        graph.snap(lon, lat)
    assert raised.value.distance_m > 500
    assert raised.value.max_distance_m == 500
    with pytest.raises(SnapError, match="unit 1"):
        graph.snap_many(np.array([graph.node_lon[0], lon]), np.array([graph.node_lat[0], lat]), what="unit")
    assert graph.snap(lon, lat, max_distance_m=5000).distance_m == pytest.approx(distance, rel=0.05, abs=25)


def test_point_outside_the_area_and_missing_positions(graph: RoadGraph) -> None:
    min_lon, min_lat, _, _ = graph.bounds
    with pytest.raises(RoutingError, match="outside the road network's area"):
        graph.snap(min_lon - 0.07, min_lat)  # about 5 km west
    with pytest.raises(RoutingError, match="point has an impossible position"):
        graph.snap(min_lat, min_lon)  # latitude and longitude swapped
    with pytest.raises(RoutingError, match="candidate 2 has no position"):
        graph.snap_many(np.array([min_lon, min_lon, math.nan]), np.zeros(3) + min_lat, what="candidate")
    with pytest.raises(RoutingError, match="point has no position"):
        graph.snap(math.nan, min_lat)
    with pytest.raises(RoutingError, match="impossible position"):
        graph.snap(min_lon, 95.0)


def test_snap_finds_the_nearest_segment_not_only_the_nearest_node(graph: RoadGraph) -> None:
    rng = np.random.default_rng(7)
    index = graph.segment_index
    lon = rng.uniform(graph.bounds[0], graph.bounds[2], 300)
    lat = rng.uniform(graph.bounds[1], graph.bounds[3], 300)
    snaps = graph.snap_many(lon, lat, max_distance_m=5000)
    px, py = graph.projection.to_xy(lon, lat)
    all_segments = np.arange(index.segment_edge.shape[0])
    for i in range(0, 300, 30):  # brute force over every segment for a sample of points
        distance, _ = index._project(np.array([px[i]]), np.array([py[i]]), all_segments)
        sx, sy = graph.projection.to_xy(np.array([snaps.lon[i]]), np.array([snaps.lat[i]]))
        assert float(np.hypot(sx[0] - px[i], sy[0] - py[i])) == pytest.approx(float(distance.min()), abs=1e-6)
        single = graph.snap(float(lon[i]), float(lat[i]), max_distance_m=5000)
        assert single.edge_id == snaps.edge_id[i]
        assert single.fraction == pytest.approx(snaps.fraction[i])


# --- query errors -------------------------------------------------------------------------------------------


def _units(graph: RoadGraph) -> Snaps:
    return graph.snap_many(graph.node_lon[:5] + 1e-5, graph.node_lat[:5])


@pytest.mark.parametrize("k", [0, -3, 2.5, True])
def test_k_must_be_a_positive_whole_number(graph: RoadGraph, k: object) -> None:
    units = _units(graph)
    with pytest.raises(RoutingError, match="k must be a positive whole number"):
        nearest_by_eta(graph, units[0], units, k)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("limit_s", "message"), [(-1.0, "non-negative"), (math.nan, "non-negative"), (90_000.0, "over 24 hours")]
)
def test_limits_are_checked(graph: RoadGraph, limit_s: float, message: str) -> None:
    units = _units(graph)
    with pytest.raises(RoutingError, match=message):
        nearest_by_eta(graph, units[0], units, 1, limit_s=limit_s)
    with pytest.raises(RoutingError, match=message):
        graph.travel_times_from(units[0], units, limit_s=limit_s)
    with pytest.raises(RoutingError, match=message):
        isochrones(graph, units, (60, limit_s))


def test_empty_and_positionless_candidates(graph: RoadGraph) -> None:
    units = _units(graph)
    empty = units.take([])
    with pytest.raises(RoutingError, match="list of candidates is empty"):
        nearest_by_eta(graph, units[0], empty, 1)
    broken = Snaps(units.edge_id, np.array([0.5, math.nan, 0.5, 0.5, 0.5]), units.distance_m, units.lon, units.lat)
    with pytest.raises(RoutingError, match="candidate 1 has no position"):
        nearest_by_eta(graph, units[0], broken, 1)
    with pytest.raises(RoutingError, match="incident has no valid position"):
        nearest_by_eta(graph, Snap(-1, 0.5, 0.0, 0.0, 0.0), units, 1)
    with pytest.raises(RoutingError, match="at least one threshold"):
        isochrones(graph, units, ())
    with pytest.raises(RoutingError, match="list of sources is empty"):
        isochrones(graph, empty)


def test_limit_leaves_far_candidates_out(graph: RoadGraph) -> None:
    units = _units(graph)
    everyone = nearest_by_eta(graph, units[0], units, 5)
    assert len(everyone) == 5
    assert [m.eta_s for m in everyone] == sorted(m.eta_s for m in everyone)
    assert nearest_by_eta(graph, units[0], units, 5, limit_s=0.0)[0].candidate_index == 0
    times = graph.travel_times_to(units, units[0], limit_s=everyone[2].eta_s)
    assert np.isinf(times.travel_time_s).sum() == 2
