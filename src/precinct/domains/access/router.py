"""HTTP routes for cross-org grants."""

from __future__ import annotations

from typing import Annotated

from fastapi import Query, status

from precinct.domains.access import service
from precinct.domains.access.schemas import GrantCreate, GrantOut
from precinct.domains.identity import service as identity
from precinct.domains.incidents import service as incidents
from precinct.platform.http import CtxDep, PrecinctRouter, errors
from precinct.platform.schemas import SmallIdPath

router = PrecinctRouter(prefix="/api/grants", tags=["access"])


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=GrantOut,
    responses=errors(404, 422),
    summary="Let a user or an org see another org's records, or one incident, for a while",
)
def create_grant(ctx: CtxDep, body: GrantCreate) -> GrantOut:
    if body.to_user_id is not None:
        identity.check_staff_member(ctx, body.to_user_id)
    org_id = body.org_id
    if body.incident_id is not None:  # one incident: it must be in the granter's scope, and opens its own org
        org_id = incidents.get_incident(ctx, body.incident_id).org_id
    granted = service.grant(
        ctx,
        reason=body.reason,
        hours=body.hours,
        to_user_id=body.to_user_id,
        to_org_id=body.to_org_id,
        org_id=org_id,
        incident_id=body.incident_id,
    )
    return GrantOut.model_validate(granted)


@router.get("", response_model=list[GrantOut], responses=errors(422), summary="Grants of what you see")
def list_grants(
    ctx: CtxDep,
    include_ended: Annotated[bool, Query(description="Also those revoked or run out (the log)")] = False,
) -> list[GrantOut]:
    return [GrantOut.model_validate(g) for g in service.list_grants(ctx, include_ended=include_ended)]


@router.post("/{grant_id}/revoke", response_model=GrantOut, responses=errors(404, 409), summary="End a grant now")
def revoke_grant(ctx: CtxDep, grant_id: SmallIdPath) -> GrantOut:
    return GrantOut.model_validate(service.revoke(ctx, grant_id))
