"""Road networks: importing an OpenStreetMap extract as the driving graph, and handing every worker the active
graph from its cache (built once, loaded in well under a second afterwards)."""

from __future__ import annotations

import gzip
import json
import threading
from pathlib import Path

from sqlalchemy import select, update

from precinct.core.routing import RoadGraph, RoutingError, load_or_build
from precinct.core.routing.cache import file_sha256
from precinct.core.routing.drawing import road_polylines
from precinct.domains.roads.models import RoadNetwork
from precinct.platform.context import Ctx
from precinct.platform.errors import Conflict, InvalidInput

_GRAPHS: dict[str, RoadGraph] = {}
_DRAWINGS: dict[str, bytes] = {}
_LOCK = threading.Lock()


def import_roads(ctx: Ctx, path: Path, *, name: str | None = None, progress: bool = False) -> RoadNetwork:
    """Build (or load from cache) the driving graph of ``path`` and make it the active network."""
    path = path.resolve()
    if not path.is_file():
        raise InvalidInput(f"{path}: no such file")
    try:
        graph = load_or_build(path, ctx.settings.cache_dir, progress=progress)
    except RoutingError as error:
        raise InvalidInput(str(error)) from error
    sha = file_sha256(path)
    with _LOCK:
        _GRAPHS[sha] = graph
    ctx.session.execute(update(RoadNetwork).values(active=False))
    network = RoadNetwork(
        name=name or path.name,
        source_path=str(path),
        source_sha256=sha,
        nodes=graph.node_count,
        edges=graph.edge_count,
        report=graph.build_report.to_dict(),
        active=True,
        imported_at=ctx.now(),
    )
    ctx.session.add(network)
    ctx.session.flush()
    return network


def active_network(ctx: Ctx) -> RoadNetwork | None:
    return ctx.session.scalar(select(RoadNetwork).where(RoadNetwork.active).order_by(RoadNetwork.id.desc()))


def active_graph(ctx: Ctx) -> tuple[RoadNetwork, RoadGraph]:
    """The active network and its graph; a ``Conflict`` that says what to do when there is none."""
    network = active_network(ctx)
    if network is None:
        raise Conflict("precinct has no road network yet: import one with `precinct import roads FILE.osm.pbf`")
    with _LOCK:
        graph = _GRAPHS.get(network.source_sha256)
    if graph is None:
        source = Path(network.source_path)
        if not source.is_file():
            raise Conflict(f"the road network's source {source} is missing; import the network again")
        graph = load_or_build(source, ctx.settings.cache_dir)
        graph.segment_index  # noqa: B018 - build the snapping index now, not in the first dispatcher's request
        with _LOCK:
            _GRAPHS[network.source_sha256] = graph
    return network, graph


def road_lines_geojson_gzip(ctx: Ctx) -> bytes:
    """The active network's roads as a gzipped GeoJSON FeatureCollection of one MultiLineString (coordinates to
    about a metre), built once per network and process: what a map draws under the incidents."""
    network, graph = active_graph(ctx)
    with _LOCK:
        drawing = _DRAWINGS.get(network.source_sha256)
    if drawing is None:
        lines = [[[round(lon, 5), round(lat, 5)] for lon, lat in line.tolist()] for line in road_polylines(graph)]
        collection = {
            "type": "FeatureCollection",
            "features": [
                {
                    "type": "Feature",
                    "geometry": {"type": "MultiLineString", "coordinates": lines},
                    "properties": {"network": network.name},
                }
            ],
        }
        drawing = gzip.compress(json.dumps(collection, separators=(",", ":")).encode(), compresslevel=6)
        with _LOCK:
            _DRAWINGS[network.source_sha256] = drawing
    return drawing
