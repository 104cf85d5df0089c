"""HTTP routes for the org tree, grids and jurisdiction lookup."""

from __future__ import annotations

from typing import Annotated

from fastapi import Query

from precinct.domains.orgs import service
from precinct.domains.orgs.schemas import FeatureCollection, GridOut, JurisdictionOut, OrgOut
from precinct.platform.http import CtxDep, PrecinctRouter, errors, in_worker_thread
from precinct.platform.schemas import SMALL_ID_MAX, SmallIdPath

router = PrecinctRouter(prefix="/api", tags=["orgs"])


@router.get("/orgs", response_model=list[OrgOut], summary="The organisation tree, as a flat list with parents")
def list_orgs(ctx: CtxDep) -> list[OrgOut]:
    return [OrgOut.model_validate(o) for o in service.list_orgs(ctx)]


@router.get("/orgs/{org_id}", response_model=OrgOut, responses=errors(404), summary="One org")
def get_org(ctx: CtxDep, org_id: SmallIdPath) -> OrgOut:
    return OrgOut.model_validate(service.get_org(ctx, org_id))


@router.get(
    "/orgs/{org_id}/boundary",
    response_model=FeatureCollection,
    responses=errors(404),
    summary="An org's jurisdiction polygon as GeoJSON",
)
@in_worker_thread
def org_boundary(ctx: CtxDep, org_id: SmallIdPath) -> FeatureCollection:
    org = service.get_org(ctx, org_id)
    features = []
    if org.boundary is not None:
        properties = {"id": org.id, "code": org.code, "name": org.name, "level": org.level}
        features.append({"type": "Feature", "geometry": org.boundary, "properties": properties})
    return FeatureCollection(features=features)


@router.get("/grids", response_model=list[GridOut], responses=errors(404, 422), summary="List grids")
def list_grids(
    ctx: CtxDep, org_id: Annotated[int | None, Query(ge=1, le=SMALL_ID_MAX, description="Grids under this org")] = None
) -> list[GridOut]:
    return [GridOut.model_validate(g) for g in service.list_grids(ctx, org_id)]


@router.get(
    "/grids.geojson",
    response_model=FeatureCollection,
    responses=errors(404, 422),
    summary="Grid polygons as a GeoJSON FeatureCollection",
)
@in_worker_thread
def grids_geojson(
    ctx: CtxDep, org_id: Annotated[int | None, Query(ge=1, le=SMALL_ID_MAX, description="Grids under this org")] = None
) -> FeatureCollection:
    return FeatureCollection(
        features=[
            {
                "type": "Feature",
                "geometry": g.boundary,
                "properties": {
                    "id": g.id,
                    "code": g.code,
                    "name": g.name,
                    "kind": g.kind,
                    "org_id": g.org_id,
                },
            }
            for g in service.list_grids(ctx, org_id, with_boundary=True)
        ]
    )


@router.get(
    "/jurisdiction",
    response_model=JurisdictionOut,
    responses=errors(422),
    summary="Which station and grid a point falls in",
)
def jurisdiction(
    ctx: CtxDep,
    lon: Annotated[float, Query(ge=-180, le=180)],
    lat: Annotated[float, Query(ge=-90, le=90)],
) -> JurisdictionOut:
    place = service.locate(ctx, lon, lat)
    org = service.get_org(ctx, place.org_id) if place else None
    return JurisdictionOut(
        lon=lon,
        lat=lat,
        org_id=place.org_id if place else None,
        org_code=org.code if org else None,
        grid_id=place.grid_id if place else None,
        unassigned=place is None,
    )
