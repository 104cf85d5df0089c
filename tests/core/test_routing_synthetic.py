"""Routing on tiny hand-made OSM extracts, written here as real .osm.pbf files, where every answer is known.

``write_pbf`` is a minimal PBF encoder (dense nodes, ways, no compression), so tests need no external tools.
"""

from __future__ import annotations

import itertools
import math
import struct
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from precinct.core.routing import RoutingError, build_graph, nearest_by_eta, parse_maxspeed_kmh
from precinct.core.routing.drawing import road_polylines
from precinct.core.routing.speeds import SpeedTable

# --- a minimal protobuf / OSM PBF writer ------------------------------------------------------------------


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _zigzag(value: int) -> int:
    return (value << 1) ^ (value >> 63)


def _field(number: int, wire: int, payload: bytes | int) -> bytes:
    key = _varint((number << 3) | wire)
    if wire == 0:
        assert isinstance(payload, int)
        return key + _varint(payload)
    assert isinstance(payload, bytes)
    return key + _varint(len(payload)) + payload


def _packed(values: Sequence[int]) -> bytes:
    return b"".join(_varint(v) for v in values)


def _delta(values: Sequence[int]) -> list[int]:
    previous = 0
    out = []
    for value in values:
        out.append(_zigzag(value - previous))
        previous = value
    return out


def _blob(kind: str, message: bytes) -> bytes:
    blob = _field(1, 2, message) + _field(2, 0, len(message))
    header = _field(1, 2, kind.encode()) + _field(3, 0, len(blob))
    return struct.pack(">I", len(header)) + header + blob


def write_pbf(
    path: Path,
    nodes: dict[int, tuple[float, float]],
    ways: list[tuple[int, list[int], dict[str, str]]],
) -> Path:
    """Write an OSM PBF with ``nodes`` {id: (lon, lat)} and ``ways`` [(id, node ids, tags)]."""
    strings = [""]

    def sid(text: str) -> int:
        if text not in strings:
            strings.append(text)
        return strings.index(text)

    ids = sorted(nodes)
    lat = [round(nodes[i][1] * 1e7) for i in ids]
    lon = [round(nodes[i][0] * 1e7) for i in ids]
    dense_info = (
        _field(1, 2, _packed([1] * len(ids)))
        + _field(2, 2, _packed(_delta([1_600_000_000] * len(ids))))
        + _field(3, 2, _packed(_delta([1] * len(ids))))
        + _field(4, 2, _packed(_delta([1] * len(ids))))
        + _field(5, 2, _packed(_delta([sid("test")] * len(ids))))
    )
    dense = (
        _field(1, 2, _packed(_delta(ids)))
        + _field(5, 2, dense_info)
        + _field(8, 2, _packed(_delta(lat)))
        + _field(9, 2, _packed(_delta(lon)))
        + _field(10, 2, _packed([0] * len(ids)))
    )
    way_messages = b""
    for way_id, refs, tags in ways:
        info = _field(1, 0, 1) + _field(2, 0, 1_600_000_000) + _field(3, 0, 1) + _field(4, 0, 1)
        info += _field(5, 0, sid("test"))
        way = (
            _field(1, 0, way_id)
            + _field(2, 2, _packed([sid(k) for k in tags]))
            + _field(3, 2, _packed([sid(v) for v in tags.values()]))
            + _field(4, 2, info)
            + _field(8, 2, _packed(_delta(refs)))
        )
        way_messages += _field(3, 2, way)
    table = b"".join(_field(1, 2, s.encode()) for s in strings)
    block = _field(1, 2, table) + _field(2, 2, _field(2, 2, dense)) + _field(2, 2, way_messages)
    block += _field(17, 0, 100)
    header = _field(4, 2, b"OsmSchema-V0.6") + _field(4, 2, b"DenseNodes")
    path.write_bytes(_blob("OSMHeader", header) + _blob("OSMData", block))
    return path


# --- a small grid town --------------------------------------------------------------------------------------

# Nodes 1..9 on a 3×3 grid about 111 m apart (0.001° of latitude; longitude scaled to match at 41°N).
LON0, LAT0, STEP = -8.6, 41.15, 0.001
DLON = STEP / math.cos(math.radians(LAT0))


def _grid_nodes() -> dict[int, tuple[float, float]]:
    return {1 + r * 3 + c: (LON0 + c * DLON, LAT0 + r * STEP) for r in range(3) for c in range(3)}


