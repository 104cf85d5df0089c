"""HTTP routes of the road network: what it is, and its roads as lines for the maps."""

from __future__ import annotations

from fastapi import Response

from precinct.domains.roads import service
from precinct.domains.roads.schemas import RoadNetworkOut
from precinct.platform.http import CtxDep, PrecinctRouter, errors, in_worker_thread

router = PrecinctRouter(prefix="/api/roads", tags=["roads"])


@router.get("", response_model=RoadNetworkOut, responses=errors(409), summary="The active road network")
@in_worker_thread
def road_network(ctx: CtxDep) -> RoadNetworkOut:
    network, graph = service.active_graph(ctx)
    return RoadNetworkOut(
        name=network.name,
        nodes=network.nodes,
        edges=network.edges,
        imported_at=network.imported_at,
        bounds=graph.bounds,
    )


@router.get(
    "/lines.geojson",
    response_class=Response,
    responses={
        **errors(409),
        200: {"content": {"application/geo+json": {}}, "description": "A FeatureCollection, gzip-encoded"},
    },
    summary="The roads as GeoJSON lines, for drawing",
)
@in_worker_thread
def road_lines(ctx: CtxDep) -> Response:
    return Response(
        service.road_lines_geojson_gzip(ctx),
        media_type="application/geo+json",
        headers={"Content-Encoding": "gzip", "Cache-Control": "private, max-age=300", "Vary": "Accept-Encoding"},
    )
