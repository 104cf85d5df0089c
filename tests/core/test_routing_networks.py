"""Exactness of the routing engine on real OpenStreetMap extracts (central Portland and the Porto region):
travel times, k-nearest and isochrone reach agree with networkx's Dijkstra on the same graph."""

from __future__ import annotations

import itertools
from pathlib import Path

import networkx as nx
import numpy as np
import pytest

from precinct.core.routing import RoadGraph, Snap, Snaps, isochrones, load_or_build, nearest_by_eta

DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "osm"
NETWORKS = {
    "portland": DATA / "portland-central-filtered.osm.pbf",
    "porto": DATA / "porto_portugal.osm.pbf",
}
TOLERANCE_S = 1e-3


@pytest.fixture(scope="module", params=list(NETWORKS))
def network(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> tuple[RoadGraph, nx.DiGraph]:
    """The graph (built once per module into a temporary cache) and its networkx twin."""
    pbf = NETWORKS[request.param]
    if not pbf.exists():
        pytest.skip(f"shared OSM data not found at {pbf}; these tests need ../shared/data/osm")
    graph = load_or_build(pbf, tmp_path_factory.mktemp(f"cache-{request.param}"))
    reference = nx.DiGraph()
    weights: dict[tuple[int, int], float] = {}
    for e, (u, v) in enumerate(zip(graph.edge_tail.tolist(), graph.indices.tolist(), strict=True)):
        w = float(graph.travel_time_s[e])
        weights[(u, v)] = min(w, weights.get((u, v), w))
    reference.add_weighted_edges_from((u, v, w) for (u, v), w in weights.items())
    return graph, reference


def _random_snaps(graph: RoadGraph, rng: np.random.Generator, count: int) -> Snaps:
    """Points at random positions on random segments, snapped as a caller would (from coordinates)."""
    edge = rng.integers(0, graph.edge_count, count)
    f = rng.uniform(0.05, 0.95, count)
    tail, head = graph.edge_tail[edge], graph.indices[edge]
    lon = graph.node_lon[tail] * (1 - f) + graph.node_lon[head] * f
    lat = graph.node_lat[tail] * (1 - f) + graph.node_lat[head] * f
    return graph.snap_many(lon, lat)


def _with_points(graph: RoadGraph, reference: nx.DiGraph, snaps: Snaps) -> tuple[nx.DiGraph, list[str]]:
    """A copy of ``reference`` with each snapped point inserted as a node ("p<i>") splitting its segment."""
    g = reference.copy()
    by_edge: dict[int, list[tuple[float, str]]] = {}
    for i in range(len(snaps)):
        by_edge.setdefault(int(snaps.edge_id[i]), []).append((float(snaps.fraction[i]), f"p{i}"))
    for e, points in by_edge.items():
        points.sort()
        u, v = int(graph.edge_tail[e]), int(graph.indices[e])
        chain = [(0.0, u), *points, (1.0, v)]
        for (f0, a), (f1, b) in itertools.pairwise(chain):
            g.add_edge(a, b, weight=(f1 - f0) * float(graph.travel_time_s[e]))
        for f, name in points:
            if f in (0.0, 1.0):  # the point is the node itself
                node = u if f == 0.0 else v
                g.add_edge(name, node, weight=0.0)
                g.add_edge(node, name, weight=0.0)
        r = int(graph.reverse_edge[e])
        if r >= 0:
            for (f0, a), (f1, b) in itertools.pairwise(chain):
                g.add_edge(b, a, weight=(f1 - f0) * float(graph.travel_time_s[r]))
    return g, [f"p{i}" for i in range(len(snaps))]


def _at_node(graph: RoadGraph, node: int, *, leaving: bool) -> Snap:
    """A snap exactly on ``node``: start of an edge leaving it, or end of an edge arriving at it."""
    if leaving:
        e = int(graph.indptr[node])
        return Snap(e, 0.0, 0.0, float(graph.node_lon[node]), float(graph.node_lat[node]))
    e = int(graph.rev_edge[graph.rev_indptr[node]])
    return Snap(e, 1.0, 0.0, float(graph.node_lon[node]), float(graph.node_lat[node]))


def test_node_pairs_match_networkx(network: tuple[RoadGraph, nx.DiGraph]) -> None:
    graph, reference = network
    rng = np.random.default_rng(1)
    sources = rng.integers(0, graph.node_count, 8)
    compared = 0
    for source in sources.tolist():
        expected = nx.single_source_dijkstra_path_length(reference, source)
        targets = rng.integers(0, graph.node_count, 30).tolist()
        target_snaps = Snaps.of([_at_node(graph, t, leaving=False) for t in targets])
        got = graph.travel_times_from(_at_node(graph, source, leaving=True), target_snaps)
        want = np.array([expected[t] for t in targets])
        np.testing.assert_allclose(got.travel_time_s, want, atol=TOLERANCE_S, rtol=0)
        compared += len(targets)
    assert compared >= 200


def test_snapped_point_pairs_match_networkx(network: tuple[RoadGraph, nx.DiGraph]) -> None:
    graph, reference = network
    rng = np.random.default_rng(2)
    points = _random_snaps(graph, rng, 40)
    # Points sharing an edge with the first origins exercise the same-edge cases, both ways.
    extra_fractions = [0.1, 0.5, 0.9]
    same_edge = [Snap(int(points.edge_id[i]), f, 0.0, 0.0, 0.0) for i in range(3) for f in extra_fractions]
    snaps = Snaps.of([points[i] for i in range(len(points))] + same_edge)
    g, names = _with_points(graph, reference, snaps)
    reverse = g.reverse(copy=False)
    origins = [0, 1, 2, 3, 4]
    compared = 0
    for o in origins:
        expected = nx.single_source_dijkstra_path_length(g, names[o])
        got = graph.travel_times_from(snaps[o], snaps)
        want = np.array([expected[name] for name in names])
        np.testing.assert_allclose(got.travel_time_s, want, atol=TOLERANCE_S, rtol=0)
        back = graph.travel_times_to(snaps, snaps[o])
        to_origin = nx.single_source_dijkstra_path_length(reverse, names[o])
        want_back = np.array([to_origin[name] for name in names])
        np.testing.assert_allclose(back.travel_time_s, want_back, atol=TOLERANCE_S, rtol=0)
        compared += len(names)
    assert compared >= 50
    matrix = graph.travel_time_matrix(snaps.take([0, 1]), snaps)
    np.testing.assert_allclose(matrix[1], graph.travel_times_from(snaps[1], snaps).travel_time_s, atol=1e-9)


def test_route_agrees_with_travel_times(network: tuple[RoadGraph, nx.DiGraph]) -> None:
    graph, _ = network
    snaps = _random_snaps(graph, np.random.default_rng(3), 6)
    for i in range(5):
        result = graph.route(snaps[i], snaps[i + 1])
        expected = graph.travel_times_from(snaps[i], snaps.take([i + 1]))
        assert result.travel_time_s == pytest.approx(expected.travel_time_s[0], abs=TOLERANCE_S)
        assert result.distance_m == pytest.approx(expected.distance_m[0], abs=1e-3)
        assert result.geometry[0] == pytest.approx((snaps.lon[i], snaps.lat[i]))
        assert result.geometry[-1] == pytest.approx((snaps.lon[i + 1], snaps.lat[i + 1]))
        inner = result.edge_ids[1:-1]
        assert all(int(graph.indices[a]) == int(graph.edge_tail[b]) for a, b in itertools.pairwise(inner))


def test_k_nearest_is_the_exact_top_k(network: tuple[RoadGraph, nx.DiGraph]) -> None:
    graph, reference = network
    rng = np.random.default_rng(4)
    units = _random_snaps(graph, rng, 120)
    incidents = _random_snaps(graph, rng, 3)
    g, names = _with_points(
        graph, reference, Snaps.of([*(units[i] for i in range(120)), *(incidents[i] for i in range(3))])
    )
    reverse = g.reverse(copy=False)
    for j in range(3):
        to_incident = nx.single_source_dijkstra_path_length(reverse, names[120 + j])
        exact = np.array([to_incident[names[i]] for i in range(120)])
        matches = nearest_by_eta(graph, incidents[j], units, 5)
        assert len(matches) == 5
        etas = np.array([m.eta_s for m in matches])
        np.testing.assert_allclose(etas, np.sort(exact)[:5], atol=TOLERANCE_S, rtol=0)
        for m in matches:
            assert exact[m.candidate_index] == pytest.approx(m.eta_s, abs=TOLERANCE_S)
        limited = nearest_by_eta(graph, incidents[j], units, 5, limit_s=float(np.sort(exact)[2]) + 1e-6)
        assert [m.candidate_index for m in limited] == [m.candidate_index for m in matches[:3]]


def test_isochrone_reach_matches_networkx(network: tuple[RoadGraph, nx.DiGraph]) -> None:
    graph, reference = network
    posts = _random_snaps(graph, np.random.default_rng(5), 4)
    g, names = _with_points(graph, reference, posts)
    for name in names:
        g.add_edge("all-posts", name, weight=0.0)
    result = isochrones(graph, posts, (60, 180, 300))
    union_times = nx.single_source_dijkstra_path_length(g, "all-posts", cutoff=300.0 + 1.0)
    first_post = nx.single_source_dijkstra_path_length(g, names[0], cutoff=300.0 + 1.0)
    for level, own in zip(result.union, result.source(0), strict=True):
        for got, times in ((level, union_times), (own, first_post)):
            want = {n for n, t in times.items() if isinstance(n, int) and t <= level.threshold_s}
            near = {n for n, t in times.items() if isinstance(n, int) and abs(t - level.threshold_s) < TOLERANCE_S}
            assert set(got.reached_nodes.tolist()) ^ want <= near
        assert level.reachable_length_m >= own.reachable_length_m > 0
        assert level.polygon.is_valid
        assert not level.polygon.is_empty
    lengths = [level.reachable_length_m for level in result.union]
    assert lengths == sorted(lengths)


def test_one_way_streets_are_one_way(network: tuple[RoadGraph, nx.DiGraph]) -> None:
    graph, reference = network
    one_way = [
        e
        for e in np.flatnonzero(graph.reverse_edge < 0).tolist()
        if not reference.has_edge(int(graph.indices[e]), int(graph.edge_tail[e]))
    ]
    assert len(one_way) > 1000
    rng = np.random.default_rng(6)
    for e in rng.choice(one_way, 20, replace=False).tolist():
        u, v = int(graph.edge_tail[e]), int(graph.indices[e])
        at_u, at_v = _at_node(graph, u, leaving=True), _at_node(graph, v, leaving=True)
        forward = graph.travel_times_from(at_u, Snaps.of([_at_node(graph, v, leaving=False)]))
        backward = graph.travel_times_from(at_v, Snaps.of([_at_node(graph, u, leaving=False)]))
        assert forward.travel_time_s[0] <= float(graph.travel_time_s[e]) + TOLERANCE_S
        assert backward.travel_time_s[0] > forward.travel_time_s[0]