@pytest.fixture(scope="module")
def grid_pbf(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Rows 1-2-3, 4-5-6, 7-8-9; columns 1-4-7, 2-5-8, 3-6-9. Row 4-5-6 is one-way eastwards, column 3-6-9
    is one-way southwards (oneway=-1 drawn northwards), the rest two-way residential (30 km/h);
    7-8-9 has maxspeed 60; a footway 1-5 must be ignored."""
    nodes = _grid_nodes()
    ways = [
        (101, [1, 2, 3], {"highway": "residential"}),
        (102, [4, 5, 6], {"highway": "residential", "oneway": "yes"}),
        (103, [7, 8, 9], {"highway": "residential", "maxspeed": "60"}),
        (104, [1, 4, 7], {"highway": "residential"}),
        (105, [2, 5, 8], {"highway": "residential"}),
        (106, [3, 6, 9], {"highway": "residential", "oneway": "-1"}),
        (107, [1, 5], {"highway": "footway"}),
    ]
    return write_pbf(tmp_path_factory.mktemp("grid") / "grid.osm.pbf", nodes, ways)


def _edge(graph, a_osm: int, b_osm: int) -> int:  # type: ignore[no-untyped-def]
    a = int(np.flatnonzero(graph.node_osm_id == a_osm)[0])
    b = int(np.flatnonzero(graph.node_osm_id == b_osm)[0])
    for e in range(graph.indptr[a], graph.indptr[a + 1]):
        if graph.indices[e] == b:
            return e
    return -1


def test_grid_builds_with_one_way_rules(grid_pbf: Path) -> None:
    graph = build_graph(grid_pbf)
    assert graph.node_count == 9
    assert _edge(graph, 4, 5) >= 0
    assert _edge(graph, 5, 4) == -1
    assert _edge(graph, 9, 6) >= 0
    assert _edge(graph, 6, 9) == -1
    assert _edge(graph, 1, 2) >= 0
    assert _edge(graph, 2, 1) >= 0
    assert graph.build_report.one_way_segments == 4
    # 30 km/h residential default; 60 km/h where tagged.
    e12, e78 = _edge(graph, 1, 2), _edge(graph, 7, 8)
    assert graph.travel_time_s[e12] == pytest.approx(graph.length_m[e12] / (30 / 3.6), rel=1e-5)
    assert graph.travel_time_s[e78] == pytest.approx(graph.length_m[e78] / (60 / 3.6), rel=1e-5)
    assert graph.length_m[e12] == pytest.approx(111.2, abs=0.5)


def test_same_edge_and_partial_edges(grid_pbf: Path) -> None:
    graph = build_graph(grid_pbf)
    e45 = _edge(graph, 4, 5)
    t45 = float(graph.travel_time_s[e45])
    lon4, lat4 = graph.node_lon[graph.edge_tail[e45]], graph.node_lat[graph.edge_tail[e45]]
    lon5, _lat5 = graph.node_lon[graph.indices[e45]], graph.node_lat[graph.indices[e45]]
    behind = graph.snap(lon4 + 0.2 * (lon5 - lon4), lat4 + 1e-5)
    ahead = graph.snap(lon4 + 0.7 * (lon5 - lon4), lat4 - 1e-5)
    assert behind.edge_id == e45
    assert behind.fraction == pytest.approx(0.2, abs=1e-6)
    # Along the one-way street: straight ahead.
    forward = graph.travel_times_from(behind, graph.snap_many(np.array([ahead.lon]), np.array([ahead.lat])))
    assert forward.travel_time_s[0] == pytest.approx(0.5 * t45, rel=1e-6)
    # Against it: around the block (5→8→7→4 is closed by one-ways? 5→2→1→4 is two-way), never 0.5·t45.
    back = graph.route(ahead, behind)
    assert back.travel_time_s > 2 * t45
    assert back.geometry[0] == pytest.approx((ahead.lon, ahead.lat))
    assert back.geometry[-1] == pytest.approx((behind.lon, behind.lat))
    matches = nearest_by_eta(graph, ahead, graph.snap_many(np.array([behind.lon]), np.array([behind.lat])), 1)
    assert matches[0].eta_s == pytest.approx(0.5 * t45, rel=1e-6)


def test_footway_only_extract_has_no_drivable_roads(tmp_path: Path) -> None:
    pbf = write_pbf(tmp_path / "paths.osm.pbf", _grid_nodes(), [(1, [1, 2, 3], {"highway": "footway"})])
    with pytest.raises(RoutingError, match="no drivable roads"):
        build_graph(pbf)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("50", 50.0),
        ("30 mph", 30 * 1.609344),
        ("PT:urban", None),
        ("50; 40", 40.0),
        ("none", None),
        ("walk", None),
        ("1000", None),
        (None, None),
        (float("nan"), None),
        ("10 knots", 18.52),
    ],
)
def test_maxspeed_parsing(raw: object, expected: float | None) -> None:
    parsed = parse_maxspeed_kmh(raw)
    assert parsed == (None if expected is None else pytest.approx(expected))


def test_speed_table_rejects_bad_rows(tmp_path: Path) -> None:
    bad = tmp_path / "speeds.csv"
    bad.write_text("highway,speed_kmh\nresidential,fast\ndefault,30\n")
    with pytest.raises(RoutingError, match="row 2"):
        SpeedTable.from_csv(bad)
    bad.write_text("highway,speed_kmh\nresidential,30\n")
    with pytest.raises(RoutingError, match="default"):
        SpeedTable.from_csv(bad)
    with pytest.raises(RoutingError, match="cannot read"):
        SpeedTable.from_csv(tmp_path / "absent.csv")
    assert SpeedTable.default().speed_for_class_kmh("unclassified;tertiary") == 30.0


def test_every_road_segment_is_drawn_once_whichever_ways_it_runs(grid_pbf: Path) -> None:
    graph = build_graph(grid_pbf)
    nodes = _grid_nodes()

    def segment(a: Sequence[float], b: Sequence[float]) -> frozenset[tuple[float, ...]]:
        return frozenset({tuple(round(c, 6) for c in a), tuple(round(c, 6) for c in b)})  # the .pbf keeps 1e-7 deg

    drawn = [segment(a, b) for line in road_polylines(graph) for a, b in itertools.pairwise(line)]
    pairs = [(1, 2), (2, 3), (4, 5), (5, 6), (7, 8), (8, 9), (1, 4), (4, 7), (2, 5), (5, 8), (3, 6), (6, 9)]
    assert len(drawn) == len(pairs)  # each once: a two-way street is not drawn twice
    assert set(drawn) == {segment(nodes[a], nodes[b]) for a, b in pairs}
