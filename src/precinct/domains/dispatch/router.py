"""HTTP routes for choosing and sending units."""

from __future__ import annotations

from typing import Annotated

import shapely.geometry
from fastapi import Query, status

from precinct.domains.dispatch import coverage, service
from precinct.domains.dispatch.schemas import (
    CoverageOut,
    CoverageRequest,
    DispatchRecommended,
    RankedUnitOut,
    ReasonOut,
    RecommendationOut,
    RequirementOut,
    RouteOut,
    SkippedUnitOut,
    StationCoverageOut,
)
from precinct.domains.incidents import service as incidents
from precinct.domains.incidents.schemas import DispatchOut
from precinct.platform.http import CtxDep, PrecinctRouter, errors, in_worker_thread, read_only
from precinct.platform.schemas import SMALL_ID_MAX, BigIdPath

router = PrecinctRouter(prefix="/api", tags=["dispatch"])


@router.get(
    "/incidents/{incident_id}/recommendations",
    response_model=RecommendationOut,
    responses=errors(404, 409, 422),
    summary="Units ranked by road ETA, run card, status and workload (一屏研判、精准派警)",
)
@in_worker_thread
def recommendations(
    ctx: CtxDep, incident_id: BigIdPath, k: Annotated[int, Query(ge=1, le=50, description="How many units")] = 5
) -> RecommendationOut:
    found = service.recommend(ctx, incident_id, k)
    proposed = {r.candidate.unit_id for r in found.proposed}
    return RecommendationOut(
        incident_id=found.incident.id,
        network=found.network,
        run_card=[RequirementOut(capability=r.capability, count=r.count) for r in found.card.requirements]
        if found.card
        else [],
        units=[
            RankedUnitOut(
                unit_id=r.candidate.unit_id,
                call_sign=r.candidate.call_sign,
                kind=r.candidate.kind,
                status=r.candidate.status,
                eta_s=round(r.candidate.eta_s, 1),
                distance_m=round(r.candidate.distance_m, 1),
                score_s=round(r.score_s, 1),
                fills=r.fills,
                proposed=r.candidate.unit_id in proposed,
                reasons=[reason.text for reason in r.reasons],
                explanations=[ReasonOut(code=reason.code, values=reason.values) for reason in r.reasons],
            )
            for r in found.ranked
        ],
        skipped=[SkippedUnitOut(unit_id=s.unit.id, call_sign=s.unit.call_sign, reason=s.reason) for s in found.skipped],
        incident_snap_distance_m=round(found.incident_snap.distance_m, 1),
    )


@router.post(
    "/incidents/{incident_id}/dispatch-recommended",
    status_code=status.HTTP_201_CREATED,
    response_model=list[DispatchOut],
    responses=errors(404, 409, 422),
    summary="Send the best-ranked unit (or every proposed unit) in one step",
)
@in_worker_thread
def dispatch_recommended(ctx: CtxDep, incident_id: BigIdPath, body: DispatchRecommended) -> list[DispatchOut]:
    orders = service.dispatch_recommended(ctx, incident_id, all_proposed=body.all_proposed, k=body.k)
    return [
        DispatchOut.model_validate(o).model_copy(update={"allowed_actions": incidents.allowed_dispatch_actions(o)})
        for o in orders
    ]


@router.get(
    "/incidents/{incident_id}/route",
    response_model=RouteOut,
    responses=errors(404, 409, 422),
    summary="The road route from a unit to the incident, as a GeoJSON LineString feature",
)
@in_worker_thread
def route(ctx: CtxDep, incident_id: BigIdPath, unit_id: Annotated[int, Query(ge=1, le=SMALL_ID_MAX)]) -> RouteOut:
    points, seconds, metres = service.route_to_incident(ctx, incident_id, unit_id)
    return RouteOut(
        geometry={"type": "LineString", "coordinates": [list(p) for p in points]},
        properties={
            "incident_id": incident_id,
            "unit_id": unit_id,
            "eta_s": round(seconds, 1),
            "distance_m": round(metres, 1),
        },
    )


@router.post(
    "/coverage",
    response_model=CoverageOut,
    responses=errors(404, 409, 422),
    summary="1-3-5-minute coverage (巡逻防控圈) of posts or units, with each station's covered share",
)
@in_worker_thread
@read_only
def coverage_of(ctx: CtxDep, body: CoverageRequest) -> CoverageOut:
    posts = [(p.lon, p.lat) for p in body.posts] if body.posts is not None else None
    found = coverage.coverage(ctx, org_id=body.org_id, posts=posts, thresholds_s=body.thresholds_s)
    return CoverageOut(
        features=[
            {
                "type": "Feature",
                "geometry": shapely.geometry.mapping(level.polygon) if not level.polygon.is_empty else None,
                "properties": {
                    "threshold_s": level.threshold_s,
                    "reachable_length_m": round(level.reachable_length_m, 1),
                },
            }
            for level in found.levels
        ],
        network=found.network,
        sources=found.sources,
        skipped=found.skipped,
        stations=[StationCoverageOut(**vars(s)) for s in found.stations],
    )
